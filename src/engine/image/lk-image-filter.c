/* lk-image-filter.c: morphology, Gaussian blur, bilateral filter, skin retouch
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lk-image-filter.h"

/* cv2.getStructuringElement: each kernel row is one run of ones, [first, end). */
static void
kernel_runs (LkMorphShape shape,
             int          kw,
             int          kh,
             int         *first,
             int         *end)
{
  int r = kh / 2, c = kw / 2;
  double inv_r2 = r ? 1.0 / ((double) r * r) : 0;

  for (int i = 0; i < kh; i++)
    {
      int dy = i - r;

      first[i] = end[i] = 0;
      if (shape == LK_MORPH_RECT || (kw == 1 && kh == 1))
        end[i] = kw;
      else if (ABS (dy) <= r)
        {
          int dx = (int) lrint (c * sqrt ((r * r - dy * dy) * inv_r2));

          first[i] = MAX (c - dx, 0);
          end[i] = MIN (c + dx + 1, kw);
        }
    }
}

/* out[x] = min of row[x + lo … x + hi] over the positions inside [0, width), per channel, in O(1)
 * per pixel (van Herk / Gil–Werman: block-wise prefix and suffix minima). */
static void
sliding_min (const guint8 *row,
             int           width,
             int           cn,
             int           lo,
             int           hi,
             guint8       *ext,
             guint8       *prefix,
             guint8       *suffix,
             guint8       *out)
{
  int len = hi - lo + 1, n = width + len - 1;

  for (int c = 0; c < cn; c++)
    {
      for (int k = 0; k < n; k++)
        {
          int x = k + lo;

          ext[k] = x >= 0 && x < width ? row[x * cn + c] : 255;
        }
      for (int k = 0; k < n; k++)
        prefix[k] = k % len == 0 ? ext[k] : MIN (prefix[k - 1], ext[k]);
      for (int k = n - 1; k >= 0; k--)
        suffix[k] = k == n - 1 || (k + 1) % len == 0 ? ext[k] : MIN (suffix[k + 1], ext[k]);
      for (int x = 0; x < width; x++)
        out[x * cn + c] = MIN (suffix[x], prefix[x + len - 1]);
    }
}

static LkImage *
erode_once (const LkImage *image,
            const int     *first,
            const int     *end,
            int            kw,
            int            kh)
{
  const int w = image->width, h = image->height, cn = image->channels;
  const gsize plane = (gsize) w * h * cn;
  g_autofree int *run_of_row = g_new (int, kh);
  g_autofree int *run_first = g_new (int, kh);
  g_autofree int *run_end = g_new (int, kh);
  g_autofree guint8 *scratch = g_malloc (3 * (gsize) (w + kw));
  g_autofree guint8 *mins = NULL;
  LkImage *out = lk_image_new (w, h, cn);
  int n_runs = 0, ax = kw / 2, ay = kh / 2;

  /* rows of an ellipse share few distinct runs: filter each source row once per run */
  for (int i = 0; i < kh; i++)
    {
      run_of_row[i] = -1;
      if (first[i] >= end[i])
        continue;
      for (int r = 0; r < n_runs; r++)
        if (run_first[r] == first[i] && run_end[r] == end[i])
          run_of_row[i] = r;
      if (run_of_row[i] < 0)
        {
          run_first[n_runs] = first[i];
          run_end[n_runs] = end[i];
          run_of_row[i] = n_runs++;
        }
    }
  mins = g_malloc (plane * MAX (n_runs, 1));
  for (int r = 0; r < n_runs; r++)
    for (int y = 0; y < h; y++)
      sliding_min (image->data + y * image->stride, w, cn, run_first[r] - ax, run_end[r] - 1 - ax,
                   scratch, scratch + w + kw, scratch + 2 * (w + kw),
                   mins + r * plane + (gsize) y * w * cn);
  for (int y = 0; y < h; y++)
    {
      guint8 *d = out->data + y * out->stride;

      memset (d, 255, (gsize) w * cn);
      for (int i = 0; i < kh; i++)
        {
          int sy = y + i - ay;
          const guint8 *m;

          if (run_of_row[i] < 0 || sy < 0 || sy >= h)
            continue;
          m = mins + run_of_row[i] * plane + (gsize) sy * w * cn;
          for (int x = 0; x < w * cn; x++)
            d[x] = MIN (d[x], m[x]);
        }
    }
  return out;
}

static LkImage *
morphology (const LkImage *image,
            LkMorphShape   shape,
            guint          kernel_width,
            guint          kernel_height,
            guint          iterations,
            gboolean       dilate)
{
  g_autofree int *first = g_new (int, kernel_height);
  g_autofree int *end = g_new (int, kernel_height);
  g_autoptr(LkImage) current = lk_image_copy (image);

  kernel_runs (shape, kernel_width, kernel_height, first, end);
  /* dilation is erosion of the negative with the same kernel and anchor; outside pixels are
   * ignored either way */
  if (dilate)
    for (guint y = 0; y < current->height; y++)
      for (gsize x = 0; x < current->stride; x++)
        current->data[y * current->stride + x] ^= 255;
  for (guint i = 0; i < iterations; i++)
    {
      LkImage *next = erode_once (current, first, end, kernel_width, kernel_height);

      lk_image_free (current);
      current = next;
    }
  if (dilate)
    for (guint y = 0; y < current->height; y++)
      for (gsize x = 0; x < current->stride; x++)
        current->data[y * current->stride + x] ^= 255;
  return g_steal_pointer (&current);
}

LkImage *
lk_image_erode (const LkImage *image,
                LkMorphShape   shape,
                guint          kernel_width,
                guint          kernel_height,
                guint          iterations)
{
  g_return_val_if_fail (image != NULL && kernel_width > 0 && kernel_height > 0, NULL);
  return morphology (image, shape, kernel_width, kernel_height, iterations, FALSE);
}

LkImage *
lk_image_dilate (const LkImage *image,
                 LkMorphShape   shape,
                 guint          kernel_width,
                 guint          kernel_height,
                 guint          iterations)
{
  g_return_val_if_fail (image != NULL && kernel_width > 0 && kernel_height > 0, NULL);
  return morphology (image, shape, kernel_width, kernel_height, iterations, TRUE);
}

/* OpenCV's 8-bit Gaussian kernel: the normalised Gaussian turned into integers with 8
 * fractional bits by error diffusion from the tails inwards, the centre taking what is left so
 * the sum is exactly 256. */
static void
gaussian_kernel_fixed (int     n,
                       double  sigma,
                       int    *k)
{
  static const int small[4][7] = {
    { 256 }, { 64, 128, 64 }, { 16, 64, 96, 64, 16 }, { 8, 28, 56, 72, 56, 28, 8 },
  };
  g_autofree double *values = g_new (double, n);
  double sum = 0, err = 0;
  int half = n / 2, total = 0;

  if (sigma <= 0 && n <= 7)
    {
      memcpy (k, small[n / 2], sizeof (int) * n);
      return;
    }
  if (sigma <= 0)
    sigma = ((n - 1) * 0.5 - 1) * 0.3 + 0.8;
  for (int i = 0; i < n; i++)
    {
      double x = i - (n - 1) * 0.5;

      values[i] = exp (-x * x / (2 * sigma * sigma));
      sum += values[i];
    }
  for (int i = 0; i < half; i++)
    {
      double v = values[i] / sum * 256 + err;
      int q = (int) lrint (v);

      err = v - q;
      k[i] = k[n - 1 - i] = q;
      total += 2 * q;
    }
  k[half] = 256 - total;
}

/* reflect-101: … 2 1 | 0 1 2 … n−1 | n−2 … */
static inline int
reflect101 (int i,
            int n)
{
  if (n == 1)
    return 0;
  while (i < 0 || i >= n)
    i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

LkImage *
lk_image_gaussian_blur (const LkImage *image,
                        guint          kernel_width,
                        guint          kernel_height,
                        double         sigma_x,
                        double         sigma_y)
{
  const int w = image->width, h = image->height, cn = image->channels;
  g_autofree int *kx = NULL;
  g_autofree int *ky = NULL;
  g_autofree int *xofs = NULL;
  g_autofree guint16 *rows = NULL;
  LkImage *out;
  int kw, kh;

  g_return_val_if_fail (image != NULL, NULL);

  if (sigma_y <= 0)
    sigma_y = sigma_x;
  /* cv2 derives a missing size from sigma as round(sigma · 3 · 2 + 1) | 1 for uint8 */
  kw = kernel_width > 0 ? (int) kernel_width : ((int) lrint (sigma_x * 3 * 2 + 1) | 1);
  kh = kernel_height > 0 ? (int) kernel_height : ((int) lrint (sigma_y * 3 * 2 + 1) | 1);
  g_return_val_if_fail (kw % 2 == 1 && kh % 2 == 1, NULL);
  sigma_x = MAX (sigma_x, 0.0);
  sigma_y = MAX (sigma_y, 0.0);

  kx = g_new (int, kw);
  ky = g_new (int, kh);
  gaussian_kernel_fixed (kw, sigma_x, kx);
  gaussian_kernel_fixed (kh, sigma_y, ky);
  xofs = g_new (int, (gsize) w * kw);
  for (int x = 0; x < w; x++)
    for (int i = 0; i < kw; i++)
      xofs[x * kw + i] = reflect101 (x + i - kw / 2, w) * cn;

  /* horizontal pass: exact 8.8 fixed-point sums, which fit in 16 bits */
  rows = g_new (guint16, (gsize) w * h * cn);
  for (int y = 0; y < h; y++)
    {
      const guint8 *s = image->data + (gsize) y * image->stride;
      guint16 *r = rows + (gsize) y * w * cn;

      for (int x = 0; x < w; x++)
        for (int c = 0; c < cn; c++)
          {
            int sum = 0;

            for (int i = 0; i < kw; i++)
              sum += s[xofs[x * kw + i] + c] * kx[i];
            r[x * cn + c] = (guint16) sum;
          }
    }
  /* vertical pass: 16 fractional bits, rounded once */
  out = lk_image_new (w, h, cn);
  {
    g_autofree guint32 *acc = g_new (guint32, (gsize) w * cn);

    for (int y = 0; y < h; y++)
      {
        guint8 *d = out->data + (gsize) y * out->stride;

        memset (acc, 0, sizeof (guint32) * w * cn);
        for (int i = 0; i < kh; i++)
          {
            const guint16 *r = rows + (gsize) reflect101 (y + i - kh / 2, h) * w * cn;

            for (int x = 0; x < w * cn; x++)
              acc[x] += (guint32) r[x] * ky[i];
          }
        for (int x = 0; x < w * cn; x++)
          d[x] = (guint8) MIN ((acc[x] + (1u << 15)) >> 16, 255u);
      }
  }
  return out;
}

LkImage *
lk_image_bilateral_filter (const LkImage *image,
                           int            diameter,
                           double         sigma_color,
                           double         sigma_space)
{
  const int w = image->width, h = image->height, cn = image->channels;
  g_autofree float *color_weight = NULL;
  g_autofree float *space_weight = NULL;
  g_autofree int *space_dx = NULL;
  g_autofree int *space_dy = NULL;
  double color_coeff, space_coeff;
  int radius, n_taps = 0;
  LkImage *out;

  g_return_val_if_fail (image != NULL && (cn == 1 || cn == 3), NULL);

  if (sigma_color <= 0)
    sigma_color = 1;
  if (sigma_space <= 0)
    sigma_space = 1;
  color_coeff = -0.5 / (sigma_color * sigma_color);
  space_coeff = -0.5 / (sigma_space * sigma_space);
  radius = diameter <= 0 ? (int) lrint (sigma_space * 1.5) : diameter / 2;
  radius = MAX (radius, 1);

  color_weight = g_new (float, 256 * cn);
  for (int i = 0; i < 256 * cn; i++)
    color_weight[i] = (float) exp (i * i * color_coeff);
  space_weight = g_new (float, (2 * radius + 1) * (2 * radius + 1));
  space_dx = g_new (int, (2 * radius + 1) * (2 * radius + 1));
  space_dy = g_new (int, (2 * radius + 1) * (2 * radius + 1));
  for (int i = -radius; i <= radius; i++)
    for (int j = -radius; j <= radius; j++)
      {
        double r = sqrt ((double) i * i + (double) j * j);

        if (r > radius)
          continue;
        space_weight[n_taps] = (float) exp (r * r * space_coeff);
        space_dy[n_taps] = i;
        space_dx[n_taps++] = j;
      }

  out = lk_image_new (w, h, cn);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const guint8 *p0 = lk_image_pixel (image, x, y);
        float sum[3] = { 0 }, wsum = 0;
        guint8 *d = lk_image_pixel (out, x, y);

        for (int k = 0; k < n_taps; k++)
          {
            const guint8 *p = lk_image_pixel (image, reflect101 (x + space_dx[k], w),
                                              reflect101 (y + space_dy[k], h));
            int diff = 0;
            float wk;

            for (int c = 0; c < cn; c++)
              diff += ABS (p[c] - p0[c]);
            wk = space_weight[k] * color_weight[diff];
            for (int c = 0; c < cn; c++)
              sum[c] += p[c] * wk;
            wsum += wk;
          }
        for (int c = 0; c < cn; c++)
          d[c] = (guint8) CLAMP (lrintf (sum[c] / wsum), 0, 255);
      }
  return out;
}

LkImage *
lk_image_skin_retouch (const LkImage  *image,
                       const LkImage  *skin_mask,
                       double          strength,
                       GError        **error)
{
  g_autoptr(LkImage) rgb = NULL;
  g_autoptr(LkImage) smooth = NULL;
  guint side;
  int radius, weight_scale;
  LkImage *out;

  g_return_val_if_fail (image != NULL && image->channels >= 3, NULL);

  if (skin_mask == NULL || skin_mask->channels != 1 || skin_mask->width != image->width ||
      skin_mask->height != image->height)
    {
      g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED,
                   "skin retouch needs a one-channel %u × %u skin mask", image->width,
                   image->height);
      return NULL;
    }
  strength = CLAMP (strength, 0.0, 1.0);
  side = MIN (image->width, image->height);
  /* 4 pixels of radius on a 512-pixel face, as wide relative to the face on other sizes */
  radius = MAX (2, (int) lrint (side * 4.0 / 512.0));
  rgb = lk_image_convert (image, 3);
  smooth = lk_image_bilateral_filter (rgb, 2 * radius + 1, 30.0, radius);
  weight_scale = (int) lrint (strength * 256);

  out = lk_image_copy (image);
  for (guint y = 0; y < out->height; y++)
    {
      const guint8 *m = skin_mask->data + y * skin_mask->stride;
      const guint8 *s = smooth->data + y * smooth->stride;
      guint8 *d = out->data + y * out->stride;

      for (guint x = 0; x < out->width; x++, d += out->channels, s += 3)
        {
          int wgt = m[x] * weight_scale;   /* out of 255 · 256 */

          for (int c = 0; c < 3; c++)
            d[c] = (guint8) ((s[c] * wgt + d[c] * (255 * 256 - wgt) + 255 * 128) / (255 * 256));
        }
    }
  return out;
}
