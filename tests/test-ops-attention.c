/* test-ops-attention.c: fused attention against its CPU reference and torch
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-half.h"
#include "lk-ref.h"
#include "lk-oracle-cases.h"
#include "lk-test-util.h"

typedef struct
{
  gint64   batch, n_q, n_k;
  guint    heads, head_dim;
  LkDType  qt, kt, vt, ot;
  float    range;  /* of q and k values */
  float    scale;
  gboolean causal;
} AttentionCase;

static float *
random_as (LkDType  dtype,
           gsize    n,
           float    lo,
           float    hi,
           guint32  seed)
{
  float *data = lk_test_random (n, lo, hi, seed);

  if (dtype == LK_DTYPE_F16)
    lk_round_to_half (data, n);
  return data;
}

/* Runs one case on @stream and returns the output; the inputs are returned for the caller's
 * reference. */
static float *
run_attention (LkStream             *stream,
               const AttentionCase  *c,
               float               **q_out,
               float               **k_out,
               float               **v_out,
               GError              **error)
{
  gint64 hd = c->heads * c->head_dim;
  gint64 q_shape[] = { c->batch, c->n_q, hd }, k_shape[] = { c->batch, c->n_k, hd };
  gsize nq = c->batch * c->n_q * hd, nk = c->batch * c->n_k * hd;
  guint32 seed = c->n_q * 1000 + c->n_k * 10 + c->head_dim;
  g_autofree float *q = random_as (c->qt, nq, -c->range, c->range, seed);
  g_autofree float *k = random_as (c->kt, nk, -c->range, c->range, seed + 1);
  g_autofree float *v = random_as (c->vt, nk, -1, 1, seed + 2);
  g_autoptr(LkTensor) tq = NULL, tk = NULL, tv = NULL, to = NULL;
  float *out;

  tq = lk_test_tensor_from (stream, c->qt, 3, q_shape, q);
  tk = lk_test_tensor_from (stream, c->kt, 3, k_shape, k);
  tv = lk_test_tensor_from (stream, c->vt, 3, k_shape, v);
  to = lk_test_tensor_poisoned (stream, c->ot, 3, q_shape);
  if (!lk_op_attention_masked (stream, tq, tk, tv, to, c->heads, c->scale, c->causal, error))
    return NULL;
  out = g_new (float, nq);
  if (!lk_tensor_download_f32 (to, stream, out, error))
    g_clear_pointer (&out, g_free);
  *q_out = g_steal_pointer (&q);
  *k_out = g_steal_pointer (&k);
  *v_out = g_steal_pointer (&v);
  return out;
}

static void
check_case (LkStream            *stream,
            const AttentionCase *c,
            double               rel_bound,
            double               abs_bound)
{
  g_autoptr(GError) error = NULL;
  g_autofree float *q = NULL, *k = NULL, *v = NULL, *ref = NULL;
  g_autofree float *out = run_attention (stream, c, &q, &k, &v, &error);
  gsize n = c->batch * c->n_q * c->heads * c->head_dim;
  g_autofree char *what = g_strdup_printf ("attention B=%" G_GINT64_FORMAT " Nq=%" G_GINT64_FORMAT
                                           " Nk=%" G_GINT64_FORMAT " %u×%u q %s k %s v %s o %s ±%g%s",
                                           c->batch, c->n_q, c->n_k, c->heads, c->head_dim,
                                           lk_dtype_name (c->qt), lk_dtype_name (c->kt),
                                           lk_dtype_name (c->vt), lk_dtype_name (c->ot), c->range,
                                           c->causal ? " causal" : "");

  g_assert_no_error (error);
  lk_test_check_validation ();
  ref = g_new (float, n);
  lk_ref_attention_masked (q, k, v, ref, c->batch, c->n_q, c->n_k, c->heads, c->head_dim, c->scale,
                           c->causal);
  lk_test_assert_close (what, out, ref, n, rel_bound, abs_bound);
}

/* f32 outputs: rounding of ~D-term dot products and of exp, ~1e-6; f16 outputs: 2^-11 relative
 * on values below 1. */
static double
rel_bound (LkDType out)
{
  return out == LK_DTYPE_F16 ? 1e-3 : 1e-5;
}

static double
abs_bound (LkDType out)
{
  return out == LK_DTYPE_F16 ? 1e-3 : 1e-5;
}

static const LkDType dtype_mixes[][4] = {
  { LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F32 },
  { LK_DTYPE_F16, LK_DTYPE_F16, LK_DTYPE_F16, LK_DTYPE_F16 },
  { LK_DTYPE_F16, LK_DTYPE_F32, LK_DTYPE_F16, LK_DTYPE_F32 },
};

static void
test_shapes (void)
{
  LkStream *stream = lk_test_stream ();
  /* Each head dim and dtype mix is a pipeline that takes lavapipe seconds to compile: all
   * mixes at D = 40, fewer at the others. 20 is not a multiple of 8, so lavapipe runs it through
   * attention.comp rather than attention_subgroup.comp. */
  static const struct { guint head_dim, n_mixes; } dims[] = {
    { 40, 3 }, { 64, 2 }, { 80, 1 }, { 160, 1 }, { 20, 1 },
  };
  static const gint64 lengths[][2] = {
    { 1, 1 }, { 7, 77 }, { 77, 7 }, { 127, 300 }, { 300, 127 }, { 13, 1 }, { 1, 300 },
  };

  if (stream == NULL)
    return;

  for (guint d = 0; d < G_N_ELEMENTS (dims); d++)
    for (guint l = 0; l < G_N_ELEMENTS (lengths); l++)
      {
        guint head_dim = dims[d].head_dim;
        const LkDType *mix = dtype_mixes[(d + l) % dims[d].n_mixes];
        AttentionCase c = {
          .batch = 2, .n_q = lengths[l][0], .n_k = lengths[l][1],
          .heads = head_dim == 160 ? 1 : 2, .head_dim = head_dim,
          .qt = mix[0], .kt = mix[1], .vt = mix[2], .ot = mix[3],
          .range = 1.0f, .scale = 0.0f,
        };

        check_case (stream, &c, rel_bound (c.ot), abs_bound (c.ot));
      }
}

static void
test_large_scores (void)
{
  LkStream *stream = lk_test_stream ();

  if (stream == NULL)
    return;

  /* q, k in ±3 with D = 40 and scale 1: scores spread over about ±60, so exp without the
   * running maximum would overflow and a careless rescale would lose the early keys. The f32
   * scores carry ~1e-5 absolute error, which exp turns into ~1e-5 relative. */
  for (guint mix = 0; mix < 2; mix++)
    {
      AttentionCase c = {
        .batch = 2, .n_q = 77, .n_k = 300, .heads = 2, .head_dim = 40,
        .qt = dtype_mixes[mix][0], .kt = dtype_mixes[mix][1], .vt = dtype_mixes[mix][2],
        .ot = dtype_mixes[mix][3], .range = 3.0f, .scale = 1.0f,
      };

      check_case (stream, &c, c.ot == LK_DTYPE_F16 ? 1e-3 : 1e-4, c.ot == LK_DTYPE_F16 ? 2e-3 : 1e-4);
    }
}

/* The GPU tiling (shared-memory tiles, several invocations per row) forced on this device. */
static void
test_gpu_tiles (void)
{
  LkStream *stream = lk_test_stream ();
  /* rows,threads,keys,staged; lavapipe compiles the unstaged D = 160 kernels for a minute, so
   * that head dim goes only through the default GPU shape. */
  static const struct { const char *tiles; guint head_dim; } cases[] = {
    { "32,4,16,1", 160 }, { "16,4,8,1", 40 }, { "8,2,16,0", 40 }, { "32,1,8,1", 40 },
  };

  if (stream == NULL)
    return;

  for (guint t = 0; t < G_N_ELEMENTS (cases); t++)
    {
      const char *tiles = cases[t].tiles;
      AttentionCase c = {
        .batch = 2, .n_q = 77, .n_k = 127, .heads = 2, .head_dim = cases[t].head_dim,
        .qt = LK_DTYPE_F16, .kt = LK_DTYPE_F16, .vt = LK_DTYPE_F16, .ot = LK_DTYPE_F32,
        .range = 2.0f, .scale = 0.0f,
      };

      g_test_message ("tiles %s", tiles);
      g_setenv ("LIKENESS_ATTENTION_TILES", tiles, TRUE);
      check_case (stream, &c, rel_bound (c.ot), abs_bound (c.ot));
      g_unsetenv ("LIKENESS_ATTENTION_TILES");
    }
}

/* All cases in one run of the script: torch is imported once. */
static void
test_oracle (void)
{
  LkStream *stream = lk_test_stream ();
  /* SD1.5 at a 128² image (16² latent): self- and cross-attention of the first and last
   * levels. */
  static const AttentionCase cases[] = {
    { 2, 256, 256, 8, 40, LK_DTYPE_F16, LK_DTYPE_F16, LK_DTYPE_F16, LK_DTYPE_F32, 2.0f, 0.0f },
    { 2, 256, 77, 8, 40, LK_DTYPE_F16, LK_DTYPE_F16, LK_DTYPE_F16, LK_DTYPE_F32, 2.0f, 0.0f },
    { 2, 16, 16, 8, 160, LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F32, 1.0f, 0.0f },
    { 2, 16, 77, 8, 160, LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F32, 1.0f, 0.0f },
  };
  g_autoptr(LkOracle) oracle = NULL;
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autofree float *expected = NULL;
  gsize offset = 0;

  if (stream == NULL || (oracle = lk_oracle_new ("oracle_attention.py")) == NULL)
    return;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const AttentionCase *c = &cases[i];
      gsize hd = c->heads * c->head_dim;
      gsize nq = c->batch * c->n_q * hd, nk = c->batch * c->n_k * hd;
      g_autoptr(GError) error = NULL;
      g_autofree float *q = NULL, *k = NULL, *v = NULL, *o = NULL;

      o = run_attention (stream, c, &q, &k, &v, &error);
      g_assert_no_error (error);
      lk_test_check_validation ();
      g_array_append_vals (out, o, nq);

      lk_oracle_case_int (oracle, i, "batch", c->batch);
      lk_oracle_case_int (oracle, i, "n_q", c->n_q);
      lk_oracle_case_int (oracle, i, "n_k", c->n_k);
      lk_oracle_case_int (oracle, i, "heads", c->heads);
      lk_oracle_case_int (oracle, i, "head_dim", c->head_dim);
      lk_oracle_case_input (oracle, i, "q", q, nq);
      lk_oracle_case_input (oracle, i, "k", k, nk);
      lk_oracle_case_input (oracle, i, "v", v, nk);
    }

  lk_oracle_set_param_int (oracle, "cases", G_N_ELEMENTS (cases));
  expected = lk_oracle_run (oracle, out->len);
  if (expected == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const AttentionCase *c = &cases[i];
      gsize n = c->batch * c->n_q * c->heads * c->head_dim;
      g_autofree char *what = g_strdup_printf ("attention Nq=%" G_GINT64_FORMAT " Nk=%" G_GINT64_FORMAT
                                               " %u×%u vs torch", c->n_q, c->n_k, c->heads, c->head_dim);

      /* torch's fp32 matmuls and softmax round in another order: both sides ~1e-6. */
      lk_test_assert_close (what, &g_array_index (out, float, offset), expected + offset, n, 1e-5, 1e-5);
      offset += n;
    }
}

/* A 256 KiB binding range: q and o of one batch no longer fit and go by query rows; a k that
 * does not fit for even one batch is refused. */
static void
test_split_bindings (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) context = NULL;
  g_autoptr(LkStream) stream = NULL;

  context = lk_test_context_with_binding_range (262144);
  if (context == NULL)
    return;
  stream = lk_stream_new (context, &error);
  g_assert_no_error (error);

  {
    /* q: 384 KB per batch of f32, split by rows; k: 98 KB per batch, two batches per dispatch. */
    AttentionCase c = { 2, 300, 77, 8, 40, LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F16, LK_DTYPE_F32,
                        1.0f, 0.0f };

    check_case (stream, &c, rel_bound (c.ot), abs_bound (c.ot));
  }
  {
    /* 77 KB per batch of f16 q: three batches per dispatch, then two. */
    AttentionCase c = { 5, 120, 77, 8, 40, LK_DTYPE_F16, LK_DTYPE_F16, LK_DTYPE_F16, LK_DTYPE_F16,
                        1.0f, 0.0f };

    check_case (stream, &c, rel_bound (c.ot), abs_bound (c.ot));
  }
  {
    AttentionCase c = { 1, 7, 300, 8, 40, LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F32,
                        1.0f, 0.0f };
    g_autofree float *q = NULL, *k = NULL, *v = NULL;
    g_autofree float *out = run_attention (stream, &c, &q, &k, &v, &error);

    g_assert_null (out);
    g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
  }
  lk_stream_finish (stream, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_context_get_validation_message_count (context), ==, 0);
}

/* The causal mask (row i sees keys 0…i) through both kernels, both tilings of attention.comp,
 * square and non-square, and split by query rows, where each dispatch starts at a later row. */
static void
test_causal (void)
{
  LkStream *stream = lk_test_stream ();
  static const struct { gint64 n_q, n_k; guint heads, head_dim; const char *tiles; } cases[] = {
    { 77, 77, 12, 64, NULL },   /* CLIP's text encoder */
    { 300, 300, 2, 40, NULL },
    { 7, 77, 2, 40, NULL },
    { 77, 7, 2, 40, NULL },
    { 127, 127, 2, 20, NULL },  /* attention.comp on CPU drivers */
    { 77, 127, 2, 40, "16,4,8,1" },
    { 127, 77, 2, 40, "8,2,16,0" },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) small = NULL;
  g_autoptr(LkStream) small_stream = NULL;

  if (stream == NULL)
    return;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      AttentionCase c = {
        .batch = 2, .n_q = cases[i].n_q, .n_k = cases[i].n_k, .heads = cases[i].heads,
        .head_dim = cases[i].head_dim, .qt = LK_DTYPE_F32, .kt = LK_DTYPE_F16, .vt = LK_DTYPE_F16,
        .ot = LK_DTYPE_F32, .range = 2.0f, .scale = 0.0f, .causal = TRUE,
      };

      if (cases[i].tiles != NULL)
        g_setenv ("LIKENESS_ATTENTION_TILES", cases[i].tiles, TRUE);
      check_case (stream, &c, rel_bound (c.ot), abs_bound (c.ot));
      g_unsetenv ("LIKENESS_ATTENTION_TILES");
    }

  /* A 256 KiB binding range: 300 rows of f32 q are 384 KB per batch, so they go in several
   * dispatches of rows. */
  small = lk_test_context_with_binding_range (262144);
  if (small == NULL)
    return;
  small_stream = lk_stream_new (small, &error);
  g_assert_no_error (error);
  {
    AttentionCase c = { 2, 300, 300, 8, 40, LK_DTYPE_F32, LK_DTYPE_F16, LK_DTYPE_F16, LK_DTYPE_F32,
                        1.0f, 0.0f, TRUE };

    check_case (small_stream, &c, rel_bound (c.ot), abs_bound (c.ot));
  }
  lk_stream_finish (small_stream, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_context_get_validation_message_count (small), ==, 0);
}

static void
test_shape_errors (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 s_q[] = { 2, 7, 80 }, s_k[] = { 2, 9, 80 }, s_bad[] = { 2, 9, 64 };
  static const gint64 s_b[] = { 1, 9, 80 }, s_big[] = { 1, 7, 600 };
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) q = NULL, k = NULL, v = NULL, o = NULL, bad = NULL, other_batch = NULL, big = NULL;

  if (stream == NULL)
    return;
  q = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, s_q);
  k = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, s_k);
  v = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, s_k);
  o = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, s_q);
  bad = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, s_bad);
  other_batch = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, s_b);
  big = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, s_big);

  g_assert_false (lk_op_attention (stream, q, k, bad, o, 2, 0, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (lk_op_attention (stream, q, other_batch, other_batch, o, 2, 0, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_attention (stream, q, k, v, k, 2, 0, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_attention (stream, q, k, v, o, 3, 0, &error));  /* 80 = 3 heads? */
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_attention (stream, big, big, big, big, 1, 0, &error));  /* D = 600 */
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  lk_test_check_validation ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/attention/shapes", test_shapes);
  g_test_add_func ("/ops/attention/large-scores", test_large_scores);
  g_test_add_func ("/ops/attention/gpu-tiles", test_gpu_tiles);
  g_test_add_func ("/ops/attention/oracle", test_oracle);
  g_test_add_func ("/ops/attention/split-bindings", test_split_bindings);
  g_test_add_func ("/ops/attention/causal", test_causal);
  g_test_add_func ("/ops/attention/shape-errors", test_shape_errors);
  return g_test_run ();
}
