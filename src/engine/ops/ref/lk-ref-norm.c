/* lk-ref-norm.c: CPU references of group norm, layer norm and softmax
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-ref.h"

/* Mean and biased variance of n values, two passes in double. */
static void
mean_var (const float *x,
          gsize        n,
          double      *mean,
          double      *var)
{
  double sum = 0, m2 = 0;

  for (gsize i = 0; i < n; i++)
    sum += x[i];
  *mean = sum / n;
  for (gsize i = 0; i < n; i++)
    m2 += (x[i] - *mean) * (x[i] - *mean);
  *var = m2 / n;
}

void
lk_ref_group_norm (const float *x,
                   const float *gamma,
                   const float *beta,
                   float       *y,
                   gsize        batch,
                   gsize        channels,
                   gsize        spatial,
                   guint        groups,
                   float        eps,
                   gboolean     silu)
{
  gsize per_group = channels / groups;

  for (gsize n = 0; n < batch; n++)
    for (guint g = 0; g < groups; g++)
      {
        gsize base = (n * channels + g * per_group) * spatial;
        double mean, var, rstd;

        mean_var (x + base, per_group * spatial, &mean, &var);
        rstd = 1.0 / sqrt (var + eps);
        for (gsize c = 0; c < per_group; c++)
          {
            gsize ch = g * per_group + c;

            for (gsize s = 0; s < spatial; s++)
              {
                gsize i = base + c * spatial + s;
                double v = (x[i] - mean) * rstd;

                if (gamma != NULL)
                  v = v * gamma[ch] + beta[ch];
                if (silu)
                  v = v / (1.0 + exp (-v));
                y[i] = v;
              }
          }
      }
}

void
lk_ref_layer_norm (const float *x,
                   const float *gamma,
                   const float *beta,
                   float       *y,
                   gsize        rows,
                   gsize        dim,
                   float        eps)
{
  for (gsize r = 0; r < rows; r++)
    {
      const float *xr = x + r * dim;
      double mean, var, rstd;

      mean_var (xr, dim, &mean, &var);
      rstd = 1.0 / sqrt (var + eps);
      for (gsize i = 0; i < dim; i++)
        {
          double v = (xr[i] - mean) * rstd;

          if (gamma != NULL)
            v = v * gamma[i] + beta[i];
          y[r * dim + i] = v;
        }
    }
}

void
lk_ref_softmax (const float *x,
                float       *y,
                gsize        rows,
                gsize        dim,
                float        scale)
{
  for (gsize r = 0; r < rows; r++)
    {
      const float *xr = x + r * dim;
      double m = -INFINITY, sum = 0;

      for (gsize i = 0; i < dim; i++)
        m = MAX (m, (double) xr[i] * scale);
      for (gsize i = 0; i < dim; i++)
        sum += exp ((double) xr[i] * scale - m);
      for (gsize i = 0; i < dim; i++)
        y[r * dim + i] = exp ((double) xr[i] * scale - m) / sum;
    }
}
