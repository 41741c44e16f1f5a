/* test-face-landmarks.c: face-api's 68-point net against TF.js, and on real photos
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include <glib/gstdio.h>

#include "lk-face-detector.h"
#include "lk-face-landmarks.h"
#include "lk-test-util.h"
#include "lk-face-test.h"

static LkFaceLandmarkNet *net;
static LkFaceDetector *face_detector;

static void
free_models (void)
{
  g_clear_pointer (&net, lk_face_landmark_net_free);
  g_clear_pointer (&face_detector, lk_face_detector_free);
}

/* The net, loaded once per process; NULL (and skipped) without the weights or a device. */
static LkFaceLandmarkNet *
load_net (void)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (net != NULL)
    return net;
  path = lk_test_shared_path ("models/face-api/face_landmark_68_model-weights_manifest.json");
  if (path == NULL || lk_test_context () == NULL)
    return NULL;
  net = lk_face_landmark_net_new (lk_test_context (), path, &error);
  g_assert_no_error (error);
  atexit (free_models);
  return net;
}

static void
test_oracle (void)
{
  LkFaceLandmarkNet *landmarks = load_net ();
  g_autofree char *manifest =
    lk_test_shared_path ("models/face-api/face_landmark_68_model-weights_manifest.json");
  g_autofree char *photo_path = lk_test_shared_path ("testdata/astronaut.png");
  g_autoptr(LkImage) photo = NULL;
  g_autofree float *pixels = g_new (float, 112 * 112 * 3);
  g_autofree float *expected = NULL;
  float out[136];
  g_autoptr(GError) error = NULL;

  if (landmarks == NULL || manifest == NULL || photo_path == NULL)
    return;
  /* A real face gives activations in the trained range: the astronaut's head region, sampled
   * down to 112² with a little noise so that every input value is non-trivial. */
  photo = lk_test_load_photo ("astronaut.png");
  if (photo == NULL)
    return;
  {
    g_autoptr(GRand) rand = g_rand_new_with_seed (5);

    for (guint y = 0; y < 112; y++)
      for (guint x = 0; x < 112; x++)
        for (guint c = 0; c < 3; c++)
          {
            guint sx = MIN (x * 2, photo->width - 1), sy = MIN (y * 2, photo->height - 1);
            float v = photo->data[sy * photo->stride + sx * photo->channels + c];

            pixels[(y * 112 + x) * 3 + c] =
              CLAMP (v + (float) g_rand_double_range (rand, -8.0, 8.0), 0.0f, 255.0f);
          }
  }
  lk_face_landmark_net_run (landmarks, lk_test_stream (), pixels, out, &error);
  g_assert_no_error (error);
  expected = lk_test_run_faceapi ("landmarks", manifest, pixels, 112, 136);
  if (expected == NULL)
    return;
  lk_test_assert_close ("68 landmarks vs TF.js", out, expected, 136, 1e-3, 0);
  lk_test_check_validation ();
}

static void
test_photos (void)
{
  static const char *const photos[] = { "group-1.jpg", "group-2.jpg", "group-3.jpg",
                                        "astronaut.png" };
  LkFaceLandmarkNet *landmarks = load_net ();
  g_autofree char *models = lk_test_shared_path ("models/human");
  g_autoptr(GError) error = NULL;
  guint n_faces = 0;

  if (landmarks == NULL || models == NULL)
    return;
  if (face_detector == NULL)
    {
      face_detector = lk_face_detector_new (lk_test_context (), models, &error);
      g_assert_no_error (error);
    }
  for (guint p = 0; p < G_N_ELEMENTS (photos); p++)
    {
      g_autoptr(LkImage) image = lk_test_load_photo (photos[p]);
      g_autoptr(GArray) faces = NULL;

      if (image == NULL)
        return;
      faces = lk_face_detector_detect (face_detector, lk_test_stream (), image, &error);
      g_assert_no_error (error);
      for (guint f = 0; f < faces->len; f++)
        {
          const LkFaceDetection *d = &g_array_index (faces, LkFace, f).detection;
          float box[4] = { d->x, d->y, d->width, d->height };
          /* The jaw line may reach a little past BlazeFace's box, which is tight on the cheeks. */
          float mx = 0.15f * d->width, my = 0.15f * d->height;
          LkFaceLandmarks lm;
          guint inside = 0;

          lk_face_landmark_net_detect (landmarks, lk_test_stream (), image, box, &lm, &error);
          g_assert_no_error (error);
          for (guint i = 0; i < LK_FACE_LANDMARKS_N_POINTS; i++)
            {
              g_assert_true (isfinite (lm.points[i][0]) && isfinite (lm.points[i][1]));
              if (lm.points[i][0] >= d->x - mx && lm.points[i][0] <= d->x + d->width + mx &&
                  lm.points[i][1] >= d->y - my && lm.points[i][1] <= d->y + d->height + my)
                inside++;
            }
          if (g_test_verbose ())
            g_printerr ("%s face %u: %u of 68 points inside the box (+-15 %%)\n", photos[p], f,
                        inside);
          g_assert_cmpuint (inside, ==, LK_FACE_LANDMARKS_N_POINTS);
          /* The alignment points lie inside the box itself and in anatomical order. */
          for (guint k = 0; k < 5; k++)
            {
              g_assert_cmpfloat (lm.align[k][0], >=, d->x);
              g_assert_cmpfloat (lm.align[k][0], <=, d->x + d->width);
              g_assert_cmpfloat (lm.align[k][1], >=, d->y);
              g_assert_cmpfloat (lm.align[k][1], <=, d->y + d->height);
            }
          g_assert_cmpfloat (lm.align[0][0], <, lm.align[1][0]);   /* eyes left to right */
          g_assert_cmpfloat (lm.align[3][0], <, lm.align[4][0]);   /* mouth corners */
          g_assert_cmpfloat (lm.align[2][1], >, lm.align[0][1]);   /* nose below the eyes */
          g_assert_cmpfloat (lm.align[3][1], >, lm.align[2][1]);   /* mouth below the nose */
          n_faces++;
        }
    }
  g_assert_cmpuint (n_faces, >=, 10);
  lk_test_check_validation ();
}

static void
test_bad_manifest (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LkFaceLandmarkNet) bad = NULL;

  if (lk_test_context () == NULL)
    return;
  dir = g_dir_make_tmp ("lk-landmarks-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (dir, "manifest.json", NULL);
  /* A well-formed manifest of the wrong network: refused by weight name. */
  g_file_set_contents (path, "[{\"paths\": [], \"weights\": []}]", -1, &error);
  g_assert_no_error (error);
  bad = lk_face_landmark_net_new (lk_test_context (), path, &error);
  g_assert_null (bad);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "dense0/conv0/filters"));
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/face-landmarks/oracle", test_oracle);
  g_test_add_func ("/face-landmarks/photos", test_photos);
  g_test_add_func ("/face-landmarks/bad-manifest", test_bad_manifest);
  return g_test_run ();
}
