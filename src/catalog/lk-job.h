/* lk-job.h: LkJob, a long task (training, generation) as the catalog records it
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  LK_JOB_STATE_QUEUED,
  LK_JOB_STATE_RUNNING,
  LK_JOB_STATE_DONE,
  LK_JOB_STATE_FAILED,
  LK_JOB_STATE_CANCELLED,
} LkJobState;

#define LK_TYPE_JOB_STATE (lk_job_state_get_type ())
GType       lk_job_state_get_type    (void);
/* The word the catalog stores: queued, running, done, failed, cancelled. */
const char *lk_job_state_to_string  (LkJobState  state);
gboolean    lk_job_state_from_string (const char *text,
                                      LkJobState *state);

/* A snapshot of one row; the catalog's list models replace it when the row changes. */
#define LK_TYPE_JOB (lk_job_get_type ())

G_DECLARE_FINAL_TYPE (LkJob, lk_job, LK, JOB, GObject)

gint64      lk_job_get_id            (LkJob *self);
const char *lk_job_get_kind          (LkJob *self);
LkJobState  lk_job_get_state         (LkJob *self);
double      lk_job_get_progress      (LkJob *self);
const char *lk_job_get_message       (LkJob *self);
const char *lk_job_get_checkpoint    (LkJob *self);
const char *lk_job_get_error_message (LkJob *self);
gint64      lk_job_get_created_at    (LkJob *self);
gint64      lk_job_get_started_at    (LkJob *self);
gint64      lk_job_get_finished_at   (LkJob *self);

G_END_DECLS
