/* test-facemesh.c: FaceMesh on real faces, its raw outputs against TF.js, and its presence
 * score telling faces from a cat
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-face-detector.h"
#include "lk-test-util.h"
#include "lk-face-test.h"

static LkBlazeFace *detector;
static LkFaceMesh *mesh_net;

static void
free_nets (void)
{
  g_clear_pointer (&detector, lk_blazeface_free);
  g_clear_pointer (&mesh_net, lk_facemesh_free);
}

/* Both networks, loaded once; FALSE (and skipped) without the models or a device. */
static gboolean
load_nets (void)
{
  g_autofree char *face_path = NULL, *mesh_path = NULL;
  g_autoptr(GError) error = NULL;

  if (mesh_net != NULL)
    return TRUE;
  face_path = lk_test_shared_path ("models/human/blazeface.json");
  mesh_path = face_path ? lk_test_shared_path ("models/human/facemesh.json") : NULL;
  if (mesh_path == NULL || lk_test_context () == NULL)
    return FALSE;
  detector = lk_blazeface_new (lk_test_context (), face_path, &error);
  g_assert_no_error (error);
  mesh_net = lk_facemesh_new (lk_test_context (), mesh_path, &error);
  g_assert_no_error (error);
  atexit (free_nets);
  return TRUE;
}

/* The mesh and presence outputs against the original model under TF.js, on a real face crop. */
static void
test_oracle (void)
{
  static const char *const outputs[] = { "Identity_2", "Identity_1" };
  const gsize sizes[] = { 1404, 1 };
  const gsize n_input = 192 * 192 * 3;
  g_autofree char *model = NULL;
  g_autoptr(LkImage) image = NULL;
  g_autoptr(GArray) faces = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree float *input = g_new (float, n_input);
  g_autofree float *expected = NULL;
  float mesh[1404], presence;
  LkFaceCrop crop;

  if (!load_nets () || (image = lk_test_load_photo ("astronaut.png")) == NULL ||
      (model = lk_test_shared_path ("models/human/facemesh.json")) == NULL)
    return;
  faces = lk_blazeface_detect (detector, lk_test_stream (), image, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (faces->len, ==, 1);
  lk_facemesh_crop_for_face (&g_array_index (faces, LkFaceDetection, 0), &crop);
  lk_facemesh_sample_crop (image, &crop, input);
  lk_facemesh_run (mesh_net, lk_test_stream (), input, mesh, &presence, &error);
  g_assert_no_error (error);

  expected = lk_test_run_tfjs (model, input, n_input, "1,192,192,3", (const char **) outputs, 2,
                               sizes);
  if (expected == NULL)
    return;
  lk_test_assert_close ("facemesh mesh vs TF.js", mesh, expected, 1404, 1e-3, 0);
  lk_test_assert_close ("facemesh presence vs TF.js", &presence, expected + 1404, 1, 1e-3, 0);
  lk_test_check_validation ();
}

typedef struct
{
  const char *photo;
  guint       faces;   /* BlazeFace detections */
  guint       real;    /* of which real faces */
} PresenceCase;

/* Every real face has a high presence score and its mesh lands on it (the mesh's nose tip near
 * BlazeFace's, the eyes level with its eyes); the cat BlazeFace takes for a face does not. */
static void
check_presence (gconstpointer data)
{
  const PresenceCase *c = data;
  g_autoptr(LkImage) image = NULL;
  g_autoptr(GArray) faces = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTimer) timer = g_timer_new ();
  guint real = 0;

  if (!load_nets () || (image = lk_test_load_photo (c->photo)) == NULL)
    return;
  faces = lk_blazeface_detect (detector, lk_test_stream (), image, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (faces->len, ==, c->faces);
  for (guint i = 0; i < faces->len; i++)
    {
      const LkFaceDetection *f = &g_array_index (faces, LkFaceDetection, i);
      g_autofree LkFaceMeshResult *r = g_new0 (LkFaceMeshResult, 1);
      float nose_dx, nose_dy;

      g_timer_start (timer);
      lk_facemesh_landmarks (mesh_net, lk_test_stream (), image, f, r, &error);
      g_assert_no_error (error);
      if (g_test_verbose ())
        g_printerr ("%s face %u: mesh took %.0f ms\n", c->photo, i,
                    1000 * g_timer_elapsed (timer, NULL));
      /* Mesh point 1 is the nose tip. */
      nose_dx = r->points[1][0] - f->keypoints[LK_FACE_KEYPOINT_NOSE_TIP][0];
      nose_dy = r->points[1][1] - f->keypoints[LK_FACE_KEYPOINT_NOSE_TIP][1];
      if (g_test_verbose ())
        g_printerr ("%s face %u: detection %.3f, presence %.4f, nose off by %.1f px of %.0f\n",
                    c->photo, i, f->score, r->presence, hypotf (nose_dx, nose_dy), f->width);
      if (r->presence < 0.5f)
        continue;
      real++;
      g_assert_cmpfloat (hypotf (nose_dx, nose_dy), <, 0.15f * f->width);
      for (guint k = 0; k < LK_FACEMESH_N_POINTS; k++)
        {
          g_assert_cmpfloat (fabsf (r->points[k][0] - r->crop.center_x), <, r->crop.side);
          g_assert_cmpfloat (fabsf (r->points[k][1] - r->crop.center_y), <, r->crop.side);
        }
    }
  g_assert_cmpuint (real, ==, c->real);
  lk_test_check_validation ();
}

typedef struct
{
  const char *photo;
  guint       faces;
} DetectorCase;

/* The whole detector: BlazeFace confirmed by FaceMesh; no face is an error for detect_one
 * (tried on the one-face and no-face photos only: each call runs both networks again). */
static void
check_detector (gconstpointer data)
{
  const DetectorCase *c = data;
  static LkFaceDetector *face_detector;
  g_autofree char *models = NULL;
  g_autoptr(LkImage) image = NULL;
  g_autoptr(GArray) faces = NULL;
  g_autoptr(GError) error = NULL;
  LkFace one;

  if (face_detector == NULL)
    {
      models = lk_test_shared_path ("models/human");
      if (models == NULL || lk_test_context () == NULL)
        return;
      face_detector = lk_face_detector_new (lk_test_context (), models, &error);
      g_assert_no_error (error);
    }
  if ((image = lk_test_load_photo (c->photo)) == NULL)
    return;
  faces = lk_face_detector_detect (face_detector, lk_test_stream (), image, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (faces->len, ==, c->faces);
  for (guint i = 1; i < faces->len; i++)
    g_assert_cmpfloat (g_array_index (faces, LkFace, i - 1).detection.x, <,
                       g_array_index (faces, LkFace, i).detection.x);
  if (c->faces == 0)
    {
      g_assert_false (lk_face_detector_detect_one (face_detector, lk_test_stream (), image, &one,
                                                   &error));
      g_assert_error (error, LK_FACE_ERROR, LK_FACE_ERROR_NO_FACE);
      g_assert_nonnull (strstr (error->message, "no face found"));
    }
  else if (c->faces == 1)
    {
      g_assert_true (lk_face_detector_detect_one (face_detector, lk_test_stream (), image, &one,
                                                  &error));
      g_assert_no_error (error);
      g_assert_cmpfloat (one.mesh.presence, >=, LK_FACE_MIN_PRESENCE);
    }
  lk_test_check_validation ();
  if (c->faces == 0)  /* the last case */
    g_clear_pointer (&face_detector, lk_face_detector_free);
}

int
main (int    argc,
      char **argv)
{
  static const PresenceCase cases[] = {
    { "astronaut.png", 1, 1 },
    { "group-1.jpg", 3, 3 },
    { "group-2.jpg", 3, 3 },
    { "group-3.jpg", 3, 3 },
    { "no-face-cat.png", 1, 0 },
  };

  g_test_init (&argc, &argv, NULL);
  static const DetectorCase detector_cases[] = {
    { "group-1.jpg", 3 },
    { "group-2.jpg", 3 },
    { "group-3.jpg", 3 },
    { "astronaut.png", 1 },
    { "no-face-cat.png", 0 },
  };

  g_test_add_func ("/facemesh/tfjs-oracle", test_oracle);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/facemesh/presence/%s", cases[i].photo);

      g_test_add_data_func (name, &cases[i], check_presence);
    }
  for (guint i = 0; i < G_N_ELEMENTS (detector_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/faces/detector/%s", detector_cases[i].photo);

      g_test_add_data_func (name, &detector_cases[i], check_detector);
    }
  return g_test_run ();
}
