/* lk-image.h: 8-bit images in memory, loaded safely from PNG/JPEG and saved as PNG
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The face toolkit and the pipeline pass LkImage around: rows of width × channels bytes,
 * @stride bytes apart, channels interleaved (RGB order for 3, RGBA for 4).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What lk_image_load() accepts: photos up to 16384 px a side and 64 Mpx, decided from the
 * header so a hostile file cannot make us allocate gigabytes. */
#define LK_IMAGE_MAX_SIDE   16384
#define LK_IMAGE_MAX_PIXELS (64u * 1024u * 1024u)
/* Files larger than this are refused before they are read. */
#define LK_IMAGE_MAX_FILE_SIZE (256u * 1024u * 1024u)

typedef struct {
  guint   width, height;
  guint   channels;   /* 1 (gray/mask), 3 (RGB) or 4 (RGBA) */
  gsize   stride;     /* bytes per row, >= width * channels (lk_image_new packs rows) */
  guint8 *data;
} LkImage;

#define LK_IMAGE_ERROR (lk_image_error_quark ())

typedef enum {
  LK_IMAGE_ERROR_UNSUPPORTED,
  LK_IMAGE_ERROR_TOO_LARGE,
  LK_IMAGE_ERROR_CORRUPT,
  LK_IMAGE_ERROR_EMPTY,
} LkImageError;

GQuark    lk_image_error_quark     (void);

/* Zero-filled, packed; NULL for a zero size or a channel count other than 1, 3 or 4. */
LkImage  *lk_image_new             (guint           width,
                                    guint           height,
                                    guint           channels);
LkImage  *lk_image_copy            (const LkImage  *image);
void      lk_image_free            (LkImage        *image);

/* Pixel (x, y)'s first byte. */
static inline guint8 *
lk_image_pixel (const LkImage *image,
                guint          x,
                guint          y)
{
  return image->data + (gsize) y * image->stride + (gsize) x * image->channels;
}

/* Decodes with gdk-pixbuf after checking the header's size against LK_IMAGE_MAX_SIDE /
 * LK_IMAGE_MAX_PIXELS (a 20000×20000 header is refused before any decoding), applies EXIF
 * orientation, converts to @channels: 1 is cv2's RGB2GRAY luma, 3 drops alpha, 4 adds an opaque
 * one. A JPEG without its end marker or a PNG without IEND (truncated) is refused rather than
 * returned partly grey. */
LkImage  *lk_image_load            (const char     *path,
                                    guint           channels,
                                    GError        **error);
/* As lk_image_load(); when @text is not NULL it receives a new table of the file's PNG text
 * chunks (key → value, both owned by the table; empty for a JPEG). */
LkImage  *lk_image_load_with_text  (const char     *path,
                                    guint           channels,
                                    GHashTable    **text,
                                    GError        **error);
/* Writes a PNG atomically (temporary name, then rename); @text maps tEXt keys to values (may be
 * NULL). A 1-channel image is written as gray RGB, which lk_image_load (…, 1, …) reads back
 * exactly. */
gboolean  lk_image_save_png        (const LkImage  *image,
                                    const char     *path,
                                    GHashTable     *text,
                                    GError        **error);
/* The image as a new image of @channels channels (same conversions as lk_image_load). */
LkImage  *lk_image_convert         (const LkImage  *image,
                                    guint           channels);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkImage, lk_image_free)

G_END_DECLS
