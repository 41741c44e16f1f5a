/* test-safetensors.c: the writer's round trip and every kind of broken file
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "lk-test-util.h"
#include "lk-half.h"
#include "lk-safetensors.h"

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->dir = g_dir_make_tmp ("lk-safetensors-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
}

static void
test_round_trip (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->dir, "model.safetensors", NULL);
  g_autoptr(GHashTable) metadata = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(LkWeights) weights = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree float *back = NULL;
  g_autofree guint16 *back_half = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GDir) dir = NULL;
  float f32[6] = { 1.5f, -2.0f, 0.25f, 3.0f, 1e-3f, -7.5f };
  guint16 f16[4], bf16[4];
  gint64 i64[3] = { 0, 1, 76 };
  gint64 shape_f32[2] = { 2, 3 }, shape_4[1] = { 4 }, shape_i64[2] = { 1, 3 };
  const LkWeightInfo *info;
  gsize length;
  guint64 header_length;
  guint n_files = 0;

  for (guint i = 0; i < 4; i++)
    {
      f16[i] = lk_float_to_half (f32[i]);
      bf16[i] = lk_float_to_bf16 (f32[i]);
    }
  {
    LkSafetensorsEntry entries[] = {
      { "b.weight", LK_WEIGHT_F32, 2, shape_f32, f32 },
      { "a.half", LK_WEIGHT_F16, 1, shape_4, f16 },
      { "c.brain", LK_WEIGHT_BF16, 1, shape_4, bf16 },
      { "position_ids", LK_WEIGHT_I64, 2, shape_i64, i64 },
      { "scalar", LK_WEIGHT_F32, 0, NULL, f32 },
      { "empty", LK_WEIGHT_F16, 1, (gint64[]) { 0 }, NULL },
    };

    g_hash_table_insert (metadata, "format", "pt");
    g_hash_table_insert (metadata, "ss_network_dim", "32");
    g_assert_true (lk_safetensors_write (path, entries, G_N_ELEMENTS (entries), metadata, &error));
    g_assert_no_error (error);
  }

  /* No temporary file left behind; the data section starts 8-byte aligned. */
  dir = g_dir_open (f->dir, 0, NULL);
  while (g_dir_read_name (dir) != NULL)
    n_files++;
  g_assert_cmpuint (n_files, ==, 1);
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  memcpy (&header_length, contents, 8);
  header_length = GUINT64_FROM_LE (header_length);
  g_assert_cmpuint (header_length % 8, ==, 0);
  g_assert_cmpuint (length, ==, 8 + header_length + 24 + 8 + 8 + 24 + 4);

  weights = lk_weights_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_weights_get_n_tensors (weights), ==, 6);
  g_assert_cmpstr (lk_weights_get_nth (weights, 0)->name, ==, "b.weight");
  g_assert_cmpstr (lk_weights_get_nth (weights, 3)->name, ==, "position_ids");
  g_assert_cmpstr (g_hash_table_lookup (lk_weights_get_metadata (weights), "ss_network_dim"), ==,
                   "32");

  info = lk_weights_lookup (weights, "b.weight");
  g_assert_nonnull (info);
  g_assert_cmpint (info->dtype, ==, LK_WEIGHT_F32);
  g_assert_cmpuint (info->ndim, ==, 2);
  g_assert_cmpint (info->shape[0], ==, 2);
  g_assert_cmpint (info->shape[1], ==, 3);
  g_assert_cmpint (info->numel, ==, 6);
  g_assert_cmpuint (info->nbytes, ==, 24);
  g_assert_true (memcmp (info->data, f32, 24) == 0);
  back_half = lk_weights_dup_f16 (weights, info, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 6; i++)
    g_assert_cmphex (back_half[i], ==, lk_float_to_half (f32[i]));
  g_clear_pointer (&back_half, g_free);

  info = lk_weights_lookup (weights, "a.half");
  back = lk_weights_dup_f32 (weights, info, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpfloat (back[i], ==, lk_half_to_float (f16[i]));
  g_clear_pointer (&back, g_free);

  info = lk_weights_lookup (weights, "c.brain");
  g_assert_cmpint (info->dtype, ==, LK_WEIGHT_BF16);
  back = lk_weights_dup_f32 (weights, info, &error);
  g_assert_no_error (error);
  /* These values are exact in bf16. */
  for (guint i = 0; i < 4; i++)
    g_assert_cmpfloat (back[i], ==, f32[i]);
  back_half = lk_weights_dup_f16 (weights, info, &error);
  g_assert_no_error (error);
  g_assert_cmphex (back_half[1], ==, 0xc000);

  info = lk_weights_lookup (weights, "scalar");
  g_assert_cmpuint (info->ndim, ==, 0);
  g_assert_cmpint (info->numel, ==, 1);
  info = lk_weights_lookup (weights, "empty");
  g_assert_cmpint (info->numel, ==, 0);

  /* Integer tensors are readable as bytes, not as floats. */
  info = lk_weights_lookup (weights, "position_ids");
  g_assert_cmpint (((const gint64 *) (gconstpointer) info->data)[2], ==, 76);
  g_assert_null (lk_weights_dup_f32 (weights, info, &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "position_ids"));
  g_clear_error (&error);

  g_assert_null (lk_weights_lookup (weights, "missing"));
  g_assert_null (lk_weights_require (weights, "missing", &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "missing"));
  g_assert_nonnull (strstr (error->message, path));
}

static void
test_writer_refuses (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->dir, "bad.safetensors", NULL);
  g_autoptr(GError) error = NULL;
  float x[2] = { 0 };
  gint64 shape[1] = { 2 };
  LkSafetensorsEntry twice[] = {
    { "x", LK_WEIGHT_F32, 1, shape, x },
    { "x", LK_WEIGHT_F32, 1, shape, x },
  };
  LkSafetensorsEntry no_data[] = { { "x", LK_WEIGHT_F32, 1, shape, NULL } };

  g_assert_false (lk_safetensors_write (path, twice, 2, NULL, &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_false (lk_safetensors_write (path, no_data, 1, NULL, &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* A file made of an 8-byte length, the header text and data_size zero bytes. */
static char *
write_raw (Fixture    *f,
           guint64     header_length,
           const char *header,
           gsize       data_size)
{
  g_autofree char *path = g_build_filename (f->dir, "raw.safetensors", NULL);
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  guint64 le = GUINT64_TO_LE (header_length);
  g_autofree guint8 *zeros = g_malloc0 (data_size + 1);

  g_byte_array_append (bytes, (const guint8 *) &le, 8);
  g_byte_array_append (bytes, (const guint8 *) header, strlen (header));
  g_byte_array_append (bytes, zeros, data_size);
  g_assert_true (g_file_set_contents (path, (const char *) bytes->data, bytes->len, NULL));
  return g_steal_pointer (&path);
}

static void
assert_corrupt (Fixture    *f,
                const char *header,
                gsize       data_size,
                const char *tensor,
                const char *fragment)
{
  g_autofree char *path = write_raw (f, strlen (header), header, data_size);
  g_autoptr(GError) error = NULL;
  g_autoptr(LkWeights) weights = lk_safetensors_open (path, &error);

  g_assert_null (weights);
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
  if (g_test_verbose ())
    g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  if (tensor != NULL)
    g_assert_nonnull (strstr (error->message, tensor));
  if (fragment != NULL && strstr (error->message, fragment) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, fragment);
}

static void
test_corrupt_files (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "short.safetensors", NULL);
  g_autoptr(GString) deep = g_string_new ("{\"x\":");

  /* Empty and too short for the length field. */
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  g_assert_null (lk_safetensors_open (path, &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_assert_null (lk_weights_open (path, &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (path, "\x10\0\0\0", 4, NULL));
  g_assert_null (lk_safetensors_open (path, &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
  g_clear_error (&error);

  /* Missing file. */
  g_assert_null (lk_safetensors_open ("/nonexistent/x.safetensors", &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "/nonexistent/x.safetensors"));
  g_clear_error (&error);

  /* Header lengths: past the end of the file, over the limit, truncated header. */
  {
    g_autofree char *p1 = write_raw (f, 1000, "{}", 0);

    g_assert_null (lk_safetensors_open (p1, &error));
    g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
    g_assert_nonnull (strstr (error->message, "past the end"));
    g_clear_error (&error);
  }
  {
    g_autofree char *p2 = write_raw (f, G_GUINT64_CONSTANT (1) << 62, "{}", 0);

    g_assert_null (lk_safetensors_open (p2, &error));
    g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
    g_assert_nonnull (strstr (error->message, "limit"));
    g_clear_error (&error);
  }
  {
    g_autofree char *p3 = write_raw (f, 200 * 1024 * 1024, "{}", 0);

    g_assert_null (lk_safetensors_open (p3, &error));
    g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
    g_clear_error (&error);
  }

  /* Header contents. */
  assert_corrupt (f, "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]", 4,
                  NULL, "JSON");
  assert_corrupt (f, "[1, 2]", 0, NULL, "object");
  assert_corrupt (f, "not json", 0, NULL, NULL);
  assert_corrupt (f, "{\"a\": 1}", 0, "a", NULL);
  assert_corrupt (f, "{\"w\": {\"dtype\": \"Q4\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
                  "w", "Q4");
  assert_corrupt (f, "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4, "w", "dtype");
  assert_corrupt (f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 8,
                  "w", "elements");
  assert_corrupt (f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4,
                  "w", "dimension");
  assert_corrupt (f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}",
                  4, "w", "dimension");
  assert_corrupt (f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], "
                  "\"data_offsets\": [0, 4]}}", 4, "w", "dimensions");
  assert_corrupt (f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], "
                  "\"data_offsets\": [0, 4]}}", 4, "w", "large");
  assert_corrupt (f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 4,
                  "w", "outside");
  assert_corrupt (f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", 8,
                  "w", "outside");
  assert_corrupt (f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4,
                  "w", "data_offsets");
  assert_corrupt (f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], "
                  "\"data_offsets\": [0, 18446744073709551615]}}", 4, "w", NULL);
  assert_corrupt (f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
                  "\"v\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12,
                  "v", "overlaps tensor “w”");
  assert_corrupt (f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
                  "\"v\": {\"dtype\": \"F16\", \"shape\": [4], \"data_offsets\": [0, 8]}}", 8,
                  NULL, "overlaps");
  assert_corrupt (f, "{\"__metadata__\": {\"a\": 1}}", 0, NULL, "__metadata__");
  assert_corrupt (f, "{\"__metadata__\": [1]}", 0, NULL, "__metadata__");
  assert_corrupt (f, "{\"a\xff\": 1}", 0, NULL, "UTF-8");

  for (guint i = 0; i < 10000; i++)
    g_string_append_c (deep, '[');
  assert_corrupt (f, deep->str, 0, NULL, NULL);
}

static void
test_dispatch (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  /* A header length whose low byte is 0x80 must still be read as safetensors. */
  g_autoptr(GString) header = g_string_new ("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], "
                                            "\"data_offsets\": [0, 4]}}");
  g_autofree char *path = NULL;
  g_autoptr(LkWeights) weights = NULL;

  while (header->len < 0x80)
    g_string_append_c (header, ' ');
  path = write_raw (f, header->len, header->str, 4);
  weights = lk_weights_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (lk_weights_lookup (weights, "w"));
}

/* Every byte of a real header flipped, and every prefix of the file: an error or a valid result,
 * never a crash (run it under ASan to see reads out of bounds). */
static void
test_mutations (Fixture       *f,
                gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->dir, "good.safetensors", NULL);
  g_autofree char *mutated = g_build_filename (f->dir, "mutated.safetensors", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  float values[8] = { 0 };
  gint64 shape_a[2] = { 2, 2 }, shape_b[1] = { 4 }, shape_c[1] = { 8 };
  LkSafetensorsEntry entries[] = {
    { "a", LK_WEIGHT_F32, 2, shape_a, values },
    { "b", LK_WEIGHT_F16, 1, shape_b, values },
    { "c", LK_WEIGHT_BF16, 1, shape_c, values },
  };
  gsize length;
  guint n_ok = 0;

  g_assert_true (lk_safetensors_write (path, entries, G_N_ELEMENTS (entries), NULL, &error));
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  for (gsize at = 0; at < length; at++)
    for (guint bit = 0; bit < 8; bit += 3)
      {
        g_autoptr(LkWeights) weights = NULL;
        char saved = contents[at];

        contents[at] ^= 1 << bit;
        lk_test_write_quickly (mutated, contents, length);
        contents[at] = saved;
        weights = lk_safetensors_open (mutated, &error);
        g_assert_true ((weights == NULL) != (error == NULL));
        if (weights != NULL)
          {
            /* Whatever was accepted can be read in full. */
            for (guint i = 0; i < lk_weights_get_n_tensors (weights); i++)
              {
                const LkWeightInfo *info = lk_weights_get_nth (weights, i);
                g_autofree float *back = NULL;

                if (lk_weight_dtype_is_float (info->dtype))
                  back = lk_weights_dup_f32 (weights, info, NULL);
              }
            n_ok++;
          }
        g_clear_error (&error);
      }
  for (gsize cut = 0; cut < length; cut++)
    {
      g_autoptr(LkWeights) weights = NULL;

      lk_test_write_quickly (mutated, contents, cut);
      weights = lk_safetensors_open (mutated, &error);
      g_assert_null (weights);
      g_assert_nonnull (error);
      g_clear_error (&error);
    }
  g_test_message ("%u mutated files were still valid", n_ok);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/safetensors/round-trip", Fixture, NULL,
              fixture_set_up, test_round_trip, fixture_tear_down);
  g_test_add ("/safetensors/writer-refuses", Fixture, NULL,
              fixture_set_up, test_writer_refuses, fixture_tear_down);
  g_test_add ("/safetensors/corrupt", Fixture, NULL,
              fixture_set_up, test_corrupt_files, fixture_tear_down);
  g_test_add ("/safetensors/dispatch", Fixture, NULL,
              fixture_set_up, test_dispatch, fixture_tear_down);
  g_test_add ("/safetensors/mutations", Fixture, NULL,
              fixture_set_up, test_mutations, fixture_tear_down);
  return g_test_run ();
}
