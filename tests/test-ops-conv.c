/* test-ops-conv.c: conv2d against its CPU reference and torch
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
  gint64   batch, c_in, h, w, c_out, kernel;
  guint    stride, padding;
  LkDType  x_type, w_type, y_type;
  int      bias;  /* -1 none, else its LkDType */
} ConvCase;

#define F32 LK_DTYPE_F32
#define F16 LK_DTYPE_F16

static void
as_stored (float   *data,
           gsize    n,
           LkDType  dtype)
{
  if (dtype == LK_DTYPE_F16)
    lk_round_to_half (data, n);
}

static gint64
out_size (gint64 in, const ConvCase *c)
{
  return (in + 2 * c->padding - c->kernel) / c->stride + 1;
}

/* Runs one case on @stream and checks it against the double reference (or @expected). */
static void
run_case (LkStream       *stream,
          const ConvCase *c,
          guint32         seed,
          const float    *expected,
          double          rel_bound)
{
  g_autoptr(GError) error = NULL;
  gint64 ho = out_size (c->h, c), wo = out_size (c->w, c);
  gint64 nx = c->batch * c->c_in * c->h * c->w;
  gint64 nw = c->c_out * c->c_in * c->kernel * c->kernel;
  gint64 ny = c->batch * c->c_out * ho * wo;
  const gint64 xs[] = { c->batch, c->c_in, c->h, c->w };
  const gint64 ws[] = { c->c_out, c->c_in, c->kernel, c->kernel };
  const gint64 ys[] = { c->batch, c->c_out, ho, wo };
  const gint64 bias_s[] = { c->c_out };
  LkConv2dOptions options = { c->stride, c->padding };
  g_autofree float *x = lk_test_random (nx, -1, 1, seed);
  g_autofree float *w = lk_test_random (nw, -1, 1, seed + 1);
  g_autofree float *bias = lk_test_random (c->c_out, -1, 1, seed + 2);
  g_autofree float *ref = g_new (float, ny);
  g_autofree float *out = NULL;
  g_autofree char *what = NULL;
  g_autoptr(LkTensor) tx = NULL, tw = NULL, tbias = NULL, ty = NULL;

  what = g_strdup_printf ("conv %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT "×%" G_GINT64_FORMAT "×%"
                          G_GINT64_FORMAT " → %" G_GINT64_FORMAT " k%" G_GINT64_FORMAT " s%u p%u "
                          "x %s w %s y %s bias %s",
                          c->batch, c->c_in, c->h, c->w, c->c_out, c->kernel, c->stride,
                          c->padding, lk_dtype_name (c->x_type), lk_dtype_name (c->w_type),
                          lk_dtype_name (c->y_type), c->bias < 0 ? "none" : lk_dtype_name (c->bias));
  as_stored (x, nx, c->x_type);
  as_stored (w, nw, c->w_type);
  if (c->bias >= 0)
    as_stored (bias, c->c_out, c->bias);

  tx = lk_test_tensor_from (stream, c->x_type, 4, xs, x);
  tw = lk_test_tensor_from (stream, c->w_type, 4, ws, w);
  if (c->bias >= 0)
    tbias = lk_test_tensor_from (stream, c->bias, 1, bias_s, bias);
  ty = lk_test_tensor_poisoned (stream, c->y_type, 4, ys);
  lk_op_conv2d (stream, tx, tw, tbias, ty, &options, &error);
  g_assert_no_error (error);
  out = lk_test_download (stream, ty);

  if (expected == NULL)
    {
      lk_ref_conv2d (x, w, c->bias >= 0 ? bias : NULL, ref, c->batch, c->c_in, c->h, c->w,
                     c->c_out, c->kernel, c->stride, c->padding);
      expected = ref;
    }
  /* f32 output: f32 accumulation, ~1e-7·√(Cin·k²) relative; f16 output: 2^-11 per element. */
  if (rel_bound == 0)
    rel_bound = c->y_type == F16 ? 1e-3 : 1e-5;
  lk_test_assert_close (what, out, expected, ny, rel_bound, 0);
}

static void
test_conv_variants (void)
{
  LkStream *stream = lk_test_stream ();
  /* batch, c_in, h, w, c_out: awkward sizes, non-multiples of every tile; each kernel, stride
   * and padding meets two of them (a pipeline per case takes a while to compile) */
  static const gint64 shapes[][5] = {
    { 1, 1, 1, 1, 1 },
    { 2, 3, 7, 13, 5 },
    { 1, 4, 13, 7, 33 },
    { 1, 13, 9, 9, 7 },
    { 2, 8, 16, 11, 40 },
    { 1, 16, 35, 33, 130 },  /* large enough for the large tile */
  };
  static const LkDType types[][3] = {
    { F32, F32, F32 }, { F16, F16, F32 }, { F32, F16, F16 }, { F16, F32, F32 },
    { F16, F16, F16 }, { F32, F16, F32 }, { F32, F32, F16 }, { F16, F32, F16 },
  };
  guint index = 0;

  if (stream == NULL)
    return;
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (guint kernel = 1; kernel <= 3; kernel += 2)
      for (guint stride = 1; stride <= 2; stride++)
        for (guint padding = 0; padding <= 1; padding++, index++)
          {
            guint combo = (kernel / 2) * 4 + (stride - 1) * 2 + padding;
            ConvCase c = {
              .batch = shapes[s][0], .c_in = shapes[s][1], .h = shapes[s][2], .w = shapes[s][3],
              .c_out = shapes[s][4], .kernel = kernel, .stride = stride, .padding = padding,
              .x_type = types[index % 8][0], .w_type = types[index % 8][1],
              .y_type = types[index % 8][2],
              .bias = index % 3 == 0 ? -1 : index % 3 == 1 ? F32 : F16,
            };

            gboolean sd_shaped = (kernel == 3 && padding == 1) ||
                                 (kernel == 1 && stride == 1 && padding == 0);

            if (s + 1 < G_N_ELEMENTS (shapes) ? (combo + s) % 3 != 0 : !sd_shaped)
              continue;
            /* A 1×1 input with a 3×3 kernel needs padding. */
            if (c.h + 2 * c.padding < c.kernel || c.w + 2 * c.padding < c.kernel)
              continue;
            run_case (stream, &c, 10 * index, NULL, 0);
          }
  lk_test_check_validation ();
}

static void
test_conv_other_tiles (void)
{
  /* The tiles of GPUs and of devices without fixed-size subgroups, run here. */
  LkStream *stream = lk_test_stream ();
  static const char *const kinds[] = { "gpu", "no-subgroups" };
  static const ConvCase cases[] = {
    { 2, 3, 7, 13, 5, 3, 1, 1, F32, F32, F32, F32 },
    { 1, 16, 35, 33, 130, 3, 2, 1, F16, F16, F16, F16 },
    { 1, 8, 16, 11, 40, 1, 1, 0, F32, F16, F32, -1 },
  };

  if (stream == NULL)
    return;
  for (guint kind = 0; kind < G_N_ELEMENTS (kinds); kind++)
    {
      g_setenv ("LIKENESS_MATMUL_TILES", kinds[kind], TRUE);
      for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
        run_case (stream, &cases[c], 5000 + 10 * c, NULL, 0);
      g_unsetenv ("LIKENESS_MATMUL_TILES");
    }
  lk_test_check_validation ();
}

static void
test_conv_rejects (void)
{
  LkStream *stream = lk_test_stream ();
  const gint64 xs[] = { 1, 4, 8, 8 }, ws[] = { 6, 4, 3, 3 }, w5[] = { 6, 4, 5, 5 };
  const gint64 ys[] = { 1, 6, 8, 8 }, bad_y[] = { 1, 6, 7, 7 }, bad_w[] = { 6, 3, 3, 3 };
  g_autoptr(LkTensor) x = NULL, w = NULL, w55 = NULL, y = NULL, by = NULL, bw = NULL;
  g_autoptr(GError) error = NULL;
  LkConv2dOptions same = { 1, 1 }, stride3 = { 3, 1 };

  if (stream == NULL)
    return;
  x = lk_test_tensor_poisoned (stream, F32, 4, xs);
  w = lk_test_tensor_poisoned (stream, F16, 4, ws);
  w55 = lk_test_tensor_poisoned (stream, F16, 4, w5);
  y = lk_test_tensor_poisoned (stream, F32, 4, ys);
  by = lk_test_tensor_poisoned (stream, F32, 4, bad_y);
  bw = lk_test_tensor_poisoned (stream, F32, 4, bad_w);

  g_assert_false (lk_op_conv2d (stream, x, w, NULL, by, &same, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "f32[1×6×7×7]"));
  g_clear_error (&error);
  g_assert_false (lk_op_conv2d (stream, x, bw, NULL, y, &same, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_conv2d (stream, x, w55, NULL, y, &same, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_conv2d (stream, x, w, NULL, y, &stride3, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  lk_stream_finish (stream, NULL);
}

static void
test_conv_split_bindings (void)
{
  /* With a 256 KiB binding range, x and y go one image at a time; an image larger than a
   * binding is refused. */
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) context = NULL;
  g_autoptr(LkStream) stream = NULL;
  static const ConvCase cases[] = {
    { 3, 16, 40, 40, 8, 3, 1, 1, F32, F16, F32, F16 },
    { 3, 5, 63, 61, 3, 3, 2, 1, F16, F16, F16, -1 },
  };
  const gint64 xs[] = { 1, 64, 32, 32 }, ws[] = { 4, 64, 1, 1 }, ys[] = { 1, 4, 32, 32 };
  g_autoptr(LkTensor) x = NULL, w = NULL, y = NULL;

  context = lk_test_context_with_binding_range (262144);
  if (context == NULL)
    return;
  stream = lk_stream_new (context, &error);
  g_assert_no_error (error);

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    run_case (stream, &cases[c], 3000 + 10 * c, NULL, 0);

  x = lk_test_tensor_poisoned (stream, F32, 4, xs);
  w = lk_test_tensor_poisoned (stream, F32, 4, ws);
  y = lk_test_tensor_poisoned (stream, F32, 4, ys);
  g_assert_false (lk_op_conv2d (stream, x, w, NULL, y, &(LkConv2dOptions) { 1, 0 }, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
  lk_stream_finish (stream, NULL);
  g_assert_cmpuint (lk_context_get_validation_message_count (context), ==, 0);
}

static void
test_conv_oracle (void)
{
  LkStream *stream = lk_test_stream ();
  /* SD1.5 down-block shapes on a small latent: a resnet 3×3, the 2× downsampler, a 1×1
   * skip projection. */
  static const ConvCase cases[] = {
    { 1, 320, 16, 16, 320, 3, 1, 1, F32, F16, F32, F16 },
    { 1, 320, 16, 16, 320, 3, 2, 1, F16, F16, F32, F16 },
    { 2, 320, 8, 8, 640, 1, 1, 0, F32, F16, F32, F32 },
    { 1, 4, 16, 16, 320, 3, 1, 1, F32, F32, F32, F32 },
  };

  if (stream == NULL)
    return;
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const ConvCase *cc = &cases[c];
      g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_conv2d.py");
      gint64 nx = cc->batch * cc->c_in * cc->h * cc->w;
      gint64 nw = cc->c_out * cc->c_in * cc->kernel * cc->kernel;
      gint64 ny = cc->batch * cc->c_out * out_size (cc->h, cc) * out_size (cc->w, cc);
      g_autofree float *x = lk_test_random (nx, -1, 1, 4000 + 10 * c);
      g_autofree float *w = lk_test_random (nw, -1, 1, 4001 + 10 * c);
      g_autofree float *bias = lk_test_random (cc->c_out, -1, 1, 4002 + 10 * c);
      g_autofree float *ref = NULL;

      if (oracle == NULL)
        return;
      as_stored (x, nx, cc->x_type);
      as_stored (w, nw, cc->w_type);
      lk_oracle_add_input (oracle, "x", x, nx);
      lk_oracle_add_input (oracle, "w", w, nw);
      if (cc->bias >= 0)
        {
          as_stored (bias, cc->c_out, cc->bias);
          lk_oracle_add_input (oracle, "bias", bias, cc->c_out);
        }
      lk_oracle_set_param_int (oracle, "batch", cc->batch);
      lk_oracle_set_param_int (oracle, "c_in", cc->c_in);
      lk_oracle_set_param_int (oracle, "h", cc->h);
      lk_oracle_set_param_int (oracle, "w", cc->w);
      lk_oracle_set_param_int (oracle, "c_out", cc->c_out);
      lk_oracle_set_param_int (oracle, "kernel", cc->kernel);
      lk_oracle_set_param_int (oracle, "stride", cc->stride);
      lk_oracle_set_param_int (oracle, "padding", cc->padding);
      ref = lk_oracle_run (oracle, ny);
      /* Both sides accumulate in f32, in different orders. */
      run_case (stream, cc, 4000 + 10 * c, ref, 2e-6);
    }
  lk_test_check_validation ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/conv2d/variants", test_conv_variants);
  g_test_add_func ("/ops/conv2d/other-tiles", test_conv_other_tiles);
  g_test_add_func ("/ops/conv2d/rejects", test_conv_rejects);
  g_test_add_func ("/ops/conv2d/split-bindings", test_conv_split_bindings);
  g_test_add_func ("/ops/conv2d/oracle", test_conv_oracle);
  return g_test_run ();
}
