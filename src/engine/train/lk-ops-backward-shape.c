/* lk-ops-backward-shape.c: the gradients of upsampling, concatenation and broadcasting
 * elementwise ops
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include "lk-ops-backward-private.h"

gboolean
lk_op_upsample_nearest2x_backward (LkStream  *stream,
                                   LkTensor  *dy,
                                   LkTensor  *dx,
                                   GError   **error)
{
  guint32 spec[] = { lk_backward_is_f16 (dy), lk_backward_is_f16 (dx) };
  struct { guint32 n, h, w; } push;

  g_return_val_if_fail (stream != NULL && dy != NULL && dx != NULL, FALSE);

  if (dx->ndim != 4 || dy->ndim != 4 || dx->shape[0] != dy->shape[0] ||
      dx->shape[1] != dy->shape[1] || dy->shape[2] != 2 * dx->shape[2] ||
      dy->shape[3] != 2 * dx->shape[3])
    {
      g_autofree char *ddy = lk_tensor_describe (dy);
      g_autofree char *ddx = lk_tensor_describe (dx);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "upsample backward: dy %s → dx %s: dy must be dx's [N, C, H, W] at 2H × 2W",
                   ddy, ddx);
      return FALSE;
    }
  if (!lk_backward_check (dy, "upsample backward", "dy", error) ||
      !lk_backward_check (dx, "upsample backward", "dx", error))
    return FALSE;

  push.n = lk_tensor_numel (dx);
  push.h = dx->shape[2];
  push.w = dx->shape[3];
  return lk_ops_dispatch_1d (stream, "upsample_nearest2x_backward", spec, G_N_ELEMENTS (spec),
                             (LkBinding[]) { lk_tensor_binding (dy, LK_ACCESS_READ),
                                             lk_tensor_binding (dx, LK_ACCESS_WRITE) },
                             2, &push, sizeof push, push.n, error);
}

static gboolean
concat_slice (LkStream  *stream,
              LkTensor  *dy,
              LkTensor  *dx,
              gint64     first_channel,
              GError   **error)
{
  gint64 spatial = dy->shape[2] * dy->shape[3];
  guint32 spec[] = { lk_backward_is_f16 (dy), lk_backward_is_f16 (dx) };
  struct { guint32 n, per_image, image_stride, first; } push = {
    lk_tensor_numel (dx), dx->shape[1] * spatial, dy->shape[1] * spatial, first_channel * spatial,
  };

  if (!lk_backward_check (dx, "concat backward", "a slice's gradient", error))
    return FALSE;
  return lk_ops_dispatch_1d (stream, "concat_backward", spec, G_N_ELEMENTS (spec),
                             (LkBinding[]) { lk_tensor_binding (dy, LK_ACCESS_READ),
                                             lk_tensor_binding (dx, LK_ACCESS_WRITE) },
                             2, &push, sizeof push, push.n, error);
}

gboolean
lk_op_concat_channels_backward (LkStream  *stream,
                                LkTensor  *dy,
                                LkTensor  *da,
                                LkTensor  *db,
                                GError   **error)
{
  g_return_val_if_fail (stream != NULL && dy != NULL, FALSE);

  if (dy->ndim != 4 || (da == NULL && db == NULL) ||
      (da != NULL && (da->ndim != 4 || da->shape[0] != dy->shape[0] ||
                      da->shape[2] != dy->shape[2] || da->shape[3] != dy->shape[3])) ||
      (db != NULL && (db->ndim != 4 || db->shape[0] != dy->shape[0] ||
                      db->shape[2] != dy->shape[2] || db->shape[3] != dy->shape[3])) ||
      (da != NULL && db != NULL && da->shape[1] + db->shape[1] != dy->shape[1]) ||
      (da != NULL && da->shape[1] > dy->shape[1]) || (db != NULL && db->shape[1] > dy->shape[1]))
    {
      g_autofree char *ddy = lk_tensor_describe (dy);
      g_autofree char *dda = da ? lk_tensor_describe (da) : g_strdup ("none");
      g_autofree char *ddb = db ? lk_tensor_describe (db) : g_strdup ("none");

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "concat backward: dy %s → da %s, db %s: expected dy [N, Ca + Cb, H, W], "
                   "da [N, Ca, H, W], db [N, Cb, H, W], at least one of them", ddy, dda, ddb);
      return FALSE;
    }
  if (!lk_backward_check (dy, "concat backward", "dy", error))
    return FALSE;
  if (da != NULL && !concat_slice (stream, dy, da, 0, error))
    return FALSE;
  if (db != NULL && !concat_slice (stream, dy, db, dy->shape[1] - db->shape[1], error))
    return FALSE;
  return TRUE;
}

gboolean
lk_op_broadcast_backward (LkStream  *stream,
                          LkTensor  *dy,
                          LkTensor  *dx,
                          GError   **error)
{
  guint32 spec[] = { lk_backward_is_f16 (dy), lk_backward_is_f16 (dx) };
  struct { guint32 n, count, pad0, pad1; guint32 ys[4], xs[4]; } push = { 0 };
  gboolean ok = dy->ndim <= 4 && dx->ndim <= dy->ndim && dy->ndim > 0;

  g_return_val_if_fail (stream != NULL && dy != NULL && dx != NULL, FALSE);

  for (guint d = 0; d < 4; d++)
    push.ys[d] = push.xs[d] = 1;
  for (guint d = 0; ok && d < dy->ndim; d++)
    push.ys[4 - dy->ndim + d] = dy->shape[d];
  for (guint d = 0; ok && d < dx->ndim; d++)
    push.xs[4 - dx->ndim + d] = dx->shape[d];
  for (guint d = 0; ok && d < 4; d++)
    ok = push.xs[d] == push.ys[d] || push.xs[d] == 1;
  if (!ok || lk_tensor_numel (dx) == 0)
    {
      g_autofree char *ddy = lk_tensor_describe (dy);
      g_autofree char *ddx = lk_tensor_describe (dx);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "broadcast backward: dx %s does not broadcast to dy %s (up to 4 dimensions)",
                   ddx, ddy);
      return FALSE;
    }
  if (!lk_backward_check (dy, "broadcast backward", "dy", error) ||
      !lk_backward_check (dx, "broadcast backward", "dx", error))
    return FALSE;

  push.n = lk_tensor_numel (dx);
  push.count = lk_tensor_numel (dy) / push.n;
  /* The uvec4s start 16 bytes in, as std430 aligns them. */
  return lk_ops_dispatch_1d (stream, "broadcast_backward", spec, G_N_ELEMENTS (spec),
                             (LkBinding[]) { lk_tensor_binding (dy, LK_ACCESS_READ),
                                             lk_tensor_binding (dx, LK_ACCESS_WRITE) },
                             2, &push, sizeof push, push.n, error);
}

gboolean
lk_op_add_backward (LkStream  *stream,
                    LkTensor  *dy,
                    LkTensor  *da,
                    LkTensor  *db,
                    GError   **error)
{
  g_return_val_if_fail (stream != NULL && dy != NULL, FALSE);

  return (da == NULL || lk_op_broadcast_backward (stream, dy, da, error)) &&
         (db == NULL || lk_op_broadcast_backward (stream, dy, db, error));
}

/* d_self = Σ dy · other over what self was broadcast along. */
static gboolean
mul_operand_grad (LkStream  *stream,
                  LkTensor  *other,
                  LkTensor  *dy,
                  LkTensor  *d_self,
                  GError   **error)
{
  g_autoptr(LkTensor) product = NULL;

  if (lk_tensor_same_shape (d_self, dy))
    return lk_op_mul (stream, dy, other, d_self, error);
  product = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F32, dy->ndim, dy->shape,
                           error);
  return product != NULL &&
         lk_op_mul (stream, dy, other, product, error) &&
         lk_op_broadcast_backward (stream, product, d_self, error);
}

gboolean
lk_op_mul_backward (LkStream  *stream,
                    LkTensor  *a,
                    LkTensor  *b,
                    LkTensor  *dy,
                    LkTensor  *da,
                    LkTensor  *db,
                    GError   **error)
{
  g_return_val_if_fail (stream != NULL && a != NULL && b != NULL && dy != NULL, FALSE);

  if ((da != NULL && !lk_tensor_same_shape (da, a)) || (db != NULL && !lk_tensor_same_shape (db, b)))
    {
      g_autofree char *dda = lk_tensor_describe (a);
      g_autofree char *ddb = lk_tensor_describe (b);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "mul backward: da and db must have the shapes of a %s and b %s", dda, ddb);
      return FALSE;
    }
  return (da == NULL || mul_operand_grad (stream, b, dy, da, error)) &&
         (db == NULL || mul_operand_grad (stream, a, dy, db, error));
}
