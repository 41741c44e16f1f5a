/* lk-window.h: the main window — People, Templates, Create, History, Jobs, Models
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lk-catalog.h"

G_BEGIN_DECLS

#define LK_TYPE_WINDOW (lk_window_get_type ())
G_DECLARE_FINAL_TYPE (LkWindow, lk_window, LK, WINDOW, AdwApplicationWindow)

/* catalog may be NULL when it could not be opened; the window then says why. */
LkWindow  *lk_window_new         (GtkApplication *application,
                                  LkCatalog      *catalog);
LkCatalog *lk_window_get_catalog (LkWindow       *self);
/* people, templates, create, history, jobs or models */
void       lk_window_show_page   (LkWindow       *self,
                                  const char     *name);

G_END_DECLS
