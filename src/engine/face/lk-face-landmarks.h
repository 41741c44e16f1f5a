/* lk-face-landmarks.h: face-api's 68-point landmark net (iBUG layout) on the engine
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The architecture (four dense blocks of depthwise-separable convolutions, a 7×7 average pool and
 * a fully connected layer to 136 values) follows face-api.js's FaceLandmark68Net, read from its
 * MIT source and written here over the vision ops; the weights are its uint8 manifest.
 */
#pragma once

#include "image/lk-image.h"
#include "vk/lk-context.h"
#include "vk/lk-stream.h"

G_BEGIN_DECLS

#define LK_FACE_LANDMARKS_INPUT_SIZE 112
#define LK_FACE_LANDMARKS_N_POINTS   68

typedef struct
{
  float points[LK_FACE_LANDMARKS_N_POINTS][2];  /* image pixels, iBUG order */
  /* Eye centres (the subject's right eye first, as it appears on the left), nose tip, mouth
   * corners: what the alignment transform maps onto its template. */
  float align[5][2];
} LkFaceLandmarks;

/* Where a square network input lies in the image: pixel (u, v) of a crop resized to S² comes
 * from (origin_x + u · side / S, origin_y + v · side / S). */
typedef struct
{
  float origin_x, origin_y;
  float side;
} LkFaceSquare;

/* face-api's face crop: @box (x, y, width, height in pixels, clipped to @image) padded with
 * zeros to a centred square and resized bilinearly (TensorFlow's rule, no half-pixel centres)
 * to @size²; @pixels gets @size × @size × 3 RGB values in pixel units. */
gboolean           lk_face_crop_square       (const LkImage      *image,
                                              const float         box[4],
                                              guint               size,
                                              float              *pixels,
                                              LkFaceSquare         *crop,
                                              GError            **error);

typedef struct _LkFaceLandmarkNet LkFaceLandmarkNet;

/* @manifest_path: face_landmark_68_model-weights_manifest.json with its shard beside it. */
LkFaceLandmarkNet *lk_face_landmark_net_new  (LkContext          *context,
                                              const char         *manifest_path,
                                              GError            **error);
void               lk_face_landmark_net_free (LkFaceLandmarkNet  *self);
/* The raw network: @pixels is 112×112×3 RGB in pixel units (0–255, as face-api's input tensor,
 * the mean subtraction and /255 happen here); @out gets 136 values, (x, y) pairs in [0, 1] of
 * the input square. */
gboolean           lk_face_landmark_net_run  (LkFaceLandmarkNet  *self,
                                              LkStream           *stream,
                                              const float        *pixels,
                                              float              *out,
                                              GError            **error);
/* Crops @box as lk_face_crop_square() at 112² and maps the 68 points back to @image. */
gboolean           lk_face_landmark_net_detect (LkFaceLandmarkNet *self,
                                              LkStream           *stream,
                                              const LkImage      *image,
                                              const float         box[4],
                                              LkFaceLandmarks    *landmarks,
                                              GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkFaceLandmarkNet, lk_face_landmark_net_free)

G_END_DECLS
