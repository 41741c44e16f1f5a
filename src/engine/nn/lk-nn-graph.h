/* lk-nn-graph.h: the layers every network module builds its forward pass from
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each records one op into @stream and returns a new f32 tensor drawn from @arena, or NULL with
 * @error set; inputs are borrowed. Callers drop intermediates as soon as they are used, so the
 * arena hands their memory to the next ones.
 */
#pragma once

#include "lk-ops.h"

G_BEGIN_DECLS

/* torch's Linear over the last dimension: y = x · wᵀ + b; x is [B, D] or [B, N, D], w [out, D],
 * b [out] or NULL. */
LkTensor *lk_graph_linear      (LkArena   *arena,
                                LkStream  *stream,
                                LkTensor  *x,
                                LkTensor  *w,
                                LkTensor  *b,
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

G_END_DECLS
