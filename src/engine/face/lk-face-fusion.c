/* lk-face-fusion.c: warp, colour-match and region-weighted blend of a reference face
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-face-fusion.h"
#include "lk-image-color.h"
#include "lk-image-filter.h"

/* How far colour matching may stretch or shrink a LAB channel's spread (see
 * lk_image_color_transfer_limited()). */
#define COLOR_MAX_SCALE 1.5

void
lk_face_fusion_params_init (LkFaceFusionParams *params)
{
  g_return_if_fail (params != NULL);

  *params = (LkFaceFusionParams) {
    .ratio = 0.6,
    .eyes_ratio = 1.0,
    .lips_ratio = 0.0,
    .feather = 0,
    .color_match = TRUE,
  };
}

static gboolean
check_region (const LkImage  *mask,
              const char     *name,
              guint           width,
              guint           height,
              GError        **error)
{
  if (mask == NULL || (mask->channels == 1 && mask->width == width && mask->height == height))
    return TRUE;
  g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED,
               "face fusion: the %s mask is %u × %u × %u; a one-channel %u × %u mask is needed",
               name, mask->width, mask->height, mask->channels, width, height);
  return FALSE;
}

static gboolean
check_regions (const LkFaceRegions  *regions,
               guint                 width,
               guint                 height,
               GError              **error)
{
  if (regions == NULL || regions->oval == NULL)
    {
      g_set_error_literal (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_EMPTY,
                           "face fusion needs at least the target's face-oval mask");
      return FALSE;
    }
  return check_region (regions->oval, "face oval", width, height, error) &&
         check_region (regions->skin, "skin", width, height, error) &&
         check_region (regions->eyes, "eyes", width, height, error) &&
         check_region (regions->brows, "brows", width, height, error) &&
         check_region (regions->nose, "nose", width, height, error) &&
         check_region (regions->lips, "lips", width, height, error);
}

static inline double
mask_at (const LkImage *mask,
         guint          x,
         guint          y)
{
  return mask ? mask->data[(gsize) y * mask->stride + x] / 255.0 : 0.0;
}

/* The oval's bounding-box width, or 0 when the oval is empty. */
static guint
oval_width (const LkImage *oval)
{
  guint left = oval->width, right = 0;

  for (guint y = 0; y < oval->height; y++)
    for (guint x = 0; x < oval->width; x++)
      if (oval->data[(gsize) y * oval->stride + x])
        {
          left = MIN (left, x);
          right = MAX (right, x + 1);
        }
  return right > left ? right - left : 0;
}

LkImage *
lk_face_fusion_weights (const LkFaceRegions       *regions,
                        const LkFaceFusionParams  *params,
                        GError                   **error)
{
  g_autoptr(LkImage) inner = NULL;
  g_autoptr(LkImage) weights = NULL;
  LkFaceFusionParams defaults;
  guint width, height, radius, face_width;

  if (params == NULL)
    {
      lk_face_fusion_params_init (&defaults);
      params = &defaults;
    }
  if (regions == NULL || regions->oval == NULL)
    {
      check_regions (regions, 0, 0, error);   /* says what is missing */
      return NULL;
    }
  width = regions->oval->width;
  height = regions->oval->height;
  if (!check_regions (regions, width, height, error))
    return NULL;
  face_width = oval_width (regions->oval);
  if (face_width == 0)
    {
      g_set_error_literal (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_EMPTY,
                           "face fusion: the face-oval mask is empty");
      return NULL;
    }
  radius = params->feather > 0 ? params->feather : MAX (1u, face_width / 24);

  /* Shrinking the oval by a square of the feather radius keeps the blurred weights (whose
   * kernel reaches exactly that far) at 0 outside the oval, so no seam shows there. */
  inner = lk_image_erode (regions->oval, LK_MORPH_RECT, 2 * radius + 1, 2 * radius + 1, 1);
  weights = lk_image_new (width, height, 1);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        double skin = MAX (mask_at (regions->skin, x, y),
                           MAX (mask_at (regions->brows, x, y), mask_at (regions->nose, x, y)));
        double eyes = mask_at (regions->eyes, x, y);
        double lips = mask_at (regions->lips, x, y);
        double w = skin * params->ratio;

        /* eyes and lips override whatever skin lies under them */
        w = w * (1 - eyes) + eyes * params->eyes_ratio;
        w = w * (1 - lips) + lips * params->lips_ratio;
        w *= mask_at (inner, x, y);
        weights->data[(gsize) y * weights->stride + x] = (guint8) lrint (CLAMP (w, 0.0, 1.0) * 255);
      }
  return lk_image_gaussian_blur (weights, 2 * radius + 1, 2 * radius + 1, 0, 0);
}

LkImage *
lk_face_fuse (const LkImage             *reference,
              const LkPoint             *reference_points,
              const LkImage             *target,
              const LkPoint             *target_points,
              guint                      n_points,
              const LkFaceRegions       *regions,
              const LkFaceFusionParams  *params,
              GError                   **error)
{
  g_autoptr(LkImage) reference_rgb = NULL;
  g_autoptr(LkImage) target_rgb = NULL;
  g_autoptr(LkImage) warped = NULL;
  g_autoptr(LkImage) matched = NULL;
  g_autoptr(LkImage) weights = NULL;
  LkFaceFusionParams defaults;
  const LkImage *face;
  LkAffine transform;
  LkImage *out;

  g_return_val_if_fail (reference != NULL && target != NULL, NULL);
  g_return_val_if_fail (reference_points != NULL && target_points != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (params == NULL)
    {
      lk_face_fusion_params_init (&defaults);
      params = &defaults;
    }
  if (reference->channels < 3 || target->channels < 3)
    {
      g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED,
                   "face fusion needs colour images; got %u and %u channels",
                   reference->channels, target->channels);
      return NULL;
    }
  if (!check_regions (regions, target->width, target->height, error))
    return NULL;
  if (!lk_affine_estimate_similarity (reference_points, target_points, n_points, &transform,
                                      error))
    {
      g_prefix_error (error, "face fusion: ");
      return NULL;
    }

  reference_rgb = lk_image_convert (reference, 3);
  target_rgb = lk_image_convert (target, 3);
  /* replicate: pixels beyond the reference's edge get its edge colours rather than black, should
   * the face reach the border */
  warped = lk_image_warp_affine (reference_rgb, &transform, target->width, target->height,
                                 LK_BORDER_REPLICATE, 0);
  if (warped == NULL)
    {
      g_set_error_literal (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED,
                           "face fusion: the reference landmarks collapse to a point");
      return NULL;
    }
  face = warped;
  if (params->color_match)
    {
      /* both images are in the target's frame now, so one mask selects the skin in each */
      const LkImage *skin = regions->skin ? regions->skin : regions->oval;

      matched = lk_image_color_transfer_limited (warped, target_rgb, skin, skin, NULL,
                                                 COLOR_MAX_SCALE, error);
      if (matched == NULL)
        {
          g_prefix_error (error, "face fusion: ");
          return NULL;
        }
      face = matched;
    }
  weights = lk_face_fusion_weights (regions, params, error);
  if (weights == NULL)
    return NULL;

  out = lk_image_copy (target);
  for (guint y = 0; y < out->height; y++)
    {
      const guint8 *f = face->data + y * face->stride;
      const guint8 *a = weights->data + y * weights->stride;
      guint8 *d = out->data + y * out->stride;

      for (guint x = 0; x < out->width; x++, d += out->channels, f += 3)
        if (a[x] != 0)
          for (int c = 0; c < 3; c++)
            d[c] = (guint8) ((f[c] * a[x] + d[c] * (255 - a[x]) + 127) / 255);
    }
  return out;
}
