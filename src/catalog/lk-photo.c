/* lk-photo.c: LkPhoto, one photo of a person, as stored in the data directory
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-photo.h"
#include "lk-catalog-private.h"

struct _LkPhoto
{
  GObject parent_instance;

  gint64      id;
  gint64      person_id;
  char       *sha256;
  char       *path;
  char       *original_name;
  int         width;
  int         height;
  int         orientation;
  gint64      size;
  gint64      added_at;
};

G_DEFINE_FINAL_TYPE (LkPhoto, lk_photo, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_PERSON_ID,
  PROP_SHA256,
  PROP_PATH,
  PROP_ORIGINAL_NAME,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_ORIENTATION,
  PROP_SIZE,
  PROP_ADDED_AT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

const char lk_photo_select_sql[] =
  "SELECT "
  "  id, "
  "  person_id, "
  "  sha256, "
  "  file, "
  "  original_name, "
  "  width, "
  "  height, "
  "  orientation, "
  "  size, "
  "  added_at "
  "FROM photos WHERE removing = 0";

LkPhoto *
lk_photo_new_from_stmt (sqlite3_stmt *stmt,
                        const char   *data_dir)
{
  LkPhoto *self = g_object_new (LK_TYPE_PHOTO, NULL);

  self->id = sqlite3_column_int64 (stmt, 0);
  self->person_id = sqlite3_column_int64 (stmt, 1);
  self->sha256 = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  self->path = g_build_filename (data_dir, (const char *) sqlite3_column_text (stmt, 3), NULL);
  self->original_name = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
  self->width = sqlite3_column_int (stmt, 5);
  self->height = sqlite3_column_int (stmt, 6);
  self->orientation = sqlite3_column_int (stmt, 7);
  self->size = sqlite3_column_int64 (stmt, 8);
  self->added_at = sqlite3_column_int64 (stmt, 9);
  return self;
}

gboolean
lk_photo_equal (gconstpointer a,
                gconstpointer b)
{
  const LkPhoto *x = a;
  const LkPhoto *y = b;

  return x->id == y->id &&
         x->person_id == y->person_id &&
         g_strcmp0 (x->sha256, y->sha256) == 0 &&
         g_strcmp0 (x->path, y->path) == 0 &&
         g_strcmp0 (x->original_name, y->original_name) == 0 &&
         x->width == y->width &&
         x->height == y->height &&
         x->orientation == y->orientation &&
         x->size == y->size &&
         x->added_at == y->added_at;
}

static void
lk_photo_finalize (GObject *object)
{
  LkPhoto *self = (LkPhoto *) object;

  g_clear_pointer (&self->sha256, g_free);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->original_name, g_free);

  G_OBJECT_CLASS (lk_photo_parent_class)->finalize (object);
}

static void
lk_photo_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  LkPhoto *self = LK_PHOTO (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_int64 (value, self->id);
      break;

    case PROP_PERSON_ID:
      g_value_set_int64 (value, self->person_id);
      break;

    case PROP_SHA256:
      g_value_set_string (value, self->sha256);
      break;

    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;

    case PROP_ORIGINAL_NAME:
      g_value_set_string (value, self->original_name);
      break;

    case PROP_WIDTH:
      g_value_set_int (value, self->width);
      break;

    case PROP_HEIGHT:
      g_value_set_int (value, self->height);
      break;

    case PROP_ORIENTATION:
      g_value_set_int (value, self->orientation);
      break;

    case PROP_SIZE:
      g_value_set_int64 (value, self->size);
      break;

    case PROP_ADDED_AT:
      g_value_set_int64 (value, self->added_at);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_photo_class_init (LkPhotoClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = lk_photo_finalize;
  object_class->get_property = lk_photo_get_property;

  properties[PROP_ID] =
    g_param_spec_int64 ("id", NULL, "Row id", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_PERSON_ID] =
    g_param_spec_int64 ("person-id", NULL, "The person shown", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_SHA256] =
    g_param_spec_string ("sha256", NULL, "SHA-256 of the file", NULL, flags);
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, "Absolute path of the stored file", NULL, flags);
  properties[PROP_ORIGINAL_NAME] =
    g_param_spec_string ("original-name", NULL, "File name it was added from", NULL, flags);
  properties[PROP_WIDTH] =
    g_param_spec_int ("width", NULL, "Width after EXIF orientation", G_MININT, G_MAXINT, 0, flags);
  properties[PROP_HEIGHT] =
    g_param_spec_int ("height", NULL, "Height after EXIF orientation", G_MININT, G_MAXINT, 0, flags);
  properties[PROP_ORIENTATION] =
    g_param_spec_int ("orientation", NULL, "EXIF orientation, 1-8", G_MININT, G_MAXINT, 0, flags);
  properties[PROP_SIZE] =
    g_param_spec_int64 ("size", NULL, "File size in bytes", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_ADDED_AT] =
    g_param_spec_int64 ("added-at", NULL, "When it was added, seconds since the epoch", G_MININT64, G_MAXINT64, 0, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lk_photo_init (LkPhoto *self)
{
}

gint64
lk_photo_get_id (LkPhoto *self)
{
  g_return_val_if_fail (LK_IS_PHOTO (self), 0);

  return self->id;
}

gint64
lk_photo_get_person_id (LkPhoto *self)
{
  g_return_val_if_fail (LK_IS_PHOTO (self), 0);

  return self->person_id;
}

const char *
lk_photo_get_sha256 (LkPhoto *self)
{
  g_return_val_if_fail (LK_IS_PHOTO (self), NULL);

  return self->sha256;
}

const char *
lk_photo_get_path (LkPhoto *self)
{
  g_return_val_if_fail (LK_IS_PHOTO (self), NULL);

  return self->path;
}

const char *
lk_photo_get_original_name (LkPhoto *self)
{
  g_return_val_if_fail (LK_IS_PHOTO (self), NULL);

  return self->original_name;
}

int
lk_photo_get_width (LkPhoto *self)
{
  g_return_val_if_fail (LK_IS_PHOTO (self), 0);

  return self->width;
}

int
lk_photo_get_height (LkPhoto *self)
{
  g_return_val_if_fail (LK_IS_PHOTO (self), 0);

  return self->height;
}

int
lk_photo_get_orientation (LkPhoto *self)
{
  g_return_val_if_fail (LK_IS_PHOTO (self), 0);

  return self->orientation;
}

gint64
lk_photo_get_size (LkPhoto *self)
{
  g_return_val_if_fail (LK_IS_PHOTO (self), 0);

  return self->size;
}

gint64
lk_photo_get_added_at (LkPhoto *self)
{
  g_return_val_if_fail (LK_IS_PHOTO (self), 0);

  return self->added_at;
}
