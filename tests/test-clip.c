/* test-clip.c: the CLIP text encoder against a torch oracle, and its embedding op
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>

#include "lk-clip.h"
#include "lk-half.h"
#include "lk-ref.h"
#include "lk-safetensors.h"
#include "lk-test-util.h"
#include "lk-tokenizer.h"

/* SD1.x's text encoder: CLIP ViT-L/14. */
#define WIDTH    768
#define LAYERS   12
#define MLP      3072

static void
test_embedding_op (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 table_shape[] = { 101, 37 }, ids_shape[] = { 3, 13 }, y_shape[] = { 3, 13, 37 };
  gsize n_table = 101 * 37, n_ids = 3 * 13, n_y = n_ids * 37;

  if (stream == NULL)
    return;

  for (guint dt = 0; dt < 2; dt++)
    {
      LkDType table_type = dt == 0 ? LK_DTYPE_F16 : LK_DTYPE_F32;
      LkDType y_type = dt == 0 ? LK_DTYPE_F32 : LK_DTYPE_F16;
      g_autofree float *table = lk_test_random (n_table, -2, 2, 7 + dt);
      g_autofree float *ids = g_new (float, n_ids);
      g_autofree float *ref = g_new (float, n_y);
      g_autofree float *out = NULL;
      g_autoptr(LkTensor) tt = NULL, ti = NULL, ty = NULL;
      g_autoptr(GError) error = NULL;

      lk_round_to_half (table, n_table);  /* exact in either output dtype */
      for (gsize i = 0; i < n_ids; i++)
        ids[i] = (i * 37 + dt) % 101;
      ids[0] = 100;
      ids[1] = 0;
      tt = lk_test_tensor_from (stream, table_type, 2, table_shape, table);
      ti = lk_test_tensor_from (stream, LK_DTYPE_F32, 2, ids_shape, ids);
      ty = lk_test_tensor_poisoned (stream, y_type, 3, y_shape);
      g_assert_true (lk_op_embedding (stream, tt, ti, ty, &error));
      g_assert_no_error (error);
      out = lk_test_download (stream, ty);
      lk_test_check_validation ();
      lk_ref_embedding (table, ids, ref, n_ids, 37);
      lk_test_assert_close ("embedding", out, ref, n_y, 0, 0);
    }

  {
    static const gint64 bad_shape[] = { 3, 13, 36 };
    g_autoptr(LkTensor) tt = lk_test_tensor_poisoned (stream, LK_DTYPE_F16, 2, table_shape);
    g_autoptr(LkTensor) ti = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, ids_shape);
    g_autoptr(LkTensor) ty = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, bad_shape);
    g_autoptr(GError) error = NULL;

    g_assert_false (lk_op_embedding (stream, tt, ti, ty, &error));
    g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  }
}

static void
test_prompt_weights (void)
{
  float hidden[3 * 2] = { 1, 2, 3, 4, -1, 5 };
  float weights[3] = { 1.0f, 1.5f, 0.5f };
  double before = 0, after = 0;

  lk_clip_apply_prompt_weights (hidden, weights, 3, 2);
  for (guint i = 0; i < 6; i++)
    after += hidden[i];
  before = 1 + 2 + 3 + 4 - 1 + 5;
  g_assert_cmpfloat_with_epsilon (after, before, 1e-5);
  /* Token 1 grew against token 0 by 1.5. */
  g_assert_cmpfloat_with_epsilon (hidden[2] / hidden[0], 3 * 1.5, 1e-5);
}

/* The vocabulary from ../shared/models/clip via LIKENESS_TEST_DATA or beside the source tree. */
static char *
find_vocab (void)
{
  const char *rel = "models/clip/bpe_simple_vocab_16e6.txt.gz";
  const char *data = g_getenv ("LIKENESS_TEST_DATA");
  const char *source = g_getenv ("LIKENESS_SOURCE_DIR");
  g_autofree char *from_data = data ? g_build_filename (data, rel, NULL) : NULL;
  g_autofree char *from_source = source ? g_build_filename (source, "..", "shared", rel, NULL) : NULL;

  if (from_data != NULL && g_file_test (from_data, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&from_data);
  if (from_source != NULL && g_file_test (from_source, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&from_source);
  return NULL;
}

typedef struct
{
  GPtrArray *names;
  GPtrArray *data;
  GArray    *entries;
  GArray    *shapes;   /* gint64[2] per entry, kept apart so the entries can point into it */
} RandomCheckpoint;

static void
add_tensor (RandomCheckpoint *ckpt,
            const char       *name,
            gint64            dim0,
            gint64            dim1,
            float             center,
            float             amplitude,
            guint64          *state)
{
  gint64 shape[2] = { dim0, dim1 };

  g_ptr_array_add (ckpt->names, g_strconcat (LK_CLIP_TEXT_PREFIX, name, NULL));
  g_ptr_array_add (ckpt->data, lk_halves_uniform (dim0 * MAX (dim1, 1), center, amplitude, state));
  g_array_append_vals (ckpt->shapes, shape, 2);
}

/* The text encoder at its real shapes with uniform random weights large enough that attention
 * and QuickGELU are far from linear: scores of a few units, MLP inputs of about ±1. */
static char *
write_random_clip (const char *dir)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, "clip.safetensors", NULL);
  RandomCheckpoint ckpt = {
    g_ptr_array_new_with_free_func (g_free), g_ptr_array_new_with_free_func (g_free),
    g_array_new (FALSE, FALSE, sizeof (LkSafetensorsEntry)), g_array_new (FALSE, FALSE, sizeof (gint64)),
  };
  static const struct { const char *name; gint64 out, in; } linear[] = {
    { "self_attn.q_proj", WIDTH, WIDTH }, { "self_attn.k_proj", WIDTH, WIDTH },
    { "self_attn.v_proj", WIDTH, WIDTH }, { "self_attn.out_proj", WIDTH, WIDTH },
    { "mlp.fc1", MLP, WIDTH }, { "mlp.fc2", WIDTH, MLP },
  };
  guint64 state = 0x9e3779b97f4a7c15ull;

  add_tensor (&ckpt, "embeddings.token_embedding.weight", LK_CLIP_VOCAB_SIZE, WIDTH, 0, 0.5f, &state);
  add_tensor (&ckpt, "embeddings.position_embedding.weight", LK_CLIP_CONTEXT, WIDTH, 0, 0.5f, &state);
  for (guint l = 0; l < LAYERS; l++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (linear); i++)
        {
          g_autofree char *w = g_strdup_printf ("encoder.layers.%u.%s.weight", l, linear[i].name);
          g_autofree char *b = g_strdup_printf ("encoder.layers.%u.%s.bias", l, linear[i].name);

          add_tensor (&ckpt, w, linear[i].out, linear[i].in, 0, 0.08f, &state);
          add_tensor (&ckpt, b, linear[i].out, 0, 0, 0.1f, &state);
        }
      for (guint n = 1; n <= 2; n++)
        {
          g_autofree char *w = g_strdup_printf ("encoder.layers.%u.layer_norm%u.weight", l, n);
          g_autofree char *b = g_strdup_printf ("encoder.layers.%u.layer_norm%u.bias", l, n);

          add_tensor (&ckpt, w, WIDTH, 0, 1, 0.2f, &state);
          add_tensor (&ckpt, b, WIDTH, 0, 0, 0.1f, &state);
        }
    }
  add_tensor (&ckpt, "final_layer_norm.weight", WIDTH, 0, 1, 0.2f, &state);
  add_tensor (&ckpt, "final_layer_norm.bias", WIDTH, 0, 0, 0.1f, &state);

  for (guint i = 0; i < ckpt.names->len; i++)
    {
      const gint64 *shape = &g_array_index (ckpt.shapes, gint64, 2 * i);
      LkSafetensorsEntry entry = {
        g_ptr_array_index (ckpt.names, i), LK_WEIGHT_F16, shape[1] > 0 ? 2 : 1, shape,
        g_ptr_array_index (ckpt.data, i),
      };

      g_array_append_val (ckpt.entries, entry);
    }
  lk_safetensors_write (path, (LkSafetensorsEntry *) ckpt.entries->data, ckpt.entries->len, NULL,
                        &error);
  g_assert_no_error (error);
  g_ptr_array_unref (ckpt.names);
  g_ptr_array_unref (ckpt.data);
  g_array_unref (ckpt.entries);
  g_array_unref (ckpt.shapes);
  return path;
}

static float *
encode (LkClipTextModel *model,
        LkStream        *stream,
        const gint32    *ids,
        guint            batch,
        guint            clip_skip)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) hidden = NULL;
  gint64 start = g_get_monotonic_time ();
  float *out;

  hidden = lk_clip_text_model_forward (model, stream, ids, batch, clip_skip, &error);
  g_assert_no_error (error);
  g_assert_nonnull (hidden);
  g_assert_cmpint (hidden->ndim, ==, 3);
  g_assert_cmpint (hidden->shape[0], ==, batch);
  g_assert_cmpint (hidden->shape[1], ==, LK_CLIP_CONTEXT);
  g_assert_cmpint (hidden->shape[2], ==, WIDTH);
  out = lk_test_download (stream, hidden);
  g_test_message ("forward of %u prompts, clip skip %u: %.2f s", batch, clip_skip,
                  (g_get_monotonic_time () - start) / 1e6);
  return out;
}

static void
test_oracle (void)
{
  static const char *prompts[] = {
    "a photo of an astronaut riding a horse on the moon, (highly detailed:1.3), [blurry]",
    "portrait of a woman with red hair, studio lighting, 85mm",
  };
  const guint batch = G_N_ELEMENTS (prompts);
  const gsize n = (gsize) batch * LK_CLIP_CONTEXT * WIDTH;
  LkStream *stream = lk_test_stream ();
  g_autoptr(GError) error = NULL;
  g_autofree char *vocab = NULL, *dir = NULL, *path = NULL;
  g_autoptr(LkTokenizer) tokenizer = NULL;
  g_autoptr(LkWeights) weights = NULL;
  g_autoptr(LkClipTextModel) model = NULL;
  g_autoptr(LkOracle) oracle = NULL;
  g_autofree gint32 *ids = g_new (gint32, batch * LK_CLIP_CONTEXT);
  g_autofree float *id_values = g_new (float, batch * LK_CLIP_CONTEXT);
  g_autofree float *token_weights = g_new (float, batch * LK_CLIP_CONTEXT);
  g_autofree float *skip1 = NULL, *skip2 = NULL, *weighted = NULL, *expected = NULL;
  gint64 start;

  if (stream == NULL)
    return;
  if ((vocab = find_vocab ()) == NULL)
    {
      g_test_skip ("CLIP vocabulary not found; set LIKENESS_TEST_DATA to the shared folder");
      return;
    }
  if ((oracle = lk_oracle_new ("oracle_clip.py")) == NULL)
    return;
  tokenizer = lk_tokenizer_new_from_file (vocab, &error);
  g_assert_no_error (error);
  for (guint b = 0; b < batch; b++)
    {
      g_autoptr(LkPromptTokens) tokens = lk_tokenizer_encode_prompt (tokenizer, prompts[b]);

      g_assert_cmpuint (tokens->n_chunks, ==, 1);
      memcpy (ids + b * LK_CLIP_CONTEXT, tokens->ids, LK_CLIP_CONTEXT * sizeof (gint32));
      memcpy (token_weights + b * LK_CLIP_CONTEXT, tokens->weights, LK_CLIP_CONTEXT * sizeof (float));
    }
  for (guint i = 0; i < batch * LK_CLIP_CONTEXT; i++)
    id_values[i] = ids[i];

  start = g_get_monotonic_time ();
  dir = g_dir_make_tmp ("likeness-clip-XXXXXX", &error);
  g_assert_no_error (error);
  path = write_random_clip (dir);
  weights = lk_safetensors_open (path, &error);
  g_assert_no_error (error);
  model = lk_clip_text_model_new (stream, weights, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_clip_text_model_get_n_layers (model), ==, LAYERS);
  g_assert_cmpuint (lk_clip_text_model_get_width (model), ==, WIDTH);
  g_assert_cmpuint (lk_clip_text_model_get_context (model), ==, LK_CLIP_CONTEXT);
  lk_stream_finish (stream, &error);
  g_assert_no_error (error);
  g_test_message ("random checkpoint written and uploaded: %.2f s",
                  (g_get_monotonic_time () - start) / 1e6);

  skip1 = encode (model, stream, ids, batch, 1);
  skip2 = encode (model, stream, ids, batch, 2);
  lk_test_check_validation ();

  /* Refused before anything is recorded: clip skips past the layers, ids past the vocabulary. */
  for (guint skip = 0; skip <= LAYERS + 1; skip += LAYERS + 1)
    {
      g_assert_null (lk_clip_text_model_forward (model, stream, ids, 1, skip, &error));
      g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
      g_clear_error (&error);
    }
  {
    gint32 bad[LK_CLIP_CONTEXT];

    memcpy (bad, ids, sizeof bad);
    bad[3] = LK_CLIP_VOCAB_SIZE;
    g_assert_null (lk_clip_text_model_forward (model, stream, bad, 1, 1, &error));
    g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
  }
  weighted = g_memdup2 (skip1, n * sizeof (float));
  for (guint b = 0; b < batch; b++)
    lk_clip_apply_prompt_weights (weighted + b * LK_CLIP_CONTEXT * WIDTH,
                                  token_weights + b * LK_CLIP_CONTEXT, LK_CLIP_CONTEXT, WIDTH);

  lk_oracle_set_param_string (oracle, "path", path);
  lk_oracle_set_param_int (oracle, "batch", batch);
  lk_oracle_set_param_int (oracle, "context", LK_CLIP_CONTEXT);
  lk_oracle_add_input (oracle, "ids", id_values, batch * LK_CLIP_CONTEXT);
  lk_oracle_add_input (oracle, "weights", token_weights, batch * LK_CLIP_CONTEXT);
  start = g_get_monotonic_time ();
  expected = lk_oracle_run (oracle, 3 * n);
  g_test_message ("torch oracle: %.2f s", (g_get_monotonic_time () - start) / 1e6);
  g_unlink (path);
  g_rmdir (dir);
  if (expected == NULL)
    return;

  /* Both sides use the same f16 weights and f32 activations; only the order of f32 rounding
   * differs, through 12 layers of 768- and 3072-term sums: measured 2.1e-6 on lavapipe. Without
   * the causal mask the error is 0.7. */
  lk_test_assert_close ("clip skip 1 vs torch", skip1, expected, n, 1e-4, 0);
  lk_test_assert_close ("clip skip 2 vs torch", skip2, expected + n, n, 1e-4, 0);
  lk_test_assert_close ("clip skip 1 weighted vs torch", weighted, expected + 2 * n, n, 1e-4, 0);
}

/* Files that are not a whole text encoder are refused with an error naming what is wrong. */
static void
test_refuses_incomplete (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 token_shape[] = { 10, 64 }, position_shape[] = { 5, 64 }, fc1_shape[] = { 256, 64 };
  static const gint64 norm_shape[] = { 64 }, bad_q_shape[] = { 64, 63 };
  g_autofree float *zeros = g_new0 (float, 256 * 64);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;

  if (stream == NULL)
    return;
  dir = g_dir_make_tmp ("likeness-clip-XXXXXX", &error);
  g_assert_no_error (error);

  for (guint variant = 0; variant < 3; variant++)
    {
      /* 0: no token embedding; 1: no layers; 2: a projection of the wrong shape. */
      LkSafetensorsEntry entries[] = {
        { LK_CLIP_TEXT_PREFIX "embeddings.position_embedding.weight", LK_WEIGHT_F32, 2, position_shape, zeros },
        { LK_CLIP_TEXT_PREFIX "encoder.layers.0.mlp.fc1.weight", LK_WEIGHT_F32, 2, fc1_shape, zeros },
        { LK_CLIP_TEXT_PREFIX "embeddings.token_embedding.weight", LK_WEIGHT_F32, 2, token_shape, zeros },
        { LK_CLIP_TEXT_PREFIX "encoder.layers.0.layer_norm1.weight", LK_WEIGHT_F32, 1, norm_shape, zeros },
        { LK_CLIP_TEXT_PREFIX "encoder.layers.0.self_attn.q_proj.weight", LK_WEIGHT_F32, 2, bad_q_shape, zeros },
      };
      gsize n_entries = variant == 0 ? 2 : variant == 1 ? 3 : 5;
      g_autofree char *path = g_build_filename (dir, "bad.safetensors", NULL);
      g_autoptr(LkWeights) weights = NULL;
      g_autoptr(LkClipTextModel) model = NULL;

      lk_safetensors_write (path, entries, n_entries, NULL, &error);
      g_assert_no_error (error);
      weights = lk_safetensors_open (path, &error);
      g_assert_no_error (error);
      model = lk_clip_text_model_new (stream, weights, &error);
      g_assert_null (model);
      g_assert_nonnull (error);
      g_test_message ("variant %u: %s", variant, error->message);
      if (variant == 0)
        g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_NOT_FOUND);
      else if (variant == 1)
        g_assert_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED);
      else
        g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
      g_clear_error (&error);
      g_unlink (path);
    }
  g_rmdir (dir);
  lk_stream_finish (stream, &error);
  g_assert_no_error (error);
  lk_test_check_validation ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nn/clip/embedding-op", test_embedding_op);
  g_test_add_func ("/nn/clip/prompt-weights", test_prompt_weights);
  g_test_add_func ("/nn/clip/refuses-incomplete", test_refuses_incomplete);
  g_test_add_func ("/nn/clip/oracle", test_oracle);
  return g_test_run ();
}
