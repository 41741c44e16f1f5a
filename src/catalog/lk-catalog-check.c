/* lk-catalog-check.c: files against rows, rows against files, contents against hashes
 *
 * Concurrency: the files are listed first and the rows read after, in one snapshot; a file a
 * writer placed in between is covered by its pending_files row (gone only in the transaction
 * that adds the file's own row). Every repair happens under the write lock after looking again.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-catalog-private.h"
#include "lk-catalog-files.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

typedef struct
{
  LkCatalog      *catalog;
  LkCatalogCheck *report;
  gboolean        repair;
  GHashTable     *on_disk;     /* relative path → NULL */
  GHashTable     *referenced;  /* relative path → NULL, rows and live pending files */
} Check;

void
lk_catalog_check_free (LkCatalogCheck *check)
{
  if (check == NULL)
    return;
  g_clear_pointer (&check->messages, g_ptr_array_unref);
  g_free (check);
}

G_GNUC_PRINTF (2, 3)
static void
say (Check      *check,
     const char *format,
     ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (check->report->messages, g_strdup_vprintf (format, args));
  va_end (args);
}

static void
list_files (Check      *check,
            const char *relative_dir)
{
  g_autofree char *dir_path = lk_catalog_build_path (check->catalog, relative_dir);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *relative = g_build_filename (relative_dir, name, NULL);
      g_autofree char *path = lk_catalog_build_path (check->catalog, relative);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        list_files (check, relative);
      else
        g_hash_table_add (check->on_disk, g_steal_pointer (&relative));
    }
}

/* Moves a file out of the way into lost+found/, keeping its place in the tree. */
static gboolean
move_to_lost_found (Check       *check,
                    const char  *relative,
                    const char  *suffix,
                    GError     **error)
{
  g_autofree char *from = lk_catalog_build_path (check->catalog, relative);
  g_autofree char *base = g_strdup_printf ("%s/lost+found/%s%s",
                                           check->catalog->data_dir, relative, suffix);
  g_autofree char *dir = g_path_get_dirname (base);
  g_autofree char *to = g_strdup (base);

  if (!lk_catalog_files_make_dir (dir, error))
    return FALSE;
  for (guint n = 1; g_file_test (to, G_FILE_TEST_EXISTS); n++)
    {
      g_free (to);
      to = g_strdup_printf ("%s.%u", base, n);
    }
  return lk_catalog_files_rename (from, to, error);
}

typedef struct
{
  gint64  id;
  char   *file;
  char   *sha256;
  guint   kind;
} Row;

static void
row_clear (Row *row)
{
  g_free (row->file);
  g_free (row->sha256);
}

/* Under the write lock: drops the row (or, for an optional file, its columns) if it still
 * names this file. */
static gboolean
drop_row (Check       *check,
          const Row   *row,
          GError     **error)
{
  const LkCatalogFileKind *kind = &lk_catalog_file_kinds[row->kind];
  g_autofree char *sql = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;

  if (kind->optional)
    sql = g_strdup_printf ("UPDATE %s SET %s = NULL, %s = NULL WHERE id = ?1 AND %s = ?2",
                           kind->table, kind->file_column, kind->sha256_column,
                           kind->file_column);
  else
    sql = g_strdup_printf ("DELETE FROM %s WHERE id = ?1 AND %s = ?2 AND removing = 0",
                           kind->table, kind->file_column);
  stmt = lk_catalog_prepare (check->catalog, sql, error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, row->id);
  sqlite3_bind_text (stmt, 2, row->file, -1, SQLITE_STATIC);
  return lk_catalog_step_done (check->catalog, stmt, error);
}

static gboolean
check_row (Check         *check,
           const Row     *row,
           GCancellable  *cancellable,
           GError       **error)
{
  LkCatalog *catalog = check->catalog;
  const LkCatalogFileKind *kind = &lk_catalog_file_kinds[row->kind];
  g_autofree char *path = lk_catalog_build_path (catalog, row->file);
  g_autofree char *sha256 = NULL;
  g_autoptr(GError) hash_error = NULL;
  gboolean missing;

  check->report->rows_checked++;
  /* Not listed may mean placed after the listing: look again. */
  missing = !g_hash_table_contains (check->on_disk, row->file) &&
            !g_file_test (path, G_FILE_TEST_IS_REGULAR);
  if (!missing)
    {
      check->report->files_checked++;
      sha256 = lk_catalog_files_hash (path, NULL, cancellable, &hash_error);
      if (sha256 == NULL)
        {
          if (g_error_matches (hash_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              g_propagate_error (error, g_steal_pointer (&hash_error));
              return FALSE;
            }
          missing = g_error_matches (hash_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
          if (!missing)
            {
              g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_IO,
                           "Could not read “%s”: %s", path, hash_error->message);
              return FALSE;
            }
        }
    }

  if (missing)
    {
      check->report->orphan_rows++;
      say (check, "%s %" G_GINT64_FORMAT " names %s, which is missing", kind->table, row->id,
           row->file);
    }
  else if (strcmp (sha256, row->sha256) != 0)
    {
      check->report->hash_mismatches++;
      say (check, "%s does not match its SHA-256 in %s %" G_GINT64_FORMAT " (damaged)", row->file,
           kind->table, row->id);
    }
  else
    return TRUE;

  if (!check->repair)
    return TRUE;

  if (!lk_catalog_begin (catalog, error))
    return FALSE;
  if (!missing && !move_to_lost_found (check, row->file, ".damaged", error))
    goto fail;
  if (!drop_row (check, row, error))
    goto fail;
  if (!lk_catalog_commit (catalog, error))
    return FALSE;
  if (kind->optional)
    say (check, "  cleared the %s of %s %" G_GINT64_FORMAT, kind->file_column, kind->table,
         row->id);
  else
    say (check, "  removed %s %" G_GINT64_FORMAT, kind->table, row->id);
  if (!missing)
    say (check, "  moved the damaged file to lost+found/");
  return TRUE;

fail:
  lk_catalog_rollback (catalog);
  return FALSE;
}

static gboolean
read_rows (Check      *check,
           GArray     *rows,
           GError    **error)
{
  LkCatalog *catalog = check->catalog;

  /* One snapshot for the rows and the pending files. */
  if (!lk_catalog_exec (catalog, "BEGIN", error))
    return FALSE;
  for (guint i = 0; i < lk_catalog_n_file_kinds; i++)
    {
      const LkCatalogFileKind *kind = &lk_catalog_file_kinds[i];
      g_autofree char *sql = g_strdup_printf ("SELECT id, %s, %s, removing FROM %s"
                                              " WHERE %s IS NOT NULL",
                                              kind->file_column, kind->sha256_column, kind->table,
                                              kind->file_column);
      g_autoptr(sqlite3_stmt) stmt = lk_catalog_prepare (catalog, sql, error);

      if (stmt == NULL)
        goto fail;
      while (sqlite3_step (stmt) == SQLITE_ROW)
        {
          Row row = {
            .id = sqlite3_column_int64 (stmt, 0),
            .file = g_strdup ((const char *) sqlite3_column_text (stmt, 1)),
            .sha256 = g_strdup ((const char *) sqlite3_column_text (stmt, 2)),
            .kind = i,
          };

          g_hash_table_add (check->referenced, g_strdup (row.file));
          /* A row being removed belongs to whoever removes it. */
          if (sqlite3_column_int (stmt, 3) == 0)
            g_array_append_val (rows, row);
          else
            row_clear (&row);
        }
    }
  {
    g_autoptr(sqlite3_stmt) stmt = lk_catalog_prepare (catalog,
                                                       "SELECT id, file FROM pending_files", error);

    if (stmt == NULL)
      goto fail;
    while (sqlite3_step (stmt) == SQLITE_ROW)
      {
        const char *file = (const char *) sqlite3_column_text (stmt, 1);

        g_hash_table_add (check->referenced, g_strdup (file));
        g_hash_table_add (check->referenced,
                          lk_catalog_pending_path (file, sqlite3_column_int64 (stmt, 0)));
      }
  }
  return lk_catalog_exec (catalog, "COMMIT", error);

fail:
  lk_catalog_rollback (catalog);
  return FALSE;
}

static gboolean
check_orphan_file (Check       *check,
                   const char  *relative,
                   GError     **error)
{
  LkCatalog *catalog = check->catalog;
  g_autofree char *base = g_path_get_basename (relative);
  gboolean half_written = g_str_has_prefix (base, ".lk-pending-");
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gboolean referenced;

  check->report->orphan_files++;
  say (check, half_written ? "%s is a half-written file no one is writing"
                           : "%s belongs to no row", relative);
  if (!check->repair)
    return TRUE;

  if (!lk_catalog_begin (catalog, error))
    return FALSE;
  /* Look again under the lock: a writer may have claimed it since. */
  if (!lk_catalog_file_is_referenced (catalog, relative, &referenced, error))
    goto fail;
  stmt = lk_catalog_prepare (catalog, "SELECT 1 FROM pending_files WHERE file = ?1", error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_text (stmt, 1, relative, -1, SQLITE_STATIC);
  if (referenced || sqlite3_step (stmt) == SQLITE_ROW)
    {
      check->report->orphan_files--;
      g_ptr_array_remove_index (check->report->messages, check->report->messages->len - 1);
      lk_catalog_rollback (catalog);
      return TRUE;
    }
  if (half_written)
    {
      g_autofree char *path = lk_catalog_build_path (catalog, relative);

      if (!lk_catalog_files_remove (path, error))
        goto fail;
      say (check, "  deleted it");
    }
  else
    {
      if (!move_to_lost_found (check, relative, "", error))
        goto fail;
      say (check, "  moved it to lost+found/");
    }
  return lk_catalog_commit (catalog, error);

fail:
  lk_catalog_rollback (catalog);
  return FALSE;
}

static gboolean
check_database (Check   *check,
                GError **error)
{
  g_autoptr(sqlite3_stmt) quick = lk_catalog_prepare (check->catalog, "PRAGMA quick_check", error);
  g_autoptr(sqlite3_stmt) keys = NULL;

  if (quick == NULL)
    return FALSE;
  while (sqlite3_step (quick) == SQLITE_ROW)
    {
      const char *line = (const char *) sqlite3_column_text (quick, 0);

      if (g_strcmp0 (line, "ok") != 0)
        {
          check->report->database_problems++;
          say (check, "catalog.db: %s", line);
        }
    }
  keys = lk_catalog_prepare (check->catalog, "PRAGMA foreign_key_check", error);
  if (keys == NULL)
    return FALSE;
  while (sqlite3_step (keys) == SQLITE_ROW)
    {
      check->report->database_problems++;
      say (check, "%s %" G_GINT64_FORMAT " refers to a missing row of %s",
           sqlite3_column_text (keys, 0), (gint64) sqlite3_column_int64 (keys, 1),
           sqlite3_column_text (keys, 2));
    }
  return TRUE;
}

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

LkCatalogCheck *
lk_catalog_check (LkCatalog     *self,
                  gboolean       repair,
                  GCancellable  *cancellable,
                  GError       **error)
{
  static const char * const folders[] = { "photos", "templates", "outputs", "loras" };
  g_autoptr(LkCatalogCheck) report = g_new0 (LkCatalogCheck, 1);
  g_autoptr(GHashTable) on_disk = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) referenced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GArray) rows = g_array_new (FALSE, TRUE, sizeof (Row));
  g_autoptr(GPtrArray) orphans = NULL;
  Check check = { self, report, repair, on_disk, referenced };
  GHashTableIter iter;
  gpointer key;
  guint recovered = 0;

  g_return_val_if_fail (LK_IS_CATALOG (self), NULL);

  g_array_set_clear_func (rows, (GDestroyNotify) row_clear);
  report->messages = g_ptr_array_new_with_free_func (g_free);
  report->repaired = repair;

  if (self->recovered_at_open > 0)
    {
      report->interrupted += self->recovered_at_open;
      say (&check, "Finished %u operation%s a stopped Likeness left half done (on opening)",
           self->recovered_at_open, self->recovered_at_open == 1 ? "" : "s");
      self->recovered_at_open = 0;
    }
  if (repair)
    {
      if (!lk_catalog_recover (self, &recovered, error))
        return NULL;
      if (recovered > 0)
        say (&check, "Finished %u operation%s a stopped Likeness left half done", recovered,
             recovered == 1 ? "" : "s");
      report->interrupted += recovered;
    }

  if (!check_database (&check, error))
    return NULL;

  for (guint i = 0; i < G_N_ELEMENTS (folders); i++)
    list_files (&check, folders[i]);
  if (!read_rows (&check, rows, error))
    return NULL;

  for (guint i = 0; i < rows->len; i++)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      if (!check_row (&check, &g_array_index (rows, Row, i), cancellable, error))
        return NULL;
    }

  orphans = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, on_disk);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (referenced, key))
      g_ptr_array_add (orphans, key);
  g_ptr_array_sort (orphans, compare_paths);
  for (guint i = 0; i < orphans->len; i++)
    if (!check_orphan_file (&check, g_ptr_array_index (orphans, i), error))
      return NULL;

  if (repair)
    lk_catalog_emit_changed (self);
  return g_steal_pointer (&report);
}
