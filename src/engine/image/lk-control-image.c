/* lk-control-image.c: colour mosaic and tile control images, OpenCV-compatible resampling
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lk-control-image.h"

/* OpenCV's INTER_RESIZE_COEF_BITS: 8-bit images are resampled with 11-bit integer weights. */
#define COEF_BITS  11
#define COEF_SCALE (1 << COEF_BITS)

static inline int
clampi (int v,
        int lo,
        int hi)
{
  return v < lo ? lo : v > hi ? hi : v;
}

static void
cubic_weights (float  x,
               short *w)
{
  const float a = -0.75f;
  float c[4];

  c[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
  c[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  c[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = 1.f - c[0] - c[1] - c[2];
  for (int k = 0; k < 4; k++)
    w[k] = (short) lrintf (c[k] * COEF_SCALE);
}

/* Source position of output index d: OpenCV computes it in float from a double scale. */
static void
cubic_taps (guint  in,
            guint  out,
            int   *first,
            short *weights)
{
  double scale = 1.0 / ((double) out / in);

  for (guint d = 0; d < out; d++)
    {
      float f = (float) ((d + 0.5) * scale - 0.5);
      int s = (int) floorf (f);

      first[d] = s - 1;
      cubic_weights (f - s, weights + 4 * d);
    }
}

guint8 *
lk_resize_cubic_rgb (const guint8 *rgb,
                     guint         width,
                     guint         height,
                     gsize         stride,
                     guint         out_width,
                     guint         out_height)
{
  g_autofree int *xs = g_new (int, out_width);
  g_autofree int *ys = g_new (int, out_height);
  g_autofree short *wx = g_new (short, 4 * out_width);
  g_autofree short *wy = g_new (short, 4 * out_height);
  g_autofree int *rows = g_new (int, 4 * (gsize) out_width * 3);
  guint8 *out;

  g_return_val_if_fail (rgb != NULL && width > 0 && height > 0, NULL);
  g_return_val_if_fail (out_width > 0 && out_height > 0, NULL);

  out = g_malloc ((gsize) out_width * out_height * 3);
  cubic_taps (width, out_width, xs, wx);
  cubic_taps (height, out_height, ys, wy);

  for (guint dy = 0; dy < out_height; dy++)
    {
      /* Horizontal pass of the four source rows, kept as unshifted integers. */
      for (int k = 0; k < 4; k++)
        {
          const guint8 *src = rgb + clampi (ys[dy] + k, 0, height - 1) * stride;
          int *h = rows + (gsize) k * out_width * 3;

          for (guint dx = 0; dx < out_width; dx++)
            for (int c = 0; c < 3; c++)
              {
                int sum = 0;

                for (int j = 0; j < 4; j++)
                  sum += src[3 * clampi (xs[dx] + j, 0, width - 1) + c] * wx[4 * dx + j];
                h[3 * dx + c] = sum;
              }
        }
      /* OpenCV's vector loop (16 bytes at a time) sums in float and rounds to even; the tail
       * is integer fixed point. */
      for (guint i = 0; i < out_width * 3; i++)
        {
          int sum = 0;

          if (i < (out_width * 3) / 16 * 16)
            {
              const float scale = 1.f / (COEF_SCALE * COEF_SCALE);
              float f = 0;

              /* Nested multiply-adds, the last row first: S0·b0 + (S1·b1 + (S2·b2 + S3·b3)). */
              for (int k = 3; k >= 0; k--)
                f = (float) rows[(gsize) k * out_width * 3 + i] * (wy[4 * dy + k] * scale) + f;
              out[(gsize) dy * out_width * 3 + i] = clampi ((int) lrintf (f), 0, 255);
              continue;
            }
          for (int k = 0; k < 4; k++)
            sum += rows[(gsize) k * out_width * 3 + i] * wy[4 * dy + k];
          out[(gsize) dy * out_width * 3 + i] =
            clampi ((sum + (1 << (2 * COEF_BITS - 1))) >> (2 * COEF_BITS), 0, 255);
        }
    }
  return out;
}

guint8 *
lk_resize_nearest_rgb (const guint8 *rgb,
                       guint         width,
                       guint         height,
                       gsize         stride,
                       guint         out_width,
                       guint         out_height)
{
  double fx = 1.0 / ((double) out_width / width), fy = 1.0 / ((double) out_height / height);
  g_autofree int *xs = g_new (int, out_width);
  guint8 *out;

  g_return_val_if_fail (rgb != NULL && width > 0 && height > 0, NULL);
  g_return_val_if_fail (out_width > 0 && out_height > 0, NULL);

  out = g_malloc ((gsize) out_width * out_height * 3);
  for (guint x = 0; x < out_width; x++)
    xs[x] = MIN ((int) floor (x * fx), (int) width - 1);
  for (guint y = 0; y < out_height; y++)
    {
      const guint8 *src = rgb + MIN ((int) floor (y * fy), (int) height - 1) * stride;
      guint8 *dst = out + (gsize) y * out_width * 3;

      for (guint x = 0; x < out_width; x++)
        memcpy (dst + 3 * x, src + 3 * xs[x], 3);
    }
  return out;
}

/* OpenCV's Lanczos-4 weights for a source offset x in [0, 1): sin(πt)·sin(πt/4)/(πt)²·4 at the
 * eight taps t = x + 3 − i, computed from one sine and cosine by the angle-sum identities, in
 * float, normalised to sum 1 and then rounded to 11-bit integers. A tap at t = 0 takes all the
 * weight. */
static void
lanczos4_weights (float  x,
                  short *w)
{
  static const double r = 0.70710678118654752440084436210485;
  static const double rotation[8][2] = {
    { 1, 0 }, { -r, -r }, { 0, 1 }, { r, -r }, { -1, 0 }, { r, r }, { 0, -1 }, { -r, r },
  };
  double y0 = -(x + 3) * G_PI * 0.25, s0 = sin (y0), c0 = cos (y0);
  float c[8], sum = 0;

  for (int i = 0; i < 8; i++)
    {
      float t = x + 3 - i;

      if (fabsf (t) >= 1e-6f)
        {
          double y = -t * G_PI * 0.25;

          c[i] = (float) ((rotation[i][0] * s0 + rotation[i][1] * c0) / (y * y));
        }
      else
        c[i] = 1e30f;
      sum += c[i];
    }
  sum = 1.f / sum;
  for (int i = 0; i < 8; i++)
    w[i] = (short) CLAMP (lrintf (c[i] * sum * COEF_SCALE), G_MINSHORT, G_MAXSHORT);
}

static void
lanczos4_taps (guint  in,
               guint  out,
               int   *first,
               short *weights)
{
  double scale = 1.0 / ((double) out / in);

  for (guint d = 0; d < out; d++)
    {
      float f = (float) ((d + 0.5) * scale - 0.5);
      int s = (int) floorf (f);

      first[d] = s - 3;
      lanczos4_weights (f - s, weights + 8 * d);
    }
}

guint8 *
lk_resize_lanczos4_rgb (const guint8 *rgb,
                        guint         width,
                        guint         height,
                        gsize         stride,
                        guint         out_width,
                        guint         out_height)
{
  g_autofree int *xs = g_new (int, out_width);
  g_autofree int *ys = g_new (int, out_height);
  g_autofree short *wx = g_new (short, 8 * out_width);
  g_autofree short *wy = g_new (short, 8 * out_height);
  g_autofree gint64 *rows = g_new (gint64, 8 * (gsize) out_width * 3);
  guint8 *out;

  g_return_val_if_fail (rgb != NULL && width > 0 && height > 0, NULL);
  g_return_val_if_fail (out_width > 0 && out_height > 0, NULL);

  out = g_malloc ((gsize) out_width * out_height * 3);
  lanczos4_taps (width, out_width, xs, wx);
  lanczos4_taps (height, out_height, ys, wy);

  /* OpenCV has no vector path for 8-bit Lanczos: both passes are integer fixed point. */
  for (guint dy = 0; dy < out_height; dy++)
    {
      for (int k = 0; k < 8; k++)
        {
          const guint8 *src = rgb + clampi (ys[dy] + k, 0, height - 1) * stride;
          gint64 *h = rows + (gsize) k * out_width * 3;

          for (guint dx = 0; dx < out_width; dx++)
            for (int c = 0; c < 3; c++)
              {
                gint64 sum = 0;

                for (int j = 0; j < 8; j++)
                  sum += src[3 * clampi (xs[dx] + j, 0, width - 1) + c] * wx[8 * dx + j];
                h[3 * dx + c] = sum;
              }
        }
      for (guint i = 0; i < out_width * 3; i++)
        {
          gint64 sum = 0;

          for (int k = 0; k < 8; k++)
            sum += rows[(gsize) k * out_width * 3 + i] * wy[8 * dy + k];
          out[(gsize) dy * out_width * 3 + i] =
            CLAMP ((sum + (1 << (2 * COEF_BITS - 1))) >> (2 * COEF_BITS), 0, 255);
        }
    }
  return out;
}

/* The source interval [d·scale, (d+1)·scale) split over source pixels, as weights. */
typedef struct
{
  int    src;
  int    dst;
  float  weight;
} AreaTap;

static GArray *
area_taps (guint in,
           guint out)
{
  double scale = (double) in / out;
  GArray *taps = g_array_new (FALSE, FALSE, sizeof (AreaTap));

  for (guint d = 0; d < out; d++)
    {
      double f0 = d * scale, f1 = f0 + scale;
      double cell = MIN (scale, in - f0);
      int s0 = (int) ceil (f0), s1 = (int) floor (f1);

      s1 = MIN (s1, (int) in);
      if (s0 - f0 > 1e-3)
        g_array_append_val (taps, ((AreaTap) { s0 - 1, d, (float) ((s0 - f0) / cell) }));
      for (int s = s0; s < s1; s++)
        g_array_append_val (taps, ((AreaTap) { s, d, (float) (1.0 / cell) }));
      if (f1 - s1 > 1e-3 && s1 < (int) in)
        g_array_append_val (taps, ((AreaTap) { s1, d, (float) (MIN (MIN (1.0, f1 - s1), in - s1) / cell) }));
    }
  return taps;
}

/* OpenCV takes another path when both factors are whole numbers: integer box sums, rounded
 * half up by its 2×2 vector kernel and otherwise as cvRound (sum · (1 / area)) in float, half to
 * even. The general path's float weights would differ from it by one on some bytes. */
static guint8 *
resize_area_integer (const guint8 *rgb,
                     guint         fx,
                     guint         fy,
                     gsize         stride,
                     guint         out_width,
                     guint         out_height)
{
  const guint area = fx * fy;
  const float inv_area = 1.0f / area;
  guint8 *out = g_malloc ((gsize) out_width * out_height * 3);

  for (guint y = 0; y < out_height; y++)
    for (guint x = 0; x < out_width; x++)
      for (int c = 0; c < 3; c++)
        {
          guint sum = 0;

          for (guint dy = 0; dy < fy; dy++)
            {
              const guint8 *src = rgb + (gsize) (y * fy + dy) * stride + (gsize) x * fx * 3 + c;

              for (guint dx = 0; dx < fx; dx++)
                sum += src[3 * dx];
            }
          out[((gsize) y * out_width + x) * 3 + c] =
            area == 4 && fx == 2 ? (int) ((sum + 2) >> 2)
                                 : clampi ((int) lrintf ((float) sum * inv_area), 0, 255);
        }
  return out;
}

/* INTER_AREA where an axis grows: OpenCV then interpolates linearly on both axes, with the
 * fraction of each output cell that falls past the source pixel boundary as the weight. */
static void
area_linear_taps (guint  in,
                  guint  out,
                  int   *first,
                  short *weights)
{
  double inv_scale = (double) out / in, scale = 1.0 / inv_scale;

  for (guint d = 0; d < out; d++)
    {
      int s = (int) floor (d * scale);
      float f = (float) ((d + 1) - (s + 1) * inv_scale);

      f = f <= 0 ? 0.f : f - floorf (f);
      if (s >= (int) in - 1)
        s = in - 1, f = 0;
      first[d] = s;
      weights[2 * d] = (short) lrintf ((1.f - f) * COEF_SCALE);
      weights[2 * d + 1] = (short) lrintf (f * COEF_SCALE);
    }
}

static guint8 *
resize_area_growing (const guint8 *rgb,
                     guint         width,
                     guint         height,
                     gsize         stride,
                     guint         out_width,
                     guint         out_height)
{
  gsize n = (gsize) out_width * 3;
  g_autofree int *xs = g_new (int, out_width);
  g_autofree int *ys = g_new (int, out_height);
  g_autofree short *wx = g_new (short, 2 * out_width);
  g_autofree short *wy = g_new (short, 2 * out_height);
  g_autofree int *rows = g_new (int, 2 * n);
  /* OpenCV's vertical pass is its vector kernel for every byte (checked against cv2 4.6 on x86,
   * narrow rows included): each term loses four bits and keeps the high half of its product. */
  guint8 *out;

  area_linear_taps (width, out_width, xs, wx);
  area_linear_taps (height, out_height, ys, wy);
  out = g_malloc ((gsize) out_height * n);
  for (guint dy = 0; dy < out_height; dy++)
    {
      const short b0 = wy[2 * dy], b1 = wy[2 * dy + 1];

      for (int k = 0; k < 2; k++)
        {
          const guint8 *src = rgb + clampi (ys[dy] + k, 0, height - 1) * stride;
          int *h = rows + k * n;

          for (guint dx = 0; dx < out_width; dx++)
            for (int c = 0; c < 3; c++)
              h[3 * dx + c] = xs[dx] + 1 < (int) width
                              ? src[3 * xs[dx] + c] * wx[2 * dx] +
                                src[3 * (xs[dx] + 1) + c] * wx[2 * dx + 1]
                              : src[3 * (width - 1) + c] * COEF_SCALE;
        }
      for (gsize i = 0; i < n; i++)
        {
          int t0 = (CLAMP (rows[i] >> 4, G_MINSHORT, G_MAXSHORT) * b0) >> 16;
          int t1 = (CLAMP (rows[n + i] >> 4, G_MINSHORT, G_MAXSHORT) * b1) >> 16;

          out[(gsize) dy * n + i] = clampi (((gint16) (t0 + t1) + 2) >> 2, 0, 255);
        }
    }
  return out;
}

guint8 *
lk_resize_area_rgb (const guint8 *rgb,
                    guint         width,
                    guint         height,
                    gsize         stride,
                    guint         out_width,
                    guint         out_height)
{
  g_autoptr(GArray) tx = NULL, ty = NULL;
  g_autofree float *acc = NULL;
  g_autofree float *row = NULL;
  guint8 *out;

  g_return_val_if_fail (rgb != NULL && width > 0 && height > 0, NULL);
  g_return_val_if_fail (out_width > 0 && out_height > 0, NULL);

  if (out_width > width || out_height > height)
    return resize_area_growing (rgb, width, height, stride, out_width, out_height);
  if (width % out_width == 0 && height % out_height == 0)
    return resize_area_integer (rgb, width / out_width, height / out_height, stride,
                                out_width, out_height);

  tx = area_taps (width, out_width);
  ty = area_taps (height, out_height);
  acc = g_new0 (float, (gsize) out_width * out_height * 3);
  row = g_new (float, (gsize) out_width * 3);
  for (guint i = 0; i < ty->len; i++)
    {
      const AreaTap *t = &g_array_index (ty, AreaTap, i);
      const guint8 *src = rgb + t->src * stride;
      float *dst = acc + (gsize) t->dst * out_width * 3;

      memset (row, 0, (gsize) out_width * 3 * sizeof (float));
      for (guint j = 0; j < tx->len; j++)
        {
          const AreaTap *u = &g_array_index (tx, AreaTap, j);

          for (int c = 0; c < 3; c++)
            row[3 * u->dst + c] += src[3 * u->src + c] * u->weight;
        }
      for (guint k = 0; k < out_width * 3; k++)
        dst[k] += row[k] * t->weight;
    }
  out = g_malloc ((gsize) out_width * out_height * 3);
  for (gsize k = 0; k < (gsize) out_width * out_height * 3; k++)
    out[k] = clampi ((int) lrintf (acc[k]), 0, 255);
  return out;
}

guint8 *
lk_control_color_mosaic (const guint8 *rgb,
                         guint         width,
                         guint         height,
                         gsize         stride,
                         guint         block)
{
  g_autofree guint8 *small = NULL;
  guint sw, sh;

  g_return_val_if_fail (block > 0, NULL);

  sw = MAX (width / block, 1);
  sh = MAX (height / block, 1);
  small = lk_resize_cubic_rgb (rgb, width, height, stride, sw, sh);
  return lk_resize_nearest_rgb (small, sw, sh, (gsize) sw * 3, width, height);
}

/* EasyPhoto's resize_image (img, 1024): the short side to 1024, both sides then rounded to
 * multiples of 64 (numpy's round, half to even); Lanczos-4 when enlarging, INTER_AREA otherwise. */
static guint8 *
resize_short_side (const guint8 *rgb,
                   guint         width,
                   guint         height,
                   gsize         stride,
                   guint         target,
                   guint        *out_width,
                   guint        *out_height)
{
  double k = (double) target / MIN (width, height);
  double w = width * k, h = height * k;

  *out_width = MAX ((guint) rint (w / 64.0) * 64, 64);
  *out_height = MAX ((guint) rint (h / 64.0) * 64, 64);
  if (k > 1)
    return lk_resize_lanczos4_rgb (rgb, width, height, stride, *out_width, *out_height);
  return lk_resize_area_rgb (rgb, width, height, stride, *out_width, *out_height);
}

guint8 *
lk_control_color_easyphoto (const guint8 *rgb,
                            guint         width,
                            guint         height,
                            gsize         stride,
                            guint         block)
{
  g_autofree guint8 *big = NULL, *mosaic = NULL;
  guint bw, bh;

  g_return_val_if_fail (rgb != NULL && width > 0 && height > 0, NULL);
  g_return_val_if_fail (block > 0, NULL);

  big = resize_short_side (rgb, width, height, stride, LK_COLOR_EASYPHOTO_SIDE, &bw, &bh);
  /* cv2.resize to the size an image already has is a copy, so block 1 mosaics nothing. */
  if (block > 1)
    mosaic = lk_control_color_mosaic (big, bw, bh, (gsize) bw * 3, block);
  return lk_resize_cubic_rgb (mosaic != NULL ? mosaic : big, bw, bh, (gsize) bw * 3, width,
                              height);
}

guint8 *
lk_control_tile_resample (const guint8 *rgb,
                          guint         width,
                          guint         height,
                          gsize         stride,
                          double        rate,
                          guint        *out_width,
                          guint        *out_height)
{
  guint8 *out;

  g_return_val_if_fail (rgb != NULL && out_width != NULL && out_height != NULL, NULL);

  if (rate < 1.1)
    {
      out = g_malloc ((gsize) width * height * 3);
      for (guint y = 0; y < height; y++)
        memcpy (out + (gsize) y * width * 3, rgb + y * stride, (gsize) width * 3);
      *out_width = width;
      *out_height = height;
      return out;
    }
  *out_width = MAX ((guint) (width / rate), 1);
  *out_height = MAX ((guint) (height / rate), 1);
  return lk_resize_area_rgb (rgb, width, height, stride, *out_width, *out_height);
}
