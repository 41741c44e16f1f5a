/* lk-person-page-private.h: what the tests reach inside LkPersonPage
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-person-page.h"

G_BEGIN_DECLS

GtkDropTarget    *lk_person_page_get_drop_target (LkPersonPage *self);
GtkGridView      *lk_person_page_get_grid_view   (LkPersonPage *self);
/* The photos shown: the catalog's, less those removed with undo still possible. */
GListModel       *lk_person_page_get_photos      (LkPersonPage *self);
/* Removes a photo as its button does: hidden now, gone from the catalog when the toast goes. */
void              lk_person_page_remove_photo    (LkPersonPage *self,
                                                  gint64        photo_id);
AdwToast         *lk_person_page_get_undo_toast  (LkPersonPage *self);
/* The Rename or Remove Person dialog while it is open. */
AdwMessageDialog *lk_person_page_get_dialog      (LkPersonPage *self);

G_END_DECLS
