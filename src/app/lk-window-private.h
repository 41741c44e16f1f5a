/* lk-window-private.h: what the tests reach inside LkWindow
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-create-page.h"
#include "lk-history-page.h"
#include "lk-jobs-page.h"
#include "lk-models-page.h"
#include "lk-people-page.h"
#include "lk-templates-page.h"
#include "lk-window.h"

G_BEGIN_DECLS

LkPeoplePage    *lk_window_get_people_page    (LkWindow *self);
LkTemplatesPage *lk_window_get_templates_page (LkWindow *self);
LkCreatePage    *lk_window_get_create_page    (LkWindow *self);
LkHistoryPage   *lk_window_get_history_page   (LkWindow *self);
LkModelsPage    *lk_window_get_models_page    (LkWindow *self);
AdwToastOverlay *lk_window_get_toast_overlay  (LkWindow *self);

G_END_DECLS
