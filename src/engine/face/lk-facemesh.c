/* lk-facemesh.c: FaceMesh crop, network and mapping back to the image
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-face"

#include "config.h"

#include <math.h>

#include "lk-facemesh.h"

static const char *const output_names[] = { "Identity_2", "Identity_1" };

struct _LkFaceMesh
{
  LkTfGraph *graph;
};

void
lk_facemesh_free (LkFaceMesh *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->graph, lk_tfgraph_free);
  g_free (self);
}

LkFaceMesh *
lk_facemesh_new (LkContext   *context,
                 const char  *model_path,
                 GError     **error)
{
  g_autoptr(LkFaceMesh) self = g_new0 (LkFaceMesh, 1);

  self->graph = lk_tfgraph_load (context, model_path, LK_FACEMESH_INPUT_SIZE,
                                 LK_FACEMESH_INPUT_SIZE, 3, "FaceMesh", error);
  if (self->graph == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

void
lk_facemesh_crop_for_face (const LkFaceDetection *face,
                           LkFaceCrop            *crop)
{
  const float *right = face->keypoints[LK_FACE_KEYPOINT_RIGHT_EYE];
  const float *left = face->keypoints[LK_FACE_KEYPOINT_LEFT_EYE];

  crop->center_x = face->x + 0.5f * face->width;
  crop->center_y = face->y + 0.5f * face->height;
  crop->side = 1.5f * MAX (face->width, face->height);
  /* The subject's right eye is on the image's left: right → left is the upright x axis. */
  crop->angle = atan2f (left[1] - right[1], left[0] - right[0]);
}

static void
crop_to_image (const LkFaceCrop *crop,
               float             u,
               float             v,
               float            *x,
               float            *y)
{
  float lx = (u / LK_FACEMESH_INPUT_SIZE - 0.5f) * crop->side;
  float ly = (v / LK_FACEMESH_INPUT_SIZE - 0.5f) * crop->side;
  float c = cosf (crop->angle), s = sinf (crop->angle);

  *x = crop->center_x + c * lx - s * ly;
  *y = crop->center_y + s * lx + c * ly;
}

void
lk_facemesh_sample_crop (const LkImage    *image,
                         const LkFaceCrop *crop,
                         float            *input)
{
  const int n = LK_FACEMESH_INPUT_SIZE;

  g_return_if_fail (image->channels >= 3);
  for (int v = 0; v < n; v++)
    for (int u = 0; u < n; u++)
      {
        float x, y, fx, fy;
        int x0, y0;
        float *out = input + (v * n + u) * 3;

        /* Pixel centres: crop pixel (u + ½) samples image position x, whose pixel centres are
         * at integer + ½. */
        crop_to_image (crop, u + 0.5f, v + 0.5f, &x, &y);
        x -= 0.5f;
        y -= 0.5f;
        x0 = (int) floorf (x);
        y0 = (int) floorf (y);
        fx = x - x0;
        fy = y - y0;
        for (int c = 0; c < 3; c++)
          {
            float acc = 0;

            for (int dy = 0; dy <= 1; dy++)
              for (int dx = 0; dx <= 1; dx++)
                {
                  int px = x0 + dx, py = y0 + dy;
                  float weight = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);

                  if (px >= 0 && py >= 0 && px < (int) image->width && py < (int) image->height)
                    acc += weight * lk_image_pixel (image, px, py)[c];
                }
            out[c] = acc / 255.0f;
          }
      }
}

gboolean
lk_facemesh_run (LkFaceMesh   *self,
                 LkStream     *stream,
                 const float  *input,
                 float        *mesh,
                 float        *presence,
                 GError      **error)
{
  const gint64 shape[] = { 1, LK_FACEMESH_INPUT_SIZE, LK_FACEMESH_INPUT_SIZE, 3 };
  float *out[2] = { NULL };
  gint64 numel[2];
  gboolean ok;

  ok = lk_tfgraph_run_host (self->graph, stream, input, 4, shape, 2,
                            (const char **) output_names, out, numel, error);
  if (ok && (numel[0] != 3 * LK_FACEMESH_N_POINTS || numel[1] != 1))
    {
      g_set_error (error, LK_TFGRAPH_ERROR, LK_TFGRAPH_ERROR_SHAPE,
                   "FaceMesh gave %" G_GINT64_FORMAT " mesh values and %" G_GINT64_FORMAT
                   " flags, expected 1404 and 1", numel[0], numel[1]);
      ok = FALSE;
    }
  if (ok)
    {
      memcpy (mesh, out[0], 3 * LK_FACEMESH_N_POINTS * sizeof (float));
      *presence = out[1][0];
    }
  g_free (out[0]);
  g_free (out[1]);
  return ok;
}

gboolean
lk_facemesh_landmarks (LkFaceMesh             *self,
                       LkStream               *stream,
                       const LkImage          *image,
                       const LkFaceDetection  *face,
                       LkFaceMeshResult       *result,
                       GError                **error)
{
  const gsize n_input = LK_FACEMESH_INPUT_SIZE * LK_FACEMESH_INPUT_SIZE * 3;
  g_autofree float *input = g_new (float, n_input);
  float mesh[3 * LK_FACEMESH_N_POINTS];
  g_autoptr(LkImage) rgb = NULL;
  const LkImage *src = image;

  if (image->channels < 3)
    src = rgb = lk_image_convert (image, 3);
  lk_facemesh_crop_for_face (face, &result->crop);
  lk_facemesh_sample_crop (src, &result->crop, input);
  if (!lk_facemesh_run (self, stream, input, mesh, &result->presence, error))
    return FALSE;
  for (guint i = 0; i < LK_FACEMESH_N_POINTS; i++)
    {
      crop_to_image (&result->crop, mesh[3 * i], mesh[3 * i + 1], &result->points[i][0],
                     &result->points[i][1]);
      result->points[i][2] = mesh[3 * i + 2] * result->crop.side / LK_FACEMESH_INPUT_SIZE;
    }
  return TRUE;
}
