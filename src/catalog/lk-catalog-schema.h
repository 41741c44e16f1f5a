/* lk-catalog-schema.h: the catalog's tables and the steps that build them
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <sqlite3.h>
#include <glib.h>

G_BEGIN_DECLS

/* The version a fresh catalog reaches; PRAGMA user_version holds the version a file is at. */
#define LK_CATALOG_SCHEMA_VERSION 2

/* Brings db from its user_version up to target, one transaction per step. Refuses a file newer
 * than LK_CATALOG_SCHEMA_VERSION with LK_CATALOG_ERROR_VERSION. Tests pass an older target to
 * make the catalogs earlier releases wrote. */
gboolean lk_catalog_schema_migrate     (sqlite3  *db,
                                        int       target,
                                        GError  **error);
int      lk_catalog_schema_get_version (sqlite3  *db,
                                        GError  **error);

G_END_DECLS
