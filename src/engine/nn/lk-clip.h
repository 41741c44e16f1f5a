/* lk-clip.h: the CLIP ViT-L/14 text encoder of Stable Diffusion 1.x on the device
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-model-kind.h"
#include "lk-tensor.h"

G_BEGIN_DECLS

/* Canonical (LDM) names of the text encoder's tensors start with this. */
#define LK_CLIP_TEXT_PREFIX "cond_stage_model.transformer.text_model."

typedef struct _LkClipTextModel LkClipTextModel;

#define LK_TYPE_CLIP_TEXT_MODEL (lk_clip_text_model_get_type ())

GType             lk_clip_text_model_get_type     (void) G_GNUC_CONST;

/* Reads the encoder's tensors under their canonical names and records their upload, as f16,
 * into @stream (the caller submits). The configuration (width, layers, context, MLP width) comes
 * from the tensors' shapes, with heads of 64; SD1.x's is 768 wide, 12 layers, 77 tokens, 3072. */
LkClipTextModel  *lk_clip_text_model_new          (LkStream         *stream,
                                                   LkWeights        *weights,
                                                   GError          **error);
LkClipTextModel  *lk_clip_text_model_new_from_model_files (LkStream   *stream,
                                                   LkModelFiles     *files,
                                                   GError          **error);
LkClipTextModel  *lk_clip_text_model_ref          (LkClipTextModel  *self);
void              lk_clip_text_model_unref        (LkClipTextModel  *self);

guint             lk_clip_text_model_get_width    (LkClipTextModel  *self);
guint             lk_clip_text_model_get_n_layers (LkClipTextModel  *self);
guint             lk_clip_text_model_get_context  (LkClipTextModel  *self);

/* ids: batch × context token ids (lk_tokenizer_encode_padded()). Records the forward pass into
 * @stream and returns the hidden states [batch, context, width] as f32. clip_skip 1 is the last
 * layer's output, 2 the one before it (A1111's "clip skip"), and so on; the final layer norm is
 * applied either way. Activations are f32, weights f16, arithmetic f32. */
LkTensor         *lk_clip_text_model_forward      (LkClipTextModel  *self,
                                                   LkStream         *stream,
                                                   const gint32     *ids,
                                                   guint             batch,
                                                   guint             clip_skip,
                                                   GError          **error);

/* The device weights, canonical name (LK_CLIP_TEXT_PREFIX…) → LkTensor * (borrowed, f16,
 * contiguous), for lk_lora_merge(). A new table; the tensors stay the model's. */
GHashTable       *lk_clip_text_model_get_weights  (LkClipTextModel  *self);

/* A1111's emphasis, on the host: hidden [n_tokens, dim] (one chunk, or a batch of them) is
 * multiplied token by token by weights [n_tokens], then scaled so its overall mean is what it was
 * before. */
void              lk_clip_apply_prompt_weights    (float            *hidden,
                                                   const float      *weights,
                                                   gsize             n_tokens,
                                                   gsize             dim);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkClipTextModel, lk_clip_text_model_unref)

G_END_DECLS
