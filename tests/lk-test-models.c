/* lk-test-models.c: what the model manager's tests share — an HTTP server and weight files
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "lk-safetensors.h"
#include "lk-test-models.h"

typedef struct
{
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  SoupServer   *server;
  GMutex        lock;
  GCond         ready;
  guint         port;
  char         *root;
  GPtrArray    *requests;  /* "PATH RANGE", under lock */
  GPtrArray    *stalled;   /* stolen GIOStreams kept open */
  guint         cuts;
} Server;

static Server server;

static void
write_partial (SoupServerMessage *msg,
               const char        *data,
               gsize              length,
               gsize              sent,
               gboolean           close)
{
  g_autoptr(GIOStream) stream = soup_server_message_steal_connection (msg);
  g_autofree char *head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Type: application/"
                                           "octet-stream\r\nContent-Length: %" G_GSIZE_FORMAT
                                           "\r\n\r\n", length);
  GOutputStream *out = g_io_stream_get_output_stream (stream);

  g_output_stream_write_all (out, head, strlen (head), NULL, NULL, NULL);
  g_output_stream_write_all (out, data, sent, NULL, NULL, NULL);
  g_output_stream_flush (out, NULL, NULL);
  if (close)
    g_io_stream_close (stream, NULL, NULL);
  else
    g_ptr_array_add (server.stalled, g_steal_pointer (&stream));
}

/* A body sent a twentieth at a time, one piece per tick of the server's context. */
typedef struct
{
  GIOStream *stream;
  char      *data;
  gsize      length;
  gsize      sent;
} Trickle;

static gboolean
trickle_cb (gpointer user_data)
{
  Trickle *trickle = user_data;
  GOutputStream *out = g_io_stream_get_output_stream (trickle->stream);
  gsize piece = MIN (trickle->length - trickle->sent, trickle->length / 20 + 1);

  if (!g_output_stream_write_all (out, trickle->data + trickle->sent, piece, NULL, NULL, NULL) ||
      !g_output_stream_flush (out, NULL, NULL) ||
      (trickle->sent += piece) == trickle->length)
    {
      g_io_stream_close (trickle->stream, NULL, NULL);
      g_object_unref (trickle->stream);
      g_free (trickle->data);
      g_free (trickle);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
write_trickle (SoupServerMessage *msg,
               char              *data,
               gsize              length)
{
  Trickle *trickle = g_new0 (Trickle, 1);
  g_autofree char *head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Type: application/"
                                           "octet-stream\r\nContent-Length: %" G_GSIZE_FORMAT
                                           "\r\n\r\n", length);
  g_autoptr(GSource) source = g_timeout_source_new (100);

  trickle->stream = soup_server_message_steal_connection (msg);
  trickle->data = data;
  trickle->length = length;
  g_output_stream_write_all (g_io_stream_get_output_stream (trickle->stream), head, strlen (head),
                             NULL, NULL, NULL);
  g_source_set_callback (source, trickle_cb, trickle, NULL);
  g_source_attach (source, server.context);
}

static void
server_cb (SoupServer        *soup_server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  const char *range = soup_message_headers_get_one (request, "Range");
  g_autofree char *contents = NULL;
  g_autofree char *file = NULL;
  const char *relative;
  gsize length;
  SoupRange *ranges = NULL;
  int n_ranges = 0;
  gboolean cut = FALSE;

  g_mutex_lock (&server.lock);
  g_ptr_array_add (server.requests, g_strdup_printf ("%s %s", path, range ? range : "-"));
  if (g_str_has_prefix (path, "/cut/"))
    cut = server.cuts++ == 0;
  g_mutex_unlock (&server.lock);

  if (g_str_has_prefix (path, "/slow/"))
    {
      g_ptr_array_add (server.stalled, soup_server_message_steal_connection (msg));
      return;
    }
  relative = strchr (path + 1, '/');
  if (relative != NULL && g_str_has_prefix (path, "/testdata/"))
    file = g_build_filename (server.root, "..", "testdata", relative + 1, NULL);
  else
    file = relative != NULL ? g_build_filename (server.root, relative + 1, NULL) : NULL;
  if (file == NULL || strstr (relative, "..") != NULL ||
      !g_file_get_contents (file, &contents, &length, NULL))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  if (cut)
    return write_partial (msg, contents, length, length * 2 / 5, TRUE);
  if (g_str_has_prefix (path, "/drip/"))
    return write_partial (msg, contents, length, length / 10, FALSE);
  if (g_str_has_prefix (path, "/trickle/"))
    return write_trickle (msg, g_steal_pointer (&contents), length);

  if (soup_message_headers_get_ranges (request, length, &ranges, &n_ranges) && n_ranges == 1)
    {
      goffset start = ranges[0].start, end = ranges[0].end;

      soup_message_headers_free_ranges (request, ranges);
      soup_server_message_set_response (msg, "application/octet-stream", SOUP_MEMORY_COPY,
                                        contents + start, end - start + 1);
      soup_message_headers_set_content_range (soup_server_message_get_response_headers (msg),
                                              start, end, length);
      soup_server_message_set_status (msg, SOUP_STATUS_PARTIAL_CONTENT, NULL);
      return;
    }
  if (range != NULL)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE, NULL);
      return;
    }
  soup_server_message_set_response (msg, "application/octet-stream", SOUP_MEMORY_COPY,
                                    contents, length);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
}

static gpointer
server_thread (gpointer data)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  g_main_context_push_thread_default (server.context);
  server.server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server.server, NULL, server_cb, NULL, NULL);
  if (!soup_server_listen_local (server.server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("Could not listen: %s", error->message);
  uris = soup_server_get_uris (server.server);
  g_mutex_lock (&server.lock);
  server.port = g_uri_get_port (uris->data);
  g_cond_signal (&server.ready);
  g_mutex_unlock (&server.lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (server.loop);

  g_clear_pointer (&server.stalled, g_ptr_array_unref);
  soup_server_disconnect (server.server);
  g_clear_object (&server.server);
  g_main_context_pop_thread_default (server.context);
  return NULL;
}

void
lk_test_server_start (const char *root)
{
  g_mutex_init (&server.lock);
  g_cond_init (&server.ready);
  server.root = g_strdup (root);
  server.requests = g_ptr_array_new_with_free_func (g_free);
  server.stalled = g_ptr_array_new_with_free_func (g_object_unref);
  server.context = g_main_context_new ();
  server.loop = g_main_loop_new (server.context, FALSE);
  g_mutex_lock (&server.lock);
  server.thread = g_thread_new ("test-server", server_thread, NULL);
  while (server.port == 0)
    g_cond_wait (&server.ready, &server.lock);
  g_mutex_unlock (&server.lock);
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (server.loop);
  return G_SOURCE_REMOVE;
}

void
lk_test_server_stop (void)
{
  g_main_context_invoke (server.context, quit_cb, NULL);
  g_thread_join (server.thread);
  g_main_loop_unref (server.loop);
  g_main_context_unref (server.context);
  g_ptr_array_unref (server.requests);
  g_free (server.root);
}

guint
lk_test_server_n_requests (void)
{
  guint n;

  g_mutex_lock (&server.lock);
  n = server.requests->len;
  g_mutex_unlock (&server.lock);
  return n;
}

char *
lk_test_server_nth_request (guint index)
{
  char *request;

  g_mutex_lock (&server.lock);
  request = g_strdup (g_ptr_array_index (server.requests, index));
  g_mutex_unlock (&server.lock);
  return request;
}

guint
lk_test_server_get_port (void)
{
  return server.port;
}

void
lk_test_server_rearm_cut (void)
{
  g_mutex_lock (&server.lock);
  server.cuts = 0;
  g_mutex_unlock (&server.lock);
}

char *
lk_test_write_weights (const char         *dir,
                       const char         *file,
                       const char * const *names,
                       const gint64      (*shapes)[4],
                       const guint        *ndims,
                       guint               n)
{
  g_autofree LkSafetensorsEntry *entries = g_new0 (LkSafetensorsEntry, n);
  g_autofree guint8 *zeros = g_malloc0 (320 * 768 * 2);
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, file, NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  for (guint i = 0; i < n; i++)
    entries[i] = (LkSafetensorsEntry) { names[i], LK_WEIGHT_F16, ndims[i], shapes[i], zeros };
  g_assert_true (lk_safetensors_write (path, entries, n, NULL, &error));
  g_assert_no_error (error);
  return path;
}

char *
lk_test_write_tiny_checkpoint (const char *dir,
                               const char *file,
                               gint64      in_channels)
{
  const char *const names[] = {
    "model.diffusion_model.input_blocks.0.0.weight",
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
    "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
    "first_stage_model.decoder.conv_in.weight",
  };
  const gint64 shapes[][4] = { { 320, in_channels, 3, 3 }, { 320, 768 }, { 8, 768 },
                               { 512, 4, 3, 3 } };
  const guint ndims[] = { 4, 2, 2, 4 };

  return lk_test_write_weights (dir, file, names, shapes, ndims, G_N_ELEMENTS (names));
}

char *
lk_test_write_tiny_lora (const char *dir,
                         const char *file,
                         gint64      context_width)
{
  const char *const names[] = {
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight",
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight",
  };
  const gint64 shapes[][4] = { { 4, context_width }, { 320, 4 } };
  const guint ndims[] = { 2, 2 };

  return lk_test_write_weights (dir, file, names, shapes, ndims, G_N_ELEMENTS (names));
}
