/* lk-models-page.h: what each feature needs, what is there; downloads and adopted files
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "lk-catalog.h"
#include "lk-model-registry.h"

G_BEGIN_DECLS

#define LK_TYPE_MODELS_PAGE (lk_models_page_get_type ())

G_DECLARE_FINAL_TYPE (LkModelsPage, lk_models_page, LK, MODELS_PAGE, GtkWidget)

void      lk_models_page_set_catalog   (LkModelsPage    *self,
                                        LkCatalog       *catalog);
/* The models listed; the one built into Likeness unless set (tests point it at their own
 * server). */
void      lk_models_page_set_registry  (LkModelsPage    *self,
                                        LkModelRegistry *registry);
/* What "Use Existing File…" does once a file is chosen: recognise its kind on a worker and
 * record it, in place, as model name; a file of the wrong kind is refused on the row. */
void      lk_models_page_adopt_file    (LkModelsPage    *self,
                                        const char      *name,
                                        GFile           *file);
/* Whether a download or an adoption is running. */
gboolean  lk_models_page_get_busy      (LkModelsPage    *self);

G_END_DECLS
