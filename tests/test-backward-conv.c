/* test-backward-conv.c: conv2d's input, weight and bias gradients by finite differences,
 * against the CPU reference, split over small bindings, and against torch autograd
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
  gint64  batch, cin, h, w, cout, ks;
  guint   stride;
  LkDType x_dt, w_dt, dy_dt, grad_dt;
} ConvCase;

static gint64
out_size (gint64 size,
          gint64 ks,
          guint  stride)
{
  return (size + 2 * ((ks - 1) / 2) - ks) / stride + 1;
}

/* L = Σ r · (conv(x, w) + b) in double, for finite differences. */
typedef struct
{
  const ConvCase *c;
  const float    *x, *w, *b, *r;
} ConvLoss;

static double
conv_loss (gconstpointer data)
{
  const ConvLoss *l = data;
  const ConvCase *c = l->c;
  gint64 pad = (c->ks - 1) / 2, ho = out_size (c->h, c->ks, c->stride);
  gint64 wo = out_size (c->w, c->ks, c->stride);
  double sum = 0;

  for (gint64 b = 0; b < c->batch; b++)
    for (gint64 co = 0; co < c->cout; co++)
      for (gint64 oy = 0; oy < ho; oy++)
        for (gint64 ox = 0; ox < wo; ox++)
          {
            double y = l->b[co];

            for (gint64 ci = 0; ci < c->cin; ci++)
              for (gint64 ky = 0; ky < c->ks; ky++)
                for (gint64 kx = 0; kx < c->ks; kx++)
                  {
                    gint64 iy = oy * c->stride + ky - pad, ix = ox * c->stride + kx - pad;

                    if (iy >= 0 && ix >= 0 && iy < c->h && ix < c->w)
                      y += (double) l->w[((co * c->cin + ci) * c->ks + ky) * c->ks + kx] *
                           l->x[((b * c->cin + ci) * c->h + iy) * c->w + ix];
                  }
            sum += y * l->r[((b * c->cout + co) * ho + oy) * wo + ox];
          }
  return sum;
}

/* Bilinear in each input: central differences are exact up to rounding of the step. */
static void
check_by_fd (const char     *what,
             const ConvLoss *loss,
             float          *input,
             gsize           n,
             const float    *grad)
{
  lk_test_check_by_fd (what, conv_loss, loss, input, n, grad, 1e-2f, 1e-5);
}

static float *
random_in (LkDType dt,
           gsize   n,
           guint32 seed)
{
  float *v = lk_test_random (n, -1, 1, seed);

  if (dt == F16)
    lk_round_to_half (v, n);
  return v;
}

static void
run_case (LkStream       *stream,
          const ConvCase *c,
          guint32         seed,
          gboolean        by_fd)
{
  gint64 ho = out_size (c->h, c->ks, c->stride), wo = out_size (c->w, c->ks, c->stride);
  const gint64 xs[] = { c->batch, c->cin, c->h, c->w };
  const gint64 ws[] = { c->cout, c->cin, c->ks, c->ks };
  const gint64 ys[] = { c->batch, c->cout, ho, wo };
  const gint64 bs[] = { c->cout };
  gsize nx = c->batch * c->cin * c->h * c->w, nw = c->cout * c->cin * c->ks * c->ks;
  gsize ny = c->batch * c->cout * ho * wo;
  g_autoptr(GError) error = NULL;
  g_autofree float *x = random_in (c->x_dt, nx, seed);
  g_autofree float *w = random_in (c->w_dt, nw, seed + 1);
  g_autofree float *dy = random_in (c->dy_dt, ny, seed + 2);
  g_autofree float *ref_dx = g_new (float, nx), *ref_dw = g_new (float, nw);
  g_autofree float *ref_db = g_new (float, c->cout);
  g_autofree float *dx = NULL, *dw = NULL, *db = NULL;
  g_autoptr(LkTensor) tx = lk_test_tensor_from (stream, c->x_dt, 4, xs, x);
  g_autoptr(LkTensor) tw = lk_test_tensor_from (stream, c->w_dt, 4, ws, w);
  g_autoptr(LkTensor) tdy = lk_test_tensor_from (stream, c->dy_dt, 4, ys, dy);
  g_autoptr(LkTensor) tdx = lk_test_tensor_poisoned (stream, c->grad_dt, 4, xs);
  g_autoptr(LkTensor) tdw = lk_test_tensor_poisoned (stream, c->grad_dt, 4, ws);
  g_autoptr(LkTensor) tdb = lk_test_tensor_poisoned (stream, c->grad_dt, 1, bs);
  g_autofree char *what = g_strdup_printf ("conv2d backward %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                                           "×%" G_GINT64_FORMAT "×%" G_GINT64_FORMAT " k%" G_GINT64_FORMAT
                                           " s%u → %" G_GINT64_FORMAT " %s/%s/%s → %s",
                                           c->batch, c->cin, c->h, c->w, c->ks, c->stride, c->cout,
                                           lk_dtype_name (c->x_dt), lk_dtype_name (c->w_dt),
                                           lk_dtype_name (c->dy_dt), lk_dtype_name (c->grad_dt));
  g_autofree char *what_dx = g_strconcat (what, " dx", NULL);
  g_autofree char *what_dw = g_strconcat (what, " dw", NULL);
  g_autofree char *what_db = g_strconcat (what, " dbias", NULL);
  /* f32 sums of up to a few thousand products: ~1e-6; f16 gradients round to 2⁻¹¹. */
  double bound = c->grad_dt == F16 ? 2e-3 : 1e-5;

  g_assert_true (lk_op_conv2d_backward (stream, tx, tw, tdy, tdx, tdw, tdb,
                                        &(LkConv2dOptions) { c->stride, (c->ks - 1) / 2 }, &error));
  g_assert_no_error (error);
  dx = lk_test_download (stream, tdx);
  dw = lk_test_download (stream, tdw);
  db = lk_test_download (stream, tdb);

  lk_ref_conv2d_backward (x, w, dy, ref_dx, ref_dw, ref_db, c->batch, c->cin, c->h, c->w, c->cout,
                          c->ks, c->stride);
  lk_test_assert_close (what_dx, dx, ref_dx, nx, bound, 0);
  lk_test_assert_close (what_dw, dw, ref_dw, nw, bound, 0);
  lk_test_assert_close (what_db, db, ref_db, c->cout, bound, 0);

  if (by_fd)
    {
      g_autofree float *b = random_in (F32, c->cout, seed + 3);
      ConvLoss loss = { c, x, w, b, dy };

      check_by_fd (what_dx, &loss, x, nx, dx);
      check_by_fd (what_dw, &loss, w, nw, dw);
      check_by_fd (what_db, &loss, b, c->cout, db);
    }
}

static void
test_conv (void)
{
  LkStream *stream = lk_test_stream ();
  static const ConvCase cases[] = {
    /* Odd sizes and channel counts that fill no tile, every kernel and stride. */
    { 2, 3, 7, 6, 5, 3, 1, F32, F32, F32, F32 },
    { 2, 3, 7, 6, 5, 3, 2, F32, F32, F32, F32 },
    { 1, 4, 8, 8, 3, 3, 2, F32, F32, F32, F32 },
    { 2, 5, 5, 7, 3, 1, 1, F32, F32, F32, F32 },
    { 1, 5, 6, 7, 4, 1, 2, F32, F32, F32, F32 },
    /* Mixed precision as training runs it: f16 weights and activations, f32 gradients. */
    { 2, 16, 12, 10, 24, 3, 1, F16, F16, F32, F32 },
    { 1, 16, 12, 12, 8, 3, 2, F16, F16, F16, F16 },
    { 1, 32, 9, 9, 16, 1, 1, F16, F16, F32, F16 },
  };

  if (stream == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    run_case (stream, &cases[i], 100 + 10 * i, i < 5);
  lk_test_check_validation ();
}

static void
test_split_bindings (void)
{
  /* With a 16 KiB binding range, x, dy and dx go one image at a time, the weight gradient
   * adds up over dispatches (through f32 for an f16 one), and an image larger than a binding
   * is refused. */
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) context = NULL;
  g_autoptr(LkStream) stream = NULL;
  static const ConvCase cases[] = {
    { 3, 8, 16, 16, 8, 3, 1, F32, F32, F32, F32 },
    { 3, 8, 16, 16, 4, 3, 2, F16, F16, F16, F16 },
    { 4, 16, 8, 8, 8, 1, 1, F32, F16, F32, F16 },
  };
  const gint64 xs[] = { 1, 64, 32, 32 }, ws[] = { 4, 64, 1, 1 }, ys[] = { 1, 4, 32, 32 };
  g_autoptr(LkTensor) x = NULL, w = NULL, dy = NULL, dw = NULL;

  context = lk_test_context_with_binding_range (16384);
  if (context == NULL)
    return;
  stream = lk_stream_new (context, &error);
  g_assert_no_error (error);

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    run_case (stream, &cases[c], 300 + 10 * c, FALSE);

  x = lk_test_tensor_poisoned (stream, F32, 4, xs);
  w = lk_test_tensor_poisoned (stream, F32, 4, ws);
  dy = lk_test_tensor_poisoned (stream, F32, 4, ys);
  dw = lk_test_tensor_poisoned (stream, F32, 4, ws);
  g_assert_false (lk_op_conv2d_backward (stream, x, w, dy, NULL, dw, NULL,
                                         &(LkConv2dOptions) { 1, 0 }, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
  g_test_message ("%s", error->message);
  lk_stream_finish (stream, NULL);
  g_assert_cmpuint (lk_context_get_validation_message_count (context), ==, 0);
}

static void
test_oracle (void)
{
  LkStream *stream = lk_test_stream ();
  /* SD1.5 down-block shapes on a small latent: a resnet 3×3, the 2× downsampler, a 1×1 skip
   * projection with a batch of two. */
  static const ConvCase cases[] = {
    { 1, 320, 8, 8, 320, 3, 1, F32, F32, F32, F32 },
    { 1, 64, 16, 16, 64, 3, 2, F32, F32, F32, F32 },
    { 2, 320, 8, 8, 640, 1, 1, F32, F32, F32, F32 },
  };
  g_autoptr(LkOracle) oracle = NULL;
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_free);
  g_autofree float *expected = NULL;
  gsize total = 0, offset = 0;

  if (stream == NULL || (oracle = lk_oracle_new ("oracle_backward.py")) == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const ConvCase *c = &cases[i];
      gint64 ho = out_size (c->h, c->ks, c->stride), wo = out_size (c->w, c->ks, c->stride);
      const gint64 xs[] = { c->batch, c->cin, c->h, c->w };
      const gint64 ws[] = { c->cout, c->cin, c->ks, c->ks };
      const gint64 ys[] = { c->batch, c->cout, ho, wo };
      gsize nx = c->batch * c->cin * c->h * c->w, nw = c->cout * c->cin * c->ks * c->ks;
      gsize ny = c->batch * c->cout * ho * wo;
      g_autoptr(GError) error = NULL;
      g_autofree float *x = lk_test_random (nx, -1, 1, 500 + i);
      g_autofree float *w = lk_test_random (nw, -0.1, 0.1, 510 + i);
      g_autofree float *dy = lk_test_random (ny, -1, 1, 520 + i);
      g_autoptr(LkTensor) tx = lk_test_tensor_from (stream, F32, 4, xs, x);
      g_autoptr(LkTensor) tw = lk_test_tensor_from (stream, F32, 4, ws, w);
      g_autoptr(LkTensor) tdy = lk_test_tensor_from (stream, F32, 4, ys, dy);
      g_autoptr(LkTensor) tdx = lk_test_tensor_poisoned (stream, F32, 4, xs);
      g_autoptr(LkTensor) tdw = lk_test_tensor_poisoned (stream, F32, 4, ws);
      g_autoptr(LkTensor) tdb = lk_test_tensor_poisoned (stream, F32, 1, &ws[0]);

      g_assert_true (lk_op_conv2d_backward (stream, tx, tw, tdy, tdx, tdw, tdb,
                                            &(LkConv2dOptions) { c->stride, (c->ks - 1) / 2 },
                                            &error));
      g_assert_no_error (error);
      g_ptr_array_add (results, lk_test_download (stream, tdx));
      g_ptr_array_add (results, lk_test_download (stream, tdw));
      g_ptr_array_add (results, lk_test_download (stream, tdb));
      total += nx + nw + c->cout;

      lk_oracle_case_string (oracle, i, "op", "conv2d");
      lk_oracle_case_int (oracle, i, "n", c->batch);
      lk_oracle_case_int (oracle, i, "cin", c->cin);
      lk_oracle_case_int (oracle, i, "h", c->h);
      lk_oracle_case_int (oracle, i, "w", c->w);
      lk_oracle_case_int (oracle, i, "cout", c->cout);
      lk_oracle_case_int (oracle, i, "k", c->ks);
      lk_oracle_case_int (oracle, i, "stride", c->stride);
      lk_oracle_case_input (oracle, i, "x", x, nx);
      lk_oracle_case_input (oracle, i, "w", w, nw);
      lk_oracle_case_input (oracle, i, "dy", dy, ny);
    }
  lk_oracle_set_param_int (oracle, "cases", G_N_ELEMENTS (cases));
  expected = lk_oracle_run (oracle, total);
  if (expected == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const ConvCase *c = &cases[i];
      gsize sizes[] = { c->batch * c->cin * c->h * c->w, c->cout * c->cin * c->ks * c->ks,
                        c->cout };
      static const char *names[] = { "dx", "dw", "dbias" };

      for (guint g = 0; g < 3; g++)
        {
          g_autofree char *what = g_strdup_printf ("conv2d %s (case %u) vs torch", names[g], i);

          /* Both in f32, summed in other orders over up to 2880 terms. */
          lk_test_assert_close (what, g_ptr_array_index (results, 3 * i + g), expected + offset,
                                sizes[g], 1e-5, 0);
          offset += sizes[g];
        }
    }
  lk_test_check_validation ();
}

static void
test_errors (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 xs[] = { 1, 4, 8, 8 }, ws[] = { 6, 4, 3, 3 }, ys[] = { 1, 6, 8, 8 };
  static const gint64 w5[] = { 6, 4, 5, 5 }, w4[] = { 6, 5, 3, 3 }, y4[] = { 1, 6, 4, 4 };
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) x = NULL, w = NULL, dy = NULL, dx = NULL, wide = NULL, bad = NULL;
  g_autoptr(LkTensor) small = NULL;

  if (stream == NULL)
    return;
  x = lk_test_tensor_poisoned (stream, F32, 4, xs);
  w = lk_test_tensor_poisoned (stream, F32, 4, ws);
  dy = lk_test_tensor_poisoned (stream, F32, 4, ys);
  dx = lk_test_tensor_poisoned (stream, F32, 4, xs);
  wide = lk_test_tensor_poisoned (stream, F32, 4, w5);
  bad = lk_test_tensor_poisoned (stream, F32, 4, w4);
  small = lk_test_tensor_poisoned (stream, F32, 4, y4);

  /* A 3×3 kernel without padding ("valid") is refused, as is a 5×5 kernel, channels that do
   * not match and a dy of the wrong size for the stride. */
  g_assert_false (lk_op_conv2d_backward (stream, x, w, dy, dx, NULL, NULL,
                                         &(LkConv2dOptions) { 1, 0 }, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (lk_op_conv2d_backward (stream, x, wide, dy, dx, NULL, NULL,
                                         &(LkConv2dOptions) { 1, 2 }, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_conv2d_backward (stream, x, bad, dy, dx, NULL, NULL,
                                         &(LkConv2dOptions) { 1, 1 }, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_conv2d_backward (stream, x, w, small, dx, NULL, NULL,
                                         &(LkConv2dOptions) { 1, 1 }, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (lk_op_conv2d_backward (stream, x, w, dy, dx, NULL, NULL,
                                         &(LkConv2dOptions) { 2, 1 }, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  lk_test_check_validation ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/backward-conv/gradients", test_conv);
  g_test_add_func ("/backward-conv/split-bindings", test_split_bindings);
  g_test_add_func ("/backward-conv/oracle", test_oracle);
  g_test_add_func ("/backward-conv/errors", test_errors);
  return g_test_run ();
}
