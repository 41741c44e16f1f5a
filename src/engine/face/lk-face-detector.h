/* lk-face-detector.h: faces in a photo: BlazeFace detections confirmed by FaceMesh
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * BlazeFace finds face-like things (a close-up cat among them); each detection is then cropped
 * for FaceMesh, whose face-presence score keeps real faces only. Every face found also carries
 * its 468-point mesh.
 */
#pragma once

#include "lk-facemesh.h"

G_BEGIN_DECLS

typedef struct
{
  LkFaceDetection  detection;
  LkFaceMeshResult mesh;
} LkFace;

/* FaceMesh presence below this is not a face. */
#define LK_FACE_MIN_PRESENCE 0.5f

typedef struct _LkFaceDetector LkFaceDetector;

/* @models_dir holds blazeface.json and facemesh.json with their shards. */
LkFaceDetector *lk_face_detector_new     (LkContext       *context,
                                          const char      *models_dir,
                                          GError         **error);
void            lk_face_detector_free    (LkFaceDetector  *self);
/* The faces of @image, left to right: an array of LkFace, empty when there is none. */
GArray         *lk_face_detector_detect  (LkFaceDetector  *self,
                                          LkStream        *stream,
                                          const LkImage   *image,
                                          GError         **error);
/* The largest face, for callers that need one: LK_FACE_ERROR_NO_FACE when there is none. */
gboolean        lk_face_detector_detect_one (LkFaceDetector *self,
                                          LkStream        *stream,
                                          const LkImage   *image,
                                          LkFace          *face,
                                          GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkFaceDetector, lk_face_detector_free)

G_END_DECLS
