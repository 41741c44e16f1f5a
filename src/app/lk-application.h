/* lk-application.h: the app — one catalog, windows, app-wide actions
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define LK_TYPE_APPLICATION (lk_application_get_type ())
G_DECLARE_FINAL_TYPE (LkApplication, lk_application, LK, APPLICATION, AdwApplication)

LkApplication *lk_application_new           (void);
/* Registers the app's GResource (.ui, CSS, icons); idempotent. Tests call it too. */
void           lk_application_init_resources (void);
/* $LIKENESS_DATA_DIR, else the data-dir setting, else the catalog's default. */
char          *lk_application_dup_data_dir   (GSettings *settings);

G_END_DECLS
