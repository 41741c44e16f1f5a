/* lk-templates-page.h: built-in and user templates; import, remove
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lk-catalog.h"

G_BEGIN_DECLS

#define LK_TYPE_TEMPLATES_PAGE (lk_templates_page_get_type ())

G_DECLARE_FINAL_TYPE (LkTemplatesPage, lk_templates_page, LK, TEMPLATES_PAGE, GtkWidget)

void     lk_templates_page_set_catalog (LkTemplatesPage *self,
                                        LkCatalog       *catalog);
void     lk_templates_page_import      (LkTemplatesPage *self,
                                        GPtrArray       *files);
gboolean lk_templates_page_get_busy    (LkTemplatesPage *self);

G_END_DECLS
