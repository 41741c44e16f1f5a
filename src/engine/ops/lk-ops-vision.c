/* lk-ops-vision.c: NHWC ops for the small vision networks
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include "lk-ops-vision.h"
#include "lk-ops-private.h"

gboolean
lk_vision_out_size (LkVisionPadMode  mode,
                    gint64           in,
                    gint64           kernel,
                    guint            stride,
                    guint            dilation,
                    gint64          *before,
                    gint64          *after,
                    gint64          *out)
{
  gint64 span = (kernel - 1) * MAX (dilation, 1) + 1;

  if (stride == 0 || kernel < 1 || in < 1)
    return FALSE;
  switch (mode)
    {
    case LK_VISION_PAD_VALID:
      *before = *after = 0;
      if (in < span)
        return FALSE;
      *out = (in - span) / stride + 1;
      return TRUE;
    case LK_VISION_PAD_SAME:
      {
        gint64 total;

        *out = (in + stride - 1) / stride;
        total = MAX ((*out - 1) * stride + span - in, 0);
        *before = total / 2;
        *after = total - *before;
        return TRUE;
      }
    case LK_VISION_PAD_EXPLICIT:
      if (*before < 0 || *after < 0 || in + *before + *after < span)
        return FALSE;
      *out = (in + *before + *after - span) / stride + 1;
      return TRUE;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
check_f32 (LkTensor    *t,
           const char  *op,
           const char  *what,
           GError     **error)
{
  if (t == NULL)
    return TRUE;
  if (t->dtype != LK_DTYPE_F32)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_DTYPE, "%s: %s must be f32, not %s", op, what,
                   lk_dtype_name (t->dtype));
      return FALSE;
    }
  if (lk_tensor_numel (t) >= G_MAXUINT32)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "%s: %s has 2³² elements or more", op, what);
      return FALSE;
    }
  return lk_ops_check_contiguous (t, op, what, error) && lk_ops_check_fits (t, op, what, error);
}

static gboolean
shape_error (const char  *op,
             const char  *expected,
             LkTensor    *a,
             LkTensor    *b,
             LkTensor    *c,
             GError     **error)
{
  g_autofree char *da = a ? lk_tensor_describe (a) : g_strdup ("none");
  g_autofree char *db = b ? lk_tensor_describe (b) : g_strdup ("none");
  g_autofree char *dc = c ? lk_tensor_describe (c) : g_strdup ("none");

  g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE, "%s: %s, %s, %s: expected %s", op, da, db,
               dc, expected);
  return FALSE;
}

typedef struct
{
  guint32 total;
  guint32 h, w, cin;
  guint32 ho, wo, cout;
  guint32 kh, kw;
  guint32 sh, sw;
  guint32 dh, dw;
  gint32  pt, pl;
  guint32 mult;
  guint32 groups;
} ConvPush;

/* Output channels per invocation of vision_conv2d (its CO). */
#define CONV_CHANNELS_PER_INVOCATION 4

enum { MODE_CONV, MODE_DEPTHWISE, MODE_TRANSPOSE };

static gboolean
conv_any (LkStream              *stream,
          guint                  mode,
          const char            *op,
          LkTensor              *x,
          LkTensor              *w,
          LkTensor              *bias,
          LkTensor              *alpha,
          LkVisionAct            act,
          LkTensor              *y,
          const LkVisionWindow  *window,
          GError               **error)
{
  ConvPush push = { 0 };
  LkBinding bindings[5];
  guint32 spec[3];
  gint64 cout;
  gboolean ok;

  g_return_val_if_fail (stream != NULL && x != NULL && w != NULL && y != NULL && window != NULL,
                        FALSE);
  if (act >= LK_VISION_N_ACTS || (act == LK_VISION_ACT_PRELU) != (alpha != NULL))
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "%s: PReLU needs alpha and only PReLU takes it", op);
      return FALSE;
    }
  if (!check_f32 (x, op, "x", error) || !check_f32 (w, op, "w", error) ||
      !check_f32 (bias, op, "bias", error) || !check_f32 (alpha, op, "alpha", error) ||
      !check_f32 (y, op, "y", error))
    return FALSE;
  cout = y->ndim == 4 ? y->shape[3] : 0;
  ok = x->ndim == 4 && w->ndim == 4 && y->ndim == 4 && y->shape[0] == x->shape[0] &&
       window->stride_h > 0 && window->stride_w > 0 &&
       (bias == NULL || (bias->ndim == 1 && bias->shape[0] == cout)) &&
       (alpha == NULL || (alpha->ndim == 1 && alpha->shape[0] == cout));
  if (ok && mode == MODE_CONV)
    ok = w->shape[2] == x->shape[3] && w->shape[3] == cout;
  else if (ok && mode == MODE_DEPTHWISE)
    ok = w->shape[2] == x->shape[3] && w->shape[3] >= 1 && cout == w->shape[2] * w->shape[3];
  else if (ok)
    ok = w->shape[2] == cout && w->shape[3] == x->shape[3];
  if (!ok)
    return shape_error (op, mode == MODE_CONV ? "x [N, H, W, Cin], w [kh, kw, Cin, Cout], "
                        "y [N, Ho, Wo, Cout], bias and alpha [Cout]" :
                        mode == MODE_DEPTHWISE ? "x [N, H, W, C], w [kh, kw, C, M], "
                        "y [N, Ho, Wo, C·M], bias and alpha [C·M]" :
                        "x [N, h, w, Cin], w [kh, kw, Cout, Cin], y [N, H, W, Cout], "
                        "bias and alpha [Cout]", x, w, y, error);
  if (lk_tensor_numel (y) == 0)
    return TRUE;

  /* A pointwise conv (most of these nets' arithmetic) is a GEMM in NHWC, [N·H·W, Cin] ×
   * [Cin, Cout]: the tiled GEMM kernel, then the activation in place. */
  if (mode == MODE_CONV && w->shape[0] == 1 && w->shape[1] == 1 && window->stride_h == 1 &&
      window->stride_w == 1 && window->pad_top == 0 && window->pad_left == 0 &&
      y->shape[1] == x->shape[1] && y->shape[2] == x->shape[2])
    {
      gint64 rows = x->shape[0] * x->shape[1] * x->shape[2];
      gint64 as[2] = { rows, x->shape[3] }, bs[2] = { x->shape[3], cout }, cs[2] = { rows, cout };
      g_autoptr(LkTensor) a = lk_tensor_view (x, 2, as, 0);
      g_autoptr(LkTensor) b = lk_tensor_view (w, 2, bs, 0);
      g_autoptr(LkTensor) c = lk_tensor_view (y, 2, cs, 0);
      LkGemmOptions options = LK_GEMM_OPTIONS_DEFAULT;

      if (!lk_op_gemm (stream, a, b, bias, c, &options, error))
        return FALSE;
      return act == LK_VISION_ACT_NONE ||
             lk_op_vision_activation (stream, act, c, alpha, c, error);
    }

  push.h = x->shape[1];
  push.w = x->shape[2];
  push.cin = x->shape[3];
  push.ho = y->shape[1];
  push.wo = y->shape[2];
  push.cout = cout;
  push.kh = w->shape[0];
  push.kw = w->shape[1];
  push.sh = window->stride_h;
  push.sw = window->stride_w;
  push.dh = MAX (window->dilation_h, 1);
  push.dw = MAX (window->dilation_w, 1);
  push.pt = window->pad_top;
  push.pl = window->pad_left;
  push.mult = mode == MODE_DEPTHWISE ? w->shape[3] : 1;
  push.groups = (cout + CONV_CHANNELS_PER_INVOCATION - 1) / CONV_CHANNELS_PER_INVOCATION;
  push.total = lk_tensor_numel (y) / cout * push.groups;

  bindings[0] = lk_tensor_binding (x, LK_ACCESS_READ);
  bindings[1] = lk_tensor_binding (w, LK_ACCESS_READ);
  bindings[2] = lk_tensor_binding (bias ? bias : w, LK_ACCESS_READ);
  bindings[3] = lk_tensor_binding (alpha ? alpha : w, LK_ACCESS_READ);
  bindings[4] = lk_tensor_binding (y, LK_ACCESS_WRITE);
  spec[0] = mode;
  spec[1] = act;
  spec[2] = bias != NULL;
  return lk_ops_dispatch_1d (stream, "vision_conv2d", spec, 3, bindings, 5, &push, sizeof push,
                             push.total, error);
}

gboolean
lk_op_vision_conv2d (LkStream              *stream,
                     LkTensor              *x,
                     LkTensor              *w,
                     LkTensor              *bias,
                     LkTensor              *alpha,
                     LkVisionAct            act,
                     LkTensor              *y,
                     const LkVisionWindow  *window,
                     GError               **error)
{
  return conv_any (stream, MODE_CONV, "vision conv2d", x, w, bias, alpha, act, y, window, error);
}

gboolean
lk_op_vision_depthwise (LkStream              *stream,
                        LkTensor              *x,
                        LkTensor              *w,
                        LkTensor              *bias,
                        LkTensor              *alpha,
                        LkVisionAct            act,
                        LkTensor              *y,
                        const LkVisionWindow  *window,
                        GError               **error)
{
  return conv_any (stream, MODE_DEPTHWISE, "vision depthwise conv2d", x, w, bias, alpha, act, y,
                   window, error);
}

gboolean
lk_op_vision_conv2d_transpose (LkStream              *stream,
                               LkTensor              *x,
                               LkTensor              *w,
                               LkTensor              *bias,
                               LkTensor              *alpha,
                               LkVisionAct            act,
                               LkTensor              *y,
                               const LkVisionWindow  *window,
                               GError               **error)
{
  return conv_any (stream, MODE_TRANSPOSE, "vision conv2d transpose", x, w, bias, alpha, act, y,
                   window, error);
}

gboolean
lk_op_vision_activation (LkStream     *stream,
                         LkVisionAct   act,
                         LkTensor     *x,
                         LkTensor     *alpha,
                         LkTensor     *y,
                         GError      **error)
{
  struct { guint32 n, channels; } push;
  LkBinding bindings[3];
  guint32 spec = act;

  g_return_val_if_fail (stream != NULL && x != NULL && y != NULL, FALSE);
  if (act >= LK_VISION_N_ACTS || (act == LK_VISION_ACT_PRELU) != (alpha != NULL))
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "vision activation: PReLU needs alpha and only PReLU takes it");
      return FALSE;
    }
  if (!check_f32 (x, "vision activation", "x", error) ||
      !check_f32 (alpha, "vision activation", "alpha", error) ||
      !check_f32 (y, "vision activation", "y", error) ||
      !lk_ops_check_shape_equal (x, y, "vision activation", error))
    return FALSE;
  if (alpha != NULL && (x->ndim < 1 || alpha->ndim != 1 || alpha->shape[0] != x->shape[x->ndim - 1]))
    return shape_error ("vision activation", "alpha [C] for x [..., C]", x, alpha, y, error);
  push.n = lk_tensor_numel (x);
  push.channels = x->ndim >= 1 ? MAX (x->shape[x->ndim - 1], 1) : 1;
  bindings[0] = lk_tensor_binding (x, LK_ACCESS_READ);
  bindings[1] = lk_tensor_binding (alpha ? alpha : x, LK_ACCESS_READ);
  bindings[2] = lk_tensor_binding (y, LK_ACCESS_WRITE);
  return lk_ops_dispatch_1d (stream, "vision_activation", &spec, 1, bindings, 3, &push,
                             sizeof push, push.n, error);
}

gboolean
lk_op_vision_pool (LkStream              *stream,
                   LkVisionPool           pool,
                   LkTensor              *x,
                   LkTensor              *y,
                   guint                  kernel_h,
                   guint                  kernel_w,
                   const LkVisionWindow  *window,
                   GError               **error)
{
  struct { guint32 total, h, w, c, ho, wo, kh, kw, sh, sw; gint32 pt, pl; } push;
  LkBinding bindings[2];
  guint32 spec = pool == LK_VISION_POOL_AVG;

  g_return_val_if_fail (stream != NULL && x != NULL && y != NULL && window != NULL, FALSE);
  if (!check_f32 (x, "vision pool", "x", error) || !check_f32 (y, "vision pool", "y", error))
    return FALSE;
  if (x->ndim != 4 || y->ndim != 4 || x->shape[0] != y->shape[0] || x->shape[3] != y->shape[3] ||
      kernel_h == 0 || kernel_w == 0 || window->stride_h == 0 || window->stride_w == 0)
    return shape_error ("vision pool", "x [N, H, W, C], y [N, Ho, Wo, C], a kernel and strides "
                        "of at least 1", x, NULL, y, error);
  push.total = lk_tensor_numel (y);
  push.h = x->shape[1];
  push.w = x->shape[2];
  push.c = x->shape[3];
  push.ho = y->shape[1];
  push.wo = y->shape[2];
  push.kh = kernel_h;
  push.kw = kernel_w;
  push.sh = window->stride_h;
  push.sw = window->stride_w;
  push.pt = window->pad_top;
  push.pl = window->pad_left;
  bindings[0] = lk_tensor_binding (x, LK_ACCESS_READ);
  bindings[1] = lk_tensor_binding (y, LK_ACCESS_WRITE);
  return lk_ops_dispatch_1d (stream, "vision_pool", &spec, 1, bindings, 2, &push, sizeof push,
                             push.total, error);
}

gboolean
lk_op_vision_pad (LkStream      *stream,
                  LkTensor      *x,
                  const gint64   pads[4][2],
                  float          value,
                  LkTensor      *y,
                  GError       **error)
{
  struct { guint32 total, xs[4], ys[4], before[4]; float value; } push;
  LkBinding bindings[2];
  gboolean ok;

  g_return_val_if_fail (stream != NULL && x != NULL && y != NULL && pads != NULL, FALSE);
  if (!check_f32 (x, "vision pad", "x", error) || !check_f32 (y, "vision pad", "y", error))
    return FALSE;
  ok = x->ndim == 4 && y->ndim == 4;
  for (guint d = 0; ok && d < 4; d++)
    ok = pads[d][0] >= 0 && pads[d][1] >= 0 &&
         y->shape[d] == x->shape[d] + pads[d][0] + pads[d][1];
  if (!ok)
    return shape_error ("vision pad", "4-D x and y with y = x + pads on every dimension, pads "
                        "not negative", x, NULL, y, error);
  push.total = lk_tensor_numel (y);
  for (guint d = 0; d < 4; d++)
    {
      push.xs[d] = x->shape[d];
      push.ys[d] = y->shape[d];
      push.before[d] = pads[d][0];
    }
  push.value = value;
  bindings[0] = lk_tensor_binding (x, LK_ACCESS_READ);
  bindings[1] = lk_tensor_binding (y, LK_ACCESS_WRITE);
  return lk_ops_dispatch_1d (stream, "vision_pad", NULL, 0, bindings, 2, &push, sizeof push,
                             push.total, error);
}

static float
resize_scale (gint64   in,
              gint64   out,
              gboolean align_corners)
{
  if (align_corners && out > 1)
    return (float) (in - 1) / (out - 1);
  return (float) in / out;
}

gboolean
lk_op_vision_resize_bilinear (LkStream  *stream,
                              LkTensor  *x,
                              LkTensor  *y,
                              gboolean   align_corners,
                              gboolean   half_pixel_centers,
                              GError   **error)
{
  struct { guint32 total, h, w, c, ho, wo; float scale_y, scale_x; } push;
  LkBinding bindings[2];
  guint32 spec = half_pixel_centers;

  g_return_val_if_fail (stream != NULL && x != NULL && y != NULL, FALSE);
  if (align_corners && half_pixel_centers)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "vision resize: align_corners and half_pixel_centers exclude each other");
      return FALSE;
    }
  if (!check_f32 (x, "vision resize", "x", error) || !check_f32 (y, "vision resize", "y", error))
    return FALSE;
  if (x->ndim != 4 || y->ndim != 4 || x->shape[0] != y->shape[0] || x->shape[3] != y->shape[3] ||
      x->shape[1] < 1 || x->shape[2] < 1)
    return shape_error ("vision resize", "x [N, H, W, C], y [N, Ho, Wo, C]", x, NULL, y, error);
  push.total = lk_tensor_numel (y);
  push.h = x->shape[1];
  push.w = x->shape[2];
  push.c = x->shape[3];
  push.ho = y->shape[1];
  push.wo = y->shape[2];
  push.scale_y = resize_scale (push.h, push.ho, align_corners);
  push.scale_x = resize_scale (push.w, push.wo, align_corners);
  bindings[0] = lk_tensor_binding (x, LK_ACCESS_READ);
  bindings[1] = lk_tensor_binding (y, LK_ACCESS_WRITE);
  return lk_ops_dispatch_1d (stream, "vision_resize_bilinear", &spec, 1, bindings, 2, &push,
                             sizeof push, push.total, error);
}

gboolean
lk_op_vision_depth_to_space (LkStream  *stream,
                             LkTensor  *x,
                             guint      block,
                             LkTensor  *y,
                             GError   **error)
{
  struct { guint32 total, h, w, c, block; } push;
  LkBinding bindings[2];

  g_return_val_if_fail (stream != NULL && x != NULL && y != NULL, FALSE);
  if (!check_f32 (x, "vision depth to space", "x", error) ||
      !check_f32 (y, "vision depth to space", "y", error))
    return FALSE;
  if (block < 1 || x->ndim != 4 || y->ndim != 4 || x->shape[0] != y->shape[0] ||
      y->shape[1] != x->shape[1] * block || y->shape[2] != x->shape[2] * block ||
      x->shape[3] != y->shape[3] * block * block)
    return shape_error ("vision depth to space", "x [N, H, W, C·b²], y [N, H·b, W·b, C]",
                        x, NULL, y, error);
  push.total = lk_tensor_numel (y);
  push.h = x->shape[1];
  push.w = x->shape[2];
  push.c = y->shape[3];
  push.block = block;
  bindings[0] = lk_tensor_binding (x, LK_ACCESS_READ);
  bindings[1] = lk_tensor_binding (y, LK_ACCESS_WRITE);
  return lk_ops_dispatch_1d (stream, "vision_depth_to_space", NULL, 0, bindings, 2, &push,
                             sizeof push, push.total, error);
}

gboolean
lk_op_vision_concat (LkStream  *stream,
                     LkTensor  *a,
                     LkTensor  *b,
                     LkTensor  *y,
                     GError   **error)
{
  gint64 rows = 1;
  gint64 as[4], bs[4], ys[4];
  g_autoptr(LkTensor) va = NULL, vb = NULL, vy = NULL;
  gboolean ok;

  g_return_val_if_fail (stream != NULL && a != NULL && b != NULL && y != NULL, FALSE);
  ok = a->ndim >= 1 && a->ndim == b->ndim && a->ndim == y->ndim &&
       y->shape[y->ndim - 1] == a->shape[a->ndim - 1] + b->shape[b->ndim - 1];
  for (guint d = 0; ok && d + 1 < a->ndim; d++)
    {
      ok = a->shape[d] == y->shape[d] && b->shape[d] == y->shape[d];
      rows *= y->shape[d];
    }
  if (!ok)
    return shape_error ("vision concat", "a [..., Ca], b [..., Cb], y [..., Ca + Cb]", a, b, y,
                        error);
  if (!lk_ops_check_contiguous (a, "vision concat", "a", error) ||
      !lk_ops_check_contiguous (b, "vision concat", "b", error) ||
      !lk_ops_check_contiguous (y, "vision concat", "y", error))
    return FALSE;
  /* The last axis of a row-major tensor is NCHW's channel axis of [rows, C, 1, 1]: the existing
   * channel concatenation does the work. */
  as[0] = bs[0] = ys[0] = rows;
  as[1] = a->shape[a->ndim - 1];
  bs[1] = b->shape[b->ndim - 1];
  ys[1] = y->shape[y->ndim - 1];
  as[2] = as[3] = bs[2] = bs[3] = ys[2] = ys[3] = 1;
  va = lk_tensor_view (a, 4, as, 0);
  vb = lk_tensor_view (b, 4, bs, 0);
  vy = lk_tensor_view (y, 4, ys, 0);
  return lk_op_concat_channels (stream, va, vb, vy, error);
}
