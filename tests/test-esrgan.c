/* test-esrgan.c: UpscalerJS's ESRGAN layers models against TF.js
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-esrgan.h"
#include "lk-test-util.h"
#include "lk-face-test.h"

/* Runs tests/oracle/js/run-layers.mjs on @input; NULL after g_test_skip(). */
static float *
run_layers (const char   *model,
            const float  *input,
            guint         width,
            guint         height,
            gsize         n_out)
{
  g_autofree char *shape = g_strdup_printf ("1,%u,%u,3", height, width);
  const char *args[] = { model, "@IN", shape, "@OUT", NULL };

  return lk_test_run_node ("run-layers.mjs", args, input, (gsize) width * height * 3, n_out);
}

static void
check_model (const char *sub,
             guint       expected_scale)
{
  g_autofree char *path = lk_test_shared_path (sub);
  g_autoptr(LkImage) photo = NULL;
  g_autoptr(LkEsrgan) esrgan = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree float *input = NULL, *out = NULL, *expected = NULL;
  const guint w = 14, h = 10;
  gsize n_out;

  if (path == NULL || lk_test_context () == NULL)
    return;
  photo = lk_test_load_photo ("astronaut.png");
  if (photo == NULL)
    return;
  esrgan = lk_esrgan_new (lk_test_context (), path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_esrgan_get_scale (esrgan), ==, expected_scale);
  /* A patch of the astronaut's face in [0, 1], UpscalerJS's input range. */
  input = g_new (float, w * h * 3);
  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w * 3; x++)
      input[y * w * 3 + x] = photo->data[(y + 100) * photo->stride + 180 * 3 + x] / 255.0f;
  out = lk_esrgan_run (esrgan, lk_test_stream (), input, w, h, &error);
  g_assert_no_error (error);
  n_out = (gsize) w * h * 3 * expected_scale * expected_scale;
  expected = run_layers (path, input, w, h, n_out);
  if (expected == NULL)
    return;
  lk_test_assert_close (sub, out, expected, n_out, 1e-3, 0);
  lk_test_check_validation ();
}

static void
test_slim_x2 (void)
{
  check_model ("models/upscalerjs/esrgan-slim/x2/model.json", 2);
}

static void
test_slim_x4 (void)
{
  check_model ("models/upscalerjs/esrgan-slim/x4/model.json", 4);
}

static void
test_medium_x4 (void)
{
  check_model ("models/upscalerjs/esrgan-medium/x4/model.json", 4);
}

static void
test_slim_x2_tiled (void)
{
  g_autofree char *path = lk_test_shared_path ("models/upscalerjs/esrgan-slim/x2/model.json");
  g_autoptr(LkImage) photo = NULL, patch = NULL, whole = NULL, tiled = NULL;
  g_autoptr(LkEsrgan) esrgan = NULL;
  g_autoptr(GError) error = NULL;
  const guint w = 40, h = 30;
  g_autofree float *a = NULL, *b = NULL;
  gsize n;

  if (path == NULL || lk_test_context () == NULL)
    return;
  photo = lk_test_load_photo ("astronaut.png");
  if (photo == NULL)
    return;
  patch = lk_image_new (w, h, 3);
  for (guint y = 0; y < h; y++)
    memcpy (patch->data + y * patch->stride, photo->data + (y + 90) * photo->stride + 170 * 3,
            w * 3);
  esrgan = lk_esrgan_new (lk_test_context (), path, &error);
  g_assert_no_error (error);
  /* One tile, then 16-pixel tiles overlapping by 6: the blend hides the seams, so the two agree
   * closely although the tiles see less context near their borders. */
  whole = lk_esrgan_upscale (esrgan, lk_test_stream (), patch, 64, 8, &error);
  g_assert_no_error (error);
  tiled = lk_esrgan_upscale (esrgan, lk_test_stream (), patch, 16, 6, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (whole->width, ==, 2 * w);
  g_assert_cmpuint (tiled->height, ==, 2 * h);
  n = (gsize) 4 * w * h * 3;
  a = g_new (float, n);
  b = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    {
      a[i] = tiled->data[i];
      b[i] = whole->data[i];
    }
  lk_test_assert_close ("tiled vs whole ESRGAN x2", a, b, n, 2e-2, 0);
  /* And the result is an upscaling of the input: close to the input resized bilinearly. */
  for (gsize i = 0; i < n; i++)
    {
      guint x = (guint) ((i / 3) % (2 * w)), y = (guint) ((i / 3) / (2 * w)), c = (guint) (i % 3);

      a[i] = patch->data[(y / 2) * patch->stride + (x / 2) * 3 + c];
    }
  lk_test_assert_close ("ESRGAN x2 vs nearest", b, a, n, 0.15, 0);
  lk_test_check_validation ();
}

static void
test_not_layers (void)
{
  g_autofree char *path =
    lk_test_shared_path ("models/face-api/face_landmark_68_model-weights_manifest.json");
  g_autoptr(GError) error = NULL;
  g_autoptr(LkEsrgan) esrgan = NULL;

  if (path == NULL || lk_test_context () == NULL)
    return;
  esrgan = lk_esrgan_new (lk_test_context (), path, &error);
  g_assert_null (esrgan);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "not a TF.js layers model"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/esrgan/not-layers", test_not_layers);
  g_test_add_func ("/esrgan/slim-x2", test_slim_x2);
  g_test_add_func ("/esrgan/slim-x4", test_slim_x4);
  g_test_add_func ("/esrgan/medium-x4", test_medium_x4);
  g_test_add_func ("/esrgan/slim-x2-tiled", test_slim_x2_tiled);
  return g_test_run ();
}
