/* lk-facemesh.h: MediaPipe FaceMesh: 468 3-D landmarks and a face-presence score on a face crop
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The crop is a square around a BlazeFace detection, enlarged 1.5× and rotated so that the eyes
 * are level (as MediaPipe's face-landmark pipeline does), sampled bilinearly to 192 × 192 RGB in
 * [0, 1]. The mesh comes back in image pixels (z in the same scale, relative to the face's
 * centre plane); the presence score tells a face from a face-like thing (BlazeFace alone takes
 * a close-up cat for a face).
 */
#pragma once

#include "lk-blazeface.h"

G_BEGIN_DECLS

#define LK_FACEMESH_INPUT_SIZE 192
#define LK_FACEMESH_N_POINTS   468

/* Crop pixel (u, v) ↔ image point centre + rotation · ((u, v) / size − ½) · side. */
typedef struct
{
  float center_x, center_y;
  float side;       /* image pixels */
  float angle;      /* radians: the crop's x axis in the image */
} LkFaceCrop;

typedef struct
{
  float points[LK_FACEMESH_N_POINTS][3];  /* image pixels */
  float presence;                         /* sigmoid face flag, [0, 1] */
  LkFaceCrop crop;
} LkFaceMeshResult;

typedef struct _LkFaceMesh LkFaceMesh;

/* @model_path: facemesh.json (its .bin beside it). */
LkFaceMesh *lk_facemesh_new            (LkContext              *context,
                                        const char             *model_path,
                                        GError                **error);
void        lk_facemesh_free           (LkFaceMesh             *self);
/* The crop MediaPipe takes around a detection: 1.5 × the box, eyes level. */
void        lk_facemesh_crop_for_face  (const LkFaceDetection  *face,
                                        LkFaceCrop             *crop);
/* Samples @crop of an RGB image into @input (192 × 192 × 3, [0, 1]); outside the image is 0. */
void        lk_facemesh_sample_crop    (const LkImage          *image,
                                        const LkFaceCrop       *crop,
                                        float                  *input);
/* The network alone: mesh [1404] (x, y, z in crop pixels) and the presence logit's sigmoid. */
gboolean    lk_facemesh_run            (LkFaceMesh             *self,
                                        LkStream               *stream,
                                        const float            *input,
                                        float                  *mesh,
                                        float                  *presence,
                                        GError                **error);
/* Crop, run, map back to the image. */
gboolean    lk_facemesh_landmarks      (LkFaceMesh             *self,
                                        LkStream               *stream,
                                        const LkImage          *image,
                                        const LkFaceDetection  *face,
                                        LkFaceMeshResult       *result,
                                        GError                **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkFaceMesh, lk_facemesh_free)

G_END_DECLS
