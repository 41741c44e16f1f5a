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

/* The architecture is SD1.x's: channel multipliers 1, 2, 4, 4 of a base width, two ResnetBlocks
 * per encoder level and three per decoder level, single-head attention in the middle, 4 latent
 * channels, GroupNorm of 32 groups with eps 1e-6. Only the base width varies: SD1.x's is 128,
 * and tests run narrower ones. */
typedef struct
{
  guint base_channels;  /* a multiple of 32 */
} LkVaeConfig;

#define LK_VAE_CONFIG_SD1 ((LkVaeConfig) { 128 })

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
/* The same for an autoencoder of @config. */
GArray       *lk_vae_config_list_tensors    (const LkVaeConfig   *config);

typedef struct _LkVae LkVae;

#define LK_TYPE_VAE (lk_vae_get_type ())

GType         lk_vae_get_type               (void) G_GNUC_CONST;

/* Reads the autoencoder's tensors under their canonical names and records their upload, as f16,
 * into @stream (the caller submits). The base width comes from encoder.conv_in's shape; every
 * other tensor must then have the shape SD1.x's architecture gives it, or the load fails naming
 * it. */
LkVae        *lk_vae_new                    (LkStream            *stream,
                                             LkWeights           *weights,
                                             GError             **error);
LkVae        *lk_vae_new_from_model_files   (LkStream            *stream,
                                             LkModelFiles        *files,
                                             GError             **error);
LkVae        *lk_vae_ref                    (LkVae               *self);
void          lk_vae_unref                  (LkVae               *self);

const LkVaeConfig *lk_vae_get_config        (LkVae               *self);

/* Tiling. Untiled, memory grows with H·W and, in the middle attention, with (H·W/64)²: 1.1 GB of
 * scores alone per image at 1024². Above @max_area latent positions (h·w) lk_vae_encode() and
 * lk_vae_decode() therefore work tile by tile: tiles of @tile × @tile latent positions that
 * overlap their neighbours by at least @overlap, each run on its own, blended with weights that
 * fall linearly to nearly 0 across each overlap so no seam shows. A tile's GroupNorm statistics
 * and attention see only the tile, so tiled results differ slightly from untiled ones (the
 * test-vae figures say how much); hence tiling only where memory needs it. */
typedef struct
{
  guint max_area;  /* latent positions; 0: never tile */
  guint tile;      /* latent positions a side, ≥ 8 */
  guint overlap;   /* latent positions, < tile / 2 */
} LkVaeTiling;

/* Tile above 96×96 latents (768×768 images), in 64×64 tiles (512×512) overlapping by 16. */
#define LK_VAE_TILING_DEFAULT ((LkVaeTiling) { 96 * 96, 64, 16 })

void          lk_vae_set_tiling             (LkVae               *self,
                                             const LkVaeTiling   *tiling);
void          lk_vae_get_tiling             (LkVae               *self,
                                             LkVaeTiling         *tiling);

/* image [B, 3, H, W] in [-1, 1], H and W multiples of 8 → the latent [B, 4, H/8, W/8]: the
 * posterior's mean (no sampling) times LK_VAE_SCALE_FACTOR, f32. Recorded into @stream; tiled
 * as lk_vae_set_tiling() says (a tiled run waits for each tile on the host). */
LkTensor     *lk_vae_encode                 (LkVae               *self,
                                             LkStream            *stream,
                                             LkTensor            *image,
                                             GError             **error);
/* latent [B, 4, h, w] → image [B, 3, 8h, 8w], f32, nominally in [-1, 1]; like LDM's decode it is
 * not clamped, so callers clamp before converting to pixels. Recorded into @stream; tiled as
 * lk_vae_set_tiling() says. */
LkTensor     *lk_vae_decode                 (LkVae               *self,
                                             LkStream            *stream,
                                             LkTensor            *latent,
                                             GError             **error);
/* Tiled whatever the size, with @tiling's tile and overlap (max_area is ignored). */
LkTensor     *lk_vae_encode_tiled           (LkVae               *self,
                                             LkStream            *stream,
                                             LkTensor            *image,
                                             const LkVaeTiling   *tiling,
                                             GError             **error);
LkTensor     *lk_vae_decode_tiled           (LkVae               *self,
                                             LkStream            *stream,
                                             LkTensor            *latent,
                                             const LkVaeTiling   *tiling,
                                             GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkVae, lk_vae_unref)

G_END_DECLS
