/* main.c: likeness-cli
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "lk-cli.h"

static const struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "info", lk_cli_info, "List Vulkan devices, their features, and the one Likeness uses" },
  { "bench", lk_cli_bench, "Benchmark the engine (bench ops, unet, vae, clip, train)" },
  { "person", lk_cli_person, "Add, list, rename or remove people" },
  { "photos", lk_cli_photos, "Add or list a person's photos" },
  { "templates", lk_cli_templates, "Add or list template photos" },
  { "catalog", lk_cli_catalog, "Check the catalog and repair what a crash left (catalog check)" },
  { "models", lk_cli_models, "List, download, add, verify or scan for models" },
  { "txt2img", lk_cli_txt2img, "Generate an image from a prompt with an SD1.x checkpoint" },
  { "img2img", lk_cli_img2img, "Redraw an image from a prompt with an SD1.x checkpoint" },
  { "inpaint", lk_cli_inpaint, "Repaint the masked part of an image with an SD1.x checkpoint" },
  { "preprocess", lk_cli_preprocess, "Make a ControlNet control image (canny, color, tile)" },
  { "faces", lk_cli_faces, "Find faces with their landmarks, or compare two faces (detect, compare)" },
  { "upscale", lk_cli_upscale, "Upscale an image ×2 or ×4 with ESRGAN" },
  { "train-lora", lk_cli_train_lora, "Train a LoRA on photos of a person (EasyPhoto's defaults)" },
};

int
lk_cli_fail (const char *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("likeness-cli: %s\n", message);
  return 1;
}

static void
usage (FILE *out)
{
  fprintf (out, "Usage: likeness-cli COMMAND [OPTIONS…]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun “likeness-cli COMMAND --help” for a command's options.\n");
}

int
main (int   argc,
      char *argv[])
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 2 : 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("likeness-cli %s\n", PACKAGE_VERSION);
      return 0;
    }

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);

  g_printerr ("likeness-cli: unknown command “%s”\n\n", argv[1]);
  usage (stderr);
  return 2;
}
