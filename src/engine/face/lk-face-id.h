/* lk-face-id.h: face-api's FaceRecognitionNet (dlib's ResNet-34-like 128-D face descriptor)
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The architecture follows face-api.js's FaceRecognitionNet, read from its MIT source and written
 * here over the vision ops: a 7×7 stride-2 convolution, a 3×3 max pool, residual blocks at 32,
 * 64, 128 and 256 channels (each convolution followed by a per-channel scale, folded into it at
 * load), a global average and a 256 → 128 projection. The weights are dlib's (public domain).
 */
#pragma once

#include "lk-face-landmarks.h"

G_BEGIN_DECLS

#define LK_FACE_ID_INPUT_SIZE 150
#define LK_FACE_ID_DIM        128
/* dlib's threshold: the same person below this Euclidean distance. */
#define LK_FACE_ID_SAME_PERSON_DISTANCE 0.6f

typedef struct _LkFaceIdNet LkFaceIdNet;

/* @manifest_path: face_recognition_model-weights_manifest.json with its shards beside it. */
LkFaceIdNet *lk_face_id_net_new      (LkContext    *context,
                                      const char   *manifest_path,
                                      GError      **error);
void         lk_face_id_net_free     (LkFaceIdNet  *self);
/* The raw network: @pixels is 150×150×3 RGB in pixel units (0–255); the mean subtraction and
 * /255 happen here, as face-api's forwardInput; @descriptor gets 128 values. */
gboolean     lk_face_id_net_run      (LkFaceIdNet  *self,
                                      LkStream     *stream,
                                      const float  *pixels,
                                      float        *descriptor,
                                      GError      **error);
/* The descriptor of the face in @box (x, y, width, height), cropped as lk_face_crop_square(). */
gboolean     lk_face_id_net_describe (LkFaceIdNet  *self,
                                      LkStream     *stream,
                                      const LkImage *image,
                                      const float   box[4],
                                      float        *descriptor,
                                      GError      **error);

/* face-api's crop for the descriptor (FaceLandmarks.align()): the bounding box of the 68
 * landmarks grown by 20 % of its width and height, centred. */
void         lk_face_id_aligned_box  (const LkFaceLandmarks *landmarks,
                                      float         box[4]);

float        lk_face_id_distance     (const float  *a,
                                      const float  *b);
/* Cosine similarity in [−1, 1]; 0 when either descriptor is all zeros. */
float        lk_face_id_cosine       (const float  *a,
                                      const float  *b);
gboolean     lk_face_id_same_person  (const float  *a,
                                      const float  *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkFaceIdNet, lk_face_id_net_free)

G_END_DECLS
