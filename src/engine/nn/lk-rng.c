/* lk-rng.c: Philox4x32-10 and Box-Muller normals
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-rng"

#include "config.h"

#include <math.h>
#include <string.h>

#include "lk-rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u  /* golden ratio */
#define PHILOX_W1 0xBB67AE85u  /* √3 − 1 */

static inline void
philox_round (guint32       c[4],
              const guint32 k[2])
{
  guint64 p0 = (guint64) PHILOX_M0 * c[0];
  guint64 p1 = (guint64) PHILOX_M1 * c[2];
  guint32 c1 = c[1], c3 = c[3];

  c[0] = (guint32) (p1 >> 32) ^ c1 ^ k[0];
  c[1] = (guint32) p1;
  c[2] = (guint32) (p0 >> 32) ^ c3 ^ k[1];
  c[3] = (guint32) p0;
}

void
lk_philox4x32_10 (const guint32 counter[4],
                  const guint32 key[2],
                  guint32       out[4])
{
  guint32 c[4] = { counter[0], counter[1], counter[2], counter[3] };
  guint32 k[2] = { key[0], key[1] };

  for (guint round = 0; round < 10; round++)
    {
      if (round > 0)
        {
          k[0] += PHILOX_W0;
          k[1] += PHILOX_W1;
        }
      philox_round (c, k);
    }
  memcpy (out, c, sizeof c);
}

void
lk_rng_init (LkRng   *self,
             guint64  seed)
{
  self->seed = seed;
  self->offset = 0;
}

void
lk_rng_normal (LkRng *self,
               float *out,
               gsize  n)
{
  /* curand's 2^-32 and 2π·2^-32 as f32, the uniforms taken at the middle of each step so that
   * u is never 0; the arithmetic after that is double, rounded to f32 at the end, as A1111's
   * numpy version does. */
  const double step = (float) 2.3283064e-10;
  const double step_2pi = (float) (2.3283064e-10 * 6.2831855);
  const guint32 key[2] = { (guint32) self->seed, (guint32) (self->seed >> 32) };

  g_return_if_fail (out != NULL || n == 0);

  for (gsize i = 0; i < n; i++)
    {
      const guint32 counter[4] = {
        (guint32) self->offset, (guint32) (self->offset >> 32),
        (guint32) i, (guint32) ((guint64) i >> 32),
      };
      guint32 r[4];
      double u, v;

      lk_philox4x32_10 (counter, key, r);
      u = r[0] * step + step / 2;
      v = r[1] * step_2pi + step_2pi / 2;
      out[i] = (float) (sqrt (-2.0 * log (u)) * sin (v));
    }
  self->offset++;
}

gboolean
lk_rng_normal_tensor (LkRng     *self,
                      LkStream  *stream,
                      LkTensor  *tensor,
                      GError   **error)
{
  gsize n = lk_tensor_numel (tensor);
  g_autofree float *data = g_new (float, n);

  lk_rng_normal (self, data, n);
  return lk_tensor_upload_f32 (tensor, stream, data, error);
}
