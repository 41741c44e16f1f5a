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
/* cv2.resize (…, INTER_LANCZOS4) on uint8: 8×8 taps, 11-bit integer weights in both passes
 * (OpenCV has no vector path for it), replicated border. */
guint8 *lk_resize_lanczos4_rgb   (const guint8 *rgb,
                                  guint         width,
                                  guint         height,
                                  gsize         stride,
                                  guint         out_width,
                                  guint         out_height);
/* cv2.resize (…, INTER_AREA): box averages with fractional edge weights when no axis grows; when
 * one does, OpenCV's stand-in, a linear interpolation weighted by how much of each output cell
 * lies past the source pixel edge, with its 8-bit vector rounding. */
guint8 *lk_resize_area_rgb       (const guint8 *rgb,
                                  guint         width,
                                  guint         height,
                                  gsize         stride,
                                  guint         out_width,
                                  guint         out_height);

/* sd-webui-controlnet's "just resize" of a control image (its high_quality_resize): each axis
 * stretched on its own to @out_width × @out_height; a map of 3 to 199 flat colours by nearest
 * neighbour, otherwise INTER_AREA when the pixel count shrinks (even if one axis grows) and
 * INTER_CUBIC when not. A black-and-white map (exactly two colours, one below 16 and one above
 * 240 over all channels, such as Canny edges) is made black and white again after: the channels'
 * mean thresholded by Otsu's method — for a map mostly of one-pixel lines (a 3×3 opening removes
 * more than half as many values as are bright), first a non-maximum suppression along the four
 * line directions and after it lvmin Zhang's hit-or-miss thinning, pruning spurs when the map
 * grew. The same size is a copy. */
guint8 *lk_control_just_resize   (const guint8 *rgb,
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
/* EasyPhoto's colour control image (its get_controlnet_unit "color"): the image's short side
 * to LK_COLOR_EASYPHOTO_SIDE with both sides rounded to multiples of 64 (Lanczos-4 enlarging,
 * INTER_AREA shrinking), the mosaic of @block there (24; 1 is EasyPhoto's later plain variant,
 * which skips it), then cubic back to width × height. */
#define LK_COLOR_EASYPHOTO_SIDE 1024
guint8 *lk_control_color_easyphoto (const guint8 *rgb,
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
