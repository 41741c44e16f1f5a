/* test-catalog.c: the catalog — schema and migrations, imports and refusals, lists that follow
 * other processes, full disks, concurrent writers, and SIGKILL at random points
 *
 * The binary re-executes itself with --child MODE for the other processes.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "lk-catalog.h"
#include "lk-catalog-files.h"
#include "lk-catalog-schema.h"

static const char *self_exe;
static const char *cli_exe;

/* A fresh data directory per test; removed at the end. */
typedef struct
{
  char      *dir;
  char      *src;   /* where tests write the files they import */
  LkCatalog *catalog;
} Fixture;

static void
rm_rf (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK) && g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          rm_rf (child);
        }
    }
  g_remove (path);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("lk-catalog-XXXXXX", &error);
  g_assert_no_error (error);
  f->src = g_dir_make_tmp ("lk-catalog-src-XXXXXX", &error);
  g_assert_no_error (error);
  f->catalog = lk_catalog_open (f->dir, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->catalog);
  rm_rf (f->dir);
  rm_rf (f->src);
  g_free (f->dir);
  g_free (f->src);
}

/* A PNG of noise, different for each seed. */
static char *
write_png (const char *dir,
           const char *name,
           int         width,
           int         height,
           guint32     seed)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width * 3; x++)
      pixels[y * stride + x] = g_rand_int (rand) & 0xff;
  gdk_pixbuf_save (pixbuf, path, "png", &error, NULL);
  g_assert_no_error (error);
  return path;
}

static GBytes *
png_bytes (int     width,
           int     height,
           guint32 seed)
{
  g_autofree char *dir = g_dir_make_tmp ("lk-png-XXXXXX", NULL);
  g_autofree char *path = write_png (dir, "x.png", width, height, seed);
  g_autoptr(GMappedFile) mapped = g_mapped_file_new (path, FALSE, NULL);
  GBytes *bytes = g_mapped_file_get_bytes (mapped);

  g_unlink (path);
  g_rmdir (dir);
  return bytes;
}

static gint64
count_rows (LkCatalog  *catalog,
            const char *sql)
{
  g_autofree char *path = g_build_filename (lk_catalog_get_data_dir (catalog), "catalog.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n = -1;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 10000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

static guint
count_files_under (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  if (d == NULL)
    return 0;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      n += g_file_test (path, G_FILE_TEST_IS_DIR) ? count_files_under (path) : 1;
    }
  return n;
}

static guint
count_stored_files (LkCatalog *catalog)
{
  static const char * const folders[] = { "photos", "templates", "outputs", "loras" };
  guint n = 0;

  for (guint i = 0; i < G_N_ELEMENTS (folders); i++)
    {
      g_autofree char *dir = g_build_filename (lk_catalog_get_data_dir (catalog), folders[i], NULL);

      n += count_files_under (dir);
    }
  return n;
}

static void
assert_clean (LkCatalog *catalog)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkCatalogCheck) check = lk_catalog_check (catalog, FALSE, NULL, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < check->messages->len; i++)
    g_test_message ("check: %s", (const char *) g_ptr_array_index (check->messages, i));
  g_assert_cmpuint (check->orphan_rows, ==, 0);
  g_assert_cmpuint (check->orphan_files, ==, 0);
  g_assert_cmpuint (check->hash_mismatches, ==, 0);
  g_assert_cmpuint (check->database_problems, ==, 0);
}

static char *
test_data_dir (void)
{
  const char *env = g_getenv ("LIKENESS_TEST_DATA");
  const char *source = g_getenv ("LIKENESS_SOURCE_DIR");

  if (env != NULL && g_file_test (env, G_FILE_TEST_IS_DIR))
    return g_strdup (env);
  if (source != NULL)
    {
      g_autofree char *dir = g_build_filename (source, "..", "shared", "testdata", NULL);

      if (g_file_test (dir, G_FILE_TEST_IS_DIR))
        return g_steal_pointer (&dir);
    }
  return NULL;
}

/* ---- schema ---------------------------------------------------------------------------- */

static void
test_schema_fresh (Fixture       *f,
                   gconstpointer  data)
{
  g_assert_cmpint (count_rows (f->catalog, "PRAGMA user_version"), ==, LK_CATALOG_SCHEMA_VERSION);
  g_assert_cmpint (count_rows (f->catalog,
                               "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                               " ('people', 'photos', 'datasets', 'loras', 'templates',"
                               "  'generations', 'generation_people', 'models', 'jobs',"
                               "  'pending_files')"), ==, 10);
  g_assert_cmpint (count_rows (f->catalog, "SELECT count(*) FROM pragma_journal_mode"
                                          " WHERE journal_mode = 'wal'"), ==, 1);
}

static void
test_schema_upgrade (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (f->dir, "old", NULL);
  g_autofree char *path = g_build_filename (dir, "catalog.db", NULL);
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(LkPerson) person = NULL;
  g_autoptr(LkGeneration) generation = NULL;
  g_autoptr(GListModel) photos = NULL;
  g_autoptr(LkPhoto) photo = NULL;
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;

  /* Every earlier version: make a catalog at it, with data, and open it. */
  for (int version = 1; version < LK_CATALOG_SCHEMA_VERSION; version++)
    {
      rm_rf (dir);
      g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
      g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
      lk_catalog_schema_migrate (db, version, &error);
      g_assert_no_error (error);
      g_assert_cmpint (lk_catalog_schema_get_version (db, NULL), ==, version);
      g_assert_cmpint (sqlite3_exec (db,
        "INSERT INTO people (id, name, created_at) VALUES (7, 'Ada', 1000);"
        "INSERT INTO photos (id, person_id, sha256, file, size, original_name, width, height,"
        "  added_at) VALUES (3, 7, 'abc', 'photos/ab/abc.jpg', 10, 'ada.jpg', 640, 480, 1001);"
        "INSERT INTO templates (id, name, sha256, file, size, width, height, added_at)"
        "  VALUES (2, 'beach', 'def', 'templates/de/def.png', 20, 512, 768, 1002);"
        "INSERT INTO generations (id, template_id, params, seed, sha256, file, size, created_at)"
        "  VALUES (5, 2, '{\"steps\": 50}', 42, 'fed', 'outputs/fe/fed.png', 30, 1003);"
        "INSERT INTO generation_people VALUES (5, 0, 7, NULL);"
        "INSERT INTO jobs (kind, state, created_at) VALUES ('train', 'running', 1004);",
        NULL, NULL, NULL), ==, SQLITE_OK);
      sqlite3_close (db);

      catalog = lk_catalog_open (dir, &error);
      g_assert_no_error (error);
      g_assert_cmpint (count_rows (catalog, "PRAGMA user_version"), ==, LK_CATALOG_SCHEMA_VERSION);

      person = lk_catalog_get_person (catalog, 7, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (lk_person_get_name (person), ==, "Ada");
      photos = lk_catalog_list_photos (catalog, 7);
      g_assert_cmpuint (g_list_model_get_n_items (photos), ==, 1);
      photo = g_list_model_get_item (photos, 0);
      g_assert_cmpint (lk_photo_get_width (photo), ==, 640);
      g_assert_cmpstr (lk_photo_get_original_name (photo), ==, "ada.jpg");
      generation = lk_catalog_get_generation (catalog, 5, &error);
      g_assert_no_error (error);
      g_assert_cmpint (lk_generation_get_seed (generation), ==, 42);
      g_assert_cmpstr (lk_generation_get_people (generation), ==, "Ada");
      g_assert_cmpfloat (lk_generation_get_similarity (generation), ==, -1);
      /* The columns the later steps added are there and empty. */
      g_assert_cmpint (count_rows (catalog,
                                   "SELECT count(*) FROM photos WHERE face_box IS NULL"
                                   " AND embedding IS NULL"), ==, 1);
      g_assert_cmpint (count_rows (catalog, "SELECT count(*) FROM jobs"), ==, 1);

      g_clear_object (&photo);
      g_clear_object (&photos);
      g_clear_object (&person);
      g_clear_object (&generation);
      g_clear_object (&catalog);
    }
}

static void
test_schema_newer (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->dir, "catalog.db", NULL);
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;

  g_clear_object (&f->catalog);
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  catalog = lk_catalog_open (f->dir, &error);
  g_assert_null (catalog);
  g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_VERSION);
  g_assert_nonnull (strstr (error->message, "99"));
  g_assert_nonnull (strstr (error->message, "newer"));
}

/* ---- people and photos ------------------------------------------------------------------ */

static void
test_people (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(LkPerson) ada = NULL;
  g_autoptr(LkPerson) found = NULL;
  g_autoptr(LkPerson) none = NULL;
  g_autoptr(GError) error = NULL;

  ada = lk_catalog_add_person (f->catalog, "Ada", &error);
  g_assert_no_error (error);
  g_assert_null (lk_catalog_add_person (f->catalog, "ada", &error));
  g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_null (lk_catalog_add_person (f->catalog, " padded ", &error));
  g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_null (lk_catalog_add_person (f->catalog, "", &error));
  g_clear_error (&error);

  g_assert_true (lk_catalog_rename_person (f->catalog, lk_person_get_id (ada), "Ada L.", &error));
  g_assert_no_error (error);
  found = lk_catalog_find_person (f->catalog, "ada l.", &error);
  g_assert_no_error (error);
  g_assert_cmpint (lk_person_get_id (found), ==, lk_person_get_id (ada));
  g_clear_object (&found);
  found = lk_catalog_find_person (f->catalog, "1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lk_person_get_name (found), ==, "Ada L.");

  g_assert_true (lk_catalog_remove_person (f->catalog, lk_person_get_id (ada), &error));
  g_assert_no_error (error);
  none = lk_catalog_find_person (f->catalog, "Ada L.", &error);
  g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (lk_catalog_remove_person (f->catalog, lk_person_get_id (ada), &error));
  g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NOT_FOUND);
}

static void
test_photos_duplicate (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(LkPerson) ada = lk_catalog_add_person (f->catalog, "Ada", NULL);
  g_autoptr(LkPerson) bob = lk_catalog_add_person (f->catalog, "Bob", NULL);
  g_autofree char *path = write_png (f->src, "a.png", 40, 30, 1);
  g_autofree char *copy = g_build_filename (f->src, "copy-of-a.png", NULL);
  g_autoptr(LkPhoto) first = NULL;
  g_autoptr(LkPhoto) second = NULL;
  g_autoptr(LkPhoto) third = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;
  gboolean already = TRUE;

  first = lk_catalog_add_photo (f->catalog, lk_person_get_id (ada), path, &already, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (already);
  g_assert_cmpint (lk_photo_get_width (first), ==, 40);
  g_assert_cmpint (lk_photo_get_height (first), ==, 30);
  g_assert_cmpstr (lk_photo_get_original_name (first), ==, "a.png");
  g_assert_true (g_str_has_prefix (lk_photo_get_path (first), f->dir));
  g_assert_true (g_file_test (lk_photo_get_path (first), G_FILE_TEST_IS_REGULAR));

  /* The same content under another name: stored once, reported. */
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (copy, contents, len, NULL));
  second = lk_catalog_add_photo (f->catalog, lk_person_get_id (ada), copy, &already, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (already);
  g_assert_cmpint (lk_photo_get_id (second), ==, lk_photo_get_id (first));
  g_assert_cmpint (count_rows (f->catalog, "SELECT count(*) FROM photos"), ==, 1);
  g_assert_cmpuint (count_stored_files (f->catalog), ==, 1);

  third = lk_catalog_add_photo (f->catalog, lk_person_get_id (bob), copy, &already, NULL, &error);
  g_assert_null (third);
  g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "Ada"));
  assert_clean (f->catalog);
}

/* A PNG header declaring width × height with a valid CRC, and no pixels worth the name. */
static guint32
crc32 (const guint8 *data,
       gsize         len)
{
  guint32 crc = 0xffffffff;

  for (gsize i = 0; i < len; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320 & (0 - (crc & 1)));
    }
  return ~crc;
}

static void
put_be32 (guint8  *p,
          guint32  v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

/* What a decompression bomb shows before it explodes: a header declaring width × height and
 * the start of a zlib stream (libpng reports the size when the first IDAT arrives). */
static char *
write_png_bomb (const char *dir,
                guint32     width,
                guint32     height)
{
  guint8 png[8 + 25 + 14 + 12] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  guint8 *ihdr = png + 8;
  guint8 *idat = ihdr + 25;
  guint8 *iend = idat + 14;
  char *path = g_build_filename (dir, "bomb.png", NULL);

  put_be32 (ihdr, 13);
  memcpy (ihdr + 4, "IHDR", 4);
  put_be32 (ihdr + 8, width);
  put_be32 (ihdr + 12, height);
  ihdr[16] = 8;   /* bit depth */
  ihdr[17] = 2;   /* RGB */
  put_be32 (ihdr + 21, crc32 (ihdr + 4, 17));
  put_be32 (idat, 2);
  memcpy (idat + 4, "IDAT", 4);
  idat[8] = 0x78;
  idat[9] = 0x9c;
  put_be32 (idat + 10, crc32 (idat + 4, 6));
  put_be32 (iend, 0);
  memcpy (iend + 4, "IEND", 4);
  put_be32 (iend + 8, crc32 (iend + 4, 4));
  g_assert_true (g_file_set_contents (path, (const char *) png, sizeof png, NULL));
  return path;
}

static void
assert_refused (Fixture    *f,
                gint64      person_id,
                const char *path,
                int         code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkPhoto) photo = lk_catalog_add_photo (f->catalog, person_id, path, NULL, NULL, &error);

  g_assert_null (photo);
  g_assert_error (error, LK_CATALOG_ERROR, code);
  g_test_message ("%s: %s", path, error->message);
  g_assert_cmpint (count_rows (f->catalog, "SELECT count(*) FROM photos"), ==, 0);
  g_assert_cmpint (count_rows (f->catalog, "SELECT count(*) FROM pending_files"), ==, 0);
  g_assert_cmpuint (count_stored_files (f->catalog), ==, 0);
}

static void
test_photos_refused (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(LkPerson) ada = lk_catalog_add_person (f->catalog, "Ada", NULL);
  gint64 id = lk_person_get_id (ada);
  g_autofree char *text = g_build_filename (f->src, "notes.jpg", NULL);
  g_autofree char *empty = g_build_filename (f->src, "empty.png", NULL);
  g_autofree char *missing = g_build_filename (f->src, "missing.png", NULL);
  g_autofree char *truncated = g_build_filename (f->src, "truncated.png", NULL);
  g_autofree char *bomb = write_png_bomb (f->src, 100000, 100000);
  g_autofree char *big = write_png (f->src, "big.png", 300, 200, 2);
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_true (g_file_set_contents (text, "this is not a photo\n", -1, NULL));
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  g_assert_true (g_file_get_contents (big, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (truncated, contents, len / 2, NULL));

  assert_refused (f, id, text, LK_CATALOG_ERROR_NOT_IMAGE);
  assert_refused (f, id, empty, LK_CATALOG_ERROR_EMPTY);
  assert_refused (f, id, missing, LK_CATALOG_ERROR_NOT_FOUND);
  assert_refused (f, id, f->src, LK_CATALOG_ERROR_NOT_IMAGE);  /* a folder */
  assert_refused (f, id, truncated, LK_CATALOG_ERROR_NOT_IMAGE);
  assert_refused (f, id, bomb, LK_CATALOG_ERROR_TOO_LARGE);
  if (geteuid () != 0)
    {
      g_autofree char *locked = write_png (f->src, "locked.png", 8, 8, 3);

      g_assert_cmpint (g_chmod (locked, 0), ==, 0);
      assert_refused (f, id, locked, LK_CATALOG_ERROR_IO);
    }

  /* The limits are settings. */
  lk_catalog_set_max_pixels (f->catalog, 300 * 200 - 1);
  assert_refused (f, id, big, LK_CATALOG_ERROR_TOO_LARGE);
  lk_catalog_set_max_pixels (f->catalog, LK_CATALOG_DEFAULT_MAX_PIXELS);
  lk_catalog_set_max_file_size (f->catalog, len - 1);
  assert_refused (f, id, big, LK_CATALOG_ERROR_TOO_LARGE);
  lk_catalog_set_max_file_size (f->catalog, LK_CATALOG_DEFAULT_MAX_FILE_SIZE);
  assert_clean (f->catalog);
}

/* A JPEG whose EXIF says "rotate 90°": the catalog records the size as shown. */
static void
test_photos_orientation (Fixture       *f,
                         gconstpointer  data)
{
  static const guint8 exif[] = {
    0xff, 0xe1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,
    'M', 'M', 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08,
    0x00, 0x01,                                      /* one entry */
    0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,  /* Orientation, SHORT, 1 */
    0x00, 0x06, 0x00, 0x00,                          /* 6: rotate 90° clockwise */
    0x00, 0x00, 0x00, 0x00,                          /* no next IFD */
  };
  g_autoptr(LkPerson) ada = lk_catalog_add_person (f->catalog, "Ada", NULL);
  g_autofree char *png = write_png (f->src, "wide.png", 64, 32, 4);
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new_from_file (png, NULL);
  g_autofree char *jpeg = NULL;
  g_autofree char *path = g_build_filename (f->src, "rotated.jpg", NULL);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(LkPhoto) photo = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;

  g_assert_true (gdk_pixbuf_save_to_buffer (pixbuf, &jpeg, &len, "jpeg", &error, NULL));
  g_byte_array_append (out, (const guint8 *) jpeg, 2);  /* SOI */
  g_byte_array_append (out, exif, sizeof exif);
  g_byte_array_append (out, (const guint8 *) jpeg + 2, len - 2);
  g_assert_true (g_file_set_contents (path, (const char *) out->data, out->len, NULL));

  photo = lk_catalog_add_photo (f->catalog, lk_person_get_id (ada), path, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lk_photo_get_orientation (photo), ==, 6);
  g_assert_cmpint (lk_photo_get_width (photo), ==, 32);
  g_assert_cmpint (lk_photo_get_height (photo), ==, 64);
  g_assert_true (g_str_has_suffix (lk_photo_get_path (photo), ".jpg"));
}

static void
test_photos_real (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *dir = test_data_dir ();
  g_autoptr(LkPerson) ada = lk_catalog_add_person (f->catalog, "Ada", NULL);
  static const char * const names[] = { "group-1.jpg", "astronaut.png", "no-face-cat.png" };

  if (dir == NULL)
    {
      g_test_skip ("No test photos: set LIKENESS_TEST_DATA or provide ../shared/testdata "
                   "(group-1.jpg, astronaut.png, no-face-cat.png)");
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, names[i], NULL);
      g_autoptr(LkPhoto) photo = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkPixbuf) pixbuf = NULL;

      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        {
          g_test_skip_printf ("Missing test photo %s", path);
          return;
        }
      photo = lk_catalog_add_photo (f->catalog, lk_person_get_id (ada), path, NULL, NULL, &error);
      g_assert_no_error (error);
      pixbuf = gdk_pixbuf_new_from_file (path, NULL);
      g_assert_cmpint (lk_photo_get_width (photo), ==, gdk_pixbuf_get_width (pixbuf));
    }
  assert_clean (f->catalog);
}

static void
test_templates_generations (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(LkPerson) ada = lk_catalog_add_person (f->catalog, "Ada", NULL);
  g_autofree char *path = write_png (f->src, "beach.png", 48, 64, 5);
  g_autoptr(LkTemplate) template = NULL;
  g_autoptr(LkTemplate) again = NULL;
  g_autoptr(LkGeneration) generation = NULL;
  g_autoptr(GBytes) output = png_bytes (48, 64, 6);
  g_autoptr(GError) error = NULL;
  gint64 people[1];
  gboolean already;

  template = lk_catalog_add_template (f->catalog, path, FALSE, &already, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lk_template_get_name (template), ==, "beach");
  g_assert_cmpint (lk_template_get_face_count (template), ==, -1);
  again = lk_catalog_add_template (f->catalog, path, FALSE, &already, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (already);
  g_assert_true (lk_catalog_set_template_faces (f->catalog, lk_template_get_id (template), 1,
                                                "[[10, 12, 20, 24]]", &error));
  g_assert_no_error (error);

  people[0] = lk_person_get_id (ada);
  generation = lk_catalog_add_generation (f->catalog, lk_template_get_id (template), people, 1,
                                          "{\"steps\": 50, \"strength\": 0.45}", 1234,
                                          "{\"unet\": \"abc\"}", output, 0.71, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lk_generation_get_people (generation), ==, "Ada");
  g_assert_cmpfloat_with_epsilon (lk_generation_get_similarity (generation), 0.71, 1e-9);
  g_assert_null (lk_catalog_add_generation (f->catalog, 0, NULL, 0, "{not json", 1, NULL, output,
                                            -1, &error));
  g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_FAILED);
  g_clear_error (&error);

  /* Removing the person keeps the generation; removing the template too. */
  g_assert_true (lk_catalog_remove_person (f->catalog, lk_person_get_id (ada), &error));
  g_assert_true (lk_catalog_remove_template (f->catalog, lk_template_get_id (template), &error));
  g_assert_no_error (error);
  g_clear_object (&generation);
  generation = lk_catalog_get_generation (f->catalog, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lk_generation_get_template_id (generation), ==, 0);
  g_assert_true (g_file_test (lk_generation_get_path (generation), G_FILE_TEST_IS_REGULAR));
  assert_clean (f->catalog);
}

static void
test_loras_jobs (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(LkPerson) ada = lk_catalog_add_person (f->catalog, "Ada", NULL);
  g_autofree char *weights = g_build_filename (f->src, "ada.safetensors", NULL);
  g_autofree char *face = write_png (f->src, "face.png", 16, 16, 7);
  g_autoptr(GListModel) jobs = lk_catalog_list_jobs (f->catalog);
  g_autoptr(LkJob) job = NULL;
  g_autoptr(LkJob) item = NULL;
  g_autoptr(GError) error = NULL;
  gboolean has = TRUE;
  gint64 lora;

  /* Nothing ready yet: what the app's Train and Generate buttons ask. */
  g_assert_true (lk_catalog_has_ready_lora (f->catalog, lk_person_get_id (ada), &has, &error));
  g_assert_no_error (error);
  g_assert_false (has);
  g_assert_true (lk_catalog_has_ready_model (f->catalog, "base", &has, &error));
  g_assert_false (has);

  g_assert_true (g_file_set_contents (weights, "\x08\0\0\0\0\0\0\0{}      ", 16, NULL));
  lora = lk_catalog_add_lora (f->catalog, lk_person_get_id (ada), "basehash", "{\"rank\": 128}",
                              800, "[0.7, 0.8]", weights, face, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lora, >, 0);
  g_assert_cmpuint (count_stored_files (f->catalog), ==, 2);
  g_assert_true (lk_catalog_has_ready_lora (f->catalog, lk_person_get_id (ada), &has, &error));
  g_assert_true (has);
  /* A model that is still downloading is not ready; the same row once verified is. */
  g_assert_true (lk_catalog_set_model (f->catalog, "base", "sd15", "/models/sd15.safetensors",
                                       123, "abc", "https://example.org/sd15", "downloading", &error));
  g_assert_true (lk_catalog_has_ready_model (f->catalog, "base", &has, &error));
  g_assert_false (has);
  g_assert_true (lk_catalog_set_model (f->catalog, "base", "sd15", "/models/sd15.safetensors",
                                       123, "abc", "https://example.org/sd15", "ready", &error));
  g_assert_no_error (error);
  g_assert_true (lk_catalog_has_ready_model (f->catalog, "base", &has, &error));
  g_assert_true (has);
  g_assert_true (lk_catalog_has_ready_model (f->catalog, "controlnet-canny", &has, &error));
  g_assert_false (has);

  job = lk_catalog_add_job (f->catalog, "train", "{\"person\": 1}", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (jobs), ==, 1);
  g_assert_true (lk_catalog_update_job (f->catalog, lk_job_get_id (job), LK_JOB_STATE_RUNNING, 0.5,
                                        "step 400", "ckpt-400", NULL, &error));
  g_assert_no_error (error);
  item = g_list_model_get_item (jobs, 0);
  g_assert_cmpint (lk_job_get_state (item), ==, LK_JOB_STATE_RUNNING);
  g_assert_cmpfloat (lk_job_get_progress (item), ==, 0.5);
  g_assert_cmpstr (lk_job_get_checkpoint (item), ==, "ckpt-400");
  g_assert_cmpint (lk_job_get_started_at (item), >, 0);

  /* The person's LoRA goes with them, files included. */
  g_assert_true (lk_catalog_remove_person (f->catalog, lk_person_get_id (ada), &error));
  g_assert_cmpuint (count_stored_files (f->catalog), ==, 0);
  g_assert_cmpint (count_rows (f->catalog, "SELECT count(*) FROM loras"), ==, 0);
  assert_clean (f->catalog);
}

/* ---- check ------------------------------------------------------------------------------- */

static void
test_check_repairs (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(LkPerson) ada = lk_catalog_add_person (f->catalog, "Ada", NULL);
  g_autofree char *a = write_png (f->src, "a.png", 8, 8, 10);
  g_autofree char *b = write_png (f->src, "b.png", 8, 8, 11);
  g_autoptr(LkPhoto) pa = lk_catalog_add_photo (f->catalog, lk_person_get_id (ada), a, NULL, NULL, NULL);
  g_autoptr(LkPhoto) pb = lk_catalog_add_photo (f->catalog, lk_person_get_id (ada), b, NULL, NULL, NULL);
  g_autofree char *stray = g_build_filename (f->dir, "photos", "00", "stray.png", NULL);
  g_autofree char *half = g_build_filename (f->dir, "photos", "00", ".lk-pending-999", NULL);
  g_autoptr(LkCatalogCheck) check = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (pa);
  g_assert_nonnull (pb);
  g_assert_cmpint (g_mkdir_with_parents (g_path_get_dirname (stray), 0700), ==, 0);
  g_assert_true (g_file_set_contents (stray, "x", 1, NULL));
  g_assert_true (g_file_set_contents (half, "y", 1, NULL));
  g_assert_cmpint (g_unlink (lk_photo_get_path (pa)), ==, 0);
  g_assert_true (g_file_set_contents (lk_photo_get_path (pb), "damaged", -1, NULL));

  check = lk_catalog_check (f->catalog, FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (check->orphan_rows, ==, 1);
  g_assert_cmpuint (check->orphan_files, ==, 2);
  g_assert_cmpuint (check->hash_mismatches, ==, 1);
  g_clear_pointer (&check, lk_catalog_check_free);

  check = lk_catalog_check (f->catalog, TRUE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (check->orphan_rows + check->orphan_files + check->hash_mismatches, ==, 4);
  for (guint i = 0; i < check->messages->len; i++)
    g_test_message ("%s", (const char *) g_ptr_array_index (check->messages, i));
  g_assert_cmpint (count_rows (f->catalog, "SELECT count(*) FROM photos"), ==, 0);
  g_assert_false (g_file_test (half, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (stray, G_FILE_TEST_EXISTS));
  {
    g_autofree char *found = g_build_filename (f->dir, "lost+found", NULL);

    g_assert_cmpuint (count_files_under (found), ==, 2);  /* the stray and the damaged one */
  }
  assert_clean (f->catalog);
}

/* ---- full disk ---------------------------------------------------------------------------- */

typedef struct
{
  gint64 people, photos, pending;
  guint  files;
} Snapshot;

static Snapshot
snapshot (LkCatalog *catalog)
{
  return (Snapshot) {
    count_rows (catalog, "SELECT count(*) FROM people"),
    count_rows (catalog, "SELECT count(*) FROM photos"),
    count_rows (catalog, "SELECT count(*) FROM pending_files"),
    count_stored_files (catalog),
  };
}

static void
assert_same (Snapshot a,
             Snapshot b)
{
  g_assert_cmpint (a.people, ==, b.people);
  g_assert_cmpint (a.photos, ==, b.photos);
  g_assert_cmpint (a.pending, ==, b.pending);
  g_assert_cmpuint (a.files, ==, b.files);
}

static void
test_enospc_injected (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(LkPerson) ada = lk_catalog_add_person (f->catalog, "Ada", NULL);
  g_autofree char *a = write_png (f->src, "a.png", 32, 32, 20);
  g_autofree char *b = write_png (f->src, "b.png", 32, 32, 21);
  g_autoptr(LkPhoto) pa = lk_catalog_add_photo (f->catalog, lk_person_get_id (ada), a, NULL, NULL, NULL);
  g_autoptr(LkPhoto) pb = NULL;
  g_autoptr(GError) error = NULL;
  Snapshot before = snapshot (f->catalog);

  g_assert_nonnull (pa);
  for (gint64 limit = 0; limit < 1024; limit = limit * 2 + 100)
    {
      lk_catalog_files_set_fail_after (limit);
      pb = lk_catalog_add_photo (f->catalog, lk_person_get_id (ada), b, NULL, NULL, &error);
      lk_catalog_files_set_fail_after (-1);
      g_assert_null (pb);
      g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NO_SPACE);
      g_assert_nonnull (strstr (error->message, "No space left"));
      g_clear_error (&error);
      assert_same (before, snapshot (f->catalog));
      assert_clean (f->catalog);
    }
  pb = lk_catalog_add_photo (f->catalog, lk_person_get_id (ada), b, NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
test_enospc_tmpfs (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *mnt = g_build_filename (f->src, "small", NULL);
  g_autoptr(LkCatalog) catalog = NULL;
  g_autoptr(LkPerson) ada = NULL;
  g_autoptr(GError) error = NULL;
  gboolean full = FALSE;

  g_assert_cmpint (g_mkdir (mnt, 0700), ==, 0);
  if (geteuid () != 0 || mount ("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0)
    {
      g_test_skip_printf ("Cannot mount a small tmpfs here (%s); the injected variant covers "
                          "ENOSPC", geteuid () != 0 ? "not root" : g_strerror (errno));
      return;
    }
  catalog = lk_catalog_open (mnt, &error);
  g_assert_no_error (error);
  ada = lk_catalog_add_person (catalog, "Ada", &error);
  g_assert_no_error (error);

  for (guint i = 0; i < 40 && !full; i++)
    {
      g_autofree char *name = g_strdup_printf ("%u.png", i);
      g_autofree char *path = write_png (f->src, name, 160, 160, 100 + i);
      g_autoptr(LkPhoto) photo = NULL;
      Snapshot before = snapshot (catalog);

      photo = lk_catalog_add_photo (catalog, lk_person_get_id (ada), path, NULL, NULL, &error);
      if (photo == NULL)
        {
          g_test_message ("Import %u: %s", i, error->message);
          g_assert_error (error, LK_CATALOG_ERROR, LK_CATALOG_ERROR_NO_SPACE);
          g_clear_error (&error);
          assert_same (before, snapshot (catalog));
          full = TRUE;
        }
    }
  g_assert_true (full);
  assert_clean (catalog);
  g_clear_object (&ada);
  g_clear_object (&catalog);
  g_assert_cmpint (umount (mnt), ==, 0);
}

/* ---- lists ------------------------------------------------------------------------------- */

typedef struct
{
  guint changes;
  guint added;
  guint removed;
} Changes;

static void
items_changed_cb (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Changes    *changes)
{
  g_assert_cmpuint (position + added, <=, g_list_model_get_n_items (model));
  changes->changes++;
  changes->added += added;
  changes->removed += removed;
}

static void
test_list_local (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GListModel) people = lk_catalog_list_people (f->catalog);
  g_autoptr(LkPerson) ada = NULL;
  g_autoptr(LkPerson) bob = NULL;
  g_autoptr(LkPerson) item = NULL;
  Changes changes = { 0 };

  g_signal_connect (people, "items-changed", G_CALLBACK (items_changed_cb), &changes);
  g_assert_true (g_list_model_get_item_type (people) == LK_TYPE_PERSON);
  ada = lk_catalog_add_person (f->catalog, "Ada", NULL);
  bob = lk_catalog_add_person (f->catalog, "Bob", NULL);
  g_assert_cmpuint (g_list_model_get_n_items (people), ==, 2);
  g_assert_cmpuint (changes.added, ==, 2);

  g_assert_true (lk_catalog_rename_person (f->catalog, lk_person_get_id (bob), "Bobby", NULL));
  g_assert_cmpuint (changes.changes, ==, 3);
  item = g_list_model_get_item (people, 1);
  g_assert_cmpstr (lk_person_get_name (item), ==, "Bobby");

  g_assert_true (lk_catalog_remove_person (f->catalog, lk_person_get_id (ada), NULL));
  g_assert_cmpuint (g_list_model_get_n_items (people), ==, 1);
  g_assert_cmpuint (changes.removed, ==, 2);  /* one for the rename, one for the removal */
}

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
run_child (const char *mode,
           const char *dir,
           const char *arg,
           GPid       *pid,
           int        *stdout_fd)
{
  const char *argv[] = { self_exe, "--child", mode, dir, arg, NULL };
  g_autoptr(GError) error = NULL;

  g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                            pid, NULL, stdout_fd, NULL, &error);
  g_assert_no_error (error);
}

static int
wait_child (GPid pid)
{
  int status;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_spawn_close_pid (pid);
  return status;
}

static void
test_list_other_process (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GListModel) people = lk_catalog_list_people (f->catalog);
  g_autoptr(GListModel) photos = NULL;
  g_autoptr(LkPerson) ada = lk_catalog_add_person (f->catalog, "Ada", NULL);
  g_autoptr(LkPerson) item = NULL;
  Changes changes = { 0 };
  Changes photo_changes = { 0 };
  gboolean timed_out = FALSE;
  guint timeout;
  GPid pid;
  int status;

  photos = lk_catalog_list_photos (f->catalog, lk_person_get_id (ada));
  g_signal_connect (people, "items-changed", G_CALLBACK (items_changed_cb), &changes);
  g_signal_connect (photos, "items-changed", G_CALLBACK (items_changed_cb), &photo_changes);
  run_child ("add-person", f->dir, "Grace", &pid, NULL);
  status = wait_child (pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_cmpuint (changes.changes, ==, 0);  /* only the poll can tell */

  timeout = g_timeout_add_seconds (10, timeout_cb, &timed_out);
  while ((changes.added == 0 || photo_changes.added == 0) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (timeout);
  g_assert_cmpuint (g_list_model_get_n_items (people), ==, 2);
  item = g_list_model_get_item (people, 1);
  g_assert_cmpstr (lk_person_get_name (item), ==, "Grace");
  g_assert_cmpuint (g_list_model_get_n_items (photos), ==, 1);
}

/* ---- two writers ------------------------------------------------------------------------- */

static void
test_concurrent_writers (Fixture       *f,
                         gconstpointer  data)
{
  GPid pids[3];

  g_clear_object (&f->catalog);
  run_child ("writer", f->dir, "a", &pids[0], NULL);
  run_child ("writer", f->dir, "b", &pids[1], NULL);
  run_child ("writer", f->dir, "c", &pids[2], NULL);
  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    {
      int status = wait_child (pids[i]);

      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 0);
    }
  f->catalog = lk_catalog_open (f->dir, NULL);
  g_assert_cmpint (count_rows (f->catalog, "SELECT count(*) FROM people"), ==, 3 * 15);
  g_assert_cmpint (count_rows (f->catalog, "SELECT count(*) FROM photos"), ==, 3 * 15);
  g_assert_cmpint (count_rows (f->catalog, "SELECT count(*) FROM jobs WHERE state = 'done'"), ==, 3 * 15);
  assert_clean (f->catalog);
}

/* ---- SIGKILL ----------------------------------------------------------------------------- */

typedef struct
{
  GHashTable *people;      /* committed, never removal started: must exist */
  GHashTable *removing;    /* removal started: may or may not exist */
  GHashTable *removed;     /* removal returned: must not exist */
  GHashTable *photos;      /* photo id → person id */
  GHashTable *generations;
} Committed;

static void
read_records (int        fd,
              Committed *committed)
{
  g_autoptr(GString) text = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;
  char buffer[4096];
  gssize n;

  while ((n = read (fd, buffer, sizeof buffer)) > 0)
    g_string_append_len (text, buffer, n);
  lines = g_strsplit (text->str, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      gint64 a = 0, b = 0;
      char kind[16];

      /* The last line may be cut off by the kill: only whole lines count. */
      if (lines[i + 1] == NULL || sscanf (lines[i], "%15s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT,
                                          kind, &a, &b) < 2)
        continue;
      if (strcmp (kind, "person") == 0)
        g_hash_table_add (committed->people, g_memdup2 (&a, sizeof a));
      else if (strcmp (kind, "removing") == 0)
        {
          g_hash_table_remove (committed->people, &a);
          g_hash_table_add (committed->removing, g_memdup2 (&a, sizeof a));
        }
      else if (strcmp (kind, "removed") == 0)
        g_hash_table_add (committed->removed, g_memdup2 (&a, sizeof a));
      else if (strcmp (kind, "photo") == 0)
        g_hash_table_insert (committed->photos, g_memdup2 (&a, sizeof a), g_memdup2 (&b, sizeof b));
      else if (strcmp (kind, "generation") == 0)
        g_hash_table_add (committed->generations, g_memdup2 (&a, sizeof a));
    }
}

static void
assert_committed (LkCatalog *catalog,
                  Committed *committed)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, committed->people);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autoptr(LkPerson) person = lk_catalog_get_person (catalog, *(gint64 *) key, NULL);

      g_assert_nonnull (person);
    }
  g_hash_table_iter_init (&iter, committed->removed);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autoptr(LkPerson) person = lk_catalog_get_person (catalog, *(gint64 *) key, NULL);

      g_assert_null (person);
    }
  g_hash_table_iter_init (&iter, committed->photos);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autoptr(LkPhoto) photo = lk_catalog_get_photo (catalog, *(gint64 *) key, NULL);

      if (g_hash_table_contains (committed->people, value))
        {
          g_assert_nonnull (photo);
          g_assert_true (g_file_test (lk_photo_get_path (photo), G_FILE_TEST_IS_REGULAR));
        }
      else if (g_hash_table_contains (committed->removed, value))
        g_assert_null (photo);
    }
  g_hash_table_iter_init (&iter, committed->generations);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autoptr(LkGeneration) generation = lk_catalog_get_generation (catalog, *(gint64 *) key, NULL);

      g_assert_nonnull (generation);
      g_assert_true (g_file_test (lk_generation_get_path (generation), G_FILE_TEST_IS_REGULAR));
    }
}

static void
test_crash (Fixture       *f,
            gconstpointer  data)
{
  const guint n_kills = g_test_slow () ? 200 : 60;
  Committed committed = {
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL),
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL),
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL),
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free),
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL),
  };
  guint interrupted = 0, cli_runs = 0;

  g_clear_object (&f->catalog);
  for (guint i = 0; i < n_kills; i++)
    {
      g_autoptr(LkCatalog) catalog = NULL;
      g_autoptr(LkCatalogCheck) check = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *seed = g_strdup_printf ("%u", i);
      int out, status;
      GPid pid;

      run_child ("crash", f->dir, seed, &pid, &out);
      g_usleep (g_test_rand_int_range (5, 120) * 1000);
      kill (pid, SIGKILL);
      status = wait_child (pid);
      read_records (out, &committed);
      close (out);
      /* Only a kill ends the child; anything else is a failure in it. */
      g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);

      if (cli_exe != NULL && i % 20 == 7)
        {
          const char *argv[] = { cli_exe, "catalog", "check", "--dry-run", "--data-dir", f->dir, NULL };
          g_autofree char *output = NULL;
          int cli_status;

          g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                        &output, NULL, &cli_status, &error);
          g_assert_no_error (error);
          g_test_message ("likeness-cli catalog check after kill %u:\n%s", i, output);
          g_assert_true (g_spawn_check_wait_status (cli_status, NULL));
          g_assert_nonnull (strstr (output, "No problems found"));
          cli_runs++;
        }

      catalog = lk_catalog_open (f->dir, &error);
      g_assert_no_error (error);
      check = lk_catalog_check (catalog, FALSE, NULL, &error);
      g_assert_no_error (error);
      for (guint j = 0; j < check->messages->len; j++)
        g_test_message ("kill %u: %s", i, (const char *) g_ptr_array_index (check->messages, j));
      interrupted += check->interrupted;
      g_assert_cmpuint (check->orphan_rows, ==, 0);
      g_assert_cmpuint (check->orphan_files, ==, 0);
      g_assert_cmpuint (check->hash_mismatches, ==, 0);
      g_assert_cmpuint (check->database_problems, ==, 0);
      g_assert_cmpint (count_rows (catalog, "SELECT count(*) FROM pending_files"), ==, 0);
      assert_committed (catalog, &committed);
    }
  g_test_message ("%u kills, %u interrupted operations finished, %u people, %u photos, "
                  "%u generations committed", n_kills, interrupted,
                  g_hash_table_size (committed.people), g_hash_table_size (committed.photos),
                  g_hash_table_size (committed.generations));
  g_assert_cmpuint (g_hash_table_size (committed.photos), >, 0);
  g_assert_cmpuint (cli_runs, >, 0);
  g_hash_table_unref (committed.people);
  g_hash_table_unref (committed.removing);
  g_hash_table_unref (committed.removed);
  g_hash_table_unref (committed.photos);
  g_hash_table_unref (committed.generations);
}

/* ---- children ---------------------------------------------------------------------------- */

static int
child_main (const char *mode,
            const char *dir,
            const char *arg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkCatalog) catalog = lk_catalog_open (dir, &error);
  g_autofree char *src = g_strdup_printf ("%s-src-%d", dir, (int) getpid ());

  if (catalog == NULL)
    {
      g_printerr ("child: %s\n", error->message);
      return 1;
    }
  g_mkdir (src, 0700);

  if (strcmp (mode, "add-person") == 0)
    {
      g_autoptr(LkPerson) person = lk_catalog_add_person (catalog, arg, &error);
      g_autoptr(LkPerson) ada = lk_catalog_find_person (catalog, "Ada", NULL);
      g_autofree char *path = write_png (src, "p.png", 8, 8, 99);
      g_autoptr(LkPhoto) photo = NULL;

      if (person != NULL && ada != NULL)
        photo = lk_catalog_add_photo (catalog, lk_person_get_id (ada), path, NULL, NULL, &error);
      rm_rf (src);
      return photo != NULL ? 0 : (g_printerr ("child: %s\n", error->message), 1);
    }

  if (strcmp (mode, "writer") == 0)
    {
      for (guint i = 0; i < 15; i++)
        {
          g_autofree char *name = g_strdup_printf ("%s-%u", arg, i);
          g_autofree char *file = g_strdup_printf ("%u.png", i);
          g_autofree char *path = write_png (src, file, 16, 16, g_str_hash (name));
          g_autoptr(LkPerson) person = lk_catalog_add_person (catalog, name, &error);
          g_autoptr(LkPhoto) photo = NULL;
          g_autoptr(LkJob) job = NULL;

          if (person != NULL)
            photo = lk_catalog_add_photo (catalog, lk_person_get_id (person), path, NULL, NULL,
                                          &error);
          if (photo != NULL)
            job = lk_catalog_add_job (catalog, "train", NULL, &error);
          if (job == NULL ||
              !lk_catalog_update_job (catalog, lk_job_get_id (job), LK_JOB_STATE_DONE, 1, NULL,
                                      NULL, NULL, &error))
            {
              g_printerr ("child %s: %s\n", arg, error->message);
              rm_rf (src);
              return 1;
            }
        }
      rm_rf (src);
      return 0;
    }

  if (strcmp (mode, "crash") == 0)
    {
      guint32 seed = g_ascii_strtoull (arg, NULL, 10) * 7919 + getpid ();
      gint64 previous = 0;

      setvbuf (stdout, NULL, _IOLBF, 0);
      for (guint i = 0; ; i++)
        {
          g_autofree char *name = g_strdup_printf ("p%d-%u", (int) getpid (), i);
          g_autoptr(LkPerson) person = lk_catalog_add_person (catalog, name, &error);
          g_autoptr(GBytes) output = NULL;
          g_autoptr(LkGeneration) generation = NULL;
          gint64 id;

          g_assert_no_error (error);
          id = lk_person_get_id (person);
          printf ("person %" G_GINT64_FORMAT "\n", id);
          for (guint k = 0; k < 2; k++)
            {
              g_autofree char *file = g_strdup_printf ("%u-%u.png", i, k);
              g_autofree char *path = write_png (src, file, 24, 24, seed++);
              g_autoptr(LkPhoto) photo = lk_catalog_add_photo (catalog, id, path, NULL, NULL,
                                                               &error);

              g_assert_no_error (error);
              printf ("photo %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n",
                      lk_photo_get_id (photo), id);
            }
          output = png_bytes (24, 24, seed++);
          generation = lk_catalog_add_generation (catalog, 0, &id, 1, "{\"steps\": 50}", seed,
                                                  NULL, output, 0.5, &error);
          g_assert_no_error (error);
          printf ("generation %" G_GINT64_FORMAT "\n", lk_generation_get_id (generation));
          if (previous != 0)
            {
              printf ("removing %" G_GINT64_FORMAT "\n", previous);
              lk_catalog_remove_person (catalog, previous, &error);
              g_assert_no_error (error);
              printf ("removed %" G_GINT64_FORMAT "\n", previous);
            }
          previous = id;
        }
    }

  return 2;
}

int
main (int   argc,
      char *argv[])
{
  self_exe = argv[0];
  if (argc == 5 && strcmp (argv[1], "--child") == 0)
    return child_main (argv[2], argv[3], argv[4]);
  for (int i = 1; i < argc; i++)
    if (g_str_has_prefix (argv[i], "--cli="))
      {
        cli_exe = argv[i] + strlen ("--cli=");
        memmove (argv + i, argv + i + 1, (argc - i) * sizeof (char *));
        argc--;
        break;
      }

  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/catalog/schema/fresh", test_schema_fresh);
  ADD ("/catalog/schema/upgrade", test_schema_upgrade);
  ADD ("/catalog/schema/newer", test_schema_newer);
  ADD ("/catalog/people", test_people);
  ADD ("/catalog/photos/duplicate", test_photos_duplicate);
  ADD ("/catalog/photos/refused", test_photos_refused);
  ADD ("/catalog/photos/orientation", test_photos_orientation);
  ADD ("/catalog/photos/real", test_photos_real);
  ADD ("/catalog/templates-generations", test_templates_generations);
  ADD ("/catalog/loras-jobs", test_loras_jobs);
  ADD ("/catalog/check/repairs", test_check_repairs);
  ADD ("/catalog/enospc/injected", test_enospc_injected);
  ADD ("/catalog/enospc/tmpfs", test_enospc_tmpfs);
  ADD ("/catalog/list/local", test_list_local);
  ADD ("/catalog/list/other-process", test_list_other_process);
  ADD ("/catalog/concurrent-writers", test_concurrent_writers);
  ADD ("/catalog/crash", test_crash);
#undef ADD

  return g_test_run ();
}
