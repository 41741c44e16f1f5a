/* test-selfie.c: selfie segmentation against TF.js, and its person masks on real photos
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-blazeface.h"
#include "lk-selfie.h"
#include "lk-test-util.h"
#include "lk-face-test.h"

static LkSelfie *selfie;

static void
free_selfie (void)
{
  g_clear_pointer (&selfie, lk_selfie_free);
}

static gboolean
load_selfie (void)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (selfie != NULL)
    return TRUE;
  path = lk_test_shared_path ("models/human/selfie.json");
  if (path == NULL || lk_test_context () == NULL)
    return FALSE;
  selfie = lk_selfie_new (lk_test_context (), path, &error);
  g_assert_no_error (error);
  atexit (free_selfie);
  return TRUE;
}

/* The mask against the original model under TF.js (its transposed convolution, bilinear
 * resizes, hard-swish and squeeze-excitation included) on a real photo. */
static void
test_oracle (void)
{
  static const char *const outputs[] = { "activation_10" };
  const gsize sizes[] = { 256 * 256 };
  const gsize n_input = 256 * 256 * 3;
  g_autofree char *model = NULL;
  g_autoptr(LkImage) image = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree float *input = g_new (float, n_input);
  g_autofree float *mask = g_new (float, 256 * 256);
  g_autofree float *expected = NULL;

  if (!load_selfie () || (image = lk_test_load_photo ("group-2.jpg")) == NULL ||
      (model = lk_test_shared_path ("models/human/selfie.json")) == NULL)
    return;
  lk_selfie_prepare (image, input, &error);
  g_assert_no_error (error);
  lk_selfie_run (selfie, lk_test_stream (), input, mask, &error);
  g_assert_no_error (error);
  expected = lk_test_run_tfjs (model, input, n_input, "1,256,256,3", (const char **) outputs, 1,
                               sizes);
  if (expected == NULL)
    return;
  lk_test_assert_close ("selfie mask vs TF.js", mask, expected, 256 * 256, 1e-3, 0);
  lk_test_check_validation ();
}

/* On the group photos the faces BlazeFace finds are person; the photo's top corners (wall,
 * window) mostly are not. */
static void
check_photo (gconstpointer data)
{
  const char *photo = data;
  g_autofree char *face_model = NULL;
  g_autoptr(LkBlazeFace) detector = NULL;
  g_autoptr(LkImage) image = NULL;
  g_autoptr(LkImage) mask = NULL;
  g_autoptr(GArray) faces = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTimer) timer = NULL;
  double corner = 0, total = 0;
  guint corner_n = 0;

  if (!load_selfie () || (image = lk_test_load_photo (photo)) == NULL ||
      (face_model = lk_test_shared_path ("models/human/blazeface.json")) == NULL)
    return;
  timer = g_timer_new ();
  mask = lk_selfie_segment (selfie, lk_test_stream (), image, &error);
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("%s: segmentation took %.0f ms\n", photo, 1000 * g_timer_elapsed (timer, NULL));
  g_assert_cmpuint (mask->width, ==, image->width);
  g_assert_cmpuint (mask->height, ==, image->height);
  g_assert_cmpuint (mask->channels, ==, 1);
  for (guint y = 0; y < mask->height; y++)
    for (guint x = 0; x < mask->width; x++)
      {
        guint8 v = *lk_image_pixel (mask, x, y);

        total += v;
        if (y < mask->height / 8 && (x < mask->width / 8 || x >= mask->width * 7 / 8))
          {
            corner += v;
            corner_n++;
          }
      }
  detector = lk_blazeface_new (lk_test_context (), face_model, &error);
  g_assert_no_error (error);
  faces = lk_blazeface_detect (detector, lk_test_stream (), image, NULL, &error);
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("%s: person fraction %.3f, top corners %.3f\n", photo,
                total / 255 / (mask->width * mask->height), corner / 255 / corner_n);
  for (guint i = 0; i < faces->len; i++)
    {
      const LkFaceDetection *f = &g_array_index (faces, LkFaceDetection, i);
      guint8 v = *lk_image_pixel (mask, f->keypoints[LK_FACE_KEYPOINT_NOSE_TIP][0],
                                  f->keypoints[LK_FACE_KEYPOINT_NOSE_TIP][1]);

      if (g_test_verbose ())
        g_printerr ("  face %u nose: %u\n", i, v);
      g_assert_cmpuint (v, >, 128);
    }
  g_assert_cmpuint (faces->len, >, 0);
  g_assert_cmpfloat (corner / 255 / corner_n, <, 0.25);
  lk_test_check_validation ();
}

static void
test_bad_image (void)
{
  g_autoptr(LkImage) tiny = lk_image_new (1, 1, 3);
  g_autofree float *input = g_new (float, 256 * 256 * 3);
  g_autoptr(GError) error = NULL;

  g_assert_false (lk_selfie_prepare (tiny, input, &error));
  g_assert_error (error, LK_FACE_ERROR, LK_FACE_ERROR_BAD_IMAGE);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/selfie/bad-image", test_bad_image);
  g_test_add_func ("/selfie/tfjs-oracle", test_oracle);
  g_test_add_data_func ("/selfie/photo/group-1.jpg", "group-1.jpg", check_photo);
  g_test_add_data_func ("/selfie/photo/group-3.jpg", "group-3.jpg", check_photo);
  return g_test_run ();
}
