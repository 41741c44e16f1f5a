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
/* n uniform numbers in [center − amplitude, center + amplitude] as f16, from a xorshift64 stream
 * advanced in *state: each comes from a table of 4096 evenly spaced values, five per draw, fast
 * enough for the 860 M random weights of a full-size UNet in tests and benchmarks. */
guint16 *lk_halves_uniform    (gsize          n,
                               float          center,
                               float          amplitude,
                               guint64       *state);

G_END_DECLS
