/* test-ops-norm.c: group norm, layer norm and softmax against their CPU references and torch
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

static LkDType
dtype_of (gboolean f16)
{
  return f16 ? LK_DTYPE_F16 : LK_DTYPE_F32;
}

/* Random data as the device will read it from a tensor of @dtype. */
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

static gsize
numel (const gint64 *shape,
       guint         ndim)
{
  gsize n = 1;

  for (guint d = 0; d < ndim; d++)
    n *= shape[d];
  return n;
}

/* Error bounds: f32 outputs are off by accumulated f32 rounding (~1e-6 relative); f16 outputs
 * by their own rounding, 2^-11 relative, a few ulps at most in absolute terms. */
static double
rel_bound (LkDType out)
{
  return out == LK_DTYPE_F16 ? 1e-3 : 2e-5;
}

typedef struct
{
  guint         ndim;
  gint64        shape[4];
  guint         groups;
} GroupNormCase;

static void
check_group_norm (LkStream            *stream,
                  const GroupNormCase *c,
                  LkDType              xt,
                  LkDType              pt,
                  LkDType              yt,
                  gboolean             affine,
                  gboolean             silu,
                  float                offset,
                  double               bound,
                  guint32              seed)
{
  gsize n = numel (c->shape, c->ndim);
  gsize batch = c->shape[0], channels = c->shape[1], spatial = n / (batch * channels);
  float eps = seed % 2 ? 1e-6f : 1e-5f;
  g_autoptr(GError) error = NULL;
  g_autofree float *x = random_as (xt, n, offset - 2, offset + 2, seed);
  g_autofree float *gamma = random_as (pt, channels, 0.5, 1.5, seed + 1);
  g_autofree float *beta = random_as (pt, channels, -0.5, 0.5, seed + 2);
  g_autofree float *ref = g_new (float, n);
  g_autofree float *out = NULL;
  g_autoptr(LkTensor) tx = NULL, tg = NULL, tb = NULL, ty = NULL;
  g_autofree char *what = g_strdup_printf ("group norm [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                                           ", %zu] /%u %s%s %s→%s params %s offset %g",
                                           c->shape[0], c->shape[1], spatial, c->groups,
                                           affine ? "affine" : "plain", silu ? " silu" : "",
                                           lk_dtype_name (xt), lk_dtype_name (yt),
                                           lk_dtype_name (pt), offset);

  tx = lk_test_tensor_from (stream, xt, c->ndim, c->shape, x);
  tg = lk_test_tensor_from (stream, pt, 1, &c->shape[1], gamma);
  tb = lk_test_tensor_from (stream, pt, 1, &c->shape[1], beta);
  ty = lk_test_tensor_poisoned (stream, yt, c->ndim, c->shape);
  lk_op_group_norm (stream, tx, affine ? tg : NULL, affine ? tb : NULL, ty, c->groups, eps, silu, &error);
  g_assert_no_error (error);
  out = lk_test_download (stream, ty);

  lk_ref_group_norm (x, affine ? gamma : NULL, affine ? beta : NULL, ref, batch, channels, spatial,
                     c->groups, eps, silu);
  lk_test_assert_close (what, out, ref, n, bound,
                        yt == LK_DTYPE_F16 ? 1e-2 : offset != 0 ? 1e-3 : 2e-4);
}

static void
test_group_norm (void)
{
  LkStream *stream = lk_test_stream ();
  static const GroupNormCase cases[] = {
    { 4, { 2, 64, 7, 13 }, 32 },
    { 4, { 1, 96, 13, 1 }, 32 },
    { 3, { 2, 320, 127 }, 32 },
    { 4, { 1, 4, 1, 1 }, 2 },
    { 4, { 1, 1, 7, 7 }, 1 },
    { 4, { 2, 13, 5, 3 }, 13 },
    { 4, { 1, 32, 100, 100 }, 8 },  /* 40000 per group: several chunks per group */
    { 2, { 3, 127 }, 1 },
  };

  if (stream == NULL)
    return;

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    for (guint variant = 0; variant < 8; variant++)
      {
        LkDType xt = dtype_of (variant & 1), yt = dtype_of (variant & 2);
        LkDType pt = dtype_of ((variant + c) & 1);
        gboolean silu = variant & 4;
        gboolean affine = variant != 6;

        check_group_norm (stream, &cases[c], xt, pt, yt, affine, silu, 0.0f, rel_bound (yt),
                          100 * c + variant);
      }
}

static void
test_group_norm_large_mean (void)
{
  LkStream *stream = lk_test_stream ();
  static const GroupNormCase cases[] = {
    { 4, { 2, 64, 16, 16 }, 32 },
    { 4, { 1, 32, 100, 100 }, 8 },
  };

  if (stream == NULL)
    return;

  /* Data at 1000 ± 2: E[x²] − E[x]² in f32 would lose the variance entirely. The f32 mean of
   * such data is off by ~1e-4 absolute, which the normalised output shows relative to a spread
   * of ~1: 5e-4. */
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    for (guint silu = 0; silu < 2; silu++)
      check_group_norm (stream, &cases[c], LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F32, TRUE, silu,
                        1000.0f, 5e-4, 7 + c);
}

static void
check_layer_norm (LkStream *stream,
                  guint     ndim,
                  const gint64 *shape,
                  LkDType   xt,
                  LkDType   pt,
                  LkDType   yt,
                  gboolean  affine,
                  float     offset,
                  double    bound,
                  guint32   seed)
{
  gsize n = numel (shape, ndim), dim = shape[ndim - 1];
  g_autoptr(GError) error = NULL;
  g_autofree float *x = random_as (xt, n, offset - 3, offset + 3, seed);
  g_autofree float *gamma = random_as (pt, dim, 0.5, 1.5, seed + 1);
  g_autofree float *beta = random_as (pt, dim, -0.5, 0.5, seed + 2);
  g_autofree float *ref = g_new (float, n);
  g_autofree float *out = NULL;
  g_autoptr(LkTensor) tx = NULL, tg = NULL, tb = NULL, ty = NULL;
  g_autofree char *what = g_strdup_printf ("layer norm %zu×%zu %s %s→%s params %s offset %g",
                                           n / dim, dim, affine ? "affine" : "plain",
                                           lk_dtype_name (xt), lk_dtype_name (yt),
                                           lk_dtype_name (pt), offset);

  tx = lk_test_tensor_from (stream, xt, ndim, shape, x);
  tg = lk_test_tensor_from (stream, pt, 1, &shape[ndim - 1], gamma);
  tb = lk_test_tensor_from (stream, pt, 1, &shape[ndim - 1], beta);
  ty = lk_test_tensor_poisoned (stream, yt, ndim, shape);
  lk_op_layer_norm (stream, tx, affine ? tg : NULL, affine ? tb : NULL, ty, 1e-5f, &error);
  g_assert_no_error (error);
  out = lk_test_download (stream, ty);

  lk_ref_layer_norm (x, affine ? gamma : NULL, affine ? beta : NULL, ref, n / dim, dim, 1e-5f);
  lk_test_assert_close (what, out, ref, n, bound,
                        yt == LK_DTYPE_F16 ? 1e-2 : offset != 0 ? 1e-3 : 2e-4);
}

static void
test_layer_norm (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 shapes[][3] = {
    { 1, 1, 1 }, { 1, 7, 13 }, { 3, 127, 320 }, { 2, 77, 768 }, { 1, 5, 1000 }, { 1, 300, 7 },
  };

  if (stream == NULL)
    return;

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (guint variant = 0; variant < 5; variant++)
      {
        LkDType xt = dtype_of (variant & 1), yt = dtype_of (variant & 2);

        check_layer_norm (stream, 3, shapes[s], xt, dtype_of ((variant + s) & 1), yt, variant != 4,
                          0.0f, rel_bound (yt), 10 * s + variant);
      }
  /* Large mean, as for the large-mean group norm. */
  check_layer_norm (stream, 3, shapes[3], LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F32, TRUE, 1000.0f,
                    5e-4, 99);
}

static void
check_softmax (LkStream     *stream,
               guint         ndim,
               const gint64 *shape,
               LkDType       xt,
               LkDType       yt,
               float         range,
               float         scale,
               guint32       seed)
{
  gsize n = numel (shape, ndim), dim = shape[ndim - 1];
  g_autoptr(GError) error = NULL;
  g_autofree float *x = random_as (xt, n, -range, range, seed);
  g_autofree float *ref = g_new (float, n);
  g_autofree float *out = NULL;
  g_autoptr(LkTensor) tx = NULL, ty = NULL;
  g_autofree char *what = g_strdup_printf ("softmax %zu×%zu ±%g ·%g %s→%s", n / dim, dim,
                                           range, scale, lk_dtype_name (xt), lk_dtype_name (yt));

  tx = lk_test_tensor_from (stream, xt, ndim, shape, x);
  ty = lk_test_tensor_poisoned (stream, yt, ndim, shape);
  lk_op_softmax (stream, tx, ty, scale, &error);
  g_assert_no_error (error);
  out = lk_test_download (stream, ty);

  lk_ref_softmax (x, ref, n / dim, dim, scale);
  /* exp of scores up to |100| in f32: ~1e-5 relative on the small terms, which the relative
   * L2 norm barely sees; outputs lie in [0, 1]. */
  lk_test_assert_close (what, out, ref, n, rel_bound (yt), yt == LK_DTYPE_F16 ? 1e-3 : 1e-5);
}

static void
test_softmax (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 shapes[][4] = {
    { 1, 1, 1, 1 }, { 1, 1, 7, 13 }, { 2, 8, 77, 77 }, { 1, 1, 3, 127 }, { 1, 2, 5, 1000 },
  };

  if (stream == NULL)
    return;

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (guint variant = 0; variant < 4; variant++)
      check_softmax (stream, 4, shapes[s], dtype_of (variant & 1), dtype_of (variant & 2), 4.0f,
                     variant < 2 ? 1.0f : 0.125f, 10 * s + variant);
}

static void
test_softmax_large (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 shape[] = { 2, 8, 77, 300 };

  if (stream == NULL)
    return;

  /* Scores of ±50 and ±100: exp without the max subtracted would overflow f32. */
  check_softmax (stream, 4, shape, LK_DTYPE_F32, LK_DTYPE_F32, 50.0f, 1.0f, 1);
  check_softmax (stream, 4, shape, LK_DTYPE_F16, LK_DTYPE_F32, 50.0f, 2.0f, 2);
  check_softmax (stream, 4, shape, LK_DTYPE_F32, LK_DTYPE_F16, 50.0f, -1.0f, 3);
}

/* The GPU shapes of the reductions forced on this device: several subgroups meeting in shared
 * memory, and the shared-memory tree for devices without subgroup arithmetic. */
static void
test_gpu_shapes (void)
{
  LkStream *stream = lk_test_stream ();
  static const char *shapes[] = { "64,1", "32,0", "256,0" };
  static const GroupNormCase gn = { 4, { 2, 64, 20, 20 }, 32 };
  static const GroupNormCase gn_chunks = { 4, { 1, 32, 100, 100 }, 8 };
  static const gint64 rows[] = { 3, 127, 320 }, odd[] = { 2, 7, 1000 };

  if (stream == NULL)
    return;

  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_test_message ("local size, subgroup: %s", shapes[i]);
      g_setenv ("LIKENESS_REDUCE_LOCAL_SIZE", shapes[i], TRUE);
      check_group_norm (stream, &gn, LK_DTYPE_F16, LK_DTYPE_F32, LK_DTYPE_F32, TRUE, TRUE, 0.0f,
                        rel_bound (LK_DTYPE_F32), 20 + i);
      check_group_norm (stream, &gn_chunks, LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F32, TRUE, FALSE,
                        1000.0f, 5e-4, 30 + i);
      check_layer_norm (stream, 3, rows, LK_DTYPE_F32, LK_DTYPE_F16, LK_DTYPE_F32, TRUE, 0.0f,
                        rel_bound (LK_DTYPE_F32), 40 + i);
      check_softmax (stream, 3, odd, LK_DTYPE_F16, LK_DTYPE_F32, 50.0f, 1.0f, 50 + i);
      g_unsetenv ("LIKENESS_REDUCE_LOCAL_SIZE");
    }
}

/* The torch oracle at small SD1.5 shapes, all cases in one run of the script. */
static void
test_oracle (void)
{
  LkStream *stream = lk_test_stream ();
  static const struct { gint64 shape[4]; guint groups; float eps; gboolean silu; } gn[] = {
    { { 2, 320, 16, 16 }, 32, 1e-5f, TRUE },
    { { 1, 512, 16, 16 }, 32, 1e-6f, FALSE },
    { { 2, 640, 8, 8 }, 32, 1e-5f, TRUE },
  };
  static const gint64 ln[][3] = { { 2, 256, 320 }, { 1, 77, 768 } };
  static const gint64 sm[] = { 2, 8, 64, 77 };
  g_autoptr(LkOracle) oracle = NULL;
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autofree float *expected = NULL;
  const char *names[] = { "group norm", "group norm", "group norm", "layer norm", "layer norm", "softmax" };
  guint index = 0;
  gsize offset = 0;

  if (stream == NULL || (oracle = lk_oracle_new ("oracle_norm.py")) == NULL)
    return;

  for (guint c = 0; c < G_N_ELEMENTS (gn); c++, index++)
    {
      const gint64 *shape = gn[c].shape;
      gsize n = numel (shape, 4), channels = shape[1];
      g_autoptr(GError) error = NULL;
      g_autofree float *x = random_as (LK_DTYPE_F16, n, -2, 3, 40 + c);
      g_autofree float *gamma = lk_test_random (channels, 0.5, 1.5, 50 + c);
      g_autofree float *beta = lk_test_random (channels, -0.5, 0.5, 60 + c);
      g_autofree float *y = NULL;
      g_autoptr(LkTensor) tx = NULL, tg = NULL, tb = NULL, ty = NULL;

      tx = lk_test_tensor_from (stream, LK_DTYPE_F16, 4, shape, x);
      tg = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, &shape[1], gamma);
      tb = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, &shape[1], beta);
      ty = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, shape);
      lk_op_group_norm (stream, tx, tg, tb, ty, gn[c].groups, gn[c].eps, gn[c].silu, &error);
      g_assert_no_error (error);
      y = lk_test_download (stream, ty);
      g_array_append_vals (out, y, n);
      g_array_append_val (sizes, n);

      lk_oracle_case_string (oracle, index, "op", "group_norm");
      lk_oracle_case_int (oracle, index, "n", shape[0]);
      lk_oracle_case_int (oracle, index, "c", shape[1]);
      lk_oracle_case_int (oracle, index, "h", shape[2]);
      lk_oracle_case_int (oracle, index, "w", shape[3]);
      lk_oracle_case_int (oracle, index, "groups", gn[c].groups);
      lk_oracle_case_double (oracle, index, "eps", gn[c].eps);
      lk_oracle_case_int (oracle, index, "silu", gn[c].silu);
      lk_oracle_case_input (oracle, index, "x", x, n);
      lk_oracle_case_input (oracle, index, "gamma", gamma, channels);
      lk_oracle_case_input (oracle, index, "beta", beta, channels);
    }

  for (guint c = 0; c < G_N_ELEMENTS (ln); c++, index++)
    {
      gsize n = numel (ln[c], 3), dim = ln[c][2];
      g_autoptr(GError) error = NULL;
      g_autofree float *x = lk_test_random (n, -3, 3, 70 + c);
      g_autofree float *gamma = lk_test_random (dim, 0.5, 1.5, 80 + c);
      g_autofree float *beta = lk_test_random (dim, -0.5, 0.5, 90 + c);
      g_autofree float *y = NULL;
      g_autoptr(LkTensor) tx = NULL, tg = NULL, tb = NULL, ty = NULL;

      tx = lk_test_tensor_from (stream, LK_DTYPE_F32, 3, ln[c], x);
      tg = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, &ln[c][2], gamma);
      tb = lk_test_tensor_from (stream, LK_DTYPE_F32, 1, &ln[c][2], beta);
      ty = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 3, ln[c]);
      lk_op_layer_norm (stream, tx, tg, tb, ty, 1e-5f, &error);
      g_assert_no_error (error);
      y = lk_test_download (stream, ty);
      g_array_append_vals (out, y, n);
      g_array_append_val (sizes, n);

      lk_oracle_case_string (oracle, index, "op", "layer_norm");
      lk_oracle_case_int (oracle, index, "rows", n / dim);
      lk_oracle_case_int (oracle, index, "dim", dim);
      lk_oracle_case_double (oracle, index, "eps", 1e-5);
      lk_oracle_case_input (oracle, index, "x", x, n);
      lk_oracle_case_input (oracle, index, "gamma", gamma, dim);
      lk_oracle_case_input (oracle, index, "beta", beta, dim);
    }

  {
    gsize n = numel (sm, 4), dim = sm[3];
    g_autoptr(GError) error = NULL;
    g_autofree float *x = lk_test_random (n, -40, 40, 77);
    g_autofree float *y = NULL;
    g_autoptr(LkTensor) tx = NULL, ty = NULL;

    tx = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, sm, x);
    ty = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, sm);
    lk_op_softmax (stream, tx, ty, 0.158f, &error);
    g_assert_no_error (error);
    y = lk_test_download (stream, ty);
    g_array_append_vals (out, y, n);
    g_array_append_val (sizes, n);

    lk_oracle_case_string (oracle, index, "op", "softmax");
    lk_oracle_case_int (oracle, index, "rows", n / dim);
    lk_oracle_case_int (oracle, index, "dim", dim);
    lk_oracle_case_double (oracle, index, "scale", 0.158f);
    lk_oracle_case_input (oracle, index, "x", x, n);
    index++;
  }

  lk_oracle_set_param_int (oracle, "cases", index);
  expected = lk_oracle_run (oracle, out->len);
  if (expected == NULL)
    return;
  for (guint i = 0; i < sizes->len; i++)
    {
      gsize n = g_array_index (sizes, gsize, i);
      g_autofree char *what = g_strdup_printf ("%s case %u vs torch", names[i], i);

      /* torch reduces in f32 too, in another order: ~1e-7 relative either side; softmax
       * outputs are below 1, the norms' up to about 5. */
      lk_test_assert_close (what, &g_array_index (out, float, offset), expected + offset, n, 1e-5,
                            i + 1 == sizes->len ? 1e-5 : 1e-4);
      offset += n;
    }
}

/* A 256 KiB binding range splits every op here into several dispatches, with runs of blocks or
 * rows that start at unaligned element offsets. */
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
    /* 2738 f16 elements (5476 bytes) per (n, group) block; 700 KB in all. */
    static const GroupNormCase c = { 4, { 4, 64, 37, 37 }, 32 };

    check_group_norm (stream, &c, LK_DTYPE_F16, LK_DTYPE_F32, LK_DTYPE_F32, TRUE, TRUE, 0.0f,
                      rel_bound (LK_DTYPE_F32), 1);
    check_group_norm (stream, &c, LK_DTYPE_F32, LK_DTYPE_F16, LK_DTYPE_F16, TRUE, FALSE, 0.0f,
                      rel_bound (LK_DTYPE_F16), 2);
  }
  {
    /* The same through the four-element path: 36² is a multiple of 4. */
    static const GroupNormCase c = { 4, { 4, 64, 36, 36 }, 32 };

    check_group_norm (stream, &c, LK_DTYPE_F16, LK_DTYPE_F32, LK_DTYPE_F16, TRUE, TRUE, 0.0f,
                      rel_bound (LK_DTYPE_F16), 7);
  }
  {
    static const gint64 shape[] = { 1, 601, 332 };

    check_layer_norm (stream, 3, shape, LK_DTYPE_F16, LK_DTYPE_F32, LK_DTYPE_F32, TRUE, 0.0f,
                      rel_bound (LK_DTYPE_F32), 8);
    check_softmax (stream, 3, shape, LK_DTYPE_F32, LK_DTYPE_F16, 50.0f, 1.0f, 9);
  }
  {
    static const gint64 shape[] = { 1, 601, 333 };  /* 800 KB of f32; f16 rows of 666 bytes */

    check_layer_norm (stream, 3, shape, LK_DTYPE_F32, LK_DTYPE_F32, LK_DTYPE_F16, TRUE, 0.0f,
                      rel_bound (LK_DTYPE_F16), 3);
    check_layer_norm (stream, 3, shape, LK_DTYPE_F16, LK_DTYPE_F16, LK_DTYPE_F32, TRUE, 0.0f,
                      rel_bound (LK_DTYPE_F32), 4);
    check_softmax (stream, 3, shape, LK_DTYPE_F32, LK_DTYPE_F32, 50.0f, 1.0f, 5);
    check_softmax (stream, 3, shape, LK_DTYPE_F16, LK_DTYPE_F16, 4.0f, 0.5f, 6);
  }
  {
    /* One row larger than a binding cannot be split. */
    static const gint64 shape[] = { 2, 70000 };
    g_autoptr(LkTensor) x = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, shape);
    g_autoptr(LkTensor) y = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 2, shape);

    g_assert_false (lk_op_softmax (stream, x, y, 1.0f, &error));
    g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
  }
  lk_stream_finish (stream, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_context_get_validation_message_count (context), ==, 0);
}

static void
test_shape_errors (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 s_x[] = { 2, 30, 4, 4 }, s_y[] = { 2, 30, 4, 5 }, s_c[] = { 30 }, s_d[] = { 29 };
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) x = NULL, y = NULL, wrong = NULL, gamma = NULL, short_gamma = NULL;

  if (stream == NULL)
    return;
  x = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, s_x);
  y = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, s_x);
  wrong = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, s_y);
  gamma = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, s_c);
  short_gamma = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 1, s_d);

  /* 30 channels do not split into 32 groups. */
  g_assert_false (lk_op_group_norm (stream, x, gamma, gamma, y, 32, 1e-5f, FALSE, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (lk_op_group_norm (stream, x, short_gamma, gamma, y, 2, 1e-5f, FALSE, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_group_norm (stream, x, gamma, gamma, wrong, 2, 1e-5f, FALSE, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_layer_norm (stream, x, gamma, gamma, y, 1e-5f, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (lk_op_softmax (stream, x, wrong, 1.0f, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  lk_test_check_validation ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/group-norm", test_group_norm);
  g_test_add_func ("/ops/group-norm/large-mean", test_group_norm_large_mean);
  g_test_add_func ("/ops/layer-norm", test_layer_norm);
  g_test_add_func ("/ops/softmax", test_softmax);
  g_test_add_func ("/ops/softmax/large", test_softmax_large);
  g_test_add_func ("/ops/norm/gpu-shapes", test_gpu_shapes);
  g_test_add_func ("/ops/norm/oracle", test_oracle);
  g_test_add_func ("/ops/norm/split-bindings", test_split_bindings);
  g_test_add_func ("/ops/norm/shape-errors", test_shape_errors);
  return g_test_run ();
}
