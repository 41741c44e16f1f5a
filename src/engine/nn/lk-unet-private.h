/* lk-unet-private.h: the UNet's building blocks, shared with the ControlNet
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A ControlNet is a copy of the UNet's encoder half (time embedding, input blocks, middle block)
 * under another prefix, plus its own hint encoder and zero convolutions; both modules walk and
 * run that half through the code below.
 */
#pragma once

#include "lk-nn-graph.h"
#include "lk-unet.h"

G_BEGIN_DECLS

#define LK_UNET_N_LEVELS        4
#define LK_UNET_N_RES_BLOCKS    2
#define LK_UNET_N_INPUT_BLOCKS  (1 + LK_UNET_N_LEVELS * LK_UNET_N_RES_BLOCKS + LK_UNET_N_LEVELS - 1)
#define LK_UNET_N_OUTPUT_BLOCKS (LK_UNET_N_LEVELS * (LK_UNET_N_RES_BLOCKS + 1))

G_STATIC_ASSERT (LK_UNET_N_INPUT_BLOCKS == LK_UNET_N_DOWN_RESIDUALS);

typedef struct
{
  LkTensor *in_norm_w, *in_norm_b, *in_conv_w, *in_conv_b;
  LkTensor *emb_w, *emb_b;
  LkTensor *out_norm_w, *out_norm_b, *out_conv_w, *out_conv_b;
  LkTensor *skip_w, *skip_b;  /* a 1×1 convolution when the channel count changes */
} LkUnetResBlock;

typedef struct
{
  LkTensor *norm_w, *norm_b;
  LkTensor *proj_in_w, *proj_in_b;    /* weight kept as a [C, C] view of the 1×1 kernel */
  LkTensor *ln1_w, *ln1_b, *q1_w, *k1_w, *v1_w, *o1_w, *o1_b;
  LkTensor *ln2_w, *ln2_b, *q2_w, *k2_w, *v2_w, *o2_w, *o2_b;
  LkTensor *ln3_w, *ln3_b, *ff1_w, *ff1_b, *ff2_w, *ff2_b;
  LkTensor *proj_out_w, *proj_out_b;  /* [C, C] view; bias as [C, 1, 1] to broadcast over NCHW */
} LkUnetTransformer;

/* One entry of input_blocks / output_blocks: what it holds, in the order it runs. */
typedef struct
{
  LkUnetResBlock    *res;
  LkUnetTransformer *attn;
  LkTensor          *down_w, *down_b;  /* 3×3, stride 2 */
  LkTensor          *up_w, *up_b;      /* nearest ×2, then 3×3 */
} LkUnetBlock;

/* The architecture is walked once, by the same code, to list the tensors it needs and to load
 * them: a loader without a source only lists. The first error stops all later work. */
typedef struct
{
  const LkWeightSource *source;
  LkStream             *stream;
  GArray               *specs;         /* listing: LkUnetTensorSpec */
  GError               *error;
  const char           *root;          /* canonical prefix: LK_UNET_PREFIX, "control_model." */
  const char           *architecture;  /* for errors: "an SD1.x UNet" */
  GHashTable           *rename;        /* canonical → name in the file; NULL: the same */
  GHashTable           *slots;         /* filled: canonical → LkTensor ** (borrowed); or NULL */
} LkUnetLoader;

/* Loads (or lists) root + prefix + suffix into *slot, checking its shape. */
void      lk_unet_loader_take      (LkUnetLoader      *loader,
                                    const char        *prefix,
                                    const char        *suffix,
                                    LkUnetTensorRole   role,
                                    LkTensor         **slot,
                                    guint              ndim,
                                    gint64             d0,
                                    gint64             d1,
                                    gint64             d2,
                                    gint64             d3);
/* A convolution's weight [out, in, k, k] and bias [out]. */
void      lk_unet_loader_take_conv (LkUnetLoader      *loader,
                                    const char        *prefix,
                                    const char        *name,
                                    LkTensor         **w,
                                    LkTensor         **b,
                                    gint64             out,
                                    gint64             in,
                                    gint64             kernel);
/* The file's name for a canonical one (borrowed or @canonical itself). */
const char *lk_unet_loader_file_name (LkUnetLoader    *loader,
                                      const char      *canonical);

/* The encoder half both networks share. */
typedef struct
{
  LkUnetConfig       config;
  LkTensor          *time1_w, *time1_b, *time2_w, *time2_b;
  LkTensor          *conv_in_w, *conv_in_b;
  LkUnetBlock        input[LK_UNET_N_INPUT_BLOCKS];  /* [0] is conv_in, kept apart */
  LkUnetBlock        middle;                         /* middle_block.0 and .1 */
  LkUnetResBlock    *middle_res;                     /* middle_block.2 */
} LkUnetEncoder;

/* Finds the channel counts from the shapes of root + input_blocks.0.0 (model and input
 * channels), @out_name (output channels; NULL: none) and the first cross-attention key. */
gboolean  lk_unet_detect_config    (LkUnetLoader      *loader,
                                    const char        *out_name,
                                    LkUnetConfig      *config,
                                    GError           **error);
/* Walks time_embed, input_blocks and middle_block; @skip_channels receives the channel count of
 * each input block's output. */
void      lk_unet_walk_encoder     (LkUnetLoader      *loader,
                                    LkUnetEncoder     *encoder,
                                    guint             *skip_channels);
void      lk_unet_encoder_clear    (LkUnetEncoder     *encoder);
void      lk_unet_res_block_free   (LkUnetResBlock    *res);
void      lk_unet_block_clear      (LkUnetBlock       *block);

/* SiLU(time_embed(timestep_embedding(t))): every emb_layers starts with the SiLU. */
LkTensor *lk_unet_encoder_embed    (const LkUnetEncoder *encoder,
                                    LkArena           *arena,
                                    LkStream          *stream,
                                    LkTensor          *timesteps,
                                    GError           **error);
/* conv_in (plus @hint, when not NULL, as the ControlNet adds its guided hint there), the input
 * blocks, whose outputs are appended to @skips, and the middle block, whose output is returned. */
LkTensor *lk_unet_encoder_forward  (const LkUnetEncoder *encoder,
                                    LkArena           *arena,
                                    LkStream          *stream,
                                    LkTensor          *x,
                                    LkTensor          *emb,
                                    LkTensor          *context,
                                    LkTensor          *hint,
                                    GPtrArray         *skips,
                                    GError           **error);
/* Checks x [B, C, h, w] (h, w multiples of 8), timesteps [B], context [B, n, context_dim]. */
gboolean  lk_unet_check_inputs     (const LkUnetConfig *config,
                                    const char        *what,
                                    LkTensor          *x,
                                    LkTensor          *timesteps,
                                    LkTensor          *context,
                                    GError           **error);

/* The decoder half and output layers of a loaded UNet, for the training forward and backward
 * (lk-unet-train.c), which runs the same weights with LoRA beside them. All borrowed. */
const LkUnetEncoder *lk_unet_get_encoder       (LkUnet            *self);
/* LK_UNET_N_OUTPUT_BLOCKS entries, shallowest last. */
const LkUnetBlock   *lk_unet_get_output_blocks (LkUnet            *self);
void      lk_unet_get_out_layers   (LkUnet            *self,
                                    LkTensor         **norm_w,
                                    LkTensor         **norm_b,
                                    LkTensor         **conv_w,
                                    LkTensor         **conv_b);

G_END_DECLS
