/* lk-preferences-window.h: data folder, GPU, model folders, quality defaults (GSettings)
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define LK_TYPE_PREFERENCES_WINDOW (lk_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (LkPreferencesWindow, lk_preferences_window, LK, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

/* data_dir: the folder the open catalog uses (it may come from LIKENESS_DATA_DIR). */
GtkWidget *lk_preferences_window_new        (GtkWindow  *parent,
                                             const char *data_dir);
/* Whether the GPU list has arrived: tests wait for it before a screenshot. */
gboolean   lk_preferences_window_get_loaded (LkPreferencesWindow *self);

G_END_DECLS
