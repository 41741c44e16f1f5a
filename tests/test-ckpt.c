/* test-ckpt.c: the restricted .ckpt/.pth reader against files torch.save wrote, and hostile ones
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The files are made at test time by /usr/bin/python3 with Debian's python3-torch; without torch
 * the test skips.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "lk-test-util.h"
#include "lk-pickle.h"

static const char make_files_py[] =
  "import collections, io, os, pickle, sys, zipfile\n"
  "import torch\n"
  "d = sys.argv[1]\n"
  "sd = collections.OrderedDict()\n"
  "sd['a.weight'] = torch.arange(6, dtype=torch.float32).reshape(2, 3)\n"
  "sd['b.half'] = torch.tensor([1.5, -2.0, 0.25], dtype=torch.float16)\n"
  "sd['c.bf16'] = torch.tensor([1.0, 3.0, -0.5], dtype=torch.bfloat16)\n"
  "sd['position_ids'] = torch.arange(77).unsqueeze(0)\n"
  "sd['p'] = torch.nn.Parameter(torch.full((2, 2), 0.5))\n"
  "torch.save(sd, os.path.join(d, 'plain.pth'))\n"
  "base = torch.arange(24, dtype=torch.float32).reshape(4, 6)\n"
  "torch.save({'state_dict': {'model.x': base, 'model.t': base.t(), 'model.slice': base[1:3, 2:5],\n"
  "                           'model.row': base[2], 'inner': {'y': torch.ones(3)}},\n"
  "            'global_step': 10, 'epoch': 1, 'lr': 0.5}, os.path.join(d, 'nested.ckpt'))\n"
  "shared = {'t': torch.ones(1)}\n"
  "for i in range(24):\n"
  "    shared = {'a': shared, 'b': shared}\n"
  "torch.save(shared, os.path.join(d, 'shared.pth'))\n"
  "import numpy\n"
  "torch.save({'state_dict': sd, 'best_score': numpy.float64(0.25), 'tags': {'a', 'b'},\n"
  "            'shape': numpy.zeros(2)}, os.path.join(d, 'training.ckpt'))\n"
  "with zipfile.ZipFile(os.path.join(d, 'plain.pth')) as src, \\\n"
  "     zipfile.ZipFile(os.path.join(d, 'deflated.pth'), 'w', zipfile.ZIP_DEFLATED) as dst:\n"
  "    for info in src.infolist():\n"
  "        dst.writestr(info.filename, src.read(info.filename))\n"
  "torch.save(sd, os.path.join(d, 'legacy.pth'), _use_new_zipfile_serialization=False)\n"
  "class Evil:\n"
  "    def __reduce__(self):\n"
  "        return (os.system, ('touch ' + os.path.join(d, 'pwned'),))\n"
  "torch.save({'w': torch.ones(2), 'evil': Evil()}, os.path.join(d, 'evil.pth'))\n"
  "class Eval:\n"
  "    def __reduce__(self):\n"
  "        return (eval, (\"open(%r, 'w')\" % os.path.join(d, 'pwned2'),))\n"
  "with zipfile.ZipFile(os.path.join(d, 'eval.pth'), 'w') as z:\n"
  "    z.writestr('eval/data.pkl', pickle.dumps({'x': Eval()}, protocol=2))\n"
  "data = open(os.path.join(d, 'plain.pth'), 'rb').read()\n"
  "open(os.path.join(d, 'truncated.pth'), 'wb').write(data[:len(data) // 2])\n"
  "with zipfile.ZipFile(os.path.join(d, 'missing.pth'), 'w') as z:\n"
  "    with zipfile.ZipFile(os.path.join(d, 'plain.pth')) as src:\n"
  "        z.writestr('missing/data.pkl', src.read('plain/data.pkl'))\n"
  "with zipfile.ZipFile(os.path.join(d, 'nopickle.zip'), 'w') as z:\n"
  "    z.writestr('readme.txt', 'hello')\n";

static char *dir;
static gboolean have_files;

static void
make_files (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  dir = g_dir_make_tmp ("lk-ckpt-XXXXXX", NULL);
  script = g_build_filename (dir, "make_files.py", NULL);
  g_assert_true (g_file_set_contents (script, make_files_py, -1, NULL));
  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    return;
  {
    const char *argv[] = { "/usr/bin/python3", script, dir, NULL };

    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                       &status, &error))
      return;
  }
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_test_message ("python3 could not make the files: %s", err);
      return;
    }
  have_files = TRUE;
}

static LkWeights *
open_file (const char  *name,
           GError     **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return lk_weights_open (path, error);
}

static gboolean
need_files (void)
{
  if (!have_files)
    g_test_skip ("/usr/bin/python3 with torch (python3-torch) is needed to make .pth files");
  return have_files;
}

static void
test_ckpt_plain (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkWeights) weights = NULL;
  g_autofree float *values = NULL;
  const LkWeightInfo *info;
  const char *files[] = { "plain.pth", "deflated.pth" };

  if (!need_files ())
    return;
  for (guint f = 0; f < G_N_ELEMENTS (files); f++)
    {
      g_clear_pointer (&weights, lk_weights_unref);
      weights = open_file (files[f], &error);
      g_assert_no_error (error);
      g_assert_cmpuint (lk_weights_get_n_tensors (weights), ==, 5);
      /* The dict's order. */
      g_assert_cmpstr (lk_weights_get_nth (weights, 0)->name, ==, "a.weight");
      g_assert_cmpstr (lk_weights_get_nth (weights, 4)->name, ==, "p");

      info = lk_weights_lookup (weights, "a.weight");
      g_assert_cmpint (info->dtype, ==, LK_WEIGHT_F32);
      g_assert_cmpuint (info->ndim, ==, 2);
      g_assert_cmpint (info->shape[0], ==, 2);
      g_assert_cmpint (info->shape[1], ==, 3);
      g_assert_true (info->contiguous);
      values = lk_weights_dup_f32 (weights, info, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < 6; i++)
        g_assert_cmpfloat (values[i], ==, i);
      g_clear_pointer (&values, g_free);

      info = lk_weights_lookup (weights, "b.half");
      g_assert_cmpint (info->dtype, ==, LK_WEIGHT_F16);
      values = lk_weights_dup_f32 (weights, info, &error);
      g_assert_cmpfloat (values[0], ==, 1.5f);
      g_assert_cmpfloat (values[1], ==, -2.0f);
      g_assert_cmpfloat (values[2], ==, 0.25f);
      g_clear_pointer (&values, g_free);

      info = lk_weights_lookup (weights, "c.bf16");
      g_assert_cmpint (info->dtype, ==, LK_WEIGHT_BF16);
      values = lk_weights_dup_f32 (weights, info, &error);
      g_assert_cmpfloat (values[0], ==, 1.0f);
      g_assert_cmpfloat (values[2], ==, -0.5f);
      g_clear_pointer (&values, g_free);

      info = lk_weights_lookup (weights, "position_ids");
      g_assert_cmpint (info->dtype, ==, LK_WEIGHT_I64);
      g_assert_cmpint (info->shape[1], ==, 77);
      g_assert_cmpint (((const gint64 *) (gconstpointer) info->data)[76], ==, 76);

      /* nn.Parameter goes through _rebuild_parameter. */
      info = lk_weights_lookup (weights, "p");
      values = lk_weights_dup_f32 (weights, info, &error);
      g_assert_cmpfloat (values[3], ==, 0.5f);
      g_clear_pointer (&values, g_free);
    }
}

static void
test_ckpt_nested_views (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkWeights) weights = open_file ("nested.ckpt", &error);
  g_autofree float *values = NULL;
  const LkWeightInfo *info;

  if (!need_files ())
    return;
  g_assert_no_error (error);
  /* state_dict's tensors, the nested dict's with a dotted name; global_step etc. skipped. */
  g_assert_cmpuint (lk_weights_get_n_tensors (weights), ==, 5);
  g_assert_nonnull (lk_weights_lookup (weights, "inner.y"));

  info = lk_weights_lookup (weights, "model.t");
  g_assert_nonnull (info);
  g_assert_false (info->contiguous);
  g_assert_cmpint (info->shape[0], ==, 6);
  g_assert_cmpint (info->shape[1], ==, 4);
  values = lk_weights_dup_f32 (weights, info, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 6; i++)
    for (guint j = 0; j < 4; j++)
      g_assert_cmpfloat (values[i * 4 + j], ==, j * 6 + i);
  g_clear_pointer (&values, g_free);

  info = lk_weights_lookup (weights, "model.slice");
  g_assert_false (info->contiguous);
  values = lk_weights_dup_f32 (weights, info, &error);
  for (guint i = 0; i < 2; i++)
    for (guint j = 0; j < 3; j++)
      g_assert_cmpfloat (values[i * 3 + j], ==, (1 + i) * 6 + 2 + j);
  g_clear_pointer (&values, g_free);

  {
    g_autofree guint16 *halves = NULL;

    halves = lk_weights_dup_f16 (weights, info, &error);
    g_assert_no_error (error);
    g_assert_cmphex (halves[0], ==, 0x4800);  /* 8.0 */
  }

  info = lk_weights_lookup (weights, "model.row");
  g_assert_true (info->contiguous);
  values = lk_weights_dup_f32 (weights, info, &error);
  for (guint j = 0; j < 6; j++)
    g_assert_cmpfloat (values[j], ==, 12 + j);
}

/* numpy scalars and arrays, sets: inert data beside the weights, skipped. */
static void
test_ckpt_training_extras (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkWeights) weights = NULL;

  if (!need_files ())
    return;
  weights = open_file ("training.ckpt", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_weights_get_n_tensors (weights), ==, 5);
  g_assert_nonnull (lk_weights_lookup (weights, "a.weight"));
}

/* 2^24 paths to one tensor through shared dicts: walked once, not once per path. */
static void
test_ckpt_shared_dicts (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkWeights) weights = NULL;
  g_autoptr(GString) name = g_string_new (NULL);

  if (!need_files ())
    return;
  weights = open_file ("shared.pth", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_weights_get_n_tensors (weights), ==, 1);
  for (guint i = 0; i < 24; i++)
    g_string_append (name, "a.");
  g_string_append (name, "t");
  g_assert_cmpstr (lk_weights_get_nth (weights, 0)->name, ==, name->str);
}

static void
assert_refused (const char *name,
                const char *global,
                const char *marker)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkWeights) weights = open_file (name, &error);
  g_autofree char *marker_path = g_build_filename (dir, marker, NULL);

  g_assert_null (weights);
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_REFUSED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, name));
  g_assert_nonnull (strstr (error->message, global));
  g_assert_false (g_file_test (marker_path, G_FILE_TEST_EXISTS));
}

static void
test_ckpt_malicious (void)
{
  if (!need_files ())
    return;
  assert_refused ("evil.pth", "system", "pwned");
  assert_refused ("eval.pth", "eval", "pwned2");
}

static void
test_ckpt_broken (void)
{
  static const struct
  {
    const char *name;
    int         code;
    const char *fragment;
  } cases[] = {
    { "legacy.pth", LK_IO_ERROR_UNSUPPORTED, "legacy" },
    { "truncated.pth", LK_IO_ERROR_CORRUPT, "zip" },
    { "missing.pth", LK_IO_ERROR_CORRUPT, "missing" },
    { "nopickle.zip", LK_IO_ERROR_CORRUPT, "data.pkl" },
  };

  if (!need_files ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(LkWeights) weights = open_file (cases[i].name, &error);

      g_assert_null (weights);
      g_assert_error (error, LK_IO_ERROR, cases[i].code);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].name));
      g_assert_nonnull (strstr (error->message, cases[i].fragment));
    }
}

/* Every prefix of a real file, and a file with each byte of its pickle flipped in turn, gives an
 * error or a valid result, never a crash. */
static void
test_ckpt_mutations (void)
{
  g_autofree char *src = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *path = NULL;
  gsize length;
  const char *pkl;
  guint n_errors = 0;

  if (!need_files ())
    return;
  src = g_build_filename (dir, "nested.ckpt", NULL);
  path = g_build_filename (dir, "mutated.ckpt", NULL);
  g_assert_true (g_file_get_contents (src, &contents, &length, NULL));
  /* PROTO, the first byte of the pickle, follows the entry's name and padding. */
  pkl = NULL;
  for (gsize i = 0; i + 8 <= length && pkl == NULL; i++)
    if (memcmp (contents + i, "data.pkl", 8) == 0)
      pkl = contents + i;
  g_assert_nonnull (pkl);
  pkl = memchr (pkl, 0x80, length - (pkl - contents));
  g_assert_nonnull (pkl);
  for (gsize at = pkl - contents; at < length && at < (gsize) (pkl - contents) + 600; at++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(LkWeights) weights = NULL;
      char saved = contents[at];

      contents[at] ^= 0x5a;
      lk_test_write_quickly (path, contents, length);
      contents[at] = saved;
      weights = lk_pickle_open (path, &error);
      g_assert_true ((weights == NULL) != (error == NULL));
      n_errors += error != NULL;
    }
  for (gsize cut = 0; cut < length; cut += 1 + cut / 8)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(LkWeights) weights = NULL;

      lk_test_write_quickly (path, contents, cut);
      weights = lk_pickle_open (path, &error);
      g_assert_null (weights);
      g_assert_nonnull (error);
    }
  g_test_message ("%u of the flipped bytes gave errors", n_errors);
  g_assert_cmpuint (n_errors, >, 0);
}

static void
remove_files (void)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
  g_free (dir);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  make_files ();
  g_test_add_func ("/ckpt/plain", test_ckpt_plain);
  g_test_add_func ("/ckpt/nested-views", test_ckpt_nested_views);
  g_test_add_func ("/ckpt/training-extras", test_ckpt_training_extras);
  g_test_add_func ("/ckpt/shared-dicts", test_ckpt_shared_dicts);
  g_test_add_func ("/ckpt/malicious", test_ckpt_malicious);
  g_test_add_func ("/ckpt/broken", test_ckpt_broken);
  g_test_add_func ("/ckpt/mutations", test_ckpt_mutations);
  ret = g_test_run ();
  remove_files ();
  return ret;
}
