/* lk-ops-embedding.c: embedding lookup (gather rows of a table by id)
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include "lk-ops-private.h"

gboolean
lk_op_embedding (LkStream  *stream,
                 LkTensor  *table,
                 LkTensor  *ids,
                 LkTensor  *y,
                 GError   **error)
{
  LkContext *context = lk_stream_get_context (stream);
  guint32 spec[] = { LK_OPS_LOCAL_SIZE_1D, 1, 1, table->dtype == LK_DTYPE_F16, y->dtype == LK_DTYPE_F16 };
  gint64 n = lk_tensor_numel (y);
  gint64 dim;
  LkKernel *pipeline;
  guint32 gx, gy;
  gboolean shapes_match;

  shapes_match = table->ndim == 2 && y->ndim == ids->ndim + 1 && table->shape[0] > 0 &&
                 y->shape[y->ndim - 1] == table->shape[1];
  for (guint d = 0; shapes_match && d < ids->ndim; d++)
    shapes_match = ids->shape[d] == y->shape[d];
  if (!shapes_match)
    {
      g_autofree char *dt = lk_tensor_describe (table);
      g_autofree char *di = lk_tensor_describe (ids);
      g_autofree char *dy = lk_tensor_describe (y);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "embedding: table %s, ids %s, y %s; expected table [V, D], ids [...], "
                   "y [..., D]", dt, di, dy);
      return FALSE;
    }
  if (ids->dtype != LK_DTYPE_F32)
    {
      g_set_error_literal (error, LK_OP_ERROR, LK_OP_ERROR_DTYPE,
                           "embedding: ids must be f32 (whole numbers)");
      return FALSE;
    }
  if (!lk_ops_check_contiguous (table, "embedding", "table", error) ||
      !lk_ops_check_contiguous (ids, "embedding", "ids", error) ||
      !lk_ops_check_contiguous (y, "embedding", "y", error) ||
      !lk_ops_check_fits (table, "embedding", "table", error) ||
      !lk_ops_check_fits (ids, "embedding", "ids", error) ||
      !lk_ops_check_fits (y, "embedding", "y", error))
    return FALSE;
  if (n == 0)
    return TRUE;
  dim = table->shape[1];
  if (table->shape[0] > G_MAXUINT32 || n > G_MAXUINT32)
    {
      g_set_error_literal (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                           "embedding: over 2^32 elements");
      return FALSE;
    }

  pipeline = lk_context_get_kernel (context, "embedding", 3, 3 * sizeof (guint32), spec,
                                    G_N_ELEMENTS (spec), error);
  if (pipeline == NULL)
    return FALSE;

  {
    struct { guint32 n, dim, vocab; } push = { n, dim, table->shape[0] };
    LkBinding bindings[] = {
      lk_tensor_binding (table, LK_ACCESS_READ),
      lk_tensor_binding (ids, LK_ACCESS_READ),
      lk_tensor_binding (y, LK_ACCESS_WRITE),
    };

    lk_ops_grid_1d (context, (n + LK_OPS_LOCAL_SIZE_1D - 1) / LK_OPS_LOCAL_SIZE_1D, &gx, &gy);
    lk_stream_dispatch (stream, pipeline, bindings, G_N_ELEMENTS (bindings), &push, sizeof push,
                        gx, gy, 1);
  }
  return TRUE;
}
