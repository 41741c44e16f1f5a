/* lk-sd-train.h: LoRA training of an SD1.x model — the UNet and, optionally, the text encoder
 * together, as kohya's train_network does for EasyPhoto
 *
 * Each micro-batch runs the text encoder on the caption's token ids (with its LoRA when it is
 * trained, frozen otherwise), the UNet's forward and backward on the noised latents (the noise
 * and timesteps drawn as lk_unet_trainer_sample() does), and, when the text encoder is trained,
 * its backward from the gradient the UNet's cross-attention hands to the context. One optimizer
 * step clips the gradients of all the LoRA's parameters, UNet and text encoder together, by
 * their global norm, and takes AdamW with a learning rate for each (lk_lora_step()).
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-clip-train.h"
#include "lk-unet-train.h"

G_BEGIN_DECLS

typedef struct
{
  /* rank, alpha, the UNet's learning rate, checkpointing, the seed, f16 activations and loss
   * scaling, for both networks */
  LkUnetTrainOptions unet;
  gboolean           train_text_encoder;  /* EasyPhoto: yes */
  double             te_lr;               /* EasyPhoto: 5e-5 */
  guint              clip_skip;           /* 1 (SD1.x) */
} LkSdTrainOptions;

#define LK_SD_TRAIN_OPTIONS_DEFAULT \
  ((LkSdTrainOptions) { { 128, 64.0f, 1e-4, TRUE, 0, FALSE, { TRUE, 65536.0, 2.0, 0.5, 2000 } }, \
                        TRUE, 5e-5, 1 })

typedef struct _LkSdTrainer LkSdTrainer;

/* Creates the UNet's LoRA layers and, when the text encoder is trained, the text encoder's, over
 * the modules' weights (referenced), and records their initialisation into @stream. */
LkSdTrainer   *lk_sd_trainer_new            (LkStream                *stream,
                                             LkUnet                  *unet,
                                             LkClipTextModel         *text_encoder,
                                             const LkSdTrainOptions  *options,
                                             GError                 **error);
void           lk_sd_trainer_free           (LkSdTrainer             *self);

LkUnetTrainer *lk_sd_trainer_get_unet_trainer (LkSdTrainer           *self);
/* NULL when the text encoder is not trained. */
LkClipTrainer *lk_sd_trainer_get_clip_trainer (LkSdTrainer           *self);
const LkSdTrainOptions *lk_sd_trainer_get_options (LkSdTrainer       *self);

/* Every LoRA layer, the UNet's (lk_unet_trainer_get_layers()) then the text encoder's
 * (lk_clip_trainer_get_layers()); their canonical weight names (model.diffusion_model.….weight,
 * cond_stage_model.transformer.text_model.….weight) for lk_lora_add(), and their kohya module
 * names (lora_unet_…, lora_te_…) for training checkpoints. NULL-terminated, borrowed. */
guint          lk_sd_trainer_get_n_layers   (LkSdTrainer             *self);
LkLoraLayer  **lk_sd_trainer_get_layers     (LkSdTrainer             *self);
const char * const *lk_sd_trainer_get_targets (LkSdTrainer           *self);
const char * const *lk_sd_trainer_get_kohya_names (LkSdTrainer       *self);
/* The UNet trainer's: step, noise generator, loss scale. */
LkTrainState  *lk_sd_trainer_get_state      (LkSdTrainer             *self);

/* Training checkpoints of every layer and the state (lk-train-checkpoint.h), under the kohya
 * names. */
gboolean       lk_sd_trainer_save_checkpoint (LkSdTrainer            *self,
                                              LkStream               *stream,
                                              const char             *path,
                                              GError                **error);
gboolean       lk_sd_trainer_load_checkpoint (LkSdTrainer            *self,
                                              LkStream               *stream,
                                              const char             *path,
                                              GError                **error);

/* One micro-batch's forward and backward. ids: batch × n_chunks × context token ids, each chunk
 * as lk_tokenizer_encode_prompt() builds it; the context is the chunks' encodings side by side,
 * [batch, n_chunks · context, width], as A1111 joins them. The loss, weight · mean((ε̂ − target)²),
 * and the gradients as lk_unet_trainer_backward(): written, or added with @accumulate. */
gboolean       lk_sd_trainer_backward       (LkSdTrainer             *self,
                                             LkStream                *stream,
                                             LkTensor                *x_t,
                                             LkTensor                *timesteps,
                                             const gint32            *ids,
                                             guint                    n_chunks,
                                             LkTensor                *target,
                                             float                    weight,
                                             gboolean                 accumulate,
                                             double                  *loss,
                                             GError                 **error);
/* The optimizer step over both networks' layers; @result may be NULL. */
gboolean       lk_sd_trainer_apply          (LkSdTrainer             *self,
                                             LkStream                *stream,
                                             LkLoraStepResult        *result,
                                             GError                 **error);

/* One optimizer step over @n_micro micro-batches, as lk_unet_train_step() but from token ids:
 * x0[i] [B, 4, h, w], ids[i] B × n_chunks × context. *loss (may be NULL) gets the mean MSE. */
gboolean       lk_sd_train_step             (LkSdTrainer             *self,
                                             LkStream                *stream,
                                             guint                    n_micro,
                                             LkTensor               **x0,
                                             const gint32           **ids,
                                             guint                    n_chunks,
                                             double                  *loss,
                                             LkLoraStepResult        *result,
                                             GError                 **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkSdTrainer, lk_sd_trainer_free)

G_END_DECLS
