/* test-ops-gemm.c: GEMM against its CPU reference and torch
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-half.h"
#include "lk-ref.h"
#include "lk-test-util.h"

typedef struct
{
  gint64   batch, batch_b, m, n, k;
  gboolean transpose_a, transpose_b;
  LkDType  a_type, b_type, c_type;
  int      bias;  /* -1 none, else its LkDType */
  float    alpha;
} GemmCase;

#define F32 LK_DTYPE_F32
#define F16 LK_DTYPE_F16

/* Host copy as the device sees it after storing to @dtype. */
static void
as_stored (float   *data,
           gsize    n,
           LkDType  dtype)
{
  if (dtype == LK_DTYPE_F16)
    lk_round_to_half (data, n);
}

/* Runs one case on @stream and checks it against the double reference (or @expected). */
static void
run_case (LkStream       *stream,
          const GemmCase *g,
          guint32         seed,
          gint64          a_view_offset,
          const float    *expected,
          double          rel_bound)
{
  g_autoptr(GError) error = NULL;
  gint64 na = g->batch * g->m * g->k, nb = g->batch_b * g->k * g->n, nc = g->batch * g->m * g->n;
  const gint64 as[] = { g->batch, g->transpose_a ? g->k : g->m, g->transpose_a ? g->m : g->k };
  const gint64 bs[] = { g->batch_b, g->transpose_b ? g->n : g->k, g->transpose_b ? g->k : g->n };
  const gint64 cs[] = { g->batch, g->m, g->n };
  const gint64 bias_s[] = { g->n };
  const gint64 padded[] = { na + a_view_offset };
  LkGemmOptions options = { g->transpose_a, g->transpose_b, g->alpha };
  g_autofree float *a = lk_test_random (na, -1, 1, seed);
  g_autofree float *b = lk_test_random (nb, -1, 1, seed + 1);
  g_autofree float *bias = lk_test_random (g->n, -1, 1, seed + 2);
  g_autofree float *ref = g_new (float, nc);
  g_autofree float *out = NULL;
  g_autofree char *what = NULL;
  g_autoptr(LkTensor) ta = NULL, tb = NULL, tbias = NULL, tc = NULL;

  what = g_strdup_printf ("gemm %" G_GINT64_FORMAT "(%" G_GINT64_FORMAT ")×%" G_GINT64_FORMAT
                          "×%" G_GINT64_FORMAT "×%" G_GINT64_FORMAT " %s%s a %s b %s c %s bias %s "
                          "α %g a+%" G_GINT64_FORMAT,
                          g->batch, g->batch_b, g->m, g->n, g->k, g->transpose_a ? "aᵀ " : "",
                          g->transpose_b ? "bᵀ" : "", lk_dtype_name (g->a_type),
                          lk_dtype_name (g->b_type), lk_dtype_name (g->c_type),
                          g->bias < 0 ? "none" : lk_dtype_name (g->bias), g->alpha,
                          a_view_offset);
  as_stored (a, na, g->a_type);
  as_stored (b, nb, g->b_type);
  if (g->bias >= 0)
    as_stored (bias, g->n, g->bias);

  if (a_view_offset > 0)
    {
      /* A starts inside a larger buffer, off the binding alignment. */
      g_autofree float *big = g_new0 (float, na + a_view_offset);
      g_autoptr(LkTensor) base = NULL;

      memcpy (big + a_view_offset, a, na * sizeof (float));
      base = lk_test_tensor_from (stream, g->a_type, 1, padded, big);
      ta = lk_tensor_view (base, 3, as, a_view_offset);
    }
  else
    ta = lk_test_tensor_from (stream, g->a_type, 3, as, a);
  tb = lk_test_tensor_from (stream, g->b_type, 3, bs, b);
  if (g->bias >= 0)
    tbias = lk_test_tensor_from (stream, g->bias, 1, bias_s, bias);
  tc = lk_test_tensor_poisoned (stream, g->c_type, 3, cs);
  lk_op_gemm (stream, ta, tb, tbias, tc, &options, &error);
  g_assert_no_error (error);
  out = lk_test_download (stream, tc);

  if (expected == NULL)
    {
      lk_ref_gemm (a, b, g->bias >= 0 ? bias : NULL, ref, g->batch, g->batch_b, g->m, g->n, g->k,
                   &options);
      expected = ref;
    }
  /* f32 output: f32 accumulation over k terms of size ≤ 1, ~1e-7·√k relative;
   * f16 output: its rounding, 2^-11 relative per element. */
  if (rel_bound == 0)
    rel_bound = g->c_type == F16 ? 1e-3 : 1e-5;
  lk_test_assert_close (what, out, expected, nc, rel_bound, 0);
}

static void
test_gemm_variants (void)
{
  LkStream *stream = lk_test_stream ();
  /* batch, batch_b, m, n, k: awkward sizes, non-multiples of every tile */
  static const gint64 shapes[][5] = {
    { 1, 1, 1, 1, 1 },
    { 1, 1, 7, 13, 5 },
    { 2, 1, 13, 7, 8 },
    { 3, 3, 127, 33, 12 },
    { 2, 1, 65, 127, 64 },
    { 1, 1, 301, 250, 72 },  /* large enough for the large tile */
  };
  static const LkDType types[][3] = {
    { F32, F32, F32 }, { F16, F16, F32 }, { F32, F16, F16 }, { F16, F32, F32 },
    { F16, F16, F16 }, { F32, F16, F32 }, { F32, F32, F16 }, { F16, F32, F16 },
  };
  guint index = 0;

  if (stream == NULL)
    return;
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (guint t = 0; t < 4; t++, index++)
      {
        GemmCase g = {
          .batch = shapes[s][0], .batch_b = shapes[s][1], .m = shapes[s][2], .n = shapes[s][3],
          .k = shapes[s][4], .transpose_a = t & 1, .transpose_b = t & 2,
          .a_type = types[index % 8][0], .b_type = types[index % 8][1],
          .c_type = types[index % 8][2],
          .bias = index % 3 == 0 ? -1 : index % 3 == 1 ? F32 : F16,
          .alpha = index % 5 == 4 ? 0.5f : 1.0f,
        };

        run_case (stream, &g, 10 * index, 0, NULL, 0);
      }
  lk_test_check_validation ();
}

static void
test_gemm_linear (void)
{
  LkStream *stream = lk_test_stream ();
  /* The shapes a UNet uses, scaled down: f16 weights [N, K] shared by the batch. */
  static const GemmCase cases[] = {
    { 2, 1, 64, 320, 320, FALSE, TRUE, F32, F16, F32, F16, 1.0f },
    { 1, 1, 256, 1280, 320, FALSE, TRUE, F16, F16, F16, F16, 1.0f },
    { 2, 1, 77, 320, 768, FALSE, TRUE, F32, F16, F16, -1, 1.0f },
    { 1, 1, 64, 96, 1280, FALSE, TRUE, F16, F16, F32, F32, 1.0f },
    { 1, 1, 288, 130, 64, FALSE, TRUE, F16, F16, F32, F16, 1.0f },
  };

  if (stream == NULL)
    return;
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    run_case (stream, &cases[c], 1000 + 10 * c, 0, NULL, 0);
  lk_test_check_validation ();
}

static void
test_gemm_unaligned_view (void)
{
  LkStream *stream = lk_test_stream ();
  static const GemmCase cases[] = {
    { 1, 1, 33, 40, 64, FALSE, TRUE, F32, F16, F32, F32, 1.0f },
    { 2, 1, 17, 9, 24, FALSE, FALSE, F16, F32, F32, -1, 1.0f },
  };

  if (stream == NULL)
    return;
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    for (gint64 offset = 1; offset <= 8; offset *= 2)
      run_case (stream, &cases[c], 2000 + 10 * c, offset, NULL, 0);
  lk_test_check_validation ();
}

static void
test_gemm_other_tiles (void)
{
  /* The tiles of GPUs and of devices without fixed-size subgroups, run here. */
  LkStream *stream = lk_test_stream ();
  static const char *const kinds[] = { "gpu", "no-subgroups" };
  static const GemmCase cases[] = {
    { 2, 1, 13, 7, 8, FALSE, FALSE, F32, F32, F32, F32, 1.0f },
    { 1, 1, 127, 33, 12, TRUE, TRUE, F16, F32, F16, -1, 0.5f },
    { 1, 1, 301, 250, 72, FALSE, TRUE, F32, F16, F32, F16, 1.0f },
  };

  if (stream == NULL)
    return;
  for (guint kind = 0; kind < G_N_ELEMENTS (kinds); kind++)
    {
      g_setenv ("LIKENESS_MATMUL_TILES", kinds[kind], TRUE);
      for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
        run_case (stream, &cases[c], 5000 + 10 * c, 0, NULL, 0);
      g_unsetenv ("LIKENESS_MATMUL_TILES");
    }
  lk_test_check_validation ();
}

static void
test_gemm_rejects (void)
{
  LkStream *stream = lk_test_stream ();
  const gint64 s34[] = { 3, 4 }, s45[] = { 4, 5 }, s55[] = { 5, 5 }, s35[] = { 3, 5 };
  const gint64 s4[] = { 4 }, s1[] = { 7 };
  g_autoptr(LkTensor) a = NULL, b = NULL, bad_b = NULL, c = NULL, bad_bias = NULL, bias = NULL;
  g_autoptr(GError) error = NULL;

  if (stream == NULL)
    return;
  a = lk_test_tensor_poisoned (stream, F32, 2, s34);
  b = lk_test_tensor_poisoned (stream, F16, 2, s45);
  bad_b = lk_test_tensor_poisoned (stream, F16, 2, s55);
  c = lk_test_tensor_poisoned (stream, F32, 2, s35);
  bias = lk_test_tensor_poisoned (stream, F32, 1, s4);
  bad_bias = lk_test_tensor_poisoned (stream, F32, 1, s1);

  g_assert_false (lk_op_gemm (stream, a, bad_b, NULL, c, NULL, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "f16[5×5]"));
  g_clear_error (&error);
  g_assert_false (lk_op_gemm (stream, a, b, bad_bias, c, NULL, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_gemm (stream, a, b, bias, c, NULL, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_gemm (stream, a, b, NULL, c, &(LkGemmOptions) { TRUE, FALSE, 1 }, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_gemm (stream, a, b, NULL, bias, NULL, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  lk_stream_finish (stream, NULL);
}

static void
test_gemm_split_bindings (void)
{
  /* With a 256 KiB binding range, A and C go in batches and row ranges whose starts are off
   * the alignment; a transposed A too large for one binding is refused. */
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) context = NULL;
  g_autoptr(LkStream) stream = NULL;
  static const GemmCase cases[] = {
    { 2, 1, 300, 64, 256, FALSE, TRUE, F32, F16, F32, F16, 1.0f },
    { 1, 1, 12000, 5, 13, FALSE, FALSE, F16, F32, F32, F32, 1.0f },
    { 3, 3, 200, 100, 100, FALSE, TRUE, F32, F32, F16, -1, 1.0f },
  };
  const gint64 big_t[] = { 300, 300 }, small[] = { 300, 4 }, out[] = { 300, 4 };
  g_autoptr(LkTensor) a = NULL, b = NULL, c = NULL;

  context = lk_test_context_with_binding_range (262144);
  if (context == NULL)
    return;
  stream = lk_stream_new (context, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    run_case (stream, &cases[i], 3000 + 10 * i, 0, NULL, 0);

  a = lk_test_tensor_poisoned (stream, F32, 2, big_t);
  b = lk_test_tensor_poisoned (stream, F32, 2, small);
  c = lk_test_tensor_poisoned (stream, F32, 2, out);
  g_assert_false (lk_op_gemm (stream, a, b, NULL, c, &(LkGemmOptions) { TRUE, FALSE, 1 }, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
  lk_stream_finish (stream, NULL);
  g_assert_cmpuint (lk_context_get_validation_message_count (context), ==, 0);
}

static void
test_gemm_oracle (void)
{
  LkStream *stream = lk_test_stream ();
  /* A transformer block's feed-forward input projection (torch's linear) and attention's
   * probabilities × values per head (torch's matmul). */
  static const GemmCase cases[] = {
    { 1, 1, 256, 1280, 320, FALSE, TRUE, F32, F16, F32, F16, 1.0f },
    { 2, 2, 64, 40, 77, FALSE, FALSE, F32, F32, F32, -1, 0.125f },
  };

  if (stream == NULL)
    return;
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const GemmCase *g = &cases[c];
      g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_gemm.py");
      gint64 na = g->batch * g->m * g->k, nb = g->batch_b * g->k * g->n;
      g_autofree float *a = lk_test_random (na, -1, 1, 4000 + 10 * c);
      g_autofree float *b = lk_test_random (nb, -1, 1, 4001 + 10 * c);
      g_autofree float *bias = lk_test_random (g->n, -1, 1, 4002 + 10 * c);
      g_autofree float *ref = NULL;

      if (oracle == NULL)
        return;
      /* The same values run_case() draws and rounds. */
      as_stored (a, na, g->a_type);
      as_stored (b, nb, g->b_type);
      lk_oracle_add_input (oracle, "a", a, na);
      lk_oracle_add_input (oracle, "b", b, nb);
      if (g->bias >= 0)
        {
          as_stored (bias, g->n, g->bias);
          lk_oracle_add_input (oracle, "bias", bias, g->n);
        }
      lk_oracle_set_param_int (oracle, "batch", g->batch);
      lk_oracle_set_param_int (oracle, "batch_b", g->batch_b);
      lk_oracle_set_param_int (oracle, "m", g->m);
      lk_oracle_set_param_int (oracle, "n", g->n);
      lk_oracle_set_param_int (oracle, "k", g->k);
      lk_oracle_set_param_int (oracle, "transpose_a", g->transpose_a);
      lk_oracle_set_param_int (oracle, "transpose_b", g->transpose_b);
      lk_oracle_set_param_double (oracle, "alpha", g->alpha);
      ref = lk_oracle_run (oracle, g->batch * g->m * g->n);
      /* Both sides accumulate in f32, in different orders. */
      run_case (stream, g, 4000 + 10 * c, 0, ref, 2e-6);
    }
  lk_test_check_validation ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/gemm/variants", test_gemm_variants);
  g_test_add_func ("/ops/gemm/linear", test_gemm_linear);
  g_test_add_func ("/ops/gemm/unaligned-view", test_gemm_unaligned_view);
  g_test_add_func ("/ops/gemm/other-tiles", test_gemm_other_tiles);
  g_test_add_func ("/ops/gemm/rejects", test_gemm_rejects);
  g_test_add_func ("/ops/gemm/split-bindings", test_gemm_split_bindings);
  g_test_add_func ("/ops/gemm/oracle", test_gemm_oracle);
  return g_test_run ();
}
