/* lk-ref-attention.c: CPU reference of multi-head attention, the plain way: the whole score row,
 * its softmax, then the weighted sum of values
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-ref.h"

void
lk_ref_attention (const float *q,
                  const float *k,
                  const float *v,
                  float       *o,
                  gsize        batch,
                  gsize        n_q,
                  gsize        n_k,
                  guint        heads,
                  gsize        head_dim,
                  float        scale)
{
  lk_ref_attention_masked (q, k, v, o, batch, n_q, n_k, heads, head_dim, scale, FALSE);
}

void
lk_ref_attention_masked (const float *q,
                         const float *k,
                         const float *v,
                         float       *o,
                         gsize        batch,
                         gsize        n_q,
                         gsize        n_k,
                         guint        heads,
                         gsize        head_dim,
                         float        scale,
                         gboolean     causal)
{
  gsize hd = heads * head_dim;
  g_autofree double *scores = g_new (double, MAX (n_k, 1));
  g_autofree double *acc = g_new (double, MAX (head_dim, 1));

  if (scale == 0.0f)
    scale = 1.0 / sqrt ((double) head_dim);

  for (gsize b = 0; b < batch; b++)
    for (guint h = 0; h < heads; h++)
      for (gsize i = 0; i < n_q; i++)
        {
          const float *qr = q + (b * n_q + i) * hd + h * head_dim;
          double m = -INFINITY, sum = 0;
          gsize n_seen = causal ? MIN (n_k, i + 1) : n_k;

          for (gsize j = 0; j < n_seen; j++)
            {
              const float *kr = k + (b * n_k + j) * hd + h * head_dim;
              double dot = 0;

              for (gsize d = 0; d < head_dim; d++)
                dot += (double) qr[d] * kr[d];
              scores[j] = dot * scale;
              m = MAX (m, scores[j]);
            }
          for (gsize j = 0; j < n_seen; j++)
            {
              scores[j] = exp (scores[j] - m);
              sum += scores[j];
            }
          for (gsize d = 0; d < head_dim; d++)
            acc[d] = 0;
          for (gsize j = 0; j < n_seen; j++)
            {
              const float *vr = v + (b * n_k + j) * hd + h * head_dim;

              for (gsize d = 0; d < head_dim; d++)
                acc[d] += scores[j] * vr[d];
            }
          for (gsize d = 0; d < head_dim; d++)
            o[(b * n_q + i) * hd + h * head_dim + d] = acc[d] / sum;
        }
}
