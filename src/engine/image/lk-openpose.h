/* lk-openpose.h: OpenPose control images drawn from keypoints, as ControlNet's annotator draws
 * them
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two drawings are in use, with the same limbs, colours and sizes:
 * - LK_OPENPOSE_STYLE_CONTROLNET, ControlNet 1.1's annotator (annotator/openpose/util.py), which
 *   its openpose models were trained on: on black, every body keypoint as a filled circle of
 *   radius 4 in its colour, then the 17 limbs, each an ellipse 4 pixels wide (ellipse2Poly +
 *   fillConvexPoly) blended 60 % over what is below it (addWeighted 0.4 / 0.6), then the face
 *   landmarks as white filled circles of radius 3.
 * - LK_OPENPOSE_STYLE_WEBUI, sd-webui-controlnet's preprocessor (what EasyPhoto gets in A1111):
 *   person by person, the limbs in full colour, then the whole image × 0.6 (truncated), then the
 *   keypoint circles, then that person's face landmarks (those at x or y 0 are not drawn).
 * The rasterisation follows OpenCV's integer rules (Circle, ellipse2Poly's degree table,
 * FillConvexPoly's edge walk), so images agree with cv2's pixel for pixel.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* COCO-18 order: nose, neck, right shoulder, elbow, wrist, left shoulder, elbow, wrist, right
 * hip, knee, ankle, left hip, knee, ankle, right eye, left eye, right ear, left ear. */
#define LK_OPENPOSE_BODY_POINTS 18
#define LK_OPENPOSE_LIMBS       17

/* A keypoint in image fractions (0..1 across the width and height), as the annotator stores
 * them; a body point with x or y below 0 is missing. */
typedef struct
{
  float x, y;
} LkPosePoint;

typedef struct
{
  LkPosePoint        body[LK_OPENPOSE_BODY_POINTS];
  const LkPosePoint *face;    /* 68 or 70 landmarks (borrowed), or NULL */
  guint              n_face;
} LkPose;

typedef enum
{
  LK_OPENPOSE_STYLE_CONTROLNET,
  LK_OPENPOSE_STYLE_WEBUI,
} LkOpenposeStyle;

/* The colour of body keypoint @index (and of the limb of the same index), RGB. */
void    lk_openpose_color  (guint          index,
                            guint8         rgb[3]);

/* A new packed RGB image (width × 3 bytes per row, g_free) with @poses drawn on black in
 * @style: all bodies, then all faces (CONTROLNET), or person by person (WEBUI). */
guint8 *lk_openpose_draw   (const LkPose     *poses,
                            guint             n_poses,
                            guint             width,
                            guint             height,
                            LkOpenposeStyle   style);

G_END_DECLS
