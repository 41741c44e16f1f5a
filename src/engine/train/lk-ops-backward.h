/* lk-ops-backward.h: the backward ops of training and the optimizer step
 *
 * Every backward op recomputes what it needs from the forward op's input (activations, norm
 * statistics), so the forward pass saves only inputs. Gradients are written, not added: a
 * caller that accumulates (gradient accumulation, a tensor used twice) adds them itself.
 * Arithmetic and reductions are f32; tensors may be f16 or f32 unless an op says otherwise,
 * must be contiguous and, unlike the forward ops, each must fit one storage binding.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-ops.h"

G_BEGIN_DECLS

/* The activations with a derivative kernel; QuickGELU is CLIP's x · σ(1.702 x). */
typedef enum
{
  LK_ACTIVATION_SILU,
  LK_ACTIVATION_GELU,        /* erf form */
  LK_ACTIVATION_QUICK_GELU,
  LK_N_ACTIVATIONS
} LkActivation;

/* dx = dy · f'(x); all three the same shape. */
gboolean lk_op_activation_backward (LkStream       *stream,
                                    LkActivation    activation,
                                    LkTensor       *x,
                                    LkTensor       *dy,
                                    LkTensor       *dx,
                                    GError        **error);
/* Of lk_op_geglu: x [..., 2H], dy [..., H] → dx [..., 2H] (both halves). */
gboolean lk_op_geglu_backward      (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *dy,
                                    LkTensor       *dx,
                                    GError        **error);

/* Of lk_op_layer_norm: x, dy, dx [..., D]; gamma [D] or NULL (no affine step, and then
 * dgamma and dbeta must be NULL too); dgamma, dbeta [D] f32 or f16, or NULL when not wanted.
 * Uses a scratch f32 tensor the size of x. */
gboolean lk_op_layer_norm_backward (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *gamma,
                                    LkTensor       *dy,
                                    LkTensor       *dx,
                                    LkTensor       *dgamma,
                                    LkTensor       *dbeta,
                                    float           eps,
                                    GError        **error);
/* Of lk_op_group_norm (silu: of the fused SiLU too): x, dy, dx [N, C, ...]; gamma and beta [C]
 * or both NULL; dgamma, dbeta [C] or NULL. beta is read only when silu is set. */
gboolean lk_op_group_norm_backward (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *gamma,
                                    LkTensor       *beta,
                                    LkTensor       *dy,
                                    LkTensor       *dx,
                                    LkTensor       *dgamma,
                                    LkTensor       *dbeta,
                                    guint           groups,
                                    float           eps,
                                    gboolean        silu,
                                    GError        **error);

/* y [cols] = Σ over rows of x seen as [rows, cols], cols being its last dimension: the bias
 * gradient. Deterministic (a fixed order per column, in stages of 256 rows). */
gboolean lk_op_sum_rows            (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *y,
                                    GError        **error);

/* Of lk_op_gemm (C = alpha · op(A) · op(B) + bias, the same options): da = ∂L/∂A and
 * db = ∂L/∂B in the layout of A and B, dbias [N] = Σ dC over rows; any of the three may be NULL.
 * A B of batch 1 shared by a batched A gets the sum over the batch (A not transposed only). */
gboolean lk_op_gemm_backward       (LkStream            *stream,
                                    LkTensor            *a,
                                    LkTensor            *b,
                                    LkTensor            *dc,
                                    LkTensor            *da,
                                    LkTensor            *db,
                                    LkTensor            *dbias,
                                    const LkGemmOptions *options,
                                    GError             **error);

/* Of lk_op_conv2d: x [N, Cin, H, W], w [Cout, Cin, k, k] and dy [N, Cout, Ho, Wo] → dx (as x),
 * dw (as w), dbias [Cout]; any of the three may be NULL. "Same" convolutions only, as SD's:
 * k 3 with padding 1 or k 1 with padding 0, at stride 1 or 2. x, dy and dx split into whole
 * images where they exceed one storage binding (as lk_op_conv2d does); w, dw and dbias must
 * fit one. The weight and bias gradients are summed over the batch in a fixed order. */
gboolean lk_op_conv2d_backward     (LkStream              *stream,
                                    LkTensor              *x,
                                    LkTensor              *w,
                                    LkTensor              *dy,
                                    LkTensor              *dx,
                                    LkTensor              *dw,
                                    LkTensor              *dbias,
                                    const LkConv2dOptions *options,
                                    GError               **error);

/* Of lk_op_attention_masked (q, k, v, o, heads, scale and causal as there; o is the forward's
 * output):
 * d_o [B, Nq, heads·D] → dq, dk, dv of the shapes of q, k, v. Flash-style: the log-sum-exp of
 * each score row and Σ d_o · o are computed once into a scratch [B, heads, Nq] f32 pair, then
 * the scores are recomputed key by key for dq (per query) and query by query for dk, dv (per
 * key); no Nq × Nk matrix exists. Head dims multiples of 4 up to 256 (SD's and CLIP's are
 * 40 to 160); every tensor must fit one binding. */
gboolean lk_op_attention_backward  (LkStream       *stream,
                                    LkTensor       *q,
                                    LkTensor       *k,
                                    LkTensor       *v,
                                    LkTensor       *o,
                                    LkTensor       *d_o,
                                    LkTensor       *dq,
                                    LkTensor       *dk,
                                    LkTensor       *dv,
                                    guint           heads,
                                    float           scale,
                                    gboolean        causal,
                                    GError        **error);

/* Of lk_op_upsample_nearest2x: dy [N, C, 2H, 2W] → dx [N, C, H, W], each the sum of its 2 × 2
 * block. */
gboolean lk_op_upsample_nearest2x_backward (LkStream  *stream,
                                            LkTensor  *dy,
                                            LkTensor  *dx,
                                            GError   **error);
/* Of lk_op_concat_channels: dy [N, Ca + Cb, H, W] → da [N, Ca, H, W] and db [N, Cb, H, W]
 * (either may be NULL): the two channel slices. */
gboolean lk_op_concat_channels_backward (LkStream  *stream,
                                         LkTensor  *dy,
                                         LkTensor  *da,
                                         LkTensor  *db,
                                         GError   **error);
/* The gradient of an operand that lk_op_binary broadcast to dy's shape: dx = dy summed over
 * the dimensions where dx has size 1 or which it lacks (numpy's rules), in a fixed order. dx
 * of dy's shape is a plain copy. Up to 4 dimensions. */
gboolean lk_op_broadcast_backward  (LkStream       *stream,
                                    LkTensor       *dy,
                                    LkTensor       *dx,
                                    GError        **error);
/* Of y = a + b (LK_BINARY_ADD, broadcasting): da, db (either NULL) of a's and b's shapes. */
gboolean lk_op_add_backward        (LkStream       *stream,
                                    LkTensor       *dy,
                                    LkTensor       *da,
                                    LkTensor       *db,
                                    GError        **error);
/* Of y = a · b (LK_BINARY_MUL, broadcasting): da = Σ dy · b and db = Σ dy · a over what was
 * broadcast; either may be NULL. Uses a scratch f32 tensor of dy's shape. */
gboolean lk_op_mul_backward        (LkStream       *stream,
                                    LkTensor       *a,
                                    LkTensor       *b,
                                    LkTensor       *dy,
                                    LkTensor       *da,
                                    LkTensor       *db,
                                    GError        **error);

/* stats f32 [2] = { Σ x² over every element of every tensor, number of NaN/inf elements }: the
 * global gradient norm for clipping and the overflow check of dynamic loss scaling, computed
 * without a read-back. */
gboolean lk_op_grad_stats          (LkStream       *stream,
                                    LkTensor      **tensors,
                                    guint           n_tensors,
                                    LkTensor       *stats,
                                    GError        **error);

/* Doubles, as torch's Python floats: 1 − β2 formed from 0.999f would be off by 1e-5. */
typedef struct
{
  double lr;
  double beta1;
  double beta2;
  double eps;
  double weight_decay;
  guint  step;            /* t, from 1: the bias correction's */
  double grad_scale;     /* the gradients are multiplied by it first: 1 / loss scale */
  double max_grad_norm;  /* > 0 with stats: clip by the global norm, as clip_grad_norm_ */
} LkAdamWOptions;

/* EasyPhoto's: torch.optim.AdamW defaults but weight decay 1e-2, clipping at 1.0. */
#define LK_ADAMW_OPTIONS_DEFAULT \
  ((LkAdamWOptions) { 1e-4, 0.9, 0.999, 1e-8, 1e-2, 1, 1.0, 1.0 })

/* One AdamW step in place: param, m, v f32 and grad (f32 or f16) of one shape; m and v start
 * at zero. stats, when not NULL, is lk_op_grad_stats() over all the gradients of the step
 * (still multiplied by the loss scale): it gives the clipping norm, and a NaN/inf count above
 * zero turns the step into a no-op for every tensor (the caller then lowers the loss scale and
 * does not advance step). */
gboolean lk_op_adamw_step          (LkStream             *stream,
                                    LkTensor             *param,
                                    LkTensor             *grad,
                                    LkTensor             *m,
                                    LkTensor             *v,
                                    LkTensor             *stats,
                                    const LkAdamWOptions *options,
                                    GError              **error);

G_END_DECLS
