/* lk-template-tile.h: a template in a grid — picture, face count badge, name
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "lk-catalog.h"

G_BEGIN_DECLS

#define LK_TYPE_TEMPLATE_TILE (lk_template_tile_get_type ())

G_DECLARE_FINAL_TYPE (LkTemplateTile, lk_template_tile, LK, TEMPLATE_TILE, GtkWidget)

GtkWidget *lk_template_tile_new             (gboolean        removable);
void       lk_template_tile_set_template    (LkTemplateTile *self,
                                             LkTemplate     *template);
/* Fills a GtkSignalListItemFactory with tiles; removable adds a button for templates.remove. */
void       lk_template_tile_setup_factory   (GtkListItemFactory *factory,
                                             gboolean            removable);

G_END_DECLS
