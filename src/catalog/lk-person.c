/* lk-person.c: LkPerson, a person whose likeness the catalog keeps
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-person.h"
#include "lk-catalog-private.h"

struct _LkPerson
{
  GObject parent_instance;

  gint64      id;
  char       *name;
  gint64      created_at;
  guint       photo_count;
};

G_DEFINE_FINAL_TYPE (LkPerson, lk_person, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_CREATED_AT,
  PROP_PHOTO_COUNT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

const char lk_person_select_sql[] =
  "SELECT "
  "  p.id, "
  "  p.name, "
  "  p.created_at, "
  "  (SELECT count(*) FROM photos ph WHERE ph.person_id = p.id AND ph.removing = 0) "
  "FROM people p WHERE p.removing = 0";

LkPerson *
lk_person_new_from_stmt (sqlite3_stmt *stmt,
                         const char   *data_dir)
{
  LkPerson *self = g_object_new (LK_TYPE_PERSON, NULL);

  self->id = sqlite3_column_int64 (stmt, 0);
  self->name = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  self->created_at = sqlite3_column_int64 (stmt, 2);
  self->photo_count = sqlite3_column_int (stmt, 3);
  return self;
}

gboolean
lk_person_equal (gconstpointer a,
                 gconstpointer b)
{
  const LkPerson *x = a;
  const LkPerson *y = b;

  return x->id == y->id &&
         g_strcmp0 (x->name, y->name) == 0 &&
         x->created_at == y->created_at &&
         x->photo_count == y->photo_count;
}

static void
lk_person_finalize (GObject *object)
{
  LkPerson *self = (LkPerson *) object;

  g_clear_pointer (&self->name, g_free);

  G_OBJECT_CLASS (lk_person_parent_class)->finalize (object);
}

static void
lk_person_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  LkPerson *self = LK_PERSON (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_int64 (value, self->id);
      break;

    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;

    case PROP_CREATED_AT:
      g_value_set_int64 (value, self->created_at);
      break;

    case PROP_PHOTO_COUNT:
      g_value_set_uint (value, self->photo_count);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_person_class_init (LkPersonClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = lk_person_finalize;
  object_class->get_property = lk_person_get_property;

  properties[PROP_ID] =
    g_param_spec_int64 ("id", NULL, "Row id", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, "Name", NULL, flags);
  properties[PROP_CREATED_AT] =
    g_param_spec_int64 ("created-at", NULL, "Creation time, seconds since the epoch", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_PHOTO_COUNT] =
    g_param_spec_uint ("photo-count", NULL, "Number of photos", 0, G_MAXUINT, 0, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lk_person_init (LkPerson *self)
{
}

gint64
lk_person_get_id (LkPerson *self)
{
  g_return_val_if_fail (LK_IS_PERSON (self), 0);

  return self->id;
}

const char *
lk_person_get_name (LkPerson *self)
{
  g_return_val_if_fail (LK_IS_PERSON (self), NULL);

  return self->name;
}

gint64
lk_person_get_created_at (LkPerson *self)
{
  g_return_val_if_fail (LK_IS_PERSON (self), 0);

  return self->created_at;
}

guint
lk_person_get_photo_count (LkPerson *self)
{
  g_return_val_if_fail (LK_IS_PERSON (self), 0);

  return self->photo_count;
}
