/* lk-import.h: copying dropped or chosen files into the catalog, off the main thread
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  LK_IMPORT_PHOTOS,     /* photos of one person */
  LK_IMPORT_TEMPLATES,  /* user templates */
} LkImportKind;

typedef struct
{
  guint      added;
  guint      already_present;
  GPtrArray *errors;    /* one catalog message per file that was refused */
} LkImportResult;

void            lk_import_result_free (LkImportResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkImportResult, lk_import_result_free)

/* files: GFiles; folders are walked (not into hidden ones). The worker opens its own catalog
 * on data_dir, so the caller's lists see the rows through the catalog's change polling (or a
 * reload when the import is done). */
void            lk_import_async       (const char          *data_dir,
                                       LkImportKind         kind,
                                       gint64               person_id,
                                       GPtrArray           *files,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
LkImportResult *lk_import_finish      (GAsyncResult        *result,
                                       GError             **error);
/* One line for a toast: what was added and why the rest was not; NULL when nothing happened. */
char           *lk_import_result_describe (const LkImportResult *result,
                                           LkImportKind          kind);

G_END_DECLS
