/* lk-esrgan.h: UpscalerJS's ESRGAN super-resolution (TF.js layers models) on the engine
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A small Keras runner over the vision ops for the layer kinds these models use: Conv2D (with
 * linear or ReLU activation), Activation, Concatenate (channels), Add and nearest UpSampling2D.
 */
#pragma once

#include "image/lk-image.h"
#include "vk/lk-context.h"
#include "vk/lk-stream.h"

G_BEGIN_DECLS

typedef struct _LkEsrgan LkEsrgan;

/* @model_path: a UpscalerJS model.json (Keras `model_config`) with its shards. */
LkEsrgan *lk_esrgan_new       (LkContext     *context,
                               const char    *model_path,
                               GError       **error);
void      lk_esrgan_free      (LkEsrgan      *self);
/* The upscaling factor of the model's UpSampling2D layer. */
guint     lk_esrgan_get_scale (LkEsrgan      *self);
/* The raw network on one image @width × @height × 3 (NHWC, the values the model expects);
 * returns (width · scale) × (height · scale) × 3 values. */
float    *lk_esrgan_run       (LkEsrgan      *self,
                               LkStream      *stream,
                               const float   *input,
                               guint          width,
                               guint          height,
                               GError       **error);

/* Upscales an RGB(A) @image (alpha is dropped) in tiles of at most @tile × @tile input pixels
 * overlapping by @overlap pixels (0 for defaults: 128 and 16); the overlaps are blended with
 * linear ramps so that no seam shows. Values go in and come out in [0, 1], UpscalerJS's range
 * (the models were trained with idealo's image-super-resolution on that range). */
LkImage  *lk_esrgan_upscale   (LkEsrgan      *self,
                               LkStream      *stream,
                               const LkImage *image,
                               guint          tile,
                               guint          overlap,
                               GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkEsrgan, lk_esrgan_free)

G_END_DECLS
