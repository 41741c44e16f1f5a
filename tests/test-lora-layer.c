/* test-lora-layer.c: the trainable LoRA layer (Linear and 1×1 convolution): kohya's
 * initialisation, forward and backward against the CPU reference, by finite differences and
 * against torch autograd, its AdamW step, and training checkpoints that resume bit-exactly
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>

#include "lk-half.h"
#include "lk-lora-layer.h"
#include "lk-train-checkpoint.h"
#include "lk-safetensors.h"
#include "lk-ref-backward.h"
#include "lk-oracle-cases.h"
#include "lk-test-fd.h"
#include "lk-test-util.h"

#define F32 LK_DTYPE_F32
#define F16 LK_DTYPE_F16

typedef struct
{
  gboolean conv;
  gint64   batch, rows_or_hw;  /* Linear: [batch, rows, in]; conv: [batch, in, hw, 1] */
  gint64   in, out;
  guint    rank;
  float    alpha;
  gboolean bias;
  LkDType  x_dt;
} LoraCase;

typedef struct
{
  gsize  rows, spatial;
  float *x, *w, *b, *down, *up, *dy;
  float *y, *dx, *d_down, *d_up;
} LoraRun;

static void
lora_run_clear (LoraRun *r)
{
  g_free (r->x);
  g_free (r->w);
  g_free (r->b);
  g_free (r->down);
  g_free (r->up);
  g_free (r->dy);
  g_free (r->y);
  g_free (r->dx);
  g_free (r->d_down);
  g_free (r->d_up);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LoraRun, lora_run_clear)

static void
shapes_of (const LoraCase *c,
           gint64         *xs,
           gint64         *ys,
           guint          *ndim)
{
  if (c->conv)
    {
      gint64 x4[] = { c->batch, c->in, c->rows_or_hw, 1 }, y4[] = { c->batch, c->out, c->rows_or_hw, 1 };

      memcpy (xs, x4, sizeof x4);
      memcpy (ys, y4, sizeof y4);
      *ndim = 4;
    }
  else
    {
      gint64 x3[] = { c->batch, c->rows_or_hw, c->in }, y3[] = { c->batch, c->rows_or_hw, c->out };

      memcpy (xs, x3, sizeof x3);
      memcpy (ys, y3, sizeof y3);
      *ndim = 3;
    }
}

/* Forward and backward on the device with a non-zero B (a trained LoRA's), results in @r. */
static void
run_device (LkStream       *stream,
            const LoraCase *c,
            guint32         seed,
            LoraRun        *r)
{
  gint64 xs[4], ys[4], ws[4] = { c->out, c->in, 1, 1 };
  guint ndim;
  gsize nx, ny, nw = c->out * c->in;
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) tx = NULL, tw = NULL, tb = NULL, ty = NULL, tdy = NULL, tdx = NULL;
  g_autoptr(LkLoraLayer) layer = NULL;

  shapes_of (c, xs, ys, &ndim);
  r->rows = c->batch * c->rows_or_hw;
  r->spatial = c->conv ? c->rows_or_hw : 0;
  nx = r->rows * c->in;
  ny = r->rows * c->out;
  r->x = lk_test_random (nx, -1, 1, seed);
  r->w = lk_test_random (nw, -0.3, 0.3, seed + 1);
  r->b = lk_test_random (c->out, -0.5, 0.5, seed + 2);
  r->up = lk_test_random (c->out * c->rank, -0.2, 0.2, seed + 3);
  r->dy = lk_test_random (ny, -1, 1, seed + 4);
  /* The frozen weights are f16, as the checkpoint's. */
  lk_round_to_half (r->w, nw);
  lk_round_to_half (r->b, c->out);
  if (c->x_dt == F16)
    lk_round_to_half (r->x, nx);

  tx = lk_test_tensor_from (stream, c->x_dt, ndim, xs, r->x);
  tw = lk_test_tensor_from (stream, F16, c->conv ? 4 : 2, ws, r->w);
  tb = lk_test_tensor_from (stream, F16, 1, ws, r->b);
  tdy = lk_test_tensor_from (stream, F32, ndim, ys, r->dy);
  ty = lk_test_tensor_poisoned (stream, F32, ndim, ys);
  tdx = lk_test_tensor_poisoned (stream, F32, ndim, xs);

  layer = lk_lora_layer_new (stream, tw, c->bias ? tb : NULL, c->rank, c->alpha, seed, &error);
  g_assert_no_error (error);
  g_assert_nonnull (layer);
  g_assert_true (lk_tensor_upload_f32 (lk_lora_layer_get_up (layer), stream, r->up, &error));
  g_assert_no_error (error);
  r->down = lk_test_download (stream, lk_lora_layer_get_down (layer));

  g_assert_true (lk_lora_layer_forward (layer, stream, tx, ty, &error));
  g_assert_no_error (error);
  g_assert_true (lk_lora_layer_backward (layer, stream, tx, tdy, tdx, &error));
  g_assert_no_error (error);
  r->y = lk_test_download (stream, ty);
  r->dx = lk_test_download (stream, tdx);
  r->d_down = lk_test_download (stream, lk_lora_layer_get_down_grad (layer));
  r->d_up = lk_test_download (stream, lk_lora_layer_get_up_grad (layer));
}

/* L = Σ dy · y in double through the reference forward's formula. */
typedef struct
{
  const LoraCase *c;
  const LoraRun  *r;
} LoraLoss;

static double
lora_loss (gconstpointer data)
{
  const LoraLoss *l = data;
  const LoraCase *c = l->c;
  const LoraRun *r = l->r;
  double scale = c->alpha / c->rank, sum = 0;
  g_autofree double *h = g_new (double, c->rank);

  /* Σ dy · (x Wᵀ + b + scale · (x Aᵀ) Bᵀ), every product in double. */
  for (gsize row = 0; row < r->rows; row++)
    {
      gsize image = r->spatial ? row / r->spatial : row, pixel = r->spatial ? row % r->spatial : 0;
      gsize stride = r->spatial ? r->spatial : 1;
      const float *x = r->x + (r->spatial ? image * c->in * stride + pixel : row * c->in);
      const float *dy = r->dy + (r->spatial ? image * c->out * stride + pixel : row * c->out);

      for (guint k = 0; k < c->rank; k++)
        {
          h[k] = 0;
          for (gint64 i = 0; i < c->in; i++)
            h[k] += (double) r->down[k * c->in + i] * x[i * stride];
        }
      for (gint64 o = 0; o < c->out; o++)
        {
          double y = c->bias ? r->b[o] : 0;

          for (gint64 i = 0; i < c->in; i++)
            y += (double) r->w[o * c->in + i] * x[i * stride];
          for (guint k = 0; k < c->rank; k++)
            y += scale * r->up[o * c->rank + k] * h[k];
          sum += y * dy[o * stride];
        }
    }
  return sum;
}

/* Bilinear in (A, B) and linear in x: central differences are exact but for rounding. */
static void
check_by_fd (const char     *what,
             const LoraLoss *loss,
             float          *input,
             gsize           n,
             const float    *grad)
{
  lk_test_check_by_fd (what, lora_loss, loss, input, n, grad, 1e-2f, 1e-5);
}

static void
test_gradients (void)
{
  LkStream *stream = lk_test_stream ();
  static const LoraCase cases[] = {
    { FALSE, 2, 5, 12, 10, 4, 2.0f, TRUE, F32 },
    { TRUE, 2, 6, 12, 10, 3, 3.0f, TRUE, F32 },
    { FALSE, 1, 7, 9, 6, 2, 1.0f, FALSE, F32 },
    { FALSE, 2, 33, 64, 48, 8, 4.0f, TRUE, F16 },
    { TRUE, 1, 35, 64, 40, 8, 8.0f, FALSE, F16 },
  };

  if (stream == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const LoraCase *c = &cases[i];
      g_auto(LoraRun) r = { 0 };
      gsize nx, ny, na = c->rank * c->in, nb = c->out * c->rank;
      g_autofree float *y = NULL, *dx = NULL, *da = NULL, *db = NULL;
      g_autofree char *what = g_strdup_printf ("LoRA %s %" G_GINT64_FORMAT " → %" G_GINT64_FORMAT
                                               " rank %u %s", c->conv ? "conv 1×1" : "Linear",
                                               c->in, c->out, c->rank, lk_dtype_name (c->x_dt));
      g_autofree char *what_y = g_strconcat (what, " y", NULL);
      g_autofree char *what_x = g_strconcat (what, " dx", NULL);
      g_autofree char *what_a = g_strconcat (what, " dA", NULL);
      g_autofree char *what_b = g_strconcat (what, " dB", NULL);

      run_device (stream, c, 10 * i, &r);
      nx = r.rows * c->in;
      ny = r.rows * c->out;
      y = g_new (float, ny);
      dx = g_new (float, nx);
      da = g_new (float, na);
      db = g_new (float, nb);
      lk_ref_lora_forward (r.x, r.w, c->bias ? r.b : NULL, r.down, r.up, y, r.rows, r.spatial,
                           c->in, c->out, c->rank, c->alpha / c->rank);
      lk_ref_lora_backward (r.x, r.w, r.down, r.up, r.dy, dx, da, db, r.rows, r.spatial, c->in,
                            c->out, c->rank, c->alpha / c->rank);
      /* All arithmetic in f32 over at most 70 terms. */
      lk_test_assert_close (what_y, r.y, y, ny, 1e-5, 0);
      lk_test_assert_close (what_x, r.dx, dx, nx, 1e-5, 0);
      lk_test_assert_close (what_a, r.d_down, da, na, 1e-5, 0);
      lk_test_assert_close (what_b, r.d_up, db, nb, 1e-5, 0);
      if (i < 3)
        {
          LoraLoss loss = { c, &r };

          check_by_fd (what_x, &loss, r.x, nx, r.dx);
          check_by_fd (what_a, &loss, r.down, na, r.d_down);
          check_by_fd (what_b, &loss, r.up, nb, r.d_up);
        }
    }
  lk_test_check_validation ();
}

static void
test_init (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 ws[] = { 320, 768 }, xs[] = { 7, 768 }, ys[] = { 7, 320 };
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) w = NULL, x = NULL, y = NULL, base = NULL;
  g_autoptr(LkLoraLayer) layer = NULL, same = NULL, other = NULL;
  g_autofree float *wd = NULL, *xd = NULL, *down = NULL, *up = NULL, *down2 = NULL;
  g_autofree float *down3 = NULL, *yd = NULL, *based = NULL;
  double bound = 1.0 / sqrt (768), sum = 0, sum2 = 0, max = 0;
  gsize n = 128 * 768;

  if (stream == NULL)
    return;
  wd = lk_test_random (320 * 768, -0.1, 0.1, 1);
  xd = lk_test_random (7 * 768, -1, 1, 2);
  lk_round_to_half (wd, 320 * 768);
  w = lk_test_tensor_from (stream, F16, 2, ws, wd);
  x = lk_test_tensor_from (stream, F32, 2, xs, xd);
  y = lk_test_tensor_poisoned (stream, F32, 2, ys);
  base = lk_test_tensor_poisoned (stream, F32, 2, ys);

  /* A cross-attention key projection (768 → 320) at EasyPhoto's rank 128. */
  layer = lk_lora_layer_new (stream, w, NULL, 128, 64, 42, &error);
  g_assert_no_error (error);
  same = lk_lora_layer_new (stream, w, NULL, 128, 64, 42, &error);
  g_assert_no_error (error);
  other = lk_lora_layer_new (stream, w, NULL, 128, 64, 43, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (lk_lora_layer_get_scale (layer), ==, 0.5f);
  down = lk_test_download (stream, lk_lora_layer_get_down (layer));
  down2 = lk_test_download (stream, lk_lora_layer_get_down (same));
  down3 = lk_test_download (stream, lk_lora_layer_get_down (other));
  up = lk_test_download (stream, lk_lora_layer_get_up (layer));

  /* U(−1/√in, 1/√in): inside the bound, mean 0, variance bound² / 3 (98304 samples: the
   * standard errors are 0.003 · bound and 0.3 % of the variance). */
  for (gsize i = 0; i < n; i++)
    {
      sum += down[i];
      sum2 += (double) down[i] * down[i];
      max = MAX (max, fabs (down[i]));
    }
  g_assert_cmpfloat (max, <=, bound);
  g_assert_cmpfloat (max, >, 0.99 * bound);
  g_assert_cmpfloat (fabs (sum / n), <, 0.02 * bound);
  g_assert_cmpfloat (fabs (sum2 / n / (bound * bound / 3) - 1), <, 0.02);
  /* The seed decides A: the same seed the same numbers, another seed others. */
  g_assert_cmpmem (down, n * sizeof (float), down2, n * sizeof (float));
  g_assert_cmpfloat (lk_test_diff (down3, down, n).rel_l2, >, 1.0);
  /* B starts at zero, so the new layer is the frozen Linear exactly. */
  for (gsize i = 0; i < 320 * 128; i++)
    g_assert_cmpfloat (up[i], ==, 0.0f);
  g_assert_true (lk_lora_layer_forward (layer, stream, x, y, &error));
  g_assert_no_error (error);
  g_assert_true (lk_op_gemm (stream, x, w, NULL, base, &(LkGemmOptions) { FALSE, TRUE, 1.0f },
                             &error));
  g_assert_no_error (error);
  yd = lk_test_download (stream, y);
  based = lk_test_download (stream, base);
  g_assert_cmpmem (yd, 7 * 320 * sizeof (float), based, 7 * 320 * sizeof (float));
  lk_test_check_validation ();
}

static void
test_step (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 ws[] = { 6, 5 }, xs[] = { 4, 5 }, ys[] = { 4, 6 };
  g_autoptr(GError) error = NULL;
  g_autofree float *wd = lk_test_random (30, -1, 1, 5), *xd = lk_test_random (20, -1, 1, 6);
  g_autofree float *dyd = lk_test_random (24, -1, 1, 7);
  g_autoptr(LkTensor) w = NULL, x = NULL, dy = NULL;
  g_autoptr(LkLoraLayer) layer = NULL;
  g_autofree float *a = NULL, *b = NULL, *ga = NULL, *gb = NULL, *a1 = NULL, *b1 = NULL;
  float ma[10] = { 0 }, va[10] = { 0 }, mb[12] = { 0 }, vb[12] = { 0 };
  LkAdamWOptions o = LK_ADAMW_OPTIONS_DEFAULT;

  if (stream == NULL)
    return;
  lk_round_to_half (wd, 30);
  w = lk_test_tensor_from (stream, F16, 2, ws, wd);
  x = lk_test_tensor_from (stream, F32, 2, xs, xd);
  dy = lk_test_tensor_from (stream, F32, 2, ys, dyd);
  layer = lk_lora_layer_new (stream, w, NULL, 2, 2, 9, &error);
  g_assert_no_error (error);
  a = lk_test_download (stream, lk_lora_layer_get_down (layer));
  b = lk_test_download (stream, lk_lora_layer_get_up (layer));
  g_assert_true (lk_lora_layer_backward (layer, stream, x, dy, NULL, &error));
  g_assert_no_error (error);
  ga = lk_test_download (stream, lk_lora_layer_get_down_grad (layer));
  gb = lk_test_download (stream, lk_lora_layer_get_up_grad (layer));
  /* B = 0 gives A no gradient yet, and B one: the first step moves B only (but for decay). */
  o.lr = 1e-2;
  g_assert_true (lk_lora_layer_step (layer, stream, NULL, &o, &error));
  g_assert_no_error (error);
  a1 = lk_test_download (stream, lk_lora_layer_get_down (layer));
  b1 = lk_test_download (stream, lk_lora_layer_get_up (layer));
  lk_ref_adamw_step (a, ga, ma, va, 10, NULL, &o);
  lk_ref_adamw_step (b, gb, mb, vb, 12, NULL, &o);
  lk_test_assert_close ("LoRA step A", a1, a, 10, 1e-6, 0);
  lk_test_assert_close ("LoRA step B", b1, b, 12, 1e-6, 0);
  g_assert_cmpfloat (fabs (b1[0]), >, 1e-3);
  lk_test_check_validation ();
}

static void
test_oracle (void)
{
  LkStream *stream = lk_test_stream ();
  /* SD1.5's proj_in at the 8² level as a 1×1 convolution (320 → 320, rank 16) and a
   * cross-attention key (768 → 320) over 77 tokens at EasyPhoto's rank 128, alpha 64. */
  static const LoraCase cases[] = {
    { TRUE, 1, 64, 320, 320, 16, 8.0f, TRUE, F32 },
    { FALSE, 1, 77, 768, 320, 128, 64.0f, FALSE, F32 },
  };
  g_autoptr(LkOracle) oracle = NULL;
  LoraRun runs[G_N_ELEMENTS (cases)] = { { 0 } };
  g_autofree float *expected = NULL;
  gsize total = 0, offset = 0;

  if (stream == NULL || (oracle = lk_oracle_new ("oracle_backward.py")) == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const LoraCase *c = &cases[i];
      LoraRun *r = &runs[i];
      g_autofree float *zeros = g_new0 (float, c->out);

      run_device (stream, c, 100 + 10 * i, r);
      total += r->rows * (c->out + c->in) + c->rank * (c->in + c->out);
      lk_oracle_case_string (oracle, i, "op", "lora");
      lk_oracle_case_int (oracle, i, "conv", c->conv);
      lk_oracle_case_int (oracle, i, "rows", r->rows);
      lk_oracle_case_int (oracle, i, "n", c->batch);
      lk_oracle_case_int (oracle, i, "hw", c->rows_or_hw);
      lk_oracle_case_int (oracle, i, "in", c->in);
      lk_oracle_case_int (oracle, i, "out", c->out);
      lk_oracle_case_int (oracle, i, "rank", c->rank);
      lk_oracle_case_double (oracle, i, "scale", c->alpha / c->rank);
      lk_oracle_case_input (oracle, i, "x", r->x, r->rows * c->in);
      lk_oracle_case_input (oracle, i, "w", r->w, c->out * c->in);
      lk_oracle_case_input (oracle, i, "b", c->bias ? r->b : zeros, c->out);
      lk_oracle_case_input (oracle, i, "down", r->down, c->rank * c->in);
      lk_oracle_case_input (oracle, i, "up", r->up, c->out * c->rank);
      lk_oracle_case_input (oracle, i, "dy", r->dy, r->rows * c->out);
    }
  lk_oracle_set_param_int (oracle, "cases", G_N_ELEMENTS (cases));
  expected = lk_oracle_run (oracle, total);
  for (guint i = 0; expected != NULL && i < G_N_ELEMENTS (cases); i++)
    {
      const LoraCase *c = &cases[i];
      LoraRun *r = &runs[i];
      float *mine[] = { r->y, r->dx, r->d_down, r->d_up };
      gsize sizes[] = { r->rows * c->out, r->rows * c->in, c->rank * c->in, c->out * c->rank };
      static const char *names[] = { "y", "dx", "dA", "dB" };

      for (guint j = 0; j < 4; j++)
        {
          g_autofree char *what = g_strdup_printf ("LoRA %s (case %u) vs torch", names[j], i);

          /* f32 both sides, sums of up to 768 terms in other orders. */
          lk_test_assert_close (what, mine[j], expected + offset, sizes[j], 1e-5, 0);
          offset += sizes[j];
        }
    }
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    lora_run_clear (&runs[i]);
  lk_test_check_validation ();
}

/* Two layers (a Linear and a 1×1 convolution) at their state after @steps AdamW steps of
 * fixed gradients, continuing from wherever they are. */
typedef struct
{
  LkTensor    *w_linear, *w_conv, *x_linear, *x_conv, *dy_linear, *dy_conv;
  LkLoraLayer *layers[2];
} Trainee;

static void
trainee_clear (Trainee *t)
{
  g_clear_pointer (&t->w_linear, lk_tensor_unref);
  g_clear_pointer (&t->w_conv, lk_tensor_unref);
  g_clear_pointer (&t->x_linear, lk_tensor_unref);
  g_clear_pointer (&t->x_conv, lk_tensor_unref);
  g_clear_pointer (&t->dy_linear, lk_tensor_unref);
  g_clear_pointer (&t->dy_conv, lk_tensor_unref);
  g_clear_pointer (&t->layers[0], lk_lora_layer_free);
  g_clear_pointer (&t->layers[1], lk_lora_layer_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Trainee, trainee_clear)

static void
trainee_init (Trainee  *t,
              LkStream *stream,
              guint64   seed,
              guint     rank)
{
  static const gint64 wl[] = { 12, 16 }, wc[] = { 8, 16, 1, 1 };
  static const gint64 xl[] = { 5, 16 }, yl[] = { 5, 12 }, xc[] = { 1, 16, 3, 3 }, yc[] = { 1, 8, 3, 3 };
  g_autoptr(GError) error = NULL;
  g_autofree float *w1 = lk_test_random (12 * 16, -0.2, 0.2, 1);
  g_autofree float *w2 = lk_test_random (8 * 16, -0.2, 0.2, 2);
  g_autofree float *x1 = lk_test_random (5 * 16, -1, 1, 3), *x2 = lk_test_random (16 * 9, -1, 1, 4);
  g_autofree float *d1 = lk_test_random (5 * 12, -1, 1, 5), *d2 = lk_test_random (8 * 9, -1, 1, 6);

  lk_round_to_half (w1, 12 * 16);
  lk_round_to_half (w2, 8 * 16);
  t->w_linear = lk_test_tensor_from (stream, F16, 2, wl, w1);
  t->w_conv = lk_test_tensor_from (stream, F16, 4, wc, w2);
  t->x_linear = lk_test_tensor_from (stream, F32, 2, xl, x1);
  t->x_conv = lk_test_tensor_from (stream, F32, 4, xc, x2);
  t->dy_linear = lk_test_tensor_from (stream, F32, 2, yl, d1);
  t->dy_conv = lk_test_tensor_from (stream, F32, 4, yc, d2);
  t->layers[0] = lk_lora_layer_new (stream, t->w_linear, NULL, rank, 4, seed, &error);
  g_assert_no_error (error);
  t->layers[1] = lk_lora_layer_new (stream, t->w_conv, NULL, rank, 4, seed + 1, &error);
  g_assert_no_error (error);
}

static void
trainee_steps (Trainee  *t,
               LkStream *stream,
               guint     first,
               guint     steps)
{
  g_autoptr(GError) error = NULL;
  LkAdamWOptions o = LK_ADAMW_OPTIONS_DEFAULT;

  o.lr = 1e-2;
  for (guint s = first; s < first + steps; s++)
    {
      o.step = s + 1;
      g_assert_true (lk_lora_layer_backward (t->layers[0], stream, t->x_linear, t->dy_linear, NULL,
                                             &error));
      g_assert_true (lk_lora_layer_backward (t->layers[1], stream, t->x_conv, t->dy_conv, NULL,
                                             &error));
      g_assert_true (lk_lora_layer_step (t->layers[0], stream, NULL, &o, &error));
      g_assert_true (lk_lora_layer_step (t->layers[1], stream, NULL, &o, &error));
      g_assert_no_error (error);
    }
}

static void
assert_same_layers (LkStream    *stream,
                    LkLoraLayer *a,
                    LkLoraLayer *b)
{
  LkTensor *ta[] = { lk_lora_layer_get_down (a), lk_lora_layer_get_up (a),
                     lk_lora_layer_get_moment (a, FALSE, FALSE), lk_lora_layer_get_moment (a, FALSE, TRUE),
                     lk_lora_layer_get_moment (a, TRUE, FALSE), lk_lora_layer_get_moment (a, TRUE, TRUE) };
  LkTensor *tb[] = { lk_lora_layer_get_down (b), lk_lora_layer_get_up (b),
                     lk_lora_layer_get_moment (b, FALSE, FALSE), lk_lora_layer_get_moment (b, FALSE, TRUE),
                     lk_lora_layer_get_moment (b, TRUE, FALSE), lk_lora_layer_get_moment (b, TRUE, TRUE) };

  for (guint i = 0; i < G_N_ELEMENTS (ta); i++)
    {
      g_autofree float *va = lk_test_download (stream, ta[i]);
      g_autofree float *vb = lk_test_download (stream, tb[i]);

      g_assert_cmpmem (va, lk_tensor_nbytes (ta[i]), vb, lk_tensor_nbytes (tb[i]));
    }
}

static void
test_checkpoint (void)
{
  LkStream *stream = lk_test_stream ();
  static const char * const names[] = { "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k",
                                        "lora_unet_mid_block_attentions_0_proj_in" };
  static const char * const wrong_names[] = { "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_q",
                                              "lora_unet_mid_block_attentions_0_proj_in" };
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL, *path = NULL, *junk = NULL;
  g_auto(Trainee) straight = { 0 };
  g_auto(Trainee) resumed = { 0 };
  g_auto(Trainee) other_rank = { 0 };
  LkTrainState state = { 3, { 1234, 17 }, 32768.0 / 3 }, back = { 0 };
  g_autoptr(GDir) listing = NULL;
  guint n_files = 0;

  if (stream == NULL)
    return;
  dir = g_dir_make_tmp ("likeness-ckpt-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (dir, "checkpoint.safetensors", NULL);

  /* Three steps, a checkpoint, two more; against a run resumed from the checkpoint into layers
   * that started elsewhere (another seed). */
  trainee_init (&straight, stream, 7, 4);
  trainee_steps (&straight, stream, 0, 3);
  g_assert_true (lk_train_checkpoint_save (path, stream, names, straight.layers, 2, &state, &error));
  g_assert_no_error (error);
  /* Saving again replaces the file atomically and leaves nothing else behind. */
  g_assert_true (lk_train_checkpoint_save (path, stream, names, straight.layers, 2, &state, &error));
  g_assert_no_error (error);
  listing = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  while (g_dir_read_name (listing) != NULL)
    n_files++;
  g_assert_cmpuint (n_files, ==, 1);

  trainee_init (&resumed, stream, 99, 4);
  g_assert_true (lk_train_checkpoint_load (path, stream, names, resumed.layers, 2, &back, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (back.step, ==, 3);
  g_assert_cmpuint (back.rng.seed, ==, 1234);
  g_assert_cmpuint (back.rng.offset, ==, 17);
  g_assert_true (back.loss_scale == state.loss_scale);
  assert_same_layers (stream, straight.layers[0], resumed.layers[0]);
  assert_same_layers (stream, straight.layers[1], resumed.layers[1]);
  trainee_steps (&straight, stream, 3, 2);
  trainee_steps (&resumed, stream, back.step, 2);
  assert_same_layers (stream, straight.layers[0], resumed.layers[0]);
  assert_same_layers (stream, straight.layers[1], resumed.layers[1]);

  /* A layer the file lacks, another rank, and a file that is no checkpoint are refused with
   * the file and tensor named, and leave the layers alone. */
  g_assert_false (lk_train_checkpoint_load (path, stream, wrong_names, resumed.layers, 2, &back,
                                            &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_NOT_FOUND);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "attn2_to_q"));
  g_clear_error (&error);
  trainee_init (&other_rank, stream, 5, 2);
  g_assert_false (lk_train_checkpoint_load (path, stream, names, other_rank.layers, 2, &back,
                                            &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  junk = g_build_filename (dir, "junk.safetensors", NULL);
  {
    static const gint64 shape[] = { 2 };
    static const float values[] = { 1, 2 };
    LkSafetensorsEntry entry = { "x", LK_WEIGHT_F32, 1, shape, values };

    g_assert_true (lk_safetensors_write (junk, &entry, 1, NULL, &error));
    g_assert_no_error (error);
  }
  g_assert_false (lk_train_checkpoint_load (junk, stream, names, resumed.layers, 2, &back, &error));
  g_assert_error (error, LK_IO_ERROR, LK_IO_ERROR_UNSUPPORTED);
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  g_unlink (junk);
  g_unlink (path);
  g_rmdir (dir);
  lk_test_check_validation ();
}

static void
test_errors (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 ws[] = { 6, 5 }, w3[] = { 6, 5, 3, 3 }, xs[] = { 4, 7 }, ys[] = { 4, 6 };
  static const gint64 good[] = { 4, 5 };
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) w = NULL, w32 = NULL, wk = NULL, x = NULL, y = NULL, xg = NULL;
  g_autoptr(LkLoraLayer) layer = NULL;

  if (stream == NULL)
    return;
  w = lk_test_tensor_poisoned (stream, F16, 2, ws);
  w32 = lk_test_tensor_poisoned (stream, F32, 2, ws);
  wk = lk_test_tensor_poisoned (stream, F16, 4, w3);
  x = lk_test_tensor_poisoned (stream, F32, 2, xs);
  xg = lk_test_tensor_poisoned (stream, F32, 2, good);
  y = lk_test_tensor_poisoned (stream, F32, 2, ys);

  /* Rank above min(in, out), a 3×3 kernel, an f32 base weight. */
  g_assert_null (lk_lora_layer_new (stream, w, NULL, 6, 1, 0, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_null (lk_lora_layer_new (stream, wk, NULL, 2, 1, 0, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_null (lk_lora_layer_new (stream, w32, NULL, 2, 1, 0, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_DTYPE);
  g_clear_error (&error);

  layer = lk_lora_layer_new (stream, w, NULL, 2, 1, 0, &error);
  g_assert_no_error (error);
  /* x with 7 features into a layer of 5. */
  g_assert_false (lk_lora_layer_forward (layer, stream, x, y, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (lk_lora_layer_backward (layer, stream, xg, y, x, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  lk_test_check_validation ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lora-layer/gradients", test_gradients);
  g_test_add_func ("/lora-layer/init", test_init);
  g_test_add_func ("/lora-layer/step", test_step);
  g_test_add_func ("/lora-layer/oracle", test_oracle);
  g_test_add_func ("/lora-layer/checkpoint", test_checkpoint);
  g_test_add_func ("/lora-layer/errors", test_errors);
  return g_test_run ();
}
