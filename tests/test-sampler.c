/* test-sampler.c: the noise schedule, the samplers and the Philox noise against the torch oracle
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "lk-rng.h"
#include "lk-sampler.h"
#include "lk-schedule.h"
#include "lk-test-util.h"

/* ---- RNG ---- */

typedef struct
{
  guint32 counter[4];
  guint32 key[2];
  guint32 out[4];
} PhiloxVector;

/* Random123's kat_vectors for philox4x32 with 10 rounds (zeros, ones, and the digits of π). */
static const PhiloxVector published[] = {
  { { 0, 0, 0, 0 }, { 0, 0 }, { 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 } },
  { { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff }, { 0xffffffff, 0xffffffff },
    { 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd } },
  { { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344 }, { 0xa4093822, 0x299f31d0 },
    { 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 } },
};

static void
test_philox_known_answers (void)
{
  for (guint v = 0; v < G_N_ELEMENTS (published); v++)
    {
      guint32 out[4];

      lk_philox4x32_10 (published[v].counter, published[v].key, out);
      for (guint w = 0; w < 4; w++)
        g_assert_cmphex (out[w], ==, published[v].out[w]);
    }
}

/* The Python Philox on random counters and keys; words travel as exact 16-bit halves in f32. */
static void
test_philox_oracle (void)
{
  enum { N = 64 };
  g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_rng.py");
  g_autofree float *halves = g_new (float, N * 6 * 2);
  g_autofree float *expected = NULL;
  GRand *rand = g_rand_new_with_seed (7);

  if (oracle == NULL)
    {
      g_rand_free (rand);
      return;
    }
  for (guint i = 0; i < N * 6; i++)
    {
      guint32 w = g_rand_int (rand);

      halves[2 * i] = w & 0xffff;
      halves[2 * i + 1] = w >> 16;
    }
  g_rand_free (rand);
  lk_oracle_add_input (oracle, "counters", halves, N * 6 * 2);
  lk_oracle_set_param_string (oracle, "mode", "philox");
  lk_oracle_set_param_int (oracle, "n", N);
  expected = lk_oracle_run (oracle, N * 4 * 2);
  for (guint v = 0; v < N; v++)
    {
      guint32 words[6], out[4];

      for (guint w = 0; w < 6; w++)
        words[w] = (guint32) halves[(v * 6 + w) * 2] | (guint32) halves[(v * 6 + w) * 2 + 1] << 16;
      lk_philox4x32_10 (words, words + 4, out);
      for (guint w = 0; w < 4; w++)
        g_assert_cmphex (out[w], ==, (guint32) expected[(v * 4 + w) * 2] |
                                     (guint32) expected[(v * 4 + w) * 2 + 1] << 16);
    }
}

static void
test_rng_torch_cuda (void)
{
  /* torch.manual_seed(0); torch.randn(5, device="cuda") as printed by torch (4 decimals). */
  static const float cuda_seed0[] = { -0.9247f, -0.4253f, -2.6438f, 0.1452f, -0.1209f };
  float out[5];
  LkRng rng;

  lk_rng_init (&rng, 0);
  lk_rng_normal (&rng, out, 5);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpfloat_with_epsilon (out[i], cuda_seed0[i], 6e-5);
}

static void
test_rng_oracle (void)
{
  enum { N = 2000, OFFSETS = 2 };
  static const guint64 seeds[] = { 0, 12345, G_GUINT64_CONSTANT (0x123456789abcdef0) };
  const gsize total = G_N_ELEMENTS (seeds) * OFFSETS * N;
  g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_rng.py");
  g_autoptr(GString) cases = g_string_new (NULL);
  g_autofree float *out = g_new (float, total);
  g_autofree float *expected = NULL;

  if (oracle == NULL)
    return;
  for (guint s = 0; s < G_N_ELEMENTS (seeds); s++)
    {
      LkRng rng;

      lk_rng_init (&rng, seeds[s]);
      for (guint offset = 0; offset < OFFSETS; offset++)
        {
          g_string_append_printf (cases, "%s%u:%u:%u", cases->len ? "," : "", (guint32) seeds[s],
                                  (guint32) (seeds[s] >> 32), offset);
          lk_rng_normal (&rng, out + (s * OFFSETS + offset) * N, N);
          g_assert_cmpuint (rng.offset, ==, offset + 1);
        }
    }
  lk_oracle_set_param_string (oracle, "mode", "normal");
  lk_oracle_set_param_string (oracle, "cases", cases->str);
  lk_oracle_set_param_int (oracle, "n", N);
  expected = lk_oracle_run (oracle, total);
  /* Same double arithmetic rounded to f32 on both sides; libm may differ by an ulp. */
  lk_test_assert_close ("rng normals", out, expected, total, 1e-7, 1e-6);
}

static void
test_rng_distribution (void)
{
  enum { N = 1000000 };
  g_autofree float *a = g_new (float, N);
  g_autofree float *b = g_new (float, N);
  double sum = 0, sum2 = 0, tail = 0;
  LkRng rng;

  lk_rng_init (&rng, 42);
  lk_rng_normal (&rng, a, N);
  for (gsize i = 0; i < N; i++)
    {
      sum += a[i];
      sum2 += (double) a[i] * a[i];
      tail += fabs (a[i]) > 1.96;
    }
  g_test_message ("mean %.5f std %.5f P(|z| > 1.96) %.5f",
                  sum / N, sqrt (sum2 / N - (sum / N) * (sum / N)), tail / N);
  /* Standard errors: 1e-3 for the mean, 7e-4 for the std, 2.2e-4 for the tail; bounds ~5σ. */
  g_assert_cmpfloat (fabs (sum / N), <, 5e-3);
  g_assert_cmpfloat (fabs (sqrt (sum2 / N) - 1.0), <, 4e-3);
  g_assert_cmpfloat (fabs (tail / N - 0.05), <, 1.2e-3);

  /* Reproducible for a seed; another seed or the next call differs. */
  lk_rng_init (&rng, 42);
  lk_rng_normal (&rng, b, N);
  g_assert_true (memcmp (a, b, N * sizeof (float)) == 0);
  lk_rng_normal (&rng, b, 1000);
  g_assert_false (memcmp (a, b, 1000 * sizeof (float)) == 0);
  lk_rng_init (&rng, 43);
  lk_rng_normal (&rng, b, 1000);
  g_assert_false (memcmp (a, b, 1000 * sizeof (float)) == 0);
}

/* ---- schedule ---- */

static float *
to_float (const double *values,
          gsize         n)
{
  float *out = g_new (float, n);

  for (gsize i = 0; i < n; i++)
    out[i] = values[i];
  return out;
}

static void
test_schedule_tables (void)
{
  g_autoptr(LkSchedule) schedule = lk_schedule_new_sd15 ();
  g_autofree double *alphas = g_new (double, 1000);
  g_autofree double *sigmas = g_new (double, 1000);
  g_autofree float *alphas_f = NULL, *sigmas_f = NULL, *expected = NULL;
  g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_sampler.py");

  g_assert_cmpuint (lk_schedule_get_n_train_steps (schedule), ==, 1000);
  /* A1111's model_wrap.sigmas[0] and [-1] for SD1.5. */
  g_assert_cmpfloat_with_epsilon (lk_schedule_get_sigma_min (schedule), 0.0292, 1e-4);
  g_assert_cmpfloat_with_epsilon (lk_schedule_get_sigma_max (schedule), 14.6146, 1e-4);

  for (guint t = 0; t < 1000; t++)
    {
      alphas[t] = lk_schedule_get_alpha_cumprod (schedule, t);
      sigmas[t] = lk_schedule_get_sigma (schedule, t);
      g_assert_cmpfloat_with_epsilon (lk_schedule_t_to_sigma (schedule, t), sigmas[t], 1e-12);
      g_assert_cmpfloat_with_epsilon (lk_schedule_sigma_to_t (schedule, sigmas[t]), t, 1e-6);
    }
  alphas_f = to_float (alphas, 1000);
  sigmas_f = to_float (sigmas, 1000);
  if (oracle == NULL)
    return;
  lk_oracle_set_param_string (oracle, "mode", "tables");
  expected = lk_oracle_run (oracle, 2000);
  lk_test_assert_close ("alphas_cumprod", alphas_f, expected, 1000, 1e-7, 0);
  lk_test_assert_close ("sigmas", sigmas_f, expected + 1000, 1000, 1e-7, 0);
}

static void
test_schedule_interpolation (void)
{
  enum { N = 200 };
  g_autoptr(LkSchedule) schedule = lk_schedule_new_sd15 ();
  g_autofree float *sigma_in = g_new (float, N), *t_in = g_new (float, N);
  g_autofree float *t_out = g_new (float, N), *sigma_out = g_new (float, N);
  g_autofree float *expected = NULL;
  g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_sampler.py");
  GRand *rand = g_rand_new_with_seed (3);

  for (guint i = 0; i < N; i++)
    {
      /* log-uniform σ reaching past both ends of the table; t across [0, 999]. */
      sigma_in[i] = exp (g_rand_double_range (rand, log (0.01), log (30.0)));
      t_in[i] = g_rand_double_range (rand, 0, 999);
      t_out[i] = lk_schedule_sigma_to_t (schedule, sigma_in[i]);
      sigma_out[i] = lk_schedule_t_to_sigma (schedule, t_in[i]);
    }
  g_rand_free (rand);

  if (oracle == NULL)
    return;
  lk_oracle_set_param_string (oracle, "mode", "interpolation");
  lk_oracle_set_param_int (oracle, "n", N);
  lk_oracle_add_input (oracle, "sigmas", sigma_in, N);
  lk_oracle_add_input (oracle, "ts", t_in, N);
  expected = lk_oracle_run (oracle, 2 * N);
  lk_test_assert_close ("sigma_to_t", t_out, expected, N, 1e-7, 1e-4);
  lk_test_assert_close ("t_to_sigma", sigma_out, expected + N, N, 1e-7, 0);
}

static void
test_schedule_spacings (void)
{
  static const guint steps_list[] = { 1, 20, 30, 50 };
  g_autoptr(LkSchedule) schedule = lk_schedule_new_sd15 ();
  g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_sampler.py");
  g_autoptr(GString) steps_param = g_string_new (NULL);
  g_autofree float *expected = NULL;
  gsize total = 0, at = 0;

  if (oracle == NULL)
    return;
  for (guint s = 0; s < G_N_ELEMENTS (steps_list); s++)
    {
      g_string_append_printf (steps_param, "%s%u", s ? "," : "", steps_list[s]);
      total += 4 * steps_list[s] + 3;
    }
  lk_oracle_set_param_string (oracle, "mode", "spacings");
  lk_oracle_set_param_string (oracle, "steps", steps_param->str);
  expected = lk_oracle_run (oracle, total);

  for (guint s = 0; s < G_N_ELEMENTS (steps_list); s++)
    {
      guint steps = steps_list[s];
      g_autofree double *def = lk_schedule_sigmas_default (schedule, steps);
      g_autofree double *karras = lk_schedule_sigmas_karras (schedule, steps, 7.0);
      g_autofree double *ddim = lk_schedule_sigmas_ddim (schedule, steps);
      g_autofree guint *ddim_t = lk_schedule_ddim_timesteps (schedule, steps);
      g_autofree double *ddim_td = g_new (double, steps);
      const struct { const char *kind; const double *values; gsize n; } cases[] = {
        { "default", def, steps + 1 },
        { "karras", karras, steps + 1 },
        { "ddim", ddim, steps + 1 },
        { "ddim timesteps", ddim_td, steps },
      };

      for (guint i = 0; i < steps; i++)
        ddim_td[i] = ddim_t[i];
      g_assert_cmpfloat_with_epsilon (def[0], lk_schedule_get_sigma_max (schedule), 1e-12);
      g_assert_cmpfloat_with_epsilon (karras[0], lk_schedule_get_sigma_max (schedule), 1e-12);
      g_assert_cmpfloat (def[steps], ==, 0.0);
      if (steps > 1)
        g_assert_cmpfloat_with_epsilon (karras[steps - 1], lk_schedule_get_sigma_min (schedule),
                                        1e-12);

      for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
        {
          g_autofree char *what = g_strdup_printf ("%s %u steps", cases[c].kind, steps);
          g_autofree float *values = to_float (cases[c].values, cases[c].n);

          lk_test_assert_close (what, values, expected + at, cases[c].n, 1e-7, 0);
          at += cases[c].n;
        }
    }
  g_assert_cmpuint (at, ==, total);
}

static void
test_img2img_steps (void)
{
  static const struct { guint steps; double strength; guint a1111, diffusers; } cases[] = {
    { 50, 0.45, 27, 28 },  /* EasyPhoto's first diffusion: A1111 runs 23 steps */
    { 20, 0.30, 13, 14 },  /* the second: 7 steps */
    { 20, 1.00, 0, 0 },    /* 0.999 · 20 = 19.98: all 20 */
    { 30, 0.30, 20, 21 },
    { 20, 0.00, 19, 20 },  /* A1111 still runs one step */
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_assert_cmpuint (lk_schedule_img2img_first_step (cases[c].steps, cases[c].strength,
                                                        LK_IMG2IMG_A1111), ==, cases[c].a1111);
      g_assert_cmpuint (lk_schedule_img2img_first_step (cases[c].steps, cases[c].strength,
                                                        LK_IMG2IMG_DIFFUSERS),
                        ==, cases[c].diffusers);
    }
}

/* ---- samplers ---- */

/* The analytic model: the exact denoiser of N(target, 1) data. */
static double
model_keep (double sigma)
{
  return 1.0 / (1.0 + sigma * sigma);
}

static gboolean
device_model (LkStream  *stream,
              LkTensor  *x,
              double     sigma,
              LkTensor  *denoised,
              gpointer   user_data,
              GError   **error)
{
  LkTensor *target = user_data;
  LkContext *context = lk_stream_get_context (stream);
  g_autoptr(LkTensor) a = lk_tensor_new (context, LK_DTYPE_F32, x->ndim, x->shape, error);
  g_autoptr(LkTensor) b = lk_tensor_new (context, LK_DTYPE_F32, x->ndim, x->shape, error);
  double keep = model_keep (sigma);

  return a != NULL && b != NULL &&
         lk_op_unary (stream, LK_UNARY_IDENTITY, x, keep, 0, a, error) &&
         lk_op_unary (stream, LK_UNARY_IDENTITY, target, 1.0 - keep, 0, b, error) &&
         lk_op_add (stream, a, b, denoised, error);
}

typedef struct
{
  LkSamplerKind  kind;
  const char    *schedule;
  guint          steps;
  guint          first;
} SamplerCase;

static double *
case_sigmas (LkSchedule        *schedule,
             const SamplerCase *c)
{
  if (g_str_equal (c->schedule, "karras"))
    return lk_schedule_sigmas_karras (schedule, c->steps, 7.0);
  if (g_str_equal (c->schedule, "ddim"))
    return lk_schedule_sigmas_ddim (schedule, c->steps);
  return lk_schedule_sigmas_default (schedule, c->steps);
}

static void
run_sampler_case (const SamplerCase *c)
{
  static const gint64 shape[] = { 1, 4, 16, 16 };
  const gsize n = 4 * 16 * 16;
  g_autoptr(LkSchedule) schedule = lk_schedule_new_sd15 ();
  g_autofree double *all_sigmas = case_sigmas (schedule, c);
  const double *sigmas = all_sigmas + c->first;
  guint n_sigmas = c->steps + 1 - c->first, run = n_sigmas - 1;
  g_autofree float *target = lk_test_random (n, -1, 1, 11);
  g_autofree float *latent = lk_test_random (n, -1, 1, 12);
  g_autofree float *x0 = g_new (float, n);
  g_autofree float *noise = g_new (float, (gsize) run * n);
  g_autofree float *expected = NULL;
  g_autofree double *x = g_new (double, n), *den = g_new (double, n);
  g_autofree double *old = g_new0 (double, n), *noise_d = g_new (double, n);
  g_autofree float *host = g_new (float, n);
  g_autoptr(LkOracle) oracle = lk_oracle_new ("oracle_sampler.py");
  g_autoptr(LkSampler) sampler = lk_sampler_new (c->kind, sigmas, n_sigmas);
  g_autoptr(LkTensor) tx = NULL, ttarget = NULL, tden = NULL, tnoise = NULL;
  LkStream *stream;
  double worst_host = 0, worst_device = 0;
  LkRng rng;

  if (oracle == NULL)
    return;

  /* txt2img starts from pure noise at σ_max; img2img from a latent noised to its first σ. */
  lk_rng_init (&rng, 1000 + c->kind);
  lk_rng_normal (&rng, x0, n);
  for (gsize e = 0; e < n; e++)
    x0[e] = (c->first > 0 ? latent[e] : 0.0f) + x0[e] * (float) sigmas[0];
  lk_rng_normal (&rng, noise, (gsize) run * n);

  lk_oracle_set_param_string (oracle, "mode", "sample");
  lk_oracle_set_param_string (oracle, "sampler", lk_sampler_kind_to_string (c->kind));
  lk_oracle_set_param_string (oracle, "schedule", c->schedule);
  lk_oracle_set_param_int (oracle, "steps", c->steps);
  lk_oracle_set_param_int (oracle, "first", c->first);
  lk_oracle_set_param_int (oracle, "n", n);
  lk_oracle_add_input (oracle, "x", x0, n);
  lk_oracle_add_input (oracle, "target", target, n);
  lk_oracle_add_input (oracle, "noise", noise, (gsize) run * n);
  expected = lk_oracle_run (oracle, (gsize) run * n);

  g_assert_cmpuint (lk_sampler_get_n_steps (sampler), ==, run);

  /* The host reference, in double. */
  for (gsize e = 0; e < n; e++)
    x[e] = x0[e];
  for (guint i = 0; i < run; i++)
    {
      double keep = model_keep (sigmas[i]);

      for (gsize e = 0; e < n; e++)
        {
          den[e] = keep * x[e] + (1.0 - keep) * target[e];
          noise_d[e] = noise[(gsize) i * n + e];
        }
      lk_sampler_ref_step (c->kind, sigmas, n_sigmas, i, x, den, old, noise_d, n);
      memcpy (old, den, n * sizeof (double));
      for (gsize e = 0; e < n; e++)
        host[e] = x[e];
      worst_host = MAX (worst_host, lk_test_diff (host, expected + (gsize) i * n, n).rel_l2);
    }
  g_test_message ("%s %s %u steps from %u: host double vs torch, worst step rel_l2 %.3g",
                  lk_sampler_kind_to_string (c->kind), c->schedule, c->steps, c->first, worst_host);
  /* The oracle's f32 output rounding is 3e-8. */
  g_assert_cmpfloat (worst_host, <, 2e-7);

  /* The device, f32. */
  if ((stream = lk_test_stream ()) == NULL)
    return;
  tx = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, shape, x0);
  ttarget = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, shape, target);
  tden = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, shape);
  for (guint i = 0; i < run; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree float *out = NULL;
      g_autofree char *what = g_strdup_printf ("%s %s %u steps from %u, step %u",
                                               lk_sampler_kind_to_string (c->kind), c->schedule,
                                               c->steps, c->first, i);

      g_assert_cmpuint (lk_sampler_get_step (sampler), ==, i);
      g_assert_cmpfloat (lk_sampler_get_sigma (sampler), ==, sigmas[i]);
      g_assert_true (device_model (stream, tx, sigmas[i], tden, ttarget, &error));
      g_assert_no_error (error);
      g_clear_pointer (&tnoise, lk_tensor_unref);
      if (lk_sampler_needs_noise (sampler))
        tnoise = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, shape, noise + (gsize) i * n);
      lk_sampler_step (sampler, stream, tx, tden, tnoise, &error);
      g_assert_no_error (error);
      out = lk_test_download (stream, tx);
      worst_device = MAX (worst_device, lk_test_diff (out, expected + (gsize) i * n, n).rel_l2);
      lk_test_assert_close (what, out, expected + (gsize) i * n, n, 1e-5, 0);
    }
  g_assert_true (lk_sampler_is_done (sampler));
  g_test_message ("%s %s %u steps from %u: device f32 vs torch, worst step rel_l2 %.3g",
                  lk_sampler_kind_to_string (c->kind), c->schedule, c->steps, c->first,
                  worst_device);
  lk_test_check_validation ();
}

static void
test_sampler_case (gconstpointer data)
{
  run_sampler_case (data);
}

static const SamplerCase sampler_cases[] = {
  { LK_SAMPLER_EULER, "default", 20, 0 },
  { LK_SAMPLER_EULER, "karras", 50, 0 },
  { LK_SAMPLER_EULER_ANCESTRAL, "default", 20, 0 },
  { LK_SAMPLER_EULER_ANCESTRAL, "karras", 50, 0 },
  { LK_SAMPLER_DPMPP_2M, "default", 50, 0 },
  { LK_SAMPLER_DPMPP_2M, "karras", 20, 0 },
  { LK_SAMPLER_DPMPP_2M_SDE, "default", 20, 0 },
  { LK_SAMPLER_DPMPP_2M_SDE, "karras", 50, 0 },
  { LK_SAMPLER_DPMPP_2M_SDE, "karras", 50, 27 },  /* EasyPhoto's first diffusion */
  { LK_SAMPLER_DPMPP_2M_SDE, "karras", 20, 13 },  /* and its second */
  { LK_SAMPLER_DDIM, "ddim", 20, 0 },
  { LK_SAMPLER_DDIM, "ddim", 50, 10 },
  { LK_SAMPLER_LCM, "default", 8, 0 },
  { LK_SAMPLER_LCM, "karras", 4, 0 },
};

static void
test_sampler_coefficients (void)
{
  g_autoptr(LkSchedule) schedule = lk_schedule_new_sd15 ();
  g_autofree double *sigmas = lk_schedule_sigmas_karras (schedule, 20, 7.0);
  LkSamplerKind kind;

  for (guint k = 0; k < LK_N_SAMPLERS; k++)
    {
      g_assert_true (lk_sampler_kind_from_string (lk_sampler_kind_to_string (k), &kind));
      g_assert_cmpuint (kind, ==, k);
      for (guint i = 0; i < 20; i++)
        {
          LkSamplerCoefficients c;

          lk_sampler_coefficients (k, sigmas, 21, i, &c);
          /* Without noise a step keeps a constant latent constant: the weights sum to 1. */
          g_assert_cmpfloat_with_epsilon (c.x + c.denoised + c.old_denoised, 1.0, 1e-12);
          g_assert_true (i > 0 || c.old_denoised == 0);
          g_assert_true (i < 19 || (c.denoised == 1 && c.x == 0 && c.noise == 0));
        }
    }
  g_assert_false (lk_sampler_kind_from_string ("heun", &kind));
}

static void
test_sampler_rejects (void)
{
  static const gint64 shape[] = { 1, 4, 8, 8 }, other[] = { 1, 4, 8, 9 };
  static const double sigmas[] = { 14.6, 1.0, 0.0 };
  LkStream *stream = lk_test_stream ();
  g_autoptr(LkSampler) sampler = lk_sampler_new (LK_SAMPLER_EULER_ANCESTRAL, sigmas, 3);
  g_autoptr(LkTensor) x = NULL, den = NULL, bad = NULL;
  g_autoptr(GError) error = NULL;

  if (stream == NULL)
    return;
  x = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, shape);
  den = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, shape);
  bad = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, other);
  g_assert_true (lk_sampler_needs_noise (sampler));
  g_assert_false (lk_sampler_step (sampler, stream, x, den, NULL, &error));
  g_assert_error (error, LK_SAMPLER_ERROR, LK_SAMPLER_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (lk_sampler_step (sampler, stream, x, bad, NULL, &error));
  g_assert_error (error, LK_SAMPLER_ERROR, LK_SAMPLER_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (lk_sampler_step (sampler, stream, x, x, NULL, &error));
  g_assert_error (error, LK_SAMPLER_ERROR, LK_SAMPLER_ERROR_INVALID);
  g_assert_cmpuint (lk_sampler_get_step (sampler), ==, 0);
  lk_stream_finish (stream, NULL);
}

typedef struct
{
  LkTensor *target;
  LkRng     rng;
} RunData;

static gboolean
run_model_cb (LkStream  *stream,
              LkTensor  *x,
              double     sigma,
              LkTensor  *denoised,
              gpointer   user_data,
              GError   **error)
{
  RunData *data = user_data;

  return device_model (stream, x, sigma, denoised, data->target, error);
}

static gboolean
run_noise_cb (LkStream  *stream,
              LkTensor  *noise,
              gpointer   user_data,
              GError   **error)
{
  RunData *data = user_data;

  return lk_rng_normal_tensor (&data->rng, stream, noise, error);
}

/* lk_sampler_run() with Philox noise against the host reference fed the same noise. */
static void
test_sampler_run (void)
{
  static const gint64 shape[] = { 2, 4, 8, 8 };
  const gsize n = 2 * 4 * 8 * 8;
  const guint steps = 12;
  LkStream *stream = lk_test_stream ();
  g_autoptr(LkSchedule) schedule = lk_schedule_new_sd15 ();
  g_autofree double *sigmas = lk_schedule_sigmas_karras (schedule, steps, 7.0);
  g_autoptr(LkSampler) sampler = lk_sampler_new (LK_SAMPLER_DPMPP_2M_SDE, sigmas, steps + 1);
  g_autofree float *target = lk_test_random (n, -1, 1, 21);
  g_autofree float *x0 = g_new (float, n), *noise = g_new (float, n), *ref = g_new (float, n);
  g_autofree float *out = NULL;
  g_autofree double *x = g_new (double, n), *den = g_new (double, n);
  g_autofree double *old = g_new0 (double, n), *noise_d = g_new (double, n);
  g_autoptr(LkTensor) tx = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  RunData data;
  LkRng rng;

  if (stream == NULL)
    return;

  lk_rng_init (&rng, 77);
  lk_rng_normal (&rng, x0, n);
  for (gsize e = 0; e < n; e++)
    x[e] = x0[e] = x0[e] * (float) sigmas[0];
  for (guint i = 0; i < steps; i++)
    {
      double keep = model_keep (sigmas[i]);

      for (gsize e = 0; e < n; e++)
        den[e] = keep * x[e] + (1.0 - keep) * target[e];
      if (i + 1 < steps)
        {
          lk_rng_normal (&rng, noise, n);
          for (gsize e = 0; e < n; e++)
            noise_d[e] = noise[e];
        }
      lk_sampler_ref_step (LK_SAMPLER_DPMPP_2M_SDE, sigmas, steps + 1, i, x, den, old, noise_d, n);
      memcpy (old, den, n * sizeof (double));
    }
  for (gsize e = 0; e < n; e++)
    ref[e] = x[e];

  data.target = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, shape, target);
  lk_rng_init (&data.rng, 77);
  data.rng.offset = 1;  /* the call that made x0 */
  tx = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, shape, x0);
  g_assert_true (lk_sampler_run (sampler, stream, tx, run_model_cb, run_noise_cb, &data,
                                 cancellable, &error));
  g_assert_no_error (error);
  out = lk_test_download (stream, tx);
  lk_test_assert_close ("dpmpp_2m_sde run", out, ref, n, 1e-5, 0);
  g_assert_cmpuint (data.rng.offset, ==, 1 + steps - 1);

  /* A cancelled run stops before its first step. */
  g_clear_pointer (&sampler, lk_sampler_free);
  sampler = lk_sampler_new (LK_SAMPLER_EULER, sigmas, steps + 1);
  g_cancellable_cancel (cancellable);
  g_assert_false (lk_sampler_run (sampler, stream, tx, run_model_cb, NULL, &data, cancellable,
                                  &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (lk_sampler_get_step (sampler), ==, 0);
  lk_tensor_unref (data.target);
  lk_test_check_validation ();
}

static void
test_cfg_combine (void)
{
  static const gint64 shape[] = { 1, 4, 13, 7 };
  const gsize n = 4 * 13 * 7;
  LkStream *stream = lk_test_stream ();
  g_autofree float *uncond = lk_test_random (n, -2, 2, 31);
  g_autofree float *cond = lk_test_random (n, -2, 2, 32);
  g_autofree float *ref = g_new (float, n);
  g_autofree float *out = NULL;
  g_autoptr(LkTensor) tu = NULL, tc = NULL, to = NULL;
  g_autoptr(GError) error = NULL;

  if (stream == NULL)
    return;
  for (gsize e = 0; e < n; e++)
    ref[e] = uncond[e] + 7.0 * ((double) cond[e] - uncond[e]);
  tu = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, shape, uncond);
  tc = lk_test_tensor_from (stream, LK_DTYPE_F32, 4, shape, cond);
  to = lk_test_tensor_poisoned (stream, LK_DTYPE_F32, 4, shape);
  g_assert_true (lk_cfg_combine (stream, tu, tc, 7.0, to, &error));
  g_assert_no_error (error);
  out = lk_test_download (stream, to);
  lk_test_assert_close ("cfg 7", out, ref, n, 1e-6, 0);
  lk_test_check_validation ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nn/rng/philox-known-answers", test_philox_known_answers);
  g_test_add_func ("/nn/rng/philox-oracle", test_philox_oracle);
  g_test_add_func ("/nn/rng/torch-cuda", test_rng_torch_cuda);
  g_test_add_func ("/nn/rng/normal-oracle", test_rng_oracle);
  g_test_add_func ("/nn/rng/distribution", test_rng_distribution);
  g_test_add_func ("/nn/schedule/tables", test_schedule_tables);
  g_test_add_func ("/nn/schedule/interpolation", test_schedule_interpolation);
  g_test_add_func ("/nn/schedule/spacings", test_schedule_spacings);
  g_test_add_func ("/nn/schedule/img2img", test_img2img_steps);
  g_test_add_func ("/nn/sampler/coefficients", test_sampler_coefficients);
  g_test_add_func ("/nn/sampler/rejects", test_sampler_rejects);
  for (guint c = 0; c < G_N_ELEMENTS (sampler_cases); c++)
    {
      const SamplerCase *sc = &sampler_cases[c];
      g_autofree char *path = g_strdup_printf ("/nn/sampler/%s/%s-%u-from-%u",
                                               lk_sampler_kind_to_string (sc->kind), sc->schedule,
                                               sc->steps, sc->first);

      g_test_add_data_func (path, sc, test_sampler_case);
    }
  g_test_add_func ("/nn/sampler/run", test_sampler_run);
  g_test_add_func ("/nn/sampler/cfg-combine", test_cfg_combine);
  return g_test_run ();
}
