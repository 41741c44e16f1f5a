/* lk-ops-elementwise.c: unary, binary with broadcasting, GEGLU, concat, upsample, timestep
 * embedding
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include <math.h>

#include "lk-ops-private.h"

static gboolean
is_f16 (LkTensor *t)
{
  return t->dtype == LK_DTYPE_F16;
}

gboolean
lk_op_unary (LkStream   *stream,
             LkUnaryOp   op,
             LkTensor   *x,
             float       alpha,
             float       beta,
             LkTensor   *y,
             GError    **error)
{
  LkContext *context = lk_stream_get_context (stream);
  gint64 n = lk_tensor_numel (x);
  gint64 chunk = lk_ops_chunk_elements (context, 4);
  guint32 spec[] = { op, is_f16 (x), is_f16 (y) };

  g_return_val_if_fail (op < LK_N_UNARY_OPS, FALSE);

  if (!lk_ops_check_shape_equal (x, y, "unary", error) ||
      !lk_ops_check_contiguous (x, "unary", "x", error) ||
      !lk_ops_check_contiguous (y, "unary", "y", error))
    return FALSE;

  /* Large tensors go in aligned chunks, each bound as a range. */
  for (gint64 first = 0; first < n; first += chunk)
    {
      gint64 count = MIN (chunk, n - first);
      struct { guint32 n; float alpha, beta; } push = { count, alpha, beta };
      LkBinding bindings[] = {
        lk_tensor_binding_range (x, first, count, LK_ACCESS_READ),
        lk_tensor_binding_range (y, first, count, LK_ACCESS_WRITE),
      };

      if (!lk_ops_dispatch_1d (stream, "unary", spec, G_N_ELEMENTS (spec), bindings, 2, &push,
                               sizeof push, count, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
lk_op_cast (LkStream  *stream,
            LkTensor  *x,
            LkTensor  *y,
            GError   **error)
{
  return lk_op_unary (stream, LK_UNARY_IDENTITY, x, 1.0f, 0.0f, y, error);
}

gboolean
lk_op_scale (LkStream  *stream,
             LkTensor  *x,
             float      alpha,
             LkTensor  *y,
             GError   **error)
{
  return lk_op_unary (stream, LK_UNARY_IDENTITY, x, alpha, 0.0f, y, error);
}

gboolean
lk_op_silu (LkStream  *stream,
            LkTensor  *x,
            LkTensor  *y,
            GError   **error)
{
  return lk_op_unary (stream, LK_UNARY_SILU, x, 1.0f, 0.0f, y, error);
}

gboolean
lk_op_gelu (LkStream  *stream,
            LkTensor  *x,
            LkTensor  *y,
            GError   **error)
{
  return lk_op_unary (stream, LK_UNARY_GELU, x, 1.0f, 0.0f, y, error);
}

/* Strides of @t over the 4-D output coordinates, 0 along broadcast dimensions. */
static gboolean
broadcast_strides (LkTensor     *t,
                   const gint64 *out_shape,
                   guint32      *strides,
                   GError      **error)
{
  guint pad = LK_MAX_DIMS - t->ndim;

  for (guint d = 0; d < LK_MAX_DIMS; d++)
    {
      gint64 size = d < pad ? 1 : t->shape[d - pad];

      if (size != 1 && size != out_shape[d])
        {
          g_autofree char *desc = lk_tensor_describe (t);

          g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                       "binary: %s does not broadcast to the output", desc);
          return FALSE;
        }
      strides[d] = size == 1 ? 0 : t->strides[d - pad];
    }
  return TRUE;
}

gboolean
lk_op_binary (LkStream    *stream,
              LkBinaryOp   op,
              LkTensor    *a,
              LkTensor    *b,
              LkTensor    *y,
              GError     **error)
{
  LkContext *context = lk_stream_get_context (stream);
  gint64 shape[LK_MAX_DIMS];
  guint pad = LK_MAX_DIMS - y->ndim;
  struct {
    guint32 shape[4], a_strides[4], b_strides[4];
    guint32 n, base, a_base, b_base;
  } push = { 0 };
  guint32 spec[] = { op, is_f16 (a), is_f16 (b), is_f16 (y), FALSE };
  gint64 n = lk_tensor_numel (y);
  gint64 chunk = lk_ops_chunk_elements (context, 4);
  gboolean a_full, b_full;

  g_return_val_if_fail (op < LK_N_BINARY_OPS, FALSE);

  if (!lk_ops_check_contiguous (y, "binary", "y", error))
    return FALSE;
  for (guint d = 0; d < LK_MAX_DIMS; d++)
    shape[d] = push.shape[d] = d < pad ? 1 : y->shape[d - pad];
  if (a->ndim > y->ndim || b->ndim > y->ndim ||
      !broadcast_strides (a, shape, push.a_strides, error) ||
      !broadcast_strides (b, shape, push.b_strides, error))
    {
      if (error && *error == NULL)
        g_set_error_literal (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                             "binary: an operand has more dimensions than the output");
      return FALSE;
    }

  /* An operand as large as the output is bound chunk by chunk beside it; a broadcast one is
   * bound whole and must fit. */
  a_full = lk_tensor_numel (a) == n && lk_tensor_is_contiguous (a);
  b_full = lk_tensor_numel (b) == n && lk_tensor_is_contiguous (b);
  if ((!a_full && !lk_ops_check_fits (a, "binary", "a", error)) ||
      (!b_full && !lk_ops_check_fits (b, "binary", "b", error)))
    return FALSE;
  spec[4] = a_full && b_full;

  for (gint64 first = 0; first < n; first += chunk)
    {
      gint64 count = MIN (chunk, n - first);
      LkBinding bindings[] = {
        a_full ? lk_tensor_binding_range (a, first, count, LK_ACCESS_READ) : lk_tensor_binding (a, LK_ACCESS_READ),
        b_full ? lk_tensor_binding_range (b, first, count, LK_ACCESS_READ) : lk_tensor_binding (b, LK_ACCESS_READ),
        lk_tensor_binding_range (y, first, count, LK_ACCESS_WRITE),
      };

      push.n = count;
      push.base = first;
      push.a_base = a_full ? first : 0;
      push.b_base = b_full ? first : 0;
      if (!lk_ops_dispatch_1d (stream, "binary", spec, G_N_ELEMENTS (spec), bindings, 3, &push,
                               sizeof push, count, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
lk_op_add (LkStream  *stream,
           LkTensor  *a,
           LkTensor  *b,
           LkTensor  *y,
           GError   **error)
{
  return lk_op_binary (stream, LK_BINARY_ADD, a, b, y, error);
}

gboolean
lk_op_mul (LkStream  *stream,
           LkTensor  *a,
           LkTensor  *b,
           LkTensor  *y,
           GError   **error)
{
  return lk_op_binary (stream, LK_BINARY_MUL, a, b, y, error);
}

gboolean
lk_op_geglu (LkStream  *stream,
             LkTensor  *x,
             LkTensor  *y,
             GError   **error)
{
  LkContext *context = lk_stream_get_context (stream);
  gint64 h = y->shape[y->ndim - 1];
  gint64 rows = lk_tensor_numel (y) / h;
  guint32 spec[] = { LK_OPS_LOCAL_SIZE_1D, 1, 1, is_f16 (x), is_f16 (y) };
  /* Rows per dispatch: within the grid's y limit and one binding of x, the larger operand. A
   * multiple of 256 rows starts every chunk at an offset aligned for any dtype. */
  gint64 chunk = MIN (lk_context_get_info (context)->max_workgroup_count[1],
                      lk_ops_chunk_elements (context, 4) / (2 * h)) / 256 * 256;
  LkKernel *pipeline;
  guint32 push;

  if (x->ndim != y->ndim || x->shape[x->ndim - 1] != 2 * h ||
      lk_tensor_numel (x) != 2 * lk_tensor_numel (y))
    {
      g_autofree char *dx = lk_tensor_describe (x);
      g_autofree char *dy = lk_tensor_describe (y);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "geglu: %s → %s: the last dimension must halve", dx, dy);
      return FALSE;
    }
  if (!lk_ops_check_contiguous (x, "geglu", "x", error) ||
      !lk_ops_check_contiguous (y, "geglu", "y", error))
    return FALSE;
  if (chunk == 0)
    {
      /* Rows too wide to split by 256: the whole of x must fit one binding. */
      if (!lk_ops_check_fits (x, "geglu", "x", error))
        return FALSE;
      chunk = rows;
    }

  pipeline = lk_context_get_kernel (context, "geglu", 2, sizeof push, spec, G_N_ELEMENTS (spec), error);
  if (pipeline == NULL)
    return FALSE;
  push = h;
  for (gint64 first = 0; first < rows; first += chunk)
    {
      gint64 count = MIN (chunk, rows - first);
      LkBinding bindings[] = {
        lk_tensor_binding_range (x, first * 2 * h, count * 2 * h, LK_ACCESS_READ),
        lk_tensor_binding_range (y, first * h, count * h, LK_ACCESS_WRITE),
      };

      lk_stream_dispatch (stream, pipeline, bindings, 2, &push, sizeof push,
                          (h + LK_OPS_LOCAL_SIZE_1D - 1) / LK_OPS_LOCAL_SIZE_1D, count, 1);
    }
  return TRUE;
}

gboolean
lk_op_concat_channels (LkStream  *stream,
                       LkTensor  *a,
                       LkTensor  *b,
                       LkTensor  *y,
                       GError   **error)
{
  guint32 spec[] = { is_f16 (a), is_f16 (b), is_f16 (y) };
  struct { guint32 n, inner, ca, cb; } push;
  gboolean ok = a->ndim == 4 && b->ndim == 4 && y->ndim == 4 &&
                a->shape[0] == y->shape[0] && b->shape[0] == y->shape[0] &&
                a->shape[1] + b->shape[1] == y->shape[1];

  for (guint d = 2; ok && d < 4; d++)
    ok = a->shape[d] == y->shape[d] && b->shape[d] == y->shape[d];
  if (!ok)
    {
      g_autofree char *da = lk_tensor_describe (a);
      g_autofree char *db = lk_tensor_describe (b);
      g_autofree char *dy = lk_tensor_describe (y);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE, "concat: %s + %s ≠ %s", da, db, dy);
      return FALSE;
    }
  if (!lk_ops_check_contiguous (a, "concat", "a", error) ||
      !lk_ops_check_contiguous (b, "concat", "b", error) ||
      !lk_ops_check_contiguous (y, "concat", "y", error) ||
      !lk_ops_check_fits (y, "concat", "y", error))
    return FALSE;

  push.n = lk_tensor_numel (y);
  push.inner = y->shape[2] * y->shape[3];
  push.ca = a->shape[1];
  push.cb = b->shape[1];
  return lk_ops_dispatch_1d (stream, "concat", spec, G_N_ELEMENTS (spec),
                             (LkBinding[]) { lk_tensor_binding (a, LK_ACCESS_READ),
                                             lk_tensor_binding (b, LK_ACCESS_READ),
                                             lk_tensor_binding (y, LK_ACCESS_WRITE) },
                             3, &push, sizeof push, push.n, error);
}

gboolean
lk_op_upsample_nearest2x (LkStream  *stream,
                          LkTensor  *x,
                          LkTensor  *y,
                          GError   **error)
{
  guint32 spec[] = { is_f16 (x), is_f16 (y) };
  struct { guint32 n, h, w; } push;

  if (x->ndim != 4 || y->ndim != 4 || x->shape[0] != y->shape[0] || x->shape[1] != y->shape[1] ||
      y->shape[2] != 2 * x->shape[2] || y->shape[3] != 2 * x->shape[3])
    {
      g_autofree char *dx = lk_tensor_describe (x);
      g_autofree char *dy = lk_tensor_describe (y);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE, "upsample: %s → %s is not ×2", dx, dy);
      return FALSE;
    }
  if (!lk_ops_check_contiguous (x, "upsample", "x", error) ||
      !lk_ops_check_contiguous (y, "upsample", "y", error) ||
      !lk_ops_check_fits (y, "upsample", "y", error))
    return FALSE;

  push.n = lk_tensor_numel (y);
  push.h = x->shape[2];
  push.w = x->shape[3];
  return lk_ops_dispatch_1d (stream, "upsample_nearest2x", spec, G_N_ELEMENTS (spec),
                             (LkBinding[]) { lk_tensor_binding (x, LK_ACCESS_READ),
                                             lk_tensor_binding (y, LK_ACCESS_WRITE) },
                             2, &push, sizeof push, push.n, error);
}

gboolean
lk_op_timestep_embedding (LkStream  *stream,
                          LkTensor  *t,
                          LkTensor  *y,
                          float      max_period,
                          gboolean   flip_sin_to_cos,
                          GError   **error)
{
  guint32 spec[] = { is_f16 (t), is_f16 (y) };
  struct { guint32 n, dim; float log_max_period; guint32 flip; } push;

  if (t->ndim != 1 || y->ndim != 2 || y->shape[0] != t->shape[0] || y->shape[1] < 2)
    {
      g_autofree char *dt = lk_tensor_describe (t);
      g_autofree char *dy = lk_tensor_describe (y);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "timestep embedding: %s → %s; expected t [B] and y [B, dim]", dt, dy);
      return FALSE;
    }

  push.n = lk_tensor_numel (y);
  push.dim = y->shape[1];
  push.log_max_period = logf (max_period);
  push.flip = flip_sin_to_cos;
  return lk_ops_dispatch_1d (stream, "timestep_embedding", spec, G_N_ELEMENTS (spec),
                             (LkBinding[]) { lk_tensor_binding (t, LK_ACCESS_READ),
                                             lk_tensor_binding (y, LK_ACCESS_WRITE) },
                             2, &push, sizeof push, push.n, error);
}
