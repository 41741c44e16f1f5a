/* lk-capabilities.h: what stands between the user and training or generating
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-catalog.h"

G_BEGIN_DECLS

/* The fewest and most photos EasyPhoto trains on (it keeps the best 15). */
#define LK_MIN_TRAINING_PHOTOS 5
#define LK_MAX_TRAINING_PHOTOS 20

/* Each returns NULL when the step can start, else a sentence saying what is missing. */
char *lk_capabilities_check_training   (LkCatalog    *catalog,
                                        LkPerson     *person,
                                        guint         n_photos);
char *lk_capabilities_check_generation (LkCatalog    *catalog,
                                        GPtrArray    *people,
                                        LkTemplate   *template);

/* Whether a Stable Diffusion 1.5 checkpoint is ready: when not, the pages offer the Models
 * page. */
gboolean lk_capabilities_have_base_model (LkCatalog *catalog);

G_END_DECLS
