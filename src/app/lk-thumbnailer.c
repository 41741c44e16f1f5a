/* lk-thumbnailer.c: thumbnails decoded by worker threads, kept in a small cache
 *
 * Decoding a 12-megapixel JPEG takes tens of milliseconds: never on the main thread. The cache
 * maps "size:path" to a texture; catalog files are content-addressed, so a path never changes
 * content and entries need no invalidation, only a bound on their number.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-thumbnailer.h"

#define CACHE_MAX 600

static GHashTable *cache;  /* char * → GdkTexture */
static guint n_pending;

static char *
cache_key (const char *path,
           int         size)
{
  return g_strdup_printf ("%d:%s", size, path);
}

static void
cache_insert (char       *key,
              GdkTexture *texture)
{
  if (cache == NULL)
    cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  /* Crude but bounded: thumbnails are cheap to decode again. */
  if (g_hash_table_size (cache) >= CACHE_MAX)
    g_hash_table_remove_all (cache);
  g_hash_table_insert (cache, key, g_object_ref (texture));
}

static void
load_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  const char *path = task_data;
  int size = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (task), "size"));
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GdkPixbuf) oriented = NULL;
  GError *error = NULL;

  if (g_task_return_error_if_cancelled (task))
    return;
  pixbuf = gdk_pixbuf_new_from_file_at_scale (path, size, size, TRUE, &error);
  if (pixbuf == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  oriented = gdk_pixbuf_apply_embedded_orientation (pixbuf);
  g_task_return_pointer (task, gdk_texture_new_for_pixbuf (oriented), g_object_unref);
}

static void
load_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *outer = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = g_task_propagate_pointer (G_TASK (result), &error);

  n_pending--;
  if (texture == NULL)
    g_task_return_error (outer, g_steal_pointer (&error));
  else
    {
      cache_insert (g_strdup (g_task_get_task_data (outer)), texture);
      g_task_return_pointer (outer, g_steal_pointer (&texture), g_object_unref);
    }
  g_object_unref (outer);
}

void
lk_thumbnailer_load_async (const char          *path,
                           int                  size,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) worker = NULL;
  g_autofree char *key = NULL;
  GdkTexture *cached;

  g_return_if_fail (path != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, lk_thumbnailer_load_async);
  key = cache_key (path, size);
  cached = cache != NULL ? g_hash_table_lookup (cache, key) : NULL;
  if (cached != NULL)
    {
      g_task_return_pointer (task, g_object_ref (cached), g_object_unref);
      return;
    }
  g_task_set_task_data (task, g_steal_pointer (&key), g_free);

  n_pending++;
  worker = g_task_new (NULL, cancellable, load_done_cb, g_object_ref (task));
  g_task_set_source_tag (worker, lk_thumbnailer_load_async);
  g_task_set_task_data (worker, g_strdup (path), g_free);
  g_object_set_data (G_OBJECT (worker), "size", GINT_TO_POINTER (size));
  g_task_run_in_thread (worker, load_thread);
}

GdkTexture *
lk_thumbnailer_load_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

guint
lk_thumbnailer_get_pending (void)
{
  return n_pending;
}

static void
cancel_and_unref (gpointer data)
{
  g_cancellable_cancel (data);
  g_object_unref (data);
}

static void
show_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GtkPicture) picture = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = lk_thumbnailer_load_finish (result, &error);

  if (texture != NULL)
    gtk_picture_set_paintable (picture, GDK_PAINTABLE (texture));
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("No thumbnail: %s", error->message);
}

void
lk_thumbnailer_show (GtkPicture *picture,
                     const char *path,
                     int         size)
{
  GCancellable *cancellable;

  g_return_if_fail (GTK_IS_PICTURE (picture));

  /* Replacing the data cancels the previous load. */
  g_object_set_data (G_OBJECT (picture), "lk-thumbnail-load", NULL);
  gtk_picture_set_paintable (picture, NULL);
  if (path == NULL)
    return;
  cancellable = g_cancellable_new ();
  g_object_set_data_full (G_OBJECT (picture), "lk-thumbnail-load", cancellable, cancel_and_unref);
  lk_thumbnailer_load_async (path, size, cancellable, show_cb, g_object_ref (picture));
}
