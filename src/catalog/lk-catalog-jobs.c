/* lk-catalog-jobs.c: jobs as rows, so a killed training can resume
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-catalog-private.h"

GPtrArray *
lk_catalog_load_jobs (LkCatalog  *self,
                      gint64      unused,
                      GError    **error)
{
  g_autofree char *sql = g_strdup_printf ("%s ORDER BY created_at DESC, id DESC", lk_job_select_sql);

  return lk_catalog_load_items (self, sql, 0, (gpointer) lk_job_new_from_stmt, error);
}

LkJob *
lk_catalog_get_job (LkCatalog  *self,
                    gint64      job_id,
                    GError    **error)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  return lk_catalog_load_one (self, lk_job_select_sql, "id = ?1", job_id,
                              (gpointer) lk_job_new_from_stmt, "job", error);
}

LkJob *
lk_catalog_add_job (LkCatalog   *self,
                    const char  *kind,
                    const char  *params_json,
                    GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);
  g_return_val_if_fail (kind != NULL, NULL);

  if (!lk_catalog_check_json (params_json, "job parameters", error))
    return NULL;
  stmt = lk_catalog_prepare (self, "INSERT INTO jobs (kind, params, created_at) VALUES (?1, ?2, ?3)",
                             error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, params_json ? params_json : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, lk_catalog_now ());
  if (!lk_catalog_step_done (self, stmt, error))
    return NULL;
  lk_catalog_emit_changed (self);
  return lk_catalog_get_job (self, sqlite3_last_insert_rowid (self->db), error);
}

gboolean
lk_catalog_update_job (LkCatalog   *self,
                       gint64       job_id,
                       LkJobState   state,
                       double       progress,
                       const char  *message,
                       const char  *checkpoint,
                       const char  *error_message,
                       GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gboolean ended = state == LK_JOB_STATE_DONE || state == LK_JOB_STATE_FAILED ||
                   state == LK_JOB_STATE_CANCELLED;

  g_return_val_if_fail (LK_IS_CATALOG (self), FALSE);

  stmt = lk_catalog_prepare (self,
                             "UPDATE jobs SET state = ?1, progress = ?2,"
                             "  message = coalesce (?3, message),"
                             "  checkpoint = coalesce (?4, checkpoint),"
                             "  error = coalesce (?5, error),"
                             "  started_at = CASE WHEN ?1 = 'queued' THEN NULL"
                             "                    ELSE coalesce (started_at, ?6) END,"
                             "  finished_at = CASE WHEN ?7 THEN coalesce (finished_at, ?6) END"
                             " WHERE id = ?8", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, lk_job_state_to_string (state), -1, SQLITE_STATIC);
  sqlite3_bind_double (stmt, 2, CLAMP (progress, 0.0, 1.0));
  sqlite3_bind_text (stmt, 3, message, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, checkpoint, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, error_message, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 6, lk_catalog_now ());
  sqlite3_bind_int (stmt, 7, ended);
  sqlite3_bind_int64 (stmt, 8, job_id);
  if (!lk_catalog_step_done (self, stmt, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND,
                   "There is no job %" G_GINT64_FORMAT, job_id);
      return FALSE;
    }
  lk_catalog_emit_changed (self);
  return TRUE;
}
