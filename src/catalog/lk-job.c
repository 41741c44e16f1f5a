/* lk-job.c: LkJob, a long task (training, generation) as the catalog records it
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-job.h"
#include "lk-catalog-private.h"

static const char * const state_names[] = {
  [LK_JOB_STATE_QUEUED] = "queued",
  [LK_JOB_STATE_RUNNING] = "running",
  [LK_JOB_STATE_DONE] = "done",
  [LK_JOB_STATE_FAILED] = "failed",
  [LK_JOB_STATE_CANCELLED] = "cancelled",
};

G_DEFINE_ENUM_TYPE (LkJobState, lk_job_state,
  G_DEFINE_ENUM_VALUE (LK_JOB_STATE_QUEUED, "queued"),
  G_DEFINE_ENUM_VALUE (LK_JOB_STATE_RUNNING, "running"),
  G_DEFINE_ENUM_VALUE (LK_JOB_STATE_DONE, "done"),
  G_DEFINE_ENUM_VALUE (LK_JOB_STATE_FAILED, "failed"),
  G_DEFINE_ENUM_VALUE (LK_JOB_STATE_CANCELLED, "cancelled"))

const char *
lk_job_state_to_string (LkJobState state)
{
  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (state_names), NULL);
  return state_names[state];
}

gboolean
lk_job_state_from_string (const char *text,
                          LkJobState *state)
{
  for (guint i = 0; i < G_N_ELEMENTS (state_names); i++)
    if (g_strcmp0 (text, state_names[i]) == 0)
      {
        *state = i;
        return TRUE;
      }
  return FALSE;
}

struct _LkJob
{
  GObject parent_instance;

  gint64      id;
  char       *kind;
  LkJobState  state;
  double      progress;
  char       *message;
  char       *checkpoint;
  char       *error_message;
  gint64      created_at;
  gint64      started_at;
  gint64      finished_at;
};

G_DEFINE_FINAL_TYPE (LkJob, lk_job, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_KIND,
  PROP_STATE,
  PROP_PROGRESS,
  PROP_MESSAGE,
  PROP_CHECKPOINT,
  PROP_ERROR_MESSAGE,
  PROP_CREATED_AT,
  PROP_STARTED_AT,
  PROP_FINISHED_AT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

const char lk_job_select_sql[] =
  "SELECT "
  "  id, "
  "  kind, "
  "  state, "
  "  progress, "
  "  message, "
  "  checkpoint, "
  "  error, "
  "  created_at, "
  "  coalesce(started_at, 0), "
  "  coalesce(finished_at, 0) "
  "FROM jobs WHERE 1";

LkJob *
lk_job_new_from_stmt (sqlite3_stmt *stmt,
                      const char   *data_dir)
{
  LkJob *self = g_object_new (LK_TYPE_JOB, NULL);

  self->id = sqlite3_column_int64 (stmt, 0);
  self->kind = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  lk_job_state_from_string ((const char *) sqlite3_column_text (stmt, 2), &self->state);
  self->progress = sqlite3_column_double (stmt, 3);
  self->message = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
  self->checkpoint = g_strdup ((const char *) sqlite3_column_text (stmt, 5));
  self->error_message = g_strdup ((const char *) sqlite3_column_text (stmt, 6));
  self->created_at = sqlite3_column_int64 (stmt, 7);
  self->started_at = sqlite3_column_int64 (stmt, 8);
  self->finished_at = sqlite3_column_int64 (stmt, 9);
  return self;
}

gboolean
lk_job_equal (gconstpointer a,
              gconstpointer b)
{
  const LkJob *x = a;
  const LkJob *y = b;

  return x->id == y->id &&
         g_strcmp0 (x->kind, y->kind) == 0 &&
         x->state == y->state &&
         x->progress == y->progress &&
         g_strcmp0 (x->message, y->message) == 0 &&
         g_strcmp0 (x->checkpoint, y->checkpoint) == 0 &&
         g_strcmp0 (x->error_message, y->error_message) == 0 &&
         x->created_at == y->created_at &&
         x->started_at == y->started_at &&
         x->finished_at == y->finished_at;
}

static void
lk_job_finalize (GObject *object)
{
  LkJob *self = (LkJob *) object;

  g_clear_pointer (&self->kind, g_free);
  g_clear_pointer (&self->message, g_free);
  g_clear_pointer (&self->checkpoint, g_free);
  g_clear_pointer (&self->error_message, g_free);

  G_OBJECT_CLASS (lk_job_parent_class)->finalize (object);
}

static void
lk_job_get_property (GObject    *object,
                     guint       prop_id,
                     GValue     *value,
                     GParamSpec *pspec)
{
  LkJob *self = LK_JOB (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_int64 (value, self->id);
      break;

    case PROP_KIND:
      g_value_set_string (value, self->kind);
      break;

    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;

    case PROP_PROGRESS:
      g_value_set_double (value, self->progress);
      break;

    case PROP_MESSAGE:
      g_value_set_string (value, self->message);
      break;

    case PROP_CHECKPOINT:
      g_value_set_string (value, self->checkpoint);
      break;

    case PROP_ERROR_MESSAGE:
      g_value_set_string (value, self->error_message);
      break;

    case PROP_CREATED_AT:
      g_value_set_int64 (value, self->created_at);
      break;

    case PROP_STARTED_AT:
      g_value_set_int64 (value, self->started_at);
      break;

    case PROP_FINISHED_AT:
      g_value_set_int64 (value, self->finished_at);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_job_class_init (LkJobClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = lk_job_finalize;
  object_class->get_property = lk_job_get_property;

  properties[PROP_ID] =
    g_param_spec_int64 ("id", NULL, "Row id", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_KIND] =
    g_param_spec_string ("kind", NULL, "What the job does", NULL, flags);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, "Queued, running, done, failed or cancelled", LK_TYPE_JOB_STATE, LK_JOB_STATE_QUEUED, flags);
  properties[PROP_PROGRESS] =
    g_param_spec_double ("progress", NULL, "Fraction done, 0-1", -G_MAXDOUBLE, G_MAXDOUBLE, 0, flags);
  properties[PROP_MESSAGE] =
    g_param_spec_string ("message", NULL, "What it is doing", NULL, flags);
  properties[PROP_CHECKPOINT] =
    g_param_spec_string ("checkpoint", NULL, "Where it can resume from", NULL, flags);
  properties[PROP_ERROR_MESSAGE] =
    g_param_spec_string ("error-message", NULL, "Why it failed", NULL, flags);
  properties[PROP_CREATED_AT] =
    g_param_spec_int64 ("created-at", NULL, "When it was queued", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_STARTED_AT] =
    g_param_spec_int64 ("started-at", NULL, "When it started, 0 before", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_FINISHED_AT] =
    g_param_spec_int64 ("finished-at", NULL, "When it ended, 0 before", G_MININT64, G_MAXINT64, 0, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lk_job_init (LkJob *self)
{
}

gint64
lk_job_get_id (LkJob *self)
{
  g_return_val_if_fail (LK_IS_JOB (self), 0);

  return self->id;
}

const char *
lk_job_get_kind (LkJob *self)
{
  g_return_val_if_fail (LK_IS_JOB (self), NULL);

  return self->kind;
}

LkJobState
lk_job_get_state (LkJob *self)
{
  g_return_val_if_fail (LK_IS_JOB (self), 0);

  return self->state;
}

double
lk_job_get_progress (LkJob *self)
{
  g_return_val_if_fail (LK_IS_JOB (self), 0);

  return self->progress;
}

const char *
lk_job_get_message (LkJob *self)
{
  g_return_val_if_fail (LK_IS_JOB (self), NULL);

  return self->message;
}

const char *
lk_job_get_checkpoint (LkJob *self)
{
  g_return_val_if_fail (LK_IS_JOB (self), NULL);

  return self->checkpoint;
}

const char *
lk_job_get_error_message (LkJob *self)
{
  g_return_val_if_fail (LK_IS_JOB (self), NULL);

  return self->error_message;
}

gint64
lk_job_get_created_at (LkJob *self)
{
  g_return_val_if_fail (LK_IS_JOB (self), 0);

  return self->created_at;
}

gint64
lk_job_get_started_at (LkJob *self)
{
  g_return_val_if_fail (LK_IS_JOB (self), 0);

  return self->started_at;
}

gint64
lk_job_get_finished_at (LkJob *self)
{
  g_return_val_if_fail (LK_IS_JOB (self), 0);

  return self->finished_at;
}
