/* lk-clip-private.h: the text encoder's layers, shared with its LoRA trainer (lk-clip-train.c)
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-clip.h"
#include "lk-nn-graph.h"

G_BEGIN_DECLS

#define LK_CLIP_HEAD_DIM       64
#define LK_CLIP_LAYER_NORM_EPS 1e-5f

typedef struct
{
  LkTensor *ln1_w, *ln1_b;
  LkTensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *out_w, *out_b;
  LkTensor *ln2_w, *ln2_b;
  LkTensor *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} LkClipLayer;

struct _LkClipTextModel
{
  gatomicrefcount  ref_count;
  guint            vocab;
  guint            width;
  guint            context;
  guint            mlp;
  guint            n_layers;

  /* owned, all f16 on the device */
  LkTensor        *token_embedding;     /* [vocab, width] */
  LkTensor        *position_embedding;  /* [context, width] */
  LkClipLayer     *layers;
  LkTensor        *final_ln_w, *final_ln_b;
};

/* Checks @clip_skip and every id (an LK_OP_ERROR before anything is recorded), then records the
 * token and position embeddings of ids (batch × context) into @stream: [batch, context, width],
 * f32, from @arena. */
LkTensor *lk_clip_text_model_embed (LkClipTextModel  *self,
                                    LkArena          *arena,
                                    LkStream         *stream,
                                    const gint32     *ids,
                                    guint             batch,
                                    guint             clip_skip,
                                    GError          **error);

G_END_DECLS
