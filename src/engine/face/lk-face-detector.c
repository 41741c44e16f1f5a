/* lk-face-detector.c: BlazeFace detections confirmed by FaceMesh
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-face"

#include "config.h"

#include "lk-face-detector.h"

struct _LkFaceDetector
{
  LkBlazeFace *blazeface;
  LkFaceMesh  *facemesh;
};

void
lk_face_detector_free (LkFaceDetector *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->blazeface, lk_blazeface_free);
  g_clear_pointer (&self->facemesh, lk_facemesh_free);
  g_free (self);
}

LkFaceDetector *
lk_face_detector_new (LkContext   *context,
                      const char  *models_dir,
                      GError     **error)
{
  g_autoptr(LkFaceDetector) self = g_new0 (LkFaceDetector, 1);
  g_autofree char *blazeface = g_build_filename (models_dir, "blazeface.json", NULL);
  g_autofree char *facemesh = g_build_filename (models_dir, "facemesh.json", NULL);

  self->blazeface = lk_blazeface_new (context, blazeface, error);
  if (self->blazeface == NULL)
    return NULL;
  self->facemesh = lk_facemesh_new (context, facemesh, error);
  if (self->facemesh == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

GArray *
lk_face_detector_detect (LkFaceDetector  *self,
                         LkStream        *stream,
                         const LkImage   *image,
                         GError         **error)
{
  g_autoptr(GArray) detections = NULL;
  g_autoptr(GArray) faces = g_array_new (FALSE, FALSE, sizeof (LkFace));

  detections = lk_blazeface_detect (self->blazeface, stream, image, NULL, error);
  if (detections == NULL)
    return NULL;
  /* Detections come left to right; the survivors keep that order. */
  for (guint i = 0; i < detections->len; i++)
    {
      LkFace face;

      face.detection = g_array_index (detections, LkFaceDetection, i);
      if (!lk_facemesh_landmarks (self->facemesh, stream, image, &face.detection, &face.mesh,
                                  error))
        return NULL;
      if (face.mesh.presence >= LK_FACE_MIN_PRESENCE)
        g_array_append_val (faces, face);
    }
  return g_steal_pointer (&faces);
}

gboolean
lk_face_detector_detect_one (LkFaceDetector  *self,
                             LkStream        *stream,
                             const LkImage   *image,
                             LkFace          *face,
                             GError         **error)
{
  g_autoptr(GArray) faces = lk_face_detector_detect (self, stream, image, error);
  const LkFace *best = NULL;

  if (faces == NULL)
    return FALSE;
  for (guint i = 0; i < faces->len; i++)
    {
      const LkFace *f = &g_array_index (faces, LkFace, i);

      if (best == NULL ||
          f->detection.width * f->detection.height > best->detection.width * best->detection.height)
        best = f;
    }
  if (best == NULL)
    {
      g_set_error (error, LK_FACE_ERROR, LK_FACE_ERROR_NO_FACE, "no face found in the image");
      return FALSE;
    }
  *face = *best;
  return TRUE;
}
