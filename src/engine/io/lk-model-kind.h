/* lk-model-kind.h: which Stable Diffusion a checkpoint is, and its tensors under one naming
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Canonical names are the original LDM single-file names:
 *   UNet          model.diffusion_model.*            (input_blocks, middle_block, output_blocks…)
 *   VAE           first_stage_model.*                (encoder.down.N.block.M…, mid.attn_1.q…)
 *   text encoder  cond_stage_model.transformer.text_model.*
 * A diffusers folder (unet/, vae/, text_encoder/) is renamed into them; diffusers' Linear VAE
 * attention weights get the LDM 1×1 conv shape [C, C, 1, 1] (same bytes).
 */
#pragma once

#include "lk-weights.h"

G_BEGIN_DECLS

#define LK_MODEL_ERROR (lk_model_error_quark ())

typedef enum
{
  LK_MODEL_ERROR_UNSUPPORTED,  /* SD2, SDXL, other UNet variants */
  LK_MODEL_ERROR_UNKNOWN,      /* not a Stable Diffusion checkpoint */
  LK_MODEL_ERROR_INCOMPLETE,   /* a module is missing */
} LkModelError;

GQuark lk_model_error_quark (void);

typedef enum
{
  LK_MODEL_LAYOUT_LDM,        /* one file: model.diffusion_model.*, first_stage_model.*, … */
  LK_MODEL_LAYOUT_DIFFUSERS,  /* a folder: unet/, vae/, text_encoder/ */
} LkModelLayout;

typedef enum
{
  LK_MODEL_KIND_SD1,          /* SD1.x: 4 latent channels in, 768-wide cross attention */
  LK_MODEL_KIND_SD1_INPAINT,  /* SD1.x inpainting: 9 channels in (latent, mask, masked image) */
} LkModelKind;

const char   *lk_model_kind_get_name   (LkModelKind kind);

typedef struct _LkModelFiles LkModelFiles;

#define LK_TYPE_MODEL_FILES (lk_model_files_get_type ())

GType                lk_model_files_get_type     (void) G_GNUC_CONST;

/* path: a checkpoint file (.safetensors, .ckpt, .pth) or a diffusers folder. vae_path, when not
 * NULL, replaces the checkpoint's VAE; it may use LDM names with or without the
 * first_stage_model. prefix, or diffusers names. */
LkModelFiles        *lk_model_files_open         (const char     *path,
                                                  const char     *vae_path,
                                                  GError        **error);
LkModelFiles        *lk_model_files_ref          (LkModelFiles   *self);
void                 lk_model_files_unref        (LkModelFiles   *self);

LkModelLayout        lk_model_files_get_layout   (LkModelFiles   *self);
LkModelKind          lk_model_files_get_kind     (LkModelFiles   *self);
/* Canonical names, sorted. */
GPtrArray           *lk_model_files_list_names   (LkModelFiles   *self);
/* The tensor of a canonical name, and the file it lives in (for lk_weights_read_f32()). */
const LkWeightInfo  *lk_model_files_lookup       (LkModelFiles   *self,
                                                  const char     *name,
                                                  LkWeights     **weights);
const LkWeightInfo  *lk_model_files_require      (LkModelFiles   *self,
                                                  const char     *name,
                                                  LkWeights     **weights,
                                                  GError        **error);

/* Diffusers name → canonical LDM name (newly allocated), or NULL for a name that has none. */
char                *lk_model_map_diffusers_unet (const char     *name);
char                *lk_model_map_diffusers_vae  (const char     *name);
char                *lk_model_map_diffusers_text (const char     *name);
/* A diffusers ControlNetModel name → canonical LDM ControlNet name (control_model.…: the hint
 * encoder as input_hint_block.N, controlnet_down_blocks.N as zero_convs.N.0,
 * controlnet_mid_block as middle_block_out.0, the rest as the UNet's encoder), or NULL. */
char                *lk_model_map_diffusers_controlnet (const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkModelFiles, lk_model_files_unref)

G_END_DECLS
