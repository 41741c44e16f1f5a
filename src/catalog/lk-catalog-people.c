/* lk-catalog-people.c: people and their photos
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-catalog-private.h"
#include "lk-catalog-files.h"
#include "lk-catalog-image.h"

#include <string.h>

static gboolean
check_name (const char  *name,
            GError     **error)
{
  g_autofree char *stripped = g_strstrip (g_strdup (name));

  if (!g_utf8_validate (name, -1, NULL) || *stripped == '\0' || strcmp (stripped, name) != 0 ||
      g_utf8_strlen (name, -1) > 200)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_FAILED,
                   "A name must be 1–200 characters of text without spaces around it");
      return FALSE;
    }
  for (const char *p = name; *p; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      {
        g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_FAILED,
                     "A name cannot contain control characters");
        return FALSE;
      }
  return TRUE;
}

GPtrArray *
lk_catalog_load_people (LkCatalog  *self,
                        gint64      unused,
                        GError    **error)
{
  g_autofree char *sql = g_strdup_printf ("%s ORDER BY p.name COLLATE NOCASE, p.id",
                                          lk_person_select_sql);

  return lk_catalog_load_items (self, sql, 0, (gpointer) lk_person_new_from_stmt, error);
}

GPtrArray *
lk_catalog_load_photos (LkCatalog  *self,
                        gint64      person_id,
                        GError    **error)
{
  g_autofree char *sql = g_strdup_printf ("%s AND person_id = ?1 ORDER BY added_at, id",
                                          lk_photo_select_sql);

  return lk_catalog_load_items (self, sql, person_id, (gpointer) lk_photo_new_from_stmt, error);
}

gpointer
lk_catalog_load_one (LkCatalog   *self,
                     const char  *select_sql,
                     const char  *condition,
                     gint64       id,
                     gpointer   (*new_from_stmt) (sqlite3_stmt *, const char *),
                     const char  *what,
                     GError     **error)
{
  g_autofree char *sql = g_strdup_printf ("%s AND %s", select_sql, condition);
  g_autoptr(GPtrArray) items = lk_catalog_load_items (self, sql, id, new_from_stmt, error);

  if (items == NULL)
    return NULL;
  if (items->len == 0)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND,
                   "There is no %s %" G_GINT64_FORMAT, what, id);
      return NULL;
    }
  return g_object_ref (g_ptr_array_index (items, 0));
}

LkPerson *
lk_catalog_get_person (LkCatalog  *self,
                       gint64      person_id,
                       GError    **error)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  return lk_catalog_load_one (self, lk_person_select_sql, "p.id = ?1", person_id,
                              (gpointer) lk_person_new_from_stmt, "person", error);
}

LkPhoto *
lk_catalog_get_photo (LkCatalog  *self,
                      gint64      photo_id,
                      GError    **error)
{
  return lk_catalog_load_one (self, lk_photo_select_sql, "id = ?1", photo_id,
                              (gpointer) lk_photo_new_from_stmt, "photo", error);
}

LkPerson *
lk_catalog_find_person (LkCatalog   *self,
                        const char  *name_or_id,
                        GError     **error)
{
  g_autofree char *sql = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  const char *end = NULL;
  gint64 id;
  int rc;

  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);
  g_return_val_if_fail (name_or_id != NULL, NULL);

  sql = g_strdup_printf ("%s AND p.name = ?1", lk_person_select_sql);
  stmt = lk_catalog_prepare (self, sql, error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, name_or_id, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return lk_person_new_from_stmt (stmt, self->data_dir);
  if (rc != SQLITE_DONE)
    {
      lk_catalog_set_db_error (self, error, "The catalog could not be read");
      return NULL;
    }

  id = g_ascii_strtoll (name_or_id, (char **) &end, 10);
  if (*name_or_id != '\0' && end != NULL && *end == '\0' && id > 0)
    {
      LkPerson *person = lk_catalog_get_person (self, id, NULL);

      if (person != NULL)
        return person;
    }
  g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND,
               "There is no person called “%s”", name_or_id);
  return NULL;
}

LkPerson *
lk_catalog_add_person (LkCatalog   *self,
                       const char  *name,
                       GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 id;

  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (!check_name (name, error) || !lk_catalog_begin (self, error))
    return NULL;
  stmt = lk_catalog_prepare (self, "INSERT INTO people (name, created_at) VALUES (?1, ?2)", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, lk_catalog_now ());
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      if (sqlite3_errcode (self->db) == SQLITE_CONSTRAINT)
        g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_EXISTS,
                     "There is already a person called “%s”", name);
      else
        lk_catalog_set_db_error (self, error, "Could not add the person");
      goto fail;
    }
  id = sqlite3_last_insert_rowid (self->db);
  if (!lk_catalog_commit (self, error))
    return NULL;
  lk_catalog_emit_changed (self);
  return lk_catalog_get_person (self, id, error);

fail:
  lk_catalog_rollback (self);
  return NULL;
}

gboolean
lk_catalog_rename_person (LkCatalog   *self,
                          gint64       person_id,
                          const char  *name,
                          GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (LK_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (!check_name (name, error))
    return FALSE;
  stmt = lk_catalog_prepare (self, "UPDATE people SET name = ?1 WHERE id = ?2 AND removing = 0",
                             error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, person_id);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      if (sqlite3_errcode (self->db) == SQLITE_CONSTRAINT)
        return g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_EXISTS,
                            "There is already a person called “%s”", name), FALSE;
      return lk_catalog_set_db_error (self, error, "Could not rename the person");
    }
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND,
                   "There is no person %" G_GINT64_FORMAT, person_id);
      return FALSE;
    }
  lk_catalog_emit_changed (self);
  return TRUE;
}

/* Removal, in the order DESIGN.md §6 wants: mark (commit), delete files, delete rows. */
static gboolean
remove_row (LkCatalog   *self,
            const char  *mark_sql,
            gint64       id,
            const char  *what,
            GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  guint n_finished;

  if (!lk_catalog_begin (self, error))
    return FALSE;
  stmt = lk_catalog_prepare (self, mark_sql, error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_int64 (stmt, 1, id);
  if (!lk_catalog_step_done (self, stmt, error))
    goto fail;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND,
                   "There is no %s %" G_GINT64_FORMAT, what, id);
      goto fail;
    }
  if (!lk_catalog_commit (self, error))
    return FALSE;
  lk_catalog_emit_changed (self);
  return lk_catalog_finish_removals (self, &n_finished, error);

fail:
  lk_catalog_rollback (self);
  return FALSE;
}

gboolean
lk_catalog_remove_person (LkCatalog  *self,
                          gint64      person_id,
                          GError    **error)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), FALSE);

  return remove_row (self, "UPDATE people SET removing = 1 WHERE id = ?1 AND removing = 0",
                     person_id, "person", error);
}

gboolean
lk_catalog_remove_photo (LkCatalog  *self,
                         gint64      photo_id,
                         GError    **error)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), FALSE);

  return remove_row (self, "UPDATE photos SET removing = 1 WHERE id = ?1 AND removing = 0",
                     photo_id, "photo", error);
}

gboolean
lk_catalog_remove_template (LkCatalog  *self,
                            gint64      template_id,
                            GError    **error)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), FALSE);

  return remove_row (self, "UPDATE templates SET removing = 1 WHERE id = ?1 AND removing = 0",
                     template_id, "template", error);
}

gboolean
lk_catalog_remove_generation (LkCatalog  *self,
                              gint64      generation_id,
                              GError    **error)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), FALSE);

  return remove_row (self, "UPDATE generations SET removing = 1 WHERE id = ?1 AND removing = 0",
                     generation_id, "generation", error);
}

/* The row already holding this content, if any: its id, and the person or template it
 * belongs to. */
static gboolean
find_by_hash (LkCatalog   *self,
              const char  *table,
              const char  *owner_column,
              const char  *sha256,
              gint64      *id,
              gint64      *owner_id,
              GError     **error)
{
  g_autofree char *sql = g_strdup_printf ("SELECT id, %s FROM %s WHERE sha256 = ?1 AND removing = 0",
                                          owner_column, table);
  g_autoptr(sqlite3_stmt) stmt = lk_catalog_prepare (self, sql, error);
  int rc;

  *id = 0;
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, sha256, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      *id = sqlite3_column_int64 (stmt, 0);
      *owner_id = sqlite3_column_int64 (stmt, 1);
    }
  else if (rc != SQLITE_DONE)
    return lk_catalog_set_db_error (self, error, "The catalog could not be read");
  return TRUE;
}

LkPhoto *
lk_catalog_add_photo (LkCatalog     *self,
                      gint64         person_id,
                      const char    *path,
                      gboolean      *already_present,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(LkPerson) person = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *sha256 = NULL;
  g_autofree char *name = NULL;
  g_autofree char *relative = NULL;
  LkCatalogImageInfo info;
  gint64 existing, owner = 0, pending_id = 0, id;

  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);

  if (already_present != NULL)
    *already_present = FALSE;
  person = lk_catalog_get_person (self, person_id, error);
  if (person == NULL)
    return NULL;

  bytes = lk_catalog_image_read (path, self->max_file_size, error);
  if (bytes == NULL)
    return NULL;
  sha256 = lk_catalog_files_hash_bytes (bytes);
  name = g_filename_display_basename (path);

  if (!find_by_hash (self, "photos", "person_id", sha256, &existing, &owner, error))
    return NULL;
  if (existing != 0)
    {
      g_autoptr(LkPerson) other = NULL;

      if (owner == person_id)
        {
          if (already_present != NULL)
            *already_present = TRUE;
          return lk_catalog_get_photo (self, existing, error);
        }
      other = lk_catalog_get_person (self, owner, NULL);
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_EXISTS,
                   "“%s” is already a photo of %s", name,
                   other ? lk_person_get_name (other) : "someone else");
      return NULL;
    }

  if (!lk_catalog_image_inspect (bytes, name, self->max_pixels, &info, error))
    return NULL;

  in = g_memory_input_stream_new_from_bytes (bytes);
  relative = lk_catalog_store_file (self, "photos", sha256, info.extension, in, &pending_id,
                                    cancellable, error);
  if (relative == NULL)
    return NULL;

  if (!lk_catalog_begin (self, error))
    goto fail;
  if (!lk_catalog_place_file (self, pending_id, relative, error))
    goto fail;
  stmt = lk_catalog_prepare (self,
                             "INSERT INTO photos (person_id, sha256, file, size, original_name,"
                             "  width, height, orientation, added_at)"
                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_int64 (stmt, 1, person_id);
  sqlite3_bind_text (stmt, 2, sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, relative, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, g_bytes_get_size (bytes));
  sqlite3_bind_text (stmt, 5, name, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 6, info.width);
  sqlite3_bind_int (stmt, 7, info.height);
  sqlite3_bind_int (stmt, 8, info.orientation);
  sqlite3_bind_int64 (stmt, 9, lk_catalog_now ());
  if (sqlite3_step (stmt) != SQLITE_DONE)
    {
      if (sqlite3_errcode (self->db) == SQLITE_CONSTRAINT)
        g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_EXISTS,
                     "“%s” was added to the catalog at the same time by another program", name);
      else
        lk_catalog_set_db_error (self, error, "Could not add the photo");
      goto fail;
    }
  id = sqlite3_last_insert_rowid (self->db);
  if (!lk_catalog_commit (self, error))
    goto fail;
  lk_catalog_emit_changed (self);
  return lk_catalog_get_photo (self, id, error);

fail:
  lk_catalog_abandon_file (self, pending_id, relative);
  return NULL;
}
