/* lk-ops-backward-activation.c: SiLU, GELU, QuickGELU and GEGLU backward
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include "lk-ops-backward-private.h"

gboolean
lk_op_activation_backward (LkStream      *stream,
                           LkActivation   activation,
                           LkTensor      *x,
                           LkTensor      *dy,
                           LkTensor      *dx,
                           GError       **error)
{
  guint32 spec[] = { activation, lk_backward_is_f16 (x), lk_backward_is_f16 (dy),
                     lk_backward_is_f16 (dx) };
  struct { guint32 n; } push;

  g_return_val_if_fail (stream != NULL && x != NULL && dy != NULL && dx != NULL, FALSE);
  g_return_val_if_fail (activation < LK_N_ACTIVATIONS, FALSE);

  if (!lk_ops_check_shape_equal (x, dy, "activation backward", error) ||
      !lk_ops_check_shape_equal (x, dx, "activation backward", error) ||
      !lk_backward_check (x, "activation backward", "x", error) ||
      !lk_backward_check (dy, "activation backward", "dy", error) ||
      !lk_backward_check (dx, "activation backward", "dx", error))
    return FALSE;

  push.n = lk_tensor_numel (x);
  return lk_ops_dispatch_1d (stream, "activation_backward", spec, G_N_ELEMENTS (spec),
                                  (LkBinding[]) { lk_tensor_binding (x, LK_ACCESS_READ),
                                                  lk_tensor_binding (dy, LK_ACCESS_READ),
                                                  lk_tensor_binding (dx, LK_ACCESS_WRITE) },
                                  3, &push, sizeof push, push.n, error);
}

gboolean
lk_op_geglu_backward (LkStream  *stream,
                      LkTensor  *x,
                      LkTensor  *dy,
                      LkTensor  *dx,
                      GError   **error)
{
  guint32 spec[] = { lk_backward_is_f16 (x), lk_backward_is_f16 (dy), lk_backward_is_f16 (dx) };
  struct { guint32 n, h; } push;
  gint64 h;

  g_return_val_if_fail (stream != NULL && x != NULL && dy != NULL && dx != NULL, FALSE);

  h = dy->ndim > 0 ? dy->shape[dy->ndim - 1] : 0;
  if (x->ndim != dy->ndim || x->shape[x->ndim - 1] != 2 * h || h == 0 ||
      lk_tensor_numel (x) != 2 * lk_tensor_numel (dy) ||
      !lk_tensor_same_shape (x, dx))
    {
      g_autofree char *dxs = lk_tensor_describe (x);
      g_autofree char *ddy = lk_tensor_describe (dy);
      g_autofree char *ddx = lk_tensor_describe (dx);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "geglu backward: x %s, dy %s, dx %s: dy must halve x's last dimension and dx "
                   "match x", dxs, ddy, ddx);
      return FALSE;
    }
  if (!lk_backward_check (x, "geglu backward", "x", error) ||
      !lk_backward_check (dy, "geglu backward", "dy", error) ||
      !lk_backward_check (dx, "geglu backward", "dx", error))
    return FALSE;

  push.n = lk_tensor_numel (dy);
  push.h = h;
  return lk_ops_dispatch_1d (stream, "geglu_backward", spec, G_N_ELEMENTS (spec),
                                  (LkBinding[]) { lk_tensor_binding (x, LK_ACCESS_READ),
                                                  lk_tensor_binding (dy, LK_ACCESS_READ),
                                                  lk_tensor_binding (dx, LK_ACCESS_WRITE) },
                                  3, &push, sizeof push, push.n, error);
}
