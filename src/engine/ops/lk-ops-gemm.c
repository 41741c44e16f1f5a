/* lk-ops-gemm.c: batched GEMM with either operand transposed, bias, f16/f32 mixes
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include "lk-ops-matmul-private.h"

typedef struct
{
  guint32 m, n, k;
  guint32 a_off, a_sm, a_sk, a_sb;
  guint32 b_off, b_sk, b_sn, b_sb;
  guint32 c_off, c_sb;
  guint32 bias_off;
  float   alpha;
} GemmPush;

/* A tensor of 2 to 4 dimensions as [batch, rows, cols], leading dimensions folded. */
static gboolean
as_matrices (LkTensor *t,
             gint64   *batch,
             gint64   *rows,
             gint64   *cols)
{
  if (t->ndim < 2 || t->ndim > 4)
    return FALSE;
  *batch = 1;
  for (guint d = 0; d + 2 < t->ndim; d++)
    *batch *= t->shape[d];
  *rows = t->shape[t->ndim - 2];
  *cols = t->shape[t->ndim - 1];
  return TRUE;
}

static gboolean
shape_error (GError         **error,
             const char      *why,
             LkTensor        *a,
             LkTensor        *b,
             LkTensor        *bias,
             LkTensor        *c,
             const LkGemmOptions *o)
{
  g_autofree char *da = lk_tensor_describe (a);
  g_autofree char *db = lk_tensor_describe (b);
  g_autofree char *dbias = bias ? lk_tensor_describe (bias) : g_strdup ("none");
  g_autofree char *dc = lk_tensor_describe (c);

  g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
               "gemm: %s: a %s%s, b %s%s, bias %s, c %s", why, da, o->transpose_a ? "ᵀ" : "",
               db, o->transpose_b ? "ᵀ" : "", dbias, dc);
  return FALSE;
}

gboolean
lk_op_gemm (LkStream            *stream,
            LkTensor            *a,
            LkTensor            *b,
            LkTensor            *bias,
            LkTensor            *c,
            const LkGemmOptions *options,
            GError             **error)
{
  LkContext *context = lk_stream_get_context (stream);
  LkGemmOptions o = options ? *options : LK_GEMM_OPTIONS_DEFAULT;
  gint64 batch, batch_b, batch_c, ar, ac, br, bc, cr, cc, m, n, k, kb;
  gint64 rows_per_chunk, batches_per_chunk;
  LkMatmulTiles tiles;
  GemmPush push = { 0 };
  guint32 bias_off = 0;

  g_return_val_if_fail (stream != NULL && a != NULL && b != NULL && c != NULL, FALSE);

  if (!as_matrices (a, &batch, &ar, &ac) || !as_matrices (b, &batch_b, &br, &bc) ||
      !as_matrices (c, &batch_c, &cr, &cc))
    return shape_error (error, "operands must have 2 to 4 dimensions", a, b, bias, c, &o);
  m = o.transpose_a ? ac : ar;
  k = o.transpose_a ? ar : ac;
  kb = o.transpose_b ? bc : br;
  n = o.transpose_b ? br : bc;
  if (k != kb)
    return shape_error (error, "inner dimensions differ", a, b, bias, c, &o);
  if (k == 0)
    return shape_error (error, "the inner dimension is empty", a, b, bias, c, &o);
  if (cr != m || cc != n || batch_c != batch)
    return shape_error (error, "c is not [batch, M, N]", a, b, bias, c, &o);
  if (batch_b != 1 && batch_b != batch)
    return shape_error (error, "b's batch is neither 1 nor a's", a, b, bias, c, &o);
  if (bias != NULL && (bias->ndim != 1 || bias->shape[0] != n))
    return shape_error (error, "bias is not [N]", a, b, bias, c, &o);
  if (!lk_ops_check_contiguous (a, "gemm", "a", error) ||
      !lk_ops_check_contiguous (b, "gemm", "b", error) ||
      !lk_ops_check_contiguous (c, "gemm", "c", error) ||
      (bias != NULL && !lk_ops_check_contiguous (bias, "gemm", "bias", error)))
    return FALSE;
  if (lk_tensor_numel (a) >= G_MAXUINT32 || lk_tensor_numel (b) >= G_MAXUINT32 ||
      lk_tensor_numel (c) >= G_MAXUINT32)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "gemm: operands of 2³² elements or more are not supported");
      return FALSE;
    }
  if (lk_tensor_numel (c) == 0)
    return TRUE;

  /* B (the weights) and bias are bound whole per batch; A and C are split into batches and,
   * when one batch is still too large, into row ranges. A transposed has its rows spread over
   * the whole matrix, so it must fit by the batch. */
  if (!lk_matmul_fits (b, k * n) || (bias != NULL && !lk_matmul_fits (bias, n)))
    {
      g_autofree char *db = lk_tensor_describe (b);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "gemm: b %s (one batch of it) is larger than the device's largest storage "
                   "binding", db);
      return FALSE;
    }
  if (lk_matmul_fits (a, batch * m * k) && lk_matmul_fits (c, batch * m * n) &&
      (batch_b == 1 || lk_matmul_fits (b, batch * k * n)))
    batches_per_chunk = batch;
  else
    batches_per_chunk = 1;
  batches_per_chunk = MIN (batches_per_chunk,
                           lk_context_get_info (context)->max_workgroup_count[2]);
  batches_per_chunk = MIN (batches_per_chunk, 65535);
  if (batches_per_chunk > 1 || (lk_matmul_fits (a, m * k) && lk_matmul_fits (c, m * n)))
    rows_per_chunk = m;
  else if (o.transpose_a && !lk_matmul_fits (a, m * k))
    {
      g_autofree char *da = lk_tensor_describe (a);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "gemm: transposed a %s is larger than the device's largest storage binding "
                   "by the batch", da);
      return FALSE;
    }
  else
    {
      rows_per_chunk = lk_ops_rows_per_binding (c, n);
      if (!o.transpose_a)
        rows_per_chunk = MIN (rows_per_chunk, lk_ops_rows_per_binding (a, k));
      if (rows_per_chunk < 1)
        {
          g_autofree char *da = lk_tensor_describe (a);
          g_autofree char *dc = lk_tensor_describe (c);

          g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                       "gemm: one row of a %s or c %s is larger than the device's largest "
                       "storage binding", da, dc);
          return FALSE;
        }
    }

  lk_matmul_tiles (context, MIN (m, rows_per_chunk), n, &tiles);
  push.n = n;
  push.k = k;
  push.a_sm = o.transpose_a ? 1 : k;
  push.a_sk = o.transpose_a ? m : 1;
  push.a_sb = m * k;
  push.b_sk = o.transpose_b ? 1 : n;
  push.b_sn = o.transpose_b ? k : 1;
  push.b_sb = batch_b == 1 ? 0 : k * n;
  push.c_sb = m * n;
  push.alpha = o.alpha;

  for (gint64 b0 = 0; b0 < batch; b0 += batches_per_chunk)
    for (gint64 m0 = 0; m0 < m; m0 += rows_per_chunk)
      {
        gint64 bn = MIN (batches_per_chunk, batch - b0);
        gint64 mn = MIN (rows_per_chunk, m - m0);
        gint64 a_first = b0 * m * k + (o.transpose_a ? 0 : m0 * k);
        gint64 a_count = o.transpose_a ? bn * m * k : (bn - 1) * m * k + mn * k;
        gint64 c_first = b0 * m * n + m0 * n;
        gint64 c_count = (bn - 1) * m * n + mn * n;
        gint64 b_first = batch_b == 1 ? 0 : b0 * k * n;
        gint64 b_count = batch_b == 1 ? k * n : bn * k * n;
        LkBinding bindings[4];
        guint32 gx, gy;
        LkKernel *pipeline;
        guint32 spec[LK_MATMUL_N_SPEC + 2];

        bindings[0] = lk_ops_bind_span (a, a_first, a_count, LK_ACCESS_READ, &push.a_off);
        bindings[1] = lk_ops_bind_span (b, b_first, b_count, LK_ACCESS_READ, &push.b_off);
        if (bias != NULL)
          bindings[2] = lk_ops_bind_span (bias, 0, n, LK_ACCESS_READ, &bias_off);
        else
          bindings[2] = bindings[1];  /* unused; any valid buffer */
        bindings[3] = lk_ops_bind_span (c, c_first, c_count, LK_ACCESS_WRITE, &push.c_off);
        if (o.transpose_a)
          push.a_off += m0;
        push.m = mn;
        push.bias_off = bias_off;

        lk_matmul_spec (&tiles, a, b, c, bias, spec);
        /* Eight elements per load where the operand runs along k and every row starts at a
         * multiple of eight elements. */
        spec[LK_MATMUL_N_SPEC] = !o.transpose_a && k % 8 == 0 && push.a_off % 8 == 0;
        spec[LK_MATMUL_N_SPEC + 1] = o.transpose_b && k % 8 == 0 && push.b_off % 8 == 0;

        pipeline = lk_context_get_kernel (context, "gemm", 4, sizeof push, spec,
                                          G_N_ELEMENTS (spec), error);
        if (pipeline == NULL)
          return FALSE;
        if (!lk_matmul_grid (context, &tiles, mn, n, &gx, &gy, error))
          {
            g_prefix_error (error, "gemm: ");
            return FALSE;
          }
        lk_stream_dispatch (stream, pipeline, bindings, 4, &push, sizeof push, gx, gy, bn);
      }
  return TRUE;
}
