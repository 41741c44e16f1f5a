/* lk-create-page.h: choose people and a template, then Generate
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lk-catalog.h"

G_BEGIN_DECLS

#define LK_TYPE_CREATE_PAGE (lk_create_page_get_type ())

G_DECLARE_FINAL_TYPE (LkCreatePage, lk_create_page, LK, CREATE_PAGE, GtkWidget)

void  lk_create_page_set_catalog     (LkCreatePage *self,
                                      LkCatalog    *catalog);
void  lk_create_page_select_template (LkCreatePage *self,
                                      gint64        template_id);
/* Toggles a person into the next face slot, or out. */
void  lk_create_page_toggle_person   (LkCreatePage *self,
                                      gint64        person_id,
                                      gboolean      chosen);
/* Chooses the people and template of an earlier generation ("use again"). */
void  lk_create_page_use_generation  (LkCreatePage *self,
                                      LkGeneration *generation);
/* What keeps Generate from starting, or NULL. */
char *lk_create_page_dup_missing     (LkCreatePage *self);

G_END_DECLS
