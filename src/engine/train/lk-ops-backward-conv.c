/* lk-ops-backward-conv.c: conv2d's input, weight and bias gradients
 *
 * The input gradient of a convolution is the transposed convolution of dy. For the "same"
 * paddings SD uses (3×3 with padding 1, 1×1 with none) that is a forward conv2d of dy with the
 * kernel transposed between its channel axes and rotated by 180°, at stride 1 and the same
 * padding; a stride-2 convolution first spreads dy onto the input's grid (zeros between). So
 * the input gradient runs through lk_op_conv2d and its tuned implicit-GEMM kernel, and splits
 * large batches as it does. The weight and bias gradients are one deterministic reduction over
 * the pixels (conv2d_backward_weight.comp).
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include "lk-ops-backward-private.h"
#include "lk-ops-span.h"

/* The weight-gradient kernel's tile: TM channels × TN columns per invocation, a 16 × 4
 * workgroup (columns along x). */
#define WEIGHT_TM 4
#define WEIGHT_TN 8
#define WEIGHT_LOCAL_X 16
#define WEIGHT_LOCAL_Y 4

static gboolean
check_shapes (LkTensor               *x,
              LkTensor               *w,
              LkTensor               *dy,
              LkTensor               *dx,
              LkTensor               *dw,
              LkTensor               *dbias,
              const LkConv2dOptions  *options,
              GError                **error)
{
  guint stride = options->stride, padding = options->padding;
  gint64 ks = w->ndim == 4 ? w->shape[2] : 0;

  if (x->ndim != 4 || w->ndim != 4 || dy->ndim != 4 || x->shape[1] < 1 ||
      w->shape[1] != x->shape[1] || w->shape[2] != w->shape[3] || (ks != 1 && ks != 3) ||
      (stride != 1 && stride != 2) || 2 * (gint64) padding != ks - 1 ||
      dy->shape[0] != x->shape[0] || dy->shape[1] != w->shape[0] ||
      dy->shape[2] != (x->shape[2] + 2 * padding - ks) / stride + 1 ||
      dy->shape[3] != (x->shape[3] + 2 * padding - ks) / stride + 1 ||
      (dx != NULL && !lk_tensor_same_shape (dx, x)) ||
      (dw != NULL && !lk_tensor_same_shape (dw, w)) ||
      (dbias != NULL && (dbias->ndim != 1 || dbias->shape[0] != w->shape[0])))
    {
      g_autofree char *ds = lk_tensor_describe (x);
      g_autofree char *ws = lk_tensor_describe (w);
      g_autofree char *dys = lk_tensor_describe (dy);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "conv2d backward: x %s, w %s, dy %s with stride %u, padding %u: expected "
                   "x [N, Cin, H, W], w [Cout, Cin, k, k] with k 3 and padding 1 or k 1 and "
                   "padding 0, stride 1 or 2, dy [N, Cout, Ho, Wo], dx as x, dw as w and "
                   "dbias [Cout]", ds, ws, dys, stride, padding);
      return FALSE;
    }
  return TRUE;
}

/* wt [Cin, Cout, k, k] = w transposed and rotated. */
static LkTensor *
flipped_weights (LkStream  *stream,
                 LkTensor  *w,
                 GError   **error)
{
  LkContext *context = lk_stream_get_context (stream);
  gint64 shape[4] = { w->shape[1], w->shape[0], w->shape[2], w->shape[3] };
  g_autoptr(LkTensor) wt = lk_tensor_new (context, w->dtype, 4, shape, error);
  struct { guint32 n, cin, cout, kk; } push = {
    lk_tensor_numel (w), w->shape[1], w->shape[0], w->shape[2] * w->shape[3],
  };
  guint32 spec[] = { lk_backward_is_f16 (w), lk_backward_is_f16 (w) };

  if (wt == NULL ||
      !lk_ops_dispatch_1d (stream, "conv2d_backward_flip", spec, G_N_ELEMENTS (spec),
                           (LkBinding[]) { lk_tensor_binding (w, LK_ACCESS_READ),
                                           lk_tensor_binding (wt, LK_ACCESS_WRITE) },
                           2, &push, sizeof push, push.n, error))
    return NULL;
  return g_steal_pointer (&wt);
}

/* d [N, Cout, H, W] = dy spread by the stride, as many whole images per dispatch as fit. */
static gboolean
dilate (LkStream  *stream,
        LkTensor  *dy,
        LkTensor  *d,
        guint      stride,
        GError   **error)
{
  gint64 batch = dy->shape[0];
  gint64 d_image = d->shape[1] * d->shape[2] * d->shape[3];
  gint64 dy_image = dy->shape[1] * dy->shape[2] * dy->shape[3];
  gint64 per_chunk = MIN (lk_ops_rows_per_binding (d, d_image), lk_ops_rows_per_binding (dy, dy_image));
  guint32 spec[] = { lk_backward_is_f16 (dy), lk_backward_is_f16 (d) };

  if (per_chunk == 0)
    return lk_ops_error_too_large (d, "conv2d backward", "dy spread by the stride", "one image",
                                   error);
  for (gint64 b0 = 0; b0 < batch; b0 += per_chunk)
    {
      gint64 bn = MIN (per_chunk, batch - b0);
      struct { guint32 n, h, w, ho, wo, stride, dy_off, d_off; } push = {
        bn * d_image, d->shape[2], d->shape[3], dy->shape[2], dy->shape[3], stride, 0, 0,
      };
      LkBinding bindings[2];

      bindings[0] = lk_ops_bind_span (dy, b0 * dy_image, bn * dy_image, LK_ACCESS_READ,
                                      &push.dy_off);
      bindings[1] = lk_ops_bind_span (d, b0 * d_image, bn * d_image, LK_ACCESS_WRITE, &push.d_off);
      if (!lk_ops_dispatch_1d (stream, "conv2d_backward_dilate", spec, G_N_ELEMENTS (spec),
                               bindings, 2, &push, sizeof push, push.n, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
input_gradient (LkStream               *stream,
                LkTensor               *w,
                LkTensor               *dy,
                LkTensor               *dx,
                const LkConv2dOptions  *options,
                GError                **error)
{
  LkContext *context = lk_stream_get_context (stream);
  LkConv2dOptions same = { 1, options->padding };
  g_autoptr(LkTensor) wt = NULL;
  g_autoptr(LkTensor) spread = NULL;

  if (!lk_backward_check (w, "conv2d backward", "w", error) ||
      (wt = flipped_weights (stream, w, error)) == NULL)
    return FALSE;
  if (options->stride == 1)
    return lk_op_conv2d (stream, dy, wt, NULL, dx, &same, error);

  spread = lk_tensor_new (context, dy->dtype, 4,
                          (gint64[]) { dx->shape[0], dy->shape[1], dx->shape[2], dx->shape[3] },
                          error);
  return spread != NULL &&
         dilate (stream, dy, spread, options->stride, error) &&
         lk_op_conv2d (stream, spread, wt, NULL, dx, &same, error);
}

static gboolean
weight_gradient (LkStream               *stream,
                 LkTensor               *x,
                 LkTensor               *dy,
                 LkTensor               *dw,
                 LkTensor               *dbias,
                 const LkConv2dOptions  *options,
                 GError                **error)
{
  LkContext *context = lk_stream_get_context (stream);
  const LkDeviceInfo *info = lk_context_get_info (context);
  gint64 batch = x->shape[0], cin = x->shape[1], cout = dy->shape[1];
  gint64 ks = dw != NULL ? dw->shape[2] : 2 * options->padding + 1;
  gint64 x_image = cin * x->shape[2] * x->shape[3];
  gint64 dy_image = cout * dy->shape[2] * dy->shape[3];
  gint64 k_total = cin * ks * ks;
  gint64 per_chunk = MIN (lk_ops_rows_per_binding (x, x_image), lk_ops_rows_per_binding (dy, dy_image));
  gint64 col_begin = dw != NULL ? 0 : k_total;
  gint64 n_cols = k_total + (dbias != NULL) - col_begin;
  guint64 groups_x = (n_cols + WEIGHT_TN * WEIGHT_LOCAL_X - 1) / (WEIGHT_TN * WEIGHT_LOCAL_X);
  guint64 groups_y = (cout + WEIGHT_TM * WEIGHT_LOCAL_Y - 1) / (WEIGHT_TM * WEIGHT_LOCAL_Y);
  g_autoptr(LkTensor) dw_acc = NULL, db_acc = NULL;
  LkTensor *dw_out, *db_out;
  LkKernel *pipeline = NULL;
  gboolean split;

  if ((dw != NULL && !lk_backward_check (dw, "conv2d backward", "dw", error)) ||
      (dbias != NULL && !lk_backward_check (dbias, "conv2d backward", "dbias", error)))
    return FALSE;
  if (per_chunk == 0)
    return lk_ops_error_too_large (x, "conv2d backward", "x or dy", "one image", error);
  if (groups_x > info->max_workgroup_count[0] || groups_y > info->max_workgroup_count[1])
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "conv2d backward: a weight gradient of %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT
                   " needs more workgroups than the device dispatches", cout, k_total);
      return FALSE;
    }

  /* A batch split over dispatches adds up in f32; an f16 output gets the sum cast at the end. */
  split = per_chunk < batch;
  dw_out = dw;
  db_out = dbias;
  if (split && lk_backward_is_f16 (dw))
    {
      if ((dw_acc = lk_tensor_new (context, LK_DTYPE_F32, dw->ndim, dw->shape, error)) == NULL)
        return FALSE;
      dw_out = dw_acc;
    }
  if (split && lk_backward_is_f16 (dbias))
    {
      if ((db_acc = lk_tensor_new (context, LK_DTYPE_F32, 1, dbias->shape, error)) == NULL)
        return FALSE;
      db_out = db_acc;
    }

  for (gint64 b0 = 0; b0 < batch; b0 += per_chunk)
    {
      gint64 bn = MIN (per_chunk, batch - b0);
      guint32 spec[] = {
        WEIGHT_LOCAL_X, WEIGHT_LOCAL_Y, 1, WEIGHT_TM, WEIGHT_TN,
        lk_backward_is_f16 (x), lk_backward_is_f16 (dy), lk_backward_is_f16 (dw_out),
        lk_backward_is_f16 (db_out), ks, options->stride, options->padding, db_out != NULL,
        b0 > 0,
      };
      struct {
        guint32 cin, h, w, cout, ho, wo, batch, x_off, dy_off, dw_off, db_off, col_begin;
      } push = {
        cin, x->shape[2], x->shape[3], cout, dy->shape[2], dy->shape[3], bn, 0, 0, 0, 0,
        col_begin,
      };
      LkBinding bindings[4];

      bindings[0] = lk_ops_bind_span (x, b0 * x_image, bn * x_image, LK_ACCESS_READ, &push.x_off);
      bindings[1] = lk_ops_bind_span (dy, b0 * dy_image, bn * dy_image, LK_ACCESS_READ,
                                      &push.dy_off);
      /* Either output stands in for the other's binding, which the kernel then leaves alone. */
      if (dw_out != NULL)
        bindings[2] = lk_ops_bind_span (dw_out, 0, lk_tensor_numel (dw_out), LK_ACCESS_READ_WRITE,
                                        &push.dw_off);
      if (db_out != NULL)
        bindings[3] = lk_ops_bind_span (db_out, 0, cout, LK_ACCESS_READ_WRITE, &push.db_off);
      if (dw_out == NULL)
        bindings[2] = bindings[3];
      if (db_out == NULL)
        bindings[3] = bindings[2];

      pipeline = lk_context_get_kernel (context, "conv2d_backward_weight", 4, sizeof push, spec,
                                        G_N_ELEMENTS (spec), error);
      if (pipeline == NULL)
        return FALSE;
      lk_stream_dispatch (stream, pipeline, bindings, 4, &push, sizeof push, groups_x, groups_y, 1);
    }
  if (dw_acc != NULL && !lk_op_cast (stream, dw_acc, dw, error))
    return FALSE;
  if (db_acc != NULL && !lk_op_cast (stream, db_acc, dbias, error))
    return FALSE;
  return TRUE;
}

gboolean
lk_op_conv2d_backward (LkStream               *stream,
                       LkTensor               *x,
                       LkTensor               *w,
                       LkTensor               *dy,
                       LkTensor               *dx,
                       LkTensor               *dw,
                       LkTensor               *dbias,
                       const LkConv2dOptions  *options,
                       GError                **error)
{
  g_return_val_if_fail (stream != NULL && x != NULL && w != NULL && dy != NULL, FALSE);
  g_return_val_if_fail (options != NULL, FALSE);

  if (!check_shapes (x, w, dy, dx, dw, dbias, options, error))
    return FALSE;
  if (!lk_ops_check_contiguous (x, "conv2d backward", "x", error) ||
      !lk_ops_check_contiguous (w, "conv2d backward", "w", error) ||
      !lk_ops_check_contiguous (dy, "conv2d backward", "dy", error) ||
      (dx != NULL && !lk_ops_check_contiguous (dx, "conv2d backward", "dx", error)))
    return FALSE;
  if (lk_tensor_numel (x) >= G_MAXUINT32 || lk_tensor_numel (dy) >= G_MAXUINT32)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "conv2d backward: tensors of 2³² elements or more are not supported");
      return FALSE;
    }
  if (lk_tensor_numel (x) == 0 || lk_tensor_numel (dy) == 0)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE, "conv2d backward: empty tensors");
      return FALSE;
    }

  if (dx != NULL && !input_gradient (stream, w, dy, dx, options, error))
    return FALSE;
  if ((dw != NULL || dbias != NULL) && !weight_gradient (stream, x, dy, dw, dbias, options, error))
    return FALSE;
  return TRUE;
}
