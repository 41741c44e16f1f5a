/* lk-catalog-generations.c: generated portraits, with what is needed to make them again
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-catalog-private.h"
#include "lk-catalog-files.h"
#include "lk-catalog-image.h"

GPtrArray *
lk_catalog_load_generations (LkCatalog  *self,
                             gint64      unused,
                             GError    **error)
{
  g_autofree char *sql = g_strdup_printf ("%s ORDER BY g.created_at DESC, g.id DESC",
                                          lk_generation_select_sql);

  return lk_catalog_load_items (self, sql, 0, (gpointer) lk_generation_new_from_stmt, error);
}

LkGeneration *
lk_catalog_get_generation (LkCatalog  *self,
                           gint64      generation_id,
                           GError    **error)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  return lk_catalog_load_one (self, lk_generation_select_sql, "g.id = ?1", generation_id,
                              (gpointer) lk_generation_new_from_stmt, "generation", error);
}

LkGeneration *
lk_catalog_add_generation (LkCatalog     *self,
                           gint64         template_id,
                           const gint64  *person_ids,
                           guint          n_people,
                           const char    *params_json,
                           gint64         seed,
                           const char    *model_hashes_json,
                           GBytes        *png,
                           double         similarity,
                           GError       **error)
{
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *sha256 = NULL;
  g_autofree char *relative = NULL;
  LkCatalogImageInfo info;
  gint64 pending_id = 0, id;

  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);
  g_return_val_if_fail (params_json != NULL, NULL);
  g_return_val_if_fail (png != NULL, NULL);
  g_return_val_if_fail (n_people == 0 || person_ids != NULL, NULL);

  if (!lk_catalog_check_json (params_json, "generation parameters", error) ||
      !lk_catalog_check_json (model_hashes_json, "model hashes", error) ||
      !lk_catalog_image_inspect (png, "the generated image", self->max_pixels, &info, error))
    return NULL;

  sha256 = lk_catalog_files_hash_bytes (png);
  in = g_memory_input_stream_new_from_bytes (png);
  relative = lk_catalog_store_file (self, "outputs", sha256, info.extension, in, &pending_id,
                                    NULL, error);
  if (relative == NULL)
    return NULL;

  if (!lk_catalog_begin (self, error) ||
      !lk_catalog_place_file (self, pending_id, relative, error))
    goto fail;
  stmt = lk_catalog_prepare (self,
                             "INSERT INTO generations (template_id, params, seed, model_hashes,"
                             "  sha256, file, size, created_at, similarity)"
                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", error);
  if (stmt == NULL)
    goto fail;
  if (template_id > 0)
    sqlite3_bind_int64 (stmt, 1, template_id);
  sqlite3_bind_text (stmt, 2, params_json, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, seed);
  sqlite3_bind_text (stmt, 4, model_hashes_json ? model_hashes_json : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 6, relative, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 7, g_bytes_get_size (png));
  sqlite3_bind_int64 (stmt, 8, lk_catalog_now ());
  if (similarity >= 0)
    sqlite3_bind_double (stmt, 9, similarity);
  if (!lk_catalog_step_done (self, stmt, error))
    goto fail;
  id = sqlite3_last_insert_rowid (self->db);
  g_clear_pointer (&stmt, sqlite3_finalize);

  stmt = lk_catalog_prepare (self,
                             "INSERT INTO generation_people (generation_id, position, person_id)"
                             " VALUES (?1, ?2, ?3)", error);
  if (stmt == NULL)
    goto fail;
  for (guint i = 0; i < n_people; i++)
    {
      sqlite3_reset (stmt);
      sqlite3_bind_int64 (stmt, 1, id);
      sqlite3_bind_int (stmt, 2, i);
      sqlite3_bind_int64 (stmt, 3, person_ids[i]);
      if (!lk_catalog_step_done (self, stmt, error))
        goto fail;
    }
  if (!lk_catalog_commit (self, error))
    goto fail;
  lk_catalog_emit_changed (self);
  return lk_catalog_get_generation (self, id, error);

fail:
  lk_catalog_abandon_file (self, pending_id, relative);
  return NULL;
}
