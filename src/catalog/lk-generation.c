/* lk-generation.c: LkGeneration, one generated portrait and everything needed to make it again
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-generation.h"
#include "lk-catalog-private.h"

struct _LkGeneration
{
  GObject parent_instance;

  gint64      id;
  gint64      template_id;
  char       *people;
  char       *params;
  gint64      seed;
  char       *model_hashes;
  char       *sha256;
  char       *path;
  double      similarity;
  gint64      created_at;
};

G_DEFINE_FINAL_TYPE (LkGeneration, lk_generation, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_TEMPLATE_ID,
  PROP_PEOPLE,
  PROP_PARAMS,
  PROP_SEED,
  PROP_MODEL_HASHES,
  PROP_SHA256,
  PROP_PATH,
  PROP_SIMILARITY,
  PROP_CREATED_AT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

const char lk_generation_select_sql[] =
  "SELECT "
  "  g.id, "
  "  coalesce(g.template_id, 0), "
  "  (SELECT group_concat(coalesce(p.name, '?'), ', ') FROM (SELECT * FROM generation_people gp WHERE gp.generation_id = g.id ORDER BY gp.position) gp LEFT JOIN people p ON p.id = gp.person_id), "
  "  g.params, "
  "  g.seed, "
  "  g.model_hashes, "
  "  g.sha256, "
  "  g.file, "
  "  coalesce(g.similarity, -1), "
  "  g.created_at "
  "FROM generations g WHERE g.removing = 0";

LkGeneration *
lk_generation_new_from_stmt (sqlite3_stmt *stmt,
                             const char   *data_dir)
{
  LkGeneration *self = g_object_new (LK_TYPE_GENERATION, NULL);

  self->id = sqlite3_column_int64 (stmt, 0);
  self->template_id = sqlite3_column_int64 (stmt, 1);
  self->people = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  self->params = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
  self->seed = sqlite3_column_int64 (stmt, 4);
  self->model_hashes = g_strdup ((const char *) sqlite3_column_text (stmt, 5));
  self->sha256 = g_strdup ((const char *) sqlite3_column_text (stmt, 6));
  self->path = g_build_filename (data_dir, (const char *) sqlite3_column_text (stmt, 7), NULL);
  self->similarity = sqlite3_column_double (stmt, 8);
  self->created_at = sqlite3_column_int64 (stmt, 9);
  return self;
}

gboolean
lk_generation_equal (gconstpointer a,
                     gconstpointer b)
{
  const LkGeneration *x = a;
  const LkGeneration *y = b;

  return x->id == y->id &&
         x->template_id == y->template_id &&
         g_strcmp0 (x->people, y->people) == 0 &&
         g_strcmp0 (x->params, y->params) == 0 &&
         x->seed == y->seed &&
         g_strcmp0 (x->model_hashes, y->model_hashes) == 0 &&
         g_strcmp0 (x->sha256, y->sha256) == 0 &&
         g_strcmp0 (x->path, y->path) == 0 &&
         x->similarity == y->similarity &&
         x->created_at == y->created_at;
}

static void
lk_generation_finalize (GObject *object)
{
  LkGeneration *self = (LkGeneration *) object;

  g_clear_pointer (&self->people, g_free);
  g_clear_pointer (&self->params, g_free);
  g_clear_pointer (&self->model_hashes, g_free);
  g_clear_pointer (&self->sha256, g_free);
  g_clear_pointer (&self->path, g_free);

  G_OBJECT_CLASS (lk_generation_parent_class)->finalize (object);
}

static void
lk_generation_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  LkGeneration *self = LK_GENERATION (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_int64 (value, self->id);
      break;

    case PROP_TEMPLATE_ID:
      g_value_set_int64 (value, self->template_id);
      break;

    case PROP_PEOPLE:
      g_value_set_string (value, self->people);
      break;

    case PROP_PARAMS:
      g_value_set_string (value, self->params);
      break;

    case PROP_SEED:
      g_value_set_int64 (value, self->seed);
      break;

    case PROP_MODEL_HASHES:
      g_value_set_string (value, self->model_hashes);
      break;

    case PROP_SHA256:
      g_value_set_string (value, self->sha256);
      break;

    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;

    case PROP_SIMILARITY:
      g_value_set_double (value, self->similarity);
      break;

    case PROP_CREATED_AT:
      g_value_set_int64 (value, self->created_at);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_generation_class_init (LkGenerationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = lk_generation_finalize;
  object_class->get_property = lk_generation_get_property;

  properties[PROP_ID] =
    g_param_spec_int64 ("id", NULL, "Row id", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_TEMPLATE_ID] =
    g_param_spec_int64 ("template-id", NULL, "The template, 0 when it was removed", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_PEOPLE] =
    g_param_spec_string ("people", NULL, "Names of the people painted in, left to right", NULL, flags);
  properties[PROP_PARAMS] =
    g_param_spec_string ("params", NULL, "Every parameter, as JSON", NULL, flags);
  properties[PROP_SEED] =
    g_param_spec_int64 ("seed", NULL, "Seed", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_MODEL_HASHES] =
    g_param_spec_string ("model-hashes", NULL, "SHA-256 of each model used, as JSON", NULL, flags);
  properties[PROP_SHA256] =
    g_param_spec_string ("sha256", NULL, "SHA-256 of the output file", NULL, flags);
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, "Absolute path of the output file", NULL, flags);
  properties[PROP_SIMILARITY] =
    g_param_spec_double ("similarity", NULL, "Face-ID similarity, -1 when unknown", -G_MAXDOUBLE, G_MAXDOUBLE, 0, flags);
  properties[PROP_CREATED_AT] =
    g_param_spec_int64 ("created-at", NULL, "When it was made, seconds since the epoch", G_MININT64, G_MAXINT64, 0, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lk_generation_init (LkGeneration *self)
{
}

gint64
lk_generation_get_id (LkGeneration *self)
{
  g_return_val_if_fail (LK_IS_GENERATION (self), 0);

  return self->id;
}

gint64
lk_generation_get_template_id (LkGeneration *self)
{
  g_return_val_if_fail (LK_IS_GENERATION (self), 0);

  return self->template_id;
}

const char *
lk_generation_get_people (LkGeneration *self)
{
  g_return_val_if_fail (LK_IS_GENERATION (self), NULL);

  return self->people;
}

const char *
lk_generation_get_params (LkGeneration *self)
{
  g_return_val_if_fail (LK_IS_GENERATION (self), NULL);

  return self->params;
}

gint64
lk_generation_get_seed (LkGeneration *self)
{
  g_return_val_if_fail (LK_IS_GENERATION (self), 0);

  return self->seed;
}

const char *
lk_generation_get_model_hashes (LkGeneration *self)
{
  g_return_val_if_fail (LK_IS_GENERATION (self), NULL);

  return self->model_hashes;
}

const char *
lk_generation_get_sha256 (LkGeneration *self)
{
  g_return_val_if_fail (LK_IS_GENERATION (self), NULL);

  return self->sha256;
}

const char *
lk_generation_get_path (LkGeneration *self)
{
  g_return_val_if_fail (LK_IS_GENERATION (self), NULL);

  return self->path;
}

double
lk_generation_get_similarity (LkGeneration *self)
{
  g_return_val_if_fail (LK_IS_GENERATION (self), 0);

  return self->similarity;
}

gint64
lk_generation_get_created_at (LkGeneration *self)
{
  g_return_val_if_fail (LK_IS_GENERATION (self), 0);

  return self->created_at;
}
