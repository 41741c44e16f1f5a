/* lk-catalog-schema.c: migrations, PRAGMA user_version by user_version
 *
 * Each step is one transaction that moves the file from version N − 1 to N; a crash mid-step
 * leaves the file at N − 1 and the next open does the step again. Steps are never edited once
 * released: a change is a new step.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-catalog-schema.h"
#include "lk-catalog.h"

/* Times are seconds since the epoch (UTC). Files are paths relative to the data directory.
 * "removing" marks a row whose removal has begun: its file is being deleted, the row goes last
 * (DESIGN.md §6). */
static const char schema_v1[] =
  "CREATE TABLE people ("
  "  id         INTEGER PRIMARY KEY,"
  "  name       TEXT NOT NULL UNIQUE COLLATE NOCASE,"
  "  created_at INTEGER NOT NULL,"
  "  removing   INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE TABLE photos ("
  "  id            INTEGER PRIMARY KEY,"
  "  person_id     INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,"
  "  sha256        TEXT NOT NULL UNIQUE,"
  "  file          TEXT NOT NULL,"
  "  size          INTEGER NOT NULL,"
  "  original_name TEXT NOT NULL,"
  "  width         INTEGER NOT NULL,"   /* after EXIF orientation */
  "  height        INTEGER NOT NULL,"
  "  orientation   INTEGER NOT NULL DEFAULT 1,"
  "  added_at      INTEGER NOT NULL,"
  "  removing      INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE INDEX photos_by_person ON photos (person_id);"
  "CREATE TABLE datasets ("
  "  id                 INTEGER PRIMARY KEY,"
  "  person_id          INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,"
  "  directory          TEXT NOT NULL,"
  "  image_count        INTEGER NOT NULL DEFAULT 0,"
  "  reference_photo_id INTEGER REFERENCES photos (id) ON DELETE SET NULL,"
  "  params             TEXT NOT NULL DEFAULT '{}',"
  "  created_at         INTEGER NOT NULL,"
  "  removing           INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE TABLE loras ("
  "  id                 INTEGER PRIMARY KEY,"
  "  person_id          INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,"
  "  dataset_id         INTEGER REFERENCES datasets (id) ON DELETE SET NULL,"
  "  base_model_sha256  TEXT NOT NULL,"
  "  params             TEXT NOT NULL DEFAULT '{}',"
  "  steps              INTEGER NOT NULL DEFAULT 0,"
  "  scores             TEXT NOT NULL DEFAULT '[]',"
  "  file               TEXT,"
  "  sha256             TEXT,"
  "  size               INTEGER,"
  "  face_id_file       TEXT,"
  "  face_id_sha256     TEXT,"
  "  status             TEXT NOT NULL DEFAULT 'training'"
  "                     CHECK (status IN ('training', 'ready', 'failed')),"
  "  created_at         INTEGER NOT NULL,"
  "  removing           INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE INDEX loras_by_person ON loras (person_id);"
  "CREATE TABLE templates ("
  "  id         INTEGER PRIMARY KEY,"
  "  name       TEXT NOT NULL,"
  "  builtin    INTEGER NOT NULL DEFAULT 0,"
  "  sha256     TEXT NOT NULL UNIQUE,"
  "  file       TEXT NOT NULL,"
  "  size       INTEGER NOT NULL,"
  "  width      INTEGER NOT NULL,"
  "  height     INTEGER NOT NULL,"
  "  face_count INTEGER,"              /* NULL until faces were detected */
  "  face_boxes TEXT,"                 /* JSON [[x, y, w, h], …], left to right */
  "  added_at   INTEGER NOT NULL,"
  "  removing   INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE TABLE generations ("
  "  id           INTEGER PRIMARY KEY,"
  "  template_id  INTEGER REFERENCES templates (id) ON DELETE SET NULL,"
  "  params       TEXT NOT NULL,"
  "  seed         INTEGER NOT NULL,"
  "  model_hashes TEXT NOT NULL DEFAULT '{}',"
  "  sha256       TEXT NOT NULL,"
  "  file         TEXT NOT NULL,"
  "  size         INTEGER NOT NULL,"
  "  created_at   INTEGER NOT NULL,"
  "  removing     INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE TABLE generation_people ("
  "  generation_id INTEGER NOT NULL REFERENCES generations (id) ON DELETE CASCADE,"
  "  position      INTEGER NOT NULL,"
  "  person_id     INTEGER REFERENCES people (id) ON DELETE SET NULL,"
  "  lora_id       INTEGER REFERENCES loras (id) ON DELETE SET NULL,"
  "  PRIMARY KEY (generation_id, position)"
  ");"
  "CREATE INDEX generation_people_by_person ON generation_people (person_id);"
  "CREATE TABLE models ("
  "  id         INTEGER PRIMARY KEY,"
  "  role       TEXT NOT NULL,"
  "  name       TEXT NOT NULL,"
  "  path       TEXT NOT NULL,"
  "  size       INTEGER,"
  "  sha256     TEXT,"
  "  source_url TEXT,"
  "  state      TEXT NOT NULL DEFAULT 'missing'"
  "             CHECK (state IN ('missing', 'downloading', 'ready', 'corrupt')),"
  "  UNIQUE (role, name)"
  ");"
  "CREATE TABLE jobs ("
  "  id          INTEGER PRIMARY KEY,"
  "  kind        TEXT NOT NULL,"
  "  state       TEXT NOT NULL DEFAULT 'queued'"
  "              CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),"
  "  params      TEXT NOT NULL DEFAULT '{}',"
  "  progress    REAL NOT NULL DEFAULT 0,"
  "  message     TEXT,"
  "  checkpoint  TEXT,"
  "  error       TEXT,"
  "  created_at  INTEGER NOT NULL,"
  "  started_at  INTEGER,"
  "  finished_at INTEGER"
  ");"
  /* A file being written: the row goes in (committed) before the file, and leaves in the
   * transaction that records the file's own row. One left behind by a dead owner names a file
   * to delete. */
  "CREATE TABLE pending_files ("
  "  id         INTEGER PRIMARY KEY,"
  "  owner      TEXT NOT NULL,"
  "  file       TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL"
  ");";

/* What face detection and scoring add. */
static const char schema_v2[] =
  "ALTER TABLE photos ADD COLUMN face_box TEXT;"     /* JSON [x, y, w, h] of the largest face */
  "ALTER TABLE photos ADD COLUMN embedding BLOB;"    /* face-ID embedding, float32 */
  "ALTER TABLE generations ADD COLUMN similarity REAL;";

static const char * const steps[] = {
  schema_v1,
  schema_v2,
};

G_STATIC_ASSERT (G_N_ELEMENTS (steps) == LK_CATALOG_SCHEMA_VERSION);

static gboolean
exec_sql (sqlite3     *db,
          const char  *sql,
          const char  *what,
          GError     **error)
{
  char *message = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &message) == SQLITE_OK)
    return TRUE;
  g_set_error (error, LK_CATALOG_ERROR,
               sqlite3_errcode (db) == SQLITE_FULL ? LK_CATALOG_ERROR_NO_SPACE
                                                   : LK_CATALOG_ERROR_DATABASE,
               "%s: %s", what, message ? message : sqlite3_errmsg (db));
  sqlite3_free (message);
  return FALSE;
}

int
lk_catalog_schema_get_version (sqlite3  *db,
                               GError  **error)
{
  sqlite3_stmt *stmt = NULL;
  int version = -1;

  if (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int (stmt, 0);
  else
    g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_DATABASE,
                 "Could not read the catalog's version: %s", sqlite3_errmsg (db));
  sqlite3_finalize (stmt);
  return version;
}

gboolean
lk_catalog_schema_migrate (sqlite3  *db,
                           int       target,
                           GError  **error)
{
  g_return_val_if_fail (db != NULL, FALSE);
  g_return_val_if_fail (target >= 0 && target <= LK_CATALOG_SCHEMA_VERSION, FALSE);

  while (TRUE)
    {
      g_autofree char *bump = NULL;
      int version;

      /* IMMEDIATE takes the write lock first, so two processes opening an old catalog at once
       * do each step once: the second reads the version the first left. */
      if (!exec_sql (db, "BEGIN IMMEDIATE", "Could not lock the catalog", error))
        return FALSE;
      version = lk_catalog_schema_get_version (db, error);
      if (version < 0)
        goto fail;
      if (version > LK_CATALOG_SCHEMA_VERSION)
        {
          g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_VERSION,
                       "The catalog is at version %d, newer than this Likeness knows (%d); "
                       "it was written by a newer release, which is needed to open it",
                       version, LK_CATALOG_SCHEMA_VERSION);
          goto fail;
        }
      if (version >= target)
        return exec_sql (db, "COMMIT", "Could not finish opening the catalog", error);

      bump = g_strdup_printf ("PRAGMA user_version = %d", version + 1);
      if (!exec_sql (db, steps[version], "Could not upgrade the catalog", error) ||
          !exec_sql (db, bump, "Could not upgrade the catalog", error) ||
          !exec_sql (db, "COMMIT", "Could not upgrade the catalog", error))
        goto fail;
      g_debug ("Catalog upgraded to version %d", version + 1);
    }

fail:
  sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
  return FALSE;
}
