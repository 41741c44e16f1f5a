/* lk-catalog-image.h: what an imported image is, found without trusting it
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  int         width;        /* after EXIF orientation */
  int         height;
  int         orientation;  /* EXIF 1–8 */
  const char *extension;    /* "jpg", "png", "webp" */
} LkCatalogImageInfo;

/* Reads the header first and refuses more than max_pixels before decoding anything, then
 * decodes the whole image to be sure it is one. name is for messages. */
gboolean lk_catalog_image_inspect (GBytes              *bytes,
                                   const char          *name,
                                   guint64              max_pixels,
                                   LkCatalogImageInfo  *info,
                                   GError             **error);

/* Reads path whole, refusing an empty file or one over max_size bytes before reading it. */
GBytes  *lk_catalog_image_read    (const char          *path,
                                   guint64              max_size,
                                   GError             **error);

G_END_DECLS
