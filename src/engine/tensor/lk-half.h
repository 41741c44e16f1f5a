/* lk-half.h: IEEE 754 binary16 conversions on the host
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

guint16 lk_float_to_half      (float          f);
float   lk_half_to_float      (guint16        h);
void    lk_floats_to_halves   (const float   *src,
                               guint16       *dst,
                               gsize          n);
void    lk_halves_to_floats   (const guint16 *src,
                               float         *dst,
                               gsize          n);
/* Rounds every value to the nearest f16, as storing and loading it would. */
void    lk_round_to_half      (float         *values,
                               gsize          n);

G_END_DECLS
