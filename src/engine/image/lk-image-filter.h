/* lk-image-filter.h: morphology, Gaussian blur and edge-preserving smoothing, as OpenCV does them
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-image.h"

G_BEGIN_DECLS

typedef enum {
  LK_MORPH_RECT,      /* cv2.MORPH_RECT */
  LK_MORPH_ELLIPSE,   /* cv2.MORPH_ELLIPSE */
} LkMorphShape;

/* cv2.erode / cv2.dilate (img, cv2.getStructuringElement (shape, (width, height)),
 * iterations=n) with the default anchor (the kernel centre) and border (pixels outside the image
 * take no part); exact. Any channel count. */
LkImage  *lk_image_erode            (const LkImage  *image,
                                     LkMorphShape    shape,
                                     guint           kernel_width,
                                     guint           kernel_height,
                                     guint           iterations);
LkImage  *lk_image_dilate           (const LkImage  *image,
                                     LkMorphShape    shape,
                                     guint           kernel_width,
                                     guint           kernel_height,
                                     guint           iterations);

/* cv2.GaussianBlur (img, (kernel_width, kernel_height), sigma_x, sigma_y) on uint8 with the
 * default reflect-101 border: a kernel size of 0 is derived from its sigma, a sigma ≤ 0 from the
 * size, sigma_y ≤ 0 means sigma_x; the separable kernels are OpenCV's 8-bit fixed-point ones, so
 * the result is exact. Kernel sizes must be odd (or 0). Any channel count. */
LkImage  *lk_image_gaussian_blur    (const LkImage  *image,
                                     guint           kernel_width,
                                     guint           kernel_height,
                                     double          sigma_x,
                                     double          sigma_y);

/* cv2.bilateralFilter (img, diameter, sigma_color, sigma_space) with the reflect-101 border; 1 or
 * 3 channels (the colour distance is the L1 sum over channels, as OpenCV's). */
LkImage  *lk_image_bilateral_filter (const LkImage  *image,
                                     int             diameter,
                                     double          sigma_color,
                                     double          sigma_space);

/* Skin retouch: the bilateral-smoothed image mixed into @image by @skin_mask / 255 × @strength
 * (0 keeps the image, 1 takes the smoothed skin), so edges, eyes and hair stay sharp. The
 * smoothing radius follows the image size (a 512-pixel face gets a diameter of 9). */
LkImage  *lk_image_skin_retouch     (const LkImage  *image,
                                     const LkImage  *skin_mask,
                                     double          strength,
                                     GError        **error);

G_END_DECLS
