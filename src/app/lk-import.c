/* lk-import.c: copying dropped or chosen files into the catalog, off the main thread
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>

#include "lk-catalog.h"
#include "lk-import.h"

/* Folders dropped from a file manager can be deep: bound the walk. */
#define MAX_DEPTH 8

typedef struct
{
  char         *data_dir;
  LkImportKind  kind;
  gint64        person_id;
  GPtrArray    *files;
} ImportData;

static void
import_data_free (ImportData *data)
{
  g_free (data->data_dir);
  g_ptr_array_unref (data->files);
  g_free (data);
}

void
lk_import_result_free (LkImportResult *result)
{
  g_clear_pointer (&result->errors, g_ptr_array_unref);
  g_free (result);
}

static void
collect_files (GFile        *file,
               guint         depth,
               GPtrArray    *paths,
               GPtrArray    *errors,
               GCancellable *cancellable)
{
  g_autoptr(GFileEnumerator) children = NULL;
  g_autoptr(GError) error = NULL;
  GFileType type;

  type = g_file_query_file_type (file, G_FILE_QUERY_INFO_NONE, cancellable);
  if (type != G_FILE_TYPE_DIRECTORY)
    {
      char *path = g_file_get_path (file);

      if (path == NULL)
        {
          g_autofree char *uri = g_file_get_uri (file);

          g_ptr_array_add (errors, g_strdup_printf (_("%s is not a local file"), uri));
        }
      else
        g_ptr_array_add (paths, path);
      return;
    }
  if (depth >= MAX_DEPTH)
    return;
  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_IS_HIDDEN,
                                        G_FILE_QUERY_INFO_NONE, cancellable, &error);
  if (children == NULL)
    {
      g_ptr_array_add (errors, g_strdup (error->message));
      return;
    }
  for (;;)
    {
      GFileInfo *info;
      GFile *child;

      if (!g_file_enumerator_iterate (children, &info, &child, cancellable, NULL) || info == NULL)
        break;
      if (!g_file_info_get_is_hidden (info))
        collect_files (child, depth + 1, paths, errors, cancellable);
    }
}

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char **) a, *(char **) b);
}

static void
import_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  ImportData *data = task_data;
  g_autoptr(LkImportResult) result = g_new0 (LkImportResult, 1);
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(LkCatalog) catalog = NULL;
  GError *error = NULL;

  result->errors = g_ptr_array_new_with_free_func (g_free);
  /* One LkCatalog per thread: this one lives and dies with the import. */
  catalog = lk_catalog_open (data->data_dir, &error);
  if (catalog == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  for (guint i = 0; i < data->files->len; i++)
    collect_files (g_ptr_array_index (data->files, i), 0, paths, result->errors, cancellable);
  /* Dropped folders come back in directory order: make the grid's order predictable. */
  g_ptr_array_sort (paths, compare_paths);

  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      g_autoptr(GError) file_error = NULL;
      gboolean already = FALSE;
      GObject *row;

      if (g_task_return_error_if_cancelled (task))
        return;
      if (data->kind == LK_IMPORT_PHOTOS)
        row = (GObject *) lk_catalog_add_photo (catalog, data->person_id, path, &already,
                                                cancellable, &file_error);
      else
        row = (GObject *) lk_catalog_add_template (catalog, path, FALSE, &already,
                                                   cancellable, &file_error);
      if (row == NULL)
        {
          g_ptr_array_add (result->errors, g_strdup (file_error->message));
          continue;
        }
      g_object_unref (row);
      if (already)
        result->already_present++;
      else
        result->added++;
    }
  g_task_return_pointer (task, g_steal_pointer (&result), (GDestroyNotify) lk_import_result_free);
}

void
lk_import_async (const char          *data_dir,
                 LkImportKind         kind,
                 gint64               person_id,
                 GPtrArray           *files,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ImportData *data;

  g_return_if_fail (data_dir != NULL);
  g_return_if_fail (files != NULL);

  data = g_new0 (ImportData, 1);
  data->data_dir = g_strdup (data_dir);
  data->kind = kind;
  data->person_id = person_id;
  data->files = g_ptr_array_ref (files);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, lk_import_async);
  g_task_set_task_data (task, data, (GDestroyNotify) import_data_free);
  g_task_run_in_thread (task, import_thread);
}

LkImportResult *
lk_import_finish (GAsyncResult  *result,
                  GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

char *
lk_import_result_describe (const LkImportResult *result,
                           LkImportKind          kind)
{
  g_autoptr(GString) text = g_string_new (NULL);

  if (result->errors->len == 1 && result->added == 0)
    return g_strdup (g_ptr_array_index (result->errors, 0));
  if (result->errors->len > 0)
    {
      g_string_append_printf (text,
                              g_dngettext (GETTEXT_PACKAGE, "%u file was not added: %s",
                                           "%u files were not added; the first: %s",
                                           result->errors->len),
                              result->errors->len, (char *) g_ptr_array_index (result->errors, 0));
      return g_string_free (g_steal_pointer (&text), FALSE);
    }
  if (result->added == 0 && result->already_present > 0)
    return g_strdup (kind == LK_IMPORT_PHOTOS ? _("These photos are already here")
                                              : _("These templates are already here"));
  return NULL;
}
