/* lk-nn-graph.h: the layers every network module builds its forward pass from
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each records one op into @stream and returns a new tensor drawn from @arena (f32, or the dtype
 * the _to variants are given), or NULL with @error set; inputs are borrowed. Callers drop intermediates as soon as they are used, so the
 * arena hands their memory to the next ones.
 */
#pragma once

#include "lk-ops.h"
#include "lk-model-kind.h"
#include "lk-weights.h"

G_BEGIN_DECLS

/* torch's Linear over the last dimension: y = x · wᵀ + b; x is [B, D] or [B, N, D], w [out, D],
 * b [out] or NULL. */
LkTensor *lk_graph_linear      (LkArena   *arena,
                                LkStream  *stream,
                                LkTensor  *x,
                                LkTensor  *w,
                                LkTensor  *b,
                                GError   **error);
/* The same with y in @dtype. */
LkTensor *lk_graph_linear_to   (LkArena   *arena,
                                LkStream  *stream,
                                LkTensor  *x,
                                LkTensor  *w,
                                LkTensor  *b,
                                LkDType    dtype,
                                GError   **error);
LkTensor *lk_graph_layer_norm  (LkArena   *arena,
                                LkStream  *stream,
                                LkTensor  *x,
                                LkTensor  *w,
                                LkTensor  *b,
                                float      eps,
                                GError   **error);
LkTensor *lk_graph_group_norm  (LkArena   *arena,
                                LkStream  *stream,
                                LkTensor  *x,
                                LkTensor  *w,
                                LkTensor  *b,
                                guint      groups,
                                float      eps,
                                gboolean   silu,
                                GError   **error);
/* The same with the output in @dtype. Normalised activations are bounded (a few units, times
 * the affine weight), so f16 holds them without overflow; the networks store the inputs of
 * their convolutions and projections that way, halving what those kernels load. */
LkTensor *lk_graph_layer_norm_to (LkArena   *arena,
                                  LkStream  *stream,
                                  LkTensor  *x,
                                  LkTensor  *w,
                                  LkTensor  *b,
                                  float      eps,
                                  LkDType    dtype,
                                  GError   **error);
LkTensor *lk_graph_group_norm_to (LkArena   *arena,
                                  LkStream  *stream,
                                  LkTensor  *x,
                                  LkTensor  *w,
                                  LkTensor  *b,
                                  guint      groups,
                                  float      eps,
                                  gboolean   silu,
                                  LkDType    dtype,
                                  GError   **error);
/* y = a + b, b broadcast to a's shape. */
LkTensor *lk_graph_add         (LkArena   *arena,
                                LkStream  *stream,
                                LkTensor  *a,
                                LkTensor  *b,
                                GError   **error);
/* torch's Conv2d as SD uses it: 3×3 kernels padded by 1, 1×1 kernels not at all. */
LkTensor *lk_graph_conv2d      (LkArena   *arena,
                                LkStream  *stream,
                                LkTensor  *x,
                                LkTensor  *w,
                                LkTensor  *b,
                                guint      stride,
                                GError   **error);

/* Where a module's tensors come from: one weights file, or a checkpoint's module set. */
typedef struct
{
  LkWeights    *weights;
  LkModelFiles *files;
} LkWeightSource;

const LkWeightInfo *lk_weight_source_require (const LkWeightSource *source,
                                              const char           *name,
                                              LkWeights           **weights,
                                              GError              **error);
/* Looks @name up, checks that its shape is exactly @shape (an LK_MODEL_ERROR naming the tensor
 * and @architecture, e.g. "an SD1.x UNet", otherwise) and uploads it as f16. */
LkTensor *lk_graph_load_f16    (const LkWeightSource *source,
                                LkStream             *stream,
                                const char           *name,
                                guint                 ndim,
                                const gint64         *shape,
                                const char           *architecture,
                                GError              **error);

G_END_DECLS
