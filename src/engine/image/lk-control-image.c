/* lk-control-image.c: colour mosaic and tile control images, OpenCV-compatible resampling
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <float.h>
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

/* ---- "just resize": sd-webui-controlnet's high_quality_resize ----------------------------- */

/* A 3×3 morphology on one packed 8-bit plane, OpenCV-style: the minimum (erode) or maximum
 * (dilate) over the cells @mask marks (row-major, centre at 4), cells outside the image left
 * out. */
static void
morph3 (const guint8 *src,
        guint8       *dst,
        guint         width,
        guint         height,
        const guint8  mask[9],
        gboolean      dilate)
{
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        int v = dilate ? 0 : 255;

        for (int k = 0; k < 9; k++)
          {
            int sx = (int) x + k % 3 - 1, sy = (int) y + k / 3 - 1;
            int s;

            if (!mask[k] || sx < 0 || sy < 0 || sx >= (int) width || sy >= (int) height)
              continue;
            s = src[(gsize) sy * width + sx];
            v = dilate ? MAX (v, s) : MIN (v, s);
          }
        dst[(gsize) y * width + x] = v;
      }
}

/* Whether a black-and-white map is mostly lines one pixel wide: a 3×3 opening (erode, then
 * dilate) removes, over all three channels, more than half as many values as are bright. */
static gboolean
is_one_pixel_edge (const guint8 *rgb,
                   guint         width,
                   guint         height,
                   gsize         stride)
{
  static const guint8 box[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
  g_autofree guint8 *plane = g_malloc ((gsize) width * height);
  g_autofree guint8 *eroded = g_malloc ((gsize) width * height);
  g_autofree guint8 *opened = g_malloc ((gsize) width * height);
  guint64 removed = 0, bright = 0;

  for (guint c = 0; c < 3; c++)
    {
      for (guint y = 0; y < height; y++)
        for (guint x = 0; x < width; x++)
          plane[(gsize) y * width + x] = rgb[y * stride + 3 * x + c];
      morph3 (plane, eroded, width, height, box, FALSE);
      morph3 (eroded, opened, width, height, box, TRUE);
      for (gsize i = 0; i < (gsize) width * height; i++)
        {
          removed += opened[i] < plane[i];
          bright += plane[i] > 127;
        }
    }
  return removed * 2 > bright;
}

/* Keeps a pixel that is a maximum (ties included) across one of the four lines through it —
 * horizontal, vertical, either diagonal — and zeroes the rest. */
static void
line_nms (const guint8 *src,
          guint8       *dst,
          guint         width,
          guint         height)
{
  static const int dirs[4][2] = { { 1, 0 }, { 0, 1 }, { 1, 1 }, { 1, -1 } };

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        guint8 v = src[(gsize) y * width + x];
        gboolean keep = FALSE;

        for (guint d = 0; d < 4 && !keep; d++)
          {
            keep = TRUE;
            for (int side = -1; side <= 1; side += 2)
              {
                int nx = (int) x + side * dirs[d][0], ny = (int) y + side * dirs[d][1];

                if (nx >= 0 && ny >= 0 && nx < (int) width && ny < (int) height &&
                    src[(gsize) ny * width + nx] > v)
                  keep = FALSE;
              }
          }
        dst[(gsize) y * width + x] = keep ? v : 0;
      }
}

/* cv2.threshold (…, THRESH_BINARY | THRESH_OTSU): the level that maximises the between-class
 * variance of the histogram (OpenCV's recurrence, in double), then 255 above it and 0 elsewhere. */
static void
otsu_binarize (guint8 *plane,
               gsize   n)
{
  guint64 hist[256] = { 0 };
  double scale = 1.0 / n, mu = 0, mu1 = 0, q1 = 0, best = 0;
  int level = 0;

  for (gsize i = 0; i < n; i++)
    hist[plane[i]]++;
  for (int i = 0; i < 256; i++)
    mu += i * (double) hist[i];
  mu *= scale;
  for (int i = 0; i < 256; i++)
    {
      double p = hist[i] * scale, q2, mu2, sigma;

      mu1 *= q1;
      q1 += p;
      q2 = 1.0 - q1;
      if (MIN (q1, q2) < FLT_EPSILON || MAX (q1, q2) > 1.0 - FLT_EPSILON)
        continue;
      mu1 = (mu1 + i * p) / q1;
      mu2 = (mu - q1 * mu1) / q2;
      sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
      if (sigma > best)
        {
          best = sigma;
          level = i;
        }
    }
  for (gsize i = 0; i < n; i++)
    plane[i] = plane[i] > level ? 255 : 0;
}

/* Hit-or-miss patterns (1 set, −1 clear, 0 either; row-major) of lvmin Zhang's edge thinning
 * in sd-webui-controlnet; each is used in four orientations, turned a quarter counter-clockwise
 * at a time, the two of a set alternating. */
static const gint8 thin_patterns[2][9] = {
  { -1, -1, -1, 0, 1, 0, 1, 1, 1 },
  { 0, -1, -1, 1, 1, -1, 0, 1, 0 },
};
static const gint8 prune_patterns[2][9] = {
  { -1, -1, -1, -1, 1, -1, 0, 0, -1 },
  { -1, -1, -1, -1, 1, -1, -1, 0, 0 },
};

/* numpy's rot90 (k = 1): out[i][j] = in[j][2 − i]. */
static void
rotate_pattern (const gint8 in[9],
                gint8       out[9])
{
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      out[i * 3 + j] = in[j * 3 + 2 - i];
}

/* One sweep of the eight orientations of @patterns over a 0/255 plane: each in turn clears every
 * pixel where it matches (cv2.MORPH_HITMISS: cells outside the image match anything). Returns
 * whether any pixel was cleared. */
static gboolean
hit_miss_sweep (guint8      *plane,
                guint8      *hits,
                guint        width,
                guint        height,
                const gint8  patterns[2][9])
{
  gint8 turned[2][9];
  gboolean changed = FALSE;

  memcpy (turned, patterns, sizeof turned);
  for (guint r = 0; r < 4; r++)
    {
      for (guint p = 0; p < 2; p++)
        {
          gboolean any = FALSE;

          for (guint y = 0; y < height; y++)
            for (guint x = 0; x < width; x++)
              {
                gboolean hit = TRUE;

                for (int k = 0; k < 9 && hit; k++)
                  {
                    int sx = (int) x + k % 3 - 1, sy = (int) y + k / 3 - 1;

                    if (turned[p][k] == 0 || sx < 0 || sy < 0 || sx >= (int) width ||
                        sy >= (int) height)
                      continue;
                    hit = (plane[(gsize) sy * width + sx] != 0) == (turned[p][k] > 0);
                  }
                hits[(gsize) y * width + x] = hit;
                any |= hit;
              }
          if (!any)
            continue;
          for (gsize i = 0; i < (gsize) width * height; i++)
            if (hits[i])
              plane[i] = 0;
          changed = TRUE;
        }
      for (guint p = 0; p < 2; p++)
        {
          gint8 next[9];

          rotate_pattern (turned[p], next);
          memcpy (turned[p], next, sizeof next);
        }
    }
  return changed;
}

/* lvmin_thin: up to 32 thinning sweeps, until one clears nothing, then one pruning sweep of
 * spurs when @prune. */
static void
thin_edges (guint8   *plane,
            guint     width,
            guint     height,
            gboolean  prune)
{
  g_autofree guint8 *hits = g_malloc ((gsize) width * height);

  for (guint i = 0; i < 32; i++)
    if (!hit_miss_sweep (plane, hits, width, height, thin_patterns))
      break;
  if (prune)
    hit_miss_sweep (plane, hits, width, height, prune_patterns);
}

guint8 *
lk_control_just_resize (const guint8 *rgb,
                        guint         width,
                        guint         height,
                        gsize         stride,
                        guint         out_width,
                        guint         out_height)
{
  g_autoptr(GHashTable) colours = g_hash_table_new (g_direct_hash, g_direct_equal);
  guint64 in_pixels = (guint64) width * height, out_pixels = (guint64) out_width * out_height;
  gsize n_out = (gsize) out_width * out_height;
  guint8 lo = 255, hi = 0;
  g_autofree guint8 *gray = NULL, *kept = NULL;
  gboolean binary, one_pixel = FALSE;
  guint8 *out;
  guint n_colours;

  g_return_val_if_fail (rgb != NULL && width > 0 && height > 0, NULL);
  g_return_val_if_fail (out_width > 0 && out_height > 0, NULL);

  if (width == out_width && height == out_height)
    {
      out = g_malloc (n_out * 3);
      for (guint y = 0; y < height; y++)
        memcpy (out + (gsize) y * width * 3, rgb + y * stride, (gsize) width * 3);
      return out;
    }

  for (guint y = 0; y < height && g_hash_table_size (colours) < 200; y++)
    for (guint x = 0; x < width; x++)
      {
        const guint8 *p = rgb + y * stride + 3 * x;

        g_hash_table_add (colours, GUINT_TO_POINTER (1u + (p[0] << 16 | p[1] << 8 | p[2])));
      }
  n_colours = g_hash_table_size (colours);
  /* A few flat colours (a segmentation map): nearest neighbour keeps them. */
  if (n_colours > 2 && n_colours < 200)
    return lk_resize_nearest_rgb (rgb, width, height, stride, out_width, out_height);

  /* Fewer pixels: INTER_AREA, even when one axis grows (OpenCV then interpolates its way). */
  if (out_pixels < in_pixels)
    out = lk_resize_area_rgb (rgb, width, height, stride, out_width, out_height);
  else
    out = lk_resize_cubic_rgb (rgb, width, height, stride, out_width, out_height);

  /* Black and white (two colours, one near black and one near white over all channels): an edge
   * or line map, made sharp again after the interpolation blurred it. */
  if (n_colours == 2)
    for (guint y = 0; y < height; y++)
      for (guint x = 0; x < width * 3; x++)
        {
          lo = MIN (lo, rgb[y * stride + x]);
          hi = MAX (hi, rgb[y * stride + x]);
        }
  binary = n_colours == 2 && lo < 16 && hi > 240;
  if (!binary)
    return out;
  one_pixel = is_one_pixel_edge (rgb, width, height, stride);

  gray = g_malloc (n_out);
  for (gsize i = 0; i < n_out; i++)
    gray[i] = (out[3 * i] + out[3 * i + 1] + out[3 * i + 2]) / 3;
  if (one_pixel)
    {
      /* Lines one pixel wide: thin what the interpolation widened back to single pixels. */
      kept = g_malloc (n_out);
      line_nms (gray, kept, out_width, out_height);
      otsu_binarize (kept, n_out);
      thin_edges (kept, out_width, out_height, out_pixels > in_pixels);
      memcpy (gray, kept, n_out);
    }
  else
    otsu_binarize (gray, n_out);
  for (gsize i = 0; i < n_out; i++)
    out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = gray[i];
  return out;
}
