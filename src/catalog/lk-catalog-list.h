/* lk-catalog-list.h: a GListModel of catalog rows that follows the catalog
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lk-catalog.h"

G_BEGIN_DECLS

#define LK_TYPE_CATALOG_LIST (lk_catalog_list_get_type ())

G_DECLARE_FINAL_TYPE (LkCatalogList, lk_catalog_list, LK, CATALOG_LIST, GObject)

LkCatalog *lk_catalog_list_get_catalog (LkCatalogList *self);
/* Reads the rows again now instead of waiting for the next poll. */
void       lk_catalog_list_reload      (LkCatalogList *self);

G_END_DECLS
