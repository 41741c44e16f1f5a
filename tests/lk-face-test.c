/* lk-face-test.c: what the face tests share: data lookup, photos, the TF.js oracle
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "lk-face-test.h"

char *
lk_test_shared_path (const char *sub)
{
  const char *env = g_getenv ("LIKENESS_TEST_DATA");
  const char *source = g_getenv ("LIKENESS_SOURCE_DIR");
  g_autofree char *message = NULL;
  char *candidates[3] = {
    env ? g_build_filename (env, sub, NULL) : NULL,
    env ? g_build_filename (env, "..", sub, NULL) : NULL,
    source ? g_build_filename (source, "..", "shared", sub, NULL) : NULL,
  };
  char *found = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      if (found == NULL && candidates[i] != NULL && g_file_test (candidates[i], G_FILE_TEST_EXISTS))
        found = g_steal_pointer (&candidates[i]);
      g_free (candidates[i]);
    }
  if (found == NULL)
    {
      message = g_strdup_printf ("../shared/%s not found (set LIKENESS_TEST_DATA)", sub);
      g_test_skip (message);
    }
  return found;
}

LkImage *
lk_test_load_photo (const char *name)
{
  g_autofree char *sub = g_build_filename ("testdata", name, NULL);
  g_autofree char *path = lk_test_shared_path (sub);
  g_autoptr(GError) error = NULL;
  LkImage *image;

  if (path == NULL)
    return NULL;
  image = lk_image_load (path, 3, &error);
  g_assert_no_error (error);
  return image;
}

static void
write_floats (const char  *path,
              const float *data,
              gsize        n)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, (const char *) data, n * sizeof (float), &error);
  g_assert_no_error (error);
}

/* node and tests/oracle/js/@script, with TF.js installed beside it; NULL after g_test_skip(). */
static char *
find_oracle (const char  *script,
             char       **node)
{
  const char *oracle_dir = g_getenv ("LIKENESS_ORACLE_DIR");
  g_autofree char *modules = NULL;

  *node = g_find_program_in_path ("node");
  if (oracle_dir == NULL || *node == NULL)
    {
      g_test_skip (*node == NULL ? "node is not installed: no TF.js oracle" :
                   "LIKENESS_ORACLE_DIR is not set: no TF.js oracle");
      return NULL;
    }
  modules = g_build_filename (oracle_dir, "js", "node_modules", "@tensorflow", "tfjs", NULL);
  if (!g_file_test (modules, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("tests/oracle/js/node_modules has no @tensorflow/tfjs: run ./bootstrap test "
                   "(npm install) for the TF.js oracle");
      return NULL;
    }
  return g_build_filename (oracle_dir, "js", script, NULL);
}

float *
lk_test_run_node (const char         *script,
                  const char * const *args,
                  const float        *input,
                  gsize               n_input,
                  gsize               n_output)
{
  g_autofree char *node = NULL, *path = NULL, *dir = NULL, *input_path = NULL;
  g_autofree char *output_path = NULL, *err = NULL, *contents = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  gsize length;
  int status;

  if ((path = find_oracle (script, &node)) == NULL)
    return NULL;
  dir = g_dir_make_tmp ("lk-oracle-XXXXXX", &error);
  g_assert_no_error (error);
  input_path = g_build_filename (dir, "input.bin", NULL);
  output_path = g_build_filename (dir, "output.bin", NULL);
  write_floats (input_path, input, n_input);
  g_ptr_array_add (argv, node);
  g_ptr_array_add (argv, path);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) (g_str_equal (args[i], "@IN") ? input_path
                                       : g_str_equal (args[i], "@OUT") ? output_path : args[i]));
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("the TF.js oracle %s failed: %s", script, err);
  g_file_get_contents (output_path, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, n_output * sizeof (float));
  g_unlink (input_path);
  g_unlink (output_path);
  g_rmdir (dir);
  return g_memdup2 (contents, length);
}

float *
lk_test_run_faceapi (const char  *kind,
                     const char  *manifest,
                     const float *pixels,
                     guint        size,
                     gsize        n_output)
{
  g_autofree char *size_text = g_strdup_printf ("%u", size);
  const char *args[] = { kind, manifest, "@IN", size_text, "@OUT", NULL };

  return lk_test_run_node ("run-faceapi.mjs", args, pixels, (gsize) size * size * 3, n_output);
}

float *
lk_test_run_tfjs (const char   *model,
          const float  *input,
          gsize         n_input,
          const char   *shape,
          const char  **outputs,
          guint         n_outputs,
          const gsize  *sizes)
{
  g_autofree char *node = NULL;
  g_autofree char *script = NULL, *dir = NULL, *input_path = NULL;
  g_autofree char *names = NULL, *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  gsize total = 0, at = 0;
  float *result;
  int status;

  if ((script = find_oracle ("run-graph.mjs", &node)) == NULL)
    return NULL;
  dir = g_dir_make_tmp ("lk-tfjs-XXXXXX", &error);
  g_assert_no_error (error);
  input_path = g_build_filename (dir, "input.bin", NULL);
  write_floats (input_path, input, n_input);
  {
    GString *joined = g_string_new (NULL);

    for (guint i = 0; i < n_outputs; i++)
      g_string_append_printf (joined, i ? ",%s" : "%s", outputs[i]);
    names = g_string_free (joined, FALSE);
  }
  {
    const char *argv[] = { node, script, model, input_path, shape, names, dir, NULL };

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                  &error);
  }
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("the TF.js oracle failed: %s", err);

  for (guint i = 0; i < n_outputs; i++)
    total += sizes[i];
  result = g_new (float, total);
  for (guint i = 0; i < n_outputs; i++)
    {
      g_autofree char *name = g_strdup_printf ("%u.bin", i);
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *contents = NULL;
      gsize length;

      g_file_get_contents (path, &contents, &length, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (length, ==, sizes[i] * sizeof (float));
      memcpy (result + at, contents, length);
      at += sizes[i];
      g_unlink (path);
    }
  {
    g_autofree char *shapes = g_build_filename (dir, "shapes.json", NULL);

    g_unlink (shapes);
  }
  g_unlink (input_path);
  g_rmdir (dir);
  return result;
}

