/* lk-ops-common.c: helpers shared by the op files
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-ops-private.h"

G_DEFINE_QUARK (lk-op-error-quark, lk_op_error)

gint64
lk_ops_chunk_elements (LkContext *context,
                       gsize      element_size)
{
  guint64 range = lk_context_get_max_binding_range (context);
  gint64 align = MAX (256, lk_context_get_binding_alignment (context));

  /* Multiples of `align` elements start at byte offsets aligned for every dtype. */
  return MAX ((gint64) (range / element_size) / align * align, align);
}

void
lk_ops_grid_1d (LkContext *context,
                guint64    n_groups,
                guint32   *groups_x,
                guint32   *groups_y)
{
  guint32 max_x = MIN (lk_context_get_info (context)->max_workgroup_count[0], 65535);

  if (n_groups <= max_x)
    {
      *groups_x = MAX (n_groups, 1);
      *groups_y = 1;
      return;
    }
  *groups_x = max_x;
  *groups_y = (n_groups + max_x - 1) / max_x;
}

gboolean
lk_ops_dispatch_1d (LkStream        *stream,
                    const char      *shader,
                    const guint32   *spec_ops,
                    guint            n_spec_ops,
                    const LkBinding *bindings,
                    guint            n_bindings,
                    const void      *push,
                    gsize            push_size,
                    guint64          n,
                    GError         **error)
{
  LkContext *context = lk_stream_get_context (stream);
  guint32 spec[LK_MAX_SPEC_CONSTANTS] = { LK_OPS_LOCAL_SIZE_1D, 1, 1 };
  LkKernel *pipeline;
  guint32 gx, gy;

  g_assert (n_spec_ops + 3 <= LK_MAX_SPEC_CONSTANTS);
  if (n == 0)
    return TRUE;
  for (guint i = 0; i < n_spec_ops; i++)
    spec[3 + i] = spec_ops[i];
  pipeline = lk_context_get_kernel (context, shader, n_bindings, push_size, spec,
                                    3 + n_spec_ops, error);
  if (pipeline == NULL)
    return FALSE;
  lk_ops_grid_1d (context, (n + LK_OPS_LOCAL_SIZE_1D - 1) / LK_OPS_LOCAL_SIZE_1D, &gx, &gy);
  lk_stream_dispatch (stream, pipeline, bindings, n_bindings, push, push_size, gx, gy, 1);
  return TRUE;
}

gboolean
lk_ops_check_fits (LkTensor    *t,
                   const char  *op,
                   const char  *what,
                   GError     **error)
{
  if (lk_tensor_nbytes (t) > lk_context_get_max_binding_range (lk_tensor_get_context (t)))
    {
      g_autofree char *desc = lk_tensor_describe (t);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "%s: %s %s is larger than the device's largest storage binding", op, what, desc);
      return FALSE;
    }
  return TRUE;
}

gboolean
lk_ops_check_contiguous (LkTensor    *t,
                         const char  *op,
                         const char  *what,
                         GError     **error)
{
  if (!lk_tensor_is_contiguous (t))
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE, "%s: %s must be contiguous", op, what);
      return FALSE;
    }
  return TRUE;
}

gboolean
lk_ops_check_shape_equal (LkTensor    *a,
                          LkTensor    *b,
                          const char  *op,
                          GError     **error)
{
  if (!lk_tensor_same_shape (a, b))
    {
      g_autofree char *da = lk_tensor_describe (a);
      g_autofree char *db = lk_tensor_describe (b);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE, "%s: shapes %s and %s differ", op, da, db);
      return FALSE;
    }
  return TRUE;
}
