/* lk-thumbnailer.h: photo thumbnails, decoded off the main thread and cached
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Shows the thumbnail of path (at most size pixels on its longer side, EXIF orientation
 * applied) in picture: at once from the cache, else when a worker has decoded it. A later call
 * for the same picture, or NULL, cancels the earlier one. */
void        lk_thumbnailer_show    (GtkPicture *picture,
                                    const char *path,
                                    int         size);
/* Loads a thumbnail (cached) without a widget: for avatars. */
void        lk_thumbnailer_load_async  (const char          *path,
                                        int                  size,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data);
GdkTexture *lk_thumbnailer_load_finish (GAsyncResult        *result,
                                        GError             **error);
/* How many loads are under way: tests wait for zero. */
guint       lk_thumbnailer_get_pending (void);

G_END_DECLS
