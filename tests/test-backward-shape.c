/* test-backward-shape.c: the gradients of upsampling, channel concatenation and broadcasting
 * add / mul, by finite differences, against the CPU reference and against torch autograd
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-half.h"
#include "lk-ops-backward.h"
#include "lk-ref-backward.h"
#include "lk-oracle-cases.h"
#include "lk-test-fd.h"
#include "lk-test-util.h"

#define F32 LK_DTYPE_F32
#define F16 LK_DTYPE_F16

static gsize
numel (const gint64 *shape,
       guint         ndim)
{
  gsize n = 1;

  for (guint d = 0; d < ndim; d++)
    n *= shape[d];
  return n;
}

/* The index of dy element i in an operand of shape xs broadcast to ys (right-aligned). */
static gsize
broadcast_index (gsize         i,
                 const gint64 *ys,
                 guint         y_ndim,
                 const gint64 *xs,
                 guint         x_ndim)
{
  gsize xi = 0, stride = 1;

  for (gint d = y_ndim - 1; d >= 0; d--)
    {
      gint xd = d - (gint) (y_ndim - x_ndim);
      gsize pos = i % ys[d];

      i /= ys[d];
      if (xd >= 0)
        {
          xi += (xs[xd] == 1 ? 0 : pos) * stride;
          stride *= xs[xd];
        }
    }
  return xi;
}

/* L = Σ r · (a ∘ b) with broadcasting, in double: mul when @mul, else add. */
typedef struct
{
  const gint64 *ys, *as, *bs;
  guint         y_ndim, a_ndim, b_ndim;
  const float  *a, *b, *r;
  gboolean      mul;
} BinaryLoss;

static double
binary_loss (gconstpointer data)
{
  const BinaryLoss *l = data;
  double sum = 0;

  for (gsize i = 0; i < numel (l->ys, l->y_ndim); i++)
    {
      double a = l->a[broadcast_index (i, l->ys, l->y_ndim, l->as, l->a_ndim)];
      double b = l->b[broadcast_index (i, l->ys, l->y_ndim, l->bs, l->b_ndim)];

      sum += l->r[i] * (l->mul ? a * b : a + b);
    }
  return sum;
}

/* Linear in each input: central differences are exact up to rounding. */
static void
check_binary_by_fd (const char       *what,
                    const BinaryLoss *loss,
                    float            *input,
                    gsize             n,
                    const float      *grad)
{
  lk_test_check_by_fd (what, binary_loss, loss, input, n, grad, 1e-2f, 1e-5);
}

typedef struct
{
  gint64 ys[4], as[4], bs[4];
  guint  y_ndim, a_ndim, b_ndim;
} BinaryCase;

static const BinaryCase binary_cases[] = {
  /* The UNet's time embedding added per channel, a Linear's bias, a per-channel scale, an
   * operand broadcast along an inner and an outer dimension, and no broadcast at all. */
  { { 2, 3, 4, 5 }, { 2, 3, 4, 5 }, { 2, 3, 1, 1 }, 4, 4, 4 },
  { { 2, 7, 6 }, { 2, 7, 6 }, { 6 }, 3, 3, 1 },
  { { 2, 3, 4, 5 }, { 3, 1, 1 }, { 2, 3, 4, 5 }, 4, 3, 4 },
  { { 2, 3, 4, 5 }, { 2, 1, 4, 1 }, { 3, 1, 5 }, 4, 4, 3 },
  { { 3, 4, 5 }, { 3, 4, 5 }, { 3, 4, 5 }, 3, 3, 3 },
};

static void
test_binary (void)
{
  LkStream *stream = lk_test_stream ();

  if (stream == NULL)
    return;
  for (guint c = 0; c < G_N_ELEMENTS (binary_cases); c++)
    for (guint mul = 0; mul < 2; mul++)
      for (guint f16 = 0; f16 < 2; f16++)
        {
          const BinaryCase *bc = &binary_cases[c];
          LkDType dt = f16 ? F16 : F32;
          gsize ny = numel (bc->ys, bc->y_ndim), na = numel (bc->as, bc->a_ndim);
          gsize nb = numel (bc->bs, bc->b_ndim);
          g_autoptr(GError) error = NULL;
          g_autofree float *a = lk_test_random (na, -1, 1, 10 * c);
          g_autofree float *b = lk_test_random (nb, -1, 1, 10 * c + 1);
          g_autofree float *dy = lk_test_random (ny, -1, 1, 10 * c + 2);
          g_autofree float *ref_a = g_new (float, na), *ref_b = g_new (float, nb);
          g_autofree float *tmp = g_new (float, ny);
          g_autofree float *da = NULL, *db = NULL;
          g_autoptr(LkTensor) ta = NULL, tb = NULL, tdy = NULL, tda = NULL, tdb = NULL;
          g_autofree char *what = g_strdup_printf ("%s backward case %u %s", mul ? "mul" : "add",
                                                   c, lk_dtype_name (dt));
          g_autofree char *what_a = g_strconcat (what, " da", NULL);
          g_autofree char *what_b = g_strconcat (what, " db", NULL);
          /* f32: sums of up to 40 terms; f16 outputs round to 2⁻¹¹. */
          double bound = f16 ? 2e-3 : 1e-6;

          if (f16)
            {
              lk_round_to_half (a, na);
              lk_round_to_half (b, nb);
              lk_round_to_half (dy, ny);
            }
          ta = lk_test_tensor_from (stream, dt, bc->a_ndim, bc->as, a);
          tb = lk_test_tensor_from (stream, dt, bc->b_ndim, bc->bs, b);
          tdy = lk_test_tensor_from (stream, dt, bc->y_ndim, bc->ys, dy);
          tda = lk_test_tensor_poisoned (stream, dt, bc->a_ndim, bc->as);
          tdb = lk_test_tensor_poisoned (stream, dt, bc->b_ndim, bc->bs);
          if (mul)
            g_assert_true (lk_op_mul_backward (stream, ta, tb, tdy, tda, tdb, &error));
          else
            g_assert_true (lk_op_add_backward (stream, tdy, tda, tdb, &error));
          g_assert_no_error (error);
          da = lk_test_download (stream, tda);
          db = lk_test_download (stream, tdb);

          /* Reference: dy times the other operand (broadcast), reduced onto each shape. */
          for (gsize i = 0; i < ny; i++)
            tmp[i] = dy[i] * (mul ? b[broadcast_index (i, bc->ys, bc->y_ndim, bc->bs, bc->b_ndim)] : 1);
          lk_ref_broadcast_backward (tmp, bc->ys, bc->y_ndim, ref_a, bc->as, bc->a_ndim);
          for (gsize i = 0; i < ny; i++)
            tmp[i] = dy[i] * (mul ? a[broadcast_index (i, bc->ys, bc->y_ndim, bc->as, bc->a_ndim)] : 1);
          lk_ref_broadcast_backward (tmp, bc->ys, bc->y_ndim, ref_b, bc->bs, bc->b_ndim);
          lk_test_assert_close (what_a, da, ref_a, na, bound, 0);
          lk_test_assert_close (what_b, db, ref_b, nb, bound, 0);

          if (!f16)
            {
              BinaryLoss loss = { bc->ys, bc->as, bc->bs, bc->y_ndim, bc->a_ndim, bc->b_ndim,
                                  a, b, dy, mul };

              check_binary_by_fd (what_a, &loss, a, na, da);
              check_binary_by_fd (what_b, &loss, b, nb, db);
            }
        }
  lk_test_check_validation ();
}

static void
test_upsample (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 shapes[][4] = { { 1, 1, 1, 1 }, { 2, 3, 5, 7 }, { 1, 320, 8, 8 } };

  if (stream == NULL)
    return;
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (guint f16 = 0; f16 < 2; f16++)
      {
        const gint64 *xs = shapes[s];
        const gint64 ys[] = { xs[0], xs[1], 2 * xs[2], 2 * xs[3] };
        LkDType dt = f16 ? F16 : F32;
        gsize nx = numel (xs, 4), ny = 4 * nx;
        g_autoptr(GError) error = NULL;
        g_autofree float *dy = lk_test_random (ny, -1, 1, 40 + s);
        g_autofree float *ref = g_new (float, nx), *fd = g_new (float, nx);
        g_autofree float *dx = NULL;
        g_autoptr(LkTensor) tdy = NULL, tdx = NULL;
        g_autofree char *what = g_strdup_printf ("upsample backward case %u %s", s,
                                                 lk_dtype_name (dt));

        if (f16)
          lk_round_to_half (dy, ny);
        tdy = lk_test_tensor_from (stream, dt, 4, ys, dy);
        tdx = lk_test_tensor_poisoned (stream, dt, 4, xs);
        g_assert_true (lk_op_upsample_nearest2x_backward (stream, tdy, tdx, &error));
        g_assert_no_error (error);
        dx = lk_test_download (stream, tdx);
        lk_ref_upsample_nearest2x_backward (dy, ref, xs[0] * xs[1], xs[2], xs[3]);
        lk_test_assert_close (what, dx, ref, nx, f16 ? 2e-3 : 1e-7, 0);

        if (!f16 && nx <= 256)
          {
            /* L = Σ dy · upsample(x) moves by dy's 2 × 2 block per unit of x[i]: step each
             * x[i] and sum the change of L over the output it is copied to. */
            g_autofree char *label = g_strconcat (what, " vs finite differences", NULL);

            for (gsize i = 0; i < nx; i++)
              {
                gsize plane = i / (xs[2] * xs[3]), y = i / xs[3] % xs[2], x = i % xs[3];
                double up = 0, down = 0;

                for (gsize j = 0; j < ny; j++)
                  {
                    gsize jp = j / (ys[2] * ys[3]), jy = j / ys[3] % ys[2], jx = j % ys[3];
                    double shift = jp == plane && jy / 2 == y && jx / 2 == x ? 1e-2 : 0;

                    up += dy[j] * shift;
                    down -= dy[j] * shift;
                  }
                fd[i] = (up - down) / 2e-2;
              }
            lk_test_assert_close (label, dx, fd, nx, 1e-5, 0);
          }
      }
  lk_test_check_validation ();
}

static void
test_concat (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 ys[] = { 2, 7, 3, 5 }, as[] = { 2, 4, 3, 5 }, bs[] = { 2, 3, 3, 5 };
  gsize ny = numel (ys, 4), na = numel (as, 4), nb = numel (bs, 4);

  if (stream == NULL)
    return;
  for (guint f16 = 0; f16 < 2; f16++)
    {
      LkDType dt = f16 ? F16 : F32;
      g_autoptr(GError) error = NULL;
      g_autofree float *dy = lk_test_random (ny, -1, 1, 60);
      g_autofree float *ref_a = g_new (float, na), *ref_b = g_new (float, nb);
      g_autofree float *da = NULL, *db = NULL, *db_only = NULL;
      g_autoptr(LkTensor) tdy = NULL, tda = NULL, tdb = NULL;

      if (f16)
        lk_round_to_half (dy, ny);
      tdy = lk_test_tensor_from (stream, dt, 4, ys, dy);
      tda = lk_test_tensor_poisoned (stream, F32, 4, as);
      tdb = lk_test_tensor_poisoned (stream, dt, 4, bs);
      g_assert_true (lk_op_concat_channels_backward (stream, tdy, tda, tdb, &error));
      g_assert_no_error (error);
      da = lk_test_download (stream, tda);
      db = lk_test_download (stream, tdb);
      /* The slices by definition; a copy is exact, f16 included. */
      for (gsize n = 0; n < 2; n++)
        {
          memcpy (ref_a + n * 4 * 15, dy + n * 7 * 15, 4 * 15 * sizeof (float));
          memcpy (ref_b + n * 3 * 15, dy + n * 7 * 15 + 4 * 15, 3 * 15 * sizeof (float));
        }
      lk_test_assert_close ("concat backward da", da, ref_a, na, 0, 0);
      lk_test_assert_close ("concat backward db", db, ref_b, nb, 0, 0);

      /* Only the second operand's gradient. */
      lk_tensor_poison (tdb, stream);
      g_assert_true (lk_op_concat_channels_backward (stream, tdy, NULL, tdb, &error));
      g_assert_no_error (error);
      db_only = lk_test_download (stream, tdb);
      lk_test_assert_close ("concat backward db alone", db_only, ref_b, nb, 0, 0);
    }
  lk_test_check_validation ();
}

static char *
shape_string (const gint64 *shape,
              guint         ndim)
{
  GString *s = g_string_new (NULL);

  for (guint d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? "," : "", shape[d]);
  return g_string_free (s, FALSE);
}

static void
test_oracle (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 us[] = { 2, 320, 8, 8 }, uy[] = { 2, 320, 16, 16 };
  static const gint64 cy[] = { 1, 960, 8, 8 }, ca[] = { 1, 640, 8, 8 }, cb[] = { 1, 320, 8, 8 };
  g_autoptr(LkOracle) oracle = NULL;
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (float));
  g_autofree float *expected = NULL;
  guint index = 0;
  g_autoptr(GError) error = NULL;

  if (stream == NULL || (oracle = lk_oracle_new ("oracle_backward.py")) == NULL)
    return;

  /* The UNet's upsampler and skip concatenation at a small latent. */
  {
    gsize nx = numel (us, 4), ny = numel (uy, 4);
    g_autofree float *x = lk_test_random (nx, -1, 1, 70);
    g_autofree float *dy = lk_test_random (ny, -1, 1, 71);
    g_autoptr(LkTensor) tdy = lk_test_tensor_from (stream, F32, 4, uy, dy);
    g_autoptr(LkTensor) tdx = lk_test_tensor_poisoned (stream, F32, 4, us);
    g_autofree float *dx = NULL;
    g_autofree char *shape = shape_string (us, 4);

    g_assert_true (lk_op_upsample_nearest2x_backward (stream, tdy, tdx, &error));
    g_assert_no_error (error);
    dx = lk_test_download (stream, tdx);
    g_array_append_vals (out, dx, nx);
    lk_oracle_case_string (oracle, index, "op", "upsample");
    lk_oracle_case_string (oracle, index, "shape", shape);
    lk_oracle_case_input (oracle, index, "x", x, nx);
    lk_oracle_case_input (oracle, index, "dy", dy, ny);
    index++;
  }
  {
    gsize ny = numel (cy, 4), na = numel (ca, 4), nb = numel (cb, 4);
    g_autofree float *a = lk_test_random (na, -1, 1, 72);
    g_autofree float *b = lk_test_random (nb, -1, 1, 73);
    g_autofree float *dy = lk_test_random (ny, -1, 1, 74);
    g_autoptr(LkTensor) tdy = lk_test_tensor_from (stream, F32, 4, cy, dy);
    g_autoptr(LkTensor) tda = lk_test_tensor_poisoned (stream, F32, 4, ca);
    g_autoptr(LkTensor) tdb = lk_test_tensor_poisoned (stream, F32, 4, cb);
    g_autofree float *da = NULL, *db = NULL;
    g_autofree char *sa = shape_string (ca, 4), *sb = shape_string (cb, 4);

    g_assert_true (lk_op_concat_channels_backward (stream, tdy, tda, tdb, &error));
    g_assert_no_error (error);
    da = lk_test_download (stream, tda);
    db = lk_test_download (stream, tdb);
    g_array_append_vals (out, da, na);
    g_array_append_vals (out, db, nb);
    lk_oracle_case_string (oracle, index, "op", "concat");
    lk_oracle_case_string (oracle, index, "a_shape", sa);
    lk_oracle_case_string (oracle, index, "b_shape", sb);
    lk_oracle_case_input (oracle, index, "a", a, na);
    lk_oracle_case_input (oracle, index, "b", b, nb);
    lk_oracle_case_input (oracle, index, "dy", dy, ny);
    index++;
  }
  for (guint c = 0; c < G_N_ELEMENTS (binary_cases); c++)
    {
      const BinaryCase *bc = &binary_cases[c];
      gsize ny = numel (bc->ys, bc->y_ndim), na = numel (bc->as, bc->a_ndim);
      gsize nb = numel (bc->bs, bc->b_ndim);
      g_autofree float *a = lk_test_random (na, -1, 1, 80 + c);
      g_autofree float *b = lk_test_random (nb, -1, 1, 90 + c);
      g_autofree float *dy = lk_test_random (ny, -1, 1, 100 + c);
      g_autoptr(LkTensor) ta = lk_test_tensor_from (stream, F32, bc->a_ndim, bc->as, a);
      g_autoptr(LkTensor) tb = lk_test_tensor_from (stream, F32, bc->b_ndim, bc->bs, b);
      g_autoptr(LkTensor) tdy = lk_test_tensor_from (stream, F32, bc->y_ndim, bc->ys, dy);
      g_autoptr(LkTensor) tda = lk_test_tensor_poisoned (stream, F32, bc->a_ndim, bc->as);
      g_autoptr(LkTensor) tdb = lk_test_tensor_poisoned (stream, F32, bc->b_ndim, bc->bs);
      g_autofree float *da = NULL, *db = NULL;
      g_autofree char *sa = shape_string (bc->as, bc->a_ndim);
      g_autofree char *sb = shape_string (bc->bs, bc->b_ndim);

      g_assert_true (lk_op_mul_backward (stream, ta, tb, tdy, tda, tdb, &error));
      g_assert_no_error (error);
      da = lk_test_download (stream, tda);
      db = lk_test_download (stream, tdb);
      g_array_append_vals (out, da, na);
      g_array_append_vals (out, db, nb);
      lk_oracle_case_string (oracle, index, "op", "mul");
      lk_oracle_case_string (oracle, index, "a_shape", sa);
      lk_oracle_case_string (oracle, index, "b_shape", sb);
      lk_oracle_case_input (oracle, index, "a", a, na);
      lk_oracle_case_input (oracle, index, "b", b, nb);
      lk_oracle_case_input (oracle, index, "dy", dy, ny);
      index++;
    }

  lk_oracle_set_param_int (oracle, "cases", index);
  expected = lk_oracle_run (oracle, out->len);
  if (expected == NULL)
    return;
  /* f32 sums of at most 40 terms in either order. */
  lk_test_assert_close ("upsample, concat, mul backward vs torch", (float *) out->data, expected,
                        out->len, 1e-6, 0);
  lk_test_check_validation ();
}

static void
test_errors (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 s4[] = { 1, 3, 4, 4 }, s5[] = { 1, 3, 5, 5 }, s2[] = { 1, 2, 4, 4 };
  static const gint64 s3[] = { 5 };
  g_autoptr(GError) error = NULL;
  g_autoptr(LkTensor) a = NULL, b = NULL, c = NULL, d = NULL;

  if (stream == NULL)
    return;
  a = lk_test_tensor_poisoned (stream, F32, 4, s4);
  b = lk_test_tensor_poisoned (stream, F32, 4, s5);
  c = lk_test_tensor_poisoned (stream, F32, 4, s2);
  d = lk_test_tensor_poisoned (stream, F32, 1, s3);

  g_assert_false (lk_op_upsample_nearest2x_backward (stream, b, a, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  /* 2 + 2 channels are not 3. */
  g_assert_false (lk_op_concat_channels_backward (stream, a, c, c, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  /* [5] does not broadcast to [1, 3, 4, 4]. */
  g_assert_false (lk_op_broadcast_backward (stream, a, d, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (lk_op_mul_backward (stream, a, a, a, c, NULL, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_clear_error (&error);
  lk_test_check_validation ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/backward-shape/add-mul", test_binary);
  g_test_add_func ("/backward-shape/upsample", test_upsample);
  g_test_add_func ("/backward-shape/concat", test_concat);
  g_test_add_func ("/backward-shape/oracle", test_oracle);
  g_test_add_func ("/backward-shape/errors", test_errors);
  return g_test_run ();
}
