/* lk-canny.h: Canny edges on 8-bit RGB images, as OpenCV's cv2.Canny computes them
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* rgb: height rows of width × 3 bytes, @stride bytes apart. Writes width × height bytes (0 or
 * 255, rows packed) into @edges. Matches cv2.Canny (img, low, high) on a 3-channel image:
 * 3×3 Sobel (replicated border) per channel, per pixel the channel with the largest L1
 * magnitude |dx| + |dy|, non-maximum suppression in four directions, hysteresis with
 * 8-connectivity (magnitudes outside the image count as 0). */
void lk_canny_rgb (const guint8 *rgb,
                   guint         width,
                   guint         height,
                   gsize         stride,
                   double        low_threshold,
                   double        high_threshold,
                   guint8       *edges);

G_END_DECLS
