/* lk-ops-backward-norm.c: layer norm and group norm (+ SiLU) backward
 *
 * Neither op needs saved statistics: each recomputes the mean and rstd of its row or block from
 * x, two passes around the mean as the forward kernels do, which costs one more read of x and
 * keeps the forward pass free of side outputs. The per-channel sums for dgamma and dbeta go
 * through the deterministic column sum, never float atomics.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include "lk-ops-backward-private.h"
#include "lk-ops-span.h"

static gboolean
check_param (LkTensor    *t,
             gint64       channels,
             const char  *op,
             const char  *what,
             GError     **error)
{
  if (t == NULL)
    return TRUE;
  if (lk_tensor_numel (t) != channels)
    {
      g_autofree char *desc = lk_tensor_describe (t);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "%s: %s %s is not [%" G_GINT64_FORMAT "]", op, what, desc, channels);
      return FALSE;
    }
  return lk_backward_check (t, op, what, error);
}

/* x, dy and dx of one shape, each contiguous within one binding. */
static gboolean
check_x_dy_dx (LkTensor    *x,
               LkTensor    *dy,
               LkTensor    *dx,
               const char  *op,
               GError     **error)
{
  return lk_ops_check_shape_equal (x, dy, op, error) &&
         lk_ops_check_shape_equal (x, dx, op, error) &&
         lk_backward_check (x, op, "x", error) &&
         lk_backward_check (dy, op, "dy", error) &&
         lk_backward_check (dx, op, "dx", error);
}

gboolean
lk_op_layer_norm_backward (LkStream  *stream,
                           LkTensor  *x,
                           LkTensor  *gamma,
                           LkTensor  *dy,
                           LkTensor  *dx,
                           LkTensor  *dgamma,
                           LkTensor  *dbeta,
                           float      eps,
                           GError   **error)
{
  const char *op = "layer norm backward";
  LkContext *context = lk_stream_get_context (stream);
  g_autoptr(LkTensor) dy_xhat = NULL;
  gint64 dim, rows;
  guint32 spec[10] = { 0, 1, 1 };
  gboolean use_subgroup;
  guint32 rows_per_group = 1, gx, gy;
  LkKernel *pipeline;
  LkBinding bindings[5];

  g_return_val_if_fail (stream != NULL && x != NULL && dy != NULL && dx != NULL, FALSE);

  if (gamma == NULL && dgamma != NULL)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE, "%s: dgamma without gamma", op);
      return FALSE;
    }
  if (!check_x_dy_dx (x, dy, dx, op, error))
    return FALSE;
  dim = x->shape[x->ndim - 1];
  if (!check_param (gamma, dim, op, "gamma", error) ||
      !check_param (dgamma, dim, op, "dgamma", error) ||
      !check_param (dbeta, dim, op, "dbeta", error))
    return FALSE;
  rows = dim > 0 ? lk_tensor_numel (x) / dim : 0;
  if (rows == 0)
    return TRUE;

  spec[0] = lk_ops_reduce_local_size (context, dim, &use_subgroup);
  spec[3] = use_subgroup;
  spec[4] = lk_backward_is_f16 (x);
  spec[5] = lk_backward_is_f16 (gamma);
  spec[6] = lk_backward_is_f16 (dy);
  spec[7] = lk_backward_is_f16 (dx);
  spec[8] = gamma != NULL;
  spec[9] = dgamma != NULL;
  pipeline = lk_context_get_kernel (context, "layer_norm_backward", 5, 4 * sizeof (guint32),
                                    spec, G_N_ELEMENTS (spec), error);
  if (pipeline == NULL)
    return FALSE;

  bindings[0] = lk_tensor_binding (x, LK_ACCESS_READ);
  /* Without gamma the kernel reads none: x stands in. */
  bindings[1] = gamma ? lk_tensor_binding (gamma, LK_ACCESS_READ) : bindings[0];
  bindings[2] = lk_tensor_binding (dy, LK_ACCESS_READ);
  bindings[3] = lk_tensor_binding (dx, LK_ACCESS_WRITE);
  /* Without dgamma the kernel writes no dy · x̂: x stands in for the scratch. */
  bindings[4] = bindings[0];
  if (dgamma != NULL)
    {
      dy_xhat = lk_tensor_new (context, LK_DTYPE_F32, 2, (gint64[]) { rows, dim }, error);
      if (dy_xhat == NULL || !lk_ops_check_fits (dy_xhat, op, "scratch", error))
        return FALSE;
      bindings[4] = lk_tensor_binding (dy_xhat, LK_ACCESS_WRITE);
    }

  if (lk_context_get_info (context)->type == VK_PHYSICAL_DEVICE_TYPE_CPU)
    rows_per_group = CLAMP (4096 / dim, 1, 64);
  {
    struct { guint32 rows, dim; float eps; guint32 rows_per_group; } push = {
      rows, dim, eps, rows_per_group,
    };

    lk_ops_grid_1d (context, (rows + rows_per_group - 1) / rows_per_group, &gx, &gy);
    lk_stream_dispatch (stream, pipeline, bindings, 5, &push, sizeof push, gx, gy, 1);
  }

  if (dgamma != NULL &&
      !lk_backward_sum_columns (stream, dy_xhat, 0, rows, dim, dim, dgamma, error))
    return FALSE;
  if (dbeta != NULL && !lk_backward_sum_columns (stream, dy, 0, rows, dim, dim, dbeta, error))
    return FALSE;
  return TRUE;
}

gboolean
lk_op_group_norm_backward (LkStream  *stream,
                           LkTensor  *x,
                           LkTensor  *gamma,
                           LkTensor  *beta,
                           LkTensor  *dy,
                           LkTensor  *dx,
                           LkTensor  *dgamma,
                           LkTensor  *dbeta,
                           guint      groups,
                           float      eps,
                           gboolean   silu,
                           GError   **error)
{
  const char *op = "group norm backward";
  LkContext *context = lk_stream_get_context (stream);
  g_autoptr(LkTensor) partials = NULL;
  gint64 batch, channels, spatial, group_elems, blocks;
  guint32 spec[11] = { 0, 1, 1 };
  gboolean use_subgroup;
  guint32 gx, gy;
  LkKernel *pipeline;
  LkBinding bindings[6];

  g_return_val_if_fail (stream != NULL && x != NULL && dy != NULL && dx != NULL, FALSE);

  if (!check_x_dy_dx (x, dy, dx, op, error))
    return FALSE;
  channels = x->ndim >= 2 ? x->shape[1] : 0;
  if (x->ndim < 2 || groups == 0 || channels % groups != 0 || lk_tensor_numel (x) == 0)
    {
      g_autofree char *desc = lk_tensor_describe (x);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "%s: %s is not [N, C, ...] with C a multiple of %u groups", op, desc, groups);
      return FALSE;
    }
  if ((gamma == NULL) != (beta == NULL) || (gamma == NULL && (dgamma != NULL || dbeta != NULL)))
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "%s: gamma and beta go together, and their gradients need them", op);
      return FALSE;
    }
  if (!check_param (gamma, channels, op, "gamma", error) ||
      !check_param (beta, channels, op, "beta", error) ||
      !check_param (dgamma, channels, op, "dgamma", error) ||
      !check_param (dbeta, channels, op, "dbeta", error))
    return FALSE;

  batch = x->shape[0];
  spatial = lk_tensor_numel (x) / (batch * channels);
  group_elems = channels / groups * spatial;
  blocks = batch * groups;

  partials = lk_tensor_new (context, LK_DTYPE_F32, 3, (gint64[]) { batch, 2, channels }, error);
  if (partials == NULL || !lk_ops_check_fits (partials, op, "partial sums", error))
    return FALSE;

  spec[0] = lk_ops_reduce_local_size (context, group_elems, &use_subgroup);
  spec[3] = use_subgroup;
  spec[4] = lk_backward_is_f16 (x);
  spec[5] = lk_backward_is_f16 (gamma);
  spec[6] = lk_backward_is_f16 (beta);
  spec[7] = lk_backward_is_f16 (dy);
  spec[8] = lk_backward_is_f16 (dx);
  spec[9] = gamma != NULL;
  spec[10] = silu != FALSE;
  pipeline = lk_context_get_kernel (context, "group_norm_backward", 6, 5 * sizeof (guint32),
                                    spec, G_N_ELEMENTS (spec), error);
  if (pipeline == NULL)
    return FALSE;

  bindings[0] = lk_tensor_binding (x, LK_ACCESS_READ);
  bindings[1] = gamma ? lk_tensor_binding (gamma, LK_ACCESS_READ) : bindings[0];
  bindings[2] = beta ? lk_tensor_binding (beta, LK_ACCESS_READ) : bindings[0];
  bindings[3] = lk_tensor_binding (dy, LK_ACCESS_READ);
  bindings[4] = lk_tensor_binding (dx, LK_ACCESS_WRITE);
  bindings[5] = lk_tensor_binding (partials, LK_ACCESS_WRITE);
  {
    struct { guint32 group_elems, spatial, groups, channels_per_group; float eps; } push = {
      group_elems, spatial, groups, channels / groups, eps,
    };

    lk_ops_grid_1d (context, blocks, &gx, &gy);
    lk_stream_dispatch (stream, pipeline, bindings, 6, &push, sizeof push, gx, gy, 1);
  }

  /* partials [N, 2, C]: row 0 of each batch is Σ dz, row 1 Σ dz · x̂. */
  if (dbeta != NULL &&
      !lk_backward_sum_columns (stream, partials, 0, batch, channels, 2 * channels, dbeta, error))
    return FALSE;
  if (dgamma != NULL &&
      !lk_backward_sum_columns (stream, partials, channels, batch, channels, 2 * channels, dgamma,
                                error))
    return FALSE;
  return TRUE;
}
