/* lk-person-page.h: one person's photos, the drop target for more, and the Train button
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lk-catalog.h"

G_BEGIN_DECLS

#define LK_TYPE_PERSON_PAGE (lk_person_page_get_type ())

G_DECLARE_FINAL_TYPE (LkPersonPage, lk_person_page, LK, PERSON_PAGE, GtkWidget)

LkCatalog *lk_person_page_get_catalog   (LkPersonPage *self);
void       lk_person_page_set_catalog   (LkPersonPage *self,
                                         LkCatalog    *catalog);
LkPerson  *lk_person_page_get_person    (LkPersonPage *self);
void       lk_person_page_set_person    (LkPersonPage *self,
                                         LkPerson     *person);
gboolean   lk_person_page_get_busy      (LkPersonPage *self);
void       lk_person_page_set_show_back (LkPersonPage *self,
                                         gboolean      show_back);
/* Adds files (GFiles; folders are walked) to the person, off the main thread. */
void       lk_person_page_import        (LkPersonPage *self,
                                         GPtrArray    *files);

G_END_DECLS
