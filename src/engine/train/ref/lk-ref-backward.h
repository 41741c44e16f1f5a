/* lk-ref-backward.h: CPU references of the backward ops and AdamW, in double
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "lk-ops-backward.h"

G_BEGIN_DECLS

double lk_ref_activation_value     (LkActivation  activation,
                                    double        x);
double lk_ref_activation_grad      (LkActivation  activation,
                                    double        x);
void   lk_ref_activation_backward  (LkActivation  activation,
                                    const float  *x,
                                    const float  *dy,
                                    float        *dx,
                                    gsize         n);
void   lk_ref_geglu_backward       (const float  *x,
                                    const float  *dy,
                                    float        *dx,
                                    gsize         rows,
                                    gsize         h);
/* gamma NULL: no affine step; dgamma, dbeta may be NULL. */
void   lk_ref_layer_norm_backward  (const float  *x,
                                    const float  *gamma,
                                    const float  *dy,
                                    float        *dx,
                                    float        *dgamma,
                                    float        *dbeta,
                                    gsize         rows,
                                    gsize         dim,
                                    float         eps);
void   lk_ref_group_norm_backward  (const float  *x,
                                    const float  *gamma,
                                    const float  *beta,
                                    const float  *dy,
                                    float        *dx,
                                    float        *dgamma,
                                    float        *dbeta,
                                    gsize         batch,
                                    gsize         channels,
                                    gsize         spatial,
                                    guint         groups,
                                    float         eps,
                                    gboolean      silu);
/* Of conv2d (k 1 or 3, "same" padding (k − 1) / 2, stride 1 or 2): dx, dw, dbias each may be
 * NULL. */
void   lk_ref_conv2d_backward      (const float  *x,
                                    const float  *w,
                                    const float  *dy,
                                    float        *dx,
                                    float        *dw,
                                    float        *dbias,
                                    gsize         batch,
                                    gsize         c_in,
                                    gsize         h,
                                    gsize         width,
                                    gsize         c_out,
                                    gsize         kernel,
                                    guint         stride);
/* Of lk_ref_attention_masked (scale already resolved), layouts as lk_op_attention's. */
void   lk_ref_attention_backward   (const float  *q,
                                    const float  *k,
                                    const float  *v,
                                    const float  *d_o,
                                    float        *dq,
                                    float        *dk,
                                    float        *dv,
                                    gsize         batch,
                                    gsize         n_q,
                                    gsize         n_k,
                                    guint         heads,
                                    gsize         head_dim,
                                    float         scale,
                                    gboolean      causal);
/* dy [planes, 2H, 2W] → dx [planes, H, W]. */
void   lk_ref_upsample_nearest2x_backward (const float *dy,
                                           float       *dx,
                                           gsize        planes,
                                           gsize        h,
                                           gsize        width);
/* dx[i] = Σ dy over the positions broadcast onto i; shapes right-aligned, up to 4 dims. */
void   lk_ref_broadcast_backward   (const float  *dy,
                                    const gint64 *dy_shape,
                                    guint         dy_ndim,
                                    float        *dx,
                                    const gint64 *dx_shape,
                                    guint         dx_ndim);

/* A LoRA layer y = x Wᵀ + b + scale · (x Aᵀ) Bᵀ over @rows rows of @in features: a Linear's
 * [rows, in] when spatial is 0, else a 1×1 convolution's [rows / spatial, in, spatial] NCHW.
 * W [out, in], b [out] or NULL, A [r, in], B [out, r]. The backward writes dx (may be NULL),
 * dA and dB. */
void   lk_ref_lora_forward         (const float  *x,
                                    const float  *w,
                                    const float  *b,
                                    const float  *down,
                                    const float  *up,
                                    float        *y,
                                    gsize         rows,
                                    gsize         spatial,
                                    gsize         in,
                                    gsize         out,
                                    gsize         rank,
                                    float         scale);
void   lk_ref_lora_backward        (const float  *x,
                                    const float  *w,
                                    const float  *down,
                                    const float  *up,
                                    const float  *dy,
                                    float        *dx,
                                    float        *d_down,
                                    float        *d_up,
                                    gsize         rows,
                                    gsize         spatial,
                                    gsize         in,
                                    gsize         out,
                                    gsize         rank,
                                    float         scale);

/* One step on n elements in place, state as the op's. stats NULL: no clipping or skipping. */
void   lk_ref_adamw_step           (float        *param,
                                    const float  *grad,
                                    float        *m,
                                    float        *v,
                                    gsize         n,
                                    const float  *stats,
                                    const LkAdamWOptions *options);

G_END_DECLS
