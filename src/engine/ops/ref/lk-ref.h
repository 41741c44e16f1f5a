/* lk-ref.h: CPU references for every op, accumulating in double; the tests' ground truth
 *
 * Shapes are passed explicitly; arrays are contiguous f32 (f16 operands are converted by the
 * caller, so a reference sees exactly the values the device read).
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "lk-ops.h"

G_BEGIN_DECLS

float lk_ref_unary_value          (LkUnaryOp     op,
                                   float         x);
void  lk_ref_unary                (LkUnaryOp     op,
                                   const float  *x,
                                   float         alpha,
                                   float         beta,
                                   float        *y,
                                   gsize         n);
/* Shapes padded to 4 dimensions, outermost first. */
void  lk_ref_binary               (LkBinaryOp    op,
                                   const float  *a,
                                   const gint64 *a_shape,
                                   const float  *b,
                                   const gint64 *b_shape,
                                   float        *y,
                                   const gint64 *y_shape);
void  lk_ref_geglu                (const float  *x,
                                   float        *y,
                                   gsize         rows,
                                   gsize         h);
void  lk_ref_concat_channels      (const float  *a,
                                   const float  *b,
                                   float        *y,
                                   gsize         n,
                                   gsize         ca,
                                   gsize         cb,
                                   gsize         inner);
void  lk_ref_upsample_nearest2x   (const float  *x,
                                   float        *y,
                                   gsize         planes,
                                   gsize         h,
                                   gsize         w);
void  lk_ref_timestep_embedding   (const float  *t,
                                   float        *y,
                                   gsize         batch,
                                   gsize         dim,
                                   float         max_period,
                                   gboolean      flip_sin_to_cos);

/* a is [batch_a, M, K] (or [batch_a, K, M] transposed), b [batch_b, K, N] (or [batch_b, N, K]),
 * batch_b is 1 or batch; c [batch, M, N]. */
void  lk_ref_gemm                 (const float  *a,
                                   const float  *b,
                                   const float  *bias,
                                   float        *c,
                                   gsize         batch,
                                   gsize         batch_b,
                                   gsize         m,
                                   gsize         n,
                                   gsize         k,
                                   const LkGemmOptions *options);
void  lk_ref_conv2d               (const float  *x,
                                   const float  *w,
                                   const float  *bias,
                                   float        *y,
                                   gsize         batch,
                                   gsize         c_in,
                                   gsize         h,
                                   gsize         width,
                                   gsize         c_out,
                                   gsize         kernel,
                                   guint         stride,
                                   guint         padding);
void  lk_ref_group_norm           (const float  *x,
                                   const float  *gamma,
                                   const float  *beta,
                                   float        *y,
                                   gsize         batch,
                                   gsize         channels,
                                   gsize         spatial,
                                   guint         groups,
                                   float         eps,
                                   gboolean      silu);
void  lk_ref_layer_norm           (const float  *x,
                                   const float  *gamma,
                                   const float  *beta,
                                   float        *y,
                                   gsize         rows,
                                   gsize         dim,
                                   float         eps);
void  lk_ref_softmax              (const float  *x,
                                   float        *y,
                                   gsize         rows,
                                   gsize         dim,
                                   float         scale);
void  lk_ref_attention            (const float  *q,
                                   const float  *k,
                                   const float  *v,
                                   float        *o,
                                   gsize         batch,
                                   gsize         n_q,
                                   gsize         n_k,
                                   guint         heads,
                                   gsize         head_dim,
                                   float         scale);
/* causal: query row i sees keys 0…i. */
void  lk_ref_attention_masked     (const float  *q,
                                   const float  *k,
                                   const float  *v,
                                   float        *o,
                                   gsize         batch,
                                   gsize         n_q,
                                   gsize         n_k,
                                   guint         heads,
                                   gsize         head_dim,
                                   float         scale,
                                   gboolean      causal);
/* table [V, D]; ids holds n whole numbers in [0, V); y [n, D]. */
void  lk_ref_embedding            (const float  *table,
                                   const float  *ids,
                                   float        *y,
                                   gsize         n,
                                   gsize         dim);

G_END_DECLS
