/* lk-model-download.c: libsoup on a worker thread, progress posted back to the caller
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "lk-catalog.h"
#include "lk-catalog-files.h"
#include "lk-model-download.h"

#define BUFFER_SIZE          (256 * 1024)
#define MAX_ATTEMPTS         3
#define PROGRESS_INTERVAL_US (100 * G_TIME_SPAN_MILLISECOND)

struct _LkModelDownload
{
  GObject           parent_instance;

  /* owned; fixed once run_async is called (the worker reads them) */
  char             *data_dir;
  LkModelRegistry  *registry;
  char             *name;
  char             *mirror;
  guint             timeout;
  gboolean          trust_unpinned;
  gboolean          keep_partial;

  /* progress, touched on the caller's main context only */
  gint64            bytes_done;
  gint64            bytes_total;
  double            rate;
  double            eta;
  char             *message;
};

G_DEFINE_FINAL_TYPE (LkModelDownload, lk_model_download, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BYTES_DONE,
  PROP_BYTES_TOTAL,
  PROP_RATE,
  PROP_ETA,
  PROP_FRACTION,
  PROP_MESSAGE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The worker's own state; lives in the GTask. */
typedef struct
{
  GMainContext  *context;        /* the caller's */
  SoupSession   *session;        /* created and used on the worker thread only */
  gint64         total;          /* -1 while unknown */
  gint64         done_before;    /* bytes of the files already finished */
  gint64         last_post_us;
  gint64         last_rate_us;
  gint64         last_rate_bytes;
  gint64         network_bytes;  /* received over the network in this run */
  double         rate;
} Worker;

static void
worker_free (Worker *worker)
{
  g_clear_object (&worker->session);
  g_clear_pointer (&worker->context, g_main_context_unref);
  g_free (worker);
}

/* ---- progress -------------------------------------------------------------------------- */

typedef struct
{
  LkModelDownload *self;
  gint64           done;
  gint64           total;
  double           rate;
  double           eta;
  char            *message;
} Progress;

static void
progress_free (gpointer data)
{
  Progress *progress = data;

  g_object_unref (progress->self);
  g_free (progress->message);
  g_free (progress);
}

static gboolean
apply_progress_cb (gpointer data)
{
  Progress *progress = data;
  LkModelDownload *self = progress->self;
  GObject *object = G_OBJECT (self);

  g_object_freeze_notify (object);
  if (self->bytes_done != progress->done)
    {
      self->bytes_done = progress->done;
      g_object_notify_by_pspec (object, properties[PROP_BYTES_DONE]);
      g_object_notify_by_pspec (object, properties[PROP_FRACTION]);
    }
  if (self->bytes_total != progress->total)
    {
      self->bytes_total = progress->total;
      g_object_notify_by_pspec (object, properties[PROP_BYTES_TOTAL]);
      g_object_notify_by_pspec (object, properties[PROP_FRACTION]);
    }
  if (self->rate != progress->rate)
    {
      self->rate = progress->rate;
      g_object_notify_by_pspec (object, properties[PROP_RATE]);
    }
  if (self->eta != progress->eta)
    {
      self->eta = progress->eta;
      g_object_notify_by_pspec (object, properties[PROP_ETA]);
    }
  if (progress->message != NULL && g_strcmp0 (self->message, progress->message) != 0)
    {
      g_free (self->message);
      self->message = g_strdup (progress->message);
      g_object_notify_by_pspec (object, properties[PROP_MESSAGE]);
    }
  g_object_thaw_notify (object);
  return G_SOURCE_REMOVE;
}

/* Posts where the download stands; throttled unless force or a message is given. */
static void
post_progress (LkModelDownload *self,
               Worker          *worker,
               gint64           done,
               gboolean         force,
               const char      *message)
{
  gint64 now = g_get_monotonic_time ();
  Progress *progress;

  if (!force && message == NULL && now - worker->last_post_us < PROGRESS_INTERVAL_US)
    return;
  worker->last_post_us = now;
  if (now - worker->last_rate_us >= PROGRESS_INTERVAL_US)
    {
      double seconds = (now - worker->last_rate_us) / (double) G_USEC_PER_SEC;
      double instant = (worker->network_bytes - worker->last_rate_bytes) / seconds;

      /* Smoothed so the ETA does not jump with every packet. */
      worker->rate = worker->rate == 0 ? instant : 0.7 * worker->rate + 0.3 * instant;
      worker->last_rate_us = now;
      worker->last_rate_bytes = worker->network_bytes;
    }

  progress = g_new0 (Progress, 1);
  progress->self = g_object_ref (self);
  progress->done = done;
  progress->total = worker->total;
  progress->rate = worker->rate;
  progress->eta = worker->total >= 0 && worker->rate > 0
                  ? MAX (0, worker->total - done) / worker->rate : -1;
  progress->message = g_strdup (message);
  g_main_context_invoke_full (worker->context, G_PRIORITY_DEFAULT, apply_progress_cb, progress,
                              progress_free);
}

/* ---- files ----------------------------------------------------------------------------- */

/* A write, sync or close of a .part failed: the .part goes (a full disk gets its space back),
 * and the error says so. ENOSPC, EDQUOT and EFBIG (a file system or RLIMIT_FSIZE limit on file
 * size, as FAT32's 4 GiB) all mean the file does not fit. */
static void
set_storage_error (GError     **error,
                   int          saved_errno,
                   const char  *part)
{
  gboolean no_space = saved_errno == ENOSPC || saved_errno == EDQUOT || saved_errno == EFBIG;

  lk_catalog_files_remove (part, NULL);
  g_set_error (error, LK_MODELS_ERROR, no_space ? LK_MODELS_ERROR_NO_SPACE : LK_MODELS_ERROR_FAILED,
               "Could not write %s: %s. The partial file was deleted and nothing installed was "
               "changed%s", part, g_strerror (saved_errno),
               no_space ? "; free some space and download again" : "");
}

static gboolean
write_all (int           fd,
           const guint8 *data,
           gsize         len,
           int          *saved_errno)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          *saved_errno = errno;
          return FALSE;
        }
      data += n;
      len -= n;
    }
  return TRUE;
}

static gboolean
fsync_path (const char  *path,
            int         *saved_errno)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);

  if (fd < 0 || fsync (fd) != 0)
    {
      *saved_errno = errno;
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* Feeds what a .part already holds into checksum; returns its size (0 when absent), -1 on
 * error. */
static gint64
hash_existing (const char    *path,
               GChecksum     *checksum,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInputStream) in = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree guint8 *buffer = NULL;
  gint64 size = 0;
  gssize n;

  in = g_file_read (file, cancellable, &local_error);
  if (in == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return 0;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return -1;
    }
  buffer = g_malloc (BUFFER_SIZE);
  while ((n = g_input_stream_read (G_INPUT_STREAM (in), buffer, BUFFER_SIZE, cancellable,
                                   error)) > 0)
    {
      g_checksum_update (checksum, buffer, n);
      size += n;
    }
  return n < 0 ? -1 : size;
}

static gboolean
network_error (GError     **error,
               const char  *url,
               guint        timeout,
               GError      *cause)
{
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_propagate_error (error, g_error_copy (cause));
  else if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NETWORK,
                 "Timed out after %u s waiting for %s", timeout, url);
  else
    g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NETWORK, "Could not download %s: %s",
                 url, cause->message);
  return FALSE;
}

/* One URL: resume or start the .part, stream it through the hash, verify and fsync it. Returns the
 * file's SHA-256; the caller renames the .part once every file of the model is there. */
static char *
fetch_from_url (LkModelDownload        *self,
                Worker                 *worker,
                const LkModelFileSpec  *spec,
                const char             *url,
                const char             *part,
                GCancellable           *cancellable,
                GError                **error)
{
  g_autoptr(GChecksum) checksum = NULL;
  g_autofree guint8 *buffer = g_malloc (BUFFER_SIZE);
  g_autofree char *message = NULL;
  g_autofree char *sha256 = NULL;
  guint attempts = 0;
  int saved_errno = 0;

  message = g_strdup_printf ("Downloading %s", spec->path);
  for (;;)
    {
      g_autoptr(SoupMessage) msg = NULL;
      g_autoptr(GInputStream) in = NULL;
      g_autoptr(GError) local_error = NULL;
      gint64 offset, received = 0, expected = -1;
      guint status;
      gssize n;
      int fd;

      g_clear_pointer (&checksum, g_checksum_free);
      checksum = g_checksum_new (G_CHECKSUM_SHA256);
      offset = hash_existing (part, checksum, cancellable, error);
      if (offset < 0)
        return NULL;
      if (spec->size >= 0 && offset > spec->size)
        {
          /* Longer than the file can be: not a prefix of it. */
          if (!lk_catalog_files_remove (part, error))
            return NULL;
          g_checksum_reset (checksum);
          offset = 0;
        }
      if (spec->size >= 0 && offset == spec->size && offset > 0)
        break;  /* whole already; only the hash is left to check */

      msg = soup_message_new (SOUP_METHOD_GET, url);
      if (msg == NULL)
        {
          g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_REGISTRY, "Not a valid URL: %s",
                       url);
          return NULL;
        }
      if (offset > 0)
        soup_message_headers_set_range (soup_message_get_request_headers (msg), offset, -1);
      post_progress (self, worker, worker->done_before + offset, TRUE, message);

      in = soup_session_send (worker->session, msg, cancellable, &local_error);
      if (in == NULL)
        return network_error (error, url, self->timeout, local_error), NULL;
      status = soup_message_get_status (msg);
      if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE && offset > 0)
        break;  /* the .part may already be whole: the hash decides */
      if (status == SOUP_STATUS_PARTIAL_CONTENT && offset > 0)
        {
          goffset start = -1, end = -1, length = -1;

          if (!soup_message_headers_get_content_range (soup_message_get_response_headers (msg),
                                                       &start, &end, &length) ||
              start != offset)
            {
              /* Not the range we asked for: start over rather than splice wrong bytes. */
              if (!lk_catalog_files_remove (part, error) || ++attempts >= MAX_ATTEMPTS)
                {
                  if (error != NULL && *error == NULL)
                    g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_HTTP,
                                 "%s answered a resumed download with the wrong range", url);
                  return NULL;
                }
              continue;
            }
        }
      else if (status == SOUP_STATUS_OK)
        {
          if (offset > 0)
            {
              /* The server ignored Range: the whole file comes again. */
              g_checksum_reset (checksum);
              offset = 0;
            }
        }
      else
        {
          g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_HTTP,
                       "Could not download %s: the server answered %u %s", url, status,
                       soup_message_get_reason_phrase (msg) ? soup_message_get_reason_phrase (msg)
                                                            : "");
          return NULL;
        }
      if (soup_message_headers_get_encoding (soup_message_get_response_headers (msg)) ==
          SOUP_ENCODING_CONTENT_LENGTH)
        expected = soup_message_headers_get_content_length (
                     soup_message_get_response_headers (msg));
      if (worker->total < 0 && spec->size < 0 && expected >= 0)
        worker->total = worker->done_before + offset + expected;

      fd = g_open (part, O_WRONLY | O_CREAT | O_CLOEXEC | (offset > 0 ? O_APPEND : O_TRUNC), 0644);
      if (fd < 0)
        {
          set_storage_error (error, errno, part);
          return NULL;
        }

      while ((n = g_input_stream_read (in, buffer, BUFFER_SIZE, cancellable, &local_error)) > 0)
        {
          if (!write_all (fd, buffer, n, &saved_errno))
            {
              close (fd);
              set_storage_error (error, saved_errno, part);
              return NULL;
            }
          g_checksum_update (checksum, buffer, n);
          received += n;
          worker->network_bytes += n;
          post_progress (self, worker, worker->done_before + offset + received, FALSE, NULL);
        }
      if (n == 0 && expected >= 0 && received < expected)
        local_error = g_error_new (G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                                   "the connection closed after %" G_GINT64_FORMAT " of %"
                                   G_GINT64_FORMAT " bytes", received, expected);
      /* What arrived is good bytes: keep them for the next attempt. */
      if (close (fd) != 0 && errno != EINTR)
        {
          set_storage_error (error, errno, part);
          return NULL;
        }
      g_input_stream_close (in, NULL, NULL);

      if (local_error == NULL)
        break;
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          if (!self->keep_partial)
            lk_catalog_files_remove (part, NULL);
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      if (received > 0 && ++attempts < MAX_ATTEMPTS)
        continue;  /* progress was made: resume from where it stopped */
      network_error (error, url, self->timeout, local_error);
      return NULL;
    }

  post_progress (self, worker, worker->done_before + MAX (spec->size, 0), TRUE, "Verifying");
  sha256 = g_strdup (g_checksum_get_string (checksum));
  if (spec->sha256 != NULL && strcmp (sha256, spec->sha256) != 0)
    {
      lk_catalog_files_remove (part, NULL);
      g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_HASH_MISMATCH,
                   "%s has SHA-256 %s, but %s was expected; the partial file was deleted",
                   url, sha256, spec->sha256);
      return NULL;
    }
  if (!fsync_path (part, &saved_errno))
    {
      set_storage_error (error, saved_errno, part);
      return NULL;
    }
  return g_steal_pointer (&sha256);
}

/* Every URL of a file in turn (mirror applied) into @part; the errors of all of them when none
 * works. A storage error ends the search: no other source would fit either. */
static char *
fetch_file (LkModelDownload        *self,
            Worker                 *worker,
            const LkModelFileSpec  *spec,
            const char             *part,
            GCancellable           *cancellable,
            GError                **error)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  g_autoptr(GError) last_error = NULL;
  guint n_urls = g_strv_length (spec->urls);

  for (guint i = 0; i < n_urls; i++)
    {
      g_autofree char *url = lk_model_mirror_url (spec->urls[i], self->mirror);
      char *sha256;

      g_clear_error (&last_error);
      sha256 = fetch_from_url (self, worker, spec, url, part, cancellable, &last_error);
      if (sha256 != NULL)
        return sha256;
      if (g_error_matches (last_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
          g_error_matches (last_error, LK_MODELS_ERROR, LK_MODELS_ERROR_NO_SPACE) ||
          g_error_matches (last_error, LK_MODELS_ERROR, LK_MODELS_ERROR_FAILED))
        {
          g_propagate_error (error, g_steal_pointer (&last_error));
          return NULL;
        }
      g_string_append_printf (failures, "%s%s", failures->len > 0 ? "; " : "",
                              last_error->message);
    }
  if (n_urls > 1)
    g_set_error (error, last_error->domain, last_error->code, "No source of %s worked: %s",
                 spec->path, failures->str);
  else
    g_propagate_error (error, g_steal_pointer (&last_error));
  return NULL;
}

static gboolean
already_installed (const LkModelEntry *entry,
                   const char         *dir,
                   LkCatalogModel     *row)
{
  const LkModelFileSpec *first = g_ptr_array_index (entry->files, 0);
  g_autofree char *catalog_path = lk_model_entry_get_catalog_path (entry);

  if (row == NULL || g_strcmp0 (row->state, "ready") != 0 ||
      g_strcmp0 (row->path, catalog_path) != 0 ||
      (first->sha256 != NULL && g_strcmp0 (row->sha256, first->sha256) != 0))
    return FALSE;
  for (guint i = 0; i < entry->files->len; i++)
    {
      const LkModelFileSpec *spec = g_ptr_array_index (entry->files, i);
      g_autofree char *path = g_build_filename (dir, spec->path, NULL);
      GStatBuf st;

      if (g_stat (path, &st) != 0 || (spec->size >= 0 && st.st_size != spec->size))
        return FALSE;
    }
  return TRUE;
}

/* Refuses before anything is written when the files' known sizes (less what their .parts already
 * hold) exceed the free space where they go. Unknown sizes, or a file system that does not say,
 * pass: the writes themselves then find out. */
static gboolean
check_free_space (const LkModelEntry  *entry,
                  const char          *dir,
                  const char          *data_dir,
                  GError             **error)
{
  g_autoptr(GFile) where = NULL;
  g_autoptr(GFileInfo) info = NULL;
  g_autofree char *existing = g_strdup (dir);
  g_autofree char *needed_text = NULL, *free_text = NULL;
  guint64 needed = 0, available;

  for (guint i = 0; i < entry->files->len; i++)
    {
      const LkModelFileSpec *spec = g_ptr_array_index (entry->files, i);
      g_autofree char *final = g_build_filename (dir, spec->path, NULL);
      g_autofree char *part = g_strconcat (final, ".part", NULL);
      GStatBuf st;

      if (spec->size < 0)
        continue;
      if (g_stat (final, &st) == 0 && st.st_size == spec->size)
        continue;  /* probably whole; hashed before anything is fetched */
      needed += spec->size - (g_stat (part, &st) == 0 ? MIN (st.st_size, spec->size) : 0);
    }
  if (needed == 0)
    return TRUE;

  /* The model's folder may not exist yet: ask about the nearest folder that does. */
  while (!g_file_test (existing, G_FILE_TEST_IS_DIR) && strcmp (existing, data_dir) != 0)
    {
      char *parent = g_path_get_dirname (existing);

      if (strcmp (parent, existing) == 0)
        {
          g_free (parent);
          break;
        }
      g_free (existing);
      existing = parent;
    }
  where = g_file_new_for_path (existing);
  info = g_file_query_filesystem_info (where, G_FILE_ATTRIBUTE_FILESYSTEM_FREE, NULL, NULL);
  if (info == NULL || !g_file_info_has_attribute (info, G_FILE_ATTRIBUTE_FILESYSTEM_FREE))
    return TRUE;
  available = g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_FILESYSTEM_FREE);
  if (needed <= available)
    return TRUE;
  needed_text = g_format_size (needed);
  free_text = g_format_size (available);
  g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NO_SPACE,
               "“%s” needs %s more in %s, but only %s are free; nothing was changed: free some "
               "space and download again", entry->name, needed_text, existing, free_text);
  return FALSE;
}

/* Writes the model's licence texts beside its files (each atomically; one already there with
 * the same bytes is left alone). @created receives the paths it made, so a failure after can take
 * them back. */
static gboolean
install_licenses (const LkModelEntry  *entry,
                  const char          *dir,
                  GPtrArray           *created,
                  GError             **error)
{
  for (guint i = 0; entry->license_files != NULL && entry->license_files[i] != NULL; i++)
    {
      const char *name = entry->license_files[i];
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *tmp = g_strconcat (path, ".part", NULL);
      g_autoptr(GBytes) text = lk_model_license_text (name, error);
      g_autoptr(GBytes) there = NULL;
      g_autoptr(GInputStream) in = NULL;
      g_autoptr(GFile) file = g_file_new_for_path (path);
      g_autoptr(GError) local_error = NULL;

      if (text == NULL)
        return FALSE;
      there = g_file_load_bytes (file, NULL, NULL, NULL);
      if (there != NULL && g_bytes_equal (there, text))
        continue;
      in = g_memory_input_stream_new_from_bytes (text);
      if (!lk_catalog_files_write (tmp, path, in, NULL, NULL, &local_error))
        {
          if (g_error_matches (local_error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NO_SPACE))
            g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NO_SPACE,
                         "%s; nothing installed was changed: free some space and download again",
                         local_error->message);
          else
            g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      if (there == NULL)
        g_ptr_array_add (created, g_steal_pointer (&path));
    }
  return TRUE;
}

/* A template pack's photos go into the catalog as built-in templates (copied there; ones
 * already present are found by their SHA-256 and left alone). */
static gboolean
add_templates (const LkModelEntry  *entry,
               const char          *dir,
               LkCatalog           *catalog,
               GCancellable        *cancellable,
               GError             **error)
{
  if (g_strcmp0 (entry->role, LK_MODEL_ROLE_TEMPLATES) != 0)
    return TRUE;
  for (guint i = 0; i < entry->files->len; i++)
    {
      const LkModelFileSpec *spec = g_ptr_array_index (entry->files, i);
      g_autofree char *path = g_build_filename (dir, spec->path, NULL);
      g_autoptr(LkTemplate) template = NULL;
      g_autoptr(GError) local_error = NULL;

      template = lk_catalog_add_template (catalog, path, TRUE, NULL, cancellable, &local_error);
      if (template == NULL)
        {
          g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_FAILED,
                       "%s is installed, but %s could not be added to the templates: %s",
                       entry->name, spec->path, local_error->message);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
download_model (LkModelDownload  *self,
                Worker           *worker,
                GCancellable     *cancellable,
                GError          **error)
{
  const LkModelEntry *entry = lk_model_registry_lookup (self->registry, self->name);
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(LkCatalogModel) row = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *catalog_path = NULL;
  g_autofree char *first_url = NULL;
  g_autofree char *first_sha256 = NULL;
  g_autofree char *user_agent = NULL;
  g_autoptr(GPtrArray) staged = NULL;  /* file names whose verified .part awaits its rename */
  g_autoptr(GPtrArray) licenses = NULL;
  const LkModelFileSpec *first;
  gboolean recorded;

  if (entry == NULL)
    {
      g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NOT_FOUND,
                   "No model is called “%s” (see likeness-cli models list)", self->name);
      return FALSE;
    }
  if (!self->trust_unpinned && !lk_model_entry_is_pinned (entry))
    {
      g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_UNPINNED,
                   "No SHA-256 is pinned for “%s”, so its bytes cannot be checked; download it "
                   "with --trust-unpinned to adopt what the publisher serves now, or add a copy "
                   "you trust with “likeness-cli models add”", entry->name);
      return FALSE;
    }

  catalog = lk_catalog_open (self->data_dir, error);
  if (catalog == NULL)
    return FALSE;
  dir = lk_model_entry_get_dir (entry, self->data_dir);
  catalog_path = lk_model_entry_get_catalog_path (entry);
  first = g_ptr_array_index (entry->files, 0);
  first_url = lk_model_mirror_url (first->urls[0], self->mirror);
  worker->total = lk_model_entry_get_size (entry);

  row = lk_catalog_get_model (catalog, entry->role, entry->name, &local_error);
  if (row == NULL && !g_error_matches (local_error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_clear_error (&local_error);
  if (already_installed (entry, dir, row))
    {
      /* Installed before its licences were shipped: they are added, as far as they fit. */
      g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_free);

      if (!install_licenses (entry, dir, added, &local_error))
        g_debug ("Could not add the licences of %s: %s", entry->name, local_error->message);
      post_progress (self, worker, MAX (worker->total, 0), TRUE, "Already installed");
      return add_templates (entry, dir, catalog, cancellable, error);
    }

  if (!check_free_space (entry, dir, self->data_dir, error) ||
      !lk_catalog_files_make_dir (dir, error) ||
      !lk_catalog_set_model (catalog, entry->role, entry->name, catalog_path, worker->total,
                             first->sha256, first_url, "downloading", error))
    return FALSE;

  user_agent = g_strdup_printf ("Likeness/%s", PACKAGE_VERSION);
  worker->session = soup_session_new_with_options ("timeout", self->timeout,
                                                   "idle-timeout", self->timeout,
                                                   "proxy-resolver", g_proxy_resolver_get_default (),
                                                   "user-agent", user_agent,
                                                   NULL);
  worker->last_rate_us = g_get_monotonic_time ();

  /* Every file to its .part first; the files in place are replaced only once all are verified,
   * so a failure anywhere leaves the model as it was. */
  staged = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < entry->files->len && local_error == NULL; i++)
    {
      const LkModelFileSpec *spec = g_ptr_array_index (entry->files, i);
      g_autofree char *final = g_build_filename (dir, spec->path, NULL);
      g_autofree char *part = g_strconcat (final, ".part", NULL);
      g_autofree char *sha256 = NULL;
      goffset size = 0;

      /* A file already in place is checked here, never fetched again. */
      if (spec->sha256 != NULL && g_file_test (final, G_FILE_TEST_EXISTS))
        {
          g_autofree char *message = g_strdup_printf ("Checking %s", spec->path);

          post_progress (self, worker, worker->done_before, TRUE, message);
          sha256 = lk_catalog_files_hash (final, &size, cancellable, &local_error);
          if (sha256 == NULL)
            break;
          if (strcmp (sha256, spec->sha256) != 0)
            g_clear_pointer (&sha256, g_free);
        }
      if (sha256 == NULL)
        {
          GStatBuf st;

          sha256 = fetch_file (self, worker, spec, part, cancellable, &local_error);
          if (sha256 == NULL)
            break;
          g_ptr_array_add (staged, g_strdup (spec->path));
          size = spec->size >= 0 ? spec->size : g_stat (part, &st) == 0 ? st.st_size : 0;
        }
      worker->done_before += size;
      if (i == 0)
        first_sha256 = g_steal_pointer (&sha256);
    }

  /* The licences first: they only add files, and they go again if they cannot all be written. */
  licenses = g_ptr_array_new_with_free_func (g_free);
  if (local_error == NULL && !install_licenses (entry, dir, licenses, &local_error))
    for (guint i = 0; i < licenses->len; i++)
      lk_catalog_files_remove (licenses->pdata[i], NULL);
  for (guint i = 0; i < staged->len && local_error == NULL; i++)
    {
      g_autofree char *final = g_build_filename (dir, staged->pdata[i], NULL);
      g_autofree char *part = g_strconcat (final, ".part", NULL);

      lk_catalog_files_rename (part, final, &local_error);
    }

  if (local_error == NULL)
    {
      if (!lk_catalog_set_model (catalog, entry->role, entry->name, catalog_path,
                                 worker->done_before, first_sha256, first_url, "ready", error))
        return FALSE;
      post_progress (self, worker, worker->done_before, TRUE, "Installed");
      return add_templates (entry, dir, catalog, cancellable, error);
    }

  /* Verified .parts are kept for the next run (it hashes them and fetches nothing), unless the
   * disk is full or a cancel was asked to leave nothing. */
  if (g_error_matches (local_error, LK_MODELS_ERROR, LK_MODELS_ERROR_NO_SPACE) ||
      g_error_matches (local_error, LK_MODELS_ERROR, LK_MODELS_ERROR_FAILED) ||
      (!self->keep_partial && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED)))
    for (guint i = 0; i < staged->len; i++)
      {
        g_autofree char *part = g_strconcat (dir, G_DIR_SEPARATOR_S, staged->pdata[i], ".part",
                                             NULL);

        lk_catalog_files_remove (part, NULL);
      }

  /* A model that was installed still is: its files were not touched. */
  if (row != NULL && g_strcmp0 (row->state, "ready") == 0)
    recorded = lk_catalog_set_model (catalog, row->role, row->name, row->path, row->size,
                                     row->sha256, row->source_url, row->state, NULL);
  else
    recorded = lk_catalog_set_model (catalog, entry->role, entry->name, catalog_path,
                                     worker->total, first->sha256, first_url,
                                     g_error_matches (local_error, LK_MODELS_ERROR,
                                                      LK_MODELS_ERROR_HASH_MISMATCH)
                                     ? "corrupt" : "missing", NULL);
  if (!recorded)
    g_debug ("Could not record the failed download of %s", entry->name);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

static void
run_in_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  GError *error = NULL;

  if (download_model (source_object, task_data, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
lk_model_download_run_async (LkModelDownload     *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Worker *worker;

  g_return_if_fail (LK_IS_MODEL_DOWNLOAD (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  worker = g_new0 (Worker, 1);
  worker->context = g_main_context_ref_thread_default ();
  worker->total = -1;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lk_model_download_run_async);
  g_task_set_task_data (task, worker, (GDestroyNotify) worker_free);
  g_task_run_in_thread (task, run_in_thread);
}

gboolean
lk_model_download_run_finish (LkModelDownload  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == lk_model_download_run_async,
                        FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- object ---------------------------------------------------------------------------- */

LkModelDownload *
lk_model_download_new (const char      *data_dir,
                       LkModelRegistry *registry,
                       const char      *name)
{
  LkModelDownload *self;

  g_return_val_if_fail (data_dir != NULL, NULL);
  g_return_val_if_fail (LK_IS_MODEL_REGISTRY (registry), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  self = g_object_new (LK_TYPE_MODEL_DOWNLOAD, NULL);
  self->data_dir = g_strdup (data_dir);
  self->registry = g_object_ref (registry);
  self->name = g_strdup (name);
  return self;
}

void
lk_model_download_set_mirror (LkModelDownload *self,
                              const char      *mirror)
{
  g_return_if_fail (LK_IS_MODEL_DOWNLOAD (self));
  g_free (self->mirror);
  self->mirror = mirror != NULL && *mirror != '\0' ? g_strdup (mirror) : NULL;
}

void
lk_model_download_set_timeout (LkModelDownload *self,
                               guint            seconds)
{
  g_return_if_fail (LK_IS_MODEL_DOWNLOAD (self));
  self->timeout = seconds;
}

void
lk_model_download_set_trust_unpinned (LkModelDownload *self,
                                      gboolean         trust)
{
  g_return_if_fail (LK_IS_MODEL_DOWNLOAD (self));
  self->trust_unpinned = trust;
}

void
lk_model_download_set_keep_partial (LkModelDownload *self,
                                    gboolean         keep)
{
  g_return_if_fail (LK_IS_MODEL_DOWNLOAD (self));
  self->keep_partial = keep;
}

gint64
lk_model_download_get_bytes_done (LkModelDownload *self)
{
  g_return_val_if_fail (LK_IS_MODEL_DOWNLOAD (self), 0);
  return self->bytes_done;
}

gint64
lk_model_download_get_bytes_total (LkModelDownload *self)
{
  g_return_val_if_fail (LK_IS_MODEL_DOWNLOAD (self), -1);
  return self->bytes_total;
}

double
lk_model_download_get_rate (LkModelDownload *self)
{
  g_return_val_if_fail (LK_IS_MODEL_DOWNLOAD (self), 0);
  return self->rate;
}

double
lk_model_download_get_eta (LkModelDownload *self)
{
  g_return_val_if_fail (LK_IS_MODEL_DOWNLOAD (self), -1);
  return self->eta;
}

double
lk_model_download_get_fraction (LkModelDownload *self)
{
  g_return_val_if_fail (LK_IS_MODEL_DOWNLOAD (self), 0);
  if (self->bytes_total <= 0)
    return 0;
  return CLAMP ((double) self->bytes_done / self->bytes_total, 0, 1);
}

const char *
lk_model_download_get_message (LkModelDownload *self)
{
  g_return_val_if_fail (LK_IS_MODEL_DOWNLOAD (self), NULL);
  return self->message;
}

static void
lk_model_download_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  LkModelDownload *self = LK_MODEL_DOWNLOAD (object);

  switch (prop_id)
    {
    case PROP_BYTES_DONE:
      g_value_set_int64 (value, self->bytes_done);
      break;
    case PROP_BYTES_TOTAL:
      g_value_set_int64 (value, self->bytes_total);
      break;
    case PROP_RATE:
      g_value_set_double (value, self->rate);
      break;
    case PROP_ETA:
      g_value_set_double (value, self->eta);
      break;
    case PROP_FRACTION:
      g_value_set_double (value, lk_model_download_get_fraction (self));
      break;
    case PROP_MESSAGE:
      g_value_set_string (value, self->message);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_model_download_finalize (GObject *object)
{
  LkModelDownload *self = LK_MODEL_DOWNLOAD (object);

  g_free (self->data_dir);
  g_clear_object (&self->registry);
  g_free (self->name);
  g_free (self->mirror);
  g_free (self->message);
  G_OBJECT_CLASS (lk_model_download_parent_class)->finalize (object);
}

static void
lk_model_download_class_init (LkModelDownloadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->get_property = lk_model_download_get_property;
  object_class->finalize = lk_model_download_finalize;

  properties[PROP_BYTES_DONE] =
    g_param_spec_int64 ("bytes-done", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_BYTES_TOTAL] =
    g_param_spec_int64 ("bytes-total", NULL, NULL, -1, G_MAXINT64, -1, flags);
  properties[PROP_RATE] =
    g_param_spec_double ("rate", NULL, NULL, 0, G_MAXDOUBLE, 0, flags);
  properties[PROP_ETA] =
    g_param_spec_double ("eta", NULL, NULL, -1, G_MAXDOUBLE, -1, flags);
  properties[PROP_FRACTION] =
    g_param_spec_double ("fraction", NULL, NULL, 0, 1, 0, flags);
  properties[PROP_MESSAGE] =
    g_param_spec_string ("message", NULL, NULL, NULL, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lk_model_download_init (LkModelDownload *self)
{
  self->timeout = 60;
  self->keep_partial = TRUE;
  self->bytes_total = -1;
  self->eta = -1;
}
