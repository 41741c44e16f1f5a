/* lk-selfie.h: MediaPipe selfie segmentation: a person mask for any image
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The image is resized (stretched, as MediaPipe does) to the model's 256 × 256 RGB input in
 * [0, 1]; the sigmoid output is the probability of "person" per pixel, resized back to the image
 * bilinearly.
 */
#pragma once

#include "image/lk-image.h"
#include "lk-tfgraph.h"

G_BEGIN_DECLS

#define LK_SELFIE_INPUT_SIZE 256

typedef struct _LkSelfie LkSelfie;

/* @model_path: selfie.json (its .bin beside it). */
LkSelfie *lk_selfie_new          (LkContext      *context,
                                  const char     *model_path,
                                  GError        **error);
void      lk_selfie_free         (LkSelfie       *self);
/* Fills @input (256 × 256 × 3, [0, 1]) from an RGB image, bilinearly with pixel centres
 * aligned (TF's half_pixel_centers). */
gboolean  lk_selfie_prepare      (const LkImage  *image,
                                  float          *input,
                                  GError        **error);
/* The network alone: @mask [256 × 256] in [0, 1]. */
gboolean  lk_selfie_run          (LkSelfie       *self,
                                  LkStream       *stream,
                                  const float    *input,
                                  float          *mask,
                                  GError        **error);
/* A 1-channel mask of @image's size, 255 = person. */
LkImage  *lk_selfie_segment      (LkSelfie       *self,
                                  LkStream       *stream,
                                  const LkImage  *image,
                                  GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkSelfie, lk_selfie_free)

G_END_DECLS
