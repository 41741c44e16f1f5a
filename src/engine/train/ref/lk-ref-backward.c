/* lk-ref-backward.c: CPU references of the backward ops and AdamW
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-ref-backward.h"

static double
sigmoid (double x)
{
  return 1.0 / (1.0 + exp (-x));
}

double
lk_ref_activation_value (LkActivation activation,
                         double       x)
{
  switch (activation)
    {
    case LK_ACTIVATION_SILU:
      return x * sigmoid (x);
    case LK_ACTIVATION_GELU:
      return 0.5 * x * (1.0 + erf (x * M_SQRT1_2));
    case LK_ACTIVATION_QUICK_GELU:
      return x * sigmoid (1.702 * x);
    case LK_N_ACTIVATIONS:
    default:
      g_assert_not_reached ();
    }
}

double
lk_ref_activation_grad (LkActivation activation,
                        double       x)
{
  double s;

  switch (activation)
    {
    case LK_ACTIVATION_SILU:
      s = sigmoid (x);
      return s * (1.0 + x * (1.0 - s));
    case LK_ACTIVATION_GELU:
      return 0.5 * (1.0 + erf (x * M_SQRT1_2)) + x * exp (-0.5 * x * x) / sqrt (2.0 * G_PI);
    case LK_ACTIVATION_QUICK_GELU:
      s = sigmoid (1.702 * x);
      return s + 1.702 * x * s * (1.0 - s);
    case LK_N_ACTIVATIONS:
    default:
      g_assert_not_reached ();
    }
}

void
lk_ref_activation_backward (LkActivation  activation,
                            const float  *x,
                            const float  *dy,
                            float        *dx,
                            gsize         n)
{
  for (gsize i = 0; i < n; i++)
    dx[i] = dy[i] * lk_ref_activation_grad (activation, x[i]);
}

void
lk_ref_geglu_backward (const float *x,
                       const float *dy,
                       float       *dx,
                       gsize        rows,
                       gsize        h)
{
  for (gsize r = 0; r < rows; r++)
    for (gsize c = 0; c < h; c++)
      {
        double hidden = x[r * 2 * h + c], gate = x[r * 2 * h + h + c], d = dy[r * h + c];

        dx[r * 2 * h + c] = d * lk_ref_activation_value (LK_ACTIVATION_GELU, gate);
        dx[r * 2 * h + h + c] = d * hidden * lk_ref_activation_grad (LK_ACTIVATION_GELU, gate);
      }
}

static void
mean_rstd (const float *x,
           gsize        n,
           gsize        stride,
           float        eps,
           double      *mean,
           double      *rstd)
{
  double sum = 0, m2 = 0;

  for (gsize i = 0; i < n; i++)
    sum += x[i * stride];
  *mean = sum / n;
  for (gsize i = 0; i < n; i++)
    m2 += (x[i * stride] - *mean) * (x[i * stride] - *mean);
  *rstd = 1.0 / sqrt (m2 / n + eps);
}

void
lk_ref_layer_norm_backward (const float *x,
                            const float *gamma,
                            const float *dy,
                            float       *dx,
                            float       *dgamma,
                            float       *dbeta,
                            gsize        rows,
                            gsize        dim,
                            float        eps)
{
  g_autofree double *dg = g_new0 (double, dim);
  g_autofree double *db = g_new0 (double, dim);

  for (gsize r = 0; r < rows; r++)
    {
      const float *xr = x + r * dim, *dyr = dy + r * dim;
      double mean, rstd, sum_g = 0, sum_gx = 0;

      mean_rstd (xr, dim, 1, eps, &mean, &rstd);
      for (gsize i = 0; i < dim; i++)
        {
          double xhat = (xr[i] - mean) * rstd, g = dyr[i] * (gamma ? gamma[i] : 1.0);

          sum_g += g;
          sum_gx += g * xhat;
          dg[i] += dyr[i] * xhat;
          db[i] += dyr[i];
        }
      for (gsize i = 0; i < dim; i++)
        {
          double xhat = (xr[i] - mean) * rstd, g = dyr[i] * (gamma ? gamma[i] : 1.0);

          dx[r * dim + i] = rstd * (g - sum_g / dim - xhat * sum_gx / dim);
        }
    }
  for (gsize i = 0; i < dim; i++)
    {
      if (dgamma)
        dgamma[i] = dg[i];
      if (dbeta)
        dbeta[i] = db[i];
    }
}

void
lk_ref_group_norm_backward (const float *x,
                            const float *gamma,
                            const float *beta,
                            const float *dy,
                            float       *dx,
                            float       *dgamma,
                            float       *dbeta,
                            gsize        batch,
                            gsize        channels,
                            gsize        spatial,
                            guint        groups,
                            float        eps,
                            gboolean     silu)
{
  gsize per_group = channels / groups, m = per_group * spatial;
  g_autofree double *dg = g_new0 (double, channels);
  g_autofree double *db = g_new0 (double, channels);
  g_autofree double *dz = g_new (double, m);

  for (gsize n = 0; n < batch; n++)
    for (guint grp = 0; grp < groups; grp++)
      {
        gsize base = (n * channels + grp * per_group) * spatial;
        double mean, rstd, sum_g = 0, sum_gx = 0;

        mean_rstd (x + base, m, 1, eps, &mean, &rstd);
        for (gsize i = 0; i < m; i++)
          {
            gsize ch = grp * per_group + i / spatial;
            double xhat = (x[base + i] - mean) * rstd;
            double g = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;

            dz[i] = dy[base + i];
            if (silu)
              dz[i] *= lk_ref_activation_grad (LK_ACTIVATION_SILU, xhat * g + b);
            dg[ch] += dz[i] * xhat;
            db[ch] += dz[i];
            sum_g += g * dz[i];
            sum_gx += g * dz[i] * xhat;
          }
        for (gsize i = 0; i < m; i++)
          {
            gsize ch = grp * per_group + i / spatial;
            double xhat = (x[base + i] - mean) * rstd, g = gamma ? gamma[ch] : 1.0;

            dx[base + i] = rstd * (g * dz[i] - sum_g / m - xhat * sum_gx / m);
          }
      }
  for (gsize c = 0; c < channels; c++)
    {
      if (dgamma)
        dgamma[c] = dg[c];
      if (dbeta)
        dbeta[c] = db[c];
    }
}

void
lk_ref_adamw_step (float                *param,
                   const float          *grad,
                   float                *m,
                   float                *v,
                   gsize                 n,
                   const float          *stats,
                   const LkAdamWOptions *o)
{
  double scale = o->grad_scale;
  double bc1 = 1.0 - pow (o->beta1, o->step), bc2 = 1.0 - pow (o->beta2, o->step);

  if (stats != NULL)
    {
      if (stats[1] != 0)
        return;
      if (o->max_grad_norm > 0)
        scale *= MIN (1.0, o->max_grad_norm / (sqrt (stats[0]) * o->grad_scale + 1e-6));
    }
  for (gsize i = 0; i < n; i++)
    {
      double g = grad[i] * scale;
      double mi = o->beta1 * m[i] + (1.0 - o->beta1) * g;
      double vi = o->beta2 * v[i] + (1.0 - o->beta2) * g * g;

      m[i] = mi;
      v[i] = vi;
      param[i] = param[i] * (1.0 - o->lr * o->weight_decay) -
                 o->lr / bc1 * mi / (sqrt (vi) / sqrt (bc2) + o->eps);
    }
}
