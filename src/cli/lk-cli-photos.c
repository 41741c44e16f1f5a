/* lk-cli-photos.c: likeness-cli photos add | list and templates add | list
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lk-cli.h"
#include "lk-catalog.h"

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* FILE arguments as given; a DIR gives its files (not hidden ones, not subfolders), sorted,
 * listed in from_dir too. */
static GPtrArray *
expand_paths (char        **paths,
              int           n_paths,
              GHashTable   *from_dir,
              GError      **error)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);

  for (int i = 0; i < n_paths; i++)
    {
      g_autoptr(GDir) dir = NULL;
      g_autoptr(GPtrArray) entries = NULL;
      const char *name;

      if (!g_file_test (paths[i], G_FILE_TEST_IS_DIR))
        {
          g_ptr_array_add (files, g_strdup (paths[i]));
          continue;
        }
      dir = g_dir_open (paths[i], 0, error);
      if (dir == NULL)
        return NULL;
      entries = g_ptr_array_new_with_free_func (g_free);
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (paths[i], name, NULL);

          if (name[0] != '.' && g_file_test (path, G_FILE_TEST_IS_REGULAR))
            {
              g_hash_table_add (from_dir, g_strdup (path));
              g_ptr_array_add (entries, g_steal_pointer (&path));
            }
        }
      g_ptr_array_sort (entries, compare_paths);
      g_ptr_array_extend_and_steal (files, g_steal_pointer (&entries));
    }
  return g_steal_pointer (&files);
}

typedef gpointer (*AddFunc) (LkCatalog   *catalog,
                             gint64       person_id,
                             const char  *path,
                             gboolean    *already_present,
                             GError     **error);

static gpointer
add_photo (LkCatalog   *catalog,
           gint64       person_id,
           const char  *path,
           gboolean    *already_present,
           GError     **error)
{
  return lk_catalog_add_photo (catalog, person_id, path, already_present, NULL, error);
}

static gpointer
add_template (LkCatalog   *catalog,
              gint64       unused,
              const char  *path,
              gboolean    *already_present,
              GError     **error)
{
  return lk_catalog_add_template (catalog, path, FALSE, already_present, NULL, error);
}

/* Adds each file, says what happened to it, and fails when any file was refused. */
static int
add_files (LkCatalog   *catalog,
           AddFunc      add,
           gint64       person_id,
           const char  *what,
           char       **paths,
           int          n_paths)
{
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GHashTable) from_dir = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GError) error = NULL;
  guint added = 0, present = 0, refused = 0, skipped = 0;

  files = expand_paths (paths, n_paths, from_dir, &error);
  if (files == NULL)
    return lk_cli_fail ("%s", error->message);

  for (guint i = 0; i < files->len; i++)
    {
      const char *path = g_ptr_array_index (files, i);
      g_autoptr(GObject) item = NULL;
      g_autoptr(GError) local_error = NULL;
      gboolean already = FALSE;
      int width = 0, height = 0;
      gint64 id = 0;

      item = add (catalog, person_id, path, &already, &local_error);
      /* A folder may hold other files; only a file named on the command line must be an image. */
      if (item == NULL && g_hash_table_contains (from_dir, path) &&
          g_error_matches (local_error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_IMAGE))
        {
          printf ("%s: skipped, not an image\n", path);
          skipped++;
          continue;
        }
      if (item == NULL)
        {
          lk_cli_fail ("%s", local_error->message);
          refused++;
          continue;
        }
      g_object_get (item, "id", &id, "width", &width, "height", &height, NULL);
      if (already)
        {
          printf ("%s: already in the catalog as %s %" G_GINT64_FORMAT ", stored once\n", path,
                  what, id);
          present++;
        }
      else
        {
          printf ("%s: added (%d × %d)\n", path, width, height);
          added++;
        }
    }
  printf ("%u %s%s added, %u already there, %u refused", added, what,
          added == 1 ? "" : "s", present, refused);
  if (skipped > 0)
    printf (", %u skipped", skipped);
  printf ("\n");
  return refused > 0 ? 1 : 0;
}

static void
add_data_dir_option (GOptionContext *options,
                     char          **data_dir)
{
  const GOptionEntry entries[] = {
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, data_dir,
      "Use the catalog in DIR (default: $LIKENESS_DATA_DIR or $XDG_DATA_HOME/likeness)", "DIR" },
    { NULL }
  };

  g_option_context_add_main_entries (options, entries, NULL);
}

int
lk_cli_photos (int    argc,
               char **argv)
{
  static const char usage[] = "usage: likeness-cli photos add PERSON FILE|DIR… | list PERSON";
  g_autofree char *data_dir = NULL;
  g_autoptr(GOptionContext) options = g_option_context_new ("add PERSON FILE|DIR… | list PERSON");
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(LkPerson) person = NULL;
  g_autoptr(GError) error = NULL;

  add_data_dir_option (options, &data_dir);
  g_option_context_set_summary (options,
                                "Photos of a person (JPEG, PNG, WebP), copied into the catalog. "
                                "PERSON is a name or an id.");
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("%s", error->message);
  if (argc < 3 || !((strcmp (argv[1], "add") == 0 && argc >= 4) ||
                    (strcmp (argv[1], "list") == 0 && argc == 3)))
    return lk_cli_fail ("%s", usage);

  if ((catalog = lk_cli_open_catalog (data_dir)) == NULL)
    return 1;
  person = lk_catalog_find_person (catalog, argv[2], &error);
  if (person == NULL)
    return lk_cli_fail ("%s", error->message);

  if (strcmp (argv[1], "add") == 0)
    return add_files (catalog, add_photo, lk_person_get_id (person), "photo", argv + 3, argc - 3);

  {
    g_autoptr(GListModel) photos = lk_catalog_list_photos (catalog, lk_person_get_id (person));
    guint n = g_list_model_get_n_items (photos);

    if (n == 0)
      {
        printf ("%s has no photos yet\n", lk_person_get_name (person));
        return 0;
      }
    printf ("%6s  %11s  %-12s  %s\n", "ID", "SIZE", "SHA-256", "ADDED FROM");
    for (guint i = 0; i < n; i++)
      {
        g_autoptr(LkPhoto) photo = g_list_model_get_item (photos, i);
        g_autofree char *size = g_strdup_printf ("%d×%d", lk_photo_get_width (photo),
                                                 lk_photo_get_height (photo));

        printf ("%6" G_GINT64_FORMAT "  %11s  %.12s  %s\n", lk_photo_get_id (photo), size,
                lk_photo_get_sha256 (photo), lk_photo_get_original_name (photo));
      }
  }
  return 0;
}

int
lk_cli_templates (int    argc,
                  char **argv)
{
  static const char usage[] = "usage: likeness-cli templates add FILE|DIR… | list";
  g_autofree char *data_dir = NULL;
  g_autoptr(GOptionContext) options = g_option_context_new ("add FILE|DIR… | list");
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(GError) error = NULL;

  add_data_dir_option (options, &data_dir);
  g_option_context_set_summary (options, "Template photos that people are painted into.");
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("%s", error->message);
  if (argc < 2 || !((strcmp (argv[1], "add") == 0 && argc >= 3) ||
                    (strcmp (argv[1], "list") == 0 && argc == 2)))
    return lk_cli_fail ("%s", usage);

  if ((catalog = lk_cli_open_catalog (data_dir)) == NULL)
    return 1;
  if (strcmp (argv[1], "add") == 0)
    return add_files (catalog, add_template, 0, "template", argv + 2, argc - 2);

  {
    g_autoptr(GListModel) templates = lk_catalog_list_templates (catalog);
    guint n = g_list_model_get_n_items (templates);

    if (n == 0)
      {
        printf ("No templates yet; add one with “likeness-cli templates add FILE”\n");
        return 0;
      }
    printf ("%6s  %11s  %5s  %s\n", "ID", "SIZE", "FACES", "NAME");
    for (guint i = 0; i < n; i++)
      {
        g_autoptr(LkTemplate) template = g_list_model_get_item (templates, i);
        g_autofree char *size = g_strdup_printf ("%d×%d", lk_template_get_width (template),
                                                 lk_template_get_height (template));
        g_autofree char *faces = lk_template_get_face_count (template) < 0
                                   ? g_strdup ("?")
                                   : g_strdup_printf ("%d", lk_template_get_face_count (template));

        printf ("%6" G_GINT64_FORMAT "  %11s  %5s  %s%s\n", lk_template_get_id (template), size,
                faces, lk_template_get_name (template),
                lk_template_get_builtin (template) ? " (built in)" : "");
      }
  }
  return 0;
}
