/* lk-lora-step.h: the optimizer step of LoRA training, shared by the UNet's and the text
 * encoder's layers
 *
 * One step clips every trained layer's gradients by their global norm together (1.0, as kohya's
 * accelerator.clip_grad_norm_ over all network parameters), takes AdamW with one learning rate
 * per group of layers (UNet, text encoder), and runs dynamic loss scaling as torch's GradScaler
 * does: the loss was multiplied by the state's scale S, so the gradients are divided by it; a
 * step whose gradients hold an inf or NaN changes no parameter and halves S, and every
 * growth_interval steps in a row without one double it.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-lora-layer.h"
#include "lk-train-checkpoint.h"

G_BEGIN_DECLS

typedef struct
{
  gboolean dynamic;          /* FALSE: S stays as it is (1 for f32 training) */
  double   initial_scale;    /* torch's GradScaler: 2^16 */
  double   growth_factor;    /* 2 */
  double   backoff_factor;   /* 0.5 */
  guint    growth_interval;  /* 2000 */
} LkLossScaleOptions;

#define LK_LOSS_SCALE_OPTIONS_DEFAULT ((LkLossScaleOptions) { TRUE, 65536.0, 2.0, 0.5, 2000 })

typedef struct
{
  LkLoraLayer **layers;
  guint         n_layers;
  double        lr;
} LkLoraGroup;

/* What one step did. */
typedef struct
{
  gboolean skipped;    /* an inf or NaN gradient: no parameter changed */
  double   grad_norm;  /* the global norm of the unscaled gradients, before clipping */
} LkLoraStepResult;

/* One step of every layer of @groups (AdamW β 0.9 / 0.999, eps 1e-8, weight decay 1e-2, clipping
 * at 1.0) from the gradients they hold, which are S times the loss's for S = state->loss_scale.
 * Waits for @stream once, to read the gradients' statistics. state->step always advances (a
 * skipped step is a step of the run, as in kohya's loop); state->skipped counts the skipped ones,
 * and AdamW's own t is step − skipped. With @scaling (NULL: none) dynamic, the scale and its
 * good-step count are updated. @result may be NULL. */
gboolean   lk_lora_step             (LkStream                 *stream,
                                     const LkLoraGroup        *groups,
                                     guint                     n_groups,
                                     LkTrainState             *state,
                                     const LkLossScaleOptions *scaling,
                                     LkLoraStepResult         *result,
                                     GError                  **error);

/* Gradient accumulation over backward passes that write the layers' gradients: copies of them
 * before the pass (a new array of LkTensor *), then, after it, the copies added back in. */
GPtrArray *lk_lora_grads_save       (LkStream                 *stream,
                                     LkLoraLayer             **layers,
                                     guint                     n_layers,
                                     GError                  **error);
gboolean   lk_lora_grads_add_saved  (LkStream                 *stream,
                                     LkLoraLayer             **layers,
                                     guint                     n_layers,
                                     GPtrArray                *saved,
                                     GError                  **error);

G_END_DECLS
