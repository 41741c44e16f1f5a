/* lk-catalog-models.c: trained LoRAs and the model files Likeness runs
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-catalog-private.h"
#include "lk-catalog-files.h"
#include "lk-catalog-image.h"

gint64
lk_catalog_add_lora (LkCatalog     *self,
                     gint64         person_id,
                     const char    *base_model_sha256,
                     const char    *params_json,
                     guint          steps,
                     const char    *scores_json,
                     const char    *lora_path,
                     const char    *face_id_path,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_autoptr(LkPerson) person = NULL;
  g_autoptr(GFile) lora_file = NULL;
  g_autoptr(GFileInputStream) lora_in = NULL;
  g_autoptr(GBytes) face_id = NULL;
  g_autoptr(GInputStream) face_id_in = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *lora_sha256 = NULL;
  g_autofree char *face_id_sha256 = NULL;
  g_autofree char *lora_relative = NULL;
  g_autofree char *face_id_relative = NULL;
  LkCatalogImageInfo info;
  gint64 lora_pending = 0, face_id_pending = 0, id = 0;
  goffset size;

  g_return_val_if_fail (LK_IS_CATALOG (self), 0);
  g_return_val_if_fail (base_model_sha256 != NULL && lora_path != NULL, 0);

  person = lk_catalog_get_person (self, person_id, error);
  if (person == NULL ||
      !lk_catalog_check_json (params_json, "training parameters", error) ||
      !lk_catalog_check_json (scores_json, "validation scores", error))
    return 0;

  /* Hashed first so the file gets its final name; the copy is checked against that hash. */
  lora_sha256 = lk_catalog_files_hash (lora_path, &size, cancellable, error);
  if (lora_sha256 == NULL)
    return 0;
  if (face_id_path != NULL)
    {
      face_id = lk_catalog_image_read (face_id_path, self->max_file_size, error);
      if (face_id == NULL ||
          !lk_catalog_image_inspect (face_id, face_id_path, self->max_pixels, &info, error))
        return 0;
      face_id_sha256 = lk_catalog_files_hash_bytes (face_id);
      face_id_in = g_memory_input_stream_new_from_bytes (face_id);
      face_id_relative = lk_catalog_store_file (self, "loras", face_id_sha256, info.extension,
                                                face_id_in, &face_id_pending, cancellable, error);
      if (face_id_relative == NULL)
        return 0;
    }
  lora_file = g_file_new_for_path (lora_path);
  lora_in = g_file_read (lora_file, cancellable, error);
  if (lora_in == NULL)
    goto fail;
  lora_relative = lk_catalog_store_file (self, "loras", lora_sha256, "safetensors",
                                         G_INPUT_STREAM (lora_in), &lora_pending,
                                         cancellable, error);
  if (lora_relative == NULL)
    goto fail;

  if (!lk_catalog_begin (self, error) ||
      !lk_catalog_place_file (self, lora_pending, lora_relative, error) ||
      (face_id_relative != NULL &&
       !lk_catalog_place_file (self, face_id_pending, face_id_relative, error)))
    goto fail;
  stmt = lk_catalog_prepare (self,
                             "INSERT INTO loras (person_id, base_model_sha256, params, steps,"
                             "  scores, file, sha256, size, face_id_file, face_id_sha256, status,"
                             "  created_at)"
                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'ready', ?11)",
                             error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_int64 (stmt, 1, person_id);
  sqlite3_bind_text (stmt, 2, base_model_sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, params_json ? params_json : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 4, steps);
  sqlite3_bind_text (stmt, 5, scores_json ? scores_json : "[]", -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 6, lora_relative, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 7, lora_sha256, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 8, size);
  sqlite3_bind_text (stmt, 9, face_id_relative, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 10, face_id_sha256, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 11, lk_catalog_now ());
  if (!lk_catalog_step_done (self, stmt, error))
    goto fail;
  id = sqlite3_last_insert_rowid (self->db);
  if (!lk_catalog_commit (self, error))
    goto fail;
  lk_catalog_emit_changed (self);
  return id;

fail:
  if (lora_relative != NULL)
    lk_catalog_abandon_file (self, lora_pending, lora_relative);
  if (face_id_relative != NULL)
    lk_catalog_abandon_file (self, face_id_pending, face_id_relative);
  return 0;
}

gboolean
lk_catalog_set_model (LkCatalog   *self,
                      const char  *role,
                      const char  *name,
                      const char  *path,
                      gint64       size,
                      const char  *sha256,
                      const char  *source_url,
                      const char  *state,
                      GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (LK_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (role != NULL && name != NULL && path != NULL && state != NULL, FALSE);

  stmt = lk_catalog_prepare (self,
                             "INSERT INTO models (role, name, path, size, sha256, source_url, state)"
                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                             " ON CONFLICT (role, name) DO UPDATE SET path = excluded.path,"
                             "  size = excluded.size, sha256 = excluded.sha256,"
                             "  source_url = excluded.source_url, state = excluded.state", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, role, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, path, -1, SQLITE_STATIC);
  if (size >= 0)
    sqlite3_bind_int64 (stmt, 4, size);
  sqlite3_bind_text (stmt, 5, sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 6, source_url, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 7, state, -1, SQLITE_STATIC);
  if (!lk_catalog_step_done (self, stmt, error))
    return FALSE;
  lk_catalog_emit_changed (self);
  return TRUE;
}

/* Whether select_sql (one ?1 text or integer parameter) returns a row. */
static gboolean
row_exists (LkCatalog   *self,
            const char  *select_sql,
            const char  *text,
            gint64       id,
            gboolean    *exists,
            GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = lk_catalog_prepare (self, select_sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  if (text != NULL)
    sqlite3_bind_text (stmt, 1, text, -1, SQLITE_STATIC);
  else
    sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return lk_catalog_set_db_error (self, error, "Could not read the catalog");
  *exists = rc == SQLITE_ROW;
  return TRUE;
}

gboolean
lk_catalog_has_ready_model (LkCatalog   *self,
                            const char  *role,
                            gboolean    *has_model,
                            GError     **error)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (role != NULL && has_model != NULL, FALSE);

  return row_exists (self, "SELECT 1 FROM models WHERE role = ?1 AND state = 'ready' LIMIT 1",
                     role, 0, has_model, error);
}

gboolean
lk_catalog_has_ready_lora (LkCatalog  *self,
                           gint64      person_id,
                           gboolean   *has_lora,
                           GError    **error)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), FALSE);
  g_return_val_if_fail (has_lora != NULL, FALSE);

  return row_exists (self,
                     "SELECT 1 FROM loras WHERE person_id = ?1 AND status = 'ready'"
                     " AND removing = 0 LIMIT 1",
                     NULL, person_id, has_lora, error);
}

void
lk_catalog_model_free (LkCatalogModel *model)
{
  if (model == NULL)
    return;
  g_free (model->role);
  g_free (model->name);
  g_free (model->path);
  g_free (model->sha256);
  g_free (model->source_url);
  g_free (model->state);
  g_free (model);
}

static LkCatalogModel *
model_from_row (sqlite3_stmt *stmt)
{
  LkCatalogModel *model = g_new0 (LkCatalogModel, 1);

  model->role = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  model->name = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  model->path = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  model->size = sqlite3_column_type (stmt, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64 (stmt, 3);
  model->sha256 = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
  model->source_url = g_strdup ((const char *) sqlite3_column_text (stmt, 5));
  model->state = g_strdup ((const char *) sqlite3_column_text (stmt, 6));
  return model;
}

#define MODEL_COLUMNS "SELECT role, name, path, size, sha256, source_url, state FROM models"

GPtrArray *
lk_catalog_list_models (LkCatalog  *self,
                        GError    **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GPtrArray) models = NULL;
  int rc;

  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  stmt = lk_catalog_prepare (self, MODEL_COLUMNS " ORDER BY role, name", error);
  if (stmt == NULL)
    return NULL;
  models = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_catalog_model_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (models, model_from_row (stmt));
  if (rc != SQLITE_DONE)
    {
      lk_catalog_set_db_error (self, error, "Could not read the models");
      return NULL;
    }
  return g_steal_pointer (&models);
}

LkCatalogModel *
lk_catalog_get_model (LkCatalog   *self,
                      const char  *role,
                      const char  *name,
                      GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);
  g_return_val_if_fail (role != NULL && name != NULL, NULL);

  stmt = lk_catalog_prepare (self, MODEL_COLUMNS " WHERE role = ?1 AND name = ?2", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, role, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return model_from_row (stmt);
  if (rc != SQLITE_DONE)
    lk_catalog_set_db_error (self, error, "Could not read the models");
  else
    g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND,
                 "No model “%s” (%s) in the catalog", name, role);
  return NULL;
}
