/* lk-ops-backward-attention.c: fused attention backward, flash style
 *
 * Two passes, neither storing a score matrix: per query row, the log-sum-exp of its scores,
 * Dᵢ = dOᵢ · Oᵢ and dq (attention_backward_query.comp); then per key row, dk and dv
 * (attention_backward_key.comp), recomputing each probability from the stored log-sum-exp.
 * Giving each output row one owner costs one more sweep of the scores than atomics would, and
 * buys determinism.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include <math.h>

#include "lk-ops-backward-private.h"

#define MAX_HEAD_DIM 256

gboolean
lk_op_attention_backward (LkStream  *stream,
                          LkTensor  *q,
                          LkTensor  *k,
                          LkTensor  *v,
                          LkTensor  *o,
                          LkTensor  *d_o,
                          LkTensor  *dq,
                          LkTensor  *dk,
                          LkTensor  *dv,
                          guint      heads,
                          float      scale,
                          gboolean   causal,
                          GError   **error)
{
  LkContext *context;
  const LkDeviceInfo *info;
  gint64 batch, nq, nk, hd, head_dim;
  guint32 local_size;
  g_autoptr(LkTensor) stats = NULL;
  LkKernel *pipeline;
  struct { guint32 nq, nk, hd, heads; float scale; } push;
  LkTensor *all[] = { q, k, v, o, d_o, dq, dk, dv };
  static const char *names[] = { "q", "k", "v", "o", "d_o", "dq", "dk", "dv" };

  g_return_val_if_fail (stream != NULL && q != NULL && k != NULL && v != NULL && o != NULL &&
                        d_o != NULL && dq != NULL && dk != NULL && dv != NULL, FALSE);
  context = lk_stream_get_context (stream);
  info = lk_context_get_info (context);

  if (q->ndim != 3 || k->ndim != 3 || !lk_tensor_same_shape (k, v) ||
      !lk_tensor_same_shape (q, o) || !lk_tensor_same_shape (q, d_o) ||
      !lk_tensor_same_shape (q, dq) || !lk_tensor_same_shape (k, dk) ||
      !lk_tensor_same_shape (v, dv) || k->shape[0] != q->shape[0] ||
      k->shape[2] != q->shape[2] || heads == 0 || q->shape[2] % heads != 0 ||
      lk_tensor_numel (q) == 0 || lk_tensor_numel (k) == 0)
    {
      g_autofree char *dqs = lk_tensor_describe (q);
      g_autofree char *dks = lk_tensor_describe (k);
      g_autofree char *dvs = lk_tensor_describe (v);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "attention backward: q %s, k %s, v %s with %u heads; expected q, o, d_o and "
                   "dq [B, Nq, heads·D], k, v, dk and dv [B, Nk, heads·D]", dqs, dks, dvs, heads);
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    if (!lk_backward_check (all[i], "attention backward", names[i], error))
      return FALSE;

  batch = q->shape[0];
  nq = q->shape[1];
  nk = k->shape[1];
  hd = q->shape[2];
  head_dim = hd / heads;
  if (head_dim > MAX_HEAD_DIM || head_dim % 4 != 0 || heads > info->max_workgroup_count[1] ||
      batch > info->max_workgroup_count[2] || batch * heads * nq * 2 >= G_MAXUINT32)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "attention backward: head dim %" G_GINT64_FORMAT " (a multiple of 4, at most %d), %u heads or "
                   "batch %" G_GINT64_FORMAT " is beyond what one dispatch covers",
                   head_dim, MAX_HEAD_DIM, heads, batch);
      return FALSE;
    }
  if (scale == 0.0f)
    scale = 1.0f / sqrtf (head_dim);

  local_size = MIN (64, info->max_workgroup_invocations);
  if ((nq + local_size - 1) / local_size > info->max_workgroup_count[0] ||
      (nk + local_size - 1) / local_size > info->max_workgroup_count[0])
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "attention backward: %" G_GINT64_FORMAT " rows are more than one dispatch covers",
                   MAX (nq, nk));
      return FALSE;
    }

  /* Per (batch, head, query): the log-sum-exp and Dᵢ, interleaved. */
  stats = lk_tensor_new (context, LK_DTYPE_F32, 1, (gint64[]) { 2 * batch * heads * nq }, error);
  if (stats == NULL || !lk_backward_check (stats, "attention backward", "statistics", error))
    return FALSE;

  push.nq = nq;
  push.nk = nk;
  push.hd = hd;
  push.heads = heads;
  push.scale = scale;

  {
    guint32 spec[] = {
      local_size, 1, 1, head_dim, lk_backward_is_f16 (q), lk_backward_is_f16 (k),
      lk_backward_is_f16 (v), lk_backward_is_f16 (o), lk_backward_is_f16 (d_o),
      lk_backward_is_f16 (dq), causal != FALSE,
    };

    pipeline = lk_context_get_kernel (context, "attention_backward_query", 7, sizeof push, spec,
                                      G_N_ELEMENTS (spec), error);
    if (pipeline == NULL)
      return FALSE;
    lk_stream_dispatch (stream, pipeline,
                        (LkBinding[]) { lk_tensor_binding (q, LK_ACCESS_READ),
                                        lk_tensor_binding (k, LK_ACCESS_READ),
                                        lk_tensor_binding (v, LK_ACCESS_READ),
                                        lk_tensor_binding (o, LK_ACCESS_READ),
                                        lk_tensor_binding (d_o, LK_ACCESS_READ),
                                        lk_tensor_binding (dq, LK_ACCESS_WRITE),
                                        lk_tensor_binding (stats, LK_ACCESS_WRITE) },
                        7, &push, sizeof push, (nq + local_size - 1) / local_size, heads, batch);
  }
  {
    guint32 spec[] = {
      local_size, 1, 1, head_dim, lk_backward_is_f16 (q), lk_backward_is_f16 (k),
      lk_backward_is_f16 (v), lk_backward_is_f16 (d_o), lk_backward_is_f16 (dk),
      lk_backward_is_f16 (dv), causal != FALSE,
    };

    pipeline = lk_context_get_kernel (context, "attention_backward_key", 7, sizeof push, spec,
                                      G_N_ELEMENTS (spec), error);
    if (pipeline == NULL)
      return FALSE;
    lk_stream_dispatch (stream, pipeline,
                        (LkBinding[]) { lk_tensor_binding (q, LK_ACCESS_READ),
                                        lk_tensor_binding (k, LK_ACCESS_READ),
                                        lk_tensor_binding (v, LK_ACCESS_READ),
                                        lk_tensor_binding (d_o, LK_ACCESS_READ),
                                        lk_tensor_binding (stats, LK_ACCESS_READ),
                                        lk_tensor_binding (dk, LK_ACCESS_WRITE),
                                        lk_tensor_binding (dv, LK_ACCESS_WRITE) },
                        7, &push, sizeof push, (nk + local_size - 1) / local_size, heads, batch);
  }
  return TRUE;
}
