/* lk-cli-models.c: likeness-cli models list | download NAME | add PATH | verify | scan DIR
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lk-cli.h"
#include "lk-catalog.h"
#include "lk-catalog-files.h"
#include "lk-model-download.h"
#include "lk-model-registry.h"
#include "lk-model-scan.h"

static char *
format_size (gint64 size)
{
  return size < 0 ? g_strdup ("?") : g_format_size (size);
}

static int
models_list (LkCatalog       *catalog,
             LkModelRegistry *registry)
{
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) listed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  rows = lk_catalog_list_models (catalog, &error);
  if (rows == NULL)
    return lk_cli_fail ("%s", error->message);
  printf ("%-20s %-12s %-11s %9s  %s\n", "NAME", "ROLE", "STATE", "SIZE", "TITLE");
  for (guint i = 0; i < lk_model_registry_get_n_models (registry); i++)
    {
      const LkModelEntry *entry = lk_model_registry_get_nth (registry, i);
      g_autoptr(LkCatalogModel) row = lk_catalog_get_model (catalog, entry->role, entry->name,
                                                            NULL);
      g_autofree char *size = format_size (lk_model_entry_get_size (entry));

      g_hash_table_add (listed, g_strdup_printf ("%s/%s", entry->role, entry->name));
      printf ("%-20s %-12s %-11s %9s  %s%s%s\n", entry->name, entry->role,
              row != NULL ? row->state : "missing", size, entry->title,
              lk_model_entry_is_pinned (entry) ? "" : " [no pinned SHA-256]",
              entry->required ? "" : " (optional)");
    }
  for (guint i = 0; i < rows->len; i++)
    {
      const LkCatalogModel *row = g_ptr_array_index (rows, i);
      g_autofree char *key = g_strdup_printf ("%s/%s", row->role, row->name);
      g_autofree char *size = format_size (row->size);

      if (!g_hash_table_contains (listed, key))
        printf ("%-20s %-12s %-11s %9s  %s\n", row->name, row->role, row->state, size, row->path);
    }
  return 0;
}

typedef struct
{
  GMainLoop *loop;
  gboolean   ok;
  GError    *error;
  gboolean   tty;
  gint64     last_line_us;
} Progress;

static void
download_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Progress *progress = user_data;

  progress->ok = lk_model_download_run_finish (LK_MODEL_DOWNLOAD (object), result,
                                               &progress->error);
  g_main_loop_quit (progress->loop);
}

static void
progress_cb (LkModelDownload *download,
             GParamSpec      *pspec,
             Progress        *progress)
{
  gint64 done = lk_model_download_get_bytes_done (download);
  gint64 total = lk_model_download_get_bytes_total (download);
  double eta = lk_model_download_get_eta (download);
  g_autofree char *done_text = format_size (done);
  g_autofree char *total_text = format_size (total);
  g_autofree char *rate_text = g_format_size ((guint64) lk_model_download_get_rate (download));
  g_autofree char *eta_text = eta < 0 ? g_strdup ("--:--")
                                      : g_strdup_printf ("%02d:%02d", (int) eta / 60,
                                                         (int) eta % 60);
  double fraction = lk_model_download_get_fraction (download);
  const char *message = lk_model_download_get_message (download);

  if (progress->tty)
    {
      char bar[31];
      guint filled = (guint) (fraction * 30);

      memset (bar, '#', filled);
      memset (bar + filled, '-', 30 - filled);
      bar[30] = '\0';
      printf ("\r\033[K[%s] %3.0f%% %s / %s  %s/s  ETA %s  %s", bar, fraction * 100, done_text,
              total_text, rate_text, eta_text, message ? message : "");
      fflush (stdout);
    }
  else
    {
      /* Plain lines for logs: at most one every five seconds. */
      gint64 now = g_get_monotonic_time ();

      if (now - progress->last_line_us < 5 * G_USEC_PER_SEC && g_strcmp0 (pspec->name, "message"))
        return;
      progress->last_line_us = now;
      printf ("%s: %s of %s (%.0f%%), %s/s, ETA %s\n", message ? message : "downloading",
              done_text, total_text, fraction * 100, rate_text, eta_text);
    }
}

static int
models_download (const char      *data_dir,
                 LkModelRegistry *registry,
                 const char      *name,
                 const char      *mirror,
                 guint            timeout,
                 gboolean         trust_unpinned)
{
  g_autoptr(LkModelDownload) download = lk_model_download_new (data_dir, registry, name);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Progress progress = { loop, FALSE, NULL, isatty (STDOUT_FILENO), 0 };

  lk_model_download_set_mirror (download, lk_model_mirror_choose (mirror));
  if (timeout > 0)
    lk_model_download_set_timeout (download, timeout);
  lk_model_download_set_trust_unpinned (download, trust_unpinned);
  g_signal_connect (download, "notify::bytes-done", G_CALLBACK (progress_cb), &progress);
  g_signal_connect (download, "notify::message", G_CALLBACK (progress_cb), &progress);
  lk_model_download_run_async (download, NULL, download_done_cb, &progress);
  g_main_loop_run (loop);
  if (progress.tty)
    printf ("\n");
  if (!progress.ok)
    {
      g_autoptr(GError) error = progress.error;

      return lk_cli_fail ("%s", error->message);
    }
  printf ("%s is ready\n", name);
  return 0;
}

static int
models_add (LkCatalog       *catalog,
            LkModelRegistry *registry,
            const char      *path)
{
  g_autoptr(LkModelScanItem) item = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return lk_cli_fail ("%s is not a file", path);
  item = lk_models_adopt (catalog, registry, path, TRUE, NULL, &error);
  if (item == NULL)
    return lk_cli_fail ("%s", error->message);
  if (!item->recorded)
    return lk_cli_fail ("%s: %s", path, item->note);
  printf ("%s: %s\n", item->path, item->note);
  return 0;
}

static int
models_verify (LkCatalog       *catalog,
               LkModelRegistry *registry)
{
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  guint problems = 0;

  rows = lk_catalog_list_models (catalog, &error);
  if (rows == NULL)
    return lk_cli_fail ("%s", error->message);
  for (guint i = 0; i < rows->len; i++)
    {
      const LkCatalogModel *row = g_ptr_array_index (rows, i);
      const LkModelEntry *entry = lk_model_registry_lookup (registry, row->name);
      g_autofree char *path = lk_model_resolve_path (lk_catalog_get_data_dir (catalog), row->path);
      g_autofree char *dir = g_path_get_dirname (path);
      const char *state = "ready";
      g_autofree char *why = NULL;
      g_autofree char *first_sha256 = NULL;
      gint64 total = 0;

      if (entry != NULL && g_strcmp0 (entry->role, row->role) != 0)
        entry = NULL;
      if (g_strcmp0 (row->state, "downloading") == 0)
        continue;  /* perhaps still running elsewhere */
      /* A registry model: every file against its pin. An adopted one: the recorded hash. */
      for (guint j = 0; j < (entry != NULL ? entry->files->len : 1) && why == NULL; j++)
        {
          const LkModelFileSpec *spec = entry != NULL ? g_ptr_array_index (entry->files, j) : NULL;
          /* Single-file models may have been adopted under another name: use the row's. */
          g_autofree char *file = spec != NULL && entry->files->len > 1
                                  ? g_build_filename (dir, spec->path, NULL) : g_strdup (path);
          const char *expected = spec != NULL && spec->sha256 != NULL ? spec->sha256
                                 : j == 0 ? row->sha256 : NULL;
          g_autoptr(GError) local_error = NULL;
          g_autofree char *sha256 = NULL;
          goffset size = 0;

          if (!g_file_test (file, G_FILE_TEST_EXISTS))
            {
              state = "missing";
              why = g_strdup_printf ("%s is gone", file);
              break;
            }
          sha256 = lk_catalog_files_hash (file, &size, NULL, &local_error);
          if (sha256 == NULL)
            return lk_cli_fail ("%s", local_error->message);
          total += size;
          if (expected != NULL && strcmp (sha256, expected) != 0)
            {
              state = "corrupt";
              why = g_strdup_printf ("%s has SHA-256 %s, expected %s", file, sha256, expected);
            }
          if (j == 0)
            first_sha256 = g_steal_pointer (&sha256);
        }
      if (!lk_catalog_set_model (catalog, row->role, row->name, row->path,
                                 why == NULL ? total : row->size,
                                 why == NULL ? first_sha256 : row->sha256, row->source_url,
                                 state, &error))
        return lk_cli_fail ("%s", error->message);
      if (why != NULL)
        problems++;
      printf ("%-20s %-12s %s%s%s\n", row->name, row->role, state, why ? ": " : "",
              why ? why : "");
    }
  if (problems > 0)
    return lk_cli_fail ("%u model%s failed verification", problems, problems == 1 ? "" : "s");
  return 0;
}

static int
models_scan (LkCatalog       *catalog,
             LkModelRegistry *registry,
             const char      *dir,
             gboolean         hash)
{
  g_autoptr(GPtrArray) items = NULL;
  g_autoptr(GError) error = NULL;
  guint recorded = 0;

  items = lk_models_scan (catalog, registry, dir, hash, NULL, &error);
  if (items == NULL)
    return lk_cli_fail ("%s", error->message);
  for (guint i = 0; i < items->len; i++)
    {
      const LkModelScanItem *item = g_ptr_array_index (items, i);

      printf ("%s: %s\n", item->path, item->note);
      recorded += item->recorded;
    }
  printf ("%u model%s recorded, %u file%s ignored\n", recorded, recorded == 1 ? "" : "s",
          items->len - recorded, items->len - recorded == 1 ? "" : "s");
  return 0;
}

int
lk_cli_models (int    argc,
               char **argv)
{
  g_autofree char *data_dir = NULL;
  g_autofree char *mirror = NULL;
  gboolean trust_unpinned = FALSE, hash = FALSE;
  int timeout = 0;
  const GOptionEntry entries[] = {
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Use the catalog in DIR (default: $LIKENESS_DATA_DIR or $XDG_DATA_HOME/likeness)", "DIR" },
    { "mirror", 0, 0, G_OPTION_ARG_STRING, &mirror,
      "Fetch https://HOST/PATH from URL/HOST/PATH ($LIKENESS_MODEL_MIRROR wins)", "URL" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
      "Give up on a connection silent for this many seconds (default 60)", "SECONDS" },
    { "trust-unpinned", 0, 0, G_OPTION_ARG_NONE, &trust_unpinned,
      "Download a model the registry pins no SHA-256 for, and record the hash it has", NULL },
    { "hash", 0, 0, G_OPTION_ARG_NONE, &hash,
      "scan: compute each file's SHA-256 too (slow for checkpoints)", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("list | download NAME | add PATH | verify | scan DIR");
  g_autoptr(LkModelRegistry) registry = NULL;
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(GError) error = NULL;
  const char *command;

  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_set_summary (options,
    "list      the models Likeness uses and the ones you added, with their state\n"
    "download  fetch a model, resuming a partial download, checking its SHA-256\n"
    "add       record a model file you already have, where it is (no copy)\n"
    "verify    re-hash every recorded model and mark damaged or missing ones\n"
    "scan      find models in a Stable Diffusion web UI or ComfyUI folder");
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("%s", error->message);
  command = argc >= 2 ? argv[1] : NULL;
  if (command == NULL ||
      (strcmp (command, "list") == 0 && argc != 2) ||
      (strcmp (command, "verify") == 0 && argc != 2) ||
      ((strcmp (command, "download") == 0 || strcmp (command, "add") == 0 ||
        strcmp (command, "scan") == 0) && argc != 3))
    return lk_cli_fail ("usage: likeness-cli models list | download NAME | add PATH | verify | "
                        "scan DIR [--data-dir DIR]");
  if (timeout < 0)
    return lk_cli_fail ("--timeout must be positive");

  registry = lk_model_registry_new_default (&error);
  if (registry == NULL)
    return lk_cli_fail ("%s", error->message);
  catalog = lk_cli_open_catalog (data_dir);
  if (catalog == NULL)
    return 1;

  if (strcmp (command, "list") == 0)
    return models_list (catalog, registry);
  if (strcmp (command, "download") == 0)
    return models_download (lk_catalog_get_data_dir (catalog), registry, argv[2], mirror,
                            timeout, trust_unpinned);
  if (strcmp (command, "add") == 0)
    return models_add (catalog, registry, argv[2]);
  if (strcmp (command, "verify") == 0)
    return models_verify (catalog, registry);
  if (strcmp (command, "scan") == 0)
    return models_scan (catalog, registry, argv[2], hash);
  return lk_cli_fail ("unknown models command “%s”", command);
}
