/* lk-template.h: LkTemplate, a template photo that people are painted into
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* A snapshot of one row; the catalog's list models replace it when the row changes. */
#define LK_TYPE_TEMPLATE (lk_template_get_type ())

G_DECLARE_FINAL_TYPE (LkTemplate, lk_template, LK, TEMPLATE, GObject)

gint64      lk_template_get_id         (LkTemplate *self);
const char *lk_template_get_name       (LkTemplate *self);
gboolean    lk_template_get_builtin    (LkTemplate *self);
const char *lk_template_get_sha256     (LkTemplate *self);
const char *lk_template_get_path       (LkTemplate *self);
int         lk_template_get_width      (LkTemplate *self);
int         lk_template_get_height     (LkTemplate *self);
int         lk_template_get_face_count (LkTemplate *self);
const char *lk_template_get_face_boxes (LkTemplate *self);
gint64      lk_template_get_added_at   (LkTemplate *self);

G_END_DECLS
