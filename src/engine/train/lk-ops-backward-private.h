/* lk-ops-backward-private.h: what the backward op files share
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-ops-backward.h"
#include "lk-ops-private.h"

G_BEGIN_DECLS

static inline gboolean
lk_backward_is_f16 (LkTensor *t)
{
  return t != NULL && t->dtype == LK_DTYPE_F16;
}

/* Contiguous and within one binding. */
gboolean lk_backward_check         (LkTensor       *t,
                                    const char     *op,
                                    const char     *what,
                                    GError        **error);
/* y[c] = Σ_r x[x_offset + r · row_stride + c] for c < cols: the column sum of a strided
 * matrix inside x (elements), into the first cols elements of y. */
gboolean lk_backward_sum_columns   (LkStream       *stream,
                                    LkTensor       *x,
                                    gint64          x_offset,
                                    gint64          rows,
                                    gint64          cols,
                                    gint64          row_stride,
                                    LkTensor       *y,
                                    GError        **error);

G_END_DECLS
