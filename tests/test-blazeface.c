/* test-blazeface.c: BlazeFace on real photos, and its raw outputs against TF.js
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include <glib/gstdio.h>

#include "lk-blazeface.h"
#include "lk-test-util.h"
#include "lk-face-test.h"

static const char *const output_names[] = { "Identity", "Identity_1", "Identity_2", "Identity_3" };

static LkBlazeFace *detector;

static void
free_detector (void)
{
  g_clear_pointer (&detector, lk_blazeface_free);
}

/* The detector, loaded once per process; NULL (and skipped) without the model or a device. */
static LkBlazeFace *
load_detector (void)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (detector != NULL)
    return detector;
  path = lk_test_shared_path ("models/human/blazeface.json");
  if (path == NULL || lk_test_context () == NULL)
    return NULL;
  detector = lk_blazeface_new (lk_test_context (), path, &error);
  g_assert_no_error (error);
  atexit (free_detector);
  return detector;
}

static void
test_anchors (void)
{
  const float *a = lk_blazeface_anchors ();

  /* 16 × 16 cells of 2, then 8 × 8 cells of 6, row by row, centred in their cells. */
  g_assert_cmpfloat_with_epsilon (a[0], 0.5f / 16, 1e-7);
  g_assert_cmpfloat_with_epsilon (a[1], 0.5f / 16, 1e-7);
  g_assert_cmpfloat_with_epsilon (a[2 * 1], a[0], 1e-7);
  g_assert_cmpfloat_with_epsilon (a[2 * 2], 1.5f / 16, 1e-7);
  g_assert_cmpfloat_with_epsilon (a[2 * 32 + 1], 1.5f / 16, 1e-7);
  g_assert_cmpfloat_with_epsilon (a[2 * 511], 15.5f / 16, 1e-7);
  g_assert_cmpfloat_with_epsilon (a[2 * 512], 0.5f / 8, 1e-7);
  g_assert_cmpfloat_with_epsilon (a[2 * 517], 0.5f / 8, 1e-7);
  g_assert_cmpfloat_with_epsilon (a[2 * 518], 1.5f / 8, 1e-7);
  g_assert_cmpfloat_with_epsilon (a[2 * 895], 7.5f / 8, 1e-7);
  g_assert_cmpfloat_with_epsilon (a[2 * 895 + 1], 7.5f / 8, 1e-7);
}

/* Weighted NMS on synthetic raw outputs: two overlapping anchors merge into their weighted
 * mean, a distant one stays apart, a low score is dropped; faces come left to right. */
static void
test_decode (void)
{
  g_autofree float *scores = g_new (float, LK_BLAZEFACE_N_ANCHORS);
  g_autofree float *reg = g_new0 (float, LK_BLAZEFACE_N_ANCHORS * LK_BLAZEFACE_N_COORDS);
  const float *anchors = lk_blazeface_anchors ();
  LkLetterbox identity = { 1, 1, 0, 0 }, half = { 0.5f, 0.5f, 10, 20 };
  g_autoptr(GArray) faces = NULL;
  g_autoptr(GArray) scaled = NULL;
  const LkFaceDetection *f;
  guint far = 600, near_a = 2 * (16 * 8 + 8), near_b = near_a + 1, weak = 40;

  for (guint i = 0; i < LK_BLAZEFACE_N_ANCHORS; i++)
    scores[i] = -10;
  scores[near_a] = logf (0.9f / 0.1f);   /* score 0.9 */
  scores[near_b] = logf (0.6f / 0.4f);   /* score 0.6 */
  scores[far] = logf (0.8f / 0.2f);
  scores[weak] = logf (0.3f / 0.7f);
  reg[near_a * 16 + 2] = reg[near_a * 16 + 3] = 40;
  reg[near_b * 16 + 0] = 4;
  reg[near_b * 16 + 2] = reg[near_b * 16 + 3] = 40;
  reg[near_b * 16 + 4] = 10;
  reg[far * 16 + 2] = reg[far * 16 + 3] = 30;
  reg[weak * 16 + 2] = reg[weak * 16 + 3] = 30;

  faces = lk_blazeface_decode (scores, reg, &identity, NULL);
  g_assert_cmpuint (faces->len, ==, 2);
  /* The merged pair sits in 16 × 16 cell (8, 8), x ≈ 136; `far` in 8 × 8 cell (6, 1), x = 208. */
  g_assert_cmpfloat (g_array_index (faces, LkFaceDetection, 0).x, <,
                     g_array_index (faces, LkFaceDetection, 1).x);
  for (guint i = 0; i < 2; i++)
    {
      f = &g_array_index (faces, LkFaceDetection, i);
      if (fabsf (f->score - 0.9f) < 1e-5)
        {
          float cx = anchors[2 * near_a] * 256 + 4 * 0.6f / 1.5f;

          g_assert_cmpfloat_with_epsilon (f->x + f->width / 2, cx, 1e-3);
          g_assert_cmpfloat_with_epsilon (f->width, 40, 1e-3);
          g_assert_cmpfloat_with_epsilon (f->keypoints[0][0],
                                          anchors[2 * near_a] * 256 + 10 * 0.6f / 1.5f, 1e-3);
        }
      else
        {
          g_assert_cmpfloat_with_epsilon (f->score, 0.8f, 1e-5);
          g_assert_cmpfloat_with_epsilon (f->width, 30, 1e-3);
          g_assert_cmpfloat_with_epsilon (f->x + 15, anchors[2 * far] * 256, 1e-3);
        }
    }

  /* The letterbox maps back: image = (input − offset) / scale. */
  scaled = lk_blazeface_decode (scores, reg, &half, NULL);
  g_assert_cmpuint (scaled->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      const LkFaceDetection *a = &g_array_index (faces, LkFaceDetection, i);
      const LkFaceDetection *b = &g_array_index (scaled, LkFaceDetection, i);

      g_assert_cmpfloat_with_epsilon (b->x, (a->x - 10) * 2, 1e-3);
      g_assert_cmpfloat_with_epsilon (b->y, (a->y - 20) * 2, 1e-3);
      g_assert_cmpfloat_with_epsilon (b->width, a->width * 2, 1e-3);
    }
}

/* The four raw outputs against the original model under TF.js, on a real letterboxed photo. */
static void
test_oracle (void)
{
  LkBlazeFace *face_detector = load_detector ();
  g_autofree char *model = lk_test_shared_path ("models/human/blazeface.json");
  g_autofree char *photo = lk_test_shared_path ("testdata/group-1.jpg");
  const gsize n_input = 256 * 256 * 3;
  const gsize sizes[] = { 512, 384, 512 * 16, 384 * 16 };
  g_autofree float *input = g_new (float, n_input);
  g_autofree float *scores = g_new (float, LK_BLAZEFACE_N_ANCHORS);
  g_autofree float *reg = g_new (float, LK_BLAZEFACE_N_ANCHORS * 16);
  g_autofree float *expected = NULL;
  g_autoptr(LkImage) image = NULL;
  g_autoptr(GError) error = NULL;
  LkLetterbox letterbox;

  if (face_detector == NULL || model == NULL || photo == NULL)
    return;
  image = lk_image_load (photo, 3, &error);
  g_assert_no_error (error);
  lk_blazeface_letterbox (image, input, &letterbox, &error);
  g_assert_no_error (error);
  lk_blazeface_run (face_detector, lk_test_stream (), input, scores, reg, &error);
  g_assert_no_error (error);

  expected = lk_test_run_tfjs (model, input, n_input, "1,256,256,3", (const char **) output_names, 4,
                       sizes);
  if (expected == NULL)
    return;
  /* Our outputs concatenate in the same order: scores 512 + 384, regressors 512 + 384. */
  lk_test_assert_close ("blazeface scores vs TF.js", scores, expected, 896, 1e-3, 0);
  lk_test_assert_close ("blazeface regressors vs TF.js", reg, expected + 896, 896 * 16, 1e-3, 0);
  lk_test_check_validation ();
}

typedef struct
{
  const char *photo;
  guint       faces;
} PhotoCase;

static void
check_photo (gconstpointer data)
{
  const PhotoCase *c = data;
  LkBlazeFace *face_detector = load_detector ();
  g_autofree char *sub = g_build_filename ("testdata", c->photo, NULL);
  g_autofree char *path = lk_test_shared_path (sub);
  g_autoptr(LkImage) image = NULL;
  g_autoptr(GArray) faces = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTimer) timer = NULL;

  if (face_detector == NULL || path == NULL)
    return;
  image = lk_image_load (path, 3, &error);
  g_assert_no_error (error);
  timer = g_timer_new ();
  faces = lk_blazeface_detect (face_detector, lk_test_stream (), image, NULL, &error);
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("%s: detection took %.0f ms\n", c->photo, 1000 * g_timer_elapsed (timer, NULL));
  for (guint i = 0; i < faces->len; i++)
    {
      const LkFaceDetection *f = &g_array_index (faces, LkFaceDetection, i);

      if (g_test_verbose ())
        g_printerr ("%s face %u: box %.0f,%.0f %.0f×%.0f score %.3f, eyes (%.0f,%.0f) (%.0f,%.0f)\n",
                    c->photo, i, f->x, f->y, f->width, f->height, f->score, f->keypoints[0][0],
                    f->keypoints[0][1], f->keypoints[1][0], f->keypoints[1][1]);
      /* A face box of plausible size, mostly inside the image, eyes and nose inside the box,
       * the subject's right eye on the image's left. */
      g_assert_cmpfloat (f->width, >, 10);
      g_assert_cmpfloat (f->width, <, image->width);
      g_assert_cmpfloat (f->x + f->width / 2, >, 0);
      g_assert_cmpfloat (f->x + f->width / 2, <, image->width);
      g_assert_cmpfloat (f->y + f->height / 2, >, 0);
      g_assert_cmpfloat (f->y + f->height / 2, <, image->height);
      for (guint k = 0; k <= LK_FACE_KEYPOINT_MOUTH; k++)
        {
          g_assert_cmpfloat (f->keypoints[k][0], >=, f->x);
          g_assert_cmpfloat (f->keypoints[k][0], <=, f->x + f->width);
          g_assert_cmpfloat (f->keypoints[k][1], >=, f->y);
          g_assert_cmpfloat (f->keypoints[k][1], <=, f->y + f->height);
        }
      g_assert_cmpfloat (f->keypoints[LK_FACE_KEYPOINT_RIGHT_EYE][0], <=,
                         f->keypoints[LK_FACE_KEYPOINT_LEFT_EYE][0]);
      if (i > 0)
        g_assert_cmpfloat (f[-1].x + f[-1].width / 2, <=, f->x + f->width / 2);
    }
  g_assert_cmpuint (faces->len, ==, c->faces);
  lk_test_check_validation ();
}

static void
test_bad_images (void)
{
  g_autoptr(LkImage) tiny = lk_image_new (1, 1, 3);
  g_autofree float *input = g_new (float, 256 * 256 * 3);
  g_autoptr(GError) error = NULL;
  LkLetterbox letterbox;

  g_assert_false (lk_blazeface_letterbox (tiny, input, &letterbox, &error));
  g_assert_error (error, LK_FACE_ERROR, LK_FACE_ERROR_BAD_IMAGE);
  g_assert_nonnull (strstr (error->message, "1 × 1"));
}

/* A very wide image letterboxes into a band, and its detections map back into the image. */
static void
test_letterbox (void)
{
  g_autoptr(LkImage) wide = lk_image_new (1000, 100, 3);
  g_autofree float *input = g_new (float, 256 * 256 * 3);
  g_autoptr(GError) error = NULL;
  LkLetterbox lb;

  for (gsize i = 0; i < 1000 * 100 * 3; i++)
    wide->data[i] = 255;
  lk_blazeface_letterbox (wide, input, &lb, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (lb.scale_x, 0.256f, 1e-6);
  g_assert_cmpfloat_with_epsilon (lb.scale_y, 0.26f, 1e-6);   /* 26 rows */
  g_assert_cmpfloat (lb.offset_x, ==, 0);
  g_assert_cmpfloat (lb.offset_y, ==, 115);
  g_assert_cmpfloat (input[(114 * 256 + 10) * 3], ==, -1.0f);
  g_assert_cmpfloat (input[(115 * 256 + 10) * 3], ==, 1.0f);
  g_assert_cmpfloat (input[(140 * 256 + 255) * 3 + 2], ==, 1.0f);
  g_assert_cmpfloat (input[(141 * 256 + 10) * 3], ==, -1.0f);
}

int
main (int    argc,
      char **argv)
{
  static const PhotoCase photos[] = {
    { "group-1.jpg", 3 },
    { "group-2.jpg", 3 },
    { "group-3.jpg", 3 },
    { "astronaut.png", 1 },
    /* BlazeFace alone takes this close-up cat for a face (score 0.80); FaceMesh's presence
     * score rejects it (test-facemesh's /faces/detector). */
    { "no-face-cat.png", 1 },
  };

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/blazeface/anchors", test_anchors);
  g_test_add_func ("/blazeface/decode", test_decode);
  g_test_add_func ("/blazeface/letterbox", test_letterbox);
  g_test_add_func ("/blazeface/bad-images", test_bad_images);
  g_test_add_func ("/blazeface/tfjs-oracle", test_oracle);
  for (guint i = 0; i < G_N_ELEMENTS (photos); i++)
    {
      g_autofree char *name = g_strdup_printf ("/blazeface/photo/%s", photos[i].photo);

      g_test_add_data_func (name, &photos[i], check_photo);
    }
  return g_test_run ();
}
