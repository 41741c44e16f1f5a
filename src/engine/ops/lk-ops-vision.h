/* lk-ops-vision.h: NHWC ops for the small vision networks (face detection, mesh, segmentation,
 * super-resolution), and their CPU references
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * These nets come from TensorFlow: their graphs are NHWC, their filters HWIO, and their Reshape
 * nodes assume NHWC element order. Keeping NHWC on the device means no layout conversion of
 * weights or of reshaped outputs, and the channel dimension (the one every kernel reads) is
 * contiguous. All tensors are f32 and contiguous; images are [N, H, W, C].
 */
#pragma once

#include "lk-ops.h"

G_BEGIN_DECLS

typedef enum
{
  LK_VISION_ACT_NONE,
  LK_VISION_ACT_RELU,
  LK_VISION_ACT_RELU6,
  LK_VISION_ACT_PRELU,    /* x < 0: alpha[c] · x, alpha per output channel */
  LK_VISION_ACT_SIGMOID,
  LK_VISION_N_ACTS
} LkVisionAct;

typedef enum
{
  LK_VISION_PAD_VALID,
  LK_VISION_PAD_SAME,      /* TensorFlow's: out = ⌈in / stride⌉, the odd pixel after */
  LK_VISION_PAD_EXPLICIT,
} LkVisionPadMode;

/* Output size and leading padding of one spatial axis under TensorFlow's rules; for EXPLICIT,
 * @before and @after are inputs. FALSE when the kernel does not fit. */
gboolean lk_vision_out_size (LkVisionPadMode  mode,
                             gint64           in,
                             gint64           kernel,
                             guint            stride,
                             guint            dilation,
                             gint64          *before,
                             gint64          *after,
                             gint64          *out);

/* Window geometry shared by convolutions and pools; the output size is y's. */
typedef struct
{
  guint stride_h, stride_w;
  guint dilation_h, dilation_w;  /* 0 counts as 1 */
  gint  pad_top, pad_left;       /* leading padding; trailing follows from y's size */
} LkVisionWindow;

/* y [N, Ho, Wo, Cout] = act (conv (x [N, H, W, Cin], w [kh, kw, Cin, Cout]) + bias), bias
 * [Cout] or NULL, alpha [Cout] for PReLU. */
gboolean lk_op_vision_conv2d       (LkStream              *stream,
                                    LkTensor              *x,
                                    LkTensor              *w,
                                    LkTensor              *bias,
                                    LkTensor              *alpha,
                                    LkVisionAct            act,
                                    LkTensor              *y,
                                    const LkVisionWindow  *window,
                                    GError               **error);
/* Depthwise: w [kh, kw, C, M], y [N, Ho, Wo, C·M] (channel c·M + m from input channel c), bias
 * and alpha [C·M]. */
gboolean lk_op_vision_depthwise    (LkStream              *stream,
                                    LkTensor              *x,
                                    LkTensor              *w,
                                    LkTensor              *bias,
                                    LkTensor              *alpha,
                                    LkVisionAct            act,
                                    LkTensor              *y,
                                    const LkVisionWindow  *window,
                                    GError               **error);
/* TensorFlow's Conv2DBackpropInput (a transposed convolution): x [N, h, w, Cin] is the
 * gradient of a strided forward conv whose input y [N, H, W, Cout] we produce; w [kh, kw, Cout,
 * Cin] is that forward conv's filter; pad_* are the forward conv's leading padding. Optional
 * bias [Cout] and activation as conv2d. */
gboolean lk_op_vision_conv2d_transpose (LkStream          *stream,
                                    LkTensor              *x,
                                    LkTensor              *w,
                                    LkTensor              *bias,
                                    LkTensor              *alpha,
                                    LkVisionAct            act,
                                    LkTensor              *y,
                                    const LkVisionWindow  *window,
                                    GError               **error);
/* y = act (x) elementwise; alpha [C] (C the last dimension) for PReLU, else NULL. */
gboolean lk_op_vision_activation   (LkStream              *stream,
                                    LkVisionAct            act,
                                    LkTensor              *x,
                                    LkTensor              *alpha,
                                    LkTensor              *y,
                                    GError               **error);

typedef enum
{
  LK_VISION_POOL_MAX,
  LK_VISION_POOL_AVG,   /* averages the window's elements inside the image only, as TF */
} LkVisionPool;

gboolean lk_op_vision_pool         (LkStream              *stream,
                                    LkVisionPool           pool,
                                    LkTensor              *x,
                                    LkTensor              *y,
                                    guint                  kernel_h,
                                    guint                  kernel_w,
                                    const LkVisionWindow  *window,
                                    GError               **error);
/* Constant padding of a 4-D tensor: pads[d][0] before and pads[d][1] after dimension d (NHWC;
 * the channel padding BlazeFace uses for widening shortcuts included); y's shape must match. */
gboolean lk_op_vision_pad          (LkStream              *stream,
                                    LkTensor              *x,
                                    const gint64           pads[4][2],
                                    float                  value,
                                    LkTensor              *y,
                                    GError               **error);
/* TensorFlow's ResizeBilinear: align_corners maps corner pixel centres onto each other,
 * half_pixel_centers samples at (o + ½) · in / out − ½; neither is the legacy o · in / out. */
gboolean lk_op_vision_resize_bilinear (LkStream           *stream,
                                    LkTensor              *x,
                                    LkTensor              *y,
                                    gboolean               align_corners,
                                    gboolean               half_pixel_centers,
                                    GError               **error);
/* TensorFlow's DepthToSpace (NHWC, DCR order): y [N, H·b, W·b, C / b²]. */
gboolean lk_op_vision_depth_to_space (LkStream            *stream,
                                    LkTensor              *x,
                                    guint                  block,
                                    LkTensor              *y,
                                    GError               **error);
/* Concatenation along the last dimension: y [..., Ca + Cb]. */
gboolean lk_op_vision_concat       (LkStream              *stream,
                                    LkTensor              *a,
                                    LkTensor              *b,
                                    LkTensor              *y,
                                    GError               **error);

/* CPU references (double accumulation), same layouts and arguments; shapes given as
 * [N, H, W, C] arrays. */
float lk_ref_vision_act_value      (LkVisionAct            act,
                                    float                  x,
                                    float                  alpha);
void  lk_ref_vision_conv2d         (const float           *x,
                                    const gint64          *x_shape,
                                    const float           *w,
                                    gint64                 kernel_h,
                                    gint64                 kernel_w,
                                    gboolean               depthwise,
                                    const float           *bias,
                                    const float           *alpha,
                                    LkVisionAct            act,
                                    float                 *y,
                                    const gint64          *y_shape,
                                    const LkVisionWindow  *window);
void  lk_ref_vision_conv2d_transpose (const float         *x,
                                    const gint64          *x_shape,
                                    const float           *w,
                                    gint64                 kernel_h,
                                    gint64                 kernel_w,
                                    const float           *bias,
                                    const float           *alpha,
                                    LkVisionAct            act,
                                    float                 *y,
                                    const gint64          *y_shape,
                                    const LkVisionWindow  *window);
void  lk_ref_vision_activation     (LkVisionAct            act,
                                    const float           *x,
                                    const float           *alpha,
                                    gint64                 channels,
                                    float                 *y,
                                    gint64                 n);
void  lk_ref_vision_pool           (LkVisionPool           pool,
                                    const float           *x,
                                    const gint64          *x_shape,
                                    float                 *y,
                                    const gint64          *y_shape,
                                    guint                  kernel_h,
                                    guint                  kernel_w,
                                    const LkVisionWindow  *window);
void  lk_ref_vision_pad            (const float           *x,
                                    const gint64          *x_shape,
                                    const gint64           pads[4][2],
                                    float                  value,
                                    float                 *y);
void  lk_ref_vision_resize_bilinear (const float          *x,
                                    const gint64          *x_shape,
                                    float                 *y,
                                    const gint64          *y_shape,
                                    gboolean               align_corners,
                                    gboolean               half_pixel_centers);
void  lk_ref_vision_depth_to_space (const float           *x,
                                    const gint64          *x_shape,
                                    guint                  block,
                                    float                 *y);

G_END_DECLS
