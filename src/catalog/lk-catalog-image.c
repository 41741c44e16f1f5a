/* lk-catalog-image.c: header first, limits, then a full decode
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "lk-catalog-image.h"
#include "lk-catalog.h"

#include <errno.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <string.h>

#define PROBE_CHUNK 4096

/* Only these formats are decoded, picked by their magic bytes: no other loader ever sees an
 * imported file, and a known loader takes the data at once (auto-detection would hold back
 * the first 128 bytes, hiding a small file's size until everything was decoded). */
static const struct
{
  const char   *format;
  const char   *extension;
  gsize         offset;
  const char   *magic;
  gsize         magic_len;
} accepted[] = {
  { "jpeg", "jpg", 0, "\xff\xd8\xff", 3 },
  { "png", "png", 0, "\x89PNG\r\n\x1a\n", 8 },
  { "webp", "webp", 8, "WEBP", 4 },  /* after "RIFF" and a length */
};

typedef struct
{
  gboolean header_only;
  gboolean prepared;
  int      width;
  int      height;
} Probe;

static void
size_prepared_cb (GdkPixbufLoader *loader,
                  int              width,
                  int              height,
                  Probe           *probe)
{
  probe->prepared = TRUE;
  probe->width = width;
  probe->height = height;
  /* A loader allocates the full-size pixbuf right after this signal, inside the same write: a
   * zero size makes it stop there instead, so a bomb never gets its memory. */
  if (probe->header_only)
    gdk_pixbuf_loader_set_size (loader, 0, 0);
}

static gboolean
refuse_not_image (GError     **error,
                  const char  *name)
{
  g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_IMAGE,
               "“%s” is not an image Likeness can read (JPEG, PNG or WebP)", name);
  return FALSE;
}

GBytes *
lk_catalog_image_read (const char  *path,
                       guint64      max_size,
                       GError     **error)
{
  g_autoptr(GMappedFile) mapped = NULL;
  g_autoptr(GError) local_error = NULL;
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, LK_CATALOG_ERROR,
                   saved_errno == ENOENT ? LK_CATALOG_ERROR_NOT_FOUND : LK_CATALOG_ERROR_IO,
                   "Could not read “%s”: %s", path, g_strerror (saved_errno));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_IMAGE,
                   "“%s” is not a regular file", path);
      return NULL;
    }
  if (st.st_size == 0)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_EMPTY, "“%s” is empty", path);
      return NULL;
    }
  if ((guint64) st.st_size > max_size)
    {
      g_autofree char *size = g_format_size (st.st_size);
      g_autofree char *limit = g_format_size (max_size);

      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_TOO_LARGE,
                   "“%s” is %s; images may be at most %s", path, size, limit);
      return NULL;
    }

  mapped = g_mapped_file_new (path, FALSE, &local_error);
  if (mapped == NULL)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_IO,
                   "Could not read “%s”: %s", path, local_error->message);
      return NULL;
    }
  /* A copy: the file may change under a mapping, and what was checked must be what is stored. */
  return g_bytes_new (g_mapped_file_get_contents (mapped), g_mapped_file_get_length (mapped));
}

gboolean
lk_catalog_image_inspect (GBytes              *bytes,
                          const char          *name,
                          guint64              max_pixels,
                          LkCatalogImageInfo  *info,
                          GError             **error)
{
  g_autoptr(GdkPixbufLoader) probe_loader = NULL;
  g_autoptr(GdkPixbufLoader) loader = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *format_name = NULL;
  GdkPixbuf *pixbuf;
  const char *orientation;
  const guint8 *data;
  Probe probe = { .header_only = TRUE };
  Probe decoded = { 0 };
  gboolean probe_closed = FALSE;
  gsize len;

  g_return_val_if_fail (bytes != NULL && info != NULL, FALSE);

  data = g_bytes_get_data (bytes, &len);
  if (len == 0)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_EMPTY, "“%s” is empty", name);
      return FALSE;
    }

  info->extension = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (accepted) && info->extension == NULL; i++)
    if (len >= accepted[i].offset + accepted[i].magic_len &&
        memcmp (data + accepted[i].offset, accepted[i].magic, accepted[i].magic_len) == 0 &&
        (i != 2 || memcmp (data, "RIFF", 4) == 0))
      {
        format_name = accepted[i].format;
        info->extension = accepted[i].extension;
      }
  if (format_name == NULL)
    return refuse_not_image (error, name);

  probe_loader = gdk_pixbuf_loader_new_with_type (format_name, NULL);
  if (probe_loader == NULL)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_IMAGE,
                   "“%s” is a %s image, and this system has no loader for it%s", name,
                   format_name, strcmp (format_name, "webp") == 0
                                  ? " (install webp-pixbuf-loader)" : "");
      return FALSE;
    }

  /* The header pass: feed small chunks until the loader knows the size, then stop — a
   * decompression bomb is refused before any pixel memory exists. */
  g_signal_connect (probe_loader, "size-prepared", G_CALLBACK (size_prepared_cb), &probe);
  for (gsize offset = 0; offset < len && !probe.prepared; offset += PROBE_CHUNK)
    if (!gdk_pixbuf_loader_write (probe_loader, data + offset, MIN (PROBE_CHUNK, len - offset),
                                  NULL))
      {
        probe_closed = TRUE;  /* a failed write closes the loader */
        break;
      }
  if (!probe_closed)
    gdk_pixbuf_loader_close (probe_loader, NULL);
  if (!probe.prepared)
    return refuse_not_image (error, name);

  if (probe.width <= 0 || probe.height <= 0 ||
      (guint64) probe.width * (guint64) probe.height > max_pixels)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_TOO_LARGE,
                   "“%s” declares %d × %d pixels; images may have at most %.1f megapixels "
                   "(a decompression bomb?)", name, probe.width, probe.height, max_pixels / 1e6);
      return FALSE;
    }

  /* gdk-pixbuf's PNG loader takes a file cut short once it has the header; a PNG must end in
   * its IEND chunk. */
  if (strcmp (format_name, "png") == 0 &&
      (len < 12 || memcmp (data + len - 8, "IEND", 4) != 0))
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_IMAGE,
                   "“%s” is a damaged image: the file is cut short", name);
      return FALSE;
    }

  loader = gdk_pixbuf_loader_new_with_type (format_name, NULL);
  if (loader == NULL)
    return refuse_not_image (error, name);
  g_signal_connect (loader, "size-prepared", G_CALLBACK (size_prepared_cb), &decoded);
  if (!gdk_pixbuf_loader_write (loader, data, len, &local_error) ||
      !gdk_pixbuf_loader_close (loader, &local_error) ||
      (pixbuf = gdk_pixbuf_loader_get_pixbuf (loader)) == NULL)
    {
      g_set_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_IMAGE,
                   "“%s” is a damaged image: %s", name,
                   local_error ? local_error->message : "nothing could be decoded");
      return FALSE;
    }
  /* Both passes read the same bytes, so the sizes agree; a loader that disagrees is a bug. */
  g_assert (decoded.width == probe.width && decoded.height == probe.height);

  orientation = gdk_pixbuf_get_option (pixbuf, "orientation");
  info->orientation = orientation != NULL ? (int) g_ascii_strtoll (orientation, NULL, 10) : 1;
  if (info->orientation < 1 || info->orientation > 8)
    info->orientation = 1;
  /* 5–8 turn the picture a quarter, as gdk_pixbuf_apply_embedded_orientation() does. */
  info->width = info->orientation >= 5 ? probe.height : probe.width;
  info->height = info->orientation >= 5 ? probe.width : probe.height;
  return TRUE;
}
