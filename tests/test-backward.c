/* test-backward.c: the backward ops and AdamW by central finite differences, against their
 * CPU references and against torch autograd / torch.optim.AdamW
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-half.h"
#include "lk-ops-backward.h"
#include "lk-ref-backward.h"
#include "lk-ref.h"
#include "lk-oracle-cases.h"
#include "lk-test-fd.h"
#include "lk-test-util.h"

/* Finite differences: the loss is L = Σ w · f(inputs), evaluated in double from the f32
 * inputs; the step h is taken in f32, and the quotient divides by the step actually taken.
 * Truncation is O(h²) ≈ 1e-7 relative for these smooth functions and the device's gradients
 * are f32 (a few 1e-7; 4.4e-7 the worst seen), so 1e-5 relative L2 separates right from wrong
 * with margin. */
#define FD_STEP 1e-3
#define FD_BOUND 1e-5

typedef LkTestLoss LossFunc;

static void
check_by_fd_step (const char    *what,
                  LossFunc       loss,
                  gconstpointer  data,
                  float         *input,
                  gsize          n,
                  const float   *grad,
                  float          step)
{
  lk_test_check_by_fd (what, loss, data, input, n, grad, step, FD_BOUND);
}

static void
check_by_fd (const char    *what,
             LossFunc       loss,
             gconstpointer  data,
             float         *input,
             gsize          n,
             const float   *grad)
{
  check_by_fd_step (what, loss, data, input, n, grad, FD_STEP);
}

/* A norm's gradients against the reference (dgamma, dbeta only when not NULL) and, when a
 * loss is given, by finite differences. dx is a difference of terms ~rstd·|dy| that cancel
 * when a row has one element, hence the absolute bound beside the relative one. */
static void
check_norm_grads (const char    *what,
                  LkDType        dt,
                  LossFunc       loss,
                  gconstpointer  data,
                  float         *x,
                  gsize          n,
                  const float   *dx,
                  const float   *ref_dx,
                  float         *gamma,
                  float         *beta,
                  gsize          channels,
                  const float   *dgamma,
                  const float   *ref_dgamma,
                  const float   *dbeta,
                  const float   *ref_dbeta)
{
  double bound = dt == LK_DTYPE_F16 ? 2e-3 : 1e-5;
  g_autofree char *what_dx = g_strconcat (what, " dx", NULL);
  g_autofree char *what_dg = g_strconcat (what, " dgamma", NULL);
  g_autofree char *what_db = g_strconcat (what, " dbeta", NULL);

  lk_test_assert_close (what_dx, dx, ref_dx, n, bound, dt == LK_DTYPE_F16 ? 1e-2 : 1e-4);
  if (dgamma != NULL)
    {
      lk_test_assert_close (what_dg, dgamma, ref_dgamma, channels, bound, 0);
      lk_test_assert_close (what_db, dbeta, ref_dbeta, channels, bound, 0);
    }
  if (loss == NULL)
    return;
  check_by_fd (what_dx, loss, data, x, n, dx);
  if (dgamma != NULL)
    {
      check_by_fd (what_dg, loss, data, gamma, channels, dgamma);
      check_by_fd (what_db, loss, data, beta, channels, dbeta);
    }
}

/* Activations */

typedef struct
{
  LkActivation activation;
  const float *x, *w;
  gsize        n;
} ActivationLoss;

static double
activation_loss (gconstpointer data)
{
  const ActivationLoss *c = data;
  double l = 0;

  for (gsize i = 0; i < c->n; i++)
    l += c->w[i] * lk_ref_activation_value (c->activation, c->x[i]);
  return l;
}

static void
test_activation (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 sizes[] = { 1, 7, 13, 1000 };
  static const char *names[] = { "silu", "gelu", "quick gelu" };

  if (stream == NULL)
    return;

  for (guint a = 0; a < LK_N_ACTIVATIONS; a++)
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
      for (guint f16 = 0; f16 < 2; f16++)
        {
          gsize n = sizes[s];
          LkDType dt = f16 ? LK_DTYPE_F16 : LK_DTYPE_F32;
          g_autoptr(GError) error = NULL;
          g_autofree float *x = lk_test_random (n, -6, 6, 10 * a + s);
          g_autofree float *dy = lk_test_random (n, -1, 1, 100 + 10 * a + s);
          g_autofree float *ref = g_new (float, n);
          g_autofree float *out = NULL;
          g_autoptr(LkTensor) tx = NULL, tdy = NULL, tdx = NULL;
          g_autofree char *what = g_strdup_printf ("%s backward [%zu] %s", names[a], n,
                                                   lk_dtype_name (dt));

          if (f16)
            {
              lk_round_to_half (x, n);
              lk_round_to_half (dy, n);
            }
          tx = lk_test_tensor_from (stream, dt, 1, &sizes[s], x);
          tdy = lk_test_tensor_from (stream, dt, 1, &sizes[s], dy);
          tdx = lk_test_tensor_poisoned (stream, dt, 1, &sizes[s]);
          g_assert_true (lk_op_activation_backward (stream, a, tx, tdy, tdx, &error));
          g_assert_no_error (error);
          out = lk_test_download (stream, tdx);

          lk_ref_activation_backward (a, x, dy, ref, n);
          /* erf by A&S 7.1.26 (1.5e-7) and f32 exp: a few 1e-7; f16 output rounding 2⁻¹¹. */
          lk_test_assert_close (what, out, ref, n, f16 ? 1e-3 : 2e-6, f16 ? 2e-3 : 1e-6);
          if (!f16 && n <= 13)
            {
              ActivationLoss c = { a, x, dy, n };

              check_by_fd (what, activation_loss, &c, x, n, out);
            }
        }
}

/* GEGLU */

typedef struct
{
  const float *x, *w;
  gsize        rows, h;
} GegluLoss;

static double
geglu_loss (gconstpointer data)
{
  const GegluLoss *c = data;
  double l = 0;

  for (gsize r = 0; r < c->rows; r++)
    for (gsize j = 0; j < c->h; j++)
      l += (double) c->w[r * c->h + j] * c->x[r * 2 * c->h + j] *
           lk_ref_activation_value (LK_ACTIVATION_GELU, c->x[r * 2 * c->h + c->h + j]);
  return l;
}

static void
test_geglu (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 shapes[][2] = { { 1, 1 }, { 7, 13 }, { 13, 7 }, { 3, 640 } };

  if (stream == NULL)
    return;

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      gsize rows = shapes[s][0], h = shapes[s][1];
      gint64 x_shape[] = { rows, 2 * h };
      g_autoptr(GError) error = NULL;
      g_autofree float *x = lk_test_random (rows * 2 * h, -4, 4, 20 + s);
      g_autofree float *dy = lk_test_random (rows * h, -1, 1, 30 + s);
      g_autofree float *ref = g_new (float, rows * 2 * h);
      g_autofree float *out = NULL;
      g_autoptr(LkTensor) tx = NULL, tdy = NULL, tdx = NULL;
      g_autofree char *what = g_strdup_printf ("geglu backward %zu×%zu", rows, h);

      tx = lk_test_tensor_from (stream, LK_DTYPE_F32, 2, x_shape, x);
      tdy = lk_test_tensor_from (stream, LK_DTYPE_F32, 2, shapes[s], dy);
      tdx = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, x_shape);
      g_assert_true (lk_op_geglu_backward (stream, tx, tdy, tdx, &error));
      g_assert_no_error (error);
      out = lk_test_download (stream, tdx);

      lk_ref_geglu_backward (x, dy, ref, rows, h);
      lk_test_assert_close (what, out, ref, rows * 2 * h, 2e-6, 1e-5);
      if (rows * h <= 100)
        {
          GegluLoss c = { x, dy, rows, h };

          check_by_fd (what, geglu_loss, &c, x, rows * 2 * h, out);
        }
    }
}

/* Layer norm */

typedef struct
{
  const float *x, *gamma, *beta, *w;
  gsize        rows, dim;
  float        eps;
} LayerNormLoss;

static double
layer_norm_loss (gconstpointer data)
{
  const LayerNormLoss *c = data;
  double l = 0;

  for (gsize r = 0; r < c->rows; r++)
    {
      const float *x = c->x + r * c->dim;
      double sum = 0, m2 = 0, mean, rstd;

      for (gsize i = 0; i < c->dim; i++)
        sum += x[i];
      mean = sum / c->dim;
      for (gsize i = 0; i < c->dim; i++)
        m2 += (x[i] - mean) * (x[i] - mean);
      rstd = 1.0 / sqrt (m2 / c->dim + c->eps);
      for (gsize i = 0; i < c->dim; i++)
        {
          double y = (x[i] - mean) * rstd;

          if (c->gamma != NULL)
            y = y * c->gamma[i] + c->beta[i];
          l += c->w[r * c->dim + i] * y;
        }
    }
  return l;
}

static void
check_layer_norm (LkStream     *stream,
                  const gint64 *shape,
                  gboolean      affine,
                  LkDType       dt,
                  guint32       seed)
{
  gsize rows = shape[0], dim = shape[1], n = rows * dim;
  float eps = 1e-5f;
  g_autoptr(GError) error = NULL;
  g_autofree float *x = lk_test_random (n, -2, 3, seed);
  g_autofree float *gamma = lk_test_random (dim, 0.5, 1.5, seed + 1);
  g_autofree float *beta = lk_test_random (dim, -0.5, 0.5, seed + 2);
  g_autofree float *dy = lk_test_random (n, -1, 1, seed + 3);
  g_autofree float *ref_dx = g_new (float, n);
  g_autofree float *ref_dg = g_new (float, dim);
  g_autofree float *ref_db = g_new (float, dim);
  g_autofree float *dx = NULL, *dg = NULL, *db = NULL;
  g_autoptr(LkTensor) tx = NULL, tg = NULL, tdy = NULL, tdx = NULL, tdg = NULL, tdb = NULL;
  g_autofree char *what = g_strdup_printf ("layer norm backward %zu×%zu%s %s", rows, dim,
                                           affine ? " affine" : "", lk_dtype_name (dt));

  if (dt == LK_DTYPE_F16)
    {
      lk_round_to_half (x, n);
      lk_round_to_half (dy, n);
    }
  tx = lk_test_tensor_from (stream, dt, 2, shape, x);
  tg = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, &shape[1], gamma);
  tdy = lk_test_tensor_from (stream, dt, 2, shape, dy);
  tdx = lk_test_tensor_poisoned (stream, dt, 2, shape);
  tdg = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, &shape[1]);
  tdb = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, &shape[1]);
  g_assert_true (lk_op_layer_norm_backward (stream, tx, affine ? tg : NULL, tdy, tdx,
                                            affine ? tdg : NULL, affine ? tdb : NULL, eps,
                                            &error));
  g_assert_no_error (error);
  dx = lk_test_download (stream, tdx);

  lk_ref_layer_norm_backward (x, affine ? gamma : NULL, dy, ref_dx, ref_dg, ref_db, rows, dim, eps);
  if (affine)
    {
      dg = lk_test_download (stream, tdg);
      db = lk_test_download (stream, tdb);
    }
  {
    LayerNormLoss c = { x, affine ? gamma : NULL, beta, dy, rows, dim, eps };

    check_norm_grads (what, dt, dt == LK_DTYPE_F32 && n <= 200 ? layer_norm_loss : NULL, &c,
                      x, n, dx, ref_dx, gamma, beta, dim, dg, ref_dg, db, ref_db);
  }
}

static void
test_layer_norm (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 shapes[][2] = { { 1, 1 }, { 7, 13 }, { 13, 7 }, { 1, 7 }, { 300, 320 },
                                      { 3, 1000 } };

  if (stream == NULL)
    return;

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (guint variant = 0; variant < 3; variant++)
      check_layer_norm (stream, shapes[s], variant != 1, variant == 2 ? LK_DTYPE_F16 : LK_DTYPE_F32,
                        10 * s + variant);
}

/* Group norm */

typedef struct
{
  const float *x, *gamma, *beta, *w;
  gsize        batch, channels, spatial;
  guint        groups;
  float        eps;
  gboolean     silu;
} GroupNormLoss;

static double
group_norm_loss (gconstpointer data)
{
  const GroupNormLoss *c = data;
  gsize per_group = c->channels / c->groups, m = per_group * c->spatial;
  double l = 0;

  for (gsize n = 0; n < c->batch; n++)
    for (guint g = 0; g < c->groups; g++)
      {
        gsize base = (n * c->channels + g * per_group) * c->spatial;
        double sum = 0, m2 = 0, mean, rstd;

        for (gsize i = 0; i < m; i++)
          sum += c->x[base + i];
        mean = sum / m;
        for (gsize i = 0; i < m; i++)
          m2 += (c->x[base + i] - mean) * (c->x[base + i] - mean);
        rstd = 1.0 / sqrt (m2 / m + c->eps);
        for (gsize i = 0; i < m; i++)
          {
            gsize ch = g * per_group + i / c->spatial;
            double y = (c->x[base + i] - mean) * rstd;

            if (c->gamma != NULL)
              y = y * c->gamma[ch] + c->beta[ch];
            if (c->silu)
              y = lk_ref_activation_value (LK_ACTIVATION_SILU, y);
            l += c->w[base + i] * y;
          }
      }
  return l;
}

static void
check_group_norm (LkStream     *stream,
                  const gint64 *shape,
                  guint         groups,
                  gboolean      affine,
                  gboolean      silu,
                  LkDType       dt,
                  guint32       seed)
{
  gsize batch = shape[0], channels = shape[1], spatial = shape[2] * shape[3];
  gsize n = batch * channels * spatial;
  float eps = 1e-5f;
  g_autoptr(GError) error = NULL;
  g_autofree float *x = lk_test_random (n, -2, 3, seed);
  g_autofree float *gamma = lk_test_random (channels, 0.5, 1.5, seed + 1);
  g_autofree float *beta = lk_test_random (channels, -0.5, 0.5, seed + 2);
  g_autofree float *dy = lk_test_random (n, -1, 1, seed + 3);
  g_autofree float *ref_dx = g_new (float, n);
  g_autofree float *ref_dg = g_new (float, channels);
  g_autofree float *ref_db = g_new (float, channels);
  g_autofree float *dx = NULL, *dg = NULL, *db = NULL;
  g_autoptr(LkTensor) tx = NULL, tg = NULL, tb = NULL, tdy = NULL, tdx = NULL, tdg = NULL, tdb = NULL;
  g_autofree char *what = g_strdup_printf ("group norm backward [%zu, %zu, %zu] /%u%s%s %s",
                                           batch, channels, spatial, groups,
                                           affine ? " affine" : "", silu ? " silu" : "",
                                           lk_dtype_name (dt));

  if (dt == LK_DTYPE_F16)
    {
      lk_round_to_half (x, n);
      lk_round_to_half (dy, n);
      lk_round_to_half (gamma, channels);
      lk_round_to_half (beta, channels);
    }
  tx = lk_test_tensor_from (stream, dt, 4, shape, x);
  tg = lk_test_tensor_from (stream, dt, 1, &shape[1], gamma);
  tb = lk_test_tensor_from (stream, dt, 1, &shape[1], beta);
  tdy = lk_test_tensor_from (stream, dt, 4, shape, dy);
  tdx = lk_test_tensor_poisoned (stream, dt, 4, shape);
  tdg = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, &shape[1]);
  tdb = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, &shape[1]);
  g_assert_true (lk_op_group_norm_backward (stream, tx, affine ? tg : NULL, affine ? tb : NULL,
                                            tdy, tdx, affine ? tdg : NULL, affine ? tdb : NULL,
                                            groups, eps, silu, &error));
  g_assert_no_error (error);
  dx = lk_test_download (stream, tdx);

  lk_ref_group_norm_backward (x, affine ? gamma : NULL, affine ? beta : NULL, dy, ref_dx, ref_dg,
                              ref_db, batch, channels, spatial, groups, eps, silu);
  if (affine)
    {
      dg = lk_test_download (stream, tdg);
      db = lk_test_download (stream, tdb);
    }
  {
    GroupNormLoss c = { x, affine ? gamma : NULL, beta, dy, batch, channels, spatial, groups,
                        eps, silu };

    check_norm_grads (what, dt, dt == LK_DTYPE_F32 && n <= 200 ? group_norm_loss : NULL, &c,
                      x, n, dx, ref_dx, gamma, beta, channels, dg, ref_dg, db, ref_db);
  }
}

static void
test_group_norm (void)
{
  LkStream *stream = lk_test_stream ();
  static const struct { gint64 shape[4]; guint groups; } cases[] = {
    { { 1, 1, 1, 1 }, 1 },
    { { 2, 6, 7, 1 }, 3 },
    { { 1, 13, 1, 1 }, 1 },
    { { 1, 7, 13, 1 }, 7 },
    { { 2, 4, 3, 3 }, 2 },
    { { 2, 64, 13, 7 }, 32 },
    { { 1, 32, 40, 40 }, 8 },
  };

  if (stream == NULL)
    return;

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    for (guint variant = 0; variant < 5; variant++)
      check_group_norm (stream, cases[c].shape, cases[c].groups, variant != 2, variant & 1,
                        variant == 4 ? LK_DTYPE_F16 : LK_DTYPE_F32, 10 * c + variant);
}

/* GEMM */

typedef struct
{
  const float *a, *b, *bias, *w;
  gsize        batch, batch_b, m, n, k;
  LkGemmOptions o;
} GemmLoss;

static double
gemm_loss (gconstpointer data)
{
  const GemmLoss *c = data;
  g_autofree float *out = g_new (float, c->batch * c->m * c->n);
  double l = 0;

  lk_ref_gemm (c->a, c->b, c->bias, out, c->batch, c->batch_b, c->m, c->n, c->k, &c->o);
  for (gsize i = 0; i < c->batch * c->m * c->n; i++)
    l += c->w[i] * (double) out[i];
  return l;
}

static void
check_gemm (LkStream *stream,
            gsize     batch,
            gsize     batch_b,
            gsize     m,
            gsize     n,
            gsize     k,
            gboolean  ta,
            gboolean  tb,
            float     alpha,
            guint32   seed)
{
  LkGemmOptions o = { ta, tb, alpha };
  gint64 a_shape[] = { batch, ta ? k : m, ta ? m : k };
  gint64 b_shape[] = { batch_b, tb ? n : k, tb ? k : n };
  gint64 c_shape[] = { batch, m, n };
  gint64 bias_shape[] = { n };
  gsize na = batch * m * k, nb = batch_b * k * n, nc = batch * m * n;
  g_autoptr(GError) error = NULL;
  g_autofree float *a = lk_test_random (na, -1, 1, seed);
  g_autofree float *b = lk_test_random (nb, -1, 1, seed + 1);
  g_autofree float *bias = lk_test_random (n, -1, 1, seed + 2);
  g_autofree float *dc = lk_test_random (nc, -1, 1, seed + 3);
  g_autofree float *da = NULL, *db = NULL, *dbias = NULL;
  g_autoptr(LkTensor) ta_ = NULL, tb_ = NULL, tdc = NULL, tda = NULL, tdb = NULL, tdbias = NULL;
  g_autofree char *what = g_strdup_printf ("gemm backward %zu×[%zu×%zu]%s·%zu×[%zu×%zu]%s α %g",
                                           batch, m, k, ta ? "ᵀ" : "", batch_b, k, n,
                                           tb ? "ᵀ" : "", alpha);
  GemmLoss c = { a, b, bias, dc, batch, batch_b, m, n, k, o };
  g_autofree char *what_a = g_strconcat (what, " da", NULL);
  g_autofree char *what_b = g_strconcat (what, " db", NULL);
  g_autofree char *what_bias = g_strconcat (what, " dbias", NULL);

  ta_ = lk_test_tensor_from (stream, LK_DTYPE_F32, 3, a_shape, a);
  tb_ = lk_test_tensor_from (stream, LK_DTYPE_F32, 3, b_shape, b);
  tdc = lk_test_tensor_from (stream, LK_DTYPE_F32, 3, c_shape, dc);
  tda = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, a_shape);
  tdb = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, b_shape);
  tdbias = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, bias_shape);
  g_assert_true (lk_op_gemm_backward (stream, ta_, tb_, tdc, tda, tdb, tdbias, &o, &error));
  g_assert_no_error (error);
  da = lk_test_download (stream, tda);
  db = lk_test_download (stream, tdb);
  dbias = lk_test_download (stream, tdbias);

  /* L is linear in each operand, so a large step has no truncation error and keeps the f32
   * rounding of the reference's outputs (~1e-7 of each term) small against the step. */
  check_by_fd_step (what_a, gemm_loss, &c, a, na, da, 0.5f);
  check_by_fd_step (what_b, gemm_loss, &c, b, nb, db, 0.5f);
  check_by_fd_step (what_bias, gemm_loss, &c, bias, n, dbias, 0.5f);
}

static void
test_gemm (void)
{
  LkStream *stream = lk_test_stream ();

  if (stream == NULL)
    return;

  for (guint t = 0; t < 4; t++)
    {
      check_gemm (stream, 1, 1, 7, 13, 5, t & 1, t & 2, 1.0f, 10 + t);
      check_gemm (stream, 2, 2, 13, 7, 1, t & 1, t & 2, 0.5f, 20 + t);
      check_gemm (stream, 1, 1, 1, 1, 13, t & 1, t & 2, 1.0f, 30 + t);
    }
  /* Linear weights shared by a batch: db sums over it. */
  check_gemm (stream, 3, 1, 7, 5, 13, FALSE, TRUE, 1.0f, 40);
  check_gemm (stream, 3, 1, 7, 5, 13, FALSE, FALSE, 2.0f, 41);
}

static void
test_sum_rows (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 shapes[][2] = { { 1, 1 }, { 7, 13 }, { 257, 3 }, { 70000, 5 } };

  if (stream == NULL)
    return;

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      gsize rows = shapes[s][0], cols = shapes[s][1];
      g_autoptr(GError) error = NULL;
      g_autofree float *x = lk_test_random (rows * cols, -1, 1, s);
      g_autofree float *ref = g_new0 (float, cols);
      g_autofree float *out = NULL;
      g_autoptr(LkTensor) tx = NULL, ty = NULL;
      g_autofree char *what = g_strdup_printf ("sum rows %zu×%zu", rows, cols);
      g_autofree double *sum = g_new0 (double, cols);

      tx = lk_test_tensor_from (stream, LK_DTYPE_F32, 2, shapes[s], x);
      ty = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, &shapes[s][1]);
      g_assert_true (lk_op_sum_rows (stream, tx, ty, &error));
      g_assert_no_error (error);
      out = lk_test_download (stream, ty);
      for (gsize r = 0; r < rows; r++)
        for (gsize c = 0; c < cols; c++)
          sum[c] += x[r * cols + c];
      for (gsize c = 0; c < cols; c++)
        ref[c] = sum[c];
      /* f32 sums of 256 terms per stage: ~1e-6 relative to the sum of magnitudes, which for
       * 70000 terms of ±1 is ~100× the sum itself. */
      lk_test_assert_close (what, out, ref, cols, rows > 1000 ? 1e-4 : 1e-6, 0);
    }
}

/* Gradient statistics and AdamW */

static void
test_grad_stats (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 sizes[] = { 1, 7, 13, 5000, 9000 };
  LkTensor *tensors[G_N_ELEMENTS (sizes)];
  double sum = 0;
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) stats = NULL;
  g_autofree float *out = NULL;
  static const gint64 two = 2;

  if (stream == NULL)
    return;

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      LkDType dt = i % 2 ? LK_DTYPE_F16 : LK_DTYPE_F32;
      g_autofree float *x = lk_test_random (sizes[i], -2, 2, i);

      if (dt == LK_DTYPE_F16)
        lk_round_to_half (x, sizes[i]);
      for (gint64 j = 0; j < sizes[i]; j++)
        sum += (double) x[j] * x[j];
      tensors[i] = lk_test_tensor_from (stream, dt, 1, &sizes[i], x);
    }
  stats = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, &two);
  g_assert_true (lk_op_grad_stats (stream, tensors, G_N_ELEMENTS (sizes), stats, &error));
  g_assert_no_error (error);
  out = lk_test_download (stream, stats);
  g_test_message ("Σ x² %.9g (ref %.9g), non-finite %g", out[0], sum, out[1]);
  g_assert_cmpfloat (fabs (out[0] - sum), <=, 1e-5 * sum);
  g_assert_cmpfloat (out[1], ==, 0);

  /* One NaN and one inf somewhere: counted, whatever they do to the sum. */
  {
    float bad[] = { NAN };
    g_autofree float *again = NULL;

    lk_tensor_poison (stats, stream);
    /* tensors[3] is f16 (an f16 inf), tensors[4] f32 (an f32 NaN). */
    g_assert_true (lk_stream_upload (stream, tensors[3]->buffer, tensors[3]->offset + 100 * 2,
                                     (guint16[]) { 0x7c00 }, 2, &error));
    g_assert_true (lk_stream_upload (stream, tensors[4]->buffer, tensors[4]->offset + 8999 * 4,
                                     &bad[0], 4, &error));
    g_assert_no_error (error);
    g_assert_true (lk_op_grad_stats (stream, tensors, G_N_ELEMENTS (sizes), stats, &error));
    g_assert_no_error (error);
    again = lk_test_download (stream, stats);
    g_test_message ("with NaN and inf: non-finite %g", again[1]);
    g_assert_cmpfloat (again[1], ==, 2);
  }

  /* No tensors: zeros. */
  {
    g_autofree float *none = NULL;

    g_assert_true (lk_op_grad_stats (stream, NULL, 0, stats, &error));
    none = lk_test_download (stream, stats);
    g_assert_cmpfloat (none[0], ==, 0);
    g_assert_cmpfloat (none[1], ==, 0);
  }
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    lk_tensor_unref (tensors[i]);
}

/* Three steps on the device and on the double reference, with clipping and loss scaling, and
 * a step skipped for an inf gradient. */
static void
test_adamw (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 shape[] = { 1000 };
  static const gint64 two = 2;
  gsize n = shape[0];
  g_autoptr(GError) error = NULL;
  g_autofree float *param = lk_test_random (n, -1, 1, 1);
  g_autofree float *m = g_new0 (float, n);
  g_autofree float *v = g_new0 (float, n);
  g_autoptr(LkTensor) tp = NULL, tm = NULL, tv = NULL, tg = NULL, stats = NULL;
  LkAdamWOptions o = LK_ADAMW_OPTIONS_DEFAULT;

  if (stream == NULL)
    return;

  o.lr = 1e-2;  /* large enough for the step to show in the parameters */
  o.grad_scale = 1.0 / 1024;
  tp = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, param);
  tm = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, m);
  tv = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, v);
  stats = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, &two);

  for (guint step = 1; step <= 4; step++)
    {
      /* Scaled by 1024 as a loss-scaled backward pass would; step 2's norm (~1000 · 0.5 ·
       * 1024 / 1024 ≈ 18) is clipped to 1, the others are not clipped (norm < 1). */
      g_autofree float *g = lk_test_random (n, -1024 * (step == 2 ? 1.0f : 0.02f),
                                            1024 * (step == 2 ? 1.0f : 0.02f), 10 + step);
      g_autofree float *host_stats = NULL, *dp = NULL, *dm = NULL, *dv = NULL;
      g_autofree char *what = NULL;

      if (step == 3)
        g[17] = INFINITY;  /* this step must change nothing */
      g_clear_pointer (&tg, lk_tensor_unref);
      tg = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, g);
      g_assert_true (lk_op_grad_stats (stream, &tg, 1, stats, &error));
      g_assert_true (lk_op_adamw_step (stream, tp, tg, tm, tv, stats, &o, &error));
      g_assert_no_error (error);
      host_stats = lk_test_download (stream, stats);
      lk_ref_adamw_step (param, g, m, v, n, host_stats, &o);
      if (host_stats[1] == 0)
        o.step++;

      dp = lk_test_download (stream, tp);
      dm = lk_test_download (stream, tm);
      dv = lk_test_download (stream, tv);
      what = g_strdup_printf ("adamw step %u (norm %g, non-finite %g)", step,
                              sqrt (host_stats[0]) / 1024, host_stats[1]);
      lk_test_assert_close (what, dp, param, n, 1e-6, 0);
      lk_test_assert_close (what, dm, m, n, 1e-6, 0);
      lk_test_assert_close (what, dv, v, n, 1e-6, 0);
    }
  g_assert_cmpuint (o.step, ==, 4);
}

/* The GPU shapes of the reductions forced on this device: several subgroups meeting in shared
 * memory, and the shared-memory tree for devices without subgroup arithmetic. */
static void
test_gpu_shapes (void)
{
  LkStream *stream = lk_test_stream ();
  static const char *shapes[] = { "64,1", "32,0", "256,0" };
  static const gint64 ln[] = { 13, 1000 }, gn[] = { 2, 64, 13, 7 };

  if (stream == NULL)
    return;

  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_test_message ("local size, subgroup: %s", shapes[i]);
      g_setenv ("LIKENESS_REDUCE_LOCAL_SIZE", shapes[i], TRUE);
      check_layer_norm (stream, ln, TRUE, LK_DTYPE_F32, 60 + i);
      check_group_norm (stream, gn, 32, TRUE, TRUE, LK_DTYPE_F32, 70 + i);
      test_grad_stats ();
      g_unsetenv ("LIKENESS_REDUCE_LOCAL_SIZE");
    }
}

/* torch.autograd and torch.optim.AdamW, all cases in one run of the oracle. */
static void
test_oracle (void)
{
  LkStream *stream = lk_test_stream ();
  g_autoptr(LkOracle) oracle = NULL;
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autoptr(GArray) bounds = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree float *expected = NULL;
  guint index = 0;
  gsize offset = 0;

#define APPEND(name, data, count, bound) G_STMT_START {                          \
    gsize n_ = (count);                                                          \
    double b_ = (bound);                                                         \
    g_array_append_vals (out, (data), n_);                                       \
    g_array_append_val (sizes, n_);                                              \
    g_array_append_val (bounds, b_);                                             \
    g_ptr_array_add (names, g_strdup_printf ("%s (case %u) vs torch", (name), index)); \
  } G_STMT_END

  if (stream == NULL || (oracle = lk_oracle_new ("oracle_backward.py")) == NULL)
    return;

  /* Layer norm at CLIP's width, group norm (+ SiLU) at a small SD1.5 shape. */
  {
    static const gint64 shape[] = { 77, 768 };
    gsize n = 77 * 768, dim = 768;
    g_autoptr(GError) error = NULL;
    g_autofree float *x = lk_test_random (n, -3, 3, 1);
    g_autofree float *gamma = lk_test_random (dim, 0.5, 1.5, 2);
    g_autofree float *beta = lk_test_random (dim, -0.5, 0.5, 3);
    g_autofree float *dy = lk_test_random (n, -1, 1, 4);
    g_autofree float *dx = NULL, *dg = NULL, *db = NULL;
    g_autoptr(LkTensor) tx = lk_test_tensor_from (stream, LK_DTYPE_F32, 2, shape, x);
    g_autoptr(LkTensor) tg = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, &shape[1], gamma);
    g_autoptr(LkTensor) tdy = lk_test_tensor_from (stream, LK_DTYPE_F32, 2, shape, dy);
    g_autoptr(LkTensor) tdx = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, shape);
    g_autoptr(LkTensor) tdg = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, &shape[1]);
    g_autoptr(LkTensor) tdb = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, &shape[1]);

    g_assert_true (lk_op_layer_norm_backward (stream, tx, tg, tdy, tdx, tdg, tdb, 1e-5f, &error));
    g_assert_no_error (error);
    dx = lk_test_download (stream, tdx);
    dg = lk_test_download (stream, tdg);
    db = lk_test_download (stream, tdb);
    APPEND ("layer norm dx", dx, n, 1e-5);
    APPEND ("layer norm dgamma", dg, dim, 1e-5);
    APPEND ("layer norm dbeta", db, dim, 1e-5);
    lk_oracle_case_string (oracle, index, "op", "layer_norm");
    lk_oracle_case_int (oracle, index, "rows", 77);
    lk_oracle_case_int (oracle, index, "dim", dim);
    lk_oracle_case_double (oracle, index, "eps", 1e-5);
    lk_oracle_case_input (oracle, index, "x", x, n);
    lk_oracle_case_input (oracle, index, "gamma", gamma, dim);
    lk_oracle_case_input (oracle, index, "beta", beta, dim);
    lk_oracle_case_input (oracle, index, "dy", dy, n);
    index++;
  }
  for (guint silu = 0; silu < 2; silu++)
    {
      static const gint64 shape[] = { 2, 320, 8, 8 };
      gsize n = 2 * 320 * 64, channels = 320;
      g_autoptr(GError) error = NULL;
      g_autofree float *x = lk_test_random (n, -2, 3, 10 + silu);
      g_autofree float *gamma = lk_test_random (channels, 0.5, 1.5, 12 + silu);
      g_autofree float *beta = lk_test_random (channels, -0.5, 0.5, 14 + silu);
      g_autofree float *dy = lk_test_random (n, -1, 1, 16 + silu);
      g_autofree float *dx = NULL, *dg = NULL, *db = NULL;
      g_autoptr(LkTensor) tx = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, shape, x);
      g_autoptr(LkTensor) tg = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, &shape[1], gamma);
      g_autoptr(LkTensor) tb = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, &shape[1], beta);
      g_autoptr(LkTensor) tdy = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, shape, dy);
      g_autoptr(LkTensor) tdx = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, shape);
      g_autoptr(LkTensor) tdg = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, &shape[1]);
      g_autoptr(LkTensor) tdb = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, &shape[1]);

      g_assert_true (lk_op_group_norm_backward (stream, tx, tg, tb, tdy, tdx, tdg, tdb, 32, 1e-5f,
                                                silu, &error));
      g_assert_no_error (error);
      dx = lk_test_download (stream, tdx);
      dg = lk_test_download (stream, tdg);
      db = lk_test_download (stream, tdb);
      APPEND (silu ? "group norm + silu dx" : "group norm dx", dx, n, 1e-5);
      APPEND (silu ? "group norm + silu dgamma" : "group norm dgamma", dg, channels, 1e-5);
      APPEND (silu ? "group norm + silu dbeta" : "group norm dbeta", db, channels, 1e-5);
      lk_oracle_case_string (oracle, index, "op", "group_norm");
      lk_oracle_case_int (oracle, index, "n", 2);
      lk_oracle_case_int (oracle, index, "c", channels);
      lk_oracle_case_int (oracle, index, "spatial", 64);
      lk_oracle_case_int (oracle, index, "groups", 32);
      lk_oracle_case_int (oracle, index, "silu", silu);
      lk_oracle_case_double (oracle, index, "eps", 1e-5);
      lk_oracle_case_input (oracle, index, "x", x, n);
      lk_oracle_case_input (oracle, index, "gamma", gamma, channels);
      lk_oracle_case_input (oracle, index, "beta", beta, channels);
      lk_oracle_case_input (oracle, index, "dy", dy, n);
      index++;
    }

  /* Activations over ±8, where SiLU' and GELU' have their tails. */
  for (guint a = 0; a < LK_N_ACTIVATIONS; a++)
    {
      static const char *ops[] = { "silu", "gelu", "quick_gelu" };
      static const gint64 shape[] = { 4097 };
      g_autoptr(GError) error = NULL;
      g_autofree float *x = lk_test_random (shape[0], -8, 8, 20 + a);
      g_autofree float *dy = lk_test_random (shape[0], -1, 1, 23 + a);
      g_autofree float *dx = NULL;
      g_autoptr(LkTensor) tx = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, x);
      g_autoptr(LkTensor) tdy = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, dy);
      g_autoptr(LkTensor) tdx = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, shape);

      g_assert_true (lk_op_activation_backward (stream, a, tx, tdy, tdx, &error));
      g_assert_no_error (error);
      dx = lk_test_download (stream, tdx);
      APPEND (ops[a], dx, shape[0], 1e-6);
      lk_oracle_case_string (oracle, index, "op", ops[a]);
      lk_oracle_case_int (oracle, index, "n", shape[0]);
      lk_oracle_case_input (oracle, index, "x", x, shape[0]);
      lk_oracle_case_input (oracle, index, "dy", dy, shape[0]);
      index++;
    }

  {
    static const gint64 x_shape[] = { 2, 13, 2 * 640 }, y_shape[] = { 2, 13, 640 };
    gsize n = 2 * 13 * 640;
    g_autoptr(GError) error = NULL;
    g_autofree float *x = lk_test_random (2 * n, -4, 4, 30);
    g_autofree float *dy = lk_test_random (n, -1, 1, 31);
    g_autofree float *dx = NULL;
    g_autoptr(LkTensor) tx = lk_test_tensor_from (stream, LK_DTYPE_F32, 3, x_shape, x);
    g_autoptr(LkTensor) tdy = lk_test_tensor_from (stream, LK_DTYPE_F32, 3, y_shape, dy);
    g_autoptr(LkTensor) tdx = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, x_shape);

    g_assert_true (lk_op_geglu_backward (stream, tx, tdy, tdx, &error));
    g_assert_no_error (error);
    dx = lk_test_download (stream, tdx);
    APPEND ("geglu dx", dx, 2 * n, 1e-6);
    lk_oracle_case_string (oracle, index, "op", "geglu");
    lk_oracle_case_int (oracle, index, "rows", 26);
    lk_oracle_case_int (oracle, index, "h", 640);
    lk_oracle_case_input (oracle, index, "x", x, 2 * n);
    lk_oracle_case_input (oracle, index, "dy", dy, n);
    index++;
  }

  /* A Linear layer (weights [N, K] shared by the batch) and a transposed-A batched GEMM. */
  for (guint g = 0; g < 2; g++)
    {
      gsize batch = 2, batch_b = g == 0 ? 1 : 2, m = 77, n = 320, k = g == 0 ? 768 : 40;
      gboolean ta = g == 1, tb = g == 0;
      float alpha = g == 0 ? 1.0f : 0.125f;
      LkGemmOptions o = { ta, tb, alpha };
      gint64 a_shape[] = { batch, ta ? k : m, ta ? m : k };
      gint64 b_shape[] = { batch_b, tb ? n : k, tb ? k : n };
      gint64 c_shape[] = { batch, m, n };
      gint64 bias_shape[] = { n };
      g_autoptr(GError) error = NULL;
      g_autofree float *a = lk_test_random (batch * m * k, -1, 1, 40 + g);
      g_autofree float *b = lk_test_random (batch_b * k * n, -1, 1, 42 + g);
      g_autofree float *bias = lk_test_random (n, -1, 1, 44 + g);
      g_autofree float *dc = lk_test_random (batch * m * n, -1, 1, 46 + g);
      g_autofree float *da = NULL, *db = NULL, *dbias = NULL;
      g_autoptr(LkTensor) ta_ = lk_test_tensor_from (stream, LK_DTYPE_F32, 3, a_shape, a);
      g_autoptr(LkTensor) tb_ = lk_test_tensor_from (stream, LK_DTYPE_F32, 3, b_shape, b);
      g_autoptr(LkTensor) tdc = lk_test_tensor_from (stream, LK_DTYPE_F32, 3, c_shape, dc);
      g_autoptr(LkTensor) tda = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, a_shape);
      g_autoptr(LkTensor) tdb = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, b_shape);
      g_autoptr(LkTensor) tdbias = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, bias_shape);

      g_assert_true (lk_op_gemm_backward (stream, ta_, tb_, tdc, tda, tdb, tdbias, &o, &error));
      g_assert_no_error (error);
      da = lk_test_download (stream, tda);
      db = lk_test_download (stream, tdb);
      dbias = lk_test_download (stream, tdbias);
      APPEND ("gemm da", da, batch * m * k, 1e-5);
      APPEND ("gemm db", db, batch_b * k * n, 1e-5);
      APPEND ("gemm dbias", dbias, n, 1e-5);
      lk_oracle_case_string (oracle, index, "op", "gemm");
      lk_oracle_case_int (oracle, index, "batch", batch);
      lk_oracle_case_int (oracle, index, "batch_b", batch_b);
      lk_oracle_case_int (oracle, index, "m", m);
      lk_oracle_case_int (oracle, index, "n", n);
      lk_oracle_case_int (oracle, index, "k", k);
      lk_oracle_case_int (oracle, index, "transpose_a", ta);
      lk_oracle_case_int (oracle, index, "transpose_b", tb);
      lk_oracle_case_double (oracle, index, "alpha", alpha);
      lk_oracle_case_input (oracle, index, "a", a, batch * m * k);
      lk_oracle_case_input (oracle, index, "b", b, batch_b * k * n);
      lk_oracle_case_input (oracle, index, "bias", bias, n);
      lk_oracle_case_input (oracle, index, "dc", dc, batch * m * n);
      index++;
    }

  /* AdamW: three steps, lr 1e-3, weight decay 1e-2, no scaling or clipping (torch's step). */
  {
    static const gint64 shape[] = { 4099 };
    gsize n = shape[0];
    g_autoptr(GError) error = NULL;
    g_autofree float *param = lk_test_random (n, -1, 1, 50);
    g_autofree float *zeros = g_new0 (float, n);
    g_autoptr(LkTensor) tp = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, param);
    g_autoptr(LkTensor) tm = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, zeros);
    g_autoptr(LkTensor) tv = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, zeros);
    LkAdamWOptions o = LK_ADAMW_OPTIONS_DEFAULT;

    o.lr = 1e-3;
    lk_oracle_case_string (oracle, index, "op", "adamw");
    lk_oracle_case_int (oracle, index, "n", n);
    lk_oracle_case_int (oracle, index, "steps", 3);
    lk_oracle_case_double (oracle, index, "lr", o.lr);
    lk_oracle_case_double (oracle, index, "weight_decay", o.weight_decay);
    lk_oracle_case_input (oracle, index, "param", param, n);
    for (guint step = 1; step <= 3; step++)
      {
        g_autofree float *g = lk_test_random (n, -0.1f * step, 0.1f * step, 50 + step);
        g_autofree char *gname = g_strdup_printf ("g%u_", step - 1);
        g_autoptr(LkTensor) tg = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, shape, g);
        g_autofree float *p = NULL;

        o.step = step;
        g_assert_true (lk_op_adamw_step (stream, tp, tg, tm, tv, NULL, &o, &error));
        g_assert_no_error (error);
        p = lk_test_download (stream, tp);
        APPEND ("adamw param", p, n, 1e-6);
        lk_oracle_case_input (oracle, index, gname, g, n);
      }
    {
      g_autofree float *m = lk_test_download (stream, tm);
      g_autofree float *v = lk_test_download (stream, tv);

      APPEND ("adamw m", m, n, 1e-6);
      APPEND ("adamw v", v, n, 1e-6);
    }
    index++;
  }
#undef APPEND

  lk_oracle_set_param_int (oracle, "cases", index);
  expected = lk_oracle_run (oracle, out->len);
  if (expected == NULL)
    return;
  for (guint i = 0; i < sizes->len; i++)
    {
      gsize n = g_array_index (sizes, gsize, i);

      /* Both sides in f32, reduced in other orders: ~1e-7 relative per term. */
      lk_test_assert_close (g_ptr_array_index (names, i), &g_array_index (out, float, offset),
                            expected + offset, n, g_array_index (bounds, double, i), 0);
      offset += n;
    }
}

static void
test_errors (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 s_x[] = { 2, 6, 4 }, s_y[] = { 2, 6, 5 }, s_c[] = { 6 }, s_h[] = { 2, 6, 2 };
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) x = NULL, wrong = NULL, gamma = NULL, half = NULL, f16 = NULL;

  if (stream == NULL)
    return;
  x = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, s_x);
  wrong = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, s_y);
  gamma = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, s_c);
  half = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, s_h);
  f16 = lk_test_tensor_poisoned (stream, LK_DTYPE_F16, 3, s_x);

  g_assert_false (lk_op_activation_backward (stream, LK_ACTIVATION_GELU, x, wrong, x, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_geglu_backward (stream, x, x, x, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (lk_op_geglu_backward (stream, x, half, wrong, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_layer_norm_backward (stream, x, gamma, x, x, NULL, NULL, 1e-5f, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_group_norm_backward (stream, x, gamma, gamma, x, x, NULL, NULL, 4, 1e-5f,
                                             FALSE, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_group_norm_backward (stream, x, NULL, NULL, x, x, gamma, NULL, 3, 1e-5f,
                                             FALSE, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_gemm_backward (stream, x, x, x, wrong, NULL, NULL, NULL, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_sum_rows (stream, x, gamma, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_adamw_step (stream, f16, x, x, x, NULL, NULL, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_DTYPE);
  g_clear_error (&error);
  g_assert_false (lk_op_grad_stats (stream, &x, 1, gamma, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  lk_test_check_validation ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/backward/activation", test_activation);
  g_test_add_func ("/backward/geglu", test_geglu);
  g_test_add_func ("/backward/layer-norm", test_layer_norm);
  g_test_add_func ("/backward/group-norm", test_group_norm);
  g_test_add_func ("/backward/gemm", test_gemm);
  g_test_add_func ("/backward/sum-rows", test_sum_rows);
  g_test_add_func ("/backward/grad-stats", test_grad_stats);
  g_test_add_func ("/backward/adamw", test_adamw);
  g_test_add_func ("/backward/gpu-shapes", test_gpu_shapes);
  g_test_add_func ("/backward/oracle", test_oracle);
  g_test_add_func ("/backward/errors", test_errors);
  return g_test_run ();
}
