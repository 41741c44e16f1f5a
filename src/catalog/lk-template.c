/* lk-template.c: LkTemplate, a template photo that people are painted into
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-template.h"
#include "lk-catalog-private.h"

struct _LkTemplate
{
  GObject parent_instance;

  gint64      id;
  char       *name;
  gboolean    builtin;
  char       *sha256;
  char       *path;
  int         width;
  int         height;
  int         face_count;
  char       *face_boxes;
  gint64      added_at;
};

G_DEFINE_FINAL_TYPE (LkTemplate, lk_template, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_BUILTIN,
  PROP_SHA256,
  PROP_PATH,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_FACE_COUNT,
  PROP_FACE_BOXES,
  PROP_ADDED_AT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

const char lk_template_select_sql[] =
  "SELECT "
  "  id, "
  "  name, "
  "  builtin, "
  "  sha256, "
  "  file, "
  "  width, "
  "  height, "
  "  coalesce(face_count, -1), "
  "  face_boxes, "
  "  added_at "
  "FROM templates WHERE removing = 0";

LkTemplate *
lk_template_new_from_stmt (sqlite3_stmt *stmt,
                           const char   *data_dir)
{
  LkTemplate *self = g_object_new (LK_TYPE_TEMPLATE, NULL);

  self->id = sqlite3_column_int64 (stmt, 0);
  self->name = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  self->builtin = sqlite3_column_int (stmt, 2);
  self->sha256 = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
  self->path = g_build_filename (data_dir, (const char *) sqlite3_column_text (stmt, 4), NULL);
  self->width = sqlite3_column_int (stmt, 5);
  self->height = sqlite3_column_int (stmt, 6);
  self->face_count = sqlite3_column_int (stmt, 7);
  self->face_boxes = g_strdup ((const char *) sqlite3_column_text (stmt, 8));
  self->added_at = sqlite3_column_int64 (stmt, 9);
  return self;
}

gboolean
lk_template_equal (gconstpointer a,
                   gconstpointer b)
{
  const LkTemplate *x = a;
  const LkTemplate *y = b;

  return x->id == y->id &&
         g_strcmp0 (x->name, y->name) == 0 &&
         x->builtin == y->builtin &&
         g_strcmp0 (x->sha256, y->sha256) == 0 &&
         g_strcmp0 (x->path, y->path) == 0 &&
         x->width == y->width &&
         x->height == y->height &&
         x->face_count == y->face_count &&
         g_strcmp0 (x->face_boxes, y->face_boxes) == 0 &&
         x->added_at == y->added_at;
}

static void
lk_template_finalize (GObject *object)
{
  LkTemplate *self = (LkTemplate *) object;

  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->sha256, g_free);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->face_boxes, g_free);

  G_OBJECT_CLASS (lk_template_parent_class)->finalize (object);
}

static void
lk_template_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  LkTemplate *self = LK_TEMPLATE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_int64 (value, self->id);
      break;

    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;

    case PROP_BUILTIN:
      g_value_set_boolean (value, self->builtin);
      break;

    case PROP_SHA256:
      g_value_set_string (value, self->sha256);
      break;

    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;

    case PROP_WIDTH:
      g_value_set_int (value, self->width);
      break;

    case PROP_HEIGHT:
      g_value_set_int (value, self->height);
      break;

    case PROP_FACE_COUNT:
      g_value_set_int (value, self->face_count);
      break;

    case PROP_FACE_BOXES:
      g_value_set_string (value, self->face_boxes);
      break;

    case PROP_ADDED_AT:
      g_value_set_int64 (value, self->added_at);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_template_class_init (LkTemplateClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = lk_template_finalize;
  object_class->get_property = lk_template_get_property;

  properties[PROP_ID] =
    g_param_spec_int64 ("id", NULL, "Row id", G_MININT64, G_MAXINT64, 0, flags);
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, "Name", NULL, flags);
  properties[PROP_BUILTIN] =
    g_param_spec_boolean ("builtin", NULL, "Whether Likeness ships it", FALSE, flags);
  properties[PROP_SHA256] =
    g_param_spec_string ("sha256", NULL, "SHA-256 of the file", NULL, flags);
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, "Absolute path of the stored file", NULL, flags);
  properties[PROP_WIDTH] =
    g_param_spec_int ("width", NULL, "Width after EXIF orientation", G_MININT, G_MAXINT, 0, flags);
  properties[PROP_HEIGHT] =
    g_param_spec_int ("height", NULL, "Height after EXIF orientation", G_MININT, G_MAXINT, 0, flags);
  properties[PROP_FACE_COUNT] =
    g_param_spec_int ("face-count", NULL, "Number of faces, -1 before detection", G_MININT, G_MAXINT, 0, flags);
  properties[PROP_FACE_BOXES] =
    g_param_spec_string ("face-boxes", NULL, "Face boxes as JSON [[x, y, w, h], ...]", NULL, flags);
  properties[PROP_ADDED_AT] =
    g_param_spec_int64 ("added-at", NULL, "When it was added, seconds since the epoch", G_MININT64, G_MAXINT64, 0, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lk_template_init (LkTemplate *self)
{
}

gint64
lk_template_get_id (LkTemplate *self)
{
  g_return_val_if_fail (LK_IS_TEMPLATE (self), 0);

  return self->id;
}

const char *
lk_template_get_name (LkTemplate *self)
{
  g_return_val_if_fail (LK_IS_TEMPLATE (self), NULL);

  return self->name;
}

gboolean
lk_template_get_builtin (LkTemplate *self)
{
  g_return_val_if_fail (LK_IS_TEMPLATE (self), 0);

  return self->builtin;
}

const char *
lk_template_get_sha256 (LkTemplate *self)
{
  g_return_val_if_fail (LK_IS_TEMPLATE (self), NULL);

  return self->sha256;
}

const char *
lk_template_get_path (LkTemplate *self)
{
  g_return_val_if_fail (LK_IS_TEMPLATE (self), NULL);

  return self->path;
}

int
lk_template_get_width (LkTemplate *self)
{
  g_return_val_if_fail (LK_IS_TEMPLATE (self), 0);

  return self->width;
}

int
lk_template_get_height (LkTemplate *self)
{
  g_return_val_if_fail (LK_IS_TEMPLATE (self), 0);

  return self->height;
}

int
lk_template_get_face_count (LkTemplate *self)
{
  g_return_val_if_fail (LK_IS_TEMPLATE (self), 0);

  return self->face_count;
}

const char *
lk_template_get_face_boxes (LkTemplate *self)
{
  g_return_val_if_fail (LK_IS_TEMPLATE (self), NULL);

  return self->face_boxes;
}

gint64
lk_template_get_added_at (LkTemplate *self)
{
  g_return_val_if_fail (LK_IS_TEMPLATE (self), 0);

  return self->added_at;
}
