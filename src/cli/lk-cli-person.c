/* lk-cli-person.c: likeness-cli person add | list | rename | remove
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lk-cli.h"
#include "lk-catalog.h"

static const char usage[] =
  "usage: likeness-cli person add NAME | list | rename PERSON NEW-NAME | remove PERSON";

int
lk_cli_person (int    argc,
               char **argv)
{
  g_autofree char *data_dir = NULL;
  const GOptionEntry entries[] = {
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Use the catalog in DIR (default: $LIKENESS_DATA_DIR or $XDG_DATA_HOME/likeness)", "DIR" },
    { NULL }
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("add NAME | list | rename PERSON NEW-NAME | remove PERSON");
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(LkPerson) person = NULL;
  g_autoptr(GError) error = NULL;
  const char *verb;

  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_set_summary (options, "People whose likeness Likeness keeps. PERSON is a name "
                                         "or an id from “person list”.");
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("%s", error->message);
  if (argc < 2)
    return lk_cli_fail ("%s", usage);
  verb = argv[1];

  if (strcmp (verb, "add") == 0 && argc == 3)
    {
      if ((catalog = lk_cli_open_catalog (data_dir)) == NULL)
        return 1;
      person = lk_catalog_add_person (catalog, argv[2], &error);
      if (person == NULL)
        return lk_cli_fail ("%s", error->message);
      printf ("Added %s (id %" G_GINT64_FORMAT ")\n", lk_person_get_name (person),
              lk_person_get_id (person));
      return 0;
    }

  if (strcmp (verb, "list") == 0 && argc == 2)
    {
      g_autoptr(GListModel) people = NULL;
      guint n;

      if ((catalog = lk_cli_open_catalog (data_dir)) == NULL)
        return 1;
      people = lk_catalog_list_people (catalog);
      n = g_list_model_get_n_items (people);
      if (n == 0)
        {
          printf ("No people yet; add one with “likeness-cli person add NAME”\n");
          return 0;
        }
      printf ("%6s  %6s  %s\n", "ID", "PHOTOS", "NAME");
      for (guint i = 0; i < n; i++)
        {
          g_autoptr(LkPerson) item = g_list_model_get_item (people, i);

          printf ("%6" G_GINT64_FORMAT "  %6u  %s\n", lk_person_get_id (item),
                  lk_person_get_photo_count (item), lk_person_get_name (item));
        }
      return 0;
    }

  if ((strcmp (verb, "rename") == 0 && argc == 4) || (strcmp (verb, "remove") == 0 && argc == 3))
    {
      g_autofree char *old_name = NULL;

      if ((catalog = lk_cli_open_catalog (data_dir)) == NULL)
        return 1;
      person = lk_catalog_find_person (catalog, argv[2], &error);
      if (person == NULL)
        return lk_cli_fail ("%s", error->message);
      old_name = g_strdup (lk_person_get_name (person));
      if (verb[2] == 'n')
        {
          if (!lk_catalog_rename_person (catalog, lk_person_get_id (person), argv[3], &error))
            return lk_cli_fail ("%s", error->message);
          printf ("Renamed %s to %s\n", old_name, argv[3]);
        }
      else
        {
          guint n_photos = lk_person_get_photo_count (person);

          if (!lk_catalog_remove_person (catalog, lk_person_get_id (person), &error))
            return lk_cli_fail ("%s", error->message);
          printf ("Removed %s and %u photo%s\n", old_name, n_photos, n_photos == 1 ? "" : "s");
        }
      return 0;
    }

  return lk_cli_fail ("%s", usage);
}
