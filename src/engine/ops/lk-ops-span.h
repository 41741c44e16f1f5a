/* lk-ops-span.h: binding runs of whole rows of tensors that may be larger than one binding
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-ops-private.h"

G_BEGIN_DECLS

/* Elements [first, first + count) of a contiguous tensor, bound from the aligned offset at or
 * below the first one: *slack is the number of elements before `first` in the binding, which
 * the kernel adds to its indices. */
LkBinding lk_ops_bind_span         (LkTensor  *t,
                                    gint64     first,
                                    gint64     count,
                                    LkAccess   access,
                                    guint32   *slack);
/* How many consecutive rows of row_elems elements of @t one lk_ops_bind_span() can hold; 0
 * when not even one fits. */
gint64    lk_ops_rows_per_binding  (LkTensor  *t,
                                    gint64     row_elems);
/* Sets an LK_OP_ERROR_UNSUPPORTED naming @part of @t (“one row”, “one batch”) as larger than
 * one binding; returns FALSE. */
gboolean  lk_ops_error_too_large   (LkTensor    *t,
                                    const char  *op,
                                    const char  *what,
                                    const char  *part,
                                    GError     **error);
/* A power-of-two local size for kernels that reduce with lk-reduce.glsl over about @elems
 * elements per workgroup, and whether they may use subgroup arithmetic: one subgroup on CPU
 * drivers (no barriers), up to 256 on GPUs. */
guint32   lk_ops_reduce_local_size (LkContext *context,
                                    gint64     elems,
                                    gboolean  *use_subgroup);

G_END_DECLS
