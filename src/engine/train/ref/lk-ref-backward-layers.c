/* lk-ref-backward-layers.c: CPU references of the convolution, attention and shape-op
 * gradients, in double, written from the definitions rather than from the kernels' tricks
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-ref-backward.h"

void
lk_ref_conv2d_backward (const float *x,
                        const float *w,
                        const float *dy,
                        float       *dx,
                        float       *dw,
                        float       *dbias,
                        gsize        batch,
                        gsize        c_in,
                        gsize        h,
                        gsize        width,
                        gsize        c_out,
                        gsize        kernel,
                        guint        stride)
{
  gssize pad = (kernel - 1) / 2;
  gsize ho = (h + 2 * pad - kernel) / stride + 1;
  gsize wo = (width + 2 * pad - kernel) / stride + 1;
  gsize kk = kernel * kernel;
  g_autofree double *gx = g_new0 (double, batch * c_in * h * width);
  g_autofree double *gw = g_new0 (double, c_out * c_in * kk);
  g_autofree double *gb = g_new0 (double, c_out);

  /* y[b, co, oy, ox] = Σ w[co, ci, ky, kx] · x[b, ci, oy·s − p + ky, ox·s − p + kx]: every
   * product's two factors get dy times the other. */
  for (gsize b = 0; b < batch; b++)
    for (gsize co = 0; co < c_out; co++)
      for (gsize oy = 0; oy < ho; oy++)
        for (gsize ox = 0; ox < wo; ox++)
          {
            double g = dy[((b * c_out + co) * ho + oy) * wo + ox];

            gb[co] += g;
            for (gsize ci = 0; ci < c_in; ci++)
              for (gsize ky = 0; ky < kernel; ky++)
                for (gsize kx = 0; kx < kernel; kx++)
                  {
                    gssize iy = (gssize) (oy * stride + ky) - pad;
                    gssize ix = (gssize) (ox * stride + kx) - pad;
                    gsize wi = ((co * c_in + ci) * kernel + ky) * kernel + kx;
                    gsize xi;

                    if (iy < 0 || ix < 0 || iy >= (gssize) h || ix >= (gssize) width)
                      continue;
                    xi = ((b * c_in + ci) * h + iy) * width + ix;
                    gx[xi] += g * w[wi];
                    gw[wi] += g * x[xi];
                  }
          }
  for (gsize i = 0; dx != NULL && i < batch * c_in * h * width; i++)
    dx[i] = gx[i];
  for (gsize i = 0; dw != NULL && i < c_out * c_in * kk; i++)
    dw[i] = gw[i];
  for (gsize i = 0; dbias != NULL && i < c_out; i++)
    dbias[i] = gb[i];
}

void
lk_ref_attention_backward (const float *q,
                           const float *k,
                           const float *v,
                           const float *d_o,
                           float       *dq,
                           float       *dk,
                           float       *dv,
                           gsize        batch,
                           gsize        n_q,
                           gsize        n_k,
                           guint        heads,
                           gsize        head_dim,
                           float        scale,
                           gboolean     causal)
{
  gsize hd = heads * head_dim;
  g_autofree double *p = g_new (double, n_k);
  g_autofree double *dp = g_new (double, n_k);
  g_autofree double *gk = g_new0 (double, batch * n_k * hd);
  g_autofree double *gv = g_new0 (double, batch * n_k * hd);

  for (gsize b = 0; b < batch; b++)
    for (guint hh = 0; hh < heads; hh++)
      for (gsize i = 0; i < n_q; i++)
        {
          const float *qi = q + (b * n_q + i) * hd + hh * head_dim;
          const float *gi = d_o + (b * n_q + i) * hd + hh * head_dim;
          double max = -INFINITY, sum = 0, dsum = 0;
          gsize seen = causal ? MIN (n_k, i + 1) : n_k;

          /* P = softmax(s · q kᵀ); dP = dO vᵀ; dS = P ∘ (dP − Σ_j P dP). */
          for (gsize j = 0; j < seen; j++)
            {
              const float *kj = k + (b * n_k + j) * hd + hh * head_dim;
              const float *vj = v + (b * n_k + j) * hd + hh * head_dim;
              double s = 0, g = 0;

              for (gsize d = 0; d < head_dim; d++)
                {
                  s += (double) qi[d] * kj[d];
                  g += (double) gi[d] * vj[d];
                }
              p[j] = s * scale;
              dp[j] = g;
              max = MAX (max, p[j]);
            }
          for (gsize j = 0; j < seen; j++)
            sum += p[j] = exp (p[j] - max);
          for (gsize j = 0; j < seen; j++)
            {
              p[j] /= sum;
              dsum += p[j] * dp[j];
            }
          for (gsize d = 0; d < head_dim; d++)
            {
              double acc = 0;

              for (gsize j = 0; j < seen; j++)
                acc += p[j] * (dp[j] - dsum) * k[(b * n_k + j) * hd + hh * head_dim + d];
              dq[(b * n_q + i) * hd + hh * head_dim + d] = acc * scale;
            }
          for (gsize j = 0; j < seen; j++)
            {
              double ds = p[j] * (dp[j] - dsum) * scale;

              for (gsize d = 0; d < head_dim; d++)
                {
                  gsize kv = (b * n_k + j) * hd + hh * head_dim + d;

                  gk[kv] += ds * qi[d];
                  gv[kv] += p[j] * gi[d];
                }
            }
        }
  for (gsize i = 0; i < batch * n_k * hd; i++)
    {
      dk[i] = gk[i];
      dv[i] = gv[i];
    }
}

void
lk_ref_upsample_nearest2x_backward (const float *dy,
                                    float       *dx,
                                    gsize        planes,
                                    gsize        h,
                                    gsize        width)
{
  for (gsize p = 0; p < planes; p++)
    for (gsize y = 0; y < h; y++)
      for (gsize x = 0; x < width; x++)
        {
          const float *row = dy + (p * 2 * h + 2 * y) * 2 * width + 2 * x;

          dx[(p * h + y) * width + x] = (double) row[0] + row[1] + row[2 * width] +
                                        row[2 * width + 1];
        }
}

void
lk_ref_broadcast_backward (const float  *dy,
                           const gint64 *dy_shape,
                           guint         dy_ndim,
                           float        *dx,
                           const gint64 *dx_shape,
                           guint         dx_ndim)
{
  gint64 ys[4] = { 1, 1, 1, 1 }, xs[4] = { 1, 1, 1, 1 };
  gint64 n_x = 1, n_y = 1;
  g_autofree double *acc = NULL;

  g_assert (dy_ndim <= 4 && dx_ndim <= dy_ndim);
  for (guint d = 0; d < dy_ndim; d++)
    ys[4 - dy_ndim + d] = dy_shape[d];
  for (guint d = 0; d < dx_ndim; d++)
    xs[4 - dx_ndim + d] = dx_shape[d];
  for (guint d = 0; d < 4; d++)
    {
      n_x *= xs[d];
      n_y *= ys[d];
    }
  acc = g_new0 (double, n_x);
  for (gint64 i = 0; i < n_y; i++)
    {
      gint64 rest = i, xi = 0, stride = 1;
      gint64 idx[4];

      for (gint d = 3; d >= 0; d--)
        {
          idx[d] = rest % ys[d];
          rest /= ys[d];
        }
      for (gint d = 3; d >= 0; d--)
        {
          xi += (xs[d] == 1 ? 0 : idx[d]) * stride;
          stride *= xs[d];
        }
      acc[xi] += dy[i];
    }
  for (gint64 i = 0; i < n_x; i++)
    dx[i] = acc[i];
}

/* Element (row, feature) of a [rows, width] matrix stored as a Linear's rows or as NCHW. */
static inline gsize
lora_index (gsize row,
            gsize feature,
            gsize width,
            gsize spatial)
{
  if (spatial == 0)
    return row * width + feature;
  return (row / spatial * width + feature) * spatial + row % spatial;
}

void
lk_ref_lora_forward (const float *x,
                     const float *w,
                     const float *b,
                     const float *down,
                     const float *up,
                     float       *y,
                     gsize        rows,
                     gsize        spatial,
                     gsize        in,
                     gsize        out,
                     gsize        rank,
                     float        scale)
{
  g_autofree double *h = g_new (double, rank);

  for (gsize r = 0; r < rows; r++)
    {
      for (gsize k = 0; k < rank; k++)
        {
          h[k] = 0;
          for (gsize i = 0; i < in; i++)
            h[k] += (double) down[k * in + i] * x[lora_index (r, i, in, spatial)];
        }
      for (gsize o = 0; o < out; o++)
        {
          double acc = b ? b[o] : 0, lora = 0;

          for (gsize i = 0; i < in; i++)
            acc += (double) w[o * in + i] * x[lora_index (r, i, in, spatial)];
          for (gsize k = 0; k < rank; k++)
            lora += (double) up[o * rank + k] * h[k];
          y[lora_index (r, o, out, spatial)] = acc + scale * lora;
        }
    }
}

void
lk_ref_lora_backward (const float *x,
                      const float *w,
                      const float *down,
                      const float *up,
                      const float *dy,
                      float       *dx,
                      float       *d_down,
                      float       *d_up,
                      gsize        rows,
                      gsize        spatial,
                      gsize        in,
                      gsize        out,
                      gsize        rank,
                      float        scale)
{
  g_autofree double *h = g_new (double, rank);
  g_autofree double *dh = g_new (double, rank);
  g_autofree double *ga = g_new0 (double, rank * in);
  g_autofree double *gb = g_new0 (double, out * rank);

  for (gsize r = 0; r < rows; r++)
    {
      /* h = x Aᵀ; y's LoRA term is scale · h Bᵀ. */
      for (gsize k = 0; k < rank; k++)
        {
          h[k] = 0;
          dh[k] = 0;
          for (gsize i = 0; i < in; i++)
            h[k] += (double) down[k * in + i] * x[lora_index (r, i, in, spatial)];
        }
      for (gsize o = 0; o < out; o++)
        {
          double g = dy[lora_index (r, o, out, spatial)];

          for (gsize k = 0; k < rank; k++)
            {
              gb[o * rank + k] += scale * g * h[k];
              dh[k] += scale * g * up[o * rank + k];
            }
        }
      for (gsize i = 0; i < in; i++)
        {
          double g = 0;

          for (gsize k = 0; k < rank; k++)
            {
              ga[k * in + i] += dh[k] * x[lora_index (r, i, in, spatial)];
              g += dh[k] * down[k * in + i];
            }
          for (gsize o = 0; o < out; o++)
            g += (double) dy[lora_index (r, o, out, spatial)] * w[o * in + i];
          if (dx != NULL)
            dx[lora_index (r, i, in, spatial)] = g;
        }
    }
  for (gsize i = 0; i < rank * in; i++)
    d_down[i] = ga[i];
  for (gsize i = 0; i < out * rank; i++)
    d_up[i] = gb[i];
}
