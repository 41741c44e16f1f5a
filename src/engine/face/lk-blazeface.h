/* lk-blazeface.h: MediaPipe's BlazeFace "back" face detector on any image
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The image is letterboxed (scaled to fit, centred, black borders) into the model's 256 × 256
 * input in [−1, 1]; the net scores 896 SSD anchors (16 × 16 cells × 2 anchors, then 8 × 8 cells
 * × 6) and regresses a box and six keypoints per anchor. Detections above the score threshold
 * are merged by MediaPipe's weighted non-maximum suppression and mapped back to image pixels.
 */
#pragma once

#include "image/lk-image.h"
#include "lk-tfgraph.h"

G_BEGIN_DECLS

#define LK_BLAZEFACE_INPUT_SIZE  256
#define LK_BLAZEFACE_N_ANCHORS   896
#define LK_BLAZEFACE_N_COORDS    16   /* box (cx, cy, w, h) + 6 keypoints (x, y), in input pixels */
#define LK_BLAZEFACE_N_KEYPOINTS 6

/* Keypoints in MediaPipe's order; "right" is the subject's right (the image's left side). */
typedef enum
{
  LK_FACE_KEYPOINT_RIGHT_EYE,
  LK_FACE_KEYPOINT_LEFT_EYE,
  LK_FACE_KEYPOINT_NOSE_TIP,
  LK_FACE_KEYPOINT_MOUTH,
  LK_FACE_KEYPOINT_RIGHT_EAR,
  LK_FACE_KEYPOINT_LEFT_EAR,
} LkFaceKeypoint;

typedef struct
{
  float x, y, width, height;                     /* image pixels, top-left corner */
  float keypoints[LK_BLAZEFACE_N_KEYPOINTS][2];  /* image pixels */
  float score;                                   /* sigmoid of the best anchor's logit */
} LkFaceDetection;

/* Where the image lies in the model input: input_x = image_x · scale_x + offset_x (the two
 * scales differ only by the rounding of the scaled size). */
typedef struct
{
  float scale_x, scale_y;
  float offset_x, offset_y;
} LkLetterbox;

typedef struct
{
  float min_score;      /* 0.5 */
  float iou_threshold;  /* 0.3: MediaPipe's min_suppression_threshold */
} LkBlazeFaceOptions;

#define LK_BLAZEFACE_OPTIONS_DEFAULT ((LkBlazeFaceOptions) { 0.5f, 0.3f })

#define LK_FACE_ERROR (lk_face_error_quark ())

typedef enum
{
  LK_FACE_ERROR_NO_FACE,
  LK_FACE_ERROR_BAD_IMAGE,
} LkFaceError;

GQuark lk_face_error_quark (void);

typedef struct _LkBlazeFace LkBlazeFace;

/* @model_path: blazeface.json (its .bin beside it). */
LkBlazeFace *lk_blazeface_new          (LkContext                 *context,
                                        const char                *model_path,
                                        GError                   **error);
void         lk_blazeface_free         (LkBlazeFace               *self);
/* Fills @input (256 × 256 × 3, NHWC, [−1, 1]) from an RGB image. */
gboolean     lk_blazeface_letterbox    (const LkImage             *image,
                                        float                     *input,
                                        LkLetterbox               *letterbox,
                                        GError                   **error);
/* The network alone: scores [896] (logits) and regressors [896 × 16], anchors in the order
 * above. */
gboolean     lk_blazeface_run          (LkBlazeFace               *self,
                                        LkStream                  *stream,
                                        const float               *input,
                                        float                     *scores,
                                        float                     *regressors,
                                        GError                   **error);
/* The anchor centres in [0, 1], x then y, 896 pairs. */
const float *lk_blazeface_anchors      (void);
/* Decodes raw outputs into detections in image pixels, sorted left to right. */
GArray      *lk_blazeface_decode       (const float               *scores,
                                        const float               *regressors,
                                        const LkLetterbox         *letterbox,
                                        const LkBlazeFaceOptions  *options);
/* Letterbox, run and decode: an array of LkFaceDetection, empty when there is no face. */
GArray      *lk_blazeface_detect       (LkBlazeFace               *self,
                                        LkStream                  *stream,
                                        const LkImage             *image,
                                        const LkBlazeFaceOptions  *options,
                                        GError                   **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkBlazeFace, lk_blazeface_free)

G_END_DECLS
