/* test-lora.c: LoRA files (kohya, kohya-from-diffusers, PEFT), merge against a torch oracle,
 * exact unmerge, errors, and the kohya writer
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "lk-clip.h"
#include "lk-half.h"
#include "lk-lora.h"
#include "lk-safetensors.h"
#include "lk-test-util.h"
#include "lk-unet.h"

/* Real SD1.5 weights: attention and feed-forward Linears, a 1×1 proj_in, a 3×3 resnet conv
 * (LoCon), a 1×1 skip connection, cross-attention and a text encoder projection; with their
 * names in diffusers-derived kohya form and in PEFT form. */
static const struct
{
  const char *target;
  guint       ndim;
  gint64      shape[4];
  const char *kohya_diffusers;
  const char *peft;
} weights[] = {
  { "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight", 2, { 320, 320 },
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q" },
  { "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.ff.net.0.proj.weight", 2, { 2560, 320 },
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj",
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj" },
  { "model.diffusion_model.input_blocks.1.1.proj_in.weight", 4, { 320, 320, 1, 1 },
    "lora_unet_down_blocks_0_attentions_0_proj_in",
    "unet.down_blocks.0.attentions.0.proj_in" },
  { "model.diffusion_model.input_blocks.1.0.in_layers.2.weight", 4, { 320, 320, 3, 3 },
    "lora_unet_down_blocks_0_resnets_0_conv1",
    "unet.down_blocks.0.resnets.0.conv1" },
  { "model.diffusion_model.output_blocks.3.0.skip_connection.weight", 4, { 1280, 2560, 1, 1 },
    "lora_unet_up_blocks_1_resnets_0_conv_shortcut",
    "base_model.model.up_blocks.1.resnets.0.conv_shortcut" },
  { "model.diffusion_model.output_blocks.3.1.transformer_blocks.0.attn2.to_k.weight", 2, { 1280, 768 },
    "lora_unet_up_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k",
    "unet.up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k" },
  { "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight", 2, { 768, 768 },
    "lora_te_text_model_encoder_layers_0_self_attn_q_proj",
    "text_encoder.text_model.encoder.layers.0.self_attn.q_proj" },
};
#define N_WEIGHTS G_N_ELEMENTS (weights)

/* A directory of this process's own, so parallel runs do not share files. */
static const char *
test_dir (void)
{
  static char *dir = NULL;

  if (dir == NULL)
    {
      g_autoptr(GError) error = NULL;

      dir = g_dir_make_tmp ("likeness-lora-XXXXXX", &error);
      g_assert_no_error (error);
    }
  return dir;
}

typedef enum
{
  NAMES_KOHYA_LDM,
  NAMES_KOHYA_DIFFUSERS,
  NAMES_PEFT,
} Names;

static gint64
numel (guint         ndim,
       const gint64 *shape)
{
  gint64 n = 1;

  for (guint d = 0; d < ndim; d++)
    n *= shape[d];
  return n;
}

/* One LoRA's factors for every weight, rounded to f16 as the file stores them. */
typedef struct
{
  guint  rank;
  float  alpha;
  float *down[N_WEIGHTS];
  float *up[N_WEIGHTS];
} Factors;

static void
factors_init (Factors *f,
              guint    rank,
              float    alpha,
              guint32  seed)
{
  f->rank = rank;
  f->alpha = alpha;
  for (guint i = 0; i < N_WEIGHTS; i++)
    {
      gint64 out = weights[i].shape[0];
      gint64 k = numel (weights[i].ndim, weights[i].shape) / out;

      f->down[i] = lk_test_random (rank * k, -0.1f, 0.1f, seed + 2 * i);
      f->up[i] = lk_test_random (out * rank, -0.1f, 0.1f, seed + 2 * i + 1);
      lk_round_to_half (f->down[i], rank * k);
      lk_round_to_half (f->up[i], out * rank);
    }
}

static void
factors_clear (Factors *f)
{
  for (guint i = 0; i < N_WEIGHTS; i++)
    {
      g_clear_pointer (&f->down[i], g_free);
      g_clear_pointer (&f->up[i], g_free);
    }
}

/* Writes the factors under one naming; PEFT files carry no alpha (scale 1 needs alpha = rank). */
static char *
write_lora (const Factors *f,
            Names          names,
            const char    *file)
{
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) entries = g_array_new (FALSE, TRUE, sizeof (LkSafetensorsEntry));
  g_autofree char *path = g_build_filename (test_dir (), file, NULL);
  g_autoptr(GError) error = NULL;
  static gint64 shapes[N_WEIGHTS][2][4];
  guint16 *alpha = g_new (guint16, 1);

  *alpha = lk_float_to_half (f->alpha);
  g_ptr_array_add (owned, alpha);
  for (guint i = 0; i < N_WEIGHTS; i++)
    {
      gint64 out = weights[i].shape[0], k = numel (weights[i].ndim, weights[i].shape) / out;
      gboolean conv = weights[i].ndim == 4;
      const char *stem = names == NAMES_KOHYA_DIFFUSERS ? weights[i].kohya_diffusers
                         : names == NAMES_PEFT ? weights[i].peft : NULL;
      char *ldm = names == NAMES_KOHYA_LDM ? lk_lora_kohya_name (weights[i].target) : NULL;
      guint16 *down = g_new (guint16, f->rank * k), *up = g_new (guint16, out * f->rank);
      LkSafetensorsEntry e;

      if (ldm != NULL)
        {
          g_ptr_array_add (owned, ldm);
          stem = ldm;
        }
      lk_floats_to_halves (f->down[i], down, f->rank * k);
      lk_floats_to_halves (f->up[i], up, out * f->rank);
      g_ptr_array_add (owned, down);
      g_ptr_array_add (owned, up);

      memcpy (shapes[i][0], (gint64[]) { f->rank, weights[i].shape[1], conv ? weights[i].shape[2] : 0,
                                         conv ? weights[i].shape[3] : 0 }, sizeof shapes[i][0]);
      memcpy (shapes[i][1], (gint64[]) { out, f->rank, 1, 1 }, sizeof shapes[i][1]);

      e = (LkSafetensorsEntry) { g_strconcat (stem, names == NAMES_PEFT ? ".lora_A.weight" : ".lora_down.weight", NULL),
                                 LK_WEIGHT_F16, conv ? 4 : 2, shapes[i][0], down };
      g_ptr_array_add (owned, (char *) e.name);
      g_array_append_val (entries, e);
      e = (LkSafetensorsEntry) { g_strconcat (stem, names == NAMES_PEFT ? ".lora_B.weight" : ".lora_up.weight", NULL),
                                 LK_WEIGHT_F16, conv ? 4 : 2, shapes[i][1], up };
      g_ptr_array_add (owned, (char *) e.name);
      g_array_append_val (entries, e);
      if (names != NAMES_PEFT)
        {
          e = (LkSafetensorsEntry) { g_strconcat (stem, ".alpha", NULL), LK_WEIGHT_F16, 0, NULL, alpha };
          g_ptr_array_add (owned, (char *) e.name);
          g_array_append_val (entries, e);
        }
    }
  g_assert_true (lk_safetensors_write (path, (LkSafetensorsEntry *) entries->data, entries->len,
                                       NULL, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&path);
}

static LkLora *
open_lora (const char *path)
{
  g_autoptr(GError) error = NULL;
  LkLora *lora = lk_lora_open (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (lora);
  return lora;
}

/* Random f16 weights on the device under their canonical names; host copies in f32. */
static GHashTable *
make_targets (LkStream  *stream,
              float    **host)
{
  GHashTable *targets = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                               (GDestroyNotify) lk_tensor_unref);

  for (guint i = 0; i < N_WEIGHTS; i++)
    {
      gint64 n = numel (weights[i].ndim, weights[i].shape);

      host[i] = lk_test_random (n, -0.05f, 0.05f, 1000 + i);
      lk_round_to_half (host[i], n);
      g_hash_table_insert (targets, (char *) weights[i].target,
                           lk_test_tensor_from (stream, LK_DTYPE_F16, weights[i].ndim,
                                                weights[i].shape, host[i]));
    }
  return targets;
}

static guint16 *
download_bits (LkStream *stream,
               LkTensor *t)
{
  g_autoptr(GError) error = NULL;
  guint16 *bits = g_malloc (lk_tensor_nbytes (t));

  g_assert_true (lk_stream_download (stream, t->buffer, t->offset, bits, lk_tensor_nbytes (t), &error));
  g_assert_no_error (error);
  return bits;
}

static void
test_merge_oracle (void)
{
  LkStream *stream = lk_test_stream ();
  g_autoptr(GHashTable) targets = NULL;
  g_autoptr(LkLora) a = NULL, b = NULL;
  g_autoptr(LkLoraMerge) merge = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path_a = NULL, *path_b = NULL;
  float *host[N_WEIGHTS];
  Factors fa, fb;
  const float strengths[] = { 0.9f, 0.65f };

  if (stream == NULL)
    return;
  factors_init (&fa, 8, 4.0f, 1);
  factors_init (&fb, 4, 4.0f, 100);
  path_a = write_lora (&fa, NAMES_KOHYA_LDM, "likeness-lora-a.safetensors");
  path_b = write_lora (&fb, NAMES_PEFT, "likeness-lora-b.safetensors");
  a = open_lora (path_a);
  b = open_lora (path_b);
  g_assert_cmpint (lk_lora_get_format (a), ==, LK_LORA_FORMAT_KOHYA);
  g_assert_cmpint (lk_lora_get_format (b), ==, LK_LORA_FORMAT_PEFT);

  targets = make_targets (stream, host);
  merge = lk_lora_merge (stream, targets, (LkLora *[]) { a, b }, strengths, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_lora_merge_get_targets (merge)->len, ==, N_WEIGHTS);

  for (guint i = 0; i < N_WEIGHTS && !g_test_failed (); i++)
    {
      gint64 n = numel (weights[i].ndim, weights[i].shape);
      g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_lora.py");
      g_autofree float *merged = NULL, *ref = NULL, *d_out = NULL, *d_ref = NULL;
      const Factors *fs[] = { &fa, &fb };
      LkTestDiff diff;

      if (oracle == NULL)
        break;
      lk_oracle_add_input (oracle, "w", host[i], n);
      for (guint l = 0; l < 2; l++)
        {
          g_autofree char *down = g_strdup_printf ("down%u", l), *up = g_strdup_printf ("up%u", l);
          g_autofree char *rank = g_strdup_printf ("rank%u", l), *alpha = g_strdup_printf ("alpha%u", l);
          g_autofree char *strength = g_strdup_printf ("strength%u", l);

          lk_oracle_add_input (oracle, down, fs[l]->down[i], fs[l]->rank * n / weights[i].shape[0]);
          lk_oracle_add_input (oracle, up, fs[l]->up[i], weights[i].shape[0] * fs[l]->rank);
          lk_oracle_set_param_int (oracle, rank, fs[l]->rank);
          lk_oracle_set_param_double (oracle, alpha, l == 0 ? fs[l]->alpha : fs[l]->rank);
          lk_oracle_set_param_double (oracle, strength, strengths[l]);
        }
      lk_oracle_set_param_int (oracle, "n_loras", 2);
      /* lk-test-util has no array parameter: pass the shape as a string the script splits. */
      {
        g_autofree char *s = g_strdup_printf ("%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                                              ",%" G_GINT64_FORMAT, weights[i].shape[0], weights[i].shape[1],
                                              weights[i].ndim == 4 ? weights[i].shape[2] : 0,
                                              weights[i].ndim == 4 ? weights[i].shape[3] : 0);
        lk_oracle_set_param_string (oracle, "shape", s);
      }
      ref = lk_oracle_run (oracle, n);
      merged = lk_test_download (stream, g_hash_table_lookup (targets, weights[i].target));

      /* f16 storage: each merged value is within half an f16 ulp of the fp32 result
       * (relative 2⁻¹¹ ≈ 4.9e-4). */
      lk_test_assert_close (weights[i].target, merged, ref, n, 4.9e-4, 0);
      d_out = g_new (float, n);
      d_ref = g_new (float, n);
      for (gint64 j = 0; j < n; j++)
        {
          d_out[j] = merged[j] - host[i][j];
          d_ref[j] = ref[j] - host[i][j];
        }
      diff = lk_test_diff (d_out, d_ref, n);
      g_test_message ("%s: ΔW rel-L2 %.2e, max |err| %.2e", weights[i].target, diff.rel_l2, diff.max_abs);
      /* ΔW itself only loses the rounding of W + ΔW to f16: ~0.1 % of its norm here. */
      g_assert_cmpfloat (diff.rel_l2, <, 1e-2);
    }

  for (guint i = 0; i < N_WEIGHTS; i++)
    g_free (host[i]);
  factors_clear (&fa);
  factors_clear (&fb);
  g_unlink (path_a);
  g_unlink (path_b);
  lk_test_check_validation ();
}

static void
test_unmerge_exact (void)
{
  LkStream *stream = lk_test_stream ();
  g_autoptr(GHashTable) targets = NULL;
  g_autoptr(LkLora) a = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  float *host[N_WEIGHTS];
  guint16 *before[N_WEIGHTS];
  Factors fa;

  if (stream == NULL)
    return;
  factors_init (&fa, 16, 8.0f, 7);
  path = write_lora (&fa, NAMES_KOHYA_DIFFUSERS, "likeness-lora-unmerge.safetensors");
  a = open_lora (path);
  targets = make_targets (stream, host);
  for (guint i = 0; i < N_WEIGHTS; i++)
    before[i] = download_bits (stream, g_hash_table_lookup (targets, weights[i].target));

  /* Twice, with a different strength each time: restoring leaves nothing behind. */
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(LkLoraMerge) merge = lk_lora_merge (stream, targets, &a,
                                                    (float[]) { round ? -1.5f : 0.9f }, 1, &error);

      g_assert_no_error (error);
      for (guint i = 0; i < N_WEIGHTS; i++)
        {
          LkTensor *t = g_hash_table_lookup (targets, weights[i].target);
          g_autofree guint16 *merged = download_bits (stream, t);

          g_assert_true (memcmp (merged, before[i], lk_tensor_nbytes (t)) != 0);
        }
      g_assert_true (lk_lora_merge_restore (merge, stream, &error));
      g_assert_no_error (error);
      for (guint i = 0; i < N_WEIGHTS; i++)
        {
          LkTensor *t = g_hash_table_lookup (targets, weights[i].target);
          g_autofree guint16 *after = download_bits (stream, t);

          g_assert_cmpmem (after, lk_tensor_nbytes (t), before[i], lk_tensor_nbytes (t));
        }
    }

  for (guint i = 0; i < N_WEIGHTS; i++)
    {
      g_free (host[i]);
      g_free (before[i]);
    }
  factors_clear (&fa);
  g_unlink (path);
  lk_test_check_validation ();
}

/* The same factors under the three namings merge into the same bits. */
static void
test_formats_agree (void)
{
  LkStream *stream = lk_test_stream ();
  g_autoptr(GHashTable) targets = NULL;
  g_autoptr(GError) error = NULL;
  float *host[N_WEIGHTS];
  guint16 *first[N_WEIGHTS] = { NULL };
  Factors f;
  static const char *files[] = {
    "likeness-lora-ldm.safetensors", "likeness-lora-diffusers.safetensors",
    "likeness-lora-peft.safetensors",
  };

  if (stream == NULL)
    return;
  /* alpha = rank: PEFT files carry no alpha. */
  factors_init (&f, 4, 4.0f, 31);
  targets = make_targets (stream, host);
  for (Names names = NAMES_KOHYA_LDM; names <= NAMES_PEFT; names++)
    {
      g_autofree char *path = write_lora (&f, names, files[names]);
      g_autoptr(LkLora) lora = open_lora (path);
      g_autoptr(LkLoraMerge) merge = NULL;
      g_autoptr(GPtrArray) unmatched = NULL;

      g_assert_true (lk_lora_match (lora, targets, &unmatched, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (unmatched->len, ==, 0);
      for (guint i = 0; i < N_WEIGHTS; i++)
        {
          const LkLoraAdapter *adapter = lk_lora_lookup (lora, weights[i].target);

          g_assert_nonnull (adapter);
          g_assert_cmpuint (adapter->rank, ==, 4);
          g_assert_cmpfloat (adapter->alpha, ==, 4.0f);
        }

      merge = lk_lora_merge (stream, targets, &lora, (float[]) { 0.8f }, 1, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < N_WEIGHTS; i++)
        {
          LkTensor *t = g_hash_table_lookup (targets, weights[i].target);
          guint16 *bits = download_bits (stream, t);

          if (first[i] == NULL)
            first[i] = bits;
          else
            {
              g_assert_cmpmem (bits, lk_tensor_nbytes (t), first[i], lk_tensor_nbytes (t));
              g_free (bits);
            }
        }
      g_assert_true (lk_lora_merge_restore (merge, stream, &error));
      g_unlink (path);
    }
  for (guint i = 0; i < N_WEIGHTS; i++)
    {
      g_free (host[i]);
      g_free (first[i]);
    }
  factors_clear (&f);
  lk_test_check_validation ();
}

/* Matching needs only the names and shapes: fake tensors are not needed, but the table holds
 * LkTensor values, so these tests use the device too. */
static void
test_errors (void)
{
  LkStream *stream = lk_test_stream ();
  g_autoptr(GHashTable) targets = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *other = g_build_filename (test_dir (), "likeness-lora-sdxl.safetensors", NULL);
  g_autofree char *bad = g_build_filename (test_dir (), "likeness-lora-bad.safetensors", NULL);
  g_autofree char *none = g_build_filename (test_dir (), "likeness-lora-none.safetensors", NULL);
  g_autoptr(LkLora) sdxl = NULL, wrong = NULL;
  g_autoptr(GPtrArray) unmatched = NULL;
  float *host[N_WEIGHTS];
  static const guint16 zeros[4 * 2560] = { 0 };
  gint64 down_shape[2] = { 4, 640 }, up_shape[2] = { 320, 4 }, scalar_shape[1] = { 0 };
  gint64 xl_down[2] = { 4, 2048 }, xl_up[2] = { 640, 4 };

  if (stream == NULL)
    return;
  targets = make_targets (stream, host);

  /* An SDXL LoRA: te1/te2 and SDXL-only UNet blocks match nothing here. */
  {
    LkSafetensorsEntry e[] = {
      { "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", LK_WEIGHT_F16, 2, xl_down, zeros },
      { "lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", LK_WEIGHT_F16, 2, xl_up, zeros },
      { "lora_unet_input_blocks_4_1_transformer_blocks_1_attn2_to_k.lora_down.weight", LK_WEIGHT_F16, 2, xl_down, zeros },
      { "lora_unet_input_blocks_4_1_transformer_blocks_1_attn2_to_k.lora_up.weight", LK_WEIGHT_F16, 2, xl_up, zeros },
    };
    lk_safetensors_write (other, e, G_N_ELEMENTS (e), NULL, &error);
    g_assert_no_error (error);
  }
  sdxl = open_lora (other);
  g_assert_false (lk_lora_match (sdxl, targets, NULL, &error));
  g_assert_error (error, LK_LORA_ERROR, LK_LORA_ERROR_NO_MATCH);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_null (lk_lora_merge (stream, targets, &sdxl, (float[]) { 1.0f }, 1, &error));
  g_assert_error (error, LK_LORA_ERROR, LK_LORA_ERROR_NO_MATCH);
  g_clear_error (&error);

  /* A to_q LoRA whose down factor is 640 wide instead of 320. */
  {
    LkSafetensorsEntry e[] = {
      { "lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.lora_down.weight", LK_WEIGHT_F16, 2, down_shape, zeros },
      { "lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.lora_up.weight", LK_WEIGHT_F16, 2, up_shape, zeros },
      { "lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.alpha", LK_WEIGHT_F16, 0, scalar_shape, zeros },
      { "lora_unet_input_blocks_4_1_transformer_blocks_1_attn2_to_k.lora_down.weight", LK_WEIGHT_F16, 2, xl_down, zeros },
      { "lora_unet_input_blocks_4_1_transformer_blocks_1_attn2_to_k.lora_up.weight", LK_WEIGHT_F16, 2, xl_up, zeros },
    };
    lk_safetensors_write (bad, e, G_N_ELEMENTS (e), NULL, &error);
    g_assert_no_error (error);
  }
  wrong = open_lora (bad);
  g_assert_false (lk_lora_match (wrong, targets, &unmatched, &error));
  g_assert_error (error, LK_LORA_ERROR, LK_LORA_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q"));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* Not a LoRA at all, and a LoRA with a factor missing. */
  {
    LkSafetensorsEntry e[] = {
      { "model.diffusion_model.out.2.bias", LK_WEIGHT_F16, 1, (gint64[]) { 4 }, zeros },
    };
    g_assert_true (lk_safetensors_write (none, e, G_N_ELEMENTS (e), NULL, &error));
    g_assert_null (lk_lora_open (none, &error));
    g_assert_error (error, LK_LORA_ERROR, LK_LORA_ERROR_FORMAT);
    g_clear_error (&error);
  }
  {
    LkSafetensorsEntry e[] = {
      { "lora_unet_input_blocks_1_1_proj_in.lora_down.weight", LK_WEIGHT_F16, 2, down_shape, zeros },
    };
    g_assert_true (lk_safetensors_write (none, e, G_N_ELEMENTS (e), NULL, &error));
    g_assert_null (lk_lora_open (none, &error));
    g_assert_error (error, LK_LORA_ERROR, LK_LORA_ERROR_FORMAT);
    g_assert_nonnull (strstr (error->message, "lora_unet_input_blocks_1_1_proj_in"));
    g_clear_error (&error);
  }

  for (guint i = 0; i < N_WEIGHTS; i++)
    g_free (host[i]);
  g_unlink (other);
  g_unlink (bad);
  g_unlink (none);
}

/* Partial matches: unmatched keys are reported, the rest merge. */
static void
test_unmatched_reported (void)
{
  g_autoptr(LkLora) lora = lk_lora_new ();
  LkStream *stream = lk_test_stream ();
  g_autoptr(GHashTable) targets = NULL;
  g_autoptr(GHashTable) unet_only = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) unmatched = NULL;
  g_autoptr(GError) error = NULL;
  float *host[N_WEIGHTS];
  Factors f;

  if (stream == NULL)
    return;
  factors_init (&f, 2, 1.0f, 5);
  targets = make_targets (stream, host);
  for (guint i = 0; i < N_WEIGHTS; i++)
    {
      gint64 out = weights[i].shape[0];
      gint64 down_shape[4] = { 2, weights[i].shape[1], weights[i].shape[2], weights[i].shape[3] };
      gint64 up_shape[4] = { out, 2, 1, 1 };

      g_assert_true (lk_lora_add (lora, weights[i].target, 1.0f, weights[i].ndim, down_shape,
                                  f.down[i], weights[i].ndim, up_shape, f.up[i], &error));
      g_assert_no_error (error);
      if (g_str_has_prefix (weights[i].target, "model."))
        g_hash_table_insert (unet_only, (char *) weights[i].target,
                             g_hash_table_lookup (targets, weights[i].target));
    }
  g_assert_true (lk_lora_match (lora, unet_only, &unmatched, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (unmatched->len, ==, 1);
  g_assert_cmpstr (unmatched->pdata[0], ==, "lora_te_text_model_encoder_layers_0_self_attn_q_proj");

  for (guint i = 0; i < N_WEIGHTS; i++)
    g_free (host[i]);
  factors_clear (&f);
}

static void
test_write_read (void)
{
  g_autoptr(LkLora) lora = lk_lora_new ();
  g_autoptr(LkLora) back = NULL;
  g_autoptr(LkLora) back16 = NULL;
  g_autoptr(GHashTable) extra = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (test_dir (), "likeness-lora-written.safetensors", NULL);
  g_autofree char *path16 = g_build_filename (test_dir (), "likeness-lora-written16.safetensors", NULL);
  g_autoptr(LkWeights) raw = NULL;
  GHashTable *meta;
  Factors f;

  factors_init (&f, 8, 4.0f, 9);
  for (guint i = 0; i < N_WEIGHTS; i++)
    {
      gint64 down_shape[4] = { 8, weights[i].shape[1], weights[i].shape[2], weights[i].shape[3] };
      gint64 up_shape[4] = { weights[i].shape[0], 8, 1, 1 };

      g_assert_true (lk_lora_add (lora, weights[i].target, 4.0f, weights[i].ndim, down_shape,
                                  f.down[i], weights[i].ndim, up_shape, f.up[i], &error));
    }
  g_hash_table_insert (extra, "ss_output_name", "person");
  g_assert_true (lk_lora_save (lora, path, LK_WEIGHT_F32, extra, &error));
  g_assert_no_error (error);
  g_assert_true (lk_lora_save (lora, path16, LK_WEIGHT_F16, NULL, &error));
  g_assert_no_error (error);

  /* kohya names and metadata */
  raw = lk_weights_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (lk_weights_lookup (raw, "lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.lora_down.weight"));
  g_assert_nonnull (lk_weights_lookup (raw, "lora_unet_input_blocks_1_0_in_layers_2.lora_up.weight"));
  g_assert_nonnull (lk_weights_lookup (raw, "lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha"));
  g_assert_cmpuint (lk_weights_lookup (raw, "lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha")->ndim, ==, 0);
  meta = lk_weights_get_metadata (raw);
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_network_dim"), ==, "8");
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_network_alpha"), ==, "4");
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_base_model_version"), ==, "sd_v1");
  g_assert_cmpstr (g_hash_table_lookup (meta, "ss_output_name"), ==, "person");

  back = open_lora (path);
  back16 = open_lora (path16);
  g_assert_cmpuint (lk_lora_get_n_adapters (back), ==, N_WEIGHTS);
  for (guint i = 0; i < N_WEIGHTS; i++)
    {
      const LkLoraAdapter *w = lk_lora_get_adapter (back, i);
      const LkLoraAdapter *w16 = lk_lora_get_adapter (back16, i);
      g_autofree char *key = lk_lora_kohya_name (weights[i].target);
      gint64 k = numel (weights[i].ndim, weights[i].shape) / weights[i].shape[0];

      g_assert_cmpstr (w->key, ==, key);
      g_assert_cmpuint (w->rank, ==, 8);
      g_assert_cmpfloat (w->alpha, ==, 4.0f);
      g_assert_cmpuint (w->down_ndim, ==, weights[i].ndim);
      g_assert_cmpmem (w->down, 8 * k * sizeof (float), f.down[i], 8 * k * sizeof (float));
      g_assert_cmpmem (w->up, weights[i].shape[0] * 8 * sizeof (float), f.up[i],
                       weights[i].shape[0] * 8 * sizeof (float));
      /* the factors were f16 values to begin with */
      g_assert_cmpmem (w16->down, 8 * k * sizeof (float), f.down[i], 8 * k * sizeof (float));
    }
  factors_clear (&f);
  g_unlink (path);
  g_unlink (path16);
}

/* ---- merged into real modules ------------------------------------------------------------ */

/* A tiny UNet and text encoder, random, in one checkpoint under canonical names. */
static const LkUnetConfig tiny_unet = { 4, 4, 32, 64 };
#define TINY_VOCAB   512
#define TINY_WIDTH   64
#define TINY_CONTEXT 16
#define TINY_MLP     256
#define TINY_LAYERS  2

typedef struct
{
  GPtrArray *names;
  GPtrArray *data;
  GArray    *shapes;  /* 4 gint64 per entry */
  GArray    *ndims;   /* guint */
} Checkpoint;

static void
checkpoint_add (Checkpoint   *ckpt,
                const char   *name,
                guint         ndim,
                const gint64 *shape,
                guint16      *data)
{
  gint64 padded[4] = { 0 };

  memcpy (padded, shape, ndim * sizeof (gint64));
  g_ptr_array_add (ckpt->names, g_strdup (name));
  g_ptr_array_add (ckpt->data, data);
  g_array_append_vals (ckpt->shapes, padded, 4);
  g_array_append_val (ckpt->ndims, ndim);
}

static void
checkpoint_write (Checkpoint *ckpt,
                  const char *path)
{
  g_autoptr(GArray) entries = g_array_new (FALSE, FALSE, sizeof (LkSafetensorsEntry));
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < ckpt->names->len; i++)
    {
      LkSafetensorsEntry entry = {
        g_ptr_array_index (ckpt->names, i), LK_WEIGHT_F16, g_array_index (ckpt->ndims, guint, i),
        &g_array_index (ckpt->shapes, gint64, 4 * i), g_ptr_array_index (ckpt->data, i),
      };

      g_array_append_val (entries, entry);
    }
  lk_safetensors_write (path, (LkSafetensorsEntry *) entries->data, entries->len, NULL, &error);
  g_assert_no_error (error);
}

static void
checkpoint_clear (Checkpoint *ckpt)
{
  g_ptr_array_unref (ckpt->names);
  g_ptr_array_unref (ckpt->data);
  g_array_unref (ckpt->shapes);
  g_array_unref (ckpt->ndims);
}

static char *
write_tiny_models (void)
{
  g_autoptr(GArray) specs = lk_unet_config_list_tensors (&tiny_unet);
  Checkpoint ckpt = {
    g_ptr_array_new_with_free_func (g_free), g_ptr_array_new_with_free_func (g_free),
    g_array_new (FALSE, FALSE, sizeof (gint64)), g_array_new (FALSE, FALSE, sizeof (guint)),
  };
  static const char *linear[] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1",
    "mlp.fc2",
  };
  char *path = g_build_filename (test_dir (), "models.safetensors", NULL);
  guint64 state = 0x243f6a8885a308d3ull;

  for (guint i = 0; i < specs->len; i++)
    {
      LkUnetTensorSpec *spec = &g_array_index (specs, LkUnetTensorSpec, i);
      gint64 n = numel (spec->ndim, spec->shape);
      guint16 *data;

      if (spec->role == LK_UNET_TENSOR_WEIGHT)
        data = lk_halves_uniform (n, 0, 1.5f * sqrtf (3.0f * spec->shape[0] / n), &state);
      else if (spec->role == LK_UNET_TENSOR_NORM_WEIGHT)
        data = lk_halves_uniform (n, 1, 0.2f, &state);
      else
        data = lk_halves_uniform (n, 0, 0.1f, &state);
      checkpoint_add (&ckpt, spec->name, spec->ndim, spec->shape, data);
    }

#define ADD_CLIP(suffix, center, amplitude, ...) G_STMT_START {                          \
    const gint64 shape_[] = { __VA_ARGS__ };                                            \
    g_autofree char *name_ = g_strconcat (LK_CLIP_TEXT_PREFIX, suffix, NULL);           \
                                                                                        \
    checkpoint_add (&ckpt, name_, G_N_ELEMENTS (shape_), shape_,                        \
                    lk_halves_uniform (numel (G_N_ELEMENTS (shape_), shape_), center,   \
                                       amplitude, &state));                             \
  } G_STMT_END

  ADD_CLIP ("embeddings.token_embedding.weight", 0, 0.5f, TINY_VOCAB, TINY_WIDTH);
  ADD_CLIP ("embeddings.position_embedding.weight", 0, 0.5f, TINY_CONTEXT, TINY_WIDTH);
  for (guint l = 0; l < TINY_LAYERS; l++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (linear); i++)
        {
          g_autofree char *w = g_strdup_printf ("encoder.layers.%u.%s.weight", l, linear[i]);
          g_autofree char *b = g_strdup_printf ("encoder.layers.%u.%s.bias", l, linear[i]);
          gint64 out = i == 4 ? TINY_MLP : TINY_WIDTH, in = i == 5 ? TINY_MLP : TINY_WIDTH;

          ADD_CLIP (w, 0, 0.15f, out, in);
          ADD_CLIP (b, 0, 0.1f, out);
        }
      for (guint k = 1; k <= 2; k++)
        {
          g_autofree char *w = g_strdup_printf ("encoder.layers.%u.layer_norm%u.weight", l, k);
          g_autofree char *b = g_strdup_printf ("encoder.layers.%u.layer_norm%u.bias", l, k);

          ADD_CLIP (w, 1, 0.2f, TINY_WIDTH);
          ADD_CLIP (b, 0, 0.1f, TINY_WIDTH);
        }
    }
  ADD_CLIP ("final_layer_norm.weight", 1, 0.2f, TINY_WIDTH);
  ADD_CLIP ("final_layer_norm.bias", 0, 0.1f, TINY_WIDTH);
#undef ADD_CLIP

  checkpoint_write (&ckpt, path);
  checkpoint_clear (&ckpt);
  return path;
}

typedef struct
{
  float *eps;     /* UNet output */
  float *hidden;  /* text encoder output */
} Outputs;

static Outputs
run_models (LkStream        *stream,
            LkUnet          *unet,
            LkClipTextModel *clip,
            LkTensor        *x,
            LkTensor        *t,
            LkTensor        *context,
            const gint32    *ids)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) eps = lk_unet_forward (unet, stream, x, t, context, &error);
  g_autoptr(LkTensor) hidden = NULL;
  Outputs out;

  g_assert_no_error (error);
  hidden = lk_clip_text_model_forward (clip, stream, ids, 2, 1, &error);
  g_assert_no_error (error);
  out.eps = lk_test_download (stream, eps);
  out.hidden = lk_test_download (stream, hidden);
  return out;
}

static void
outputs_clear (Outputs *out)
{
  g_clear_pointer (&out->eps, g_free);
  g_clear_pointer (&out->hidden, g_free);
}

/* A kohya LoRA (written and read back) for UNet and text-encoder weights — Linear, cross
 * attention, 1×1 and 3×3 convolutions — merged into a tiny UNet and text encoder through their
 * weight tables: the merged weights are the oracle formula's, both forward passes equal the torch
 * oracles' on the merged weights, and restoring brings back the original outputs bit for bit. */
static void
test_merge_into_models (void)
{
  static const struct
  {
    const char *target;
    guint       ndim;
    gint64      down[4], up[4];
  } adapters[] = {
    { "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", 2,
      { 4, 64 }, { 32, 4 } },
    { "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight", 2,
      { 4, 32 }, { 32, 4 } },
    { "model.diffusion_model.input_blocks.1.1.proj_in.weight", 4, { 4, 32, 1, 1 }, { 32, 4, 1, 1 } },
    { "model.diffusion_model.input_blocks.1.0.in_layers.2.weight", 4, { 4, 32, 3, 3 },
      { 32, 4, 1, 1 } },
    { "model.diffusion_model.output_blocks.3.0.skip_connection.weight", 4, { 4, 256, 1, 1 },
      { 128, 4, 1, 1 } },
    { "model.diffusion_model.middle_block.1.transformer_blocks.0.ff.net.0.proj.weight", 2,
      { 4, 128 }, { 1024, 4 } },
    { "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight", 2,
      { 4, 64 }, { 64, 4 } },
    { "cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc1.weight", 2, { 4, 64 },
      { 256, 4 } },
  };
  const float strength = 0.8f, alpha = 2.0f;
  static const float timesteps[] = { 20.0f, 700.0f };
  LkStream *stream = lk_test_stream ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL, *lora_path = NULL, *merged_path = NULL;
  g_autoptr(LkWeights) model_weights = NULL;
  g_autoptr(LkUnet) unet = NULL;
  g_autoptr(LkClipTextModel) clip = NULL;
  g_autoptr(GHashTable) targets = NULL, clip_targets = NULL;
  g_autoptr(LkLora) made = lk_lora_new (), lora = NULL;
  g_autoptr(LkLoraMerge) merge = NULL;
  g_autoptr(LkTensor) x = NULL, t = NULL, context = NULL;
  g_autofree float *x_data = lk_test_random (2 * 4 * 16 * 16, -1.5f, 1.5f, 61);
  g_autofree float *ctx_data = lk_test_random (2 * 5 * 64, -2, 2, 62);
  gint32 ids[2 * TINY_CONTEXT];
  Outputs before, merged, restored;
  gsize n_eps = 2 * 4 * 16 * 16, n_hidden = 2 * TINY_CONTEXT * TINY_WIDTH;
  LkLora *loras[1];
  GHashTableIter iter;
  gpointer key, value;

  if (stream == NULL)
    return;
  path = write_tiny_models ();
  model_weights = lk_safetensors_open (path, &error);
  g_assert_no_error (error);
  unet = lk_unet_new (stream, model_weights, &error);
  g_assert_no_error (error);
  clip = lk_clip_text_model_new (stream, model_weights, &error);
  g_assert_no_error (error);

  /* One table for both, every tensor of the checkpoint in it. */
  targets = lk_unet_get_weights (unet);
  clip_targets = lk_clip_text_model_get_weights (clip);
  g_hash_table_iter_init (&iter, clip_targets);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (targets, g_strdup (key), value);
  g_assert_cmpuint (g_hash_table_size (targets), ==, lk_weights_get_n_tensors (model_weights));
  g_hash_table_iter_init (&iter, targets);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const LkWeightInfo *info = lk_weights_lookup (model_weights, key);

      g_assert_nonnull (info);
      g_assert_cmpint (lk_tensor_numel (value), ==, info->numel);
      g_assert_true (lk_tensor_is_contiguous (value));
    }

  for (guint i = 0; i < G_N_ELEMENTS (adapters); i++)
    {
      gint64 n_down = numel (adapters[i].ndim, adapters[i].down);
      gint64 n_up = numel (adapters[i].ndim, adapters[i].up);
      g_autofree float *down = lk_test_random (n_down, -0.3f, 0.3f, 70 + i);
      g_autofree float *up = lk_test_random (n_up, -0.3f, 0.3f, 90 + i);

      lk_lora_add (made, adapters[i].target, alpha, adapters[i].ndim, adapters[i].down, down,
                   adapters[i].ndim, adapters[i].up, up, &error);
      g_assert_no_error (error);
    }
  lora_path = g_build_filename (test_dir (), "tiny-lora.safetensors", NULL);
  lk_lora_save (made, lora_path, LK_WEIGHT_F32, NULL, &error);
  g_assert_no_error (error);
  lora = open_lora (lora_path);
  g_assert_cmpint (lk_lora_get_format (lora), ==, LK_LORA_FORMAT_KOHYA);

  for (guint i = 0; i < 2 * TINY_CONTEXT; i++)
    ids[i] = (i * 37 + 11) % TINY_VOCAB;
  x = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, (gint64[]) { 2, 4, 16, 16 }, x_data);
  t = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, (gint64[]) { 2 }, timesteps);
  context = lk_test_tensor_from (stream, LK_DTYPE_F32, 3, (gint64[]) { 2, 5, 64 }, ctx_data);
  before = run_models (stream, unet, clip, x, t, context, ids);

  loras[0] = lora;
  merge = lk_lora_merge (stream, targets, loras, &strength, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_lora_merge_get_targets (merge)->len, ==, G_N_ELEMENTS (adapters));
  merged = run_models (stream, unet, clip, x, t, context, ids);
  g_assert_cmpfloat (lk_test_diff (merged.eps, before.eps, n_eps).rel_l2, >, 1e-3);
  g_assert_cmpfloat (lk_test_diff (merged.hidden, before.hidden, n_hidden).rel_l2, >, 1e-3);

  /* W' = f16 (W + strength · alpha / rank · up · down), weight by weight. */
  for (guint i = 0; i < G_N_ELEMENTS (adapters); i++)
    {
      const LkLoraAdapter *a = lk_lora_lookup (lora, adapters[i].target);
      LkTensor *w = g_hash_table_lookup (targets, adapters[i].target);
      const LkWeightInfo *info = lk_weights_lookup (model_weights, adapters[i].target);
      gint64 out = a->up_shape[0], k = info->numel / out;
      g_autofree float *original = lk_weights_dup_f32 (model_weights, info, &error);
      g_autofree float *expected = g_new (float, info->numel);
      g_autofree float *got = lk_test_download (stream, w);

      g_assert_no_error (error);
      for (gint64 o = 0; o < out; o++)
        for (gint64 c = 0; c < k; c++)
          {
            double delta = 0;

            for (guint r = 0; r < a->rank; r++)
              delta += (double) a->up[o * a->rank + r] * a->down[r * k + c];
            expected[o * k + c] = lk_half_to_float (lk_float_to_half (
              original[o * k + c] + strength * alpha / a->rank * delta));
          }
      lk_test_assert_close (adapters[i].target, got, expected, info->numel, 1e-3, 0);
    }

  /* The torch oracles on the merged weights, written out as a checkpoint. */
  {
    Checkpoint ckpt = {
      g_ptr_array_new_with_free_func (g_free), g_ptr_array_new_with_free_func (g_free),
      g_array_new (FALSE, FALSE, sizeof (gint64)), g_array_new (FALSE, FALSE, sizeof (guint)),
    };
    g_autoptr(LkOracle) unet_oracle = NULL, clip_oracle = NULL;
    g_autofree float *expected_eps = NULL, *expected_hidden = NULL;
    g_autofree float *id_values = g_new (float, 2 * TINY_CONTEXT);
    g_autofree float *ones = g_new (float, 2 * TINY_CONTEXT);

    for (guint i = 0; i < lk_weights_get_n_tensors (model_weights); i++)
      {
        const LkWeightInfo *info = lk_weights_get_nth (model_weights, i);
        g_autofree float *data = lk_test_download (stream, g_hash_table_lookup (targets,
                                                                                info->name));
        guint16 *halves = g_new (guint16, info->numel);

        for (gint64 e = 0; e < info->numel; e++)
          halves[e] = lk_float_to_half (data[e]);  /* exact: the values are f16 */
        checkpoint_add (&ckpt, info->name, info->ndim, info->shape, halves);
      }
    merged_path = g_build_filename (test_dir (), "merged.safetensors", NULL);
    checkpoint_write (&ckpt, merged_path);
    checkpoint_clear (&ckpt);

    if ((unet_oracle = lk_oracle_new ("oracle_unet.py")) != NULL)
      {
        lk_oracle_set_param_string (unet_oracle, "path", merged_path);
        lk_oracle_set_param_int (unet_oracle, "batch", 2);
        lk_oracle_set_param_int (unet_oracle, "height", 16);
        lk_oracle_set_param_int (unet_oracle, "width", 16);
        lk_oracle_set_param_int (unet_oracle, "context_len", 5);
        lk_oracle_add_input (unet_oracle, "x", x_data, n_eps);
        lk_oracle_add_input (unet_oracle, "t", timesteps, 2);
        lk_oracle_add_input (unet_oracle, "context", ctx_data, 2 * 5 * 64);
        if ((expected_eps = lk_oracle_run (unet_oracle, n_eps)) != NULL)
          /* 5e-3: the UNet stores its normalised activations in f16 (~2e-3 here). */
          lk_test_assert_close ("UNet with the LoRA merged vs torch", merged.eps, expected_eps,
                                n_eps, 5e-3, 0);
      }
    for (guint i = 0; i < 2 * TINY_CONTEXT; i++)
      {
        id_values[i] = ids[i];
        ones[i] = 1;
      }
    if ((clip_oracle = lk_oracle_new ("oracle_clip.py")) != NULL)
      {
        lk_oracle_set_param_string (clip_oracle, "path", merged_path);
        lk_oracle_set_param_int (clip_oracle, "batch", 2);
        lk_oracle_set_param_int (clip_oracle, "context", TINY_CONTEXT);
        lk_oracle_add_input (clip_oracle, "ids", id_values, 2 * TINY_CONTEXT);
        lk_oracle_add_input (clip_oracle, "weights", ones, 2 * TINY_CONTEXT);
        /* The first third of its output is clip skip 1. */
        if ((expected_hidden = lk_oracle_run (clip_oracle, 3 * n_hidden)) != NULL)
          lk_test_assert_close ("text encoder with the LoRA merged vs torch", merged.hidden,
                                expected_hidden, n_hidden, 1e-4, 0);
      }
  }

  /* Restored: the original outputs, bit for bit. */
  g_assert_true (lk_lora_merge_restore (merge, stream, &error));
  g_assert_no_error (error);
  restored = run_models (stream, unet, clip, x, t, context, ids);
  g_assert_cmpmem (restored.eps, n_eps * sizeof (float), before.eps, n_eps * sizeof (float));
  g_assert_cmpmem (restored.hidden, n_hidden * sizeof (float), before.hidden,
                   n_hidden * sizeof (float));
  lk_test_check_validation ();

  outputs_clear (&before);
  outputs_clear (&merged);
  outputs_clear (&restored);
  g_unlink (path);
  g_unlink (lora_path);
  g_unlink (merged_path);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lora/merge-oracle", test_merge_oracle);
  g_test_add_func ("/lora/unmerge-exact", test_unmerge_exact);
  g_test_add_func ("/lora/formats-agree", test_formats_agree);
  g_test_add_func ("/lora/errors", test_errors);
  g_test_add_func ("/lora/unmatched-reported", test_unmatched_reported);
  g_test_add_func ("/lora/write-read", test_write_read);
  g_test_add_func ("/lora/merge-into-models", test_merge_into_models);
  status = g_test_run ();
  g_rmdir (test_dir ());
  return status;
}
