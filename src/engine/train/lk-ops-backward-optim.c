/* lk-ops-backward-optim.c: gradient statistics (global norm, NaN/inf count) and the AdamW step
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include <math.h>

#include "lk-ops-backward-private.h"
#include "lk-ops-span.h"

/* Elements per workgroup of the statistics' first pass. */
#define STATS_PER_GROUP 4096

gboolean
lk_op_grad_stats (LkStream   *stream,
                  LkTensor  **tensors,
                  guint       n_tensors,
                  LkTensor   *stats,
                  GError    **error)
{
  const char *op = "grad stats";
  LkContext *context = lk_stream_get_context (stream);
  g_autoptr(LkTensor) partials = NULL;
  gint64 n_partials = 0, first = 0;

  g_return_val_if_fail (stream != NULL && (tensors != NULL || n_tensors == 0) && stats != NULL,
                        FALSE);

  if (stats->dtype != LK_DTYPE_F32 || lk_tensor_numel (stats) != 2)
    {
      g_autofree char *desc = lk_tensor_describe (stats);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE, "%s: stats %s is not f32 [2]", op, desc);
      return FALSE;
    }
  if (!lk_backward_check (stats, op, "stats", error))
    return FALSE;
  for (guint i = 0; i < n_tensors; i++)
    {
      if (!lk_backward_check (tensors[i], op, "a gradient", error))
        return FALSE;
      n_partials += (lk_tensor_numel (tensors[i]) + STATS_PER_GROUP - 1) / STATS_PER_GROUP;
    }

  /* (Σ x², NaN/inf count) per slice of STATS_PER_GROUP elements of each tensor, then the
   * column sum of all slices; no tensors at all still write zeros. */
  partials = lk_tensor_new (context, LK_DTYPE_F32, 2, (gint64[]) { MAX (n_partials, 1), 2 }, error);
  if (partials == NULL || !lk_ops_check_fits (partials, op, "partial sums", error))
    return FALSE;
  for (guint i = 0; i < n_tensors; i++)
    {
      gint64 n = lk_tensor_numel (tensors[i]);
      gint64 groups = (n + STATS_PER_GROUP - 1) / STATS_PER_GROUP;
      gboolean use_subgroup;
      guint32 spec[5] = { 0, 1, 1, 0, lk_backward_is_f16 (tensors[i]) };
      struct { guint32 n, per_group, partial_base; } push = { n, STATS_PER_GROUP, first };
      LkKernel *pipeline;
      guint32 gx, gy;

      if (n == 0)
        continue;
      spec[0] = lk_ops_reduce_local_size (context, MIN (n, STATS_PER_GROUP), &use_subgroup);
      spec[3] = use_subgroup;
      pipeline = lk_context_get_kernel (context, "grad_stats", 2, sizeof push, spec,
                                        G_N_ELEMENTS (spec), error);
      if (pipeline == NULL)
        return FALSE;
      lk_ops_grid_1d (context, groups, &gx, &gy);
      lk_stream_dispatch (stream, pipeline,
                          (LkBinding[]) { lk_tensor_binding (tensors[i], LK_ACCESS_READ),
                                          lk_tensor_binding (partials, LK_ACCESS_WRITE) },
                          2, &push, sizeof push, gx, gy, 1);
      first += groups;
    }
  return lk_backward_sum_columns (stream, partials, 0, first, 2, 2, stats, error);
}

gboolean
lk_op_adamw_step (LkStream             *stream,
                  LkTensor             *param,
                  LkTensor             *grad,
                  LkTensor             *m,
                  LkTensor             *v,
                  LkTensor             *stats,
                  const LkAdamWOptions *options,
                  GError              **error)
{
  const char *op = "adamw";
  LkAdamWOptions o = options ? *options : LK_ADAMW_OPTIONS_DEFAULT;
  guint32 spec[] = { lk_backward_is_f16 (grad), stats != NULL };
  struct {
    guint32 n;
    float decay, step_size, bias_correction2_sqrt, eps, beta1, beta2, one_minus_beta1,
          one_minus_beta2, grad_scale, max_norm;
  } push;
  LkTensor *state[] = { param, m, v };

  g_return_val_if_fail (stream != NULL && param != NULL && grad != NULL && m != NULL && v != NULL,
                        FALSE);
  g_return_val_if_fail (o.step >= 1, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (state); i++)
    if (state[i]->dtype != LK_DTYPE_F32)
      {
        g_autofree char *desc = lk_tensor_describe (state[i]);

        g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_DTYPE,
                     "%s: parameters and moments must be f32, not %s", op, desc);
        return FALSE;
      }
  if (!lk_ops_check_shape_equal (param, grad, op, error) ||
      !lk_ops_check_shape_equal (param, m, op, error) ||
      !lk_ops_check_shape_equal (param, v, op, error) ||
      !lk_backward_check (param, op, "param", error) ||
      !lk_backward_check (grad, op, "grad", error) ||
      !lk_backward_check (m, op, "m", error) ||
      !lk_backward_check (v, op, "v", error))
    return FALSE;
  if (stats != NULL && (stats->dtype != LK_DTYPE_F32 || lk_tensor_numel (stats) != 2 ||
                        !lk_backward_check (stats, op, "stats", error)))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE, "%s: stats must be f32 [2]", op);
      return FALSE;
    }

  /* Scalars as torch forms them: in double on the host, rounded once to f32. */
  push.n = lk_tensor_numel (param);
  push.decay = 1.0 - o.lr * o.weight_decay;
  push.step_size = o.lr / (1.0 - pow (o.beta1, o.step));
  push.bias_correction2_sqrt = sqrt (1.0 - pow (o.beta2, o.step));
  push.eps = o.eps;
  push.beta1 = o.beta1;
  push.beta2 = o.beta2;
  push.one_minus_beta1 = 1.0 - o.beta1;
  push.one_minus_beta2 = 1.0 - o.beta2;
  push.grad_scale = o.grad_scale;
  push.max_norm = o.max_grad_norm;

  return lk_ops_dispatch_1d (stream, "adamw", spec, G_N_ELEMENTS (spec),
                                  (LkBinding[]) {
                                    lk_tensor_binding (param, LK_ACCESS_READ_WRITE),
                                    lk_tensor_binding (grad, LK_ACCESS_READ),
                                    lk_tensor_binding (m, LK_ACCESS_READ_WRITE),
                                    lk_tensor_binding (v, LK_ACCESS_READ_WRITE),
                                    stats ? lk_tensor_binding (stats, LK_ACCESS_READ)
                                          : lk_tensor_binding (grad, LK_ACCESS_READ),
                                  },
                                  5, &push, sizeof push, push.n, error);
}
