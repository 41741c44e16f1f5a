/* lk-image-color.h: CIE LAB conversion and mean/std colour transfer, as EasyPhoto does them
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-image.h"

G_BEGIN_DECLS

/* cv2.cvtColor (rgb, COLOR_RGB2LAB) on uint8: L·255/100, a + 128, b + 128, D65, sRGB gamma;
 * OpenCV's bit-exact integer path (12-bit matrix, 15-bit cube-root table). @rgb has 3 or 4
 * channels (alpha ignored); the result has 3. */
LkImage  *lk_image_rgb_to_lab      (const LkImage  *rgb);
/* cv2.cvtColor (lab, COLOR_LAB2RGB) on uint8: OpenCV's bit-exact integer path (14-bit Y and
 * f(Y) tables, fixed-point a / 500 and b / 200, a 12-bit matrix, a 4096-entry gamma table). */
LkImage  *lk_image_lab_to_rgb      (const LkImage  *lab);

/* Per-channel mean and (population) standard deviation of @image over the pixels where @mask
 * (1 channel, same size, may be NULL for all) is non-zero, as cv2.meanStdDev. FALSE when no
 * pixel is selected. */
gboolean  lk_image_mean_std        (const LkImage  *image,
                                    const LkImage  *mask,
                                    double         *mean,
                                    double         *std);

/* EasyPhoto's colour transfer: @source's LAB channels are shifted and scaled so that their
 * mean and standard deviation (over @source_mask / @reference_mask, NULL for the whole image)
 * become @reference's, rounded to 2 decimals as EasyPhoto does, clipped, converted back to RGB,
 * then mixed with the untouched @source by @blend_mask / 255 (NULL: the transferred image
 * everywhere). All images have the size of @source except @reference and its mask. */
LkImage  *lk_image_color_transfer  (const LkImage  *source,
                                    const LkImage  *reference,
                                    const LkImage  *source_mask,
                                    const LkImage  *reference_mask,
                                    const LkImage  *blend_mask,
                                    GError        **error);
/* As lk_image_color_transfer(), with each channel's std ratio kept within [1 / @max_scale,
 * @max_scale] (0: unlimited). Skin is nearly flat in a and b, so the ratio of two skins' chroma
 * spreads is mostly noise; unlimited, it can stretch or crush every other colour (eyes, lips) to
 * skin. */
LkImage  *lk_image_color_transfer_limited (const LkImage  *source,
                                           const LkImage  *reference,
                                           const LkImage  *source_mask,
                                           const LkImage  *reference_mask,
                                           const LkImage  *blend_mask,
                                           double          max_scale,
                                           GError        **error);

G_END_DECLS
