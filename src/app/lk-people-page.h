/* lk-people-page.h: the people list beside the chosen person's page
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lk-catalog.h"
#include "lk-person-page.h"

G_BEGIN_DECLS

#define LK_TYPE_PEOPLE_PAGE (lk_people_page_get_type ())

G_DECLARE_FINAL_TYPE (LkPeoplePage, lk_people_page, LK, PEOPLE_PAGE, GtkWidget)

void          lk_people_page_set_catalog     (LkPeoplePage  *self,
                                              LkCatalog     *catalog);
/* Adds a person and shows their page. */
LkPerson     *lk_people_page_add_person      (LkPeoplePage  *self,
                                              const char    *name,
                                              GError       **error);
void          lk_people_page_show_person     (LkPeoplePage  *self,
                                              gint64         person_id);
LkPersonPage *lk_people_page_get_person_page (LkPeoplePage  *self);

G_END_DECLS
