/* lk-ops-private.h: what the op files share
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-ops.h"

G_BEGIN_DECLS

/* Largest element count per dispatch such that a contiguous range of it fits one binding and
 * every chunk starts at an aligned offset. */
gint64   lk_ops_chunk_elements     (LkContext     *context,
                                    gsize          element_size);
/* Splits a 1-D grid of n_groups workgroups into x × y within the device's limits. */
void     lk_ops_grid_1d            (LkContext     *context,
                                    guint64        n_groups,
                                    guint32       *groups_x,
                                    guint32       *groups_y);
/* Records a 1-D kernel over n elements, LK_OPS_LOCAL_SIZE_1D per workgroup, with spec constants
 * local size, 1, 1 and then @spec_ops; nothing for n = 0. */
gboolean lk_ops_dispatch_1d        (LkStream        *stream,
                                    const char      *shader,
                                    const guint32   *spec_ops,
                                    guint            n_spec_ops,
                                    const LkBinding *bindings,
                                    guint            n_bindings,
                                    const void      *push,
                                    gsize            push_size,
                                    guint64          n,
                                    GError         **error);
gboolean lk_ops_check_fits         (LkTensor      *t,
                                    const char    *op,
                                    const char    *what,
                                    GError       **error);
gboolean lk_ops_check_contiguous   (LkTensor      *t,
                                    const char    *op,
                                    const char    *what,
                                    GError       **error);
gboolean lk_ops_check_shape_equal  (LkTensor      *a,
                                    LkTensor      *b,
                                    const char    *op,
                                    GError       **error);
/* The local size of 1-D kernels; spec constant 0. */
#define LK_OPS_LOCAL_SIZE_1D 256

G_END_DECLS
