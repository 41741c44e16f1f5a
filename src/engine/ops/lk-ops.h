/* lk-ops.h: the forward ops, one C entry per shader, each recorded into a stream
 *
 * Every op checks shapes and dtypes and returns FALSE with an LK_OP_ERROR on a mismatch; device
 * errors surface when the stream is submitted. Tensors are contiguous unless an op says
 * otherwise; f16 and f32 can be mixed freely, arithmetic is f32.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "tensor/lk-tensor.h"

G_BEGIN_DECLS

#define LK_OP_ERROR (lk_op_error_quark ())

typedef enum
{
  LK_OP_ERROR_SHAPE,
  LK_OP_ERROR_DTYPE,
  LK_OP_ERROR_UNSUPPORTED,
} LkOpError;

GQuark lk_op_error_quark (void);

/* Elementwise: y = f(x) · alpha + beta */
typedef enum
{
  LK_UNARY_IDENTITY,
  LK_UNARY_SILU,
  LK_UNARY_GELU,      /* erf form, as torch.nn.functional.gelu */
  LK_UNARY_SIGMOID,
  LK_UNARY_TANH,
  LK_UNARY_QUICK_GELU, /* x · sigmoid(1.702 x), CLIP's activation */
  LK_N_UNARY_OPS
} LkUnaryOp;

typedef enum
{
  LK_BINARY_ADD,
  LK_BINARY_SUB,
  LK_BINARY_MUL,
  LK_BINARY_DIV,
  LK_N_BINARY_OPS
} LkBinaryOp;

gboolean lk_op_unary               (LkStream       *stream,
                                    LkUnaryOp       op,
                                    LkTensor       *x,
                                    float           alpha,
                                    float           beta,
                                    LkTensor       *y,
                                    GError        **error);
gboolean lk_op_cast                (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *y,
                                    GError        **error);
gboolean lk_op_scale               (LkStream       *stream,
                                    LkTensor       *x,
                                    float           alpha,
                                    LkTensor       *y,
                                    GError        **error);
gboolean lk_op_silu                (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *y,
                                    GError        **error);
gboolean lk_op_gelu                (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *y,
                                    GError        **error);
/* y = a ∘ b with numpy broadcasting; y has the broadcast shape. */
gboolean lk_op_binary              (LkStream       *stream,
                                    LkBinaryOp      op,
                                    LkTensor       *a,
                                    LkTensor       *b,
                                    LkTensor       *y,
                                    GError        **error);
gboolean lk_op_add                 (LkStream       *stream,
                                    LkTensor       *a,
                                    LkTensor       *b,
                                    LkTensor       *y,
                                    GError        **error);
gboolean lk_op_mul                 (LkStream       *stream,
                                    LkTensor       *a,
                                    LkTensor       *b,
                                    LkTensor       *y,
                                    GError        **error);
/* x [..., 2H] → y [..., H] = x[..., :H] · gelu(x[..., H:]) */
gboolean lk_op_geglu               (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *y,
                                    GError        **error);
/* NCHW: y [N, Ca + Cb, H, W] */
gboolean lk_op_concat_channels     (LkStream       *stream,
                                    LkTensor       *a,
                                    LkTensor       *b,
                                    LkTensor       *y,
                                    GError        **error);
/* NCHW: y [N, C, 2H, 2W] */
gboolean lk_op_upsample_nearest2x  (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *y,
                                    GError        **error);
/* t [B] → y [B, dim]: [cos | sin] of t · max_period^(−i/half) when flip_sin_to_cos, as SD1.5;
 * [sin | cos] otherwise. */
gboolean lk_op_timestep_embedding  (LkStream       *stream,
                                    LkTensor       *t,
                                    LkTensor       *y,
                                    float           max_period,
                                    gboolean        flip_sin_to_cos,
                                    GError        **error);

/* GEMM: C[b] = alpha · op(A[b]) · op(B[b]) + bias, f32 accumulation.
 * A is [batch, M, K] ([batch, K, M] when transposed), B is [batch, K, N] ([batch, N, K] when
 * transposed, as Linear weights are); 2-D tensors have batch 1 and B may have batch 1 for all
 * of A's batches. bias is [N] or NULL. C is [batch, M, N]. */
typedef struct
{
  gboolean transpose_a;
  gboolean transpose_b;
  float    alpha;
} LkGemmOptions;

#define LK_GEMM_OPTIONS_DEFAULT ((LkGemmOptions) { FALSE, FALSE, 1.0f })

gboolean lk_op_gemm                (LkStream            *stream,
                                    LkTensor            *a,
                                    LkTensor            *b,
                                    LkTensor            *bias,
                                    LkTensor            *c,
                                    const LkGemmOptions *options,
                                    GError             **error);

/* conv2d: x [N, Cin, H, W], w [Cout, Cin, kh, kw] with kh = kw ∈ {1, 3}, bias [Cout] or NULL,
 * y [N, Cout, Ho, Wo]; stride 1 or 2, padding 0 or 1. Implicit GEMM, no im2col buffer. */
typedef struct
{
  guint stride;
  guint padding;
} LkConv2dOptions;

gboolean lk_op_conv2d              (LkStream              *stream,
                                    LkTensor              *x,
                                    LkTensor              *w,
                                    LkTensor              *bias,
                                    LkTensor              *y,
                                    const LkConv2dOptions *options,
                                    GError               **error);

/* x [N, C, ...] normalised per (n, group), then per-channel gamma/beta [C] (both NULL: no
 * affine step); optional SiLU. */
gboolean lk_op_group_norm          (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *gamma,
                                    LkTensor       *beta,
                                    LkTensor       *y,
                                    guint           groups,
                                    float           eps,
                                    gboolean        silu,
                                    GError        **error);
/* Over the last dimension; gamma/beta [D], or both NULL for no affine step. */
gboolean lk_op_layer_norm          (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *gamma,
                                    LkTensor       *beta,
                                    LkTensor       *y,
                                    float           eps,
                                    GError        **error);
/* Over the last dimension, of x · scale. */
gboolean lk_op_softmax             (LkStream       *stream,
                                    LkTensor       *x,
                                    LkTensor       *y,
                                    float           scale,
                                    GError        **error);
/* Fused multi-head attention, no Nq×Nk matrix in memory:
 * q [B, Nq, heads·D], k and v [B, Nk, heads·D], o [B, Nq, heads·D];
 * o = softmax(q kᵀ · scale) v per head; scale 0 means 1/√D. */
gboolean lk_op_attention           (LkStream       *stream,
                                    LkTensor       *q,
                                    LkTensor       *k,
                                    LkTensor       *v,
                                    LkTensor       *o,
                                    guint           heads,
                                    float           scale,
                                    GError        **error);
/* lk_op_attention with an optional causal mask: query row i (counted from the start of its
 * batch) sees keys 0…i only, torch's tril(ones(Nq, Nk)), as CLIP's text encoder needs. */
gboolean lk_op_attention_masked    (LkStream       *stream,
                                    LkTensor       *q,
                                    LkTensor       *k,
                                    LkTensor       *v,
                                    LkTensor       *o,
                                    guint           heads,
                                    float           scale,
                                    gboolean        causal,
                                    GError        **error);

/* Embedding lookup: y [..., D] = table [V, D] rows at ids [...]. The ids are an f32 tensor of
 * whole numbers (exact below 2^24, far above CLIP's 49408); an id outside [0, V) reads row
 * V − 1 rather than outside the table, so callers validate ids on the host. */
gboolean lk_op_embedding           (LkStream       *stream,
                                    LkTensor       *table,
                                    LkTensor       *ids,
                                    LkTensor       *y,
                                    GError        **error);

G_END_DECLS
