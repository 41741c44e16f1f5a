/* lk-test-util.c: what every test binary shares
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "lk-test-util.h"

static LkContext *shared_context;
static LkStream *shared_stream;
static char *no_device_reason;

static void
release_shared (void)
{
  g_clear_pointer (&shared_stream, lk_stream_free);
  g_clear_object (&shared_context);
}

LkContext *
lk_test_context (void)
{
  if (shared_context == NULL && no_device_reason == NULL)
    {
      g_autoptr(GError) error = NULL;

      shared_context = lk_context_new (NULL, LK_CONTEXT_FLAGS_VALIDATION, &error);
      if (shared_context == NULL)
        {
          /* A missing validation layer is a broken test set-up, not a missing device. */
          g_assert_false (g_error_matches (error, LK_VK_ERROR, LK_VK_ERROR_NO_VALIDATION));
          no_device_reason = g_strdup (error->message);
        }
      else
        atexit (release_shared);
    }
  if (shared_context == NULL)
    {
      g_test_skip (no_device_reason);
      return NULL;
    }
  return shared_context;
}

LkStream *
lk_test_stream (void)
{
  if (shared_stream == NULL && lk_test_context () != NULL)
    {
      g_autoptr(GError) error = NULL;

      shared_stream = lk_stream_new (shared_context, &error);
      g_assert_no_error (error);
    }
  return shared_stream;
}

LkContext *
lk_test_context_with_binding_range (guint64 range)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *value = g_strdup_printf ("%" G_GUINT64_FORMAT, range);
  LkContext *context;

  if (lk_test_context () == NULL)
    return NULL;
  g_setenv ("LIKENESS_MAX_BINDING_RANGE", value, TRUE);
  context = lk_context_new (NULL, LK_CONTEXT_FLAGS_VALIDATION, &error);
  g_unsetenv ("LIKENESS_MAX_BINDING_RANGE");
  g_assert_no_error (error);
  g_assert_cmpuint (lk_context_get_max_binding_range (context), ==, range);
  return context;
}

void
lk_test_write_quickly (const char *path,
                       const char *contents,
                       gsize       length)
{
  FILE *file = fopen (path, "wb");

  g_assert_nonnull (file);
  g_assert_cmpuint (fwrite (contents, 1, length, file), ==, length);
  g_assert_cmpint (fclose (file), ==, 0);
}

void
lk_test_check_validation (void)
{
  if (shared_context != NULL)
    g_assert_cmpuint (lk_context_get_validation_message_count (shared_context), ==, 0);
}

void
lk_test_fill_random (float   *data,
                     gsize    n,
                     float    lo,
                     float    hi,
                     guint32  seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < n; i++)
    data[i] = g_rand_double_range (rand, lo, hi);
}

float *
lk_test_random (gsize   n,
                float   lo,
                float   hi,
                guint32 seed)
{
  float *data = g_new (float, MAX (n, 1));

  lk_test_fill_random (data, n, lo, hi, seed);
  return data;
}

LkTestDiff
lk_test_diff (const float *out,
              const float *ref,
              gsize        n)
{
  LkTestDiff d = { 0 };
  double num = 0, den = 0;

  for (gsize i = 0; i < n; i++)
    {
      double e = (double) out[i] - ref[i];

      if (isnan (out[i]) || isinf (out[i]))
        {
          d.n_nan++;
          continue;
        }
      num += e * e;
      den += (double) ref[i] * ref[i];
      d.max_abs = MAX (d.max_abs, fabs (e));
    }
  d.rel_l2 = den > 0 ? sqrt (num / den) : sqrt (num);
  return d;
}

void
lk_test_assert_close (const char  *what,
                      const float *out,
                      const float *ref,
                      gsize        n,
                      double       rel_bound,
                      double       abs_bound)
{
  LkTestDiff d = lk_test_diff (out, ref, n);

  g_test_message ("%s: n=%zu rel_l2=%.3g max_abs=%.3g (bounds %.3g, %.3g)",
                  what, n, d.rel_l2, d.max_abs, rel_bound, abs_bound);
  if (d.n_nan > 0)
    g_error ("%s: %zu of %zu outputs are NaN or infinite", what, d.n_nan, n);
  if (!(d.rel_l2 <= rel_bound))
    g_error ("%s: relative error %.3g exceeds %.3g (max abs %.3g)", what, d.rel_l2, rel_bound, d.max_abs);
  if (abs_bound > 0 && !(d.max_abs <= abs_bound))
    g_error ("%s: max abs error %.3g exceeds %.3g (relative %.3g)", what, d.max_abs, abs_bound, d.rel_l2);
}

LkTensor *
lk_test_tensor_from (LkStream     *stream,
                     LkDType       dtype,
                     guint         ndim,
                     const gint64 *shape,
                     const float  *data)
{
  g_autoptr(GError) error = NULL;
  LkTensor *t = lk_tensor_new (lk_stream_get_context (stream), dtype, ndim, shape, &error);

  g_assert_no_error (error);
  lk_tensor_upload_f32 (t, stream, data, &error);
  g_assert_no_error (error);
  return t;
}

LkTensor *
lk_test_tensor_poisoned (LkStream     *stream,
                         LkDType       dtype,
                         guint         ndim,
                         const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  LkTensor *t = lk_tensor_new (lk_stream_get_context (stream), dtype, ndim, shape, &error);

  g_assert_no_error (error);
  lk_tensor_poison (t, stream);
  return t;
}

float *
lk_test_download (LkStream *stream,
                  LkTensor *t)
{
  g_autoptr(GError) error = NULL;
  float *data = g_new (float, lk_tensor_numel (t));

  lk_tensor_download_f32 (t, stream, data, &error);
  g_assert_no_error (error);
  lk_test_check_validation ();
  return data;
}

/* The oracle */

struct _LkOracle
{
  char       *script;
  char       *dir;
  JsonObject *params;
};

static int torch_available = -1;

LkOracle *
lk_oracle_new (const char *script)
{
  g_autoptr(GError) error = NULL;
  LkOracle *self;

  if (torch_available < 0)
    {
      const char *argv[] = { "/usr/bin/python3", "-c", "import torch, numpy", NULL };
      int status = 1;

      torch_available = g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                                      NULL, NULL, NULL, NULL, &status, NULL) &&
                        g_spawn_check_wait_status (status, NULL);
    }
  if (!torch_available)
    {
      g_test_skip ("the torch oracle needs /usr/bin/python3 with python3-torch and python3-numpy "
                   "(./bootstrap test installs them)");
      return NULL;
    }

  self = g_new0 (LkOracle, 1);
  self->script = g_build_filename (g_getenv ("LIKENESS_ORACLE_DIR"), script, NULL);
  self->dir = g_dir_make_tmp ("likeness-oracle-XXXXXX", &error);
  g_assert_no_error (error);
  self->params = json_object_new ();
  return self;
}

void
lk_oracle_add_input (LkOracle    *self,
                     const char  *name,
                     const float *data,
                     gsize        n)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *file = g_strconcat (name, ".bin", NULL);
  g_autofree char *path = g_build_filename (self->dir, file, NULL);

  g_file_set_contents (path, (const char *) data, n * sizeof (float), &error);
  g_assert_no_error (error);
}

void
lk_oracle_set_param_int (LkOracle   *self,
                         const char *name,
                         gint64      value)
{
  json_object_set_int_member (self->params, name, value);
}

void
lk_oracle_set_param_double (LkOracle   *self,
                            const char *name,
                            double      value)
{
  json_object_set_double_member (self->params, name, value);
}

void
lk_oracle_set_param_string (LkOracle   *self,
                            const char *name,
                            const char *value)
{
  json_object_set_string_member (self->params, name, value);
}

float *
lk_oracle_run (LkOracle *self,
               gsize     n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = json_node_init_object (json_node_alloc (), self->params);
  g_autofree char *json = json_to_string (root, TRUE);
  g_autofree char *params_path = g_build_filename (self->dir, "params.json", NULL);
  g_autofree char *out_path = g_build_filename (self->dir, "out.bin", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *argv[] = { "/usr/bin/python3", self->script, self->dir, NULL };
  gsize length = 0;
  int status = 0;

  g_file_set_contents (params_path, json, -1, &error);
  g_assert_no_error (error);

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("oracle %s failed:\n%s", self->script, err);

  g_file_get_contents (out_path, &out, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, n * sizeof (float));
  return (float *) g_steal_pointer (&out);
}

void
lk_oracle_free (LkOracle *self)
{
  g_autoptr(GDir) dir = g_dir_open (self->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (self->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (self->dir);
  json_object_unref (self->params);
  g_free (self->script);
  g_free (self->dir);
  g_free (self);
}
