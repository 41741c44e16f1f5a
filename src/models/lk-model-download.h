/* lk-model-download.h: fetch one registry model, verified, resumable, installed atomically
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The work runs on a worker thread with libsoup 3 (GIO's default proxy resolver). Each file goes
 * to DATA_DIR/models/NAME/FILE.part, resumed with a Range request when a .part is already there
 * (a cut connection is retried that way up to three times within one run), hashed while it
 * streams, then fsynced. Only when every file of the model is verified are the .parts renamed
 * over the files in place (the folder fsynced), with the model's licence texts beside them: a
 * failure anywhere leaves an installed model as it was. Before anything is written, the files'
 * known sizes are checked against the free space (LK_MODELS_ERROR_NO_SPACE); a write that fails
 * for space (ENOSPC, EDQUOT, EFBIG) deletes its .part and fails with the same code.
 *
 * The catalog's models row follows: downloading → ready; on failure a row that was ready before
 * is put back as it was, otherwise it becomes corrupt (wrong SHA-256; the .part is deleted) or
 * missing. A .part survives a cancel or a network failure so the next run resumes — that is the
 * design; set keep-partial to FALSE to have a cancel delete it. A file already on disk whose row
 * is ready with the pinned SHA-256 is never fetched or hashed again.
 *
 * A model of role LK_MODEL_ROLE_TEMPLATES (the starter pack) also has its photos added to the
 * catalog as built-in templates, on install and on every later run.
 *
 * Progress (bytes-done, bytes-total, rate, eta, fraction, message) is notified on the main
 * context that was thread-default when run_async was called, at most ten times a second.
 */
#pragma once

#include <gio/gio.h>

#include "lk-model-registry.h"

G_BEGIN_DECLS

#define LK_TYPE_MODEL_DOWNLOAD (lk_model_download_get_type ())

G_DECLARE_FINAL_TYPE (LkModelDownload, lk_model_download, LK, MODEL_DOWNLOAD, GObject)

LkModelDownload *lk_model_download_new              (const char          *data_dir,
                                                     LkModelRegistry     *registry,
                                                     const char          *name);
/* NULL: the publishers' hosts. See lk_model_mirror_url(). */
void             lk_model_download_set_mirror       (LkModelDownload     *self,
                                                     const char          *mirror);
/* Seconds without progress before a connection counts as dead (default 60). */
void             lk_model_download_set_timeout      (LkModelDownload     *self,
                                                     guint                seconds);
/* Accept files the registry pins no SHA-256 for, recording the hash they turn out to have. */
void             lk_model_download_set_trust_unpinned (LkModelDownload   *self,
                                                     gboolean             trust);
void             lk_model_download_set_keep_partial (LkModelDownload     *self,
                                                     gboolean             keep);

gint64           lk_model_download_get_bytes_done   (LkModelDownload     *self);
/* -1 while unknown */
gint64           lk_model_download_get_bytes_total  (LkModelDownload     *self);
/* Bytes per second, smoothed. */
double           lk_model_download_get_rate         (LkModelDownload     *self);
/* Seconds left, or -1 while unknown. */
double           lk_model_download_get_eta          (LkModelDownload     *self);
double           lk_model_download_get_fraction     (LkModelDownload     *self);
const char      *lk_model_download_get_message      (LkModelDownload     *self);

void             lk_model_download_run_async        (LkModelDownload     *self,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
gboolean         lk_model_download_run_finish       (LkModelDownload     *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);

G_END_DECLS
