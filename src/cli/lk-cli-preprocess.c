/* lk-cli-preprocess.c: likeness-cli preprocess canny|color|tile IMAGE -o OUT
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lk-canny.h"
#include "lk-cli.h"
#include "lk-control-image.h"
#include "lk-image.h"

/* A packed RGB or gray result as an LkImage that owns @data. */
static LkImage *
wrap (guint8 *data,
      guint   width,
      guint   height,
      guint   channels)
{
  LkImage *image = g_new0 (LkImage, 1);

  image->width = width;
  image->height = height;
  image->channels = channels;
  image->stride = (gsize) width * channels;
  image->data = data;
  return image;
}

int
lk_cli_preprocess (int    argc,
                   char **argv)
{
  g_autofree char *output = NULL;
  double low = 100, high = 200, rate = 1.0;
  int block = LK_COLOR_MOSAIC_BLOCK;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Where to write the PNG", "OUT" },
    { "low", 0, 0, G_OPTION_ARG_DOUBLE, &low, "canny: low threshold (100)", "T" },
    { "high", 0, 0, G_OPTION_ARG_DOUBLE, &high, "canny: high threshold (200)", "T" },
    { "block", 0, 0, G_OPTION_ARG_INT, &block, "color: mosaic block (24; 1: the plain variant)",
      "PIXELS" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &rate, "tile: down-sampling rate (1: none)", "RATE" },
    { NULL },
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("canny|color|tile IMAGE — make a ControlNet control image");
  g_autoptr(GError) error = NULL;
  g_autoptr(LkImage) input = NULL, result = NULL;
  const char *kind, *path;

  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_set_summary (options,
                                "canny: Canny edges as OpenCV computes them (EasyPhoto: 100/200)\n"
                                "color: EasyPhoto's colour image: short side to 1024, a mosaic of\n"
                                "       24-pixel blocks there, back to the image's size\n"
                                "tile:  the tile preprocessor's resample");
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("%s", error->message);
  if (argc != 3)
    return lk_cli_fail ("preprocess needs a kind (canny, color or tile) and an image; see "
                        "“likeness-cli preprocess --help”");
  kind = argv[1];
  path = argv[2];
  if (output == NULL)
    return lk_cli_fail ("preprocess: say where to write the result with -o OUT");
  if (!g_str_equal (kind, "canny") && !g_str_equal (kind, "color") && !g_str_equal (kind, "tile"))
    return lk_cli_fail ("preprocess: “%s” is not one of canny, color, tile", kind);
  if (g_str_equal (kind, "canny") && !(low >= 0 && high >= 0))
    return lk_cli_fail ("preprocess canny: the thresholds must not be negative");
  if (g_str_equal (kind, "color") && block < 1)
    return lk_cli_fail ("preprocess color: the block size must be at least 1");
  if (g_str_equal (kind, "tile") && !(rate > 0 && rate <= 64))
    return lk_cli_fail ("preprocess tile: the rate must be above 0 and at most 64");

  if ((input = lk_image_load (path, 3, &error)) == NULL)
    return lk_cli_fail ("%s: %s", path, error->message);

  if (g_str_equal (kind, "canny"))
    {
      guint8 *edges = g_malloc ((gsize) input->width * input->height);

      lk_canny_rgb (input->data, input->width, input->height, input->stride, low, high, edges);
      result = wrap (edges, input->width, input->height, 1);
    }
  else if (g_str_equal (kind, "color"))
    result = wrap (lk_control_color_easyphoto (input->data, input->width, input->height,
                                               input->stride, block),
                   input->width, input->height, 3);
  else
    {
      guint width, height;
      guint8 *data = lk_control_tile_resample (input->data, input->width, input->height,
                                               input->stride, rate, &width, &height);

      result = wrap (data, width, height, 3);
    }

  if (!lk_image_save_png (result, output, NULL, &error))
    return lk_cli_fail ("%s: %s", output, error->message);
  g_print ("%s: %u×%u %s image\n", output, result->width, result->height, kind);
  return 0;
}
