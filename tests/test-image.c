/* test-image.c: loading and saving LkImage: formats, orientation, size limit, damaged files
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <string.h>

#include "lk-image.h"
#include "lk-test-util.h"

static char *tmp_dir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static void
write_file (const char   *path,
            const guint8 *bytes,
            gsize         size)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, (const char *) bytes, size, &error);
  g_assert_no_error (error);
}

/* A pixbuf whose pixels follow a pattern every byte of which differs nearby. */
static GdkPixbuf *
pattern_pixbuf (int      width,
                int      height,
                gboolean alpha)
{
  GdkPixbuf *pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, alpha, 8, width, height);
  int n = gdk_pixbuf_get_n_channels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint8 *p = pixels + y * stride + x * n;

        p[0] = (x * 37 + y * 11) & 255;
        p[1] = (x * 5 + y * 53 + 17) & 255;
        p[2] = (x * y + 91) & 255;
        if (alpha)
          p[3] = (x + 3 * y) & 255;
      }
  return pixbuf;
}

/* The bytes of @pixbuf encoded as @type ("png" or "jpeg"). */
static GBytes *
encode (GdkPixbuf  *pixbuf,
        const char *type)
{
  g_autoptr(GError) error = NULL;
  char *buffer = NULL;
  gsize size = 0;

  if (g_str_equal (type, "jpeg"))
    gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, type, &error, "quality", "95", NULL);
  else
    gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, type, &error, NULL);
  g_assert_no_error (error);
  return g_bytes_new_take (buffer, size);
}

static char *
write_encoded (const char *name,
               GdkPixbuf  *pixbuf,
               const char *type)
{
  g_autoptr(GBytes) bytes = encode (pixbuf, type);
  char *path = tmp_path (name);

  write_file (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  return path;
}

static void
test_load_png (void)
{
  g_autoptr(GdkPixbuf) rgba = pattern_pixbuf (37, 23, TRUE);
  g_autofree char *path = write_encoded ("pattern.png", rgba, "png");
  const guint8 *pixels = gdk_pixbuf_read_pixels (rgba);
  int stride = gdk_pixbuf_get_rowstride (rgba);
  g_autoptr(GError) error = NULL;
  g_autoptr(LkImage) image4 = lk_image_load (path, 4, &error);
  g_autoptr(LkImage) image3 = NULL;
  g_autoptr(LkImage) image1 = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (image4->width, ==, 37);
  g_assert_cmpuint (image4->height, ==, 23);
  g_assert_cmpuint (image4->channels, ==, 4);
  g_assert_cmpuint (image4->stride, ==, 37 * 4);
  for (guint y = 0; y < 23; y++)
    g_assert_cmpmem (image4->data + y * image4->stride, 37 * 4, pixels + y * stride, 37 * 4);

  image3 = lk_image_load (path, 3, &error);
  g_assert_no_error (error);
  image1 = lk_image_load (path, 1, &error);
  g_assert_no_error (error);
  for (guint y = 0; y < 23; y++)
    for (guint x = 0; x < 37; x++)
      {
        const guint8 *p = pixels + y * stride + x * 4;
        double luma = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];

        g_assert_cmpmem (lk_image_pixel (image3, x, y), 3, p, 3);
        g_assert_cmpfloat (ABS (lk_image_pixel (image1, x, y)[0] - luma), <=, 0.51);
      }
}

static void
test_load_jpeg (void)
{
  g_autoptr(GdkPixbuf) rgb = pattern_pixbuf (64, 48, FALSE);
  g_autofree char *path = write_encoded ("pattern.jpg", rgb, "jpeg");
  g_autoptr(GdkPixbuf) expected = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LkImage) image = lk_image_load (path, 3, &error);
  int stride;

  g_assert_no_error (error);
  g_assert_cmpuint (image->width, ==, 64);
  g_assert_cmpuint (image->height, ==, 48);
  /* the same decoder, so the same pixels as gdk-pixbuf's own reading of the file */
  expected = gdk_pixbuf_new_from_file (path, &error);
  g_assert_no_error (error);
  stride = gdk_pixbuf_get_rowstride (expected);
  for (guint y = 0; y < 48; y++)
    g_assert_cmpmem (image->data + y * image->stride, 64 * 3,
                     gdk_pixbuf_read_pixels (expected) + y * stride, 64 * 3);
}

static void
test_load_photos (void)
{
  static const char *photos[] = { "group-1.jpg", "astronaut.png" };
  const char *dir = g_getenv ("LIKENESS_TEST_DATA");
  g_autofree char *shared = NULL;

  if (dir == NULL && g_getenv ("LIKENESS_SOURCE_DIR") != NULL)
    dir = shared = g_build_filename (g_getenv ("LIKENESS_SOURCE_DIR"), "..", "shared", "testdata",
                                     NULL);
  for (guint i = 0; i < G_N_ELEMENTS (photos); i++)
    {
      g_autofree char *path = dir ? g_build_filename (dir, photos[i], NULL) : NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(LkImage) image = NULL;
      int width, height;

      if (path == NULL || !g_file_test (path, G_FILE_TEST_EXISTS))
        {
          g_test_skip ("test photos not found (set LIKENESS_TEST_DATA)");
          return;
        }
      g_assert_nonnull (gdk_pixbuf_get_file_info (path, &width, &height));
      image = lk_image_load (path, 3, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (image->width, ==, width);
      g_assert_cmpuint (image->height, ==, height);
    }
}

/* JPEG bytes with an APP1 Exif segment holding only Orientation = @orientation, inserted after
 * SOI (gdk-pixbuf cannot write EXIF). */
static GBytes *
with_exif_orientation (GBytes *jpeg,
                       guint   orientation)
{
  const guint8 tiff[] = {
    'E', 'x', 'i', 'f', 0, 0,
    'I', 'I', 42, 0, 8, 0, 0, 0,        /* little-endian TIFF, first IFD at 8 */
    1, 0,                               /* one entry */
    0x12, 0x01, 3, 0, 1, 0, 0, 0,       /* tag 0x0112 Orientation, SHORT, count 1 */
    orientation, 0, 0, 0,
    0, 0, 0, 0,                         /* no next IFD */
  };
  gsize size;
  const guint8 *data = g_bytes_get_data (jpeg, &size);
  GByteArray *out = g_byte_array_new ();
  guint8 header[4] = { 0xFF, 0xE1, 0, 0 };

  header[2] = (sizeof tiff + 2) >> 8;
  header[3] = (sizeof tiff + 2) & 255;
  g_byte_array_append (out, data, 2);
  g_byte_array_append (out, header, 4);
  g_byte_array_append (out, tiff, sizeof tiff);
  g_byte_array_append (out, data + 2, size - 2);
  return g_byte_array_free_to_bytes (out);
}

static void
test_exif_orientation (void)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 32, 16);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) rotated = NULL;
  g_autofree char *path = tmp_path ("rotated.jpg");
  g_autoptr(GError) error = NULL;
  g_autoptr(LkImage) image = NULL;
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);

  /* left half red, right half blue */
  for (int y = 0; y < 16; y++)
    for (int x = 0; x < 32; x++)
      {
        guint8 *p = pixels + y * stride + x * 3;

        p[0] = x < 16 ? 255 : 0;
        p[1] = 0;
        p[2] = x < 16 ? 0 : 255;
      }
  plain = encode (pixbuf, "jpeg");
  rotated = with_exif_orientation (plain, 6);
  write_file (path, g_bytes_get_data (rotated, NULL), g_bytes_get_size (rotated));

  /* 6 = "rotate 90° clockwise to display": the left half goes to the top */
  image = lk_image_load (path, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (image->width, ==, 16);
  g_assert_cmpuint (image->height, ==, 32);
  g_assert_cmpuint (lk_image_pixel (image, 8, 4)[0], >, 200);
  g_assert_cmpuint (lk_image_pixel (image, 8, 4)[2], <, 50);
  g_assert_cmpuint (lk_image_pixel (image, 8, 28)[0], <, 50);
  g_assert_cmpuint (lk_image_pixel (image, 8, 28)[2], >, 200);
}

static guint32
crc32 (const guint8 *data,
       gsize         n)
{
  guint32 crc = 0xFFFFFFFF;

  for (gsize i = 0; i < n; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1));
    }
  return ~crc;
}

static void
append_be32 (GByteArray *out,
             guint32     v)
{
  guint8 b[4] = { v >> 24, v >> 16, v >> 8, v };

  g_byte_array_append (out, b, 4);
}

static void
append_png_chunk (GByteArray   *out,
                  const char   *type,
                  const guint8 *data,
                  guint32       n)
{
  g_autofree guint8 *typed = g_malloc (n + 4);

  memcpy (typed, type, 4);
  if (n > 0)
    memcpy (typed + 4, data, n);
  append_be32 (out, n);
  g_byte_array_append (out, typed, n + 4);
  append_be32 (out, crc32 (typed, n + 4));
}

/* A well-formed PNG header (valid CRCs) claiming @width × @height RGB pixels, then a little
 * IDAT and IEND: decoding it would need width × height × 3 bytes. */
static GBytes *
huge_png (guint32 width,
          guint32 height)
{
  static const guint8 signature[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };
  static const guint8 idat[] = { 0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01 };
  guint8 ihdr[13] = { width >> 24, width >> 16, width >> 8, width,
                      height >> 24, height >> 16, height >> 8, height,
                      8, 2, 0, 0, 0 };
  GByteArray *out = g_byte_array_new ();

  g_byte_array_append (out, signature, sizeof signature);
  append_png_chunk (out, "IHDR", ihdr, sizeof ihdr);
  append_png_chunk (out, "IDAT", idat, sizeof idat);
  append_png_chunk (out, "IEND", NULL, 0);
  return g_byte_array_free_to_bytes (out);
}

/* A real JPEG whose SOF0 frame header is patched to claim @width × @height. */
static GBytes *
huge_jpeg (guint16 width,
           guint16 height)
{
  g_autoptr(GdkPixbuf) pixbuf = pattern_pixbuf (16, 16, FALSE);
  g_autoptr(GBytes) jpeg = encode (pixbuf, "jpeg");
  gsize size;
  guint8 *data = g_memdup2 (g_bytes_get_data (jpeg, &size), g_bytes_get_size (jpeg));
  gboolean patched = FALSE;

  for (gsize i = 2; i + 9 < size; )
    {
      g_assert_cmpuint (data[i], ==, 0xFF);
      if (data[i + 1] == 0xC0)
        {
          data[i + 5] = height >> 8;
          data[i + 6] = height & 255;
          data[i + 7] = width >> 8;
          data[i + 8] = width & 255;
          patched = TRUE;
          break;
        }
      i += 2 + ((data[i + 2] << 8) | data[i + 3]);
    }
  g_assert_true (patched);
  return g_bytes_new_take (data, size);
}

static void
assert_refused (const char *name,
                GBytes     *bytes,
                int         code,
                const char *message_part)
{
  g_autofree char *path = tmp_path (name);
  g_autoptr(GError) error = NULL;
  g_autoptr(LkImage) image = NULL;

  write_file (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  image = lk_image_load (path, 3, &error);
  g_assert_null (image);
  g_assert_error (error, LK_IMAGE_ERROR, code);
  g_test_message ("%s: %s", name, error->message);
  g_assert_nonnull (strstr (error->message, name));
  if (message_part != NULL)
    g_assert_nonnull (strstr (error->message, message_part));
}

static void
test_size_limit (void)
{
  g_autoptr(GBytes) png = huge_png (20000, 20000);
  g_autoptr(GBytes) wide_png = huge_png (LK_IMAGE_MAX_SIDE + 1, 1);
  g_autoptr(GBytes) jpeg = huge_jpeg (20000, 20000);
  gint64 start = g_get_monotonic_time ();

  assert_refused ("huge.png", png, LK_IMAGE_ERROR_TOO_LARGE, "20000 × 20000");
  assert_refused ("wide.png", wide_png, LK_IMAGE_ERROR_TOO_LARGE, NULL);
  assert_refused ("huge.jpg", jpeg, LK_IMAGE_ERROR_TOO_LARGE, "20000 × 20000");
  /* refused from the header: decoding 1.2 GB of pixels would take far longer */
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
}

static void
test_truncated (void)
{
  g_autoptr(GdkPixbuf) pixbuf = pattern_pixbuf (256, 256, FALSE);
  g_autoptr(GBytes) jpeg = encode (pixbuf, "jpeg");
  g_autoptr(GBytes) png = encode (pixbuf, "png");
  gsize jpeg_size = g_bytes_get_size (jpeg);
  gsize png_size = g_bytes_get_size (png);
  g_autoptr(GBytes) jpeg_cut = g_bytes_new_from_bytes (jpeg, 0, jpeg_size * 6 / 10);
  g_autoptr(GBytes) jpeg_no_eoi = g_bytes_new_from_bytes (jpeg, 0, jpeg_size - 2);
  g_autoptr(GBytes) jpeg_header = g_bytes_new_from_bytes (jpeg, 0, 300);
  g_autoptr(GBytes) png_cut = g_bytes_new_from_bytes (png, 0, png_size / 2);

  assert_refused ("cut.jpg", jpeg_cut, LK_IMAGE_ERROR_CORRUPT, NULL);
  assert_refused ("no-eoi.jpg", jpeg_no_eoi, LK_IMAGE_ERROR_CORRUPT, NULL);
  assert_refused ("header-only.jpg", jpeg_header, LK_IMAGE_ERROR_CORRUPT, NULL);
  assert_refused ("cut.png", png_cut, LK_IMAGE_ERROR_CORRUPT, NULL);
}

static void
test_tiny (void)
{
  g_autoptr(GdkPixbuf) pixbuf = pattern_pixbuf (1, 1, FALSE);
  const char *types[] = { "png", "jpeg" };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autofree char *name = g_strdup_printf ("one.%s", types[i]);
      g_autofree char *path = write_encoded (name, pixbuf, types[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(LkImage) image = lk_image_load (path, 1, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (image->width, ==, 1);
      g_assert_cmpuint (image->height, ==, 1);
      g_assert_cmpuint (image->channels, ==, 1);
    }
}

static void
test_not_an_image (void)
{
  g_autoptr(GBytes) text = g_bytes_new_static ("this is a text file, not a photo\n", 33);
  g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
  g_autofree char *missing = tmp_path ("missing.png");
  g_autoptr(GError) error = NULL;

  assert_refused ("notes.png", text, LK_IMAGE_ERROR_UNSUPPORTED, NULL);
  assert_refused ("empty.jpg", empty, LK_IMAGE_ERROR_EMPTY, NULL);
  g_assert_null (lk_image_load (missing, 3, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
}

static void
test_save_round_trip (void)
{
  g_autoptr(GHashTable) text = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) read_text = NULL;
  g_autofree char *path = tmp_path ("saved.png");
  g_autofree char *gray_path = tmp_path ("gray.png");
  g_autoptr(GError) error = NULL;
  g_autoptr(LkImage) image = lk_image_new (19, 7, 4);
  g_autoptr(LkImage) gray = lk_image_new (5, 9, 1);
  g_autoptr(LkImage) loaded = NULL;

  for (gsize i = 0; i < image->stride * image->height; i++)
    image->data[i] = (i * 31 + 7) & 255;
  for (gsize i = 0; i < gray->stride * gray->height; i++)
    gray->data[i] = (i * 53) & 255;
  g_hash_table_insert (text, "parameters", "a portrait, seed 42, steps 20");
  g_hash_table_insert (text, "Software", "Likeness");
  g_hash_table_insert (text, "Comment", "café ✓");

  g_assert_true (lk_image_save_png (image, path, text, &error));
  g_assert_no_error (error);
  loaded = lk_image_load_with_text (path, 4, &read_text, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (loaded->data, loaded->stride * loaded->height,
                   image->data, image->stride * image->height);
  g_assert_cmpuint (g_hash_table_size (read_text), ==, 3);
  g_assert_cmpstr (g_hash_table_lookup (read_text, "parameters"), ==,
                   "a portrait, seed 42, steps 20");
  g_assert_cmpstr (g_hash_table_lookup (read_text, "Software"), ==, "Likeness");
  g_assert_cmpstr (g_hash_table_lookup (read_text, "Comment"), ==, "café ✓");

  g_assert_true (lk_image_save_png (gray, gray_path, NULL, &error));
  g_assert_no_error (error);
  g_clear_pointer (&loaded, lk_image_free);
  loaded = lk_image_load (gray_path, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (loaded->data, loaded->stride * loaded->height,
                   gray->data, gray->stride * gray->height);
}

static void
test_save_atomic (void)
{
  g_autofree char *dir = tmp_path ("atomic");
  g_autofree char *path = g_build_filename (dir, "out.png", NULL);
  g_autofree char *no_dir = tmp_path ("no-such-dir/out.png");
  g_autoptr(LkImage) first = lk_image_new (8, 8, 3);
  g_autoptr(LkImage) second = lk_image_new (4, 2, 3);
  g_autoptr(LkImage) loaded = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) listing = NULL;
  guint n_files = 0;

  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  memset (second->data, 200, second->stride * second->height);
  g_assert_true (lk_image_save_png (first, path, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (lk_image_save_png (second, path, NULL, &error));
  g_assert_no_error (error);
  loaded = lk_image_load (path, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->width, ==, 4);
  g_assert_cmpuint (loaded->data[0], ==, 200);

  /* no temporary file left beside it */
  listing = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  while (g_dir_read_name (listing) != NULL)
    n_files++;
  g_assert_cmpuint (n_files, ==, 1);

  /* failures say so and leave the old file alone */
  g_assert_false (lk_image_save_png (first, no_dir, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (lk_image_save_png (first, dir, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_clear_pointer (&loaded, lk_image_free);
  loaded = lk_image_load (path, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->width, ==, 4);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    {
      g_remove (path);
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      remove_tree (child);
    }
  g_rmdir (path);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("lk-test-image-XXXXXX", &error);
  g_assert_no_error (error);
  g_test_add_func ("/image/load-png", test_load_png);
  g_test_add_func ("/image/load-jpeg", test_load_jpeg);
  g_test_add_func ("/image/load-photos", test_load_photos);
  g_test_add_func ("/image/exif-orientation", test_exif_orientation);
  g_test_add_func ("/image/size-limit", test_size_limit);
  g_test_add_func ("/image/truncated", test_truncated);
  g_test_add_func ("/image/one-pixel", test_tiny);
  g_test_add_func ("/image/not-an-image", test_not_an_image);
  g_test_add_func ("/image/save-round-trip", test_save_round_trip);
  g_test_add_func ("/image/save-atomic", test_save_atomic);
  status = g_test_run ();
  remove_tree (tmp_dir);
  g_free (tmp_dir);
  return status;
}
