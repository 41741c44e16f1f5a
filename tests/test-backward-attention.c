/* test-backward-attention.c: fused attention backward by finite differences, against the CPU
 * reference at every head dim SD1.5 and CLIP use, and against torch autograd at the UNet's
 * shapes
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-half.h"
#include "lk-ops-backward.h"
#include "lk-ref-backward.h"
#include "lk-oracle-cases.h"
#include "lk-test-fd.h"
#include "lk-test-util.h"

#define F32 LK_DTYPE_F32
#define F16 LK_DTYPE_F16

typedef struct
{
  gint64   batch, nq, nk;
  guint    heads;
  gint64   head_dim;
  gboolean causal;
  LkDType  in_dt, grad_dt;
} AttentionCase;

typedef struct
{
  float *q, *k, *v, *d_o;
  float *dq, *dk, *dv;
} Grads;

static void
grads_clear (Grads *g)
{
  g_free (g->q);
  g_free (g->k);
  g_free (g->v);
  g_free (g->d_o);
  g_free (g->dq);
  g_free (g->dk);
  g_free (g->dv);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Grads, grads_clear)

/* Random inputs (f16-exact when the inputs are f16), the forward on the device, then the
 * backward; the gradients come back in @g. */
static void
run_device (LkStream            *stream,
            const AttentionCase *c,
            guint32              seed,
            float                spread,
            Grads               *g)
{
  gint64 hd = c->heads * c->head_dim;
  const gint64 qs[] = { c->batch, c->nq, hd }, ks[] = { c->batch, c->nk, hd };
  gsize nq = c->batch * c->nq * hd, nk = c->batch * c->nk * hd;
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) tq = NULL, tk = NULL, tv = NULL, to = NULL, tdo = NULL;
  g_autoptr(LkTensor) tdq = NULL, tdk = NULL, tdv = NULL;

  g->q = lk_test_random (nq, -spread, spread, seed);
  g->k = lk_test_random (nk, -spread, spread, seed + 1);
  g->v = lk_test_random (nk, -1, 1, seed + 2);
  g->d_o = lk_test_random (nq, -1, 1, seed + 3);
  if (c->in_dt == F16)
    {
      lk_round_to_half (g->q, nq);
      lk_round_to_half (g->k, nk);
      lk_round_to_half (g->v, nk);
      lk_round_to_half (g->d_o, nq);
    }
  tq = lk_test_tensor_from (stream, c->in_dt, 3, qs, g->q);
  tk = lk_test_tensor_from (stream, c->in_dt, 3, ks, g->k);
  tv = lk_test_tensor_from (stream, c->in_dt, 3, ks, g->v);
  tdo = lk_test_tensor_from (stream, c->in_dt, 3, qs, g->d_o);
  /* o as training keeps it: f32 from the forward op. */
  to = lk_test_tensor_poisoned (stream, F32, 3, qs);
  tdq = lk_test_tensor_poisoned (stream, c->grad_dt, 3, qs);
  tdk = lk_test_tensor_poisoned (stream, c->grad_dt, 3, ks);
  tdv = lk_test_tensor_poisoned (stream, c->grad_dt, 3, ks);

  g_assert_true (lk_op_attention_masked (stream, tq, tk, tv, to, c->heads, 0, c->causal, &error));
  g_assert_no_error (error);
  g_assert_true (lk_stream_finish (stream, &error));
  g_test_timer_start ();
  g_assert_true (lk_op_attention_backward (stream, tq, tk, tv, to, tdo, tdq, tdk, tdv, c->heads,
                                           0, c->causal, &error));
  g_assert_no_error (error);
  g_assert_true (lk_stream_finish (stream, &error));
  /* Pipelines are compiled on first use: a variant's first run includes its compilation. */
  g_test_message ("attention backward b%" G_GINT64_FORMAT " nq %" G_GINT64_FORMAT " nk %"
                  G_GINT64_FORMAT " %u×%" G_GINT64_FORMAT ": %.2f s", c->batch, c->nq, c->nk,
                  c->heads, c->head_dim, g_test_timer_elapsed ());
  g->dq = lk_test_download (stream, tdq);
  g->dk = lk_test_download (stream, tdk);
  g->dv = lk_test_download (stream, tdv);
}

static char *
describe (const AttentionCase *c)
{
  return g_strdup_printf ("attention backward b%" G_GINT64_FORMAT " nq %" G_GINT64_FORMAT
                          " nk %" G_GINT64_FORMAT " %u×%" G_GINT64_FORMAT "%s %s → %s",
                          c->batch, c->nq, c->nk, c->heads, c->head_dim,
                          c->causal ? " causal" : "", lk_dtype_name (c->in_dt),
                          lk_dtype_name (c->grad_dt));
}

/* L = Σ r · attention(q, k, v) in double. */
typedef struct
{
  const AttentionCase *c;
  const float         *q, *k, *v, *r;
} AttentionLoss;

static double
attention_loss (gconstpointer data)
{
  const AttentionLoss *l = data;
  const AttentionCase *c = l->c;
  gint64 hd = c->heads * c->head_dim;
  double scale = 1.0 / sqrt (c->head_dim), total = 0;
  g_autofree double *p = g_new (double, c->nk);

  for (gint64 b = 0; b < c->batch; b++)
    for (guint h = 0; h < c->heads; h++)
      for (gint64 i = 0; i < c->nq; i++)
        {
          gint64 seen = c->causal ? MIN (c->nk, i + 1) : c->nk;
          double max = -INFINITY, sum = 0;

          for (gint64 j = 0; j < seen; j++)
            {
              double s = 0;

              for (gint64 d = 0; d < c->head_dim; d++)
                s += (double) l->q[(b * c->nq + i) * hd + h * c->head_dim + d] *
                     l->k[(b * c->nk + j) * hd + h * c->head_dim + d];
              p[j] = s * scale;
              max = MAX (max, p[j]);
            }
          for (gint64 j = 0; j < seen; j++)
            sum += p[j] = exp (p[j] - max);
          for (gint64 d = 0; d < c->head_dim; d++)
            {
              double o = 0;

              for (gint64 j = 0; j < seen; j++)
                o += p[j] / sum * l->v[(b * c->nk + j) * hd + h * c->head_dim + d];
              total += o * l->r[(b * c->nq + i) * hd + h * c->head_dim + d];
            }
        }
  return total;
}

/* Smooth in every input: O(h²) truncation ≈ 1e-7 relative at h = 1e-3. */
static void
check_by_fd (const char          *what,
             const AttentionLoss *loss,
             float               *input,
             gsize                n,
             const float         *grad)
{
  lk_test_check_by_fd (what, attention_loss, loss, input, n, grad, 1e-3f, 1e-5);
}

static void
test_gradients (void)
{
  LkStream *stream = lk_test_stream ();
  static const AttentionCase cases[] = {
    /* Tiny, by finite differences: uneven lengths, two heads, the causal mask. */
    { 2, 5, 7, 2, 4, FALSE, F32, F32 },
    { 1, 6, 6, 2, 8, TRUE, F32, F32 },
    /* The head dims of SD1.5 (40, 80, 160), SD2 and CLIP (64), self- and cross-attention. */
    { 2, 37, 37, 2, 40, FALSE, F32, F32 },
    { 1, 45, 77, 2, 64, TRUE, F32, F32 },
    { 1, 29, 77, 1, 80, FALSE, F16, F32 },
    { 1, 33, 21, 1, 160, FALSE, F16, F32 },
    { 1, 9, 11, 1, 8, FALSE, F16, F16 },
    /* Long enough for the online maximum to restart many times. */
    { 1, 1000, 1000, 1, 40, FALSE, F32, F32 },
  };

  if (stream == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const AttentionCase *c = &cases[i];
      gsize nq = c->batch * c->nq * c->heads * c->head_dim;
      gsize nk = c->batch * c->nk * c->heads * c->head_dim;
      g_auto(Grads) g = { 0 };
      g_autofree float *dq = g_new (float, nq), *dk = g_new (float, nk), *dv = g_new (float, nk);
      g_autofree char *what = describe (c);
      g_autofree char *what_q = g_strconcat (what, " dq", NULL);
      g_autofree char *what_k = g_strconcat (what, " dk", NULL);
      g_autofree char *what_v = g_strconcat (what, " dv", NULL);
      /* f32: exp and sums over ≤ 160-term dots, ~1e-6; f16 outputs round to 2⁻¹¹. */
      double bound = c->grad_dt == F16 ? 2e-3 : 1e-5;

      /* Scores of a few units: probabilities neither uniform nor one-hot. */
      run_device (stream, c, 10 * i, 1.5, &g);
      lk_ref_attention_backward (g.q, g.k, g.v, g.d_o, dq, dk, dv, c->batch, c->nq, c->nk,
                                 c->heads, c->head_dim, 1.0 / sqrt (c->head_dim), c->causal);
      lk_test_assert_close (what_q, g.dq, dq, nq, bound, 0);
      lk_test_assert_close (what_k, g.dk, dk, nk, bound, 0);
      lk_test_assert_close (what_v, g.dv, dv, nk, bound, 0);
      if (i < 2)
        {
          AttentionLoss loss = { c, g.q, g.k, g.v, g.d_o };

          check_by_fd (what_q, &loss, g.q, nq, g.dq);
          check_by_fd (what_k, &loss, g.k, nk, g.dk);
          check_by_fd (what_v, &loss, g.v, nk, g.dv);
        }
    }
  lk_test_check_validation ();
}

static void
test_oracle (void)
{
  LkStream *stream = lk_test_stream ();
  /* The UNet at 512²: self-attention of the 64² level (N 4096, head dim 40; one head here, as
   * the others repeat it), cross-attention with the 77 text tokens at 32² and at 8² (head dim
   * 160) from f16 activations as training keeps them, and CLIP's causal self-attention. The
   * kernels' variants are those the gradient test compiled: LLVM takes seconds over each. */
  static const AttentionCase cases[] = {
    { 1, 4096, 4096, 1, 40, FALSE, F32, F32 },
    { 1, 1024, 77, 8, 80, FALSE, F16, F32 },
    { 2, 64, 77, 8, 160, FALSE, F16, F32 },
    { 1, 77, 77, 12, 64, TRUE, F32, F32 },
  };
  g_autoptr(LkOracle) oracle = NULL;
  Grads results[G_N_ELEMENTS (cases)] = { { 0 } };
  g_autofree float *expected = NULL;
  gsize total = 0, offset = 0;

  if (stream == NULL || (oracle = lk_oracle_new ("oracle_backward.py")) == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const AttentionCase *c = &cases[i];
      gsize nq = c->batch * c->nq * c->heads * c->head_dim;
      gsize nk = c->batch * c->nk * c->heads * c->head_dim;

      run_device (stream, c, 100 + 10 * i, 1.0, &results[i]);
      total += nq + 2 * nk;
      lk_oracle_case_string (oracle, i, "op", "attention");
      lk_oracle_case_int (oracle, i, "b", c->batch);
      lk_oracle_case_int (oracle, i, "nq", c->nq);
      lk_oracle_case_int (oracle, i, "nk", c->nk);
      lk_oracle_case_int (oracle, i, "heads", c->heads);
      lk_oracle_case_int (oracle, i, "d", c->head_dim);
      lk_oracle_case_int (oracle, i, "causal", c->causal);
      lk_oracle_case_input (oracle, i, "q", results[i].q, nq);
      lk_oracle_case_input (oracle, i, "k", results[i].k, nk);
      lk_oracle_case_input (oracle, i, "v", results[i].v, nk);
      lk_oracle_case_input (oracle, i, "do", results[i].d_o, nq);
    }
  lk_oracle_set_param_int (oracle, "cases", G_N_ELEMENTS (cases));
  expected = lk_oracle_run (oracle, total);
  for (guint i = 0; expected != NULL && i < G_N_ELEMENTS (cases); i++)
    {
      const AttentionCase *c = &cases[i];
      gsize nq = c->batch * c->nq * c->heads * c->head_dim;
      gsize nk = c->batch * c->nk * c->heads * c->head_dim;
      float *grads[] = { results[i].dq, results[i].dk, results[i].dv };
      gsize sizes[] = { nq, nk, nk };
      static const char *names[] = { "dq", "dk", "dv" };

      for (guint j = 0; j < 3; j++)
        {
          g_autofree char *desc = describe (c);
          g_autofree char *what = g_strdup_printf ("%s %s vs torch", desc, names[j]);

          /* Both f32; sums over up to 4096 keys in other orders. */
          lk_test_assert_close (what, grads[j], expected + offset, sizes[j], 1e-4, 0);
          offset += sizes[j];
        }
    }
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    grads_clear (&results[i]);
  lk_test_check_validation ();
}

static void
test_errors (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 qs[] = { 1, 8, 64 }, ks[] = { 1, 5, 64 }, bad[] = { 1, 5, 32 };
  static const gint64 wide[] = { 1, 4, 512 }, odd[] = { 1, 4, 6 };
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) q = NULL, k = NULL, kb = NULL, w = NULL, o = NULL;

  if (stream == NULL)
    return;
  q = lk_test_tensor_poisoned (stream, F32, 3, qs);
  k = lk_test_tensor_poisoned (stream, F32, 3, ks);
  kb = lk_test_tensor_poisoned (stream, F32, 3, bad);
  w = lk_test_tensor_poisoned (stream, F32, 3, wide);
  o = lk_test_tensor_poisoned (stream, F32, 3, odd);

  g_assert_false (lk_op_attention_backward (stream, q, kb, kb, q, q, q, kb, kb, 2, 0, FALSE,
                                            &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  /* dk of the shape of q. */
  g_assert_false (lk_op_attention_backward (stream, q, k, k, q, q, q, q, k, 2, 0, FALSE, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_attention_backward (stream, q, k, k, q, q, q, k, k, 3, 0, FALSE, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  /* One head of 512. */
  g_assert_false (lk_op_attention_backward (stream, w, w, w, w, w, w, w, w, 1, 0, FALSE, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  /* Two heads of 3. */
  g_assert_false (lk_op_attention_backward (stream, o, o, o, o, o, o, o, o, 2, 0, FALSE, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  lk_test_check_validation ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/backward-attention/gradients", test_gradients);
  g_test_add_func ("/backward-attention/oracle", test_oracle);
  g_test_add_func ("/backward-attention/errors", test_errors);
  return g_test_run ();
}
