/* lk-catalog-private.h: what the catalog's own files share
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <sqlite3.h>

#include "lk-catalog.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

struct _LkCatalog
{
  GObject       parent_instance;

  /* owned */
  char         *data_dir;
  char         *db_path;
  sqlite3      *db;
  char         *owner;          /* this instance's name in pending_files.owner */
  char         *owner_lock;     /* run/OWNER.lock, flocked while the catalog is open */
  int           owner_fd;
  GMainContext *context;        /* where "changed" is polled for other processes' commits */
  GSource      *poll_source;
  guint64       max_file_size;
  guint64       max_pixels;
  gint64        data_version;
  guint         n_lists;
  guint         recovered_at_open;
};

/* Each row kind with a file: its table, the file columns, the folder it lives in. */
typedef struct
{
  const char *table;
  const char *file_column;
  const char *sha256_column;
  const char *folder;
  gboolean    optional;         /* a missing file clears the columns instead of the row */
} LkCatalogFileKind;

extern const LkCatalogFileKind lk_catalog_file_kinds[];
extern const guint lk_catalog_n_file_kinds;

gboolean       lk_catalog_set_db_error     (LkCatalog     *self,
                                            GError       **error,
                                            const char    *what);
gboolean       lk_catalog_exec             (LkCatalog     *self,
                                            const char    *sql,
                                            GError       **error);
sqlite3_stmt  *lk_catalog_prepare          (LkCatalog     *self,
                                            const char    *sql,
                                            GError       **error);
/* Steps a statement that returns no row. */
gboolean       lk_catalog_step_done        (LkCatalog     *self,
                                            sqlite3_stmt  *stmt,
                                            GError       **error);
/* BEGIN IMMEDIATE: writers take the lock up front, so the busy timeout applies and no
 * transaction fails on upgrading a read lock (what "database is locked" mostly is in WAL). */
gboolean       lk_catalog_begin            (LkCatalog     *self,
                                            GError       **error);
gboolean       lk_catalog_commit           (LkCatalog     *self,
                                            GError       **error);
void           lk_catalog_rollback         (LkCatalog     *self);
/* Tells the lists that the catalog changed; called after each commit. */
void           lk_catalog_emit_changed     (LkCatalog     *self);
char          *lk_catalog_build_path       (LkCatalog     *self,
                                            const char    *relative);
gint64         lk_catalog_now              (void);

/* Storing a file, in three steps so that its rename happens under the write lock:
 * lk_catalog_store_file() records a pending_files row and copies in to a temporary file beside
 * FOLDER/ab/SHA256.EXT (returned, relative); then, inside one transaction, the caller calls
 * lk_catalog_place_file() and inserts its row; if anything fails, lk_catalog_abandon_file(). */
char          *lk_catalog_store_file       (LkCatalog     *self,
                                            const char    *folder,
                                            const char    *sha256,
                                            const char    *extension,
                                            GInputStream  *in,
                                            gint64        *pending_id,
                                            GCancellable  *cancellable,
                                            GError       **error);
gboolean       lk_catalog_place_file       (LkCatalog     *self,
                                            gint64         pending_id,
                                            const char    *relative,
                                            GError       **error);
void           lk_catalog_abandon_file     (LkCatalog     *self,
                                            gint64         pending_id,
                                            const char    *relative);
/* FOLDER/ab/.lk-pending-ID, relative. */
char          *lk_catalog_pending_path     (const char    *relative,
                                            gint64         pending_id);
/* Deletes the files of every row marked removing, then the rows. */
gboolean       lk_catalog_finish_removals  (LkCatalog     *self,
                                            guint         *n_finished,
                                            GError       **error);
/* Cleans up after owners that died mid-write. */
gboolean       lk_catalog_recover          (LkCatalog     *self,
                                            guint         *n_recovered,
                                            GError       **error);
/* Whether the process that wrote pending_files.owner is still running. */
gboolean       lk_catalog_owner_alive      (LkCatalog     *self,
                                            const char    *owner);
gboolean       lk_catalog_file_is_referenced (LkCatalog   *self,
                                              const char  *relative,
                                              gboolean    *referenced,
                                              GError     **error);

/* NULL is valid JSON here: it means "not given". */
gboolean       lk_catalog_check_json       (const char    *json,
                                            const char    *what,
                                            GError       **error);

void           lk_catalog_list_started     (LkCatalog     *self);
void           lk_catalog_list_stopped     (LkCatalog     *self);

typedef GPtrArray *(*LkCatalogLoadFunc) (LkCatalog  *catalog,
                                         gint64      filter,
                                         GError    **error);

GPtrArray     *lk_catalog_load_people      (LkCatalog     *self,
                                            gint64         unused,
                                            GError       **error);
GPtrArray     *lk_catalog_load_photos      (LkCatalog     *self,
                                            gint64         person_id,
                                            GError       **error);
GPtrArray     *lk_catalog_load_templates   (LkCatalog     *self,
                                            gint64         unused,
                                            GError       **error);
GPtrArray     *lk_catalog_load_generations (LkCatalog     *self,
                                            gint64         unused,
                                            GError       **error);
GPtrArray     *lk_catalog_load_jobs        (LkCatalog     *self,
                                            gint64         unused,
                                            GError       **error);
/* Runs sql (bound to filter as ?1 when it has a parameter) and makes one item per row. */
GPtrArray     *lk_catalog_load_items       (LkCatalog     *self,
                                            const char    *sql,
                                            gint64         filter,
                                            gpointer     (*new_from_stmt) (sqlite3_stmt *,
                                                                           const char *),
                                            GError       **error);

/* The one item that select_sql AND condition (?1 = id) gives, or LK_CATALOG_ERROR_NOT_FOUND
 * naming what. */
gpointer       lk_catalog_load_one         (LkCatalog     *self,
                                            const char    *select_sql,
                                            const char    *condition,
                                            gint64         id,
                                            gpointer     (*new_from_stmt) (sqlite3_stmt *,
                                                                           const char *),
                                            const char    *what,
                                            GError       **error);

extern const char lk_person_select_sql[];
LkPerson *lk_person_new_from_stmt (sqlite3_stmt *stmt,
                                   const char   *data_dir);
gboolean lk_person_equal (gconstpointer a,
                          gconstpointer b);

extern const char lk_photo_select_sql[];
LkPhoto *lk_photo_new_from_stmt (sqlite3_stmt *stmt,
                                 const char   *data_dir);
gboolean lk_photo_equal (gconstpointer a,
                         gconstpointer b);

extern const char lk_template_select_sql[];
LkTemplate *lk_template_new_from_stmt (sqlite3_stmt *stmt,
                                       const char   *data_dir);
gboolean lk_template_equal (gconstpointer a,
                            gconstpointer b);

extern const char lk_generation_select_sql[];
LkGeneration *lk_generation_new_from_stmt (sqlite3_stmt *stmt,
                                           const char   *data_dir);
gboolean lk_generation_equal (gconstpointer a,
                              gconstpointer b);

extern const char lk_job_select_sql[];
LkJob *lk_job_new_from_stmt (sqlite3_stmt *stmt,
                             const char   *data_dir);
gboolean lk_job_equal (gconstpointer a,
                       gconstpointer b);

G_END_DECLS
