/* lk-ref-elementwise.c: CPU references of the elementwise ops
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lk-ref.h"

float
lk_ref_unary_value (LkUnaryOp op,
                    float     x)
{
  double v = x;

  switch (op)
    {
    case LK_UNARY_IDENTITY: return x;
    case LK_UNARY_SILU: return v / (1.0 + exp (-v));
    case LK_UNARY_GELU: return 0.5 * v * (1.0 + erf (v / sqrt (2.0)));
    case LK_UNARY_SIGMOID: return 1.0 / (1.0 + exp (-v));
    case LK_UNARY_TANH: return tanh (v);
    case LK_UNARY_QUICK_GELU: return v / (1.0 + exp (-1.702 * v));
    default: g_assert_not_reached ();
    }
}

void
lk_ref_unary (LkUnaryOp    op,
              const float *x,
              float        alpha,
              float        beta,
              float       *y,
              gsize        n)
{
  for (gsize i = 0; i < n; i++)
    y[i] = (double) lk_ref_unary_value (op, x[i]) * alpha + beta;
}

static gsize
broadcast_index (const gint64 *shape,
                 const gint64 *coord)
{
  gsize index = 0;

  for (guint d = 0; d < 4; d++)
    index = index * shape[d] + (shape[d] == 1 ? 0 : coord[d]);
  return index;
}

void
lk_ref_binary (LkBinaryOp    op,
               const float  *a,
               const gint64 *a_shape,
               const float  *b,
               const gint64 *b_shape,
               float        *y,
               const gint64 *y_shape)
{
  gint64 c[4];
  gsize i = 0;

  for (c[0] = 0; c[0] < y_shape[0]; c[0]++)
    for (c[1] = 0; c[1] < y_shape[1]; c[1]++)
      for (c[2] = 0; c[2] < y_shape[2]; c[2]++)
        for (c[3] = 0; c[3] < y_shape[3]; c[3]++, i++)
          {
            double va = a[broadcast_index (a_shape, c)];
            double vb = b[broadcast_index (b_shape, c)];

            switch (op)
              {
              case LK_BINARY_ADD: y[i] = va + vb; break;
              case LK_BINARY_SUB: y[i] = va - vb; break;
              case LK_BINARY_MUL: y[i] = va * vb; break;
              case LK_BINARY_DIV: y[i] = va / vb; break;
              default: g_assert_not_reached ();
              }
          }
}

void
lk_ref_geglu (const float *x,
              float       *y,
              gsize        rows,
              gsize        h)
{
  for (gsize r = 0; r < rows; r++)
    for (gsize c = 0; c < h; c++)
      y[r * h + c] = (double) x[r * 2 * h + c] * lk_ref_unary_value (LK_UNARY_GELU, x[r * 2 * h + h + c]);
}

void
lk_ref_concat_channels (const float *a,
                        const float *b,
                        float       *y,
                        gsize        n,
                        gsize        ca,
                        gsize        cb,
                        gsize        inner)
{
  for (gsize i = 0; i < n; i++)
    {
      memcpy (y + i * (ca + cb) * inner, a + i * ca * inner, ca * inner * sizeof (float));
      memcpy (y + (i * (ca + cb) + ca) * inner, b + i * cb * inner, cb * inner * sizeof (float));
    }
}

void
lk_ref_upsample_nearest2x (const float *x,
                           float       *y,
                           gsize        planes,
                           gsize        h,
                           gsize        w)
{
  for (gsize p = 0; p < planes; p++)
    for (gsize oy = 0; oy < 2 * h; oy++)
      for (gsize ox = 0; ox < 2 * w; ox++)
        y[(p * 2 * h + oy) * 2 * w + ox] = x[(p * h + oy / 2) * w + ox / 2];
}

void
lk_ref_timestep_embedding (const float *t,
                           float       *y,
                           gsize        batch,
                           gsize        dim,
                           float        max_period,
                           gboolean     flip_sin_to_cos)
{
  gsize half = dim / 2;

  for (gsize b = 0; b < batch; b++)
    for (gsize j = 0; j < dim; j++)
      {
        double v = 0.0;

        if (j < 2 * half)
          {
            gsize k = j < half ? j : j - half;
            double arg = t[b] * exp (-log (max_period) * (double) k / (double) half);
            gboolean first = j < half;

            v = (first == !!flip_sin_to_cos) ? cos (arg) : sin (arg);
          }
        y[b * dim + j] = v;
      }
}
