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
/* One step on n elements in place, state as the op's. stats NULL: no clipping or skipping. */
void   lk_ref_adamw_step           (float        *param,
                                    const float  *grad,
                                    float        *m,
                                    float        *v,
                                    gsize         n,
                                    const float  *stats,
                                    const LkAdamWOptions *options);

G_END_DECLS
