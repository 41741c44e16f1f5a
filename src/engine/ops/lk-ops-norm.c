/* lk-ops-norm.c: group norm (optionally fused with SiLU), layer norm, softmax
 *
 * All three reduce in f32 with statistics computed around a mean (two passes, never
 * E[x²] − E[x]²), and split tensors larger than one binding into runs of whole rows or
 * (n, group) blocks.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include "lk-ops-span.h"

static gboolean
is_f16 (LkTensor *t)
{
  return t != NULL && t->dtype == LK_DTYPE_F16;
}

/* Whether @t starts on a four-element boundary, so that runs of whole vec4s stay aligned. */
static gboolean
starts_on_vec4 (LkTensor *t)
{
  return t->offset % (4 * lk_dtype_size (t->dtype)) == 0;
}

static gboolean
check_affine (LkTensor    *gamma,
              LkTensor    *beta,
              gint64       channels,
              const char  *op,
              GError     **error)
{
  if (gamma == NULL && beta == NULL)
    return TRUE;
  if (gamma == NULL || beta == NULL ||
      lk_tensor_numel (gamma) != channels || lk_tensor_numel (beta) != channels)
    {
      g_autofree char *dg = gamma ? lk_tensor_describe (gamma) : g_strdup ("none");
      g_autofree char *db = beta ? lk_tensor_describe (beta) : g_strdup ("none");

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "%s: gamma %s and beta %s must both be [%" G_GINT64_FORMAT "]",
                   op, dg, db, channels);
      return FALSE;
    }
  return lk_ops_check_contiguous (gamma, op, "gamma", error) &&
         lk_ops_check_contiguous (beta, op, "beta", error) &&
         lk_ops_check_fits (gamma, op, "gamma", error) &&
         lk_ops_check_fits (beta, op, "beta", error);
}

static gboolean
check_same (LkTensor    *x,
            LkTensor    *y,
            const char  *op,
            GError     **error)
{
  return lk_ops_check_shape_equal (x, y, op, error) &&
         lk_ops_check_contiguous (x, op, "x", error) &&
         lk_ops_check_contiguous (y, op, "y", error);
}

gboolean
lk_op_group_norm (LkStream   *stream,
                  LkTensor   *x,
                  LkTensor   *gamma,
                  LkTensor   *beta,
                  LkTensor   *y,
                  guint       groups,
                  float       eps,
                  gboolean    silu,
                  GError    **error)
{
  LkContext *context = lk_stream_get_context (stream);
  const LkDeviceInfo *info = lk_context_get_info (context);
  g_autoptr(LkTensor) partials = NULL;
  gint64 batch, channels, spatial, group_elems, blocks, per_dispatch, target, n_chunks, chunk;
  gboolean use_subgroup, vec4;
  guint32 local;
  LkKernel *stats_pipeline, *apply_pipeline;

  if (!check_same (x, y, "group norm", error))
    return FALSE;
  batch = x->shape[0];
  channels = x->ndim >= 2 ? x->shape[1] : 0;
  if (x->ndim < 2 || groups == 0 || channels % groups != 0 || lk_tensor_numel (x) == 0)
    {
      g_autofree char *dx = lk_tensor_describe (x);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "group norm: %s is not [N, C, ...] with C a multiple of %u groups", dx, groups);
      return FALSE;
    }
  if (!check_affine (gamma, beta, channels, "group norm", error))
    return FALSE;

  spatial = lk_tensor_numel (x) / (batch * channels);
  group_elems = channels / groups * spatial;
  blocks = batch * groups;
  per_dispatch = MIN (lk_ops_rows_per_binding (x, group_elems), lk_ops_rows_per_binding (y, group_elems));
  per_dispatch = MIN (per_dispatch, info->max_workgroup_count[1]);
  if (per_dispatch == 0)
    return lk_ops_error_too_large (x, "group norm", "x", "one (n, group) block", error);

  /* Each (n, group) block is cut into chunks of about `target` elements so that large blocks
   * (the VAE's 16 × 256²) still spread over many workgroups. */
  local = lk_ops_reduce_local_size (context, group_elems, &use_subgroup);
  target = info->type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 8192 : local * 16;
  n_chunks = (group_elems + target - 1) / target;
  n_chunks = MIN (n_chunks, info->max_workgroup_count[0]);
  chunk = (group_elems + n_chunks - 1) / n_chunks;
  vec4 = group_elems % 4 == 0 && spatial % 4 == 0 && starts_on_vec4 (x) && starts_on_vec4 (y);
  if (vec4)
    {
      chunk = (chunk + 3) / 4 * 4;
      n_chunks = (group_elems + chunk - 1) / chunk;
    }

  partials = lk_tensor_new (context, LK_DTYPE_F32, 1, (gint64[]) { blocks * n_chunks * 2 }, error);
  if (partials == NULL || !lk_ops_check_fits (partials, "group norm", "statistics", error))
    return FALSE;

  {
    guint32 stats_spec[] = { local, 1, 1, use_subgroup, is_f16 (x), vec4 };
    guint32 apply_spec[] = { local, 1, 1, use_subgroup, is_f16 (x), is_f16 (gamma), is_f16 (beta),
                             is_f16 (y), gamma != NULL, silu != FALSE, vec4 };

    stats_pipeline = lk_context_get_kernel (context, "group_norm_stats", 2, 5 * sizeof (guint32),
                                            stats_spec, G_N_ELEMENTS (stats_spec), error);
    if (stats_pipeline == NULL)
      return FALSE;
    apply_pipeline = lk_context_get_kernel (context, "group_norm", 5, 10 * sizeof (guint32),
                                            apply_spec, G_N_ELEMENTS (apply_spec), error);
    if (apply_pipeline == NULL)
      return FALSE;
  }

  for (gint64 first = 0; first < blocks; first += per_dispatch)
    {
      gint64 count = MIN (per_dispatch, blocks - first);
      struct {
        guint32 group_elems, chunk, n_chunks, x_base, partial_base, y_base, spatial, groups,
                channels_per_group;
        float eps;
      } push = {
        group_elems, chunk, n_chunks, 0, first, 0, spatial, groups, channels / groups, eps,
      };
      LkBinding xb = lk_ops_bind_span (x, first * group_elems, count * group_elems, LK_ACCESS_READ, &push.x_base);
      LkBinding yb = lk_ops_bind_span (y, first * group_elems, count * group_elems, LK_ACCESS_WRITE, &push.y_base);
      LkBinding pb = lk_tensor_binding (partials, LK_ACCESS_WRITE);

      lk_stream_dispatch (stream, stats_pipeline, (LkBinding[]) { xb, pb }, 2,
                          &push, 5 * sizeof (guint32), n_chunks, count, 1);
      pb.access = LK_ACCESS_READ;
      lk_stream_dispatch (stream, apply_pipeline,
                          (LkBinding[]) {
                            xb, pb,
                            gamma ? lk_tensor_binding (gamma, LK_ACCESS_READ) : pb,
                            beta ? lk_tensor_binding (beta, LK_ACCESS_READ) : pb,
                            yb,
                          },
                          5, &push, sizeof push, n_chunks, count, 1);
    }
  return TRUE;
}

/* Layer norm and softmax: one workgroup per row or a few, rows bound in runs that fit a binding.
 * Both kernels take { rows, dim, x_base, y_base, param, rows_per_group } and bind x, the extras,
 * then y. */
static gboolean
dispatch_rows (LkStream        *stream,
               const char      *op,
               const char      *shader,
               const guint32   *spec_ops,
               guint            n_spec_ops,
               LkTensor        *x,
               const LkBinding *extra,
               guint            n_extra,
               LkTensor        *y,
               float            param,
               GError         **error)
{
  LkContext *context = lk_stream_get_context (stream);
  gint64 dim = x->shape[x->ndim - 1];
  gint64 rows = dim > 0 ? lk_tensor_numel (x) / dim : 0;
  gint64 per_dispatch = MIN (lk_ops_rows_per_binding (x, dim), lk_ops_rows_per_binding (y, dim));
  guint32 spec[LK_MAX_SPEC_CONSTANTS] = { 0, 1, 1 };
  guint32 rows_per_group = 1;
  gboolean use_subgroup;
  LkKernel *pipeline;

  if (rows == 0)
    return TRUE;
  if (per_dispatch == 0)
    return lk_ops_error_too_large (x, op, "x", "one row", error);

  spec[0] = lk_ops_reduce_local_size (context, dim, &use_subgroup);
  spec[3] = use_subgroup;
  for (guint i = 0; i < n_spec_ops; i++)
    spec[4 + i] = spec_ops[i];
  pipeline = lk_context_get_kernel (context, shader, n_extra + 2, 6 * sizeof (guint32),
                                    spec, 4 + n_spec_ops, error);
  if (pipeline == NULL)
    return FALSE;

  /* lavapipe pays a few microseconds per workgroup: give each about 4096 elements there. */
  if (lk_context_get_info (context)->type == VK_PHYSICAL_DEVICE_TYPE_CPU)
    rows_per_group = CLAMP (4096 / dim, 1, 64);

  for (gint64 first = 0; first < rows; first += per_dispatch)
    {
      gint64 count = MIN (per_dispatch, rows - first);
      struct { guint32 rows, dim, x_base, y_base; float param; guint32 rows_per_group; } push = {
        count, dim, 0, 0, param, rows_per_group,
      };
      LkBinding bindings[LK_MAX_BINDINGS];
      guint32 gx, gy;

      g_assert (n_extra + 2 <= LK_MAX_BINDINGS);
      bindings[0] = lk_ops_bind_span (x, first * dim, count * dim, LK_ACCESS_READ, &push.x_base);
      for (guint i = 0; i < n_extra; i++)
        bindings[1 + i] = extra[i];
      bindings[1 + n_extra] = lk_ops_bind_span (y, first * dim, count * dim, LK_ACCESS_WRITE, &push.y_base);
      lk_ops_grid_1d (context, (count + rows_per_group - 1) / rows_per_group, &gx, &gy);
      lk_stream_dispatch (stream, pipeline, bindings, n_extra + 2, &push, sizeof push, gx, gy, 1);
    }
  return TRUE;
}

gboolean
lk_op_layer_norm (LkStream   *stream,
                  LkTensor   *x,
                  LkTensor   *gamma,
                  LkTensor   *beta,
                  LkTensor   *y,
                  float       eps,
                  GError    **error)
{
  guint32 spec[] = { is_f16 (x), is_f16 (gamma), is_f16 (beta), is_f16 (y), gamma != NULL,
                     x->shape[x->ndim - 1] % 4 == 0 && starts_on_vec4 (x) && starts_on_vec4 (y) };
  LkBinding extra[2];
  guint32 unused;

  if (!check_same (x, y, "layer norm", error) ||
      !check_affine (gamma, beta, x->shape[x->ndim - 1], "layer norm", error))
    return FALSE;
  if (lk_tensor_numel (x) == 0)
    return TRUE;

  if (gamma != NULL)
    {
      extra[0] = lk_tensor_binding (gamma, LK_ACCESS_READ);
      extra[1] = lk_tensor_binding (beta, LK_ACCESS_READ);
    }
  else
    {
      /* The kernel never reads them; an element of x stands in. */
      extra[0] = extra[1] = lk_ops_bind_span (x, 0, 1, LK_ACCESS_READ, &unused);
    }
  return dispatch_rows (stream, "layer norm", "layer_norm", spec, G_N_ELEMENTS (spec),
                        x, extra, 2, y, eps, error);
}

gboolean
lk_op_softmax (LkStream   *stream,
               LkTensor   *x,
               LkTensor   *y,
               float       scale,
               GError    **error)
{
  guint32 spec[] = { is_f16 (x), is_f16 (y),
                     x->shape[x->ndim - 1] % 4 == 0 && starts_on_vec4 (x) && starts_on_vec4 (y) };

  if (!check_same (x, y, "softmax", error))
    return FALSE;
  return dispatch_rows (stream, "softmax", "softmax", spec, G_N_ELEMENTS (spec),
                        x, NULL, 0, y, scale, error);
}
