/* lk-cli-catalog.c: likeness-cli catalog check, and opening the catalog for every command
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>

#include "lk-cli.h"
#include "lk-catalog.h"

LkCatalog *
lk_cli_open_catalog (const char *data_dir)
{
  g_autoptr(GError) error = NULL;
  LkCatalog *catalog = lk_catalog_open (data_dir, &error);

  if (catalog == NULL)
    lk_cli_fail ("%s", error->message);
  return catalog;
}

int
lk_cli_catalog (int    argc,
                char **argv)
{
  g_autofree char *data_dir = NULL;
  gboolean dry_run = FALSE;
  const GOptionEntry entries[] = {
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Use the catalog in DIR (default: $LIKENESS_DATA_DIR or $XDG_DATA_HOME/likeness)", "DIR" },
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run, "Report only; repair nothing", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("check — verify the catalog");
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(LkCatalogCheck) check = NULL;
  g_autoptr(GError) error = NULL;
  guint problems;

  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_set_description (options,
    "check compares every file in the data folder with the catalog's rows and their SHA-256.\n"
    "It finishes what a killed Likeness left half done, moves files no row names to\n"
    "lost+found/, and drops rows whose file is missing or damaged (a damaged file goes to\n"
    "lost+found/ too). With --dry-run it only reports, and fails when something is wrong.");
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("%s", error->message);
  if (argc != 2 || g_strcmp0 (argv[1], "check") != 0)
    return lk_cli_fail ("usage: likeness-cli catalog check [--dry-run] [--data-dir DIR]");

  catalog = lk_cli_open_catalog (data_dir);
  if (catalog == NULL)
    return 1;
  check = lk_catalog_check (catalog, !dry_run, NULL, &error);
  if (check == NULL)
    return lk_cli_fail ("%s", error->message);

  for (guint i = 0; i < check->messages->len; i++)
    printf ("%s\n", (const char *) g_ptr_array_index (check->messages, i));
  printf ("Catalog %s: %u rows and %u files checked\n", lk_catalog_get_data_dir (catalog),
          check->rows_checked, check->files_checked);
  printf ("  interrupted operations finished: %u\n", check->interrupted);
  printf ("  orphan rows: %u\n", check->orphan_rows);
  printf ("  orphan files: %u\n", check->orphan_files);
  printf ("  hash mismatches: %u\n", check->hash_mismatches);
  printf ("  database problems: %u\n", check->database_problems);

  problems = check->orphan_rows + check->orphan_files + check->hash_mismatches;
  if (check->database_problems > 0)
    return lk_cli_fail ("the database file itself is damaged; restore it from a backup");
  if (problems == 0)
    printf ("No problems found\n");
  else if (dry_run)
    return lk_cli_fail ("%u problem%s found; run without --dry-run to repair", problems,
                        problems == 1 ? "" : "s");
  else
    printf ("Repaired %u problem%s\n", problems, problems == 1 ? "" : "s");
  return 0;
}
