/* test-clip-train.c: LoRA training of the CLIP text encoder, by finite differences and against
 * torch autograd
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>

#include "lk-clip-train.h"
#include "lk-lora-step.h"
#include "lk-lora.h"
#include "lk-safetensors.h"
#include "lk-test-train.h"
#include "lk-test-util.h"
#include "lk-tokenizer.h"

typedef struct
{
  char            *dir;
  char            *path;
  LkWeights       *weights;
  LkClipTextModel *model;
} Model;

static void
model_load (Model                  *m,
            LkStream               *stream,
            const LkTestClipConfig *config)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  m->dir = g_dir_make_tmp ("likeness-clip-train-XXXXXX", &error);
  g_assert_no_error (error);
  m->path = lk_test_train_write_clip (m->dir, config);
  m->weights = lk_safetensors_open (m->path, &error);
  g_assert_no_error (error);
  m->model = lk_clip_text_model_new (stream, m->weights, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_clip_text_model_get_n_layers (m->model), ==, config->n_layers);
  lk_stream_finish (stream, &error);
  g_assert_no_error (error);
  g_test_message ("random text encoder written and uploaded: %.2f s",
                  (g_get_monotonic_time () - start) / 1e6);
}

static void
model_clear (Model *m)
{
  g_clear_pointer (&m->model, lk_clip_text_model_unref);
  g_clear_pointer (&m->weights, lk_weights_unref);
  g_unlink (m->path);
  g_rmdir (m->dir);
  g_free (m->path);
  g_free (m->dir);
}

static float *
download_lora (LkClipTrainer *trainer,
               LkStream      *stream,
               gboolean       grads,
               gsize         *n)
{
  return lk_test_train_download_lora (lk_clip_trainer_get_layers (trainer),
                                      lk_clip_trainer_get_n_layers (trainer), stream, grads, n);
}

static void
upload_lora (LkClipTrainer *trainer,
             LkStream      *stream,
             const float   *params)
{
  LkLoraLayer **layers = lk_clip_trainer_get_layers (trainer);
  g_autoptr(GError) error = NULL;
  gsize offset = 0;

  for (guint i = 0; i < lk_clip_trainer_get_n_layers (trainer); i++)
    for (guint up = 0; up < 2; up++)
      {
        LkTensor *t = up ? lk_lora_layer_get_up (layers[i]) : lk_lora_layer_get_down (layers[i]);

        lk_tensor_upload_f32 (t, stream, params + offset, &error);
        g_assert_no_error (error);
        offset += lk_tensor_numel (t);
      }
}

static gint32 *
random_ids (guint    n,
            guint    vocab,
            guint32  seed)
{
  g_autofree float *u = lk_test_random (n, 0, vocab, seed);
  gint32 *ids = g_new (gint32, n);

  for (guint i = 0; i < n; i++)
    ids[i] = MIN ((gint32) u[i], (gint32) vocab - 1);
  return ids;
}

/* Forward, then backward from d_out; the output and the gradients on the host. */
static float *
forward_backward (LkClipTrainer *trainer,
                  LkStream      *stream,
                  const gint32  *ids,
                  guint          batch,
                  const float   *d_out,
                  gboolean       accumulate,
                  float        **grads,
                  gsize         *n_grads)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) out = NULL, d = NULL;
  float *host;

  out = lk_clip_trainer_forward (trainer, stream, ids, batch, &error);
  g_assert_no_error (error);
  host = lk_test_download (stream, out);
  d = lk_test_tensor_from (stream, LK_DTYPE_F32, 3, out->shape, d_out);
  g_assert_true (lk_clip_trainer_backward (trainer, stream, d, accumulate, &error));
  g_assert_no_error (error);
  if (grads != NULL)
    *grads = download_lora (trainer, stream, TRUE, n_grads);
  return host;
}

static double
weighted_sum (const float *out,
              const float *d_out,
              gsize        n)
{
  double sum = 0;

  for (gsize i = 0; i < n; i++)
    sum += (double) out[i] * d_out[i];
  return sum;
}

/* A 128-wide (two heads), 2-layer encoder over 8 tokens, f32: the LoRA gradients of
 * L = Σ d_out · output against central differences of L, for entries of A and B of every target
 * in both layers. Checkpointing gives the same bits; accumulating adds. */
static void
test_finite_differences (void)
{
  static const LkTestClipConfig config = { 100, 8, 128, 2, 256 };
  enum { BATCH = 2, PER_TENSOR = 3 };
  LkStream *stream = lk_test_stream ();
  LkClipTrainOptions options = LK_CLIP_TRAIN_OPTIONS_DEFAULT;
  g_autoptr(LkClipTrainer) trainer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gint32 *ids = NULL;
  g_autofree float *d_out = NULL, *out = NULL, *grads = NULL, *grads2 = NULL, *grads3 = NULL;
  g_autoptr(GArray) analytic = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr(GArray) numeric = g_array_new (FALSE, FALSE, sizeof (float));
  gsize n_out = BATCH * config.context * config.width, n, offset = 0;
  LkLoraLayer **layers;
  Model m = { NULL };

  if (stream == NULL)
    return;
  model_load (&m, stream, &config);
  options.rank = 3;
  options.alpha = 6;
  options.seed = 11;
  trainer = lk_clip_trainer_new (stream, m.model, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_clip_trainer_get_n_layers (trainer), ==, 2 * 6);
  layers = lk_clip_trainer_get_layers (trainer);
  lk_test_train_randomize_ups (layers, 12, stream, 40);

  ids = random_ids (BATCH * config.context, config.vocab, 41);
  d_out = lk_test_random (n_out, -1, 1, 42);
  out = forward_backward (trainer, stream, ids, BATCH, d_out, FALSE, &grads, &n);

  lk_clip_trainer_set_checkpointing (trainer, TRUE);
  g_free (forward_backward (trainer, stream, ids, BATCH, d_out, FALSE, &grads2, &n));
  g_assert_true (memcmp (grads, grads2, n * sizeof (float)) == 0);
  g_free (forward_backward (trainer, stream, ids, BATCH, d_out, TRUE, &grads3, &n));
  for (gsize i = 0; i < n; i++)
    grads2[i] = 2 * grads[i];
  lk_test_assert_close ("accumulated gradients", grads3, grads2, n, 1e-6, 0);
  lk_clip_trainer_set_checkpointing (trainer, FALSE);

  for (guint l = 0; l < 12; l++)
    for (guint up = 0; up < 2; up++)
      {
        LkTensor *param = up ? lk_lora_layer_get_up (layers[l])
                             : lk_lora_layer_get_down (layers[l]);
        gsize numel = lk_tensor_numel (param);
        g_autofree float *values = lk_test_download (stream, param);

        for (guint k = 0; k < PER_TENSOR; k++)
          {
            gsize i = (k * 7919 + l * 131 + up * 17) % numel;
            float saved = values[i], step = 4e-3f;
            double sums[2];

            for (guint side = 0; side < 2; side++)
              {
                g_autoptr(LkTensor) y = NULL;
                g_autofree float *host = NULL;

                values[i] = saved + (side ? -step : step);
                lk_tensor_upload_f32 (param, stream, values, &error);
                g_assert_no_error (error);
                y = lk_clip_trainer_forward (trainer, stream, ids, BATCH, &error);
                g_assert_no_error (error);
                host = lk_test_download (stream, y);
                sums[side] = weighted_sum (host, d_out, n_out);
              }
            {
              float fd = (sums[0] - sums[1]) / (2.0 * step);

              g_array_append_val (numeric, fd);
              g_array_append_val (analytic, grads[offset + i]);
            }
            values[i] = saved;
            lk_tensor_upload_f32 (param, stream, values, &error);
            g_assert_no_error (error);
          }
        offset += numel;
      }
  lk_clip_trainer_release (trainer);
  g_assert_cmpuint (offset, ==, n);
  /* Measured 3.8e-4 on lavapipe: the f32 noise of the summed output over the 8e-3 step. */
  lk_test_assert_close ("text encoder LoRA gradients", (float *) analytic->data,
                        (float *) numeric->data, analytic->len, 1e-2, 0);
  lk_test_check_validation ();

  /* A backward without its forward, and a gradient of the wrong shape, are refused. */
  {
    g_autoptr(LkTensor) d = lk_test_tensor_from (stream, LK_DTYPE_F32, 3,
                                                 (gint64[]) { BATCH, config.context,
                                                              config.width }, d_out);
    g_autoptr(LkTensor) y = NULL, bad = NULL;

    g_assert_false (lk_clip_trainer_backward (trainer, stream, d, FALSE, &error));
    g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
    g_clear_error (&error);
    y = lk_clip_trainer_forward (trainer, stream, ids, 1, &error);
    g_assert_no_error (error);
    g_assert_false (lk_clip_trainer_backward (trainer, stream, d, FALSE, &error));
    g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
    g_clear_error (&error);
  }
  g_clear_pointer (&trainer, lk_clip_trainer_free);
  model_clear (&m);
}

/* Module names and their kohya names, the layers a clip skip leaves out, bad options. */
static void
test_names (void)
{
  static const LkTestClipConfig config = { 50, 8, 64, 3, 128 };
  LkStream *stream = lk_test_stream ();
  LkClipTrainOptions options = LK_CLIP_TRAIN_OPTIONS_DEFAULT;
  g_autoptr(LkClipTrainer) trainer = NULL;
  g_autoptr(GError) error = NULL;
  const char * const *names;
  Model m = { NULL };

  if (stream == NULL)
    return;
  model_load (&m, stream, &config);
  options.rank = 4;
  options.clip_skip = 2;
  trainer = lk_clip_trainer_new (stream, m.model, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_clip_trainer_get_n_layers (trainer), ==, 2 * 6);
  names = lk_clip_trainer_get_names (trainer);
  g_assert_cmpstr (names[0], ==, "encoder.layers.0.self_attn.q_proj");
  g_assert_cmpstr (names[9], ==, "encoder.layers.1.self_attn.out_proj");
  g_assert_cmpstr (names[11], ==, "encoder.layers.1.mlp.fc2");
  g_assert_null (names[12]);
  {
    g_autofree char *target = g_strconcat (LK_CLIP_TEXT_PREFIX, names[4], ".weight", NULL);
    g_autofree char *kohya = lk_lora_kohya_name (target);

    g_assert_cmpstr (kohya, ==, "lora_te_text_model_encoder_layers_0_mlp_fc1");
  }
  g_clear_pointer (&trainer, lk_clip_trainer_free);

  options.clip_skip = 4;
  g_assert_null (lk_clip_trainer_new (stream, m.model, &options, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  options.clip_skip = 1;
  options.rank = 65;
  g_assert_null (lk_clip_trainer_new (stream, m.model, &options, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  model_clear (&m);
}

typedef struct
{
  LkTestClipConfig config;
  guint            batch, rank, clip_skip;
  float            alpha;
  double           lr;
  double           grad_bound, update_bound;
} Case;

/* The output, the LoRA gradients and one clipped AdamW step against torch, f32. Then the same
 * gradients with f16 activations, against the f32 ones. */
static void
check_oracle (const Case *c)
{
  LkStream *stream = lk_test_stream ();
  LkClipTrainOptions options = LK_CLIP_TRAIN_OPTIONS_DEFAULT;
  g_autoptr(LkClipTrainer) trainer = NULL;
  g_autoptr(LkOracle) oracle = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gint32 *ids = NULL;
  g_autofree float *id_values = NULL, *d_out = NULL, *out = NULL, *grads = NULL, *params = NULL;
  g_autofree float *updated = NULL, *expected = NULL, *ours = NULL, *theirs = NULL;
  g_autofree float *out16 = NULL, *grads16 = NULL, *scaled = NULL;
  g_autofree char *names = NULL;
  gsize n_ids = (gsize) c->batch * c->config.context;
  gsize n_out = n_ids * c->config.width, n;
  LkAdamWOptions adamw = LK_ADAMW_OPTIONS_DEFAULT;
  LkTrainState state = { 0 };
  LkLoraGroup group;
  gint64 start;
  Model m = { NULL };

  if (stream == NULL)
    return;
  if ((oracle = lk_oracle_new ("oracle_clip_train.py")) == NULL)
    return;
  model_load (&m, stream, &c->config);
  options.rank = c->rank;
  options.alpha = c->alpha;
  options.clip_skip = c->clip_skip;
  options.seed = 3;
  trainer = lk_clip_trainer_new (stream, m.model, &options, &error);
  g_assert_no_error (error);
  lk_test_train_randomize_ups (lk_clip_trainer_get_layers (trainer),
                               lk_clip_trainer_get_n_layers (trainer), stream, 70);
  params = download_lora (trainer, stream, FALSE, &n);

  ids = random_ids (n_ids, c->config.vocab, 71);
  id_values = g_new (float, n_ids);
  for (gsize i = 0; i < n_ids; i++)
    id_values[i] = ids[i];
  d_out = lk_test_random (n_out, -1, 1, 72);
  start = g_get_monotonic_time ();
  out = forward_backward (trainer, stream, ids, c->batch, d_out, FALSE, &grads, &n);
  g_test_message ("forward + backward, batch %u, %u layers of %u, rank %u: %.2f s", c->batch,
                  c->config.n_layers, c->config.width, c->rank,
                  (g_get_monotonic_time () - start) / 1e6);

  /* lk_lora_step's AdamW at scale 1 */
  adamw.lr = c->lr;
  group = (LkLoraGroup) { lk_clip_trainer_get_layers (trainer),
                          lk_clip_trainer_get_n_layers (trainer), c->lr };
  state.loss_scale = 1;
  g_assert_true (lk_lora_step (stream, &group, 1, &state, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (state.step, ==, 1);
  updated = download_lora (trainer, stream, FALSE, &n);
  lk_test_check_validation ();

  names = g_strjoinv (",", (char **) lk_clip_trainer_get_names (trainer));
  lk_oracle_set_param_string (oracle, "path", m.path);
  lk_oracle_set_param_string (oracle, "names", names);
  lk_oracle_set_param_int (oracle, "batch", c->batch);
  lk_oracle_set_param_int (oracle, "context", c->config.context);
  lk_oracle_set_param_int (oracle, "rank", c->rank);
  lk_oracle_set_param_int (oracle, "clip_skip", c->clip_skip);
  lk_oracle_set_param_double (oracle, "alpha", c->alpha);
  lk_oracle_set_param_double (oracle, "lr", adamw.lr);
  lk_oracle_add_input (oracle, "ids", id_values, n_ids);
  lk_oracle_add_input (oracle, "d_out", d_out, n_out);
  lk_oracle_add_input (oracle, "lora", params, n);
  start = g_get_monotonic_time ();
  expected = lk_oracle_run (oracle, n_out + 2 * n);
  g_test_message ("torch oracle: %.2f s", (g_get_monotonic_time () - start) / 1e6);
  if (expected != NULL)
    {
      lk_test_assert_close ("text encoder output with its LoRA vs torch", out, expected, n_out,
                            1e-4, 0);
      lk_test_assert_close ("text encoder LoRA gradients vs torch autograd", grads,
                            expected + n_out, n, c->grad_bound, 0);
      ours = g_new (float, n);
      theirs = g_new (float, n);
      for (gsize i = 0; i < n; i++)
        {
          ours[i] = updated[i] - params[i];
          theirs[i] = expected[n_out + n + i] - params[i];
        }
      lk_test_assert_close ("AdamW update vs torch", ours, theirs, n, c->update_bound, 0);
    }

  /* f16 activations from the same parameters, d_out scaled by 2^10 as a loss scale would. */
  g_clear_pointer (&trainer, lk_clip_trainer_free);
  options.f16_activations = TRUE;
  trainer = lk_clip_trainer_new (stream, m.model, &options, &error);
  g_assert_no_error (error);
  upload_lora (trainer, stream, params);
  scaled = g_new (float, n_out);
  for (gsize i = 0; i < n_out; i++)
    scaled[i] = d_out[i] * 1024;
  start = g_get_monotonic_time ();
  out16 = forward_backward (trainer, stream, ids, c->batch, scaled, FALSE, &grads16, &n);
  g_test_message ("the same with f16 activations: %.2f s", (g_get_monotonic_time () - start) / 1e6);
  for (gsize i = 0; i < n; i++)
    grads16[i] /= 1024;
  lk_test_check_validation ();
  /* f16 keeps 11 bits: measured 1.0e-3 to 1.2e-3 (output) and 1.6e-3 to 1.9e-3 (gradients) at
   * both sizes. */
  lk_test_assert_close ("output with f16 activations vs f32", out16, out, n_out, 1e-2, 0);
  lk_test_assert_close ("gradients with f16 activations vs f32", grads16, grads, n, 3e-2, 0);

  g_clear_pointer (&trainer, lk_clip_trainer_free);
  model_clear (&m);
}

/* 256 wide, 3 layers, 77 tokens, batch 2, rank 4; clip skip 1 and 2. Measured on lavapipe:
 * the output 1e-6 from torch's, the gradients 2e-6, the AdamW update 1.5e-3 and 2.3e-4 (elements
 * whose gradient is near zero move by lr · m / √v, sensitive to the last bits). */
static void
test_reduced_oracle (void)
{
  const Case skip1 = { { 1000, LK_CLIP_CONTEXT, 256, 3, 1024 }, 2, 4, 1, 8.0f, 1e-3, 1e-4, 2e-3 };
  const Case skip2 = { { 1000, LK_CLIP_CONTEXT, 256, 3, 1024 }, 2, 4, 2, 8.0f, 1e-3, 1e-4, 2e-3 };

  check_oracle (&skip1);
  check_oracle (&skip2);
}

/* CLIP ViT-L/14 as SD1.x has it (49408 tokens, 77, 768 wide, 12 layers, MLP 3072), batch 1,
 * rank 8: 32 s in all on lavapipe (two cores), so in every run. Measured: the output 1.8e-6 from
 * torch's, the gradients 2.8e-6, the AdamW update 2.8e-4. */
static void
test_vit_l_oracle (void)
{
  const Case c = { { LK_CLIP_VOCAB_SIZE, LK_CLIP_CONTEXT, 768, 12, 3072 }, 1, 8, 1, 4.0f, 1e-4,
                   1e-2, 1e-2 };

  check_oracle (&c);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/clip-train/finite-differences", test_finite_differences);
  g_test_add_func ("/clip-train/names", test_names);
  g_test_add_func ("/clip-train/reduced-oracle", test_reduced_oracle);
  g_test_add_func ("/clip-train/vit-l-oracle", test_vit_l_oracle);
  return g_test_run ();
}
