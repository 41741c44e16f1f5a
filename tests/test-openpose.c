/* test-openpose.c: OpenPose control images against the annotator's drawing rules run by cv2
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include "lk-openpose.h"
#include "lk-test-util.h"

#define MISSING { -1, -1 }

/* A person standing, facing the camera, in image fractions. */
static const LkPosePoint standing[LK_OPENPOSE_BODY_POINTS] = {
  { 0.50f, 0.18f }, { 0.50f, 0.30f }, { 0.41f, 0.30f }, { 0.37f, 0.45f }, { 0.36f, 0.58f },
  { 0.59f, 0.30f }, { 0.63f, 0.45f }, { 0.66f, 0.57f }, { 0.45f, 0.60f }, { 0.45f, 0.78f },
  { 0.44f, 0.95f }, { 0.55f, 0.60f }, { 0.56f, 0.78f }, { 0.57f, 0.96f }, { 0.48f, 0.16f },
  { 0.52f, 0.16f }, { 0.46f, 0.17f }, { 0.54f, 0.17f },
};

/* Half outside the image, an arm and an ear missing, two points on top of each other. */
static const LkPosePoint partial[LK_OPENPOSE_BODY_POINTS] = {
  { 0.92f, 0.10f }, { 0.95f, 0.25f }, { 0.85f, 0.25f }, MISSING, MISSING,
  { 1.05f, 0.25f }, { 1.10f, 0.40f }, { 1.20f, 0.50f }, { 0.90f, 0.55f }, { 0.90f, 0.55f },
  { 0.88f, 1.10f }, { 1.00f, 0.55f }, { 1.00f, 0.75f }, { 1.00f, 0.99f }, { 0.91f, 0.08f },
  { 0.94f, 0.08f }, { 0.90f, 0.09f }, MISSING,
};

static void
face_ring (LkPosePoint *face,
           guint        n,
           float        cx,
           float        cy,
           float        rx,
           float        ry)
{
  for (guint i = 0; i < n; i++)
    {
      double a = 2 * G_PI * i / n;

      face[i].x = cx + rx * cos (a) * (i % 3 == 0 ? 0.6 : 1.0);
      face[i].y = cy + ry * sin (a) * (i % 5 == 0 ? 0.5 : 1.0);
    }
}

/* Draws @poses in @style and the oracle's image and compares them byte for byte. */
static void
compare_style (const char      *what,
               const LkPose    *poses,
               guint            n_poses,
               guint            n_face,
               guint            width,
               guint            height,
               LkOpenposeStyle  style)
{
  g_autoptr(LkOracle) oracle = NULL;
  g_autofree guint8 *image = lk_openpose_draw (poses, n_poses, width, height, style);
  g_autofree float *body = g_new (float, n_poses * LK_OPENPOSE_BODY_POINTS * 2);
  g_autofree float *face = g_new0 (float, MAX (n_poses * n_face * 2, 1));
  g_autofree float *expected = NULL;
  gsize n = (gsize) width * height * 3, differ = 0, colored = 0;
  guint max_diff = 0;

  for (guint p = 0; p < n_poses; p++)
    {
      for (guint i = 0; i < LK_OPENPOSE_BODY_POINTS; i++)
        {
          body[(p * LK_OPENPOSE_BODY_POINTS + i) * 2] = poses[p].body[i].x;
          body[(p * LK_OPENPOSE_BODY_POINTS + i) * 2 + 1] = poses[p].body[i].y;
        }
      for (guint i = 0; i < n_face; i++)
        {
          face[(p * n_face + i) * 2] = poses[p].face[i].x;
          face[(p * n_face + i) * 2 + 1] = poses[p].face[i].y;
        }
    }
  for (gsize i = 0; i < n; i++)
    colored += image[i] != 0;
  /* Something was drawn: a blank image would agree with a blank oracle. */
  g_assert_cmpuint (colored, >, n / 100);

  if ((oracle = lk_oracle_new ("oracle_openpose.py")) == NULL)
    return;
  lk_oracle_set_param_string (oracle, "style",
                              style == LK_OPENPOSE_STYLE_WEBUI ? "webui" : "controlnet");
  lk_oracle_set_param_int (oracle, "width", width);
  lk_oracle_set_param_int (oracle, "height", height);
  lk_oracle_set_param_int (oracle, "n_poses", n_poses);
  lk_oracle_set_param_int (oracle, "n_face", n_face);
  lk_oracle_add_input (oracle, "body", body, n_poses * LK_OPENPOSE_BODY_POINTS * 2);
  if (n_face > 0)
    lk_oracle_add_input (oracle, "face", face, n_poses * n_face * 2);
  if ((expected = lk_oracle_run (oracle, n)) == NULL)
    return;
  for (gsize i = 0; i < n; i++)
    {
      guint d = ABS ((gint) image[i] - (gint) expected[i]);

      differ += d != 0;
      max_diff = MAX (max_diff, d);
    }
  g_test_message ("%s, %s style: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes differ "
                  "(largest by %u)", what, style == LK_OPENPOSE_STYLE_WEBUI ? "WebUI" : "ControlNet",
                  differ, n, max_diff);
  g_assert_cmpuint (differ, ==, 0);
}

/* Both styles; they differ wherever a limb is drawn. */
static void
compare (const char   *what,
         const LkPose *poses,
         guint         n_poses,
         guint         n_face,
         guint         width,
         guint         height)
{
  g_autofree guint8 *a = lk_openpose_draw (poses, n_poses, width, height,
                                           LK_OPENPOSE_STYLE_CONTROLNET);
  g_autofree guint8 *b = lk_openpose_draw (poses, n_poses, width, height,
                                           LK_OPENPOSE_STYLE_WEBUI);

  g_assert_true (memcmp (a, b, (gsize) width * height * 3) != 0);
  compare_style (what, poses, n_poses, n_face, width, height, LK_OPENPOSE_STYLE_CONTROLNET);
  compare_style (what, poses, n_poses, n_face, width, height, LK_OPENPOSE_STYLE_WEBUI);
}

static void
test_standing_with_face (void)
{
  LkPosePoint face[68];
  LkPose pose = { { { 0 } }, face, 68 };

  memcpy (pose.body, standing, sizeof standing);
  face_ring (face, 68, 0.5f, 0.17f, 0.035f, 0.05f);
  compare ("standing, 68 face points", &pose, 1, 68, 512, 384);
}

static void
test_two_people (void)
{
  LkPosePoint faces[2][70];
  LkPose poses[2] = { { { { 0 } }, faces[0], 70 }, { { { 0 } }, faces[1], 70 } };

  memcpy (poses[0].body, standing, sizeof standing);
  memcpy (poses[1].body, partial, sizeof partial);
  face_ring (faces[0], 70, 0.5f, 0.17f, 0.04f, 0.05f);
  /* Landmarks past the left edge are not drawn, those past the right are clipped, one on the
   * left edge is drawn by the annotator only. */
  face_ring (faces[1], 70, 0.98f, 0.1f, 0.05f, 0.04f);
  faces[1][0].x = -0.01f;
  faces[1][1].x = 0.0f;
  compare ("two people, one partly outside", poses, 2, 70, 320, 448);
}

/* Random poses, limbs at every angle and length, overlapping. */
static void
test_random (void)
{
  LkPose poses[3];
  GRand *rand = g_rand_new_with_seed (20260);

  for (guint p = 0; p < G_N_ELEMENTS (poses); p++)
    {
      poses[p].face = NULL;
      poses[p].n_face = 0;
      for (guint i = 0; i < LK_OPENPOSE_BODY_POINTS; i++)
        {
          poses[p].body[i].x = g_rand_double_range (rand, -0.05, 1.05);
          poses[p].body[i].y = g_rand_double_range (rand, -0.05, 1.05);
          if (g_rand_int_range (rand, 0, 10) == 0)
            poses[p].body[i].x = -1;
        }
    }
  g_rand_free (rand);
  compare ("three random poses", poses, 3, 0, 256, 256);
}

static void
test_colors (void)
{
  guint8 rgb[3];

  lk_openpose_color (0, rgb);
  g_assert_cmpmem (rgb, 3, ((guint8[]) { 255, 0, 0 }), 3);
  lk_openpose_color (17, rgb);
  g_assert_cmpmem (rgb, 3, ((guint8[]) { 255, 0, 85 }), 3);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/image/openpose/colors", test_colors);
  g_test_add_func ("/image/openpose/standing-with-face", test_standing_with_face);
  g_test_add_func ("/image/openpose/two-people", test_two_people);
  g_test_add_func ("/image/openpose/random", test_random);
  return g_test_run ();
}
