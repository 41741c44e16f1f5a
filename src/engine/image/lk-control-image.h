/* lk-control-image.h: ControlNet input images that are plain resampling (EasyPhoto's colour
 * mosaic, the tile preprocessor) and the OpenCV-compatible resizes they are made of
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Images are 8-bit RGB, rows of width × 3 bytes @stride bytes apart; outputs are packed
 * (stride width × 3) and newly allocated (g_free).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* EasyPhoto's colour mosaic block size. */
#define LK_COLOR_MOSAIC_BLOCK 24

/* cv2.resize (…, INTER_CUBIC) on uint8: Keys' cubic (A = −0.75), 11-bit fixed-point weights,
 * replicated border; bit-exact against OpenCV 4.6's SSE path (its vertical pass sums 16 bytes at
 * a time in float and the tail in integers — an AVX2-dispatched build could differ by 1). */
guint8 *lk_resize_cubic_rgb      (const guint8 *rgb,
                                  guint         width,
                                  guint         height,
                                  gsize         stride,
                                  guint         out_width,
                                  guint         out_height);
/* cv2.resize (…, INTER_NEAREST); bit-exact. */
guint8 *lk_resize_nearest_rgb    (const guint8 *rgb,
                                  guint         width,
                                  guint         height,
                                  gsize         stride,
                                  guint         out_width,
                                  guint         out_height);
/* cv2.resize (…, INTER_AREA) for downscaling: box averages with fractional edge weights. */
guint8 *lk_resize_area_rgb       (const guint8 *rgb,
                                  guint         width,
                                  guint         height,
                                  gsize         stride,
                                  guint         out_width,
                                  guint         out_height);

/* The colour control image: cubic downscale to (width / block, height / block) (floored, at
 * least 1), then nearest upscale back to width × height — flat blocks of the average colours. */
guint8 *lk_control_color_mosaic  (const guint8 *rgb,
                                  guint         width,
                                  guint         height,
                                  gsize         stride,
                                  guint         block);
/* The tile preprocessor ("tile_resample"): a down-sampling rate below 1.1 keeps the image as it
 * is (EasyPhoto uses 1); otherwise INTER_AREA to (width / rate, height / rate). Sets the output
 * size. */
guint8 *lk_control_tile_resample (const guint8 *rgb,
                                  guint         width,
                                  guint         height,
                                  gsize         stride,
                                  double        rate,
                                  guint        *out_width,
                                  guint        *out_height);

G_END_DECLS
