/* lk-ops-conv.c: conv2d as an implicit GEMM
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include "lk-ops-matmul-private.h"

typedef struct
{
  guint32 cin, h, w, cout, ho, wo;
  guint32 x_off, x_sb;
  guint32 w_off;
  guint32 y_off, y_sb;
  guint32 bias_off;
} ConvPush;

gboolean
lk_op_conv2d (LkStream              *stream,
              LkTensor              *x,
              LkTensor              *w,
              LkTensor              *bias,
              LkTensor              *y,
              const LkConv2dOptions *options,
              GError               **error)
{
  LkContext *context = lk_stream_get_context (stream);
  guint stride, padding;
  gint64 batch, cin, h, width, cout, ks, ho, wo, images_per_chunk;
  LkMatmulTiles tiles;
  ConvPush push = { 0 };
  guint32 bias_off = 0;

  g_return_val_if_fail (stream != NULL && x != NULL && w != NULL && y != NULL && options != NULL,
                        FALSE);
  stride = options->stride;
  padding = options->padding;

  if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4 || w->shape[1] != x->shape[1] ||
      x->shape[1] < 1 ||
      w->shape[2] != w->shape[3] || (w->shape[2] != 1 && w->shape[2] != 3) ||
      (stride != 1 && stride != 2) || padding > 1 ||
      x->shape[2] + 2 * padding < w->shape[2] || x->shape[3] + 2 * padding < w->shape[3] ||
      (bias != NULL && (bias->ndim != 1 || bias->shape[0] != w->shape[0])) ||
      y->shape[0] != x->shape[0] || y->shape[1] != w->shape[0] ||
      y->shape[2] != (x->shape[2] + 2 * padding - w->shape[2]) / stride + 1 ||
      y->shape[3] != (x->shape[3] + 2 * padding - w->shape[3]) / stride + 1)
    {
      g_autofree char *dx = lk_tensor_describe (x);
      g_autofree char *dw = lk_tensor_describe (w);
      g_autofree char *db = bias ? lk_tensor_describe (bias) : g_strdup ("none");
      g_autofree char *dy = lk_tensor_describe (y);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "conv2d: x %s, w %s, bias %s, y %s with stride %u, padding %u: expected "
                   "x [N, Cin, H, W], w [Cout, Cin, k, k] with k 1 or 3, bias [Cout], "
                   "y [N, Cout, Ho, Wo], stride 1 or 2, padding 0 or 1",
                   dx, dw, db, dy, stride, padding);
      return FALSE;
    }
  if (!lk_ops_check_contiguous (x, "conv2d", "x", error) ||
      !lk_ops_check_contiguous (w, "conv2d", "w", error) ||
      !lk_ops_check_contiguous (y, "conv2d", "y", error) ||
      (bias != NULL && !lk_ops_check_contiguous (bias, "conv2d", "bias", error)))
    return FALSE;
  if (lk_tensor_numel (x) >= G_MAXUINT32 || lk_tensor_numel (y) >= G_MAXUINT32)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "conv2d: tensors of 2³² elements or more are not supported");
      return FALSE;
    }

  batch = x->shape[0];
  cin = x->shape[1];
  h = x->shape[2];
  width = x->shape[3];
  cout = w->shape[0];
  ks = w->shape[2];
  ho = y->shape[2];
  wo = y->shape[3];
  if (lk_tensor_numel (y) == 0)
    return TRUE;

  /* Weights are bound whole; x and y whole or one image at a time. */
  if (!lk_matmul_fits (w, lk_tensor_numel (w)) ||
      !lk_matmul_fits (x, cin * h * width) || !lk_matmul_fits (y, cout * ho * wo))
    {
      g_autofree char *dx = lk_tensor_describe (x);
      g_autofree char *dw = lk_tensor_describe (w);
      g_autofree char *dy = lk_tensor_describe (y);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "conv2d: w %s or one image of x %s or y %s is larger than the device's "
                   "largest storage binding", dw, dx, dy);
      return FALSE;
    }
  if (lk_matmul_fits (x, lk_tensor_numel (x)) && lk_matmul_fits (y, lk_tensor_numel (y)))
    images_per_chunk = MIN (batch, 65535);
  else
    images_per_chunk = 1;
  images_per_chunk = MIN (images_per_chunk, lk_context_get_info (context)->max_workgroup_count[2]);

  lk_matmul_tiles (context, cout, ho * wo, &tiles);
  push.cin = cin;
  push.h = h;
  push.w = width;
  push.cout = cout;
  push.ho = ho;
  push.wo = wo;
  push.x_sb = cin * h * width;
  push.y_sb = cout * ho * wo;

  for (gint64 b0 = 0; b0 < batch; b0 += images_per_chunk)
    {
      gint64 bn = MIN (images_per_chunk, batch - b0);
      LkBinding bindings[4];
      LkKernel *pipeline;
      guint32 spec[LK_MATMUL_N_SPEC + 4];
      guint32 gx, gy;

      bindings[0] = lk_ops_bind_span (x, b0 * push.x_sb, bn * push.x_sb, LK_ACCESS_READ,
                                      &push.x_off);
      bindings[1] = lk_ops_bind_span (w, 0, lk_tensor_numel (w), LK_ACCESS_READ, &push.w_off);
      if (bias != NULL)
        bindings[2] = lk_ops_bind_span (bias, 0, cout, LK_ACCESS_READ, &bias_off);
      else
        bindings[2] = bindings[1];  /* unused; any valid buffer */
      bindings[3] = lk_ops_bind_span (y, b0 * push.y_sb, bn * push.y_sb, LK_ACCESS_WRITE,
                                      &push.y_off);
      push.bias_off = bias_off;

      lk_matmul_spec (&tiles, w, x, y, bias, spec);
      spec[LK_MATMUL_N_SPEC] = (cin * ks * ks) % 8 == 0 && push.w_off % 8 == 0;
      spec[LK_MATMUL_N_SPEC + 1] = ks;
      spec[LK_MATMUL_N_SPEC + 2] = stride;
      spec[LK_MATMUL_N_SPEC + 3] = padding;

      pipeline = lk_context_get_kernel (context, "conv2d", 4, sizeof push, spec,
                                        G_N_ELEMENTS (spec), error);
      if (pipeline == NULL)
        return FALSE;
      if (!lk_matmul_grid (context, &tiles, cout, ho * wo, &gx, &gy, error))
        {
          g_prefix_error (error, "conv2d: ");
          return FALSE;
        }
      lk_stream_dispatch (stream, pipeline, bindings, 4, &push, sizeof push, gx, gy, bn);
    }
  return TRUE;
}
