/* test-canny.c: Canny edges and the colour/tile control images against OpenCV
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <math.h>
#include <string.h>

#include "lk-canny.h"
#include "lk-control-image.h"
#include "lk-test-util.h"

static const char *photos[] = {
  "astronaut.png", "group-1.jpg", "group-2.jpg", "group-3.jpg", "no-face-cat.png",
};

static gboolean
have_cv2 (void)
{
  static int available = -1;

  if (available < 0)
    {
      const char *argv[] = { "/usr/bin/python3", "-c", "import cv2, numpy", NULL };
      int status = 1;

      available = g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                                NULL, NULL, &status, NULL) &&
                  g_spawn_check_wait_status (status, NULL);
    }
  if (!available)
    g_test_skip ("the OpenCV oracle needs /usr/bin/python3 with python3-opencv");
  return available;
}

typedef struct
{
  guint8 *rgb;   /* packed, width × 3 per row */
  guint   width;
  guint   height;
} Image;

static void
image_clear (Image *image)
{
  g_clear_pointer (&image->rgb, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Image, image_clear)

static char *
test_data_dir (void)
{
  const char *dir = g_getenv ("LIKENESS_TEST_DATA");

  if (dir != NULL)
    return g_strdup (dir);
  if (g_getenv ("LIKENESS_SOURCE_DIR") != NULL)
    return g_build_filename (g_getenv ("LIKENESS_SOURCE_DIR"), "..", "shared", "testdata", NULL);
  return NULL;
}

/* FALSE (and skipped) when the photo is not there. */
static gboolean
load_photo (const char *name,
            Image      *image)
{
  g_autofree char *dir = test_data_dir ();
  g_autofree char *path = dir ? g_build_filename (dir, name, NULL) : NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  const guint8 *pixels;
  int n_channels, rowstride;

  if (path == NULL || !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *message = g_strdup_printf ("test photo %s not found (set LIKENESS_TEST_DATA)",
                                                  name);
      g_test_skip (message);
      return FALSE;
    }
  pixbuf = gdk_pixbuf_new_from_file (path, &error);
  g_assert_no_error (error);
  image->width = gdk_pixbuf_get_width (pixbuf);
  image->height = gdk_pixbuf_get_height (pixbuf);
  n_channels = gdk_pixbuf_get_n_channels (pixbuf);
  rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  pixels = gdk_pixbuf_read_pixels (pixbuf);
  image->rgb = g_malloc ((gsize) image->width * image->height * 3);
  for (guint y = 0; y < image->height; y++)
    for (guint x = 0; x < image->width; x++)
      memcpy (image->rgb + ((gsize) y * image->width + x) * 3,
              pixels + (gsize) y * rowstride + (gsize) x * n_channels, 3);
  return TRUE;
}

static void
random_image (Image   *image,
              guint    width,
              guint    height,
              guint32  seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);

  image->width = width;
  image->height = height;
  image->rgb = g_malloc ((gsize) width * height * 3);
  for (gsize i = 0; i < (gsize) width * height * 3; i++)
    image->rgb[i] = g_rand_int_range (rand, 0, 256);
}

/* Shapes: a bright disc and a rectangle on a ramp, slightly noisy. */
static void
shapes_image (Image  *image,
              guint   width,
              guint   height)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);

  image->width = width;
  image->height = height;
  image->rgb = g_malloc ((gsize) width * height * 3);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        guint8 *p = image->rgb + ((gsize) y * width + x) * 3;
        double dx = x - width * 0.4, dy = y - height * 0.5;
        gboolean disc = dx * dx + dy * dy < (height * 0.3) * (height * 0.3);
        gboolean rect = x > width * 0.6 && x < width * 0.9 && y > height * 0.1 && y < height * 0.7;

        p[0] = disc ? 230 : rect ? 40 : (x * 255) / width;
        p[1] = disc ? 60 : rect ? 200 : 128;
        p[2] = CLAMP ((int) ((y * 255) / height) + g_rand_int_range (rand, -6, 7), 0, 255);
      }
}

/* The oracle's output for an op on an image, as bytes. */
static guint8 *
opencv (const char *op,
        const Image *image,
        gsize        n_out,
        const char  *first_param,
        ...)
{
  g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_image.py");
  gsize n = (gsize) image->width * image->height * 3;
  g_autofree float *input = g_new (float, n);
  g_autofree float *out = NULL;
  guint8 *bytes;
  const char *name;
  va_list args;

  if (oracle == NULL)
    return NULL;
  for (gsize i = 0; i < n; i++)
    input[i] = image->rgb[i];
  lk_oracle_add_input (oracle, "image", input, n);
  lk_oracle_set_param_string (oracle, "op", op);
  lk_oracle_set_param_int (oracle, "width", image->width);
  lk_oracle_set_param_int (oracle, "height", image->height);
  va_start (args, first_param);
  for (name = first_param; name != NULL; name = va_arg (args, const char *))
    lk_oracle_set_param_int (oracle, name, va_arg (args, int));
  va_end (args);
  out = lk_oracle_run (oracle, n_out);
  if (out == NULL)
    return NULL;
  bytes = g_malloc (n_out);
  for (gsize i = 0; i < n_out; i++)
    bytes[i] = (guint8) out[i];
  return bytes;
}

/* Fraction of equal bytes; also reports the largest difference. */
static double
agreement (const guint8 *a,
           const guint8 *b,
           gsize         n,
           int          *max_diff)
{
  gsize same = 0;

  *max_diff = 0;
  for (gsize i = 0; i < n; i++)
    {
      same += a[i] == b[i];
      *max_diff = MAX (*max_diff, ABS ((int) a[i] - (int) b[i]));
    }
  return (double) same / n;
}

static void
check_canny (const char  *what,
             const Image *image,
             int          low,
             int          high,
             double       min_agreement)
{
  gsize n = (gsize) image->width * image->height;
  g_autofree guint8 *edges = g_malloc (n);
  g_autofree guint8 *expected = NULL;
  gsize n_edges = 0;
  double agree;
  int max_diff;

  if (!have_cv2 ())
    return;
  lk_canny_rgb (image->rgb, image->width, image->height, (gsize) image->width * 3, low, high, edges);
  expected = opencv ("canny", image, n, "low", low, "high", high, NULL);
  if (expected == NULL)
    return;
  for (gsize i = 0; i < n; i++)
    n_edges += expected[i] != 0;
  agree = agreement (edges, expected, n, &max_diff);
  g_test_message ("canny %s %u×%u (%d/%d): %.4f %% of pixels agree, %" G_GSIZE_FORMAT
                  " edge pixels in OpenCV's map", what, image->width, image->height, low, high,
                  100 * agree, n_edges);
  g_assert_cmpfloat (agree, >=, min_agreement);
}

static void
test_canny_photos (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (photos); i++)
    {
      g_auto(Image) image = { 0 };

      if (!load_photo (photos[i], &image))
        return;
      check_canny (photos[i], &image, 100, 200, 0.99);
      if (g_test_failed () || !have_cv2 ())
        return;
    }
}

static void
test_canny_synthetic (void)
{
  static const guint sizes[][2] = { { 97, 61 }, { 1, 1 }, { 2, 3 }, { 5, 1 }, { 64, 64 } };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_auto(Image) noise = { 0 };
      g_auto(Image) shapes = { 0 };

      random_image (&noise, sizes[i][0], sizes[i][1], 100 + i);
      check_canny ("noise", &noise, 100, 200, 1.0);
      shapes_image (&shapes, sizes[i][0], sizes[i][1]);
      check_canny ("shapes", &shapes, 100, 200, 1.0);
      /* thresholds swapped and equal, as OpenCV allows */
      check_canny ("shapes", &shapes, 200, 50, 1.0);
      check_canny ("shapes", &shapes, 30, 30, 1.0);
      if (!have_cv2 ())
        return;
    }
}

static void
check_resize (const char  *op,
              const Image *image,
              guint        out_width,
              guint        out_height,
              int          max_allowed)
{
  gsize n = (gsize) out_width * out_height * 3;
  gsize stride = (gsize) image->width * 3;
  g_autofree guint8 *out = NULL;
  g_autofree guint8 *expected = NULL;
  double agree;
  int max_diff;

  if (!have_cv2 ())
    return;
  if (g_str_equal (op, "cubic"))
    out = lk_resize_cubic_rgb (image->rgb, image->width, image->height, stride, out_width, out_height);
  else if (g_str_equal (op, "lanczos4"))
    out = lk_resize_lanczos4_rgb (image->rgb, image->width, image->height, stride, out_width,
                                  out_height);
  else if (g_str_equal (op, "nearest"))
    out = lk_resize_nearest_rgb (image->rgb, image->width, image->height, stride, out_width, out_height);
  else
    out = lk_resize_area_rgb (image->rgb, image->width, image->height, stride, out_width, out_height);
  expected = opencv (op, image, n, "out_width", out_width, "out_height", out_height, NULL);
  if (expected == NULL)
    return;
  agree = agreement (out, expected, n, &max_diff);
  g_test_message ("%s %u×%u → %u×%u: %.4f %% equal, max difference %d", op, image->width,
                  image->height, out_width, out_height, 100 * agree, max_diff);
  g_assert_cmpint (max_diff, <=, max_allowed);
}

static void
test_resize (void)
{
  g_auto(Image) noise = { 0 };
  g_auto(Image) shapes = { 0 };

  random_image (&noise, 101, 67, 3);
  shapes_image (&shapes, 640, 480);
  check_resize ("cubic", &noise, 4, 2, 0);
  check_resize ("cubic", &noise, 37, 29, 0);
  check_resize ("cubic", &noise, 250, 131, 0);
  check_resize ("cubic", &shapes, 26, 20, 0);
  check_resize ("cubic", &shapes, 512, 512, 0);
  check_resize ("nearest", &noise, 250, 131, 0);
  check_resize ("nearest", &noise, 33, 50, 0);
  check_resize ("area", &noise, 50, 33, 0);
  check_resize ("area", &shapes, 320, 240, 0);  /* whole factors: OpenCV's integer path */
  check_resize ("area", &shapes, 160, 120, 0);
  check_resize ("area", &shapes, 320, 160, 0);
  check_resize ("area", &shapes, 213, 160, 0);
  /* An axis grows: OpenCV's linear stand-in for the area filter, vector rounding and all. */
  check_resize ("area", &noise, 120, 50, 0);
  check_resize ("area", &noise, 60, 80, 0);
  check_resize ("area", &shapes, 704, 448, 0);
  check_resize ("area", &shapes, 1088, 1024, 0);
  check_resize ("lanczos4", &noise, 250, 131, 0);
  check_resize ("lanczos4", &noise, 37, 29, 0);
  check_resize ("lanczos4", &shapes, 1344, 1024, 0);
  check_resize ("lanczos4", &shapes, 640, 480, 0);
  /* A smooth image shrunk 3.2×: where OpenCV's nested float multiply-adds round differently
   * from a plain running sum. */
  {
    g_auto(Image) tall = { 0 };

    shapes_image (&tall, 1024, 1472);
    check_resize ("cubic", &tall, 320, 448, 0);
  }
}

static void
check_mosaic (const char  *what,
              const Image *image)
{
  gsize n = (gsize) image->width * image->height * 3;
  g_autofree guint8 *out = NULL;
  g_autofree guint8 *expected = NULL;
  double agree;
  int max_diff;

  if (!have_cv2 ())
    return;
  out = lk_control_color_mosaic (image->rgb, image->width, image->height,
                                 (gsize) image->width * 3, LK_COLOR_MOSAIC_BLOCK);
  expected = opencv ("mosaic", image, n, "block", LK_COLOR_MOSAIC_BLOCK, NULL);
  if (expected == NULL)
    return;
  agree = agreement (out, expected, n, &max_diff);
  g_test_message ("colour mosaic %s %u×%u: %.4f %% equal, max difference %d", what, image->width,
                  image->height, 100 * agree, max_diff);
  g_assert_cmpint (max_diff, ==, 0);
}

static void
test_color_mosaic (void)
{
  g_auto(Image) noise = { 0 };
  g_auto(Image) shapes = { 0 };
  g_auto(Image) photo = { 0 };

  random_image (&noise, 100, 53, 11);
  check_mosaic ("noise", &noise);
  shapes_image (&shapes, 512, 768);
  check_mosaic ("shapes", &shapes);
  shapes_image (&shapes, 20, 10);  /* smaller than a block */
  check_mosaic ("tiny", &shapes);
  if (load_photo ("group-1.jpg", &photo))
    check_mosaic ("group-1.jpg", &photo);
}

/* EasyPhoto's whole colour step: up (Lanczos-4) or down (INTER_AREA) to a 1024 short side,
 * the mosaic there, cubic back; block 1 is its plain variant. */
static void
check_easyphoto_color (const char  *what,
                       const Image *image,
                       guint        block)
{
  gsize n = (gsize) image->width * image->height * 3;
  g_autofree guint8 *out = NULL;
  g_autofree guint8 *expected = NULL;
  g_autofree guint8 *mosaic = NULL;
  double agree;
  int max_diff;

  if (!have_cv2 ())
    return;
  out = lk_control_color_easyphoto (image->rgb, image->width, image->height,
                                    (gsize) image->width * 3, block);
  expected = opencv ("easyphoto_color", image, n, "block", block, NULL);
  if (expected == NULL)
    return;
  agree = agreement (out, expected, n, &max_diff);
  g_test_message ("EasyPhoto colour (block %u) %s %u×%u: %.4f %% equal, max difference %d",
                  block, what, image->width, image->height, 100 * agree, max_diff);
  g_assert_cmpint (max_diff, ==, 0);
  /* Not the bare mosaic at the image's own size. */
  mosaic = lk_control_color_mosaic (image->rgb, image->width, image->height,
                                    (gsize) image->width * 3, block);
  if (block > 1)
    g_assert_true (memcmp (out, mosaic, n) != 0);
}

static void
test_easyphoto_color (void)
{
  g_auto(Image) shapes = { 0 };
  g_auto(Image) wide = { 0 };
  g_auto(Image) photo = { 0 };

  shapes_image (&shapes, 320, 448);       /* enlarged: 1024 × 1472 (1433.6 rounds up) */
  check_easyphoto_color ("shapes", &shapes, LK_COLOR_MOSAIC_BLOCK);
  check_easyphoto_color ("shapes", &shapes, 1);
  shapes_image (&wide, 1530, 1040);       /* shrunk, one side then grows: 1536 × 1024 */
  check_easyphoto_color ("wide", &wide, LK_COLOR_MOSAIC_BLOCK);
  if (load_photo ("group-1.jpg", &photo))
    check_easyphoto_color ("group-1.jpg", &photo, LK_COLOR_MOSAIC_BLOCK);
}

static void
test_tile_resample (void)
{
  g_auto(Image) shapes = { 0 };
  g_autofree guint8 *same = NULL;
  g_autofree guint8 *half = NULL;
  g_autofree guint8 *expected = NULL;
  guint w, h;
  int max_diff;

  shapes_image (&shapes, 96, 64);
  same = lk_control_tile_resample (shapes.rgb, 96, 64, 96 * 3, 1.0, &w, &h);
  g_assert_cmpuint (w, ==, 96);
  g_assert_cmpuint (h, ==, 64);
  g_assert_cmpmem (same, 96 * 64 * 3, shapes.rgb, 96 * 64 * 3);

  half = lk_control_tile_resample (shapes.rgb, 96, 64, 96 * 3, 2.0, &w, &h);
  g_assert_cmpuint (w, ==, 48);
  g_assert_cmpuint (h, ==, 32);
  if (!have_cv2 ())
    return;
  expected = opencv ("area", &shapes, (gsize) w * h * 3, "out_width", w, "out_height", h, NULL);
  if (expected == NULL)
    return;
  agreement (half, expected, (gsize) w * h * 3, &max_diff);
  g_assert_cmpint (max_diff, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/canny/synthetic", test_canny_synthetic);
  g_test_add_func ("/canny/photos", test_canny_photos);
  g_test_add_func ("/control-image/resize", test_resize);
  g_test_add_func ("/control-image/color-mosaic", test_color_mosaic);
  g_test_add_func ("/control-image/easyphoto-color", test_easyphoto_color);
  g_test_add_func ("/control-image/tile-resample", test_tile_resample);
  return g_test_run ();
}
