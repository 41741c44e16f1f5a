/* lk-history-page.h: generated portraits with their parameters and similarity scores
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lk-catalog.h"

G_BEGIN_DECLS

#define LK_TYPE_HISTORY_PAGE (lk_history_page_get_type ())

G_DECLARE_FINAL_TYPE (LkHistoryPage, lk_history_page, LK, HISTORY_PAGE, GtkWidget)

void lk_history_page_set_catalog   (LkHistoryPage *self,
                                    LkCatalog     *catalog);
void lk_history_page_show_position (LkHistoryPage *self,
                                    guint          position);

G_END_DECLS
