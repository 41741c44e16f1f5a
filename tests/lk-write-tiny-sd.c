/* lk-write-tiny-sd.c: writes lk-test-sd's tiny SD1.5-layout checkpoint for the shell tests
 *
 *   lk-write-tiny-sd OUT.safetensors [--inpainting]
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lk-test-sd.h"

int
main (int    argc,
      char **argv)
{
  g_autofree char *dir = NULL, *file = NULL, *path = NULL;
  gboolean inpainting = argc == 3 && strcmp (argv[2], "--inpainting") == 0;

  if (argc != 2 && !inpainting)
    {
      g_printerr ("usage: %s OUT.safetensors [--inpainting]\n", argv[0]);
      return 2;
    }
  dir = g_path_get_dirname (argv[1]);
  file = g_path_get_basename (argv[1]);
  path = lk_test_sd_write_tiny (dir, file, inpainting ? 9 : 4, NULL);
  return 0;
}
