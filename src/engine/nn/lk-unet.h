/* lk-unet.h: the Stable Diffusion 1.x UNet (LDM layout) on the device
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-model-kind.h"
#include "lk-tensor.h"

G_BEGIN_DECLS

/* Canonical (LDM) names of the UNet's tensors start with this. */
#define LK_UNET_PREFIX "model.diffusion_model."

/* What varies between the UNets we run; the rest is SD1.x's: channel multipliers 1, 2, 4, 4,
 * two ResBlocks per level, a SpatialTransformer (one block, 8 heads) after each ResBlock of the
 * first three levels and in the middle, GroupNorm of 32 groups. */
typedef struct
{
  guint in_channels;     /* 4, or 9 for inpainting (latent, mask, masked image) */
  guint out_channels;    /* 4 */
  guint model_channels;  /* 320; a multiple of 32 */
  guint context_dim;     /* 768, CLIP ViT-L/14's width */
} LkUnetConfig;

#define LK_UNET_CONFIG_SD1 ((LkUnetConfig) { 4, 4, 320, 768 })

typedef enum
{
  LK_UNET_TENSOR_WEIGHT,       /* a Linear or convolution weight */
  LK_UNET_TENSOR_BIAS,
  LK_UNET_TENSOR_NORM_WEIGHT,  /* GroupNorm / LayerNorm gamma */
  LK_UNET_TENSOR_NORM_BIAS,
} LkUnetTensorRole;

typedef struct
{
  char             *name;    /* canonical, with LK_UNET_PREFIX */
  LkUnetTensorRole  role;
  guint             ndim;
  gint64            shape[4];
} LkUnetTensorSpec;

/* Every tensor of a UNet of @config, in load order, with its shape: what a checkpoint must hold.
 * Elements are LkUnetTensorSpec, freed with the array. */
GArray       *lk_unet_config_list_tensors   (const LkUnetConfig  *config);

typedef struct _LkUnet LkUnet;

#define LK_TYPE_UNET (lk_unet_get_type ())

GType         lk_unet_get_type              (void) G_GNUC_CONST;

/* Reads the UNet's tensors under their canonical names and records their upload, as f16, into
 * @stream (the caller submits). Channel counts come from the shapes of the first convolution,
 * the last one and the first cross-attention key; every other tensor must then have the shape
 * SD1.x's architecture gives it, or the load fails naming it (SD2's linear projections, SDXL's
 * layout and damaged files are refused this way). */
LkUnet       *lk_unet_new                   (LkStream            *stream,
                                             LkWeights           *weights,
                                             GError             **error);
LkUnet       *lk_unet_new_from_model_files  (LkStream            *stream,
                                             LkModelFiles        *files,
                                             GError             **error);
LkUnet       *lk_unet_ref                   (LkUnet              *self);
void          lk_unet_unref                 (LkUnet              *self);

const LkUnetConfig *lk_unet_get_config      (LkUnet              *self);

/* x [B, in_channels, h, w] with h and w multiples of 8, timesteps [B], context [B, n, context_dim]
 * (any n; 77 for one CLIP chunk). Records the forward pass into @stream and returns the predicted
 * noise [B, out_channels, h, w] as f32. Batch entries are independent, so classifier-free
 * guidance runs the conditional and unconditional halves as B = 2. Weights f16, activations and
 * arithmetic f32. */
LkTensor     *lk_unet_forward               (LkUnet              *self,
                                             LkStream            *stream,
                                             LkTensor            *x,
                                             LkTensor            *timesteps,
                                             LkTensor            *context,
                                             GError             **error);

/* What ControlNets add to the UNet: one residual per input block's output (12, shallowest first,
 * each shaped like that skip connection) and one for the middle block's output, as diffusers'
 * down_block_additional_residuals / mid_block_additional_residual and A1111's control list.
 * A NULL entry adds nothing. */
#define LK_UNET_N_DOWN_RESIDUALS 12

typedef struct
{
  LkTensor *down[LK_UNET_N_DOWN_RESIDUALS];
  LkTensor *middle;
} LkUnetResiduals;

/* Drops the references an LkUnetResiduals holds (the struct itself is the caller's). */
void          lk_unet_residuals_clear       (LkUnetResiduals     *residuals);

/* lk_unet_forward() with @residuals (may be NULL) added to the skip connections as the decoder
 * takes them and to the middle block's output. Without residuals nothing extra is recorded. */
LkTensor     *lk_unet_forward_with_residuals (LkUnet                 *self,
                                              LkStream               *stream,
                                              LkTensor               *x,
                                              LkTensor               *timesteps,
                                              LkTensor               *context,
                                              const LkUnetResiduals  *residuals,
                                              GError                **error);

/* The device weights, canonical name → LkTensor * (borrowed; f16, contiguous; 1×1 projection
 * kernels as [C, C] views of the same memory), for lk_lora_merge(). A new table; the tensors stay
 * the UNet's. */
GHashTable   *lk_unet_get_weights           (LkUnet              *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkUnet, lk_unet_unref)

G_END_DECLS
