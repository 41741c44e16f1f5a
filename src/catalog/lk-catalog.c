/* lk-catalog.c: opening the catalog, transactions, pending files, removals, change polling
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-catalog-private.h"
#include "lk-catalog-files.h"
#include "lk-catalog-schema.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Long enough that a writer holding the lock for a large import or a check's repairs never
 * makes the other process fail. */
#define BUSY_TIMEOUT_MS   60000
#define POLL_INTERVAL_MS  250

G_DEFINE_QUARK (lk-catalog-error-quark, lk_catalog_error)

const LkCatalogFileKind lk_catalog_file_kinds[] = {
  { "photos", "file", "sha256", "photos", FALSE },
  { "templates", "file", "sha256", "templates", FALSE },
  { "generations", "file", "sha256", "outputs", FALSE },
  { "loras", "file", "sha256", "loras", FALSE },
  { "loras", "face_id_file", "face_id_sha256", "loras", TRUE },
};
const guint lk_catalog_n_file_kinds = G_N_ELEMENTS (lk_catalog_file_kinds);

G_DEFINE_FINAL_TYPE (LkCatalog, lk_catalog, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_DATA_DIR,
  PROP_MAX_FILE_SIZE,
  PROP_MAX_PIXELS,
  N_PROPS
};

enum {
  CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

gint64
lk_catalog_now (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

gboolean
lk_catalog_set_db_error (LkCatalog   *self,
                         GError     **error,
                         const char  *what)
{
  int code = sqlite3_errcode (self->db);

  g_set_error (error, LK_CATALOG_ERROR,
               code == SQLITE_FULL ? LK_CATALOG_ERROR_NO_SPACE : LK_CATALOG_ERROR_DATABASE,
               "%s: %s", what, sqlite3_errmsg (self->db));
  return FALSE;
}

gboolean
lk_catalog_exec (LkCatalog   *self,
                 const char  *sql,
                 GError     **error)
{
  if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) == SQLITE_OK)
    return TRUE;
  return lk_catalog_set_db_error (self, error, "The catalog could not be updated");
}

sqlite3_stmt *
lk_catalog_prepare (LkCatalog   *self,
                    const char  *sql,
                    GError     **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      lk_catalog_set_db_error (self, error, "The catalog could not be read");
      sqlite3_finalize (stmt);
      return NULL;
    }
  return stmt;
}

gboolean
lk_catalog_step_done (LkCatalog     *self,
                      sqlite3_stmt  *stmt,
                      GError       **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_DONE || rc == SQLITE_ROW)
    return TRUE;
  return lk_catalog_set_db_error (self, error, "The catalog could not be updated");
}

gboolean
lk_catalog_begin (LkCatalog  *self,
                  GError    **error)
{
  return lk_catalog_exec (self, "BEGIN IMMEDIATE", error);
}

gboolean
lk_catalog_commit (LkCatalog  *self,
                   GError    **error)
{
  if (lk_catalog_exec (self, "COMMIT", error))
    return TRUE;
  lk_catalog_rollback (self);
  return FALSE;
}

void
lk_catalog_rollback (LkCatalog *self)
{
  if (!sqlite3_get_autocommit (self->db))
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
}

void
lk_catalog_emit_changed (LkCatalog *self)
{
  g_signal_emit (self, signals[CHANGED], 0);
}

char *
lk_catalog_build_path (LkCatalog  *self,
                       const char *relative)
{
  return g_build_filename (self->data_dir, relative, NULL);
}

char *
lk_catalog_pending_path (const char *relative,
                         gint64      pending_id)
{
  g_autofree char *dir = g_path_get_dirname (relative);

  return g_strdup_printf ("%s/.lk-pending-%" G_GINT64_FORMAT, dir, pending_id);
}

/* Owners: each open catalog holds an flock on run/OWNER.lock; the kernel drops it when the
 * process dies however it dies, which is how a pending file's writer is known to be gone. */
static gboolean
take_owner_lock (LkCatalog  *self,
                 GError    **error)
{
  g_autofree char *run_dir = g_build_filename (self->data_dir, "run", NULL);
  g_autofree char *tmp = NULL;
  int saved_errno;

  if (!lk_catalog_files_make_dir (run_dir, error))
    return FALSE;
  self->owner = g_uuid_string_random ();
  self->owner_lock = g_strdup_printf ("%s/%s.lock", run_dir, self->owner);
  /* Locked under another name first, so no one ever sees the file unlocked and takes it for a
   * dead owner's. */
  tmp = g_strdup_printf ("%s.new", self->owner_lock);
  self->owner_fd = open (tmp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (self->owner_fd >= 0 && flock (self->owner_fd, LOCK_EX) == 0 &&
      g_rename (tmp, self->owner_lock) == 0)
    return TRUE;
  saved_errno = errno;
  g_unlink (tmp);
  g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_IO,
               "Could not create “%s”: %s", self->owner_lock, g_strerror (saved_errno));
  return FALSE;
}

gboolean
lk_catalog_owner_alive (LkCatalog  *self,
                        const char *owner)
{
  g_autofree char *path = NULL;
  int fd;

  if (g_strcmp0 (owner, self->owner) == 0)
    return TRUE;
  if (strchr (owner, '/') != NULL)
    return FALSE;
  path = g_strdup_printf ("%s/run/%s.lock", self->data_dir, owner);
  fd = open (path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  if (flock (fd, LOCK_EX | LOCK_NB) == 0)
    {
      g_unlink (path);
      close (fd);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

gboolean
lk_catalog_file_is_referenced (LkCatalog   *self,
                               const char  *relative,
                               gboolean    *referenced,
                               GError     **error)
{
  *referenced = FALSE;
  for (guint i = 0; i < lk_catalog_n_file_kinds && !*referenced; i++)
    {
      const LkCatalogFileKind *kind = &lk_catalog_file_kinds[i];
      g_autofree char *sql = g_strdup_printf ("SELECT 1 FROM %s WHERE %s = ?1 AND removing = 0",
                                              kind->table, kind->file_column);
      g_autoptr(sqlite3_stmt) stmt = lk_catalog_prepare (self, sql, error);
      int rc;

      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_text (stmt, 1, relative, -1, SQLITE_TRANSIENT);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        *referenced = TRUE;
      else if (rc != SQLITE_DONE)
        return lk_catalog_set_db_error (self, error, "The catalog could not be read");
    }
  return TRUE;
}

char *
lk_catalog_store_file (LkCatalog     *self,
                       const char    *folder,
                       const char    *sha256,
                       const char    *extension,
                       GInputStream  *in,
                       gint64        *pending_id,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autofree char *relative = g_strdup_printf ("%s/%.2s/%s.%s", folder, sha256, sha256, extension);
  g_autofree char *tmp_relative = NULL;
  g_autofree char *tmp = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 id;

  if (!lk_catalog_begin (self, error))
    return NULL;
  stmt = lk_catalog_prepare (self,
                             "INSERT INTO pending_files (owner, file, created_at) VALUES (?1, ?2, ?3)",
                             error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, self->owner, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, relative, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, lk_catalog_now ());
  if (!lk_catalog_step_done (self, stmt, error))
    goto fail;
  id = sqlite3_last_insert_rowid (self->db);
  if (!lk_catalog_commit (self, error))
    return NULL;

  tmp_relative = lk_catalog_pending_path (relative, id);
  tmp = lk_catalog_build_path (self, tmp_relative);
  if (!lk_catalog_files_write (tmp, NULL, in, sha256, cancellable, error))
    {
      lk_catalog_abandon_file (self, id, NULL);
      return NULL;
    }
  *pending_id = id;
  return g_steal_pointer (&relative);

fail:
  lk_catalog_rollback (self);
  return NULL;
}

gboolean
lk_catalog_place_file (LkCatalog   *self,
                       gint64       pending_id,
                       const char  *relative,
                       GError     **error)
{
  g_autofree char *tmp_relative = lk_catalog_pending_path (relative, pending_id);
  g_autofree char *tmp = lk_catalog_build_path (self, tmp_relative);
  g_autofree char *path = lk_catalog_build_path (self, relative);
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_assert (!sqlite3_get_autocommit (self->db));

  if (!lk_catalog_files_rename (tmp, path, error))
    return FALSE;
  stmt = lk_catalog_prepare (self, "DELETE FROM pending_files WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, pending_id);
  return lk_catalog_step_done (self, stmt, error);
}

/* Cleans up one pending file inside the caller's transaction. */
static gboolean
drop_pending (LkCatalog   *self,
              gint64       pending_id,
              const char  *relative,
              GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gboolean referenced;

  if (relative != NULL)
    {
      g_autofree char *tmp_relative = lk_catalog_pending_path (relative, pending_id);
      g_autofree char *tmp = lk_catalog_build_path (self, tmp_relative);
      g_autofree char *path = lk_catalog_build_path (self, relative);

      if (!lk_catalog_files_remove (tmp, error))
        return FALSE;
      if (!lk_catalog_file_is_referenced (self, relative, &referenced, error))
        return FALSE;
      if (!referenced && !lk_catalog_files_remove (path, error))
        return FALSE;
    }
  stmt = lk_catalog_prepare (self, "DELETE FROM pending_files WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, pending_id);
  return lk_catalog_step_done (self, stmt, error);
}

void
lk_catalog_abandon_file (LkCatalog  *self,
                         gint64      pending_id,
                         const char *relative)
{
  g_autoptr(GError) error = NULL;

  /* What cannot be cleaned up now stays in pending_files for the next open after this process
   * is gone. */
  lk_catalog_rollback (self);
  if (!lk_catalog_begin (self, &error) ||
      !drop_pending (self, pending_id, relative, &error) ||
      !lk_catalog_commit (self, &error))
    {
      lk_catalog_rollback (self);
      g_debug ("Leaving pending file %" G_GINT64_FORMAT " for later: %s",
               pending_id, error->message);
    }
}

gboolean
lk_catalog_recover (LkCatalog  *self,
                    guint      *n_recovered,
                    GError    **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GArray) dead_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GPtrArray) dead_files = g_ptr_array_new_with_free_func (g_free);
  guint n_removed = 0;
  int rc;

  *n_recovered = 0;
  stmt = lk_catalog_prepare (self, "SELECT id, owner, file FROM pending_files", error);
  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    if (!lk_catalog_owner_alive (self, (const char *) sqlite3_column_text (stmt, 1)))
      {
        gint64 id = sqlite3_column_int64 (stmt, 0);

        g_array_append_val (dead_ids, id);
        g_ptr_array_add (dead_files, g_strdup ((const char *) sqlite3_column_text (stmt, 2)));
      }
  if (rc != SQLITE_DONE)
    return lk_catalog_set_db_error (self, error, "The catalog could not be read");
  g_clear_pointer (&stmt, sqlite3_finalize);

  if (dead_ids->len > 0)
    {
      if (!lk_catalog_begin (self, error))
        return FALSE;
      for (guint i = 0; i < dead_ids->len; i++)
        if (!drop_pending (self, g_array_index (dead_ids, gint64, i),
                           g_ptr_array_index (dead_files, i), error))
          {
            lk_catalog_rollback (self);
            return FALSE;
          }
      if (!lk_catalog_commit (self, error))
        return FALSE;
    }

  if (!lk_catalog_finish_removals (self, &n_removed, error))
    return FALSE;
  *n_recovered = dead_ids->len + n_removed;
  return TRUE;
}

gboolean
lk_catalog_finish_removals (LkCatalog  *self,
                            guint      *n_finished,
                            GError    **error)
{
  static const char * const tables[] = {
    "generations", "templates", "photos", "loras", "datasets", "people",
  };
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(sqlite3_stmt) any = NULL;
  guint finished = 0;

  *n_finished = 0;
  /* The usual case, and cheap: nothing marked. */
  any = lk_catalog_prepare (self,
                            "SELECT EXISTS (SELECT 1 FROM people WHERE removing = 1)"
                            "    OR EXISTS (SELECT 1 FROM photos WHERE removing = 1)"
                            "    OR EXISTS (SELECT 1 FROM templates WHERE removing = 1)"
                            "    OR EXISTS (SELECT 1 FROM generations WHERE removing = 1)"
                            "    OR EXISTS (SELECT 1 FROM loras WHERE removing = 1)"
                            "    OR EXISTS (SELECT 1 FROM datasets WHERE removing = 1)", error);
  if (any == NULL)
    return FALSE;
  if (sqlite3_step (any) != SQLITE_ROW)
    return lk_catalog_set_db_error (self, error, "The catalog could not be read");
  if (sqlite3_column_int (any, 0) == 0)
    return TRUE;
  g_clear_pointer (&any, sqlite3_finalize);

  if (!lk_catalog_begin (self, error))
    return FALSE;
  /* A person being removed takes everything of theirs along. */
  if (!lk_catalog_exec (self,
                        "UPDATE photos SET removing = 1 WHERE person_id IN"
                        "  (SELECT id FROM people WHERE removing = 1);"
                        "UPDATE loras SET removing = 1 WHERE person_id IN"
                        "  (SELECT id FROM people WHERE removing = 1);"
                        "UPDATE datasets SET removing = 1 WHERE person_id IN"
                        "  (SELECT id FROM people WHERE removing = 1);", error))
    goto fail;

  for (guint i = 0; i < lk_catalog_n_file_kinds; i++)
    {
      const LkCatalogFileKind *kind = &lk_catalog_file_kinds[i];
      /* Generations may share an output (the same seed twice); a file goes with its last row. */
      g_autofree char *sql =
        g_strdup_printf ("SELECT DISTINCT r.%s FROM %s r WHERE r.removing = 1 AND r.%s IS NOT NULL"
                         " AND NOT EXISTS (SELECT 1 FROM %s o WHERE o.%s = r.%s AND o.removing = 0)",
                         kind->file_column, kind->table, kind->file_column,
                         kind->table, kind->file_column, kind->file_column);
      g_autoptr(sqlite3_stmt) stmt = lk_catalog_prepare (self, sql, error);

      if (stmt == NULL)
        goto fail;
      while (sqlite3_step (stmt) == SQLITE_ROW)
        g_ptr_array_add (files, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
    }
  for (guint i = 0; i < files->len; i++)
    {
      g_autofree char *path = lk_catalog_build_path (self, g_ptr_array_index (files, i));

      if (!lk_catalog_files_remove (path, error))
        goto fail;
    }
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    {
      g_autofree char *sql = g_strdup_printf ("DELETE FROM %s WHERE removing = 1", tables[i]);

      if (!lk_catalog_exec (self, sql, error))
        goto fail;
      finished += sqlite3_changes (self->db);
    }
  if (!lk_catalog_commit (self, error))
    return FALSE;
  *n_finished = finished;
  lk_catalog_emit_changed (self);
  return TRUE;

fail:
  lk_catalog_rollback (self);
  return FALSE;
}

static gint64
read_data_version (LkCatalog *self)
{
  g_autoptr(sqlite3_stmt) stmt = lk_catalog_prepare (self, "PRAGMA data_version", NULL);

  if (stmt == NULL || sqlite3_step (stmt) != SQLITE_ROW)
    return -1;
  return sqlite3_column_int64 (stmt, 0);
}

/* PRAGMA data_version moves when another connection commits: the app's lists follow what the
 * CLI or a worker did. */
static gboolean
poll_cb (gpointer data)
{
  LkCatalog *self = data;
  gint64 version = read_data_version (self);

  if (version >= 0 && version != self->data_version)
    {
      self->data_version = version;
      lk_catalog_emit_changed (self);
    }
  return G_SOURCE_CONTINUE;
}

void
lk_catalog_list_started (LkCatalog *self)
{
  if (self->n_lists++ > 0)
    return;
  self->data_version = read_data_version (self);
  self->poll_source = g_timeout_source_new (POLL_INTERVAL_MS);
  g_source_set_callback (self->poll_source, poll_cb, self, NULL);
  g_source_set_static_name (self->poll_source, "[likeness] catalog poll");
  g_source_attach (self->poll_source, self->context);
}

void
lk_catalog_list_stopped (LkCatalog *self)
{
  g_assert (self->n_lists > 0);
  if (--self->n_lists > 0)
    return;
  g_source_destroy (self->poll_source);
  g_clear_pointer (&self->poll_source, g_source_unref);
}

GPtrArray *
lk_catalog_load_items (LkCatalog     *self,
                       const char    *sql,
                       gint64         filter,
                       gpointer     (*new_from_stmt) (sqlite3_stmt *,
                                                      const char *),
                       GError       **error)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(sqlite3_stmt) stmt = lk_catalog_prepare (self, sql, error);
  int rc;

  if (stmt == NULL)
    return NULL;
  if (sqlite3_bind_parameter_count (stmt) > 0)
    sqlite3_bind_int64 (stmt, 1, filter);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (items, new_from_stmt (stmt, self->data_dir));
  if (rc != SQLITE_DONE)
    {
      lk_catalog_set_db_error (self, error, "The catalog could not be read");
      return NULL;
    }
  return g_steal_pointer (&items);
}

static gboolean
open_database (LkCatalog  *self,
               GError    **error)
{
  if (!lk_catalog_files_make_dir (self->data_dir, error))
    return FALSE;
  self->db_path = g_build_filename (self->data_dir, "catalog.db", NULL);
  if (sqlite3_open_v2 (self->db_path, &self->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                       NULL) != SQLITE_OK)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_DATABASE,
                   "Could not open the catalog “%s”: %s", self->db_path,
                   self->db ? sqlite3_errmsg (self->db) : "out of memory");
      return FALSE;
    }
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);
  /* WAL lets the app read while the CLI writes; FULL makes a commit survive power loss too. */
  if (sqlite3_exec (self->db,
                    "PRAGMA journal_mode = WAL;"
                    "PRAGMA synchronous = FULL;"
                    "PRAGMA foreign_keys = ON;", NULL, NULL, NULL) != SQLITE_OK)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_DATABASE,
                   "Could not open the catalog “%s”: %s", self->db_path,
                   sqlite3_errmsg (self->db));
      return FALSE;
    }
  if (!lk_catalog_schema_migrate (self->db, LK_CATALOG_SCHEMA_VERSION, error))
    {
      g_prefix_error (error, "%s: ", self->db_path);
      return FALSE;
    }
  if (!take_owner_lock (self, error))
    return FALSE;
  return lk_catalog_recover (self, &self->recovered_at_open, error);
}

char *
lk_catalog_default_data_dir (void)
{
  const char *dir = g_getenv ("LIKENESS_DATA_DIR");

  if (dir != NULL && *dir != '\0')
    return g_strdup (dir);
  return g_build_filename (g_get_user_data_dir (), "likeness", NULL);
}

LkCatalog *
lk_catalog_open (const char  *data_dir,
                 GError     **error)
{
  g_autofree char *dir = data_dir ? g_strdup (data_dir) : lk_catalog_default_data_dir ();
  g_autoptr(LkCatalog) self = g_object_new (LK_TYPE_CATALOG, "data-dir", dir, NULL);

  if (!open_database (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

const char *
lk_catalog_get_data_dir (LkCatalog *self)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  return self->data_dir;
}

guint64
lk_catalog_get_max_file_size (LkCatalog *self)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), 0);

  return self->max_file_size;
}

void
lk_catalog_set_max_file_size (LkCatalog *self,
                              guint64    max_file_size)
{
  g_return_if_fail (LK_IS_CATALOG (self));

  if (self->max_file_size == max_file_size)
    return;
  self->max_file_size = max_file_size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_FILE_SIZE]);
}

guint64
lk_catalog_get_max_pixels (LkCatalog *self)
{
  g_return_val_if_fail (LK_IS_CATALOG (self), 0);

  return self->max_pixels;
}

void
lk_catalog_set_max_pixels (LkCatalog *self,
                           guint64    max_pixels)
{
  g_return_if_fail (LK_IS_CATALOG (self));

  if (self->max_pixels == max_pixels)
    return;
  self->max_pixels = max_pixels;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_PIXELS]);
}

static void
lk_catalog_finalize (GObject *object)
{
  LkCatalog *self = (LkCatalog *) object;

  g_assert (self->n_lists == 0);

  g_clear_pointer (&self->db, sqlite3_close);
  if (self->owner_fd >= 0)
    {
      g_unlink (self->owner_lock);
      close (self->owner_fd);
    }
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->data_dir, g_free);
  g_clear_pointer (&self->db_path, g_free);
  g_clear_pointer (&self->owner, g_free);
  g_clear_pointer (&self->owner_lock, g_free);

  G_OBJECT_CLASS (lk_catalog_parent_class)->finalize (object);
}

static void
lk_catalog_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  LkCatalog *self = LK_CATALOG (object);

  switch (prop_id)
    {
    case PROP_DATA_DIR:
      g_value_set_string (value, self->data_dir);
      break;

    case PROP_MAX_FILE_SIZE:
      g_value_set_uint64 (value, self->max_file_size);
      break;

    case PROP_MAX_PIXELS:
      g_value_set_uint64 (value, self->max_pixels);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_catalog_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  LkCatalog *self = LK_CATALOG (object);

  switch (prop_id)
    {
    case PROP_DATA_DIR:
      self->data_dir = g_value_dup_string (value);
      break;

    case PROP_MAX_FILE_SIZE:
      lk_catalog_set_max_file_size (self, g_value_get_uint64 (value));
      break;

    case PROP_MAX_PIXELS:
      lk_catalog_set_max_pixels (self, g_value_get_uint64 (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_catalog_class_init (LkCatalogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = lk_catalog_finalize;
  object_class->get_property = lk_catalog_get_property;
  object_class->set_property = lk_catalog_set_property;

  properties[PROP_DATA_DIR] =
    g_param_spec_string ("data-dir", NULL, "Folder holding catalog.db and the files",
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MAX_FILE_SIZE] =
    g_param_spec_uint64 ("max-file-size", NULL, "Largest image file accepted, in bytes",
                         1, G_MAXUINT64, LK_CATALOG_DEFAULT_MAX_FILE_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MAX_PIXELS] =
    g_param_spec_uint64 ("max-pixels", NULL, "Most pixels an image may declare",
                         1, G_MAXUINT64, LK_CATALOG_DEFAULT_MAX_PIXELS,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* After each commit of this catalog, and when the poll sees another process's (only while
   * some list is alive); lists reload and emit items-changed for what differs. */
  signals[CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
lk_catalog_init (LkCatalog *self)
{
  self->owner_fd = -1;
  self->max_file_size = LK_CATALOG_DEFAULT_MAX_FILE_SIZE;
  self->max_pixels = LK_CATALOG_DEFAULT_MAX_PIXELS;
  self->context = g_main_context_ref_thread_default ();
}
