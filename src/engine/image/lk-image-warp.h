/* lk-image-warp.h: similarity transforms, affine warps, crops and resizes, as OpenCV does them
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-image.h"

G_BEGIN_DECLS

/* A 2×3 affine matrix mapping (x, y) to (m[0] x + m[1] y + m[2], m[3] x + m[4] y + m[5]), the
 * layout of cv2's 2×3 matrices. */
typedef struct {
  double m[6];
} LkAffine;

typedef struct {
  double x, y;
} LkPoint;

/* An integer rectangle: x, y of the top-left pixel, width and height. */
typedef struct {
  int x, y, width, height;
} LkRect;

typedef enum {
  LK_BORDER_CONSTANT,    /* outside pixels are @border_value */
  LK_BORDER_REPLICATE,   /* outside pixels repeat the nearest edge pixel */
} LkBorderMode;

typedef enum {
  LK_INTERP_NEAREST,
  LK_INTERP_LINEAR,
  LK_INTERP_CUBIC,
  LK_INTERP_AREA,
} LkInterpolation;

/* The similarity (rotation, uniform scale, translation) that maps @src onto @dst with the least
 * sum of squared distances over all @n pairs: the closed-form least-squares fit (Umeyama's
 * without the reflection case, which a similarity cannot express), i.e. what
 * cv2.estimateAffinePartial2D converges to when every point is an inlier. Fails (LK_IMAGE_ERROR)
 * for fewer than 2 pairs or when all @src points coincide. */
gboolean  lk_affine_estimate_similarity (const LkPoint  *src,
                                         const LkPoint  *dst,
                                         guint           n,
                                         LkAffine       *out,
                                         GError        **error);
/* FALSE (and @out untouched) when @affine is singular. */
gboolean  lk_affine_invert              (const LkAffine *affine,
                                         LkAffine       *out);
LkPoint   lk_affine_apply               (const LkAffine *affine,
                                         LkPoint         point);

/* cv2.warpAffine (src, M, (width, height), flags=INTER_LINEAR, borderMode, borderValue): each
 * output pixel samples @src at M⁻¹ (x, y) with OpenCV's fixed-point bilinear weights (5-bit
 * fractions, 15-bit coefficients). @border_value is used for every channel. NULL when @affine is
 * singular. */
LkImage  *lk_image_warp_affine          (const LkImage  *src,
                                         const LkAffine *affine,
                                         guint           width,
                                         guint           height,
                                         LkBorderMode    border,
                                         guint8          border_value);

/* The box (x0, y0)–(x1, y1) grown by @ratio about its centre, as the integer rectangle of whole
 * pixels it covers, clipped to a width × height image (EasyPhoto crops faces at 3×). Empty
 * (width or height 0) when the box lies outside the image. */
LkRect    lk_rect_expand_box            (double          x0,
                                         double          y0,
                                         double          x1,
                                         double          y1,
                                         double          ratio,
                                         guint           width,
                                         guint           height);
/* A copy of @rect of @image; NULL when @rect is empty or not inside the image. */
LkImage  *lk_image_crop                 (const LkImage  *image,
                                         const LkRect   *rect);
/* cv2.resize with the given interpolation. LINEAR: OpenCV's fixed-point (11-bit) bilinear with its
 * vector pass's rounding, exact on the shapes tested; CUBIC, NEAREST, AREA: lk-control-image's
 * OpenCV-exact resizes (AREA when shrinking; an enlargement with AREA is done as LINEAR, close to
 * but not exactly cv2's variant). */
LkImage  *lk_image_resize               (const LkImage  *image,
                                         guint           width,
                                         guint           height,
                                         LkInterpolation interpolation);

G_END_DECLS
