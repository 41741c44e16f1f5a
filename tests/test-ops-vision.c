/* test-ops-vision.c: the NHWC vision ops against their CPU references, and the references
 * against torch where TensorFlow's semantics are subtle (SAME padding, pools, resize,
 * transposed convolution)
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-ops-vision.h"
#include "lk-test-util.h"

#define F32 LK_DTYPE_F32

static gint64
numel4 (const gint64 *s)
{
  return s[0] * s[1] * s[2] * s[3];
}

/* Many cases go to the torch oracle in one run (python with torch takes seconds to start):
 * case i's inputs and parameters are prefixed "cI_", its output follows case i − 1's. */
typedef struct
{
  LkOracle  *oracle;
  GPtrArray *refs;     /* float*, owned */
  GArray    *sizes;    /* gsize */
  GPtrArray *labels;   /* char*, owned */
  GArray    *bounds;   /* double; 0: bitwise equal */
} Batch;

static Batch *
batch_new (void)
{
  Batch *b = g_new0 (Batch, 1);

  b->oracle = lk_oracle_new ("oracle_vision.py");
  b->refs = g_ptr_array_new_with_free_func (g_free);
  b->sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  b->labels = g_ptr_array_new_with_free_func (g_free);
  b->bounds = g_array_new (FALSE, FALSE, sizeof (double));
  return b;
}

static char *
batch_key (Batch      *b,
           const char *name)
{
  return g_strdup_printf ("c%u_%s", b->refs->len, name);
}

static void
batch_int (Batch      *b,
           const char *name,
           gint64      value)
{
  g_autofree char *key = batch_key (b, name);

  if (b->oracle != NULL)
    lk_oracle_set_param_int (b->oracle, key, value);
}

static void
batch_double (Batch      *b,
              const char *name,
              double      value)
{
  g_autofree char *key = batch_key (b, name);

  if (b->oracle != NULL)
    lk_oracle_set_param_double (b->oracle, key, value);
}

static void
batch_string (Batch      *b,
              const char *name,
              const char *value)
{
  g_autofree char *key = batch_key (b, name);

  if (b->oracle != NULL)
    lk_oracle_set_param_string (b->oracle, key, value);
}

static void
batch_input (Batch       *b,
             const char  *name,
             const float *data,
             gsize        n)
{
  g_autofree char *key = batch_key (b, name);

  if (b->oracle != NULL)
    lk_oracle_add_input (b->oracle, key, data, n);
}

static void
batch_shape (Batch        *b,
             const char   *prefix,
             const gint64 *shape)
{
  for (guint d = 0; d < 4; d++)
    {
      g_autofree char *name = g_strdup_printf ("%s%u", prefix, d);

      batch_int (b, name, shape[d]);
    }
}

/* Ends the current case: @ref (copied) is what the oracle must give back. */
static void
batch_expect (Batch       *b,
              const float *ref,
              gsize        n,
              double       bound,
              const char  *label)
{
  g_ptr_array_add (b->refs, g_memdup2 (ref, n * sizeof (float)));
  g_array_append_val (b->sizes, n);
  g_array_append_val (b->bounds, bound);
  g_ptr_array_add (b->labels, g_strdup (label));
}

static void
batch_run_and_free (Batch *b)
{
  gsize total = 0, at = 0;
  g_autofree float *expected = NULL;

  for (guint i = 0; i < b->sizes->len; i++)
    total += g_array_index (b->sizes, gsize, i);
  if (b->oracle != NULL)
    {
      lk_oracle_set_param_int (b->oracle, "n_cases", b->refs->len);
      expected = lk_oracle_run (b->oracle, total);
    }
  for (guint i = 0; expected != NULL && i < b->refs->len; i++)
    {
      gsize n = g_array_index (b->sizes, gsize, i);
      double bound = g_array_index (b->bounds, double, i);
      g_autofree char *label = g_strdup_printf ("%s: reference vs torch",
                                                (char *) g_ptr_array_index (b->labels, i));

      if (bound > 0)
        lk_test_assert_close (label, g_ptr_array_index (b->refs, i), expected + at, n, bound, 0);
      else
        g_assert_cmpmem (g_ptr_array_index (b->refs, i), n * sizeof (float), expected + at,
                         n * sizeof (float));
      at += n;
    }
  g_clear_pointer (&b->oracle, lk_oracle_free);
  g_ptr_array_unref (b->refs);
  g_array_unref (b->sizes);
  g_ptr_array_unref (b->labels);
  g_array_unref (b->bounds);
  g_free (b);
}

typedef struct
{
  gint64          n, h, w, cin, cout, kh, kw;
  guint           stride, dilation;
  LkVisionPadMode pad;
  gint64          explicit_pad[2][2];  /* top, bottom; left, right */
  LkVisionAct     act;
  gboolean        bias;
  int             kind;                /* 0 conv, 1 depthwise (cout = multiplier), 2 transpose */
} ConvCase;

/* Output (for transposed: the forward conv's input) size and leading padding of one axis. */
static void
conv_geometry (const ConvCase *c,
               guint           axis,
               gint64         *out,
               gint64         *before)
{
  gint64 in = axis == 0 ? c->h : c->w;
  gint64 k = axis == 0 ? c->kh : c->kw;
  gint64 after = c->explicit_pad[axis][1];

  *before = c->explicit_pad[axis][0];
  if (c->kind == 2)
    {
      /* The forward conv maps out → in: pick out = in · stride (SAME) and its padding. */
      gint64 fwd = in * c->stride, got;

      g_assert_true (lk_vision_out_size (c->pad, fwd, k, c->stride, c->dilation, before, &after,
                                         &got));
      g_assert_cmpint (got, ==, in);
      *out = fwd;
      return;
    }
  g_assert_true (lk_vision_out_size (c->pad, in, k, c->stride, c->dilation, before, &after, out));
}

/* Runs one case on the device and against the reference; with @oracle also against torch. */
static void
run_conv_case (const ConvCase *c,
               guint32         seed,
               Batch          *batch)
{
  LkStream *stream = lk_test_stream ();
  g_autoptr(GError) error = NULL;
  gint64 ho, wo, pt, pl;
  gint64 ycout = c->kind == 1 ? c->cin * c->cout : c->cout;
  gint64 xs[4] = { c->n, c->h, c->w, c->cin }, ys[4], ws[4];
  gint64 nw, ny, nc;
  g_autofree float *x = NULL, *w = NULL, *bias = NULL, *alpha = NULL;
  g_autofree float *ref = NULL, *out = NULL;
  g_autoptr(LkTensor) tx = NULL, tw = NULL, tb = NULL, ta = NULL, ty = NULL;
  LkVisionWindow win;
  g_autofree char *what = NULL;

  conv_geometry (c, 0, &ho, &pt);
  conv_geometry (c, 1, &wo, &pl);
  ys[0] = c->n;
  ys[1] = ho;
  ys[2] = wo;
  ys[3] = ycout;
  ws[0] = c->kh;
  ws[1] = c->kw;
  ws[2] = c->kind == 2 ? ycout : c->cin;
  ws[3] = c->kind == 2 ? c->cin : c->cout;
  nw = numel4 (ws);
  ny = numel4 (ys);
  nc = ycout;
  win = (LkVisionWindow) { c->stride, c->stride, c->dilation, c->dilation, pt, pl };

  x = lk_test_random (numel4 (xs), -1, 1, seed);
  w = lk_test_random (nw, -1, 1, seed + 1);
  bias = lk_test_random (nc, -1, 1, seed + 2);
  alpha = lk_test_random (nc, 0, 0.5, seed + 3);
  tx = lk_test_tensor_from (stream, F32, 4, xs, x);
  tw = lk_test_tensor_from (stream, F32, 4, ws, w);
  if (c->bias)
    tb = lk_test_tensor_from (stream, F32, 1, &nc, bias);
  if (c->act == LK_VISION_ACT_PRELU)
    ta = lk_test_tensor_from (stream, F32, 1, &nc, alpha);
  ty = lk_test_tensor_poisoned (stream, F32, 4, ys);
  if (c->kind == 0)
    lk_op_vision_conv2d (stream, tx, tw, tb, ta, c->act, ty, &win, &error);
  else if (c->kind == 1)
    lk_op_vision_depthwise (stream, tx, tw, tb, ta, c->act, ty, &win, &error);
  else
    lk_op_vision_conv2d_transpose (stream, tx, tw, tb, ta, c->act, ty, &win, &error);
  g_assert_no_error (error);
  out = lk_test_download (stream, ty);

  ref = g_new (float, ny);
  if (c->kind == 2)
    lk_ref_vision_conv2d_transpose (x, xs, w, c->kh, c->kw, c->bias ? bias : NULL,
                                    c->act == LK_VISION_ACT_PRELU ? alpha : NULL, c->act, ref, ys,
                                    &win);
  else
    lk_ref_vision_conv2d (x, xs, w, c->kh, c->kw, c->kind == 1, c->bias ? bias : NULL,
                          c->act == LK_VISION_ACT_PRELU ? alpha : NULL, c->act, ref, ys, &win);
  what = g_strdup_printf ("%s %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT "×%" G_GINT64_FORMAT "×%"
                          G_GINT64_FORMAT " k%" G_GINT64_FORMAT "×%" G_GINT64_FORMAT " s%u d%u "
                          "pad %d act %d", c->kind == 0 ? "conv" : c->kind == 1 ? "depthwise" :
                          "transpose", c->n, c->h, c->w, c->cin, c->kh, c->kw, c->stride,
                          c->dilation, c->pad, c->act);
  lk_test_assert_close (what, out, ref, ny, 1e-5, 0);

  if (batch != NULL)
    {
      batch_int (batch, "act", c->act);
      if (c->bias)
        batch_input (batch, "bias", bias, nc);
      if (c->act == LK_VISION_ACT_PRELU)
        batch_input (batch, "alpha", alpha, nc);
      batch_string (batch, "op", c->kind == 0 ? "conv" : c->kind == 1 ? "depthwise" :
                    "transpose");
      batch_input (batch, "x", x, numel4 (xs));
      batch_input (batch, "w", w, nw);
      batch_shape (batch, "xs", xs);
      batch_shape (batch, "ws", ws);
      batch_shape (batch, "ys", ys);
      batch_int (batch, "stride", c->stride);
      batch_int (batch, "dilation", c->dilation);
      batch_int (batch, "pad_top", pt);
      batch_int (batch, "pad_left", pl);
      batch_expect (batch, ref, ny, 1e-5, what);
    }
}

static void
test_conv (void)
{
  static const ConvCase cases[] = {
    /* BlazeFace's stem: 5×5 stride 2 SAME (odd padding after), fused ReLU */
    { 1, 17, 16, 3, 8, 5, 5, 2, 1, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_RELU, TRUE, 0 },
    { 2, 9, 7, 5, 6, 3, 3, 1, 1, LK_VISION_PAD_VALID, { { 0 } }, LK_VISION_ACT_NONE, FALSE, 0 },
    { 1, 8, 9, 4, 7, 1, 1, 1, 1, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_PRELU, TRUE, 0 },
    { 1, 11, 10, 3, 5, 3, 3, 2, 1, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_NONE, FALSE, 0 },
    { 1, 10, 12, 3, 4, 3, 2, 1, 2, LK_VISION_PAD_EXPLICIT, { { 1, 2 }, { 0, 3 } },
      LK_VISION_ACT_RELU6, TRUE, 0 },
    { 1, 9, 9, 3, 4, 3, 3, 1, 2, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_NONE, FALSE, 0 },
    { 1, 6, 5, 4, 3, 3, 3, 1, 1, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_SIGMOID, TRUE, 0 },
  };

  Batch *batch;

  if (lk_test_stream () == NULL)
    return;
  batch = batch_new ();
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    run_conv_case (&cases[i], 100 + 10 * i, batch);
  lk_test_check_validation ();
  batch_run_and_free (batch);
}

static void
test_depthwise (void)
{
  static const ConvCase cases[] = {
    /* BlazeFace's 3×3 depthwise, stride 1 and 2 SAME */
    { 1, 16, 16, 24, 1, 3, 3, 1, 1, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_NONE, FALSE, 1 },
    { 1, 15, 13, 7, 1, 3, 3, 2, 1, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_NONE, FALSE, 1 },
    { 2, 9, 8, 3, 2, 5, 5, 1, 1, LK_VISION_PAD_VALID, { { 0 } }, LK_VISION_ACT_RELU, TRUE, 1 },
    { 1, 9, 8, 5, 1, 3, 3, 1, 2, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_PRELU, TRUE, 1 },
  };

  Batch *batch;

  if (lk_test_stream () == NULL)
    return;
  batch = batch_new ();
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    run_conv_case (&cases[i], 300 + 10 * i, batch);
  lk_test_check_validation ();
  batch_run_and_free (batch);
}

static void
test_transpose (void)
{
  static const ConvCase cases[] = {
    /* selfie's last layer: 2×2 stride 2 SAME from 128² to 256² */
    { 1, 8, 7, 5, 1, 2, 2, 2, 1, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_NONE, FALSE, 2 },
    { 1, 5, 6, 3, 4, 3, 3, 2, 1, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_NONE, FALSE, 2 },
    { 2, 4, 4, 3, 2, 4, 4, 2, 1, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_SIGMOID, TRUE, 2 },
    { 1, 5, 5, 2, 3, 3, 3, 1, 1, LK_VISION_PAD_SAME, { { 0 } }, LK_VISION_ACT_NONE, FALSE, 2 },
  };

  Batch *batch;

  if (lk_test_stream () == NULL)
    return;
  batch = batch_new ();
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    run_conv_case (&cases[i], 500 + 10 * i, batch);
  lk_test_check_validation ();
  batch_run_and_free (batch);
}

static void
test_activation (void)
{
  LkStream *stream = lk_test_stream ();
  const gint64 shape[] = { 2, 5, 3, 7 }, c = 7;
  gint64 n = numel4 (shape);
  g_autofree float *x = lk_test_random (n, -8, 8, 11);
  g_autofree float *alpha = lk_test_random (c, 0, 1, 12);
  g_autofree float *ref = g_new (float, n);

  if (stream == NULL)
    return;
  for (LkVisionAct act = LK_VISION_ACT_NONE; act < LK_VISION_N_ACTS; act++)
    {
      g_autoptr(LkTensor) tx = lk_test_tensor_from (stream, F32, 4, shape, x);
      g_autoptr(LkTensor) ta = lk_test_tensor_from (stream, F32, 1, &c, alpha);
      g_autoptr(LkTensor) ty = lk_test_tensor_poisoned (stream, F32, 4, shape);
      g_autoptr(GError) error = NULL;
      g_autofree float *out = NULL;
      g_autofree char *what = g_strdup_printf ("activation %d", act);

      lk_op_vision_activation (stream, act, tx, act == LK_VISION_ACT_PRELU ? ta : NULL, ty,
                               &error);
      g_assert_no_error (error);
      out = lk_test_download (stream, ty);
      lk_ref_vision_activation (act, x, act == LK_VISION_ACT_PRELU ? alpha : NULL, c, ref, n);
      lk_test_assert_close (what, out, ref, n, 1e-6, 0);
    }
  /* The reference's ReLU6 clips both ways, PReLU scales negatives by the channel's alpha. */
  g_assert_cmpfloat (lk_ref_vision_act_value (LK_VISION_ACT_RELU6, 7.5f, 0), ==, 6.0f);
  g_assert_cmpfloat (lk_ref_vision_act_value (LK_VISION_ACT_RELU6, -1.0f, 0), ==, 0.0f);
  g_assert_cmpfloat (lk_ref_vision_act_value (LK_VISION_ACT_PRELU, -2.0f, 0.25f), ==, -0.5f);
  lk_test_check_validation ();
}

typedef struct
{
  LkVisionPool    pool;
  gint64          n, h, w, c;
  guint           kh, kw, stride;
  LkVisionPadMode pad;
} PoolCase;

static void
test_pool (void)
{
  static const PoolCase cases[] = {
    { LK_VISION_POOL_MAX, 1, 16, 16, 5, 2, 2, 2, LK_VISION_PAD_SAME },  /* BlazeFace */
    { LK_VISION_POOL_MAX, 1, 9, 7, 3, 2, 2, 2, LK_VISION_PAD_VALID },   /* FaceMesh */
    { LK_VISION_POOL_MAX, 2, 7, 9, 4, 3, 3, 2, LK_VISION_PAD_SAME },
    { LK_VISION_POOL_AVG, 1, 8, 8, 6, 8, 8, 8, LK_VISION_PAD_VALID },   /* selfie's global pool */
    { LK_VISION_POOL_AVG, 1, 7, 9, 3, 3, 3, 2, LK_VISION_PAD_SAME },    /* padding not counted */
  };
  LkStream *stream = lk_test_stream ();
  Batch *batch;

  if (stream == NULL)
    return;
  batch = batch_new ();
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const PoolCase *c = &cases[i];
      gint64 xs[4] = { c->n, c->h, c->w, c->c }, ys[4] = { c->n, 0, 0, c->c };
      gint64 pt, pl, after;
      g_autofree float *x = lk_test_random (numel4 (xs), -1, 1, 700 + i);
      g_autofree float *ref = NULL, *out = NULL;
      g_autoptr(LkTensor) tx = NULL, ty = NULL;
      g_autoptr(GError) error = NULL;
      LkVisionWindow win;
      g_autofree char *what = g_strdup_printf ("%s pool %u", c->pool ? "avg" : "max", i);

      lk_vision_out_size (c->pad, c->h, c->kh, c->stride, 1, &pt, &after, &ys[1]);
      lk_vision_out_size (c->pad, c->w, c->kw, c->stride, 1, &pl, &after, &ys[2]);
      win = (LkVisionWindow) { c->stride, c->stride, 1, 1, pt, pl };
      tx = lk_test_tensor_from (stream, F32, 4, xs, x);
      ty = lk_test_tensor_poisoned (stream, F32, 4, ys);
      lk_op_vision_pool (stream, c->pool, tx, ty, c->kh, c->kw, &win, &error);
      g_assert_no_error (error);
      out = lk_test_download (stream, ty);
      ref = g_new (float, numel4 (ys));
      lk_ref_vision_pool (c->pool, x, xs, ref, ys, c->kh, c->kw, &win);
      lk_test_assert_close (what, out, ref, numel4 (ys), 1e-6, 0);

      batch_string (batch, "op", c->pool == LK_VISION_POOL_MAX ? "maxpool" : "avgpool");
      batch_input (batch, "x", x, numel4 (xs));
      batch_shape (batch, "xs", xs);
      batch_shape (batch, "ys", ys);
      batch_int (batch, "kh", c->kh);
      batch_int (batch, "kw", c->kw);
      batch_int (batch, "stride", c->stride);
      batch_int (batch, "pad_top", pt);
      batch_int (batch, "pad_left", pl);
      batch_expect (batch, ref, numel4 (ys), 1e-6, what);
    }
  lk_test_check_validation ();
  batch_run_and_free (batch);
}

static void
test_pad (void)
{
  LkStream *stream = lk_test_stream ();
  /* BlazeFace's channel padding, then every axis at once. */
  static const gint64 pads_list[][4][2] = {
    { { 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 24 } },
    { { 1, 0 }, { 2, 1 }, { 0, 3 }, { 1, 2 } },
  };
  const gint64 xs[4] = { 1, 5, 4, 6 };
  g_autofree float *x = lk_test_random (numel4 (xs), -1, 1, 900);
  Batch *batch;

  if (stream == NULL)
    return;
  batch = batch_new ();
  for (guint i = 0; i < G_N_ELEMENTS (pads_list); i++)
    {
      gint64 ys[4];
      g_autofree float *ref = NULL, *out = NULL;
      g_autoptr(LkTensor) tx = NULL, ty = NULL;
      g_autoptr(GError) error = NULL;
      float value = i == 0 ? 0.0f : -0.5f;

      for (guint d = 0; d < 4; d++)
        ys[d] = xs[d] + pads_list[i][d][0] + pads_list[i][d][1];
      tx = lk_test_tensor_from (stream, F32, 4, xs, x);
      ty = lk_test_tensor_poisoned (stream, F32, 4, ys);
      lk_op_vision_pad (stream, tx, pads_list[i], value, ty, &error);
      g_assert_no_error (error);
      out = lk_test_download (stream, ty);
      ref = g_new (float, numel4 (ys));
      lk_ref_vision_pad (x, xs, pads_list[i], value, ref);
      g_assert_cmpmem (out, numel4 (ys) * sizeof (float), ref, numel4 (ys) * sizeof (float));

      batch_string (batch, "op", "pad");
      batch_input (batch, "x", x, numel4 (xs));
      batch_shape (batch, "xs", xs);
      for (guint d = 0; d < 4; d++)
        {
          g_autofree char *before = g_strdup_printf ("before%u", d);
          g_autofree char *after = g_strdup_printf ("after%u", d);

          batch_int (batch, before, pads_list[i][d][0]);
          batch_int (batch, after, pads_list[i][d][1]);
        }
      batch_double (batch, "value", value);
      batch_expect (batch, ref, numel4 (ys), 0, "pad");
    }
  lk_test_check_validation ();
  batch_run_and_free (batch);
}

static void
test_resize (void)
{
  LkStream *stream = lk_test_stream ();
  static const gint64 sizes[][4] = {
    { 5, 7, 16, 16 },   /* up, like selfie's decoder */
    { 13, 11, 6, 4 },   /* down */
    { 4, 4, 8, 8 },     /* exactly 2× */
    { 6, 9, 1, 5 },
  };
  Batch *batch;

  if (stream == NULL)
    return;
  batch = batch_new ();
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    for (guint mode = 0; mode < 3; mode++)
      {
        gboolean align = mode == 1, half = mode == 2;
        gint64 xs[4] = { 1, sizes[i][0], sizes[i][1], 3 };
        gint64 ys[4] = { 1, sizes[i][2], sizes[i][3], 3 };
        g_autofree float *x = lk_test_random (numel4 (xs), -1, 1, 1000 + 3 * i + mode);
        g_autofree float *ref = g_new (float, numel4 (ys)), *out = NULL;
        g_autoptr(LkTensor) tx = lk_test_tensor_from (stream, F32, 4, xs, x);
        g_autoptr(LkTensor) ty = lk_test_tensor_poisoned (stream, F32, 4, ys);
        g_autoptr(GError) error = NULL;
        g_autofree char *what = g_strdup_printf ("resize %u mode %u", i, mode);

        lk_op_vision_resize_bilinear (stream, tx, ty, align, half, &error);
        g_assert_no_error (error);
        out = lk_test_download (stream, ty);
        lk_ref_vision_resize_bilinear (x, xs, ref, ys, align, half);
        lk_test_assert_close (what, out, ref, numel4 (ys), 1e-6, 0);

        batch_string (batch, "op", "resize");
        batch_string (batch, "mode", mode == 0 ? "legacy" : align ? "align" : "half");
        batch_input (batch, "x", x, numel4 (xs));
        batch_shape (batch, "xs", xs);
        batch_shape (batch, "ys", ys);
        batch_expect (batch, ref, numel4 (ys), 1e-6, what);
      }
  lk_test_check_validation ();
  batch_run_and_free (batch);
}

static void
test_depth_to_space (void)
{
  LkStream *stream = lk_test_stream ();
  const gint64 xs[4] = { 2, 3, 5, 12 }, ys[4] = { 2, 6, 10, 3 };
  g_autofree float *x = lk_test_random (numel4 (xs), -1, 1, 1100);
  g_autofree float *ref = g_new (float, numel4 (ys)), *out = NULL;
  g_autoptr(LkTensor) tx = NULL, ty = NULL;
  g_autoptr(GError) error = NULL;
  Batch *batch;

  if (stream == NULL)
    return;
  tx = lk_test_tensor_from (stream, F32, 4, xs, x);
  ty = lk_test_tensor_poisoned (stream, F32, 4, ys);
  lk_op_vision_depth_to_space (stream, tx, 2, ty, &error);
  g_assert_no_error (error);
  out = lk_test_download (stream, ty);
  lk_ref_vision_depth_to_space (x, xs, 2, ref);
  g_assert_cmpmem (out, numel4 (ys) * sizeof (float), ref, numel4 (ys) * sizeof (float));

  /* TF's NHWC DepthToSpace is torch's pixel_shuffle with the channel split the other way. */
  batch = batch_new ();
  batch_string (batch, "op", "depth_to_space");
  batch_input (batch, "x", x, numel4 (xs));
  batch_shape (batch, "xs", xs);
  batch_int (batch, "block", 2);
  batch_expect (batch, ref, numel4 (ys), 0, "depth to space");
  lk_test_check_validation ();
  batch_run_and_free (batch);
}

static void
test_concat_and_broadcast (void)
{
  LkStream *stream = lk_test_stream ();
  const gint64 as[4] = { 1, 4, 3, 5 }, bs[4] = { 1, 4, 3, 2 }, ys[4] = { 1, 4, 3, 7 };
  const gint64 cs[1] = { 5 };
  g_autofree float *a = lk_test_random (numel4 (as), -1, 1, 1200);
  g_autofree float *b = lk_test_random (numel4 (bs), -1, 1, 1201);
  g_autofree float *chan = lk_test_random (5, -1, 1, 1202);
  g_autofree float *ref = g_new (float, numel4 (ys)), *out = NULL, *out2 = NULL;
  g_autoptr(LkTensor) ta = NULL, tb = NULL, ty = NULL, tc = NULL, tm = NULL;
  g_autoptr(GError) error = NULL;

  if (stream == NULL)
    return;
  ta = lk_test_tensor_from (stream, F32, 4, as, a);
  tb = lk_test_tensor_from (stream, F32, 4, bs, b);
  ty = lk_test_tensor_poisoned (stream, F32, 4, ys);
  lk_op_vision_concat (stream, ta, tb, ty, &error);
  g_assert_no_error (error);
  out = lk_test_download (stream, ty);
  for (gint64 r = 0; r < 12; r++)
    {
      memcpy (ref + r * 7, a + r * 5, 5 * sizeof (float));
      memcpy (ref + r * 7 + 5, b + r * 2, 2 * sizeof (float));
    }
  g_assert_cmpmem (out, numel4 (ys) * sizeof (float), ref, numel4 (ys) * sizeof (float));

  /* The graph's Mul/Add broadcast a per-channel constant over NHWC through lk_op_binary. */
  tc = lk_test_tensor_from (stream, F32, 1, cs, chan);
  tm = lk_test_tensor_poisoned (stream, F32, 4, as);
  lk_op_mul (stream, ta, tc, tm, &error);
  g_assert_no_error (error);
  out2 = lk_test_download (stream, tm);
  for (gint64 i = 0; i < numel4 (as); i++)
    ref[i] = a[i] * chan[i % 5];
  lk_test_assert_close ("NHWC channel broadcast", out2, ref, numel4 (as), 1e-7, 0);
  lk_test_check_validation ();
}

static void
test_rejects (void)
{
  LkStream *stream = lk_test_stream ();
  const gint64 xs[4] = { 1, 8, 8, 4 }, ws[4] = { 3, 3, 5, 6 }, ys[4] = { 1, 8, 8, 6 };
  const gint64 c6 = 6;
  g_autoptr(LkTensor) x = NULL, w = NULL, y = NULL, alpha = NULL, xh = NULL;
  g_autoptr(GError) error = NULL;
  LkVisionWindow win = { 1, 1, 1, 1, 1, 1 };

  if (stream == NULL)
    return;
  x = lk_test_tensor_poisoned (stream, F32, 4, xs);
  w = lk_test_tensor_poisoned (stream, F32, 4, ws);
  y = lk_test_tensor_poisoned (stream, F32, 4, ys);
  alpha = lk_test_tensor_poisoned (stream, F32, 1, &c6);
  xh = lk_test_tensor_poisoned (stream, LK_DTYPE_F16, 4, xs);
  /* Cin 5 in the filter against 4 in x */
  g_assert_false (lk_op_vision_conv2d (stream, x, w, NULL, NULL, LK_VISION_ACT_NONE, y, &win,
                                       &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "3×3×5×6"));
  g_clear_error (&error);
  /* PReLU without alpha, alpha without PReLU */
  g_assert_false (lk_op_vision_activation (stream, LK_VISION_ACT_PRELU, y, NULL, y, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_assert_false (lk_op_vision_activation (stream, LK_VISION_ACT_RELU, y, alpha, y, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  /* f16 is not taken */
  g_assert_false (lk_op_vision_pool (stream, LK_VISION_POOL_MAX, xh, y, 2, 2, &win, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_DTYPE);
  g_clear_error (&error);
  g_assert_false (lk_op_vision_resize_bilinear (stream, x, y, TRUE, TRUE, &error));
  g_assert_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED);
  lk_stream_finish (stream, NULL);
  lk_test_check_validation ();
}

static void
test_out_size (void)
{
  gint64 before = 0, after = 0, out = 0;

  /* SAME: ⌈in / stride⌉, the odd padding pixel after. */
  g_assert_true (lk_vision_out_size (LK_VISION_PAD_SAME, 256, 5, 2, 1, &before, &after, &out));
  g_assert_cmpint (out, ==, 128);
  g_assert_cmpint (before, ==, 1);
  g_assert_cmpint (after, ==, 2);
  g_assert_true (lk_vision_out_size (LK_VISION_PAD_SAME, 7, 3, 1, 2, &before, &after, &out));
  g_assert_cmpint (out, ==, 7);
  g_assert_cmpint (before, ==, 2);
  g_assert_true (lk_vision_out_size (LK_VISION_PAD_VALID, 9, 2, 2, 1, &before, &after, &out));
  g_assert_cmpint (out, ==, 4);
  g_assert_false (lk_vision_out_size (LK_VISION_PAD_VALID, 2, 3, 1, 1, &before, &after, &out));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vision/out-size", test_out_size);
  g_test_add_func ("/vision/conv2d", test_conv);
  g_test_add_func ("/vision/depthwise", test_depthwise);
  g_test_add_func ("/vision/transpose", test_transpose);
  g_test_add_func ("/vision/activation", test_activation);
  g_test_add_func ("/vision/pool", test_pool);
  g_test_add_func ("/vision/pad", test_pad);
  g_test_add_func ("/vision/resize", test_resize);
  g_test_add_func ("/vision/depth-to-space", test_depth_to_space);
  g_test_add_func ("/vision/concat-broadcast", test_concat_and_broadcast);
  g_test_add_func ("/vision/rejects", test_rejects);
  return g_test_run ();
}
