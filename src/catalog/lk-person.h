/* lk-person.h: LkPerson, a person whose likeness the catalog keeps
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* A snapshot of one row; the catalog's list models replace it when the row changes. */
#define LK_TYPE_PERSON (lk_person_get_type ())

G_DECLARE_FINAL_TYPE (LkPerson, lk_person, LK, PERSON, GObject)

gint64      lk_person_get_id          (LkPerson *self);
const char *lk_person_get_name        (LkPerson *self);
gint64      lk_person_get_created_at  (LkPerson *self);
guint       lk_person_get_photo_count (LkPerson *self);

G_END_DECLS
