/* lk-image-blend.h: alpha, feathered and Poisson (seamless-clone) blending
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-image.h"

G_BEGIN_DECLS

/* background · (1 − α) + foreground · α with α = @alpha / 255 (one channel), rounded to the
 * nearest; all three the same size, the images the same channel count. NULL with an error when
 * they are not. */
LkImage  *lk_image_alpha_blend     (const LkImage  *background,
                                    const LkImage  *foreground,
                                    const LkImage  *alpha,
                                    GError        **error);
/* A soft-edged copy of a mask: cv2.GaussianBlur with a (2·radius + 1)² kernel and the sigma cv2
 * derives from it; radius 0 returns a copy. */
LkImage  *lk_image_feather_mask    (const LkImage  *mask,
                                    guint           radius);
/* lk_image_alpha_blend() through lk_image_feather_mask (@mask, @radius). */
LkImage  *lk_image_feather_blend   (const LkImage  *background,
                                    const LkImage  *foreground,
                                    const LkImage  *mask,
                                    guint           radius,
                                    GError        **error);

/* Poisson blending as cv2.seamlessClone (…, NORMAL_CLONE): inside the region where @mask ≥ 128 the
 * result u solves Δu = div g (discrete 4-neighbour Laplacian) with u = @destination on the
 * region's outer boundary; outside it u is @destination, byte for byte. The guidance g is cv2's:
 * the source's gradients weighted by the mask eroded three times by 3 × 3, the destination's by
 * the rest. Unlike cv2, which solves over the mask's bounding box with an FFT solver, only the
 * region's pixels are unknowns (solved by conjugate gradients to an RMS residual of 1e-4 grey
 * levels, one thread per channel; a tighter solve moves no pixel by more than 1); inside the mask
 * the two agree to a mean of about 1.4 grey levels. @source is already placed over @destination
 * (same size; no centre point as in cv2). RGB or gray. */
LkImage  *lk_image_seamless_clone  (const LkImage  *source,
                                    const LkImage  *destination,
                                    const LkImage  *mask,
                                    GError        **error);

G_END_DECLS
