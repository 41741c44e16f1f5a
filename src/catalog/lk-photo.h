/* lk-photo.h: LkPhoto, one photo of a person, as stored in the data directory
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* A snapshot of one row; the catalog's list models replace it when the row changes. */
#define LK_TYPE_PHOTO (lk_photo_get_type ())

G_DECLARE_FINAL_TYPE (LkPhoto, lk_photo, LK, PHOTO, GObject)

gint64      lk_photo_get_id            (LkPhoto *self);
gint64      lk_photo_get_person_id     (LkPhoto *self);
const char *lk_photo_get_sha256        (LkPhoto *self);
const char *lk_photo_get_path          (LkPhoto *self);
const char *lk_photo_get_original_name (LkPhoto *self);
int         lk_photo_get_width         (LkPhoto *self);
int         lk_photo_get_height        (LkPhoto *self);
int         lk_photo_get_orientation   (LkPhoto *self);
gint64      lk_photo_get_size          (LkPhoto *self);
gint64      lk_photo_get_added_at      (LkPhoto *self);

G_END_DECLS
