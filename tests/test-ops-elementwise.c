/* test-ops-elementwise.c: the elementwise ops against their CPU references
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-half.h"
#include "lk-ref.h"
#include "lk-test-util.h"

/* Awkward sizes: 1, primes, non-multiples of the 256-wide workgroup. */
static const gint64 sizes[] = { 1, 7, 13, 127, 256, 1000, 4099 };

/* Host copy as the device sees it after storing to @dtype. */
static void
as_stored (float   *data,
           gsize    n,
           LkDType  dtype)
{
  if (dtype == LK_DTYPE_F16)
    lk_round_to_half (data, n);
}

static void
test_unary (void)
{
  LkStream *stream = lk_test_stream ();
  const char *names[] = { "identity", "silu", "gelu", "sigmoid", "tanh", "quick_gelu" };

  /* One name per op: a new LkUnaryOp needs its name here too. */
  G_STATIC_ASSERT (G_N_ELEMENTS (names) == LK_N_UNARY_OPS);

  if (stream == NULL)
    return;

  for (guint op = 0; op < LK_N_UNARY_OPS; op++)
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
      for (guint dt = 0; dt < 4; dt++)
        {
          LkDType xt = dt & 1 ? LK_DTYPE_F16 : LK_DTYPE_F32;
          LkDType yt = dt & 2 ? LK_DTYPE_F16 : LK_DTYPE_F32;
          gsize n = sizes[s];
          g_autoptr(GError) error = NULL;
          g_autofree float *x = lk_test_random (n, -6, 6, 10 + s);
          g_autofree float *ref = g_new (float, n);
          g_autofree float *out = NULL;
          g_autoptr(LkTensor) tx = NULL, ty = NULL;
          g_autofree char *what = g_strdup_printf ("%s n=%zu %s→%s", names[op], n,
                                                   lk_dtype_name (xt), lk_dtype_name (yt));

          as_stored (x, n, xt);
          tx = lk_test_tensor_from (stream, xt, 1, &sizes[s], x);
          ty = lk_test_tensor_poisoned (stream, yt, 1, &sizes[s]);
          lk_op_unary (stream, op, tx, 1.5f, -0.25f, ty, &error);
          g_assert_no_error (error);
          out = lk_test_download (stream, ty);

          lk_ref_unary (op, x, 1.5f, -0.25f, ref, n);
          /* f32: erf and exp approximations, ~1e-6; f16 output: its rounding, 2^-11. */
          lk_test_assert_close (what, out, ref, n, yt == LK_DTYPE_F16 ? 1e-3 : 2e-6,
                                yt == LK_DTYPE_F16 ? 8e-3 : 1e-5);
        }
}

static void
test_binary_broadcast (void)
{
  LkStream *stream = lk_test_stream ();
  /* output shape, a shape, b shape (4-D, 1 = broadcast) */
  static const gint64 cases[][3][4] = {
    { { 2, 3, 5, 7 }, { 2, 3, 5, 7 }, { 2, 3, 5, 7 } },
    { { 2, 13, 9, 11 }, { 2, 13, 9, 11 }, { 1, 13, 1, 1 } },   /* per-channel bias */
    { { 1, 1, 77, 40 }, { 1, 1, 77, 40 }, { 1, 1, 1, 40 } },   /* per-column */
    { { 3, 1, 7, 5 }, { 3, 1, 1, 5 }, { 1, 1, 7, 1 } },        /* both broadcast */
    { { 2, 320, 1, 1 }, { 2, 320, 1, 1 }, { 1, 1, 1, 1 } },    /* scalar */
  };

  if (stream == NULL)
    return;

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    for (guint op = 0; op < LK_N_BINARY_OPS; op++)
      {
        const gint64 *ys = cases[c][0], *as = cases[c][1], *bs = cases[c][2];
        gsize ny = ys[0] * ys[1] * ys[2] * ys[3];
        gsize na = as[0] * as[1] * as[2] * as[3];
        gsize nb = bs[0] * bs[1] * bs[2] * bs[3];
        LkDType bt = c % 2 ? LK_DTYPE_F16 : LK_DTYPE_F32;
        g_autoptr(GError) error = NULL;
        g_autofree float *a = lk_test_random (na, -2, 2, 100 + c);
        g_autofree float *b = lk_test_random (nb, 0.5, 2, 200 + c);
        g_autofree float *ref = g_new (float, ny);
        g_autofree float *out = NULL;
        g_autoptr(LkTensor) ta = NULL, tb = NULL, ty = NULL;
        g_autofree char *what = g_strdup_printf ("binary op %u case %u", op, c);

        as_stored (b, nb, bt);
        ta = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, as, a);
        tb = lk_test_tensor_from (stream, bt, 4, bs, b);
        ty = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, ys);
        lk_op_binary (stream, op, ta, tb, ty, &error);
        g_assert_no_error (error);
        out = lk_test_download (stream, ty);
        lk_ref_binary (op, a, as, b, bs, ref, ys);
        lk_test_assert_close (what, out, ref, ny, 1e-6, 0);
      }
}

static void
test_binary_rejects (void)
{
  LkStream *stream = lk_test_stream ();
  g_autoptr(GError) error = NULL;
  const gint64 s1[] = { 4, 5 }, s2[] = { 3, 5 };
  g_autoptr(LkTensor) a = NULL, b = NULL, y = NULL;

  if (stream == NULL)
    return;
  a = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, s1);
  b = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, s2);
  y = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, s1);
  g_assert_false (lk_op_add (stream, a, b, y, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_unary (stream, LK_UNARY_SILU, a, 1, 0, b, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  lk_stream_finish (stream, NULL);
}

static void
test_geglu (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 cases[][2] = { { 1, 1 }, { 7, 13 }, { 64, 1280 }, { 77, 127 } };

  if (stream == NULL)
    return;
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      gint64 rows = cases[c][0], h = cases[c][1];
      const gint64 xs[] = { 1, rows, 2 * h }, ys[] = { 1, rows, h };
      g_autoptr(GError) error = NULL;
      g_autofree float *x = lk_test_random (rows * 2 * h, -4, 4, 300 + c);
      g_autofree float *ref = g_new (float, rows * h);
      g_autofree float *out = NULL;
      g_autoptr(LkTensor) tx = NULL, ty = NULL;

      lk_round_to_half (x, rows * 2 * h);
      tx = lk_test_tensor_from (stream, LK_DTYPE_F16, 3, xs, x);
      ty = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, ys);
      lk_op_geglu (stream, tx, ty, &error);
      g_assert_no_error (error);
      out = lk_test_download (stream, ty);
      lk_ref_geglu (x, ref, rows, h);
      lk_test_assert_close ("geglu", out, ref, rows * h, 2e-6, 1e-5);
    }
}

static void
test_concat_upsample (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 cases[][5] = { /* n, ca, cb, h, w */
    { 1, 1, 1, 1, 1 }, { 2, 3, 5, 7, 13 }, { 2, 320, 640, 8, 8 }, { 1, 13, 7, 1, 127 },
  };

  if (stream == NULL)
    return;
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      gint64 n = cases[c][0], ca = cases[c][1], cb = cases[c][2], h = cases[c][3], w = cases[c][4];
      const gint64 as[] = { n, ca, h, w }, bs[] = { n, cb, h, w }, ys[] = { n, ca + cb, h, w };
      const gint64 us[] = { n, ca + cb, 2 * h, 2 * w };
      gsize ny = n * (ca + cb) * h * w;
      g_autoptr(GError) error = NULL;
      g_autofree float *a = lk_test_random (n * ca * h * w, -1, 1, 400 + c);
      g_autofree float *b = lk_test_random (n * cb * h * w, -1, 1, 500 + c);
      g_autofree float *ref = g_new (float, ny);
      g_autofree float *ref_up = g_new (float, 4 * ny);
      g_autofree float *out = NULL;
      g_autofree float *out_up = NULL;
      g_autoptr(LkTensor) ta = NULL, tb = NULL, ty = NULL, tu = NULL;

      lk_round_to_half (b, n * cb * h * w);
      ta = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, as, a);
      tb = lk_test_tensor_from (stream, LK_DTYPE_F16, 4, bs, b);
      ty = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, ys);
      tu = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, us);
      lk_op_concat_channels (stream, ta, tb, ty, &error);
      g_assert_no_error (error);
      lk_op_upsample_nearest2x (stream, ty, tu, &error);
      g_assert_no_error (error);
      out = lk_test_download (stream, ty);
      out_up = lk_test_download (stream, tu);
      lk_ref_concat_channels (a, b, ref, n, ca, cb, h * w);
      lk_ref_upsample_nearest2x (ref, ref_up, n * (ca + cb), h, w);
      lk_test_assert_close ("concat", out, ref, ny, 0, 0);
      lk_test_assert_close ("upsample", out_up, ref_up, 4 * ny, 0, 0);
    }
}

static void
test_timestep_embedding (void)
{
  LkStream *stream = lk_test_stream ();
  const float timesteps[] = { 0, 1, 17, 500, 999, 981.5f };
  const gint64 ts[] = { G_N_ELEMENTS (timesteps) };

  if (stream == NULL)
    return;
  for (guint flip = 0; flip < 2; flip++)
    for (gint64 dim = 319; dim <= 320; dim++)
      {
        const gint64 ys[] = { ts[0], dim };
        g_autoptr(GError) error = NULL;
        g_autofree float *ref = g_new (float, ts[0] * dim);
        g_autofree float *out = NULL;
        g_autoptr(LkTensor) tt = NULL, ty = NULL;

        tt = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, ts, timesteps);
        ty = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, ys);
        lk_op_timestep_embedding (stream, tt, ty, 10000.0f, flip, &error);
        g_assert_no_error (error);
        out = lk_test_download (stream, ty);
        lk_ref_timestep_embedding (timesteps, ref, ts[0], dim, 10000.0f, flip);
        /* f32 arguments up to 999 carry ~6e-5 absolute rounding into sin and cos. */
        lk_test_assert_close ("timestep embedding", out, ref, ts[0] * dim, 1e-4, 3e-4);
      }
}

/* GELU, SiLU and GEGLU against torch on the same inputs. */
static void
test_oracle (void)
{
  LkStream *stream = lk_test_stream ();
  const char *ops[] = { "gelu", "silu", "geglu" };
  const gint64 rows = 77, h = 640, n = rows * 2 * h;

  if (stream == NULL)
    return;
  for (guint o = 0; o < G_N_ELEMENTS (ops); o++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_elementwise.py");
      g_autofree float *x = lk_test_random (n, -8, 8, 600 + o);
      g_autofree float *ref = NULL;
      g_autofree float *out = NULL;
      g_autoptr(LkTensor) tx = NULL, ty = NULL;
      gboolean geglu = o == 2;
      const gint64 xs[] = { rows, 2 * h }, ys[] = { rows, geglu ? h : 2 * h };

      if (oracle == NULL)
        return;
      lk_oracle_add_input (oracle, "x", x, n);
      lk_oracle_set_param_string (oracle, "op", ops[o]);
      lk_oracle_set_param_int (oracle, "n", n);
      lk_oracle_set_param_int (oracle, "rows", rows);
      lk_oracle_set_param_int (oracle, "h", h);
      ref = lk_oracle_run (oracle, geglu ? n / 2 : n);

      tx = lk_test_tensor_from (stream, LK_DTYPE_F32, 2, xs, x);
      ty = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, ys);
      if (geglu)
        lk_op_geglu (stream, tx, ty, &error);
      else
        lk_op_unary (stream, o == 0 ? LK_UNARY_GELU : LK_UNARY_SILU, tx, 1, 0, ty, &error);
      g_assert_no_error (error);
      out = lk_test_download (stream, ty);
      /* f32 on both sides; ours uses a 1.5e-7 erf approximation. */
      lk_test_assert_close (ops[o], out, ref, geglu ? n / 2 : n, 2e-6, 2e-5);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/unary", test_unary);
  g_test_add_func ("/ops/binary/broadcast", test_binary_broadcast);
  g_test_add_func ("/ops/binary/rejects", test_binary_rejects);
  g_test_add_func ("/ops/geglu", test_geglu);
  g_test_add_func ("/ops/concat-upsample", test_concat_upsample);
  g_test_add_func ("/ops/timestep-embedding", test_timestep_embedding);
  g_test_add_func ("/ops/torch-oracle", test_oracle);
  return g_test_run ();
}
