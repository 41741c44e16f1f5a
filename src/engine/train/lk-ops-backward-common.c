/* lk-ops-backward-common.c: checks and the column sum the backward ops share
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include "lk-ops-backward-private.h"

/* Rows one column-sum invocation adds in order before the next stage takes over: f32 sums of
 * 256 terms lose about 256 · 2⁻²⁴ relative at worst. */
#define ROWS_PER_CHUNK 256
#define COLUMN_SUM_LOCAL_SIZE 64

gboolean
lk_backward_check (LkTensor    *t,
                   const char  *op,
                   const char  *what,
                   GError     **error)
{
  return lk_ops_check_contiguous (t, op, what, error) && lk_ops_check_fits (t, op, what, error);
}

/* One stage: chunk i of ROWS_PER_CHUNK rows → row i of @y. */
static gboolean
column_sum_stage (LkStream  *stream,
                  LkTensor  *x,
                  gint64     x_offset,
                  gint64     rows,
                  gint64     cols,
                  gint64     row_stride,
                  LkTensor  *y,
                  GError   **error)
{
  LkContext *context = lk_stream_get_context (stream);
  /* At least one chunk: an empty sum writes zeros. */
  gint64 n_chunks = MAX (1, (rows + ROWS_PER_CHUNK - 1) / ROWS_PER_CHUNK);
  guint32 spec[] = { COLUMN_SUM_LOCAL_SIZE, 1, 1, lk_backward_is_f16 (x), lk_backward_is_f16 (y) };
  struct { guint32 rows, cols, row_stride, x_base, rows_per_chunk; } push = {
    rows, cols, row_stride, x_offset, ROWS_PER_CHUNK,
  };
  LkKernel *pipeline;

  if (n_chunks > lk_context_get_info (context)->max_workgroup_count[1] ||
      (cols + COLUMN_SUM_LOCAL_SIZE - 1) / COLUMN_SUM_LOCAL_SIZE >
        lk_context_get_info (context)->max_workgroup_count[0])
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "column sum: %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT " is too large for one "
                   "dispatch", rows, cols);
      return FALSE;
    }
  pipeline = lk_context_get_kernel (context, "column_sum", 2, sizeof push, spec,
                                    G_N_ELEMENTS (spec), error);
  if (pipeline == NULL)
    return FALSE;
  lk_stream_dispatch (stream, pipeline,
                      (LkBinding[]) { lk_tensor_binding (x, LK_ACCESS_READ),
                                      lk_tensor_binding (y, LK_ACCESS_WRITE) },
                      2, &push, sizeof push,
                      (cols + COLUMN_SUM_LOCAL_SIZE - 1) / COLUMN_SUM_LOCAL_SIZE, n_chunks, 1);
  return TRUE;
}

gboolean
lk_backward_sum_columns (LkStream  *stream,
                         LkTensor  *x,
                         gint64     x_offset,
                         gint64     rows,
                         gint64     cols,
                         gint64     row_stride,
                         LkTensor  *y,
                         GError   **error)
{
  LkContext *context = lk_stream_get_context (stream);
  g_autoptr(LkTensor) partial = NULL;

  g_assert (lk_tensor_numel (y) >= cols);
  if (cols == 0)
    return TRUE;
  /* Long columns go through f32 partial sums, one row per chunk, until one chunk is left. */
  while (rows > ROWS_PER_CHUNK)
    {
      gint64 n_chunks = (rows + ROWS_PER_CHUNK - 1) / ROWS_PER_CHUNK;
      g_autoptr(LkTensor) next = lk_tensor_new (context, LK_DTYPE_F32, 2,
                                                (gint64[]) { n_chunks, cols }, error);

      if (next == NULL ||
          !lk_ops_check_fits (next, "column sum", "partial sums", error) ||
          !column_sum_stage (stream, partial ? partial : x, partial ? 0 : x_offset, rows, cols,
                             partial ? cols : row_stride, next, error))
        return FALSE;
      g_clear_pointer (&partial, lk_tensor_unref);
      partial = g_steal_pointer (&next);
      rows = n_chunks;
    }
  return column_sum_stage (stream, partial ? partial : x, partial ? 0 : x_offset, rows, cols,
                           partial ? cols : row_stride, y, error);
}

gboolean
lk_op_sum_rows (LkStream  *stream,
                LkTensor  *x,
                LkTensor  *y,
                GError   **error)
{
  gint64 cols;

  g_return_val_if_fail (stream != NULL && x != NULL && y != NULL, FALSE);

  cols = x->ndim > 0 ? x->shape[x->ndim - 1] : 1;
  if (y->ndim != 1 || y->shape[0] != cols)
    {
      g_autofree char *dx = lk_tensor_describe (x);
      g_autofree char *dy = lk_tensor_describe (y);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "sum rows: %s → %s; expected y [%" G_GINT64_FORMAT "]", dx, dy, cols);
      return FALSE;
    }
  if (!lk_backward_check (x, "sum rows", "x", error) ||
      !lk_backward_check (y, "sum rows", "y", error))
    return FALSE;
  return lk_backward_sum_columns (stream, x, 0, cols > 0 ? lk_tensor_numel (x) / cols : 0, cols,
                                  cols, y, error);
}
