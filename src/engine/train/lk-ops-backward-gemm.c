/* lk-ops-backward-gemm.c: GEMM gradients as GEMMs with the operands' roles and transposes
 * swapped, plus the column sum for the bias
 *
 * For C = α · op(A) · op(B):  ∂L/∂op(A) = α · dC · op(B)ᵀ  and  ∂L/∂op(B) = α · op(A)ᵀ · dC;
 * a transposed operand gets the transpose of that, which is again one GEMM of the stored
 * tensors with other transpose flags, so nothing is ever transposed in memory.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include "lk-ops-backward-private.h"

static gint64
batch_of (LkTensor *t)
{
  gint64 batch = 1;

  for (guint d = 0; d + 2 < t->ndim; d++)
    batch *= t->shape[d];
  return batch;
}

/* @t seen as [batch, rows, cols], leading dimensions folded; a new reference. */
static LkTensor *
as_3d (LkTensor *t,
       gint64    batch)
{
  gint64 shape[3] = { batch, t->shape[t->ndim - 2], t->shape[t->ndim - 1] };

  return lk_tensor_view (t, 3, shape, 0);
}

/* @t with its batch folded into rows: [batch · rows, cols]. */
static LkTensor *
fold_rows (LkTensor *t)
{
  gint64 cols = t->shape[t->ndim - 1];
  gint64 shape[2] = { lk_tensor_numel (t) / cols, cols };

  return lk_tensor_view (t, 2, shape, 0);
}

static gboolean
grad_of_a (LkStream            *stream,
           LkTensor            *b,
           LkTensor            *dc,
           LkTensor            *da,
           const LkGemmOptions *o,
           GError             **error)
{
  LkGemmOptions g = { FALSE, FALSE, o->alpha };

  if (!o->transpose_a)
    {
      /* dA = α · dC · op(B)ᵀ */
      g.transpose_b = !o->transpose_b;
      return lk_op_gemm (stream, dc, b, NULL, da, &g, error);
    }

  /* A is stored [K, M]: dA = α · op(B) · dCᵀ. */
  if (batch_of (b) != batch_of (dc))
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "gemm backward: a transposed a needs b batched as a is");
      return FALSE;
    }
  g.transpose_a = o->transpose_b;
  g.transpose_b = TRUE;
  return lk_op_gemm (stream, b, dc, NULL, da, &g, error);
}

static gboolean
grad_of_b (LkStream            *stream,
           LkTensor            *a,
           LkTensor            *dc,
           LkTensor            *db,
           const LkGemmOptions *o,
           GError             **error)
{
  LkGemmOptions g = { FALSE, FALSE, o->alpha };
  g_autoptr(LkTensor) a2 = NULL, dc2 = NULL;
  gint64 batch = batch_of (a);

  if (batch_of (db) == 1 && batch > 1)
    {
      /* B shared by every batch of A: its gradient sums over them, which is one GEMM over the
       * batch folded into the rows (A rows then run along M, so A must not be transposed). */
      if (o->transpose_a)
        {
          g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                       "gemm backward: a shared b's gradient needs a not transposed");
          return FALSE;
        }
      a2 = fold_rows (a);
      dc2 = fold_rows (dc);
    }
  else
    {
      a2 = lk_tensor_ref (a);
      dc2 = lk_tensor_ref (dc);
    }

  if (!o->transpose_b)
    {
      /* dB = α · op(A)ᵀ · dC */
      g.transpose_a = !o->transpose_a;
      return lk_op_gemm (stream, a2, dc2, NULL, db, &g, error);
    }
  /* B is stored [N, K]: dB = α · dCᵀ · op(A). */
  g.transpose_a = TRUE;
  g.transpose_b = o->transpose_a;
  return lk_op_gemm (stream, dc2, a2, NULL, db, &g, error);
}

gboolean
lk_op_gemm_backward (LkStream            *stream,
                     LkTensor            *a,
                     LkTensor            *b,
                     LkTensor            *dc,
                     LkTensor            *da,
                     LkTensor            *db,
                     LkTensor            *dbias,
                     const LkGemmOptions *options,
                     GError             **error)
{
  LkGemmOptions o = options ? *options : LK_GEMM_OPTIONS_DEFAULT;

  g_return_val_if_fail (stream != NULL && a != NULL && b != NULL && dc != NULL, FALSE);

  if (a->ndim < 2 || b->ndim < 2 || dc->ndim < 2)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "gemm backward: operands must have 2 to 4 dimensions");
      return FALSE;
    }
  if ((da != NULL && !lk_tensor_same_shape (a, da)) || (db != NULL && !lk_tensor_same_shape (b, db)))
    {
      g_autofree char *desc_a = lk_tensor_describe (a);
      g_autofree char *desc_b = lk_tensor_describe (b);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "gemm backward: da and db must have the shapes of a %s and b %s",
                   desc_a, desc_b);
      return FALSE;
    }

  if (!lk_ops_check_contiguous (a, "gemm backward", "a", error) ||
      !lk_ops_check_contiguous (b, "gemm backward", "b", error) ||
      !lk_ops_check_contiguous (dc, "gemm backward", "dc", error) ||
      (da != NULL && !lk_ops_check_contiguous (da, "gemm backward", "da", error)) ||
      (db != NULL && !lk_ops_check_contiguous (db, "gemm backward", "db", error)))
    return FALSE;

  /* lk_op_gemm checks the rest; the views keep a batched C's batch dimensions at one. */
  {
    gint64 batch = batch_of (a);
    g_autoptr(LkTensor) a3 = as_3d (a, batch);
    g_autoptr(LkTensor) b3 = as_3d (b, batch_of (b));
    g_autoptr(LkTensor) dc3 = as_3d (dc, batch_of (dc));

    if (da != NULL)
      {
        g_autoptr(LkTensor) da3 = as_3d (da, batch);

        if (!grad_of_a (stream, b3, dc3, da3, &o, error))
          return FALSE;
      }
    if (db != NULL)
      {
        g_autoptr(LkTensor) db3 = as_3d (db, batch_of (b));

        if (!grad_of_b (stream, a3, dc3, db3, &o, error))
          return FALSE;
      }
  }
  if (dbias != NULL)
    return lk_op_sum_rows (stream, dc, dbias, error);
  return TRUE;
}
