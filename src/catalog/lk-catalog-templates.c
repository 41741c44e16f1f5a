/* lk-catalog-templates.c: template photos
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-catalog-private.h"
#include "lk-catalog-files.h"
#include "lk-catalog-image.h"

#include <json-glib/json-glib.h>
#include <string.h>

GPtrArray *
lk_catalog_load_templates (LkCatalog  *self,
                           gint64      unused,
                           GError    **error)
{
  g_autofree char *sql = g_strdup_printf ("%s ORDER BY builtin DESC, added_at, id",
                                          lk_template_select_sql);

  return lk_catalog_load_items (self, sql, 0, (gpointer) lk_template_new_from_stmt, error);
}

LkTemplate *
lk_catalog_get_template (LkCatalog  *self,
                         gint64      template_id,
                         GError    **error)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  return lk_catalog_load_one (self, lk_template_select_sql, "id = ?1", template_id,
                              (gpointer) lk_template_new_from_stmt, "template", error);
}

LkTemplate *
lk_catalog_add_template (LkCatalog     *self,
                         const char    *path,
                         gboolean       builtin,
                         gboolean      *already_present,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(sqlite3_stmt) find = NULL;
  g_autofree char *sha256 = NULL;
  g_autofree char *name = NULL;
  g_autofree char *relative = NULL;
  LkCatalogImageInfo info;
  gint64 pending_id = 0, id;
  char *dot;
  int rc;

  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);

  if (already_present != NULL)
    *already_present = FALSE;
  bytes = lk_catalog_image_read (path, self->max_file_size, error);
  if (bytes == NULL)
    return NULL;
  sha256 = lk_catalog_files_hash_bytes (bytes);
  name = g_filename_display_basename (path);

  find = lk_catalog_prepare (self, "SELECT id FROM templates WHERE sha256 = ?1 AND removing = 0",
                             error);
  if (find == NULL)
    return NULL;
  sqlite3_bind_text (find, 1, sha256, -1, SQLITE_STATIC);
  rc = sqlite3_step (find);
  if (rc == SQLITE_ROW)
    {
      if (already_present != NULL)
        *already_present = TRUE;
      return lk_catalog_get_template (self, sqlite3_column_int64 (find, 0), error);
    }
  if (rc != SQLITE_DONE)
    {
      lk_catalog_set_db_error (self, error, "The catalog could not be read");
      return NULL;
    }

  if (!lk_catalog_image_inspect (bytes, name, self->max_pixels, &info, error))
    return NULL;
  in = g_memory_input_stream_new_from_bytes (bytes);
  relative = lk_catalog_store_file (self, "templates", sha256, info.extension, in, &pending_id,
                                    cancellable, error);
  if (relative == NULL)
    return NULL;

  /* The template's name is its file name without the extension. */
  dot = strrchr (name, '.');
  if (dot != NULL && dot != name)
    *dot = '\0';

  if (!lk_catalog_begin (self, error) ||
      !lk_catalog_place_file (self, pending_id, relative, error))
    goto fail;
  stmt = lk_catalog_prepare (self,
                             "INSERT INTO templates (name, builtin, sha256, file, size, width,"
                             "  height, added_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 2, builtin ? 1 : 0);
  sqlite3_bind_text (stmt, 3, sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, relative, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, g_bytes_get_size (bytes));
  sqlite3_bind_int (stmt, 6, info.width);
  sqlite3_bind_int (stmt, 7, info.height);
  sqlite3_bind_int64 (stmt, 8, lk_catalog_now ());
  if (!lk_catalog_step_done (self, stmt, error))
    goto fail;
  id = sqlite3_last_insert_rowid (self->db);
  if (!lk_catalog_commit (self, error))
    goto fail;
  lk_catalog_emit_changed (self);
  return lk_catalog_get_template (self, id, error);

fail:
  lk_catalog_abandon_file (self, pending_id, relative);
  return NULL;
}

gboolean
lk_catalog_check_json (const char  *json,
                       const char  *what,
                       GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;

  if (json == NULL || json_parser_load_from_data (parser, json, -1, &local_error))
    return TRUE;
  g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_FAILED,
               "The %s are not valid JSON: %s", what, local_error->message);
  return FALSE;
}

gboolean
lk_catalog_set_template_faces (LkCatalog   *self,
                               gint64       template_id,
                               guint        face_count,
                               const char  *face_boxes_json,
                               GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (LK_IS_CATALOG (self), FALSE);

  if (!lk_catalog_check_json (face_boxes_json, "face boxes", error))
    return FALSE;
  stmt = lk_catalog_prepare (self,
                             "UPDATE templates SET face_count = ?1, face_boxes = ?2"
                             " WHERE id = ?3 AND removing = 0", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int (stmt, 1, face_count);
  sqlite3_bind_text (stmt, 2, face_boxes_json, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, template_id);
  if (!lk_catalog_step_done (self, stmt, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND,
                   "There is no template %" G_GINT64_FORMAT, template_id);
      return FALSE;
    }
  lk_catalog_emit_changed (self);
  return TRUE;
}
