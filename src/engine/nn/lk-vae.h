/* lk-vae.h: the Stable Diffusion 1.x autoencoder (LDM's AutoencoderKL) on the device
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-model-kind.h"
#include "lk-tensor.h"

G_BEGIN_DECLS

/* Canonical (LDM) names of the autoencoder's tensors start with this. */
#define LK_VAE_PREFIX "first_stage_model."

/* SD1.x's latents are the encoder's mean times this; the decoder divides it out again. */
#define LK_VAE_SCALE_FACTOR 0.18215f

/* The configuration is SD1.x's only: 128 base channels, multipliers 1, 2, 4, 4, two ResnetBlocks
 * per encoder level and three per decoder level, single-head attention in the middle, 4 latent
 * channels, GroupNorm of 32 groups with eps 1e-6. */

typedef enum
{
  LK_VAE_TENSOR_WEIGHT,       /* a convolution weight */
  LK_VAE_TENSOR_BIAS,
  LK_VAE_TENSOR_NORM_WEIGHT,  /* GroupNorm gamma */
  LK_VAE_TENSOR_NORM_BIAS,
} LkVaeTensorRole;

typedef struct
{
  char            *name;    /* canonical, with LK_VAE_PREFIX */
  LkVaeTensorRole  role;
  guint            ndim;
  gint64           shape[4];
} LkVaeTensorSpec;

/* Every tensor of the SD1.x autoencoder, in load order, with its shape: what a checkpoint must
 * hold. Elements are LkVaeTensorSpec, freed with the array. */
GArray       *lk_vae_list_tensors           (void);

typedef struct _LkVae LkVae;

#define LK_TYPE_VAE (lk_vae_get_type ())

GType         lk_vae_get_type               (void) G_GNUC_CONST;

/* Reads the autoencoder's tensors under their canonical names and records their upload, as f16,
 * into @stream (the caller submits). Every tensor must have the shape SD1.x's autoencoder gives
 * it, or the load fails naming it. */
LkVae        *lk_vae_new                    (LkStream            *stream,
                                             LkWeights           *weights,
                                             GError             **error);
LkVae        *lk_vae_new_from_model_files   (LkStream            *stream,
                                             LkModelFiles        *files,
                                             GError             **error);
LkVae        *lk_vae_ref                    (LkVae               *self);
void          lk_vae_unref                  (LkVae               *self);

/* image [B, 3, H, W] in [-1, 1], H and W multiples of 8 → the latent [B, 4, H/8, W/8]: the
 * posterior's mean (no sampling) times LK_VAE_SCALE_FACTOR, f32. Recorded into @stream. The
 * whole image is processed at once (no tiling), so memory grows with H·W and, in the middle
 * attention, with (H·W/64)². */
LkTensor     *lk_vae_encode                 (LkVae               *self,
                                             LkStream            *stream,
                                             LkTensor            *image,
                                             GError             **error);
/* latent [B, 4, h, w] → image [B, 3, 8h, 8w], f32, nominally in [-1, 1]; like LDM's decode it is
 * not clamped, so callers clamp before converting to pixels. Recorded into @stream. */
LkTensor     *lk_vae_decode                 (LkVae               *self,
                                             LkStream            *stream,
                                             LkTensor            *latent,
                                             GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkVae, lk_vae_unref)

G_END_DECLS
