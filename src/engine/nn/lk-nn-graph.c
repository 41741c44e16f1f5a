/* lk-nn-graph.c: the layers every network module builds its forward pass from
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-nn-graph.h"

LkTensor *
lk_graph_linear (LkArena   *arena,
                 LkStream  *stream,
                 LkTensor  *x,
                 LkTensor  *w,
                 LkTensor  *b,
                 GError   **error)
{
  LkGemmOptions options = { FALSE, TRUE, 1.0f };
  gint64 shape[LK_MAX_DIMS];
  g_autoptr(LkTensor) y = NULL;

  memcpy (shape, x->shape, sizeof shape);
  shape[x->ndim - 1] = w->shape[0];
  y = lk_arena_tensor (arena, LK_DTYPE_F32, x->ndim, shape, error);
  if (y == NULL || !lk_op_gemm (stream, x, w, b, y, &options, error))
    return NULL;
  return g_steal_pointer (&y);
}

LkTensor *
lk_graph_layer_norm (LkArena   *arena,
                     LkStream  *stream,
                     LkTensor  *x,
                     LkTensor  *w,
                     LkTensor  *b,
                     float      eps,
                     GError   **error)
{
  g_autoptr(LkTensor) y = lk_arena_tensor (arena, LK_DTYPE_F32, x->ndim, x->shape, error);

  if (y == NULL || !lk_op_layer_norm (stream, x, w, b, y, eps, error))
    return NULL;
  return g_steal_pointer (&y);
}

LkTensor *
lk_graph_group_norm (LkArena   *arena,
                     LkStream  *stream,
                     LkTensor  *x,
                     LkTensor  *w,
                     LkTensor  *b,
                     guint      groups,
                     float      eps,
                     gboolean   silu,
                     GError   **error)
{
  g_autoptr(LkTensor) y = lk_arena_tensor (arena, LK_DTYPE_F32, x->ndim, x->shape, error);

  if (y == NULL || !lk_op_group_norm (stream, x, w, b, y, groups, eps, silu, error))
    return NULL;
  return g_steal_pointer (&y);
}

LkTensor *
lk_graph_add (LkArena   *arena,
              LkStream  *stream,
              LkTensor  *a,
              LkTensor  *b,
              GError   **error)
{
  g_autoptr(LkTensor) y = lk_arena_tensor (arena, LK_DTYPE_F32, a->ndim, a->shape, error);

  if (y == NULL || !lk_op_add (stream, a, b, y, error))
    return NULL;
  return g_steal_pointer (&y);
}

LkTensor *
lk_graph_conv2d (LkArena   *arena,
                 LkStream  *stream,
                 LkTensor  *x,
                 LkTensor  *w,
                 LkTensor  *b,
                 guint      stride,
                 GError   **error)
{
  gint64 k = w->shape[2], padding = k == 3 ? 1 : 0;
  LkConv2dOptions options = { stride, padding };
  gint64 shape[4] = {
    x->shape[0], w->shape[0], (x->shape[2] + 2 * padding - k) / stride + 1,
    (x->shape[3] + 2 * padding - k) / stride + 1,
  };
  g_autoptr(LkTensor) y = lk_arena_tensor (arena, LK_DTYPE_F32, 4, shape, error);

  if (y == NULL || !lk_op_conv2d (stream, x, w, b, y, &options, error))
    return NULL;
  return g_steal_pointer (&y);
}
