/* lk-cli-info.c: likeness-cli info
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>

#include "lk-cli.h"
#include "lk-context.h"

int
lk_cli_info (int    argc,
             char **argv)
{
  g_autoptr(GOptionContext) options = g_option_context_new ("— list Vulkan devices");
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(GError) error = NULL;
  const char *selector = g_getenv ("LIKENESS_DEVICE");
  guint chosen;

  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("%s", error->message);

  devices = lk_context_list_devices (&error);
  if (devices == NULL)
    return lk_cli_fail ("%s", error->message);

  printf ("%u Vulkan device%s\n", devices->len, devices->len == 1 ? "" : "s");
  for (guint i = 0; i < devices->len; i++)
    {
      g_autofree char *text = lk_device_info_describe (g_ptr_array_index (devices, i));

      printf ("\nDevice %u\n%s", i, text);
    }

  chosen = lk_context_choose_device (devices, selector, &error);
  if (chosen == G_MAXUINT)
    {
      printf ("\n");
      return lk_cli_fail ("%s", error->message);
    }
  printf ("\nLikeness uses device %u: %s%s\n", chosen,
          ((LkDeviceInfo *) g_ptr_array_index (devices, chosen))->name,
          selector ? " (LIKENESS_DEVICE)" : "");
  return 0;
}
