/* lk-unet-train.h: LoRA training of the SD1.x UNet — forward, backward, one optimizer step
 *
 * A trainer puts a LoRA layer (lk-lora-layer.h) beside each of EasyPhoto's targets in every
 * SpatialTransformer: proj_in, attn1 and attn2 to_q / to_k / to_v / to_out.0, ff.net.0.proj,
 * ff.net.2 and proj_out, twelve per transformer. The UNet's own weights stay frozen: the
 * backward carries dL/dε through every ResBlock, norm, attention, resampling and skip
 * concatenation to the LoRA parameters only.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-lora-layer.h"
#include "lk-lora-step.h"
#include "lk-train-checkpoint.h"
#include "lk-unet.h"

G_BEGIN_DECLS

typedef struct
{
  guint    rank;           /* EasyPhoto: 128 */
  float    alpha;          /* EasyPhoto: 64 */
  double   lr;             /* EasyPhoto: 1e-4, constant */
  gboolean checkpointing;  /* recompute each block's forward in the backward: less memory */
  guint64  seed;           /* the LoRA initialisation and the noise / timestep generator */
  /* Activations, and the gradients of activations, stored in f16 (norm statistics, attention
   * softmax, the prediction and loss, the LoRA and optimizer state stay f32), with the loss
   * scaled by state.loss_scale, from loss_scaling.initial_scale; dynamic scaling adjusts it and
   * skips a step on overflow. f32 training keeps the scale at 1. */
  gboolean           f16_activations;
  LkLossScaleOptions loss_scaling;
} LkUnetTrainOptions;

#define LK_UNET_TRAIN_OPTIONS_DEFAULT \
  ((LkUnetTrainOptions) { 128, 64.0f, 1e-4, TRUE, 0, FALSE, { TRUE, 65536.0, 2.0, 0.5, 2000 } })

typedef struct _LkUnetTrainer LkUnetTrainer;

/* Creates the LoRA layers over @unet's weights (borrowed by reference; the UNet must stay
 * alive) and records their initialisation into @stream. */
LkUnetTrainer *lk_unet_trainer_new         (LkStream                 *stream,
                                            LkUnet                   *unet,
                                            const LkUnetTrainOptions *options,
                                            GError                  **error);
void           lk_unet_trainer_free        (LkUnetTrainer            *self);

void           lk_unet_trainer_set_checkpointing (LkUnetTrainer      *self,
                                                  gboolean            checkpointing);
/* The layers in a fixed order (transformers from the first input block to the last output
 * block, then the twelve targets in the order above), and their LDM module names without
 * LK_UNET_PREFIX, e.g. "input_blocks.1.1.transformer_blocks.0.attn1.to_q". Borrowed. */
guint          lk_unet_trainer_get_n_layers (LkUnetTrainer           *self);
LkLoraLayer  **lk_unet_trainer_get_layers  (LkUnetTrainer            *self);
const char * const *lk_unet_trainer_get_names (LkUnetTrainer         *self);
/* Step count, the noise generator and the loss scale: what a training checkpoint saves. */
LkTrainState  *lk_unet_trainer_get_state   (LkUnetTrainer            *self);

/* One forward and backward: ε̂ = UNet(x_t, timesteps, context) with the LoRA, loss
 * = weight · mean((ε̂ − target)²), and the LoRA gradients of that loss, written into the
 * layers' gradients, or added to them when @accumulate is set. *loss (may be NULL) gets
 * mean((ε̂ − target)²) itself, which needs a wait for the device. */
gboolean       lk_unet_trainer_backward    (LkUnetTrainer            *self,
                                            LkStream                 *stream,
                                            LkTensor                 *x_t,
                                            LkTensor                 *timesteps,
                                            LkTensor                 *context,
                                            LkTensor                 *target,
                                            float                     weight,
                                            gboolean                  accumulate,
                                            double                   *loss,
                                            GError                  **error);
/* The same, and when @d_context is not NULL (f32, the shape of @context), dL/d(context)
 * written into it through every cross-attention's k and v projections, base and LoRA, for a
 * text encoder's backward. Like the LoRA gradients it is multiplied by the loss scale. */
gboolean       lk_unet_trainer_backward_full (LkUnetTrainer          *self,
                                              LkStream               *stream,
                                              LkTensor               *x_t,
                                              LkTensor               *timesteps,
                                              LkTensor               *context,
                                              LkTensor               *target,
                                              float                   weight,
                                              gboolean                accumulate,
                                              LkTensor               *d_context,
                                              double                 *loss,
                                              GError                **error);
/* Clips the gradients by their global norm (1.0) and takes one AdamW step (β 0.9 / 0.999,
 * eps 1e-8, weight decay 1e-2, the trainer's learning rate) of every LoRA parameter, as
 * lk_lora_step() does (an overflow skips the step). The _full variant says what it did. */
gboolean       lk_unet_trainer_apply       (LkUnetTrainer            *self,
                                            LkStream                 *stream,
                                            GError                  **error);
gboolean       lk_unet_trainer_apply_full  (LkUnetTrainer            *self,
                                            LkStream                 *stream,
                                            LkLoraStepResult         *result,
                                            GError                  **error);
const LkUnetTrainOptions *lk_unet_trainer_get_options (LkUnetTrainer *self);

/* What a training step draws from the trainer's generator for latents of @shape [B, C, h, w]:
 * noise (B·C·h·w standard normals, one call) and then B integer timesteps in [0, 1000) (one
 * call of B normals, each mapped through the normal CDF). Both arrays are the caller's. */
void           lk_unet_trainer_sample      (LkUnetTrainer            *self,
                                            const gint64             *shape,
                                            float                    *noise,
                                            float                    *timesteps);

/* One micro-batch's noising: noise and timesteps from lk_unet_trainer_sample() for x0
 * [B, C, h, w], and x_t = √ᾱ x0 + √(1 − ᾱ) ε recorded into @stream; new f32 tensors x_t (as x0),
 * timesteps [B] and the noise ε (as x0), the training target. */
gboolean       lk_unet_trainer_noise       (LkUnetTrainer            *self,
                                            LkStream                 *stream,
                                            LkTensor                 *x0,
                                            LkTensor                **x_t,
                                            LkTensor                **timesteps,
                                            LkTensor                **noise,
                                            GError                  **error);

/* One optimizer step over @n_micro micro-batches (gradient accumulation): for each,
 * lk_unet_trainer_noise(), loss MSE(ε̂, ε) / n_micro and its backward; then
 * lk_unet_trainer_apply(). x0[i] [B, 4, h, w], context[i] [B, n, 768]. *loss gets the mean MSE
 * over the micro-batches. */
gboolean       lk_unet_train_step          (LkUnetTrainer            *self,
                                            LkStream                 *stream,
                                            guint                     n_micro,
                                            LkTensor                **x0,
                                            LkTensor                **context,
                                            double                   *loss,
                                            GError                  **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkUnetTrainer, lk_unet_trainer_free)

G_END_DECLS
