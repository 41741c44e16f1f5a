/* lk-face-fusion.h: EasyPhoto's face fusion: a reference face warped onto a target face,
 * colour-matched to its skin and blended region by region
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-image.h"
#include "lk-image-warp.h"

G_BEGIN_DECLS

/* The target's face regions, one-channel masks of the target's size (0 outside, 255 inside;
 * soft values count in proportion). Any may be NULL except @oval. */
typedef struct {
  const LkImage *skin;
  const LkImage *eyes;
  const LkImage *brows;
  const LkImage *nose;
  const LkImage *lips;
  const LkImage *oval;   /* the whole face; nothing outside it changes */
} LkFaceRegions;

typedef struct {
  double   ratio;        /* weight of the reference on skin, brows and nose (EasyPhoto 0.6) */
  double   eyes_ratio;   /* weight on the eyes (1.0: the reference's eyes) */
  double   lips_ratio;   /* weight on the lips (0: the target's mouth) */
  guint    feather;      /* blur radius of the weight map in pixels; 0: face width / 24 */
  gboolean color_match;  /* move the warped reference's LAB statistics to the target skin's */
} LkFaceFusionParams;

/* EasyPhoto's settings: ratio 0.6, eyes 1.0, lips 0, automatic feather, colour matching on. */
void      lk_face_fusion_params_init (LkFaceFusionParams  *params);

/* The per-pixel weight of the reference (0…255, the target's size): the region ratios (eyes
 * and lips override skin, brows and nose), kept inside the face oval shrunk by the feather
 * radius, then feathered — so it is 0 everywhere outside the oval. */
LkImage  *lk_face_fusion_weights     (const LkFaceRegions       *regions,
                                      const LkFaceFusionParams  *params,
                                      GError                   **error);

/* Fuses @reference's face into @target: the similarity that best maps @reference_points onto
 * @target_points (least squares over the @n_points pairs: 5 alignment points or 68 landmarks, in
 * the same order on both) warps the reference onto the target's frame; when params->color_match it
 * is colour-transferred in LAB toward the target's skin (statistics over the skin mask, or the
 * oval without one; spread ratios limited to 1.5×); then target and warped reference are mixed by
 * lk_face_fusion_weights(). Returns an image like @target (RGB or RGBA; alpha kept). @params may
 * be NULL for EasyPhoto's settings. */
LkImage  *lk_face_fuse               (const LkImage             *reference,
                                      const LkPoint             *reference_points,
                                      const LkImage             *target,
                                      const LkPoint             *target_points,
                                      guint                      n_points,
                                      const LkFaceRegions       *regions,
                                      const LkFaceFusionParams  *params,
                                      GError                   **error);

G_END_DECLS
