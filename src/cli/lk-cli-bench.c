/* lk-cli-bench.c: likeness-cli bench ops | unet | vae | clip
 *
 * bench ops times each op at the shapes Stable Diffusion 1.5 runs it at, next to the device's
 * measured peaks: an FMA-only kernel for arithmetic and a copy kernel for memory. Figures are
 * wall-clock over a batch of repetitions recorded into one stream, after a warm-up that compiles
 * the pipelines.
 *
 * bench unet times whole UNet forwards as a CFG step runs them (batch 2, a 77-token context),
 * bench vae the decode of one latent, bench clip the text encoder's forward of a prompt and a
 * negative prompt; each with a checkpoint's weights or, without one, random f16 weights for
 * SD1.5's configuration. Each prints the peak device memory and the process' peak RSS.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>

#include "lk-cli.h"
#include "lk-half.h"
#include "lk-model-kind.h"
#include "lk-ops-private.h"
#include "lk-safetensors.h"
#include "lk-controlnet.h"
#include "lk-lora.h"
#include "lk-unet.h"
#include "lk-vae.h"
#include "lk-clip.h"
#include "lk-tokenizer.h"

typedef struct
{
  LkContext *context;
  LkStream  *stream;
  LkDType    dtype;
  double     min_seconds;
  double     peak_gflops;
  double     peak_gbps;
} Bench;

typedef gboolean (*RecordFunc) (Bench     *bench,
                                gpointer   data,
                                GError   **error);

/* Runs record() once to warm up, then enough times to fill min_seconds; returns seconds per run. */
static double
time_op (Bench       *bench,
         RecordFunc   record,
         gpointer     data,
         GError     **error)
{
  guint reps = 1;
  double elapsed = 0;

  if (!record (bench, data, error) || !lk_stream_finish (bench->stream, error))
    return -1;

  while (TRUE)
    {
      gint64 start = g_get_monotonic_time ();

      for (guint i = 0; i < reps; i++)
        if (!record (bench, data, error))
          return -1;
      if (!lk_stream_finish (bench->stream, error))
        return -1;
      elapsed = (g_get_monotonic_time () - start) / 1e6;
      if (elapsed >= bench->min_seconds || reps >= 1024)
        break;
      reps = MIN (1024, MAX (reps * 2, (guint) (reps * bench->min_seconds / MAX (elapsed, 1e-6) * 1.2)));
    }
  return elapsed / reps;
}

static LkTensor *
random_tensor (Bench        *bench,
               LkDType       dtype,
               guint         ndim,
               const gint64 *shape,
               GError      **error)
{
  g_autoptr(LkTensor) t = lk_tensor_new (bench->context, dtype, ndim, shape, error);
  g_autofree float *data = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (ndim * 7919 + shape[0]);
  gint64 n;

  if (t == NULL)
    return NULL;
  n = lk_tensor_numel (t);
  data = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    data[i] = g_rand_double_range (rand, -1, 1);
  if (!lk_tensor_upload_f32 (t, bench->stream, data, error))
    return NULL;
  return g_steal_pointer (&t);
}

/* Peaks */

typedef struct
{
  LkTensor *out;
  guint     groups;
} PeakFma;

#define PEAK_ITERATIONS 512

static gboolean
record_peak_fma (Bench     *bench,
                 gpointer   data,
                 GError   **error)
{
  PeakFma *p = data;
  guint32 spec[] = { LK_OPS_LOCAL_SIZE_1D, 1, 1, PEAK_ITERATIONS };
  struct { float a, b; } push = { 0.999f, 0.001f };
  LkBinding binding = lk_tensor_binding (p->out, LK_ACCESS_WRITE);
  LkKernel *pipeline = lk_context_get_kernel (bench->context, "peak_fma", 1, sizeof push,
                                              spec, G_N_ELEMENTS (spec), error);

  if (pipeline == NULL)
    return FALSE;
  lk_stream_dispatch (bench->stream, pipeline, &binding, 1, &push, sizeof push, p->groups, 1, 1);
  return TRUE;
}

typedef struct
{
  LkTensor *src;
  LkTensor *dst;
} PeakCopy;

static gboolean
record_peak_copy (Bench     *bench,
                  gpointer   data,
                  GError   **error)
{
  PeakCopy *p = data;
  guint32 spec[] = { LK_OPS_LOCAL_SIZE_1D, 1, 1 };
  guint32 n = lk_tensor_numel (p->src) / 4;
  LkBinding bindings[] = {
    lk_tensor_binding (p->src, LK_ACCESS_READ),
    lk_tensor_binding (p->dst, LK_ACCESS_WRITE),
  };
  LkKernel *pipeline = lk_context_get_kernel (bench->context, "peak_copy", 2, sizeof n,
                                              spec, G_N_ELEMENTS (spec), error);
  guint32 gx, gy;

  if (pipeline == NULL)
    return FALSE;
  lk_ops_grid_1d (bench->context, (n + LK_OPS_LOCAL_SIZE_1D - 1) / LK_OPS_LOCAL_SIZE_1D, &gx, &gy);
  lk_stream_dispatch (bench->stream, pipeline, bindings, 2, &n, sizeof n, gx, gy, 1);
  return TRUE;
}

static gboolean
measure_peaks (Bench   *bench,
               GError **error)
{
  const LkDeviceInfo *info = lk_context_get_info (bench->context);
  /* Enough invocations to fill any GPU; lavapipe gets fewer so the warm-up stays short. */
  guint groups = info->type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 64 : 4096;
  const gint64 out_shape[] = { (gint64) groups * LK_OPS_LOCAL_SIZE_1D };
  const gint64 copy_shape[] = { 16 * 1024 * 1024 };  /* 64 MiB each way */
  g_autoptr(LkTensor) out = lk_tensor_new (bench->context, LK_DTYPE_F32, 1, out_shape, error);
  g_autoptr(LkTensor) src = NULL, dst = NULL;
  PeakFma fma = { out, groups };
  PeakCopy copy;
  double t;

  if (out == NULL)
    return FALSE;
  t = time_op (bench, record_peak_fma, &fma, error);
  if (t < 0)
    return FALSE;
  bench->peak_gflops = (double) out_shape[0] * 8 * 4 * PEAK_ITERATIONS * 2 / t / 1e9;

  src = lk_tensor_new (bench->context, LK_DTYPE_F32, 1, copy_shape, error);
  dst = src ? lk_tensor_new (bench->context, LK_DTYPE_F32, 1, copy_shape, error) : NULL;
  if (dst == NULL)
    return FALSE;
  copy = (PeakCopy) { src, dst };
  t = time_op (bench, record_peak_copy, &copy, error);
  if (t < 0)
    return FALSE;
  bench->peak_gbps = 2.0 * copy_shape[0] * 4 / t / 1e9;

  printf ("Peaks measured: %.1f GFLOP/s (f32 FMA), %.1f GB/s (copy)\n\n",
          bench->peak_gflops, bench->peak_gbps);
  return TRUE;
}

/* Ops */

typedef struct
{
  const char *name;
  LkTensor   *t[5];
  gint64      i[6];
  double      flops;
  double      bytes;
} Case;

static gboolean
record_gemm (Bench *bench, gpointer data, GError **error)
{
  Case *c = data;
  LkGemmOptions options = { FALSE, TRUE, 1.0f };

  return lk_op_gemm (bench->stream, c->t[0], c->t[1], c->t[2], c->t[3], &options, error);
}

static gboolean
record_conv (Bench *bench, gpointer data, GError **error)
{
  Case *c = data;
  LkConv2dOptions options = { .stride = c->i[0], .padding = c->i[1] };

  return lk_op_conv2d (bench->stream, c->t[0], c->t[1], c->t[2], c->t[3], &options, error);
}

static gboolean
record_attention (Bench *bench, gpointer data, GError **error)
{
  Case *c = data;

  return lk_op_attention (bench->stream, c->t[0], c->t[1], c->t[2], c->t[3], c->i[0], 0.0f, error);
}

static gboolean
record_group_norm (Bench *bench, gpointer data, GError **error)
{
  Case *c = data;

  return lk_op_group_norm (bench->stream, c->t[0], c->t[1], c->t[2], c->t[3], 32, 1e-5f, TRUE, error);
}

static gboolean
record_layer_norm (Bench *bench, gpointer data, GError **error)
{
  Case *c = data;

  return lk_op_layer_norm (bench->stream, c->t[0], c->t[1], c->t[2], c->t[3], 1e-5f, error);
}

static gboolean
record_add (Bench *bench, gpointer data, GError **error)
{
  Case *c = data;

  return lk_op_add (bench->stream, c->t[0], c->t[1], c->t[2], error);
}

static gboolean
record_geglu (Bench *bench, gpointer data, GError **error)
{
  Case *c = data;

  return lk_op_geglu (bench->stream, c->t[0], c->t[1], error);
}

static void
case_clear (Case *c)
{
  for (guint i = 0; i < G_N_ELEMENTS (c->t); i++)
    g_clear_pointer (&c->t[i], lk_tensor_unref);
}

static gboolean
run_case (Bench       *bench,
          Case        *c,
          RecordFunc   record,
          gboolean     compute_bound,
          GError     **error)
{
  double t = time_op (bench, record, c, error);
  double gflops, gbps;

  if (t < 0)
    return FALSE;
  gflops = c->flops / t / 1e9;
  gbps = c->bytes / t / 1e9;
  /* Pad by characters, not bytes: the names hold “→”, “²” and “×”. */
  printf ("%s%*s %10.3f %10.2f %9.2f %7.1f%%\n", c->name,
          (int) MAX (0, 44 - (glong) g_utf8_strlen (c->name, -1)), "", t * 1e3, gflops, gbps,
          compute_bound ? 100.0 * gflops / bench->peak_gflops : 100.0 * gbps / bench->peak_gbps);
  fflush (stdout);
  return TRUE;
}

static gboolean
bench_gemm (Bench      *bench,
            const char *filter,
            GError    **error)
{
  static const gint64 shapes[][3] = {
    { 4096, 320, 320 },   /* projections at 64×64 */
    { 4096, 320, 2560 },  /* feed-forward in */
    { 4096, 1280, 320 },  /* feed-forward out */
    { 1024, 640, 640 },   /* projections at 32×32 */
  };
  gsize es = lk_dtype_size (bench->dtype);

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      gint64 m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
      const gint64 as[] = { m, k }, bs[] = { n, k }, bias_s[] = { n }, cs[] = { m, n };
      g_autofree char *name = g_strdup_printf ("gemm M=%" G_GINT64_FORMAT " K=%" G_GINT64_FORMAT
                                               " N=%" G_GINT64_FORMAT " +bias", m, k, n);
      Case c = { .name = name };
      gboolean ok;

      if (filter && !strstr (name, filter))
        continue;
      c.t[0] = random_tensor (bench, bench->dtype, 2, as, error);
      c.t[1] = c.t[0] ? random_tensor (bench, LK_DTYPE_F16, 2, bs, error) : NULL;
      c.t[2] = c.t[1] ? random_tensor (bench, LK_DTYPE_F16, 1, bias_s, error) : NULL;
      c.t[3] = c.t[2] ? lk_tensor_new (bench->context, bench->dtype, 2, cs, error) : NULL;
      c.flops = 2.0 * m * n * k;
      c.bytes = (double) m * k * es + n * k * 2 + m * n * es;
      ok = c.t[3] != NULL && run_case (bench, &c, record_gemm, TRUE, error);
      case_clear (&c);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
bench_conv (Bench      *bench,
            const char *filter,
            GError    **error)
{
  static const gint64 shapes[][5] = {  /* c_in, c_out, size, kernel, stride */
    { 320, 320, 64, 3, 1 },
    { 640, 640, 32, 3, 1 },
    { 320, 320, 64, 3, 2 },
    { 640, 320, 64, 1, 1 },
  };
  gsize es = lk_dtype_size (bench->dtype);

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      gint64 ci = shapes[s][0], co = shapes[s][1], hw = shapes[s][2], kk = shapes[s][3], st = shapes[s][4];
      gint64 pad = kk == 3 ? 1 : 0, ho = (hw + 2 * pad - kk) / st + 1;
      const gint64 xs[] = { 1, ci, hw, hw }, ws[] = { co, ci, kk, kk }, bias_s[] = { co };
      const gint64 ys[] = { 1, co, ho, ho };
      g_autofree char *name = g_strdup_printf ("conv%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                                               " %" G_GINT64_FORMAT "→%" G_GINT64_FORMAT
                                               " %" G_GINT64_FORMAT "² stride %" G_GINT64_FORMAT,
                                               kk, kk, ci, co, hw, st);
      Case c = { .name = name, .i = { st, pad } };
      gboolean ok;

      if (filter && !strstr (name, filter))
        continue;
      c.t[0] = random_tensor (bench, bench->dtype, 4, xs, error);
      c.t[1] = c.t[0] ? random_tensor (bench, LK_DTYPE_F16, 4, ws, error) : NULL;
      c.t[2] = c.t[1] ? random_tensor (bench, LK_DTYPE_F16, 1, bias_s, error) : NULL;
      c.t[3] = c.t[2] ? lk_tensor_new (bench->context, bench->dtype, 4, ys, error) : NULL;
      c.flops = 2.0 * co * ho * ho * ci * kk * kk;
      c.bytes = (double) ci * hw * hw * es + co * ci * kk * kk * 2 + co * ho * ho * es;
      ok = c.t[3] != NULL && run_case (bench, &c, record_conv, TRUE, error);
      case_clear (&c);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
bench_attention (Bench      *bench,
                 const char *filter,
                 GError    **error)
{
  static const gint64 shapes[][4] = {  /* n_q, n_k, heads, head_dim */
    { 4096, 4096, 8, 40 },  /* self-attention at 64×64 */
    { 4096, 77, 8, 40 },    /* cross-attention at 64×64 */
    { 1024, 1024, 8, 80 },  /* self-attention at 32×32 */
    { 256, 256, 8, 160 },   /* self-attention at 16×16 */
  };
  gsize es = lk_dtype_size (bench->dtype);

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      gint64 nq = shapes[s][0], nk = shapes[s][1], heads = shapes[s][2], d = shapes[s][3];
      const gint64 qs[] = { 1, nq, heads * d }, ks[] = { 1, nk, heads * d };
      g_autofree char *name = g_strdup_printf ("attention q=%" G_GINT64_FORMAT " k=%" G_GINT64_FORMAT
                                               " %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT,
                                               nq, nk, heads, d);
      Case c = { .name = name, .i = { heads } };
      gboolean ok;

      if (filter && !strstr (name, filter))
        continue;
      c.t[0] = random_tensor (bench, bench->dtype, 3, qs, error);
      c.t[1] = c.t[0] ? random_tensor (bench, bench->dtype, 3, ks, error) : NULL;
      c.t[2] = c.t[1] ? random_tensor (bench, bench->dtype, 3, ks, error) : NULL;
      c.t[3] = c.t[2] ? lk_tensor_new (bench->context, bench->dtype, 3, qs, error) : NULL;
      c.flops = 4.0 * heads * nq * nk * d;
      c.bytes = (2.0 * nq + 2.0 * nk) * heads * d * es;
      ok = c.t[3] != NULL && run_case (bench, &c, record_attention, TRUE, error);
      case_clear (&c);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
bench_memory_bound (Bench      *bench,
                    const char *filter,
                    GError    **error)
{
  gsize es = lk_dtype_size (bench->dtype);
  gboolean ok = TRUE;

  if (!filter || strstr ("group_norm+silu [2,320,64,64]", filter))
    {
      const gint64 xs[] = { 2, 320, 64, 64 }, gs[] = { 320 };
      Case c = { .name = "group_norm+silu [2,320,64,64]" };

      c.t[0] = random_tensor (bench, bench->dtype, 4, xs, error);
      c.t[1] = c.t[0] ? random_tensor (bench, LK_DTYPE_F16, 1, gs, error) : NULL;
      c.t[2] = c.t[1] ? random_tensor (bench, LK_DTYPE_F16, 1, gs, error) : NULL;
      c.t[3] = c.t[2] ? lk_tensor_new (bench->context, bench->dtype, 4, xs, error) : NULL;
      c.flops = 8.0 * 2 * 320 * 64 * 64;
      c.bytes = 2.0 * 2 * 320 * 64 * 64 * es;
      ok = c.t[3] != NULL && run_case (bench, &c, record_group_norm, FALSE, error);
      case_clear (&c);
    }
  if (ok && (!filter || strstr ("layer_norm [2,4096,320]", filter)))
    {
      const gint64 xs[] = { 2, 4096, 320 }, gs[] = { 320 };
      Case c = { .name = "layer_norm [2,4096,320]" };

      c.t[0] = random_tensor (bench, bench->dtype, 3, xs, error);
      c.t[1] = c.t[0] ? random_tensor (bench, LK_DTYPE_F16, 1, gs, error) : NULL;
      c.t[2] = c.t[1] ? random_tensor (bench, LK_DTYPE_F16, 1, gs, error) : NULL;
      c.t[3] = c.t[2] ? lk_tensor_new (bench->context, bench->dtype, 3, xs, error) : NULL;
      c.flops = 8.0 * 2 * 4096 * 320;
      c.bytes = 2.0 * 2 * 4096 * 320 * es;
      ok = c.t[3] != NULL && run_case (bench, &c, record_layer_norm, FALSE, error);
      case_clear (&c);
    }
  if (ok && (!filter || strstr ("add [2,320,64,64]", filter)))
    {
      const gint64 xs[] = { 2, 320, 64, 64 };
      Case c = { .name = "add [2,320,64,64]" };

      c.t[0] = random_tensor (bench, bench->dtype, 4, xs, error);
      c.t[1] = c.t[0] ? random_tensor (bench, bench->dtype, 4, xs, error) : NULL;
      c.t[2] = c.t[1] ? lk_tensor_new (bench->context, bench->dtype, 4, xs, error) : NULL;
      c.flops = 2.0 * 320 * 64 * 64;
      c.bytes = 3.0 * 2 * 320 * 64 * 64 * es;
      ok = c.t[2] != NULL && run_case (bench, &c, record_add, FALSE, error);
      case_clear (&c);
    }
  if (ok && (!filter || strstr ("geglu [2,4096,2560]", filter)))
    {
      const gint64 xs[] = { 2, 4096, 2560 }, ys[] = { 2, 4096, 1280 };
      Case c = { .name = "geglu [2,4096,2560]" };

      c.t[0] = random_tensor (bench, bench->dtype, 3, xs, error);
      c.t[1] = c.t[0] ? lk_tensor_new (bench->context, bench->dtype, 3, ys, error) : NULL;
      c.flops = 20.0 * 2 * 4096 * 1280;
      c.bytes = 3.0 * 2 * 4096 * 1280 * es;
      ok = c.t[1] != NULL && run_case (bench, &c, record_geglu, FALSE, error);
      case_clear (&c);
    }
  return ok;
}

static int
bench_ops (const char *filter,
           const char *dtype,
           double      min_seconds)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) context = lk_context_new (NULL, LK_CONTEXT_FLAGS_NONE, &error);
  g_autoptr(LkStream) stream = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = g_date_time_format (now, "%Y-%m-%d %H:%M UTC");
  const LkDeviceInfo *info;
  Bench bench = { 0 };

  if (context == NULL)
    return lk_cli_fail ("%s", error->message);
  stream = lk_stream_new (context, &error);
  if (stream == NULL)
    return lk_cli_fail ("%s", error->message);

  info = lk_context_get_info (context);
  bench.context = context;
  bench.stream = stream;
  bench.min_seconds = min_seconds;
  if (g_strcmp0 (dtype, "f32") == 0)
    bench.dtype = LK_DTYPE_F32;
  else if (g_strcmp0 (dtype, "f16") == 0)
    bench.dtype = LK_DTYPE_F16;
  else
    return lk_cli_fail ("bench: --dtype is f16 or f32, not “%s”", dtype);

  printf ("likeness-cli bench ops — %s\n", date);
  printf ("Device: %s (%s), driver %s\n", info->name, lk_device_type_to_string (info->type), info->driver);
  printf ("Activations %s, weights f16, accumulation f32\n", lk_dtype_name (bench.dtype));
  if (!measure_peaks (&bench, &error))
    return lk_cli_fail ("bench: %s", error->message);

  printf ("%-44s %10s %10s %9s %8s\n", "op", "ms", "GFLOP/s", "GB/s", "of peak");
  if (!bench_gemm (&bench, filter, &error) ||
      !bench_conv (&bench, filter, &error) ||
      !bench_attention (&bench, filter, &error) ||
      !bench_memory_bound (&bench, filter, &error))
    return lk_cli_fail ("bench: %s", error->message);

  printf ("\n“of peak” is GFLOP/s over the FMA peak for GEMM, conv and attention, GB/s over the\n"
          "copy peak for the rest. Peak device memory: %.1f MiB\n",
          lk_context_get_peak_allocated_bytes (context) / (1024.0 * 1024.0));
  return 0;
}

/* Random SD1.5 modules */

typedef struct
{
  char     *name;
  gboolean  norm_weight;
  gboolean  bias;
  guint     ndim;
  gint64    shape[4];
} RandomSpec;

static void
random_spec_clear (gpointer data)
{
  g_free (((RandomSpec *) data)->name);
}

static GArray *
random_specs_new (void)
{
  GArray *specs = g_array_new (FALSE, TRUE, sizeof (RandomSpec));

  g_array_set_clear_func (specs, random_spec_clear);
  return specs;
}

static void
random_specs_add (GArray     *specs,
                  const char *name,
                  gboolean    norm_weight,
                  gboolean    bias,
                  guint       ndim,
                  gint64      d0,
                  gint64      d1,
                  gint64      d2,
                  gint64      d3)
{
  RandomSpec spec = { g_strdup (name), norm_weight, bias, ndim, { d0, d1, d2, d3 } };

  g_array_append_val (specs, spec);
}

static GArray *
unet_specs (void)
{
  g_autoptr(GArray) list = lk_unet_config_list_tensors (&LK_UNET_CONFIG_SD1);
  GArray *specs = random_specs_new ();

  for (guint i = 0; i < list->len; i++)
    {
      LkUnetTensorSpec *spec = &g_array_index (list, LkUnetTensorSpec, i);

      random_specs_add (specs, spec->name, spec->role == LK_UNET_TENSOR_NORM_WEIGHT,
                        spec->role == LK_UNET_TENSOR_BIAS || spec->role == LK_UNET_TENSOR_NORM_BIAS,
                        spec->ndim, spec->shape[0], spec->shape[1], spec->shape[2], spec->shape[3]);
    }
  return specs;
}

static GArray *
controlnet_specs (void)
{
  g_autoptr(GArray) list = lk_controlnet_config_list_tensors (&LK_UNET_CONFIG_SD1);
  GArray *specs = random_specs_new ();

  for (guint i = 0; i < list->len; i++)
    {
      LkUnetTensorSpec *spec = &g_array_index (list, LkUnetTensorSpec, i);

      random_specs_add (specs, spec->name, spec->role == LK_UNET_TENSOR_NORM_WEIGHT,
                        spec->role == LK_UNET_TENSOR_BIAS || spec->role == LK_UNET_TENSOR_NORM_BIAS,
                        spec->ndim, spec->shape[0], spec->shape[1], spec->shape[2], spec->shape[3]);
    }
  return specs;
}

static GArray *
vae_specs (void)
{
  g_autoptr(GArray) list = lk_vae_list_tensors ();
  GArray *specs = random_specs_new ();

  for (guint i = 0; i < list->len; i++)
    {
      LkVaeTensorSpec *spec = &g_array_index (list, LkVaeTensorSpec, i);

      random_specs_add (specs, spec->name, spec->role == LK_VAE_TENSOR_NORM_WEIGHT,
                        spec->role == LK_VAE_TENSOR_BIAS || spec->role == LK_VAE_TENSOR_NORM_BIAS,
                        spec->ndim, spec->shape[0], spec->shape[1], spec->shape[2], spec->shape[3]);
    }
  return specs;
}

/* SD1.5's text encoder, CLIP ViT-L/14: 768 wide, 12 layers, MLP 3072, 77 positions. */
static GArray *
clip_specs (void)
{
  static const struct { const char *name; gint64 out, in; } linear[] = {
    { "self_attn.q_proj", 768, 768 }, { "self_attn.k_proj", 768, 768 },
    { "self_attn.v_proj", 768, 768 }, { "self_attn.out_proj", 768, 768 },
    { "mlp.fc1", 3072, 768 }, { "mlp.fc2", 768, 3072 },
  };
  GArray *specs = random_specs_new ();

#define ADD(suffix, norm, bias, ndim, d0, d1) G_STMT_START {                        \
    g_autofree char *name_ = g_strconcat (LK_CLIP_TEXT_PREFIX, suffix, NULL);        \
    random_specs_add (specs, name_, norm, bias, ndim, d0, d1, 0, 0);                 \
  } G_STMT_END

  ADD ("embeddings.token_embedding.weight", FALSE, FALSE, 2, LK_CLIP_VOCAB_SIZE, 768);
  ADD ("embeddings.position_embedding.weight", FALSE, FALSE, 2, LK_CLIP_CONTEXT, 768);
  for (guint l = 0; l < 12; l++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (linear); i++)
        {
          g_autofree char *w = g_strdup_printf ("encoder.layers.%u.%s.weight", l, linear[i].name);
          g_autofree char *b = g_strdup_printf ("encoder.layers.%u.%s.bias", l, linear[i].name);

          ADD (w, FALSE, FALSE, 2, linear[i].out, linear[i].in);
          ADD (b, FALSE, TRUE, 1, linear[i].out, 0);
        }
      for (guint n = 1; n <= 2; n++)
        {
          g_autofree char *w = g_strdup_printf ("encoder.layers.%u.layer_norm%u.weight", l, n);
          g_autofree char *b = g_strdup_printf ("encoder.layers.%u.layer_norm%u.bias", l, n);

          ADD (w, TRUE, FALSE, 1, 768, 0);
          ADD (b, FALSE, TRUE, 1, 768, 0);
        }
    }
  ADD ("final_layer_norm.weight", TRUE, FALSE, 1, 768, 0);
  ADD ("final_layer_norm.bias", FALSE, TRUE, 1, 768, 0);
#undef ADD
  return specs;
}

/* A safetensors file of random f16 weights: weights at the variance-keeping scale of their
 * fan-in, norms 1 ± 0.2, biases ± 0.1, so activations stay finite and the timing is that of
 * ordinary numbers. */
static gboolean
write_random (const char  *path,
              GArray      *specs,
              GError     **error)
{
  g_autoptr(GArray) entries = g_array_new (FALSE, FALSE, sizeof (LkSafetensorsEntry));
  g_autoptr(GPtrArray) data = g_ptr_array_new_with_free_func (g_free);
  guint64 state = 0x9e3779b97f4a7c15ull;

  for (guint i = 0; i < specs->len; i++)
    {
      RandomSpec *spec = &g_array_index (specs, RandomSpec, i);
      LkSafetensorsEntry entry = { spec->name, LK_WEIGHT_F16, spec->ndim, spec->shape, NULL };
      gint64 numel = 1;
      guint16 *halves;

      for (guint d = 0; d < spec->ndim; d++)
        numel *= spec->shape[d];
      if (spec->norm_weight)
        halves = lk_halves_uniform (numel, 1, 0.2f, &state);
      else if (spec->bias)
        halves = lk_halves_uniform (numel, 0, 0.1f, &state);
      else
        halves = lk_halves_uniform (numel, 0, sqrtf (3.0f * spec->shape[0] / numel), &state);
      entry.data = halves;
      g_ptr_array_add (data, halves);
      g_array_append_val (entries, entry);
    }
  return lk_safetensors_write (path, (LkSafetensorsEntry *) entries->data, entries->len, NULL, error);
}

typedef gpointer (*LoadFunc) (LkStream      *stream,
                              LkWeights     *weights,
                              LkModelFiles  *files,
                              GError       **error);

static gpointer
load_unet_cb (LkStream *stream, LkWeights *weights, LkModelFiles *files, GError **error)
{
  return weights ? lk_unet_new (stream, weights, error)
                 : lk_unet_new_from_model_files (stream, files, error);
}

static gpointer
load_controlnet_cb (LkStream *stream, LkWeights *weights, LkModelFiles *files, GError **error)
{
  return lk_controlnet_new (stream, weights, error);
}

static gpointer
load_vae_cb (LkStream *stream, LkWeights *weights, LkModelFiles *files, GError **error)
{
  return weights ? lk_vae_new (stream, weights, error)
                 : lk_vae_new_from_model_files (stream, files, error);
}

static gpointer
load_clip_cb (LkStream *stream, LkWeights *weights, LkModelFiles *files, GError **error)
{
  return weights ? lk_clip_text_model_new (stream, weights, error)
                 : lk_clip_text_model_new_from_model_files (stream, files, error);
}

/* Peak resident memory of this process, for the table beside the peers' peak RSS. Writing
 * random weights holds a whole model in memory for a moment, which no real run does, so those
 * moments are cut out: the peak before each write is kept, and the kernel's high-water mark is
 * reset after it (clear_refs 5, Linux ≥ 4.0). Where that is refused the figure includes them. */
static double rss_peak_kib;

static double
rss_high_water_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;
  struct rusage usage;

  if (g_file_get_contents ("/proc/self/status", &status, NULL, NULL) &&
      (line = strstr (status, "VmHWM:")) != NULL)
    return g_ascii_strtod (line + strlen ("VmHWM:"), NULL);
  if (getrusage (RUSAGE_SELF, &usage) != 0)
    return -1;
  return usage.ru_maxrss;
}

static void
rss_keep_peak (void)
{
  rss_peak_kib = MAX (rss_peak_kib, rss_high_water_kib ());
}

static void
rss_reset_peak (void)
{
  g_file_set_contents ("/proc/self/clear_refs", "5", 1, NULL);
}

static double
peak_rss_mib (void)
{
  return MAX (rss_peak_kib, rss_high_water_kib ()) / 1024.0;
}

/* Loads a module from @model, or from random SD1.5 weights (@specs) written to a temporary file
 * and deleted once uploaded. */
static gpointer
load_module (LkStream        *stream,
             const char      *model,
             GArray          *specs,
             LoadFunc         load,
             GDestroyNotify   free_func,
             GError         **error)
{
  gpointer module = NULL;

  if (model != NULL)
    {
      g_autoptr(LkModelFiles) files = lk_model_files_open (model, NULL, error);

      if (files == NULL)
        return NULL;
      module = load (stream, NULL, files, error);
    }
  else
    {
      g_autofree char *dir = g_dir_make_tmp ("likeness-bench-XXXXXX", error);
      g_autofree char *path = NULL;
      g_autoptr(LkWeights) weights = NULL;
      gint64 start = g_get_monotonic_time ();

      if (dir == NULL)
        return NULL;
      path = g_build_filename (dir, "random.safetensors", NULL);
      rss_keep_peak ();
      if (write_random (path, specs, error))
        weights = lk_safetensors_open (path, error);
      rss_reset_peak ();
      if (weights != NULL)
        {
          printf ("Random SD1.5 weights written to %s: %.1f s\n", dir,
                  (g_get_monotonic_time () - start) / 1e6);
          module = load (stream, weights, NULL, error);
        }
      /* The mapping may outlive the name: the file goes once its tensors are uploaded. */
      if (module != NULL && !lk_stream_finish (stream, error))
        g_clear_pointer (&module, free_func);
      g_clear_pointer (&weights, lk_weights_unref);
      g_unlink (path);
      g_rmdir (dir);
      return module;
    }
  if (module != NULL && !lk_stream_finish (stream, error))
    g_clear_pointer (&module, free_func);
  return module;
}

static void
print_memory (LkContext *context)
{
  printf ("Peak device memory: %.1f MiB; peak RSS: %.1f MiB\n",
          lk_context_get_peak_allocated_bytes (context) / (1024.0 * 1024.0), peak_rss_mib ());
}

/* UNet */

static LkTensor *
tensor_from (LkContext    *context,
             LkStream     *stream,
             guint         ndim,
             const gint64 *shape,
             const float  *data,
             GError      **error)
{
  g_autoptr(LkTensor) t = lk_tensor_new (context, LK_DTYPE_F32, ndim, shape, error);

  if (t == NULL || !lk_tensor_upload_f32 (t, stream, data, error))
    return NULL;
  return g_steal_pointer (&t);
}

/* A rank-@rank LoRA with small random factors on every Linear of the UNet's transformer blocks
 * (EasyPhoto's targets but proj_in/proj_out), as the user's face LoRA would be. */
static LkLora *
random_unet_lora (LkUnet  *unet,
                  guint    rank,
                  GError **error)
{
  static const char *const targets[] = {
    ".attn1.to_q.weight", ".attn1.to_k.weight", ".attn1.to_v.weight", ".attn1.to_out.0.weight",
    ".attn2.to_q.weight", ".attn2.to_k.weight", ".attn2.to_v.weight", ".attn2.to_out.0.weight",
    ".ff.net.0.proj.weight", ".ff.net.2.weight",
  };
  g_autoptr(LkLora) lora = lk_lora_new ();
  GHashTable *weights = lk_unet_get_weights (unet);
  g_autoptr(GRand) rand = g_rand_new_with_seed (99);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, weights);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const char *name = key;
      LkTensor *w = value;
      g_autofree float *down = NULL, *up = NULL;
      gint64 down_shape[2], up_shape[2];
      gboolean target = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (targets) && !target; i++)
        target = strstr (name, ".transformer_blocks.") != NULL && g_str_has_suffix (name, targets[i]);
      if (!target || w->ndim != 2)
        continue;
      down_shape[0] = rank, down_shape[1] = w->shape[1];
      up_shape[0] = w->shape[0], up_shape[1] = rank;
      down = g_new (float, rank * w->shape[1]);
      up = g_new (float, w->shape[0] * rank);
      for (gint64 i = 0; i < rank * w->shape[1]; i++)
        down[i] = g_rand_double_range (rand, -0.05, 0.05);
      for (gint64 i = 0; i < w->shape[0] * rank; i++)
        up[i] = g_rand_double_range (rand, -0.01, 0.01);
      if (!lk_lora_add (lora, name, rank / 2.0f, 2, down_shape, down, 2, up_shape, up, error))
        return NULL;
    }
  return g_steal_pointer (&lora);
}

static int
bench_unet (int         size,
            int         steps,
            const char *model,
            int         n_controlnets,
            gboolean    with_lora)
{
  /* Multiply-adds count two; DESIGN.md §5: one SD1.5 UNet forward at batch 1. */
  const double gflop_per_forward = size == 512 ? 803 : 180;
  const gint64 batch = 2, latent = size / 8, n_ctx = 77;
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) context = lk_context_new (NULL, LK_CONTEXT_FLAGS_NONE, &error);
  g_autoptr(LkStream) stream = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = g_date_time_format (now, "%Y-%m-%d %H:%M UTC");
  g_autoptr(LkUnet) unet = NULL;
  g_autoptr(LkTensor) x = NULL, t = NULL, ctx = NULL;
  g_autofree float *x_data = NULL, *ctx_data = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (1234);
  const LkDeviceInfo *info;
  const LkUnetConfig *config;
  const float timesteps[] = { 500.0f, 500.0f };
  const gboolean conditional[2] = { TRUE, FALSE };
  g_autoptr(LkLoraMerge) merge = NULL;
  g_autoptr(GPtrArray) nets = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_controlnet_unref);
  g_autoptr(LkTensor) hint = NULL;
  LkControlUnit units[4];
  gint64 x_shape[4], t_shape[1] = { batch }, ctx_shape[3];
  gsize n_x, n_c;
  double total = 0, best = G_MAXDOUBLE;
  gint64 start;

  if (context == NULL)
    return lk_cli_fail ("%s", error->message);
  stream = lk_stream_new (context, &error);
  if (stream == NULL)
    return lk_cli_fail ("%s", error->message);
  info = lk_context_get_info (context);

  printf ("likeness-cli bench unet — %s\n", date);
  printf ("Device: %s (%s), driver %s\n", info->name, lk_device_type_to_string (info->type), info->driver);
  fflush (stdout);
  start = g_get_monotonic_time ();
  {
    g_autoptr(GArray) specs = unet_specs ();

    unet = load_module (stream, model, specs, load_unet_cb, (GDestroyNotify) lk_unet_unref, &error);
  }
  if (unet == NULL)
    return lk_cli_fail ("bench: %s", error->message);
  config = lk_unet_get_config (unet);
  printf ("UNet: %s, loaded and uploaded in %.1f s\n", model ? model : "random SD1.5 weights",
          (g_get_monotonic_time () - start) / 1e6);
  printf ("Image %d×%d (latent %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT "), batch %" G_GINT64_FORMAT
          " (CFG), context %" G_GINT64_FORMAT "×%u; weights f16, matmul inputs f16, residual "
          "stream f32\n",
          size, size, latent, latent, batch, n_ctx, config->context_dim);
  fflush (stdout);

  x_shape[0] = batch, x_shape[1] = config->in_channels, x_shape[2] = latent, x_shape[3] = latent;
  ctx_shape[0] = batch, ctx_shape[1] = n_ctx, ctx_shape[2] = config->context_dim;
  n_x = (gsize) batch * config->in_channels * latent * latent;
  n_c = (gsize) batch * n_ctx * config->context_dim;
  x_data = g_new (float, n_x);
  ctx_data = g_new (float, n_c);
  for (gsize i = 0; i < n_x; i++)
    x_data[i] = g_rand_double_range (rand, -1.5, 1.5);
  for (gsize i = 0; i < n_c; i++)
    ctx_data[i] = g_rand_double_range (rand, -2, 2);
  x = tensor_from (context, stream, 4, x_shape, x_data, &error);
  t = x ? tensor_from (context, stream, 1, t_shape, timesteps, &error) : NULL;
  ctx = t ? tensor_from (context, stream, 3, ctx_shape, ctx_data, &error) : NULL;
  if (ctx == NULL || !lk_stream_finish (stream, &error))
    return lk_cli_fail ("bench: %s", error->message);

  if (with_lora)
    {
      g_autoptr(LkLora) lora = random_unet_lora (unet, 128, &error);

      start = g_get_monotonic_time ();
      if (lora == NULL ||
          (merge = lk_lora_merge (stream, lk_unet_get_weights (unet), &lora, (float[]) { 0.9f }, 1,
                                  &error)) == NULL ||
          !lk_stream_finish (stream, &error))
        return lk_cli_fail ("bench: %s", error->message);
      printf ("LoRA rank 128 on %u Linear weights merged in %.2f s (once per generation, not per "
              "step)\n", lk_lora_get_n_adapters (lora), (g_get_monotonic_time () - start) / 1e6);
    }
  if (n_controlnets > 0)
    {
      g_autofree guint8 *rgb = g_malloc ((gsize) size * size * 3);

      for (gsize i = 0; i < (gsize) size * size * 3; i++)
        rgb[i] = g_rand_int_range (rand, 0, 256);
      hint = lk_controlnet_prepare_hint (stream, rgb, size, size, (gsize) size * 3, size, size,
                                         &error);
      if (hint == NULL)
        return lk_cli_fail ("bench: %s", error->message);
    }
  for (int i = 0; i < n_controlnets; i++)
    {
      g_autoptr(GArray) specs = controlnet_specs ();
      LkControlNet *net;

      start = g_get_monotonic_time ();
      net = load_module (stream, NULL, specs, load_controlnet_cb,
                         (GDestroyNotify) lk_controlnet_unref, &error);
      if (net == NULL)
        return lk_cli_fail ("bench: %s", error->message);
      g_ptr_array_add (nets, net);
      units[i] = (LkControlUnit) { net, hint, 1.0f, 0.0f, 1.0f, LK_CONTROL_MODE_BALANCED };
      printf ("ControlNet %d (random SD1.5 weights) loaded in %.1f s\n", i + 1,
              (g_get_monotonic_time () - start) / 1e6);
    }
  fflush (stdout);

  for (int i = -1; i < steps; i++)
    {
      g_autoptr(LkTensor) eps = NULL;
      double seconds;

      start = g_get_monotonic_time ();
      if (n_controlnets > 0)
        {
          LkUnetResiduals residuals = { { NULL } };

          if (lk_control_units_apply (units, n_controlnets, stream, x, t, ctx, conditional, 0.5f,
                                      &residuals, &error))
            eps = lk_unet_forward_with_residuals (unet, stream, x, t, ctx, &residuals, &error);
          lk_unet_residuals_clear (&residuals);
        }
      else
        eps = lk_unet_forward (unet, stream, x, t, ctx, &error);
      if (eps == NULL || !lk_stream_finish (stream, &error))
        return lk_cli_fail ("bench: %s", error->message);
      seconds = (g_get_monotonic_time () - start) / 1e6;
      if (i < 0)
        printf ("warm-up:  %8.2f s\n", seconds);
      else
        {
          printf ("step %-3d  %8.2f s  %8.1f GFLOP/s\n", i + 1, seconds,
                  gflop_per_forward * batch / seconds);
          total += seconds;
          best = MIN (best, seconds);
        }
      fflush (stdout);
    }

  if (n_controlnets > 0)
    printf ("\nMean %.2f s/step (best %.2f) with %d ControlNets%s (GFLOP/s above count the UNet "
            "only)\n", total / steps, best, n_controlnets, with_lora ? " and a merged LoRA" : "");
  else
    printf ("\nMean %.2f s/step (best %.2f)%s, %.1f GFLOP/s (%.0f GFLOP per step: %.0f per forward "
            "× batch %" G_GINT64_FORMAT ")\n",
            total / steps, best, with_lora ? " with a merged LoRA" : "",
            gflop_per_forward * batch / (total / steps), gflop_per_forward * batch,
            gflop_per_forward, batch);
  print_memory (context);
  return 0;
}

/* Shared set-up of the module benchmarks. */
static gboolean
bench_open (const char  *what,
            LkContext  **context,
            LkStream   **stream,
            GError     **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = g_date_time_format (now, "%Y-%m-%d %H:%M UTC");
  const LkDeviceInfo *info;

  if ((*context = lk_context_new (NULL, LK_CONTEXT_FLAGS_NONE, error)) == NULL ||
      (*stream = lk_stream_new (*context, error)) == NULL)
    return FALSE;
  info = lk_context_get_info (*context);
  printf ("likeness-cli bench %s — %s\n", what, date);
  printf ("Device: %s (%s), driver %s\n", info->name, lk_device_type_to_string (info->type),
          info->driver);
  fflush (stdout);
  return TRUE;
}

/* Times @runs calls of @run after a warm-up; prints each and the mean. */
typedef LkTensor *(*ModuleRunFunc) (gpointer   data,
                                    GError   **error);

static gboolean
time_module (LkStream       *stream,
             ModuleRunFunc   run,
             gpointer        data,
             int             runs,
             double          gflop,
             const char     *unit,
             GError        **error)
{
  double total = 0, best = G_MAXDOUBLE;

  for (int i = -1; i < runs; i++)
    {
      gint64 start = g_get_monotonic_time ();
      g_autoptr(LkTensor) out = run (data, error);
      double seconds;

      if (out == NULL || !lk_stream_finish (stream, error))
        return FALSE;
      seconds = (g_get_monotonic_time () - start) / 1e6;
      if (i < 0)
        printf ("warm-up:  %8.2f s\n", seconds);
      else
        {
          printf ("%s %-3d %8.2f s  %8.1f GFLOP/s\n", unit, i + 1, seconds, gflop / seconds);
          total += seconds;
          best = MIN (best, seconds);
        }
      fflush (stdout);
    }
  printf ("\nMean %.2f s/%s (best %.2f), %.1f GFLOP/s (%.0f GFLOP per %s)\n", total / runs, unit,
          best, gflop / (total / runs), gflop, unit);
  return TRUE;
}

typedef struct
{
  LkVae     *vae;
  LkStream  *stream;
  LkTensor  *latent;
} VaeRun;

static LkTensor *
vae_decode_cb (gpointer   data,
               GError   **error)
{
  VaeRun *run = data;

  return lk_vae_decode (run->vae, run->stream, run->latent, error);
}

static int
bench_vae (int         size,
           int         runs,
           const char *model)
{
  /* DESIGN.md §5: 2.5 TFLOP per decode at 512², proportional to the pixels. */
  const double gflop = 2500.0 * size * size / (512.0 * 512.0);
  const gint64 latent = size / 8;
  gint64 shape[4] = { 1, 4, latent, latent };
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) context = NULL;
  g_autoptr(LkStream) stream = NULL;
  g_autoptr(LkVae) vae = NULL;
  g_autoptr(LkTensor) x = NULL;
  g_autofree float *data = g_new (float, 4 * latent * latent);
  g_autoptr(GRand) rand = g_rand_new_with_seed (4321);
  g_autoptr(GArray) specs = vae_specs ();
  LkVaeTiling tiling;
  VaeRun run;
  gint64 start;

  if (!bench_open ("vae", &context, &stream, &error))
    return lk_cli_fail ("bench: %s", error->message);
  start = g_get_monotonic_time ();
  vae = load_module (stream, model, specs, load_vae_cb, (GDestroyNotify) lk_vae_unref, &error);
  if (vae == NULL)
    return lk_cli_fail ("bench: %s", error->message);
  lk_vae_get_tiling (vae, &tiling);
  printf ("VAE: %s, loaded and uploaded in %.1f s\n", model ? model : "random SD1.5 weights",
          (g_get_monotonic_time () - start) / 1e6);
  printf ("Decode of a %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT " latent to %d×%d, batch 1, %s; "
          "weights f16, conv inputs f16, residual stream f32\n", latent, latent, size, size,
          latent * latent > tiling.max_area ? "tiled" : "untiled");
  for (gint64 i = 0; i < 4 * latent * latent; i++)
    data[i] = g_rand_double_range (rand, -3, 3);
  x = lk_tensor_new (context, LK_DTYPE_F32, 4, shape, &error);
  if (x == NULL || !lk_tensor_upload_f32 (x, stream, data, &error))
    return lk_cli_fail ("bench: %s", error->message);
  run = (VaeRun) { vae, stream, x };
  if (!time_module (stream, vae_decode_cb, &run, runs, gflop, "decode", &error))
    return lk_cli_fail ("bench: %s", error->message);
  print_memory (context);
  return 0;
}

typedef struct
{
  LkClipTextModel  *model;
  LkStream         *stream;
  gint32           *ids;
} ClipRun;

static LkTensor *
clip_forward_cb (gpointer   data,
                 GError   **error)
{
  ClipRun *run = data;

  return lk_clip_text_model_forward (run->model, run->stream, run->ids, 2, 1, error);
}

static int
bench_clip (int         runs,
            const char *model)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) context = NULL;
  g_autoptr(LkStream) stream = NULL;
  g_autoptr(LkClipTextModel) clip = NULL;
  g_autoptr(GArray) specs = clip_specs ();
  gint32 ids[2 * LK_CLIP_CONTEXT];
  double gflop;
  guint width, layers, mlp;
  ClipRun run;
  gint64 start;

  if (!bench_open ("clip", &context, &stream, &error))
    return lk_cli_fail ("bench: %s", error->message);
  start = g_get_monotonic_time ();
  clip = load_module (stream, model, specs, load_clip_cb,
                      (GDestroyNotify) lk_clip_text_model_unref, &error);
  if (clip == NULL)
    return lk_cli_fail ("bench: %s", error->message);
  width = lk_clip_text_model_get_width (clip);
  layers = lk_clip_text_model_get_n_layers (clip);
  mlp = 4 * width;
  /* Per token and layer: q, k, v, out (4·w²) and the MLP (2·w·mlp) multiply-adds, plus the
   * attention's 2·77·w; two FLOPs each, 77 tokens, batch 2. */
  gflop = 2.0 * 2 * LK_CLIP_CONTEXT * layers *
          (4.0 * width * width + 2.0 * width * mlp + 2.0 * LK_CLIP_CONTEXT * width) / 1e9;
  printf ("Text encoder: %s (%u wide, %u layers), loaded and uploaded in %.1f s\n",
          model ? model : "random SD1.5 weights", width, layers,
          (g_get_monotonic_time () - start) / 1e6);
  printf ("Forward of a prompt and a negative prompt (batch 2 × %d tokens); weights f16, "
          "activations f32\n", LK_CLIP_CONTEXT);
  /* A plausible prompt's ids: start, some words, end and padding. */
  for (guint b = 0; b < 2; b++)
    for (guint i = 0; i < LK_CLIP_CONTEXT; i++)
      ids[b * LK_CLIP_CONTEXT + i] = i == 0 ? LK_CLIP_START_TOKEN
                                     : i < 12 + 5 * b ? 320 + 97 * i + b : LK_CLIP_END_TOKEN;
  run = (ClipRun) { clip, stream, ids };
  if (!time_module (stream, clip_forward_cb, &run, runs, gflop, "forward", &error))
    return lk_cli_fail ("bench: %s", error->message);
  print_memory (context);
  return 0;
}

int
lk_cli_bench (int    argc,
              char **argv)
{
  g_autofree char *filter = NULL;
  g_autofree char *dtype = NULL;
  g_autofree char *model = NULL;
  double min_seconds = 0.5;
  int size = 256, steps = 0, controlnets = 0;
  gboolean lora = FALSE;
  GOptionEntry entries[] = {
    { "filter", 'f', 0, G_OPTION_ARG_STRING, &filter, "ops: only ops whose name contains TEXT", "TEXT" },
    { "dtype", 0, 0, G_OPTION_ARG_STRING, &dtype, "ops: activation type, f16 (default) or f32", "TYPE" },
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &min_seconds, "ops: time each op for at least this long (0.5)", "S" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "unet, vae: image size, 256 (default) or 512", "PX" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "unet, vae, clip: timed runs after the warm-up (unet 2 at 256, 1 at 512; vae 2; clip 3)", "N" },
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model, "unet, vae, clip: a checkpoint to load (default: random SD1.5 weights)", "CKPT" },
    { "controlnets", 0, 0, G_OPTION_ARG_INT, &controlnets, "unet: also run N ControlNets (random SD1.5 weights) each step, 0–4", "N" },
    { "lora", 0, 0, G_OPTION_ARG_NONE, &lora, "unet: merge a rank-128 LoRA first (its merge time is reported apart)", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("ops|unet|vae|clip — time the engine's ops at SD1.5 shapes, or whole UNet "
                          "steps, VAE decodes and text encoder forwards");
  g_autoptr(GError) error = NULL;

  if (argc >= 2 && strcmp (argv[1], "train") == 0)
    return lk_cli_bench_train (argc - 1, argv + 1);
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("%s", error->message);
  if (argc >= 2 && strcmp (argv[1], "ops") == 0)
    return bench_ops (filter, dtype ? dtype : "f16", MAX (min_seconds, 0.01));
  if (argc >= 2 && strcmp (argv[1], "vae") == 0)
    {
      if (size != 256 && size != 512)
        return lk_cli_fail ("bench: --size is 256 or 512, not %d", size);
      return bench_vae (size, steps > 0 ? steps : 2, model);
    }
  if (argc >= 2 && strcmp (argv[1], "clip") == 0)
    return bench_clip (steps > 0 ? steps : 3, model);
  if (argc >= 2 && strcmp (argv[1], "unet") == 0)
    {
      if (size != 256 && size != 512)
        return lk_cli_fail ("bench: --size is 256 or 512, not %d", size);
      if (steps < 0)
        return lk_cli_fail ("bench: --steps must be at least 1");
      if (steps == 0)
        steps = size == 512 ? 1 : 2;
      if (controlnets < 0 || controlnets > 4)
        return lk_cli_fail ("bench: --controlnets is 0 to 4, not %d", controlnets);
      return bench_unet (size, steps, model, controlnets, lora);
    }
  return lk_cli_fail ("bench: say what to benchmark: “likeness-cli bench ops”, “bench unet”, "
                      "“bench vae” or “bench clip”");
}
