/* lk-catalog-files.h: files that are whole or absent
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Copies in to tmp_path, fsyncs it, checks its SHA-256 against expected_sha256 (when not NULL),
 * and, when final_path is not NULL, renames it there and fsyncs the directory; creates missing
 * directories (fsyncing their parents). On failure nothing is left at tmp_path and final_path is
 * untouched. */
gboolean  lk_catalog_files_write        (const char    *tmp_path,
                                         const char    *final_path,
                                         GInputStream  *in,
                                         const char    *expected_sha256,
                                         GCancellable  *cancellable,
                                         GError       **error);
/* Renames and fsyncs the directory. */
gboolean  lk_catalog_files_rename       (const char    *from,
                                         const char    *to,
                                         GError       **error);
/* Deletes path (absent is fine) and fsyncs its directory. */
gboolean  lk_catalog_files_remove       (const char    *path,
                                         GError       **error);
/* The lower-case hex SHA-256 of a file's contents, and its size. */
char     *lk_catalog_files_hash         (const char    *path,
                                         goffset       *size,
                                         GCancellable  *cancellable,
                                         GError       **error);
char     *lk_catalog_files_hash_bytes   (GBytes        *bytes);
/* Creates path and missing parents, fsyncing the directory each new one appears in. */
gboolean  lk_catalog_files_make_dir     (const char    *path,
                                         GError       **error);

/* Fault injection for tests: every file write fails with "No space left on device" once it has
 * written more than bytes bytes (-1 turns it off). The environment variable
 * LIKENESS_CATALOG_FAIL_WRITE_AFTER sets the same for child processes. */
void      lk_catalog_files_set_fail_after (gint64       bytes);

G_END_DECLS
