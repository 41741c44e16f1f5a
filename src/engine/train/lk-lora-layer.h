/* lk-lora-layer.h: a trainable LoRA on a frozen Linear or 1×1 convolution
 *
 *   y = x · Wᵀ (+ b) + (α / r) · (x · Aᵀ) · Bᵀ
 *
 * W (and b) stay frozen in f16; the down projection A [r, in] and the up projection B [out, r]
 * (with trailing 1 × 1 for a convolution, kohya's layout), their gradients and their AdamW
 * moments are f32. kohya initialises A as torch.nn.Linear does (Kaiming-uniform with a = √5,
 * i.e. U(−1/√in, 1/√in)) and B to zero, so a new LoRA changes nothing.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-ops-backward.h"

G_BEGIN_DECLS

typedef struct _LkLoraLayer LkLoraLayer;

/* weight [out, in] (a Linear) or [out, in, 1, 1] (a 1×1 convolution), f16; bias [out] or NULL.
 * Both are borrowed by reference, never written. A is drawn from Philox with @seed. */
LkLoraLayer *lk_lora_layer_new          (LkStream        *stream,
                                         LkTensor        *weight,
                                         LkTensor        *bias,
                                         guint            rank,
                                         float            alpha,
                                         guint64          seed,
                                         GError         **error);
void         lk_lora_layer_free         (LkLoraLayer     *self);

gboolean     lk_lora_layer_is_conv      (LkLoraLayer     *self);
guint        lk_lora_layer_get_rank     (LkLoraLayer     *self);
/* α / r */
float        lk_lora_layer_get_scale    (LkLoraLayer     *self);
/* A and B (the parameters), their gradients and their AdamW moments. */
LkTensor    *lk_lora_layer_get_down     (LkLoraLayer     *self);
LkTensor    *lk_lora_layer_get_up       (LkLoraLayer     *self);
LkTensor    *lk_lora_layer_get_down_grad (LkLoraLayer    *self);
LkTensor    *lk_lora_layer_get_up_grad  (LkLoraLayer     *self);
LkTensor    *lk_lora_layer_get_moment   (LkLoraLayer     *self,
                                         gboolean         up,
                                         gboolean         second);

/* x [..., in] (Linear) or [N, in, H, W] (convolution) → y [..., out] / [N, out, H, W]. */
gboolean     lk_lora_layer_forward      (LkLoraLayer     *self,
                                         LkStream        *stream,
                                         LkTensor        *x,
                                         LkTensor        *y,
                                         GError         **error);
/* From the forward's x and dy: writes the gradients of A and B (held by the layer, not
 * accumulated) and, when dx is not NULL, dx. The rank-r hidden state is recomputed from x. */
gboolean     lk_lora_layer_backward     (LkLoraLayer     *self,
                                         LkStream        *stream,
                                         LkTensor        *x,
                                         LkTensor        *dy,
                                         LkTensor        *dx,
                                         GError         **error);
/* One AdamW step of A and B from their gradients; stats as lk_op_adamw_step's. */
gboolean     lk_lora_layer_step         (LkLoraLayer          *self,
                                         LkStream             *stream,
                                         LkTensor             *stats,
                                         const LkAdamWOptions *options,
                                         GError              **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkLoraLayer, lk_lora_layer_free)

G_END_DECLS
