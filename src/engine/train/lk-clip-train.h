/* lk-clip-train.h: LoRA training of the CLIP text encoder — forward with the LoRA, backward
 * from the gradient of its output
 *
 * A trainer puts a LoRA layer (lk-lora-layer.h) beside each of EasyPhoto's (and kohya's)
 * text-encoder targets in every encoder layer it runs: self_attn.q_proj, k_proj, v_proj,
 * out_proj, mlp.fc1 and mlp.fc2. The encoder's own weights stay frozen. The forward keeps the
 * activations the backward needs (or, with checkpointing, each layer's input only, the layer
 * being run again just before its backward); the backward carries dL/d(output) through the
 * final layer norm, every layer's MLP (QuickGELU), causal self-attention, layer norms and
 * residuals, down to the LoRA parameters.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-clip.h"
#include "lk-lora-layer.h"

G_BEGIN_DECLS

typedef struct
{
  guint    rank;             /* EasyPhoto: 128 */
  float    alpha;            /* 64 */
  guint    clip_skip;        /* 1: the last layer's output (SD1.x); 2: the one before it */
  gboolean checkpointing;    /* keep only each layer's input, recompute the rest */
  gboolean f16_activations;  /* activations and their gradients stored in f16 */
  guint64  seed;             /* the LoRA initialisation */
} LkClipTrainOptions;

#define LK_CLIP_TRAIN_OPTIONS_DEFAULT ((LkClipTrainOptions) { 128, 64.0f, 1, FALSE, FALSE, 0 })

typedef struct _LkClipTrainer LkClipTrainer;

/* Creates the LoRA layers over @model's weights (referenced) and records their initialisation
 * into @stream. With clip skip s, the last s − 1 encoder layers never run and get no LoRA (kohya
 * would give them adapters that never change). */
LkClipTrainer *lk_clip_trainer_new          (LkStream                 *stream,
                                             LkClipTextModel          *model,
                                             const LkClipTrainOptions *options,
                                             GError                  **error);
void           lk_clip_trainer_free         (LkClipTrainer            *self);

void           lk_clip_trainer_set_checkpointing (LkClipTrainer       *self,
                                                  gboolean             checkpointing);
/* The layers, encoder layer by encoder layer, each in the order q_proj, k_proj, v_proj,
 * out_proj, fc1, fc2; their module names without LK_CLIP_TEXT_PREFIX, e.g.
 * "encoder.layers.0.self_attn.q_proj" (the canonical weight is LK_CLIP_TEXT_PREFIX + name +
 * ".weight", whose lk_lora_kohya_name() is lora_te_text_model_encoder_layers_0_self_attn_q_proj).
 * NULL-terminated, borrowed. */
guint          lk_clip_trainer_get_n_layers (LkClipTrainer            *self);
LkLoraLayer  **lk_clip_trainer_get_layers   (LkClipTrainer            *self);
const char * const *lk_clip_trainer_get_names (LkClipTrainer          *self);
guint          lk_clip_trainer_get_context  (LkClipTrainer            *self);
guint          lk_clip_trainer_get_width    (LkClipTrainer            *self);

/* ids: batch × context token ids, each row one chunk as lk_tokenizer_encode_prompt() builds it.
 * Records the forward with the LoRA and returns the encoder's output [batch, context, width]
 * (f32, after the final layer norm, at the trainer's clip skip). What the backward needs is kept
 * by the trainer until the backward, the next forward or lk_clip_trainer_release(). */
LkTensor      *lk_clip_trainer_forward      (LkClipTrainer            *self,
                                             LkStream                 *stream,
                                             const gint32             *ids,
                                             guint                     batch,
                                             GError                  **error);
/* From d_output (the shape of the last forward's output; f32 or f16): the LoRA gradients,
 * written into the layers' gradients, or added to them with @accumulate. Releases what the
 * forward kept. */
gboolean       lk_clip_trainer_backward     (LkClipTrainer            *self,
                                             LkStream                 *stream,
                                             LkTensor                 *d_output,
                                             gboolean                  accumulate,
                                             GError                  **error);
void           lk_clip_trainer_release      (LkClipTrainer            *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkClipTrainer, lk_clip_trainer_free)

G_END_DECLS
