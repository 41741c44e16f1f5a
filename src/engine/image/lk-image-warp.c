/* lk-image-warp.c: similarity fit, affine warp, crop and resize
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lk-control-image.h"
#include "lk-image-warp.h"

/* OpenCV's warp arithmetic: source positions in 1/32 pixel (INTER_BITS 5), computed from
 * coordinates scaled by 2^10 (AB_BITS), bilinear coefficients scaled by 2^15. */
#define INTER_BITS      5
#define INTER_TAB_SIZE  (1 << INTER_BITS)
#define AB_BITS         10
#define AB_SCALE        (1 << AB_BITS)
#define REMAP_BITS      15

gboolean
lk_affine_estimate_similarity (const LkPoint  *src,
                               const LkPoint  *dst,
                               guint           n,
                               LkAffine       *out,
                               GError        **error)
{
  double sx = 0, sy = 0, dx = 0, dy = 0, norm = 0, dot = 0, cross = 0, a, b;

  g_return_val_if_fail (src != NULL && dst != NULL && out != NULL, FALSE);

  if (n < 2)
    {
      g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED,
                   "a similarity transform needs at least 2 point pairs, got %u", n);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      sx += src[i].x;
      sy += src[i].y;
      dx += dst[i].x;
      dy += dst[i].y;
    }
  sx /= n;
  sy /= n;
  dx /= n;
  dy /= n;
  /* With [a −b; b a] the fit is linear in (a, b, tx, ty); centring both sets removes t. */
  for (guint i = 0; i < n; i++)
    {
      double px = src[i].x - sx, py = src[i].y - sy;
      double qx = dst[i].x - dx, qy = dst[i].y - dy;

      norm += px * px + py * py;
      dot += px * qx + py * qy;
      cross += px * qy - py * qx;
    }
  if (!(norm > 1e-12))
    {
      g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED,
                   "the %u source points of a similarity transform all coincide", n);
      return FALSE;
    }
  a = dot / norm;
  b = cross / norm;
  out->m[0] = a;
  out->m[1] = -b;
  out->m[2] = dx - (a * sx - b * sy);
  out->m[3] = b;
  out->m[4] = a;
  out->m[5] = dy - (b * sx + a * sy);
  return TRUE;
}

gboolean
lk_affine_invert (const LkAffine *affine,
                  LkAffine       *out)
{
  const double *m = affine->m;
  double det = m[0] * m[4] - m[1] * m[3];
  double d, a11, a12, a21, a22;

  if (det == 0 || !isfinite (det))
    return FALSE;
  /* the same operation order as cv::invertAffineTransform / warpAffine, so that the fixed-point
   * source positions round the same way */
  d = 1. / det;
  a11 = m[4] * d;
  a22 = m[0] * d;
  a12 = m[1] * -d;
  a21 = m[3] * -d;
  out->m[0] = a11;
  out->m[1] = a12;
  out->m[3] = a21;
  out->m[4] = a22;
  out->m[2] = -a11 * m[2] - a12 * m[5];
  out->m[5] = -a21 * m[2] - a22 * m[5];
  return TRUE;
}

LkPoint
lk_affine_apply (const LkAffine *affine,
                 LkPoint         point)
{
  const double *m = affine->m;

  return (LkPoint) { m[0] * point.x + m[1] * point.y + m[2],
                     m[3] * point.x + m[4] * point.y + m[5] };
}

/* cvRound of a double into an int, saturated as cv::saturate_cast<int> does. */
static inline int
round_saturate (double v)
{
  if (v >= G_MAXINT)
    return G_MAXINT;
  if (v <= G_MININT)
    return G_MININT;
  return (int) lrint (v);
}

static inline int
clampi (int v,
        int lo,
        int hi)
{
  return v < lo ? lo : v > hi ? hi : v;
}

LkImage *
lk_image_warp_affine (const LkImage  *src,
                      const LkAffine *affine,
                      guint           width,
                      guint           height,
                      LkBorderMode    border,
                      guint8          border_value)
{
  g_autofree int *adelta = NULL;
  g_autofree int *bdelta = NULL;
  const int round_delta = AB_SCALE / INTER_TAB_SIZE / 2;
  const int sw = src->width, sh = src->height;
  const guint cn = src->channels;
  LkAffine inv;
  LkImage *out;
  int weights[INTER_TAB_SIZE * INTER_TAB_SIZE][4];

  g_return_val_if_fail (src != NULL && affine != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);

  if (!lk_affine_invert (affine, &inv))
    return NULL;
  for (int fy = 0; fy < INTER_TAB_SIZE; fy++)
    for (int fx = 0; fx < INTER_TAB_SIZE; fx++)
      {
        int *w = weights[fy * INTER_TAB_SIZE + fx];
        /* (1 − f) and f in 1/32 steps multiplied out exactly: 2^15 = 32 · 32 · 32 */
        w[0] = (INTER_TAB_SIZE - fx) * (INTER_TAB_SIZE - fy) * 32;
        w[1] = fx * (INTER_TAB_SIZE - fy) * 32;
        w[2] = (INTER_TAB_SIZE - fx) * fy * 32;
        w[3] = fx * fy * 32;
      }

  out = lk_image_new (width, height, cn);
  adelta = g_new (int, width);
  bdelta = g_new (int, width);
  for (guint x = 0; x < width; x++)
    {
      adelta[x] = round_saturate (inv.m[0] * x * AB_SCALE);
      bdelta[x] = round_saturate (inv.m[3] * x * AB_SCALE);
    }
  for (guint y = 0; y < height; y++)
    {
      int x0 = round_saturate ((inv.m[1] * y + inv.m[2]) * AB_SCALE) + round_delta;
      int y0 = round_saturate ((inv.m[4] * y + inv.m[5]) * AB_SCALE) + round_delta;
      guint8 *d = out->data + y * out->stride;

      for (guint x = 0; x < width; x++, d += cn)
        {
          int px = (x0 + adelta[x]) >> (AB_BITS - INTER_BITS);
          int py = (y0 + bdelta[x]) >> (AB_BITS - INTER_BITS);
          int sx = px >> INTER_BITS, sy = py >> INTER_BITS;
          const int *w = weights[(py & (INTER_TAB_SIZE - 1)) * INTER_TAB_SIZE +
                                 (px & (INTER_TAB_SIZE - 1))];
          const guint8 *p[4];
          gboolean inside[4];

          if (border == LK_BORDER_CONSTANT &&
              (sx >= sw || sx + 1 < 0 || sy >= sh || sy + 1 < 0))
            {
              memset (d, border_value, cn);
              continue;
            }
          for (int k = 0; k < 4; k++)
            {
              int xx = sx + (k & 1), yy = sy + (k >> 1);

              inside[k] = xx >= 0 && yy >= 0 && xx < sw && yy < sh;
              if (border == LK_BORDER_REPLICATE)
                {
                  xx = clampi (xx, 0, sw - 1);
                  yy = clampi (yy, 0, sh - 1);
                  inside[k] = TRUE;
                }
              p[k] = inside[k] ? src->data + (gsize) yy * src->stride + (gsize) xx * cn : NULL;
            }
          for (guint c = 0; c < cn; c++)
            {
              int sum = 1 << (REMAP_BITS - 1);

              for (int k = 0; k < 4; k++)
                sum += (inside[k] ? p[k][c] : border_value) * w[k];
              d[c] = (guint8) clampi (sum >> REMAP_BITS, 0, 255);
            }
        }
    }
  return out;
}

LkRect
lk_rect_expand_box (double x0,
                    double y0,
                    double x1,
                    double y1,
                    double ratio,
                    guint  width,
                    guint  height)
{
  double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  double hw = fabs (x1 - x0) * ratio / 2, hh = fabs (y1 - y0) * ratio / 2;
  int left = (int) floor (cx - hw), top = (int) floor (cy - hh);
  int right = (int) ceil (cx + hw), bottom = (int) ceil (cy + hh);

  left = CLAMP (left, 0, (int) width);
  right = CLAMP (right, 0, (int) width);
  top = CLAMP (top, 0, (int) height);
  bottom = CLAMP (bottom, 0, (int) height);
  return (LkRect) { left, top, MAX (right - left, 0), MAX (bottom - top, 0) };
}

LkImage *
lk_image_crop (const LkImage *image,
               const LkRect  *rect)
{
  LkImage *out;

  g_return_val_if_fail (image != NULL && rect != NULL, NULL);

  if (rect->width <= 0 || rect->height <= 0 || rect->x < 0 || rect->y < 0 ||
      rect->x + rect->width > (int) image->width || rect->y + rect->height > (int) image->height)
    return NULL;
  out = lk_image_new (rect->width, rect->height, image->channels);
  for (int y = 0; y < rect->height; y++)
    memcpy (out->data + y * out->stride, lk_image_pixel (image, rect->x, rect->y + y),
            out->stride);
  return out;
}

/* cv2's INTER_LINEAR taps for one axis: first source index and 11-bit weights. OpenCV clamps
 * the position at the edges for columns only; for rows it keeps the weights and clamps the row
 * indices (@clamp FALSE), which differs where both rows are the same edge row. */
static void
linear_taps (guint     in,
             guint     out,
             gboolean  clamp,
             int      *first,
             int      *weights)
{
  double scale = 1.0 / ((double) out / in);

  for (guint d = 0; d < out; d++)
    {
      float f = (float) ((d + 0.5) * scale - 0.5);
      int s = (int) floorf (f);

      f -= s;
      if (clamp && s < 0)
        {
          s = 0;
          f = 0;
        }
      if (clamp && s >= (int) in - 1)
        {
          s = in - 1;
          f = 0;
        }
      first[d] = s;
      weights[2 * d] = (int) lrintf ((1.f - f) * 2048);
      weights[2 * d + 1] = (int) lrintf (f * 2048);
    }
}

static LkImage *
resize_linear (const LkImage *image,
               guint          width,
               guint          height)
{
  const guint cn = image->channels;
  g_autofree int *xs = g_new (int, width);
  g_autofree int *ys = g_new (int, height);
  g_autofree int *wx = g_new (int, 2 * width);
  g_autofree int *wy = g_new (int, 2 * height);
  g_autofree int *rows = g_new (int, 2 * (gsize) width * cn);
  LkImage *out = lk_image_new (width, height, cn);
  const gsize row_length = (gsize) width * cn;
  int cached[2] = { -1, -1 };

  linear_taps (image->width, width, TRUE, xs, wx);
  linear_taps (image->height, height, FALSE, ys, wy);
  for (guint y = 0; y < height; y++)
    {
      guint8 *d = out->data + y * out->stride;

      for (int k = 0; k < 2; k++)
        {
          int sy = CLAMP (ys[y] + k, 0, (int) image->height - 1);
          int *row = rows + k * (gsize) width * cn;
          const guint8 *s = image->data + (gsize) sy * image->stride;

          if (cached[k] == sy)
            continue;
          if (k == 0 && cached[1] == sy)
            {
              /* the row the previous output row used second is this one's first */
              memcpy (row, rows + (gsize) width * cn, sizeof (int) * width * cn);
              cached[0] = sy;
              cached[1] = -1;
              continue;
            }
          for (guint x = 0; x < width; x++)
            {
              int sx0 = xs[x], sx1 = MIN (xs[x] + 1, (int) image->width - 1);

              for (guint c = 0; c < cn; c++)
                row[x * cn + c] = s[sx0 * cn + c] * wx[2 * x] + s[sx1 * cn + c] * wx[2 * x + 1];
            }
          cached[k] = sy;
        }
      for (gsize i = 0; i < row_length; i++)
        {
          const int *r0 = rows, *r1 = rows + row_length;
          int b0 = wy[2 * y], b1 = wy[2 * y + 1];

          /* OpenCV's vector pass (which, measured, covers whole rows, tails included): the
           * high 16 bits of each weight times the sum shifted right by 4, then the pair
           * rounded by 2 bits; not the exact sum rounded once */
          d[i] = (guint8) CLAMP ((((r0[i] >> 4) * b0 >> 16) + ((r1[i] >> 4) * b1 >> 16) + 2) >> 2,
                                 0, 255);
        }
    }
  return out;
}

typedef guint8 *(*RgbResize) (const guint8 *rgb, guint width, guint height, gsize stride,
                              guint out_width, guint out_height);

/* Runs an RGB-only resize on an image of any channel count, three channels at a time (gray is
 * replicated; alpha goes through as its own gray image). */
static LkImage *
resize_through_rgb (const LkImage *image,
                    guint          width,
                    guint          height,
                    RgbResize      resize)
{
  g_autoptr(LkImage) rgb = lk_image_convert (image, 3);
  g_autofree guint8 *resized = resize (rgb->data, rgb->width, rgb->height, rgb->stride, width,
                                       height);
  LkImage *out = lk_image_new (width, height, image->channels);

  for (gsize i = 0; i < (gsize) width * height; i++)
    {
      if (image->channels == 1)
        out->data[i] = resized[3 * i];
      else
        memcpy (out->data + i * image->channels, resized + 3 * i, 3);
    }
  if (image->channels == 4)
    {
      g_autoptr(LkImage) alpha = lk_image_new (image->width, image->height, 1);
      g_autoptr(LkImage) alpha_out = NULL;

      for (guint y = 0; y < image->height; y++)
        for (guint x = 0; x < image->width; x++)
          alpha->data[y * alpha->stride + x] = lk_image_pixel (image, x, y)[3];
      alpha_out = resize_through_rgb (alpha, width, height, resize);
      for (gsize i = 0; i < (gsize) width * height; i++)
        out->data[4 * i + 3] = alpha_out->data[i];
    }
  return out;
}

LkImage *
lk_image_resize (const LkImage   *image,
                 guint            width,
                 guint            height,
                 LkInterpolation  interpolation)
{
  g_return_val_if_fail (image != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);

  switch (interpolation)
    {
    case LK_INTERP_LINEAR:
      return resize_linear (image, width, height);
    case LK_INTERP_CUBIC:
      return resize_through_rgb (image, width, height, lk_resize_cubic_rgb);
    case LK_INTERP_AREA:
      if (width > image->width || height > image->height)
        return resize_linear (image, width, height);
      return resize_through_rgb (image, width, height, lk_resize_area_rgb);
    case LK_INTERP_NEAREST:
    default:
      return resize_through_rgb (image, width, height, lk_resize_nearest_rgb);
    }
}
