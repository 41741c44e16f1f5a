/* lk-rng.h: counter-based Philox4x32-10 noise, the same numbers on every device
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-tensor.h"

G_BEGIN_DECLS

/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11, the
 * generator behind curand's and torch's CUDA generators): a 128-bit counter and a 64-bit key
 * through ten rounds of multiply-xor, the key bumped by the Weyl constants between rounds. */
void      lk_philox4x32_10      (const guint32   counter[4],
                                 const guint32   key[2],
                                 guint32         out[4]);

/* A seed and a call counter. Each lk_rng_normal() call is one "randn": element i of call c
 * comes from Philox with counter (c, 0, i_lo, i_hi) and key (seed_lo, seed_hi), its first two
 * words turned into one standard normal by Box-Muller (sin branch, with curand's half-step
 * offsets and f32 constants). This is the scheme A1111 calls the "NV" random number source
 * (modules/rng_philox.py), which reproduces torch.randn on an NVIDIA GPU: a seed then gives the
 * same noise here, there and on any GPU or CPU. Element i depends on (seed, c, i) only, so
 * noise can be made in any order or in parallel. */
typedef struct
{
  guint64 seed;
  guint64 offset;  /* calls made so far */
} LkRng;

void      lk_rng_init           (LkRng          *self,
                                 guint64         seed);
/* Fills @out with n standard normals and advances the call counter by one. */
void      lk_rng_normal         (LkRng          *self,
                                 float          *out,
                                 gsize           n);
/* lk_rng_normal() for a whole tensor, recorded as an upload into @stream. */
gboolean  lk_rng_normal_tensor  (LkRng          *self,
                                 LkStream       *stream,
                                 LkTensor       *tensor,
                                 GError        **error);

G_END_DECLS
