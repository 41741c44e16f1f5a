/* lk-ref-vision.c: CPU references of the NHWC vision ops, accumulating in double
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-ops-vision.h"

float
lk_ref_vision_act_value (LkVisionAct act,
                         float       x,
                         float       alpha)
{
  switch (act)
    {
    case LK_VISION_ACT_RELU:
      return MAX (x, 0.0f);
    case LK_VISION_ACT_RELU6:
      return CLAMP (x, 0.0f, 6.0f);
    case LK_VISION_ACT_PRELU:
      return x < 0 ? alpha * x : x;
    case LK_VISION_ACT_SIGMOID:
      return 1.0 / (1.0 + exp (-(double) x));
    case LK_VISION_ACT_NONE:
    default:
      return x;
    }
}

void
lk_ref_vision_conv2d (const float           *x,
                      const gint64          *xs,
                      const float           *w,
                      gint64                 kh,
                      gint64                 kw,
                      gboolean               depthwise,
                      const float           *bias,
                      const float           *alpha,
                      LkVisionAct            act,
                      float                 *y,
                      const gint64          *ys,
                      const LkVisionWindow  *win)
{
  gint64 cin = xs[3], cout = ys[3], mult = depthwise ? cout / cin : 1;
  gint64 dh = MAX (win->dilation_h, 1), dw = MAX (win->dilation_w, 1);

  for (gint64 n = 0; n < ys[0]; n++)
    for (gint64 oy = 0; oy < ys[1]; oy++)
      for (gint64 ox = 0; ox < ys[2]; ox++)
        for (gint64 co = 0; co < cout; co++)
          {
            double sum = bias ? bias[co] : 0;

            for (gint64 ky = 0; ky < kh; ky++)
              for (gint64 kx = 0; kx < kw; kx++)
                {
                  gint64 iy = oy * win->stride_h + ky * dh - win->pad_top;
                  gint64 ix = ox * win->stride_w + kx * dw - win->pad_left;
                  const float *px;

                  if (iy < 0 || ix < 0 || iy >= xs[1] || ix >= xs[2])
                    continue;
                  px = x + ((n * xs[1] + iy) * xs[2] + ix) * cin;
                  if (depthwise)
                    sum += (double) px[co / mult] * w[(ky * kw + kx) * cout + co];
                  else
                    for (gint64 ci = 0; ci < cin; ci++)
                      sum += (double) px[ci] * w[((ky * kw + kx) * cin + ci) * cout + co];
                }
            y[((n * ys[1] + oy) * ys[2] + ox) * cout + co] =
              lk_ref_vision_act_value (act, sum, alpha ? alpha[co] : 0);
          }
}

void
lk_ref_vision_conv2d_transpose (const float           *x,
                                const gint64          *xs,
                                const float           *w,
                                gint64                 kh,
                                gint64                 kw,
                                const float           *bias,
                                const float           *alpha,
                                LkVisionAct            act,
                                float                 *y,
                                const gint64          *ys,
                                const LkVisionWindow  *win)
{
  gint64 cin = xs[3], cout = ys[3], ny = ys[0] * ys[1] * ys[2] * ys[3];
  gint64 dh = MAX (win->dilation_h, 1), dw = MAX (win->dilation_w, 1);
  double *acc = g_new0 (double, ny);

  /* Scatter form: each input element adds its filter footprint, the definition of the input
   * gradient of a strided convolution (the kernel gathers instead). */
  for (gint64 n = 0; n < xs[0]; n++)
    for (gint64 iy = 0; iy < xs[1]; iy++)
      for (gint64 ix = 0; ix < xs[2]; ix++)
        for (gint64 ky = 0; ky < kh; ky++)
          for (gint64 kx = 0; kx < kw; kx++)
            {
              gint64 oy = iy * win->stride_h + ky * dh - win->pad_top;
              gint64 ox = ix * win->stride_w + kx * dw - win->pad_left;

              if (oy < 0 || ox < 0 || oy >= ys[1] || ox >= ys[2])
                continue;
              for (gint64 co = 0; co < cout; co++)
                {
                  double sum = 0;

                  for (gint64 ci = 0; ci < cin; ci++)
                    sum += (double) x[((n * xs[1] + iy) * xs[2] + ix) * cin + ci] *
                           w[((ky * kw + kx) * cout + co) * cin + ci];
                  acc[((n * ys[1] + oy) * ys[2] + ox) * cout + co] += sum;
                }
            }
  for (gint64 i = 0; i < ny; i++)
    {
      gint64 co = i % cout;

      y[i] = lk_ref_vision_act_value (act, acc[i] + (bias ? bias[co] : 0), alpha ? alpha[co] : 0);
    }
  g_free (acc);
}

void
lk_ref_vision_activation (LkVisionAct   act,
                          const float  *x,
                          const float  *alpha,
                          gint64        channels,
                          float        *y,
                          gint64        n)
{
  for (gint64 i = 0; i < n; i++)
    y[i] = lk_ref_vision_act_value (act, x[i], alpha ? alpha[i % channels] : 0);
}

void
lk_ref_vision_pool (LkVisionPool           pool,
                    const float           *x,
                    const gint64          *xs,
                    float                 *y,
                    const gint64          *ys,
                    guint                  kh,
                    guint                  kw,
                    const LkVisionWindow  *win)
{
  gint64 c = xs[3];

  for (gint64 n = 0; n < ys[0]; n++)
    for (gint64 oy = 0; oy < ys[1]; oy++)
      for (gint64 ox = 0; ox < ys[2]; ox++)
        for (gint64 ch = 0; ch < c; ch++)
          {
            double acc = pool == LK_VISION_POOL_MAX ? -INFINITY : 0;
            gint64 count = 0;

            for (gint64 ky = 0; ky < kh; ky++)
              for (gint64 kx = 0; kx < kw; kx++)
                {
                  gint64 iy = oy * win->stride_h + ky - win->pad_top;
                  gint64 ix = ox * win->stride_w + kx - win->pad_left;
                  double v;

                  if (iy < 0 || ix < 0 || iy >= xs[1] || ix >= xs[2])
                    continue;
                  v = x[((n * xs[1] + iy) * xs[2] + ix) * c + ch];
                  acc = pool == LK_VISION_POOL_MAX ? MAX (acc, v) : acc + v;
                  count++;
                }
            if (pool == LK_VISION_POOL_AVG)
              acc /= MAX (count, 1);
            else if (count == 0)
              acc = -G_MAXFLOAT;
            y[((n * ys[1] + oy) * ys[2] + ox) * c + ch] = acc;
          }
}

void
lk_ref_vision_pad (const float   *x,
                   const gint64  *xs,
                   const gint64   pads[4][2],
                   float          value,
                   float         *y)
{
  gint64 ys[4];

  for (guint d = 0; d < 4; d++)
    ys[d] = xs[d] + pads[d][0] + pads[d][1];
  for (gint64 i0 = 0; i0 < ys[0]; i0++)
    for (gint64 i1 = 0; i1 < ys[1]; i1++)
      for (gint64 i2 = 0; i2 < ys[2]; i2++)
        for (gint64 i3 = 0; i3 < ys[3]; i3++)
          {
            gint64 s0 = i0 - pads[0][0], s1 = i1 - pads[1][0];
            gint64 s2 = i2 - pads[2][0], s3 = i3 - pads[3][0];
            gboolean inside = s0 >= 0 && s0 < xs[0] && s1 >= 0 && s1 < xs[1] &&
                              s2 >= 0 && s2 < xs[2] && s3 >= 0 && s3 < xs[3];

            y[((i0 * ys[1] + i1) * ys[2] + i2) * ys[3] + i3] =
              inside ? x[((s0 * xs[1] + s1) * xs[2] + s2) * xs[3] + s3] : value;
          }
}

/* TensorFlow's resize_bilinear_op.cc: the source coordinate, its two neighbours, the weight. */
static void
resize_source (gint64    o,
               gint64    in,
               gint64    out,
               gboolean  align_corners,
               gboolean  half_pixel,
               gint64   *lo,
               gint64   *hi,
               double   *frac)
{
  double scale = align_corners && out > 1 ? (double) (in - 1) / (out - 1) : (double) in / out;
  double s = half_pixel ? (o + 0.5) * scale - 0.5 : o * scale;
  double f = floor (s);

  *lo = MIN (MAX ((gint64) f, 0), in - 1);
  *hi = MIN (half_pixel ? (gint64) ceil (s) : (gint64) f + 1, in - 1);
  *frac = s - f;
}

void
lk_ref_vision_resize_bilinear (const float   *x,
                               const gint64  *xs,
                               float         *y,
                               const gint64  *ys,
                               gboolean       align_corners,
                               gboolean       half_pixel_centers)
{
  gint64 c = xs[3];

  for (gint64 n = 0; n < ys[0]; n++)
    for (gint64 oy = 0; oy < ys[1]; oy++)
      for (gint64 ox = 0; ox < ys[2]; ox++)
        {
          gint64 y0, y1, x0, x1;
          double fy, fx;

          resize_source (oy, xs[1], ys[1], align_corners, half_pixel_centers, &y0, &y1, &fy);
          resize_source (ox, xs[2], ys[2], align_corners, half_pixel_centers, &x0, &x1, &fx);
          for (gint64 ch = 0; ch < c; ch++)
            {
              double tl = x[((n * xs[1] + y0) * xs[2] + x0) * c + ch];
              double tr = x[((n * xs[1] + y0) * xs[2] + x1) * c + ch];
              double bl = x[((n * xs[1] + y1) * xs[2] + x0) * c + ch];
              double br = x[((n * xs[1] + y1) * xs[2] + x1) * c + ch];
              double top = tl + (tr - tl) * fx, bottom = bl + (br - bl) * fx;

              y[((n * ys[1] + oy) * ys[2] + ox) * c + ch] = top + (bottom - top) * fy;
            }
        }
}

void
lk_ref_vision_depth_to_space (const float   *x,
                              const gint64  *xs,
                              guint          b,
                              float         *y)
{
  gint64 c = xs[3] / (b * b);

  for (gint64 n = 0; n < xs[0]; n++)
    for (gint64 iy = 0; iy < xs[1]; iy++)
      for (gint64 ix = 0; ix < xs[2]; ix++)
        for (guint k = 0; k < b; k++)
          for (guint j = 0; j < b; j++)
            for (gint64 ch = 0; ch < c; ch++)
              y[((n * xs[1] * b + iy * b + k) * xs[2] * b + ix * b + j) * c + ch] =
                x[((n * xs[1] + iy) * xs[2] + ix) * xs[3] + (k * b + j) * c + ch];
}
