/* test-tfjs.c: TF.js manifests, graph and layers models: dequantisation and strict validation
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include <glib/gstdio.h>

#include "lk-half.h"
#include "lk-test-util.h"
#include "lk-tfgraph.h"
#include "lk-tfjs.h"

static char *tmp_dir;

static char *
write_file (const char *name,
            const void *data,
            gssize      length)
{
  char *path = g_build_filename (tmp_dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, data, length < 0 ? (gssize) strlen (data) : length, &error);
  g_assert_no_error (error);
  return path;
}

/* One shard holding: f32 [2] {1.5, −2}, i32 [3] {7, −1, 65536}, uint8 [2,2] {0, 1, 2, 255} with
 * scale 0.5 and min −1, uint16 [1] {1000} with scale 0.01 and min 2, float16 [2] {0.5, −3}. */
static guint8 *
make_shard (gsize *length)
{
  GByteArray *bytes = g_byte_array_new ();
  float f[] = { 1.5f, -2.0f };
  gint32 ints[] = { 7, -1, 65536 };
  guint8 q8[] = { 0, 1, 2, 255 };
  guint16 q16[] = { 1000 };
  guint16 halves[] = { lk_float_to_half (0.5f), lk_float_to_half (-3.0f) };

  g_byte_array_append (bytes, (guint8 *) f, sizeof f);
  g_byte_array_append (bytes, (guint8 *) ints, sizeof ints);
  g_byte_array_append (bytes, q8, sizeof q8);
  g_byte_array_append (bytes, (guint8 *) q16, sizeof q16);
  g_byte_array_append (bytes, (guint8 *) halves, sizeof halves);
  *length = bytes->len;
  return g_byte_array_free (bytes, FALSE);
}

#define WEIGHTS_JSON \
  "[{\"name\": \"a/f32\", \"shape\": [2], \"dtype\": \"float32\"}," \
  " {\"name\": \"b/i32\", \"shape\": [3], \"dtype\": \"int32\"}," \
  " {\"name\": \"c/u8\", \"shape\": [2, 2], \"dtype\": \"float32\"," \
  "  \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.5, \"min\": -1}}," \
  " {\"name\": \"d/u16\", \"shape\": [1], \"dtype\": \"float32\"," \
  "  \"quantization\": {\"dtype\": \"uint16\", \"scale\": 0.01, \"min\": 2}}," \
  " {\"name\": \"e/f16\", \"shape\": [2], \"dtype\": \"float32\"," \
  "  \"quantization\": {\"dtype\": \"float16\"}}]"

static void
test_dequantise (void)
{
  gsize length;
  g_autofree guint8 *shard = make_shard (&length);
  g_autofree char *bin = write_file ("w.bin", shard, length);
  g_autofree char *manifest = write_file ("w-weights_manifest.json",
                                          "[{\"paths\": [\"w.bin\"], \"weights\": " WEIGHTS_JSON "}]",
                                          -1);
  g_autoptr(LkTfjsModel) model = NULL;
  g_autoptr(GError) error = NULL;
  const LkTfjsTensor *t;
  const gint64 u8_shape[] = { 2, 2 }, bad_shape[] = { 4 };

  model = lk_tfjs_model_load (manifest, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lk_tfjs_model_get_format (model), ==, LK_TFJS_WEIGHTS_MANIFEST);
  g_assert_cmpuint (lk_tfjs_model_get_n_tensors (model), ==, 5);
  g_assert_null (lk_tfjs_model_get_topology (model));

  t = lk_tfjs_model_get_tensor (model, "a/f32", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (t->data[0], ==, 1.5f);
  g_assert_cmpfloat (t->data[1], ==, -2.0f);
  g_assert_false (t->is_int);
  t = lk_tfjs_model_get_tensor (model, "b/i32", &error);
  g_assert_true (t->is_int);
  g_assert_cmpfloat (t->data[0], ==, 7);
  g_assert_cmpfloat (t->data[1], ==, -1);
  g_assert_cmpfloat (t->data[2], ==, 65536);
  t = lk_tfjs_model_get_shaped (model, "c/u8", 2, u8_shape, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (t->data[0], ==, -1.0f);
  g_assert_cmpfloat (t->data[1], ==, -0.5f);
  g_assert_cmpfloat (t->data[2], ==, 0.0f);
  g_assert_cmpfloat (t->data[3], ==, 126.5f);
  t = lk_tfjs_model_get_tensor (model, "d/u16", &error);
  g_assert_cmpfloat_with_epsilon (t->data[0], 12.0f, 1e-5);
  t = lk_tfjs_model_get_tensor (model, "e/f16", &error);
  g_assert_cmpfloat (t->data[0], ==, 0.5f);
  g_assert_cmpfloat (t->data[1], ==, -3.0f);
  g_assert_cmpstr (lk_tfjs_model_get_nth (model, 4)->name, ==, "e/f16");

  g_assert_null (lk_tfjs_model_get_shaped (model, "c/u8", 1, bad_shape, &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "c/u8"));
  g_clear_error (&error);
  g_assert_null (lk_tfjs_model_get_tensor (model, "nope", &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "nope"));
  g_unlink (bin);
  g_unlink (manifest);
}

/* Loads @json as a manifest next to the standard shard truncated or extended to @shard_length
 * bytes (or no shard when negative); returns the error. */
static GError *
load_broken (const char *json,
             gssize      shard_length)
{
  gsize length;
  g_autofree guint8 *shard = make_shard (&length);
  g_autofree guint8 *sized = g_malloc0 (MAX (shard_length, (gssize) length) + 1);
  g_autofree char *bin = g_build_filename (tmp_dir, "w.bin", NULL);
  g_autofree char *manifest = write_file ("broken.json", json, -1);
  g_autoptr(LkTfjsModel) model = NULL;
  GError *error = NULL;

  memcpy (sized, shard, length);
  g_unlink (bin);
  if (shard_length >= 0)
    g_free (write_file ("w.bin", sized, shard_length));
  model = lk_tfjs_model_load (manifest, &error);
  g_assert_null (model);
  g_assert_nonnull (error);
  g_assert_true (error->domain == LK_IO_ERROR);
  if (g_test_verbose ())
    g_printerr ("%s\n", error->message);
  g_unlink (bin);
  g_unlink (manifest);
  return error;
}

static void
test_rejects (void)
{
  const char *good = "[{\"paths\": [\"w.bin\"], \"weights\": " WEIGHTS_JSON "}]";
  gsize length;
  g_autofree guint8 *shard = make_shard (&length);
  GError *error;

  /* Missing, short and long shards name the file. */
  error = load_broken (good, -1);
  g_assert_nonnull (strstr (error->message, "w.bin"));
  g_error_free (error);
  error = load_broken (good, length - 1);
  g_assert_cmpint (error->code, ==, LK_IO_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "w.bin"));
  g_assert_nonnull (strstr (error->message, "short"));
  g_error_free (error);
  error = load_broken (good, length + 4);
  g_assert_nonnull (strstr (error->message, "too long"));
  g_error_free (error);
  /* Corrupt JSON and JSON of the wrong shape */
  error = load_broken ("[{\"paths\": [\"w.bin\"], \"weights\": [", length);
  g_assert_cmpint (error->code, ==, LK_IO_ERROR_CORRUPT);
  g_error_free (error);
  error = load_broken ("{\"weightsManifest\": 3}", length);
  g_assert_cmpint (error->code, ==, LK_IO_ERROR_CORRUPT);
  g_error_free (error);
  error = load_broken ("[{\"paths\": [\"w.bin\"]}]", length);
  g_assert_nonnull (strstr (error->message, "weights"));
  g_error_free (error);
  /* Unsupported dtypes and quantisations name the weight. */
  error = load_broken ("[{\"paths\": [\"w.bin\"], \"weights\": [{\"name\": \"flag\", \"shape\": [1],"
                       " \"dtype\": \"bool\"}]}]", length);
  g_assert_cmpint (error->code, ==, LK_IO_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "flag"));
  g_assert_nonnull (strstr (error->message, "bool"));
  g_error_free (error);
  error = load_broken ("[{\"paths\": [\"w.bin\"], \"weights\": [{\"name\": \"q\", \"shape\": [1],"
                       " \"dtype\": \"float32\", \"quantization\": {\"dtype\": \"int4\"}}]}]",
                       length);
  g_assert_cmpint (error->code, ==, LK_IO_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "int4"));
  g_error_free (error);
  error = load_broken ("[{\"paths\": [\"w.bin\"], \"weights\": [{\"name\": \"q\", \"shape\": [1],"
                       " \"dtype\": \"float32\", \"quantization\": {\"dtype\": \"uint8\"}}]}]",
                       length);
  g_assert_nonnull (strstr (error->message, "scale"));
  g_error_free (error);
  /* Bad shapes, escaping paths, duplicates */
  error = load_broken ("[{\"paths\": [\"w.bin\"], \"weights\": [{\"name\": \"s\", \"shape\": [-1],"
                       " \"dtype\": \"float32\"}]}]", length);
  g_assert_nonnull (strstr (error->message, "shape"));
  g_error_free (error);
  error = load_broken ("[{\"paths\": [\"w.bin\"], \"weights\": [{\"name\": {\"x\": 1},"
                       " \"shape\": [1], \"dtype\": \"float32\"}]}]", length);
  g_assert_nonnull (strstr (error->message, "weight 0"));
  g_error_free (error);
  error = load_broken ("[{\"paths\": [7], \"weights\": []}]", length);
  g_assert_nonnull (strstr (error->message, "relative"));
  g_error_free (error);
  error = load_broken ("[{\"paths\": [\"../w.bin\"], \"weights\": []}]", length);
  g_assert_nonnull (strstr (error->message, "relative"));
  g_error_free (error);
  error = load_broken ("[{\"paths\": [\"w.bin\"], \"weights\": [{\"name\": \"a\", \"shape\": [2],"
                       " \"dtype\": \"float32\"}, {\"name\": \"a\", \"shape\": [2],"
                       " \"dtype\": \"float32\"}]}]", length);
  g_assert_nonnull (strstr (error->message, "twice"));
  g_error_free (error);
  error = load_broken ("{\"format\": \"graph-model\", \"modelTopology\": {\"node\": []},"
                       " \"weightsManifest\": [{\"paths\": [\"w.bin\"], \"weights\": []}]}", length);
  g_assert_nonnull (strstr (error->message, "too long"));
  g_error_free (error);
}

static char *
model_path (const char *sub)
{
  const char *env = g_getenv ("LIKENESS_TEST_DATA");
  const char *source = g_getenv ("LIKENESS_SOURCE_DIR");
  char *candidates[3] = {
    env ? g_build_filename (env, "models", sub, NULL) : NULL,
    env ? g_build_filename (env, "..", "models", sub, NULL) : NULL,
    source ? g_build_filename (source, "..", "shared", "models", sub, NULL) : NULL,
  };
  char *found = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      if (found == NULL && candidates[i] && g_file_test (candidates[i], G_FILE_TEST_EXISTS))
        found = g_steal_pointer (&candidates[i]);
      g_free (candidates[i]);
    }
  if (found == NULL)
    {
      g_autofree char *message = g_strdup_printf ("../shared/models/%s not found (set "
                                                  "LIKENESS_TEST_DATA)", sub);

      g_test_skip (message);
    }
  return found;
}

typedef struct
{
  const char   *path;
  LkTfjsFormat  format;
  guint         n_tensors;
  const char   *tensor;
  guint         ndim;
  gint64        shape[4];
} RealCase;

/* Every real model loads (shards exactly as long as their manifests say); a few tensors have
 * their known shapes and plausible values. */
static void
test_real_models (void)
{
  static const RealCase cases[] = {
    { "human/blazeface.json", LK_TFJS_GRAPH_MODEL, 112, "unknown", 4, { 5, 5, 3, 24 } },
    { "human/facemesh.json", LK_TFJS_GRAPH_MODEL, 120, NULL, 0, { 0 } },
    { "human/selfie.json", LK_TFJS_GRAPH_MODEL, 136, "segment/input_sizes", 1, { 4 } },
    { "face-api/tiny_face_detector_model-weights_manifest.json", LK_TFJS_WEIGHTS_MANIFEST, 0,
      "conv0/filters", 4, { 3, 3, 3, 16 } },
    { "face-api/face_landmark_68_model-weights_manifest.json", LK_TFJS_WEIGHTS_MANIFEST, 0, NULL,
      0, { 0 } },
    { "face-api/face_recognition_model-weights_manifest.json", LK_TFJS_WEIGHTS_MANIFEST, 0,
      "conv32_down/conv/filters", 4, { 7, 7, 3, 32 } },
    { "upscalerjs/esrgan-slim/x2/model.json", LK_TFJS_LAYERS_MODEL, 0, "F_0/kernel", 4,
      { 3, 3, 64, 64 } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const RealCase *c = &cases[i];
      g_autofree char *path = model_path (c->path);
      g_autoptr(LkTfjsModel) model = NULL;
      g_autoptr(GError) error = NULL;
      double sum_sq = 0;
      gint64 total = 0;

      if (path == NULL)
        return;
      model = lk_tfjs_model_load (path, &error);
      g_assert_no_error (error);
      g_assert_cmpint (lk_tfjs_model_get_format (model), ==, c->format);
      if (c->n_tensors > 0)
        g_assert_cmpuint (lk_tfjs_model_get_n_tensors (model), ==, c->n_tensors);
      g_assert_cmpuint (lk_tfjs_model_get_n_tensors (model), >, 0);
      if (c->tensor != NULL)
        {
          const LkTfjsTensor *t = lk_tfjs_model_get_shaped (model, c->tensor, c->ndim, c->shape,
                                                            &error);

          g_assert_no_error (error);
          if (t->is_int)  /* selfie's output size: [1, 256, 256, 1] */
            {
              g_assert_cmpfloat (t->data[1], ==, 256);
              g_assert_cmpfloat (t->data[3], ==, 1);
            }
        }
      /* Weights are finite and not all zero: the offsets line up. */
      for (guint k = 0; k < lk_tfjs_model_get_n_tensors (model); k++)
        {
          const LkTfjsTensor *t = lk_tfjs_model_get_nth (model, k);

          for (gint64 j = 0; j < t->numel; j++)
            {
              g_assert_true (isfinite (t->data[j]));
              sum_sq += (double) t->data[j] * t->data[j];
            }
          total += t->numel;
        }
      g_assert_cmpfloat (sum_sq / MAX (total, 1), >, 1e-8);
      g_assert_cmpfloat (sum_sq / MAX (total, 1), <, 1e6);
      if (c->format != LK_TFJS_WEIGHTS_MANIFEST)
        g_assert_nonnull (lk_tfjs_model_get_topology (model));
    }
}

/* A small graph of the kinds the face models use: fused conv + bias + PReLU (SAME, stride 2),
 * max pool, channel padding, a scalar multiply, a reshape with −1. */
#define GRAPH_NODES \
  "{\"name\": \"input\", \"op\": \"Placeholder\", \"attr\": {\"shape\": {\"shape\": {\"dim\": " \
  "  [{\"size\": \"1\"}, {\"size\": \"5\"}, {\"size\": \"6\"}, {\"size\": \"3\"}]}}}}," \
  "{\"name\": \"f\", \"op\": \"Const\"}, {\"name\": \"b\", \"op\": \"Const\"}," \
  "{\"name\": \"alpha\", \"op\": \"Const\"}, {\"name\": \"half\", \"op\": \"Const\"}," \
  "{\"name\": \"pads\", \"op\": \"Const\"}, {\"name\": \"shape\", \"op\": \"Const\"}," \
  "{\"name\": \"out\", \"op\": \"Identity\", \"input\": [\"flat\"]}," \
  "{\"name\": \"flat\", \"op\": \"Reshape\", \"input\": [\"scaled\", \"shape\"]}," \
  "{\"name\": \"scaled\", \"op\": \"Mul\", \"input\": [\"padded\", \"half\"]}," \
  "{\"name\": \"padded\", \"op\": \"Pad\", \"input\": [\"pool\", \"pads\"]}," \
  "{\"name\": \"pool\", \"op\": \"MaxPool\", \"input\": [\"conv\"], \"attr\": {" \
  "  \"ksize\": {\"list\": {\"i\": [\"1\", \"2\", \"2\", \"1\"]}}," \
  "  \"strides\": {\"list\": {\"i\": [\"1\", \"1\", \"1\", \"1\"]}}," \
  "  \"padding\": {\"s\": \"VkFMSUQ=\"}, \"data_format\": {\"s\": \"TkhXQw==\"}}}," \
  "{\"name\": \"conv\", \"op\": \"_FusedConv2D\", \"input\": [\"input\", \"f\", \"b\", \"alpha\"]," \
  "  \"attr\": {\"strides\": {\"list\": {\"i\": [\"1\", \"2\", \"2\", \"1\"]}}," \
  "  \"padding\": {\"s\": \"U0FNRQ==\"}, \"num_args\": {\"i\": \"2\"}," \
  "  \"fused_ops\": {\"list\": {\"s\": [\"Qmlhc0FkZA==\", \"UHJlbHU=\"]}}}}"

#define GRAPH_WEIGHTS \
  "[{\"name\": \"f\", \"shape\": [3, 3, 3, 4], \"dtype\": \"float32\"}," \
  " {\"name\": \"b\", \"shape\": [4], \"dtype\": \"float32\"}," \
  " {\"name\": \"alpha\", \"shape\": [1, 1, 4], \"dtype\": \"float32\"}," \
  " {\"name\": \"half\", \"shape\": [], \"dtype\": \"float32\"}," \
  " {\"name\": \"pads\", \"shape\": [4, 2], \"dtype\": \"int32\"}," \
  " {\"name\": \"shape\", \"shape\": [2], \"dtype\": \"int32\"}]"

static char *
write_graph (const char *nodes)
{
  g_autofree char *json = g_strdup_printf ("{\"format\": \"graph-model\", \"modelTopology\": "
                                           "{\"node\": [%s]}, \"weightsManifest\": [{\"paths\": "
                                           "[\"g.bin\"], \"weights\": " GRAPH_WEIGHTS "}]}", nodes);
  g_autofree float *f = lk_test_random (108, -1, 1, 42);
  float b[4] = { 0.1f, -0.2f, 0.3f, -0.4f }, alpha[4] = { 0.1f, 0.2f, 0.3f, 0.4f }, half = 0.5f;
  gint32 pads[8] = { 0, 0, 0, 0, 0, 0, 0, 2 }, shape[2] = { -1, 6 };
  GByteArray *bytes = g_byte_array_new ();
  g_autofree guint8 *data = NULL;
  gsize length;

  g_byte_array_append (bytes, (guint8 *) f, 108 * sizeof (float));
  g_byte_array_append (bytes, (guint8 *) b, sizeof b);
  g_byte_array_append (bytes, (guint8 *) alpha, sizeof alpha);
  g_byte_array_append (bytes, (guint8 *) &half, sizeof half);
  g_byte_array_append (bytes, (guint8 *) pads, sizeof pads);
  g_byte_array_append (bytes, (guint8 *) shape, sizeof shape);
  length = bytes->len;
  data = g_byte_array_free (bytes, FALSE);
  g_free (write_file ("g.bin", data, length));
  return write_file ("model.json", json, -1);
}

static void
test_graph_run (void)
{
  g_autofree char *path = write_graph (GRAPH_NODES);
  g_autoptr(LkTfjsModel) model = NULL;
  g_autoptr(LkTfGraph) graph = NULL;
  g_autoptr(GError) error = NULL;
  const gint64 xs[4] = { 1, 5, 6, 3 }, cs[4] = { 1, 3, 3, 4 }, ps[4] = { 1, 2, 2, 4 };
  const gint64 pads[4][2] = { { 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 2 } };
  const char *outputs[] = { "out:0" }, *missing[] = { "nothing" };
  const gint64 wrong[4] = { 1, 5, 5, 3 };
  g_autofree float *x = lk_test_random (90, -1, 1, 7);
  g_autofree float *f = lk_test_random (108, -1, 1, 42);
  float b[4] = { 0.1f, -0.2f, 0.3f, -0.4f }, alpha[4] = { 0.1f, 0.2f, 0.3f, 0.4f };
  float conv[36], pool[16], ref[24];
  float *out = NULL;
  gint64 numel = 0, before = 0, after = 0, size;
  LkVisionWindow win = { 2, 2, 1, 1, 0, 0 };
  LkVisionWindow unit = { 1, 1, 1, 1, 0, 0 };

  if (lk_test_stream () == NULL)
    return;
  model = lk_tfjs_model_load (path, &error);
  g_assert_no_error (error);
  graph = lk_tfgraph_new (lk_test_context (), model, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_tfgraph_get_n_nodes (graph), ==, 13);
  lk_tfgraph_run_host (graph, lk_test_stream (), x, 4, xs, 1, outputs, &out, &numel, &error);
  g_assert_no_error (error);
  g_assert_cmpint (numel, ==, 24);

  lk_vision_out_size (LK_VISION_PAD_SAME, 5, 3, 2, 1, &before, &after, &size);
  win.pad_top = before;
  lk_vision_out_size (LK_VISION_PAD_SAME, 6, 3, 2, 1, &before, &after, &size);
  win.pad_left = before;
  lk_ref_vision_conv2d (x, xs, f, 3, 3, FALSE, b, alpha, LK_VISION_ACT_PRELU, conv, cs, &win);
  lk_ref_vision_pool (LK_VISION_POOL_MAX, conv, cs, pool, ps, 2, 2, &unit);
  lk_ref_vision_pad (pool, ps, pads, 0, ref);
  for (guint i = 0; i < 24; i++)
    ref[i] *= 0.5f;
  lk_test_assert_close ("graph vs references", out, ref, 24, 1e-6, 0);
  g_clear_pointer (&out, g_free);

  /* An input of another shape, an output that is not there */
  g_assert_false (lk_tfgraph_run_host (graph, lk_test_stream (), x, 4, wrong, 1, outputs, &out,
                                       NULL, &error));
  g_assert_error (error, LK_TFGRAPH_ERROR, LK_TFGRAPH_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "f32[1×5×5×3]"));
  g_clear_error (&error);
  g_assert_false (lk_tfgraph_run_host (graph, lk_test_stream (), x, 4, xs, 1, missing, &out,
                                       NULL, &error));
  g_assert_error (error, LK_TFGRAPH_ERROR, LK_TFGRAPH_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "“nothing”"));
  g_assert_null (out);
  lk_test_check_validation ();
}

#define PLACEHOLDER \
  "{\"name\": \"input\", \"op\": \"Placeholder\", \"attr\": {\"shape\": {\"shape\": {\"dim\": " \
  "  [{\"size\": \"1\"}, {\"size\": \"4\"}, {\"size\": \"4\"}, {\"size\": \"3\"}]}}}}"

/* Rejected graphs name the node at fault. */
static void
test_graph_rejects (void)
{
  static const struct
  {
    const char *nodes;
    gint        code;
    const char *needle;
  } cases[] = {
    { PLACEHOLDER ", {\"name\": \"odd/erf\", \"op\": \"Erf\","
      " \"input\": [\"input\"]}", LK_TFGRAPH_ERROR_UNSUPPORTED, "“odd/erf” (Erf)" },
    { PLACEHOLDER ", {\"name\": \"r\", \"op\": \"Relu\","
      " \"input\": [\"nowhere\"]}", LK_TFGRAPH_ERROR_INVALID, "nowhere" },
    { PLACEHOLDER ", {\"name\": \"a\", \"op\": \"Relu\","
      " \"input\": [\"b\"]}, {\"name\": \"b\", \"op\": \"Relu\", \"input\": [\"a\"]}",
      LK_TFGRAPH_ERROR_INVALID, "cycle" },
    { PLACEHOLDER ", {\"name\": \"w\", \"op\": \"Const\"}",
      LK_TFGRAPH_ERROR_INVALID, "no weight named “w”" },
    { PLACEHOLDER ", {\"name\": \"s\", \"op\": \"Relu\","
      " \"input\": [\"input\", \"input\"]}", LK_TFGRAPH_ERROR_INVALID, "2 inputs" },
    { PLACEHOLDER ", {\"name\": \"c\", \"op\": \"Conv2D\","
      " \"input\": [\"input\", \"input\"], \"attr\": {\"strides\": {\"list\": {\"i\": "
      "[\"1\", \"1\", \"1\", \"1\"]}}, \"padding\": {\"s\": \"U0FNRQ==\"}, \"data_format\": "
      "{\"s\": \"TkNIVw==\"}}}", LK_TFGRAPH_ERROR_UNSUPPORTED, "NCHW" },
    { "{\"name\": \"r\", \"op\": \"Relu\"}", LK_TFGRAPH_ERROR_INVALID, "0 inputs, expected 1" },
    { "{\"name\": \"f\", \"op\": \"Const\"}", LK_TFGRAPH_ERROR_INVALID, "no Placeholder" },
    /* JSON of the wrong types: errors, never criticals */
    { "{\"name\": 3, \"op\": \"Relu\"}", LK_TFGRAPH_ERROR_INVALID, "no name or op" },
    { "{\"name\": \"input\", \"op\": \"Placeholder\", \"attr\": {\"shape\": \"big\"}}",
      LK_TFGRAPH_ERROR_UNSUPPORTED, "known shape" },
    { PLACEHOLDER ", {\"name\": \"r\", \"op\": \"Relu\", \"input\": [{\"x\": 1}]}",
      LK_TFGRAPH_ERROR_INVALID, "not a string" },
    { PLACEHOLDER ", {\"name\": \"p\", \"op\": \"MaxPool\", \"input\": [\"input\"],"
      " \"attr\": {\"strides\": {\"list\": {\"i\": [[1], 2]}}}}", LK_TFGRAPH_ERROR_UNSUPPORTED,
      "strides" },
  };

  if (lk_test_context () == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = write_graph (cases[i].nodes);
      g_autoptr(LkTfjsModel) model = NULL;
      g_autoptr(LkTfGraph) graph = NULL;
      g_autoptr(GError) error = NULL;

      model = lk_tfjs_model_load (path, &error);
      g_assert_no_error (error);
      graph = lk_tfgraph_new (lk_test_context (), model, &error);
      g_assert_null (graph);
      g_assert_error (error, LK_TFGRAPH_ERROR, cases[i].code);
      if (g_test_verbose ())
        g_printerr ("%s\n", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].needle));
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("lk-tfjs-XXXXXX", &error);
  g_assert_no_error (error);
  g_test_add_func ("/tfjs/dequantise", test_dequantise);
  g_test_add_func ("/tfjs/rejects", test_rejects);
  g_test_add_func ("/tfjs/real-models", test_real_models);
  g_test_add_func ("/tfgraph/run", test_graph_run);
  g_test_add_func ("/tfgraph/rejects", test_graph_rejects);
  status = g_test_run ();
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *leftover = g_build_filename (tmp_dir, i ? "g.bin" : "model.json", NULL);

      g_unlink (leftover);
    }
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
  return status;
}
