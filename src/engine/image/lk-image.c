/* lk-image.c: loading and saving 8-bit images
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>

#include "lk-image.h"

G_DEFINE_QUARK (lk-image-error-quark, lk_image_error)

#define TEXT_OPTION_PREFIX "tEXt::"

LkImage *
lk_image_new (guint width,
              guint height,
              guint channels)
{
  LkImage *image;

  g_return_val_if_fail (width > 0 && height > 0, NULL);
  g_return_val_if_fail (channels == 1 || channels == 3 || channels == 4, NULL);

  image = g_new0 (LkImage, 1);
  image->width = width;
  image->height = height;
  image->channels = channels;
  image->stride = (gsize) width * channels;
  image->data = g_malloc0 (image->stride * height);
  return image;
}

LkImage *
lk_image_copy (const LkImage *image)
{
  LkImage *copy;

  g_return_val_if_fail (image != NULL, NULL);

  copy = lk_image_new (image->width, image->height, image->channels);
  for (guint y = 0; y < image->height; y++)
    memcpy (copy->data + y * copy->stride, image->data + y * image->stride, copy->stride);
  return copy;
}

void
lk_image_free (LkImage *image)
{
  if (image == NULL)
    return;
  g_free (image->data);
  g_free (image);
}

/* cv2.cvtColor (…, COLOR_RGB2GRAY) for uint8: 14-bit fixed-point luma weights, rounded. */
static inline guint8
rgb_to_gray (const guint8 *p)
{
  return (guint8) ((p[0] * 4899 + p[1] * 9617 + p[2] * 1868 + (1 << 13)) >> 14);
}

static void
convert_row (const guint8 *in,
             guint         in_channels,
             guint8       *out,
             guint         out_channels,
             guint         width)
{
  for (guint x = 0; x < width; x++, in += in_channels, out += out_channels)
    {
      guint8 rgb[3];

      if (in_channels == 1)
        rgb[0] = rgb[1] = rgb[2] = in[0];
      else
        memcpy (rgb, in, 3);
      if (out_channels == 1)
        out[0] = in_channels == 1 ? in[0] : rgb_to_gray (rgb);
      else
        {
          memcpy (out, rgb, 3);
          if (out_channels == 4)
            out[3] = in_channels == 4 ? in[3] : 255;
        }
    }
}

LkImage *
lk_image_convert (const LkImage *image,
                  guint          channels)
{
  LkImage *out;

  g_return_val_if_fail (image != NULL, NULL);

  out = lk_image_new (image->width, image->height, channels);
  g_return_val_if_fail (out != NULL, NULL);
  for (guint y = 0; y < image->height; y++)
    convert_row (image->data + y * image->stride, image->channels,
                 out->data + y * out->stride, channels, image->width);
  return out;
}

/* TRUE when JPEG data reaches its end-of-image marker. libjpeg only warns at a premature end and
 * fills the rest with grey, and gdk-pixbuf passes the half image on; so we walk the marker segments
 * ourselves (skipping each segment's payload, so the EOI of an EXIF thumbnail inside APP1 does
 * not count) and the entropy-coded data after each SOS, where 0xFF is followed only by 0x00
 * (stuffing), 0xFF (fill) or RSTn unless a real marker starts. */
static gboolean
jpeg_has_end_marker (const guint8 *data,
                     gsize         size)
{
  gsize i = 2;

  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8)
    return FALSE;
  while (i + 1 < size)
    {
      guint8 marker;
      gsize length;

      if (data[i] != 0xFF)
        {
          /* extraneous bytes between segments: libjpeg skips them too */
          i++;
          continue;
        }
      marker = data[i + 1];
      if (marker == 0xFF)
        {
          i++;
          continue;
        }
      if (marker == 0xD9)
        return TRUE;
      if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
        {
          i += 2;
          continue;
        }
      if (i + 4 > size)
        return FALSE;
      length = ((gsize) data[i + 2] << 8) | data[i + 3];
      if (length < 2)
        return FALSE;
      i += 2 + length;
      if (marker != 0xDA)
        continue;
      while (i + 1 < size)
        {
          guint8 next = data[i + 1];

          if (data[i] == 0xFF && next != 0x00 && next != 0xFF && !(next >= 0xD0 && next <= 0xD7))
            break;
          i++;
        }
    }
  return FALSE;
}

/* TRUE when PNG data holds its chunks up to IEND. gdk-pixbuf's PNG loader returns the rows it got
 * from a cut file without an error. */
static gboolean
png_has_end_chunk (const guint8 *data,
                   gsize         size)
{
  gsize i = 8;

  while (i + 8 <= size)
    {
      guint32 length = ((guint32) data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) |
                       data[i + 3];

      if (memcmp (data + i + 4, "IEND", 4) == 0)
        return TRUE;
      if (length > size - i - 8)
        return FALSE;
      i += (gsize) length + 12;
    }
  return FALSE;
}

/* Why a PNG or JPEG file is incomplete, or NULL. */
static const char *
truncation (const guint8 *data,
            gsize         size)
{
  static const guint8 png_signature[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };

  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return jpeg_has_end_marker (data, size) ? NULL : "a truncated JPEG (no end-of-image marker)";
  if (size >= sizeof png_signature && memcmp (data, png_signature, sizeof png_signature) == 0)
    return png_has_end_chunk (data, size) ? NULL : "a truncated PNG (no IEND chunk)";
  return NULL;
}

typedef struct
{
  int      width;
  int      height;
  gboolean too_large;
} HeaderCheck;

/* Runs on the header, before the loader allocates anything: a zero size makes every gdk-pixbuf
 * loader stop there (gdk_pixbuf_get_file_info() relies on the same). */
static void
size_prepared_cb (GdkPixbufLoader *loader,
                  int              width,
                  int              height,
                  gpointer         user_data)
{
  HeaderCheck *check = user_data;

  check->width = width;
  check->height = height;
  if (width <= 0 || height <= 0 || width > LK_IMAGE_MAX_SIDE || height > LK_IMAGE_MAX_SIDE ||
      (guint64) width * height > LK_IMAGE_MAX_PIXELS)
    {
      check->too_large = TRUE;
      gdk_pixbuf_loader_set_size (loader, 0, 0);
    }
}

static void
set_load_error (GError       **error,
                const char    *path,
                const GError  *cause)
{
  if (g_error_matches (cause, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_UNKNOWN_TYPE))
    g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED,
                 "“%s” is not a PNG, JPEG or other supported image: %s", path, cause->message);
  else
    g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_CORRUPT,
                 "“%s” could not be decoded: %s", path, cause->message);
}

static GdkPixbuf *
decode (const char    *path,
        const guint8  *bytes,
        gsize          size,
        GHashTable   **text,
        GError       **error)
{
  g_autoptr(GdkPixbufLoader) loader = gdk_pixbuf_loader_new ();
  g_autoptr(GError) local_error = NULL;
  HeaderCheck check = { 0 };
  const char *cut;
  GdkPixbuf *pixbuf;
  gboolean ok;

  g_signal_connect (loader, "size-prepared", G_CALLBACK (size_prepared_cb), &check);
  ok = gdk_pixbuf_loader_write (loader, bytes, size, &local_error);
  /* close even after a failed write, or the loader warns when it is finalized */
  if (!gdk_pixbuf_loader_close (loader, ok ? &local_error : NULL))
    ok = FALSE;
  if (check.too_large)
    {
      g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_TOO_LARGE,
                   "“%s” is %d × %d pixels; images up to %d pixels a side and %u Mpx are "
                   "supported", path, check.width, check.height, LK_IMAGE_MAX_SIDE,
                   LK_IMAGE_MAX_PIXELS / (1024 * 1024));
      return NULL;
    }
  if ((cut = truncation (bytes, size)) != NULL)
    {
      g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_CORRUPT, "“%s” is %s", path, cut);
      return NULL;
    }
  if (!ok)
    {
      if (local_error == NULL)
        g_set_error_literal (&local_error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_CORRUPT_IMAGE,
                             "the decoder gave up");
      set_load_error (error, path, local_error);
      return NULL;
    }
  pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  if (pixbuf == NULL)
    {
      g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_CORRUPT,
                   "“%s” ended before its first pixels", path);
      return NULL;
    }

  if (text != NULL)
    {
      g_autoptr(GHashTable) options = gdk_pixbuf_get_options (pixbuf);
      GHashTableIter iter;
      gpointer key, value;

      *text = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_hash_table_iter_init (&iter, options);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (g_str_has_prefix (key, TEXT_OPTION_PREFIX))
          g_hash_table_insert (*text, g_strdup ((char *) key + strlen (TEXT_OPTION_PREFIX)),
                               g_strdup (value));
    }
  /* applies the "orientation" option the JPEG (and PNG eXIf) loaders set */
  return gdk_pixbuf_apply_embedded_orientation (pixbuf);
}

LkImage *
lk_image_load_with_text (const char   *path,
                         guint         channels,
                         GHashTable  **text,
                         GError      **error)
{
  g_autoptr(GHashTable) chunks = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autofree char *bytes = NULL;
  GStatBuf st;
  gsize size;
  const guint8 *pixels;
  int rowstride, n_channels;
  LkImage *image;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (channels == 1 || channels == 3 || channels == 4, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_stat (path, &st) == 0 && st.st_size > LK_IMAGE_MAX_FILE_SIZE)
    {
      g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_TOO_LARGE,
                   "“%s” is %" G_GUINT64_FORMAT " bytes; image files up to %u MiB are supported",
                   path, (guint64) st.st_size, LK_IMAGE_MAX_FILE_SIZE / (1024 * 1024));
      return NULL;
    }
  if (!g_file_get_contents (path, &bytes, &size, error))
    return NULL;
  if (size == 0)
    {
      g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_EMPTY, "“%s” is empty", path);
      return NULL;
    }

  pixbuf = decode (path, (const guint8 *) bytes, size, text ? &chunks : NULL, error);
  if (pixbuf == NULL)
    return NULL;

  n_channels = gdk_pixbuf_get_n_channels (pixbuf);
  if (gdk_pixbuf_get_bits_per_sample (pixbuf) != 8 || (n_channels != 3 && n_channels != 4))
    {
      g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED,
                   "“%s” decodes to %d channels of %d bits; 8-bit RGB or RGBA expected", path,
                   n_channels, gdk_pixbuf_get_bits_per_sample (pixbuf));
      return NULL;
    }
  rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  pixels = gdk_pixbuf_read_pixels (pixbuf);
  image = lk_image_new (gdk_pixbuf_get_width (pixbuf), gdk_pixbuf_get_height (pixbuf), channels);
  for (guint y = 0; y < image->height; y++)
    convert_row (pixels + (gsize) y * rowstride, n_channels, image->data + y * image->stride,
                 channels, image->width);
  if (text != NULL)
    *text = g_steal_pointer (&chunks);
  return image;
}

LkImage *
lk_image_load (const char  *path,
               guint        channels,
               GError     **error)
{
  return lk_image_load_with_text (path, channels, NULL, error);
}

gboolean
lk_image_save_png (const LkImage  *image,
                   const char     *path,
                   GHashTable     *text,
                   GError        **error)
{
  g_autoptr(LkImage) rgb = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) values = g_ptr_array_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *buffer = NULL;
  const LkImage *source = image;
  gsize size;

  g_return_val_if_fail (image != NULL && image->data != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* gdk-pixbuf has no gray pixbufs */
  if (image->channels == 1)
    source = rgb = lk_image_convert (image, 3);
  pixbuf = gdk_pixbuf_new_from_data ((guchar *) source->data, GDK_COLORSPACE_RGB,
                                     source->channels == 4, 8, source->width, source->height,
                                     source->stride, NULL, NULL);
  if (text != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, text);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          g_ptr_array_add (keys, g_strconcat (TEXT_OPTION_PREFIX, key, NULL));
          g_ptr_array_add (values, value);
        }
    }
  g_ptr_array_add (keys, NULL);
  g_ptr_array_add (values, NULL);
  if (!gdk_pixbuf_save_to_bufferv (pixbuf, &buffer, &size, "png", (char **) keys->pdata,
                                   (char **) values->pdata, &local_error))
    {
      g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED,
                   "could not encode “%s” as PNG: %s", path, local_error->message);
      return FALSE;
    }
  /* a temporary file beside @path, fsynced, then renamed over it: readers see the old file or
   * the new one, never half of one */
  return g_file_set_contents_full (path, buffer, size, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                   error);
}
