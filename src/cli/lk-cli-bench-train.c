/* lk-cli-bench-train.c: likeness-cli bench train
 *
 * Times LoRA training steps of the SD1.5 UNet at batch 1 — one micro-batch's forward and
 * backward through every block plus the clipped AdamW update of every LoRA parameter — with
 * gradient checkpointing and without, after a warm-up step that compiles the pipelines, and
 * prints the peak device memory of each (the UNet's f16 weights included) and what EasyPhoto's
 * 800 steps × accumulation 4 (3200 micro-batches) would take. The text encoder's LoRA, which
 * EasyPhoto trains too, is left out: its share of the work is small and said. The UNet has a
 * checkpoint's weights or random ones of SD1.5's configuration; --tiny takes the tests'
 * 32-channel UNet, so the command is quick even on lavapipe.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lk-cli.h"
#include "lk-half.h"
#include "lk-safetensors.h"
#include "lk-unet-train.h"

#define EASYPHOTO_MICRO_BATCHES (800 * 4)

/* Random f16 weights of @config, written to a temporary file, loaded and the file deleted. */
static LkUnet *
random_unet (LkStream            *stream,
             const LkUnetConfig  *config,
             GError             **error)
{
  g_autoptr(GArray) specs = lk_unet_config_list_tensors (config);
  g_autoptr(GArray) entries = g_array_new (FALSE, FALSE, sizeof (LkSafetensorsEntry));
  g_autoptr(GPtrArray) data = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(LkWeights) weights = NULL;
  g_autofree char *dir = g_dir_make_tmp ("likeness-bench-train-XXXXXX", error);
  g_autofree char *path = NULL;
  guint64 state = 0x9e3779b97f4a7c15ull;
  LkUnet *unet = NULL;

  if (dir == NULL)
    return NULL;
  path = g_build_filename (dir, "unet.safetensors", NULL);
  for (guint i = 0; i < specs->len; i++)
    {
      LkUnetTensorSpec *spec = &g_array_index (specs, LkUnetTensorSpec, i);
      LkSafetensorsEntry entry = { spec->name, LK_WEIGHT_F16, spec->ndim, spec->shape, NULL };
      gint64 numel = 1;
      guint16 *halves;

      for (guint d = 0; d < spec->ndim; d++)
        numel *= spec->shape[d];
      /* The variance-keeping scale of the fan-in, norms 1 ± 0.2, biases ± 0.1. */
      if (spec->role == LK_UNET_TENSOR_WEIGHT)
        halves = lk_halves_uniform (numel, 0, sqrtf (3.0f * spec->shape[0] / numel), &state);
      else if (spec->role == LK_UNET_TENSOR_NORM_WEIGHT)
        halves = lk_halves_uniform (numel, 1, 0.2f, &state);
      else
        halves = lk_halves_uniform (numel, 0, 0.1f, &state);
      entry.data = halves;
      g_ptr_array_add (data, halves);
      g_array_append_val (entries, entry);
    }
  if (lk_safetensors_write (path, (LkSafetensorsEntry *) entries->data, entries->len, NULL,
                            error) &&
      (weights = lk_safetensors_open (path, error)) != NULL &&
      (unet = lk_unet_new (stream, weights, error)) != NULL &&
      !lk_stream_finish (stream, error))
    g_clear_pointer (&unet, lk_unet_unref);
  g_clear_pointer (&weights, lk_weights_unref);
  g_unlink (path);
  g_rmdir (dir);
  return unet;
}

static LkTensor *
random_tensor (LkStream      *stream,
               guint          ndim,
               const gint64  *shape,
               float          amplitude,
               GRand         *rand,
               GError       **error)
{
  g_autoptr(LkTensor) t = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F32, ndim,
                                         shape, error);
  g_autofree float *data = NULL;
  gint64 n;

  if (t == NULL)
    return NULL;
  n = lk_tensor_numel (t);
  data = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    data[i] = g_rand_double_range (rand, -amplitude, amplitude);
  if (!lk_tensor_upload_f32 (t, stream, data, error))
    return NULL;
  return g_steal_pointer (&t);
}

typedef struct
{
  double   mean, best;
  guint64  peak;
} Timing;

/* A warm-up step, then @steps timed ones, with a fresh LoRA. */
static gboolean
time_steps (LkStream                 *stream,
            LkUnet                   *unet,
            const LkUnetTrainOptions *options,
            LkTensor                 *x0,
            LkTensor                 *context,
            int                       steps,
            Timing                   *timing,
            GError                  **error)
{
  LkContext *ctx = lk_stream_get_context (stream);
  g_autoptr(LkUnetTrainer) trainer = NULL;
  double total = 0;

  timing->best = G_MAXDOUBLE;
  lk_context_reset_peak_allocated_bytes (ctx);
  if ((trainer = lk_unet_trainer_new (stream, unet, options, error)) == NULL ||
      !lk_stream_finish (stream, error))
    return FALSE;
  for (int i = -1; i < steps; i++)
    {
      gint64 start = g_get_monotonic_time ();
      double loss, seconds;

      if (!lk_unet_train_step (trainer, stream, 1, &x0, &context, &loss, error) ||
          !lk_stream_finish (stream, error))
        return FALSE;
      seconds = (g_get_monotonic_time () - start) / 1e6;
      if (i < 0)
        printf ("  warm-up:  %8.2f s  (loss %.4f)\n", seconds, loss);
      else
        {
          printf ("  step %-3d  %8.2f s  (loss %.4f)\n", i + 1, seconds, loss);
          total += seconds;
          timing->best = MIN (timing->best, seconds);
        }
      fflush (stdout);
    }
  timing->mean = total / steps;
  timing->peak = lk_context_get_peak_allocated_bytes (ctx);
  return TRUE;
}

static char *
format_duration (double seconds)
{
  if (seconds < 120)
    return g_strdup_printf ("%.0f s", seconds);
  if (seconds < 2 * 3600)
    return g_strdup_printf ("%.1f min", seconds / 60);
  return g_strdup_printf ("%.1f h", seconds / 3600);
}

int
lk_cli_bench_train (int    argc,
                    char **argv)
{
  int size = 512, rank = 128, steps = 0;
  g_autofree char *model = NULL, *which = NULL;
  gboolean tiny = FALSE;
  GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "Training image size, a multiple of 64 (512; 256, or 64 with --tiny)", "PX" },
    { "rank", 0, 0, G_OPTION_ARG_INT, &rank, "LoRA rank (128)", "R" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Timed steps after the warm-up (1 at 512, 2 at 256, 3 below)", "N" },
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model, "A checkpoint's UNet (default: random SD1.5 weights)", "CKPT" },
    { "checkpointing", 0, 0, G_OPTION_ARG_STRING, &which, "Gradient checkpointing: both (default), on or off", "WHICH" },
    { "tiny", 0, 0, G_OPTION_ARG_NONE, &tiny, "The tests' tiny UNet (32 channels, 64-wide context) instead of SD1.5's", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("— time LoRA training steps of the SD1.5 UNet");
  g_autoptr(GError) error = NULL;
  g_autoptr(LkContext) context = NULL;
  g_autoptr(LkStream) stream = NULL;
  g_autoptr(LkUnet) unet = NULL;
  g_autoptr(LkTensor) x0 = NULL, ctx = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (1234);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = g_date_time_format (now, "%Y-%m-%d %H:%M UTC");
  LkUnetTrainOptions train = LK_UNET_TRAIN_OPTIONS_DEFAULT;
  const LkDeviceInfo *info;
  const LkUnetConfig *config;
  const LkUnetConfig tiny_config = { 4, 4, 32, 64 };
  gboolean modes[2] = { TRUE, TRUE };  /* with, without checkpointing */
  Timing timings[2] = { { 0 } };
  gint64 start;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("bench train: %s", error->message);
  if (argc > 1)
    return lk_cli_fail ("bench train: unexpected argument “%s”", argv[1]);
  if (size < 64 || size > 1024 || size % 64 != 0)
    return lk_cli_fail ("bench train: --size is a multiple of 64 from 64 to 1024, not %d", size);
  if (rank < 1 || rank > 1024)
    return lk_cli_fail ("bench train: --rank is 1 to 1024, not %d", rank);
  if (steps < 0)
    return lk_cli_fail ("bench train: --steps must be at least 1");
  if (tiny && model != NULL)
    return lk_cli_fail ("bench train: --tiny and --model exclude each other");
  if (which != NULL && strcmp (which, "both") != 0)
    {
      if (strcmp (which, "on") == 0)
        modes[1] = FALSE;
      else if (strcmp (which, "off") == 0)
        modes[0] = FALSE;
      else
        return lk_cli_fail ("bench train: --checkpointing is both, on or off, not “%s”", which);
    }
  if (steps == 0)
    steps = size >= 512 ? 1 : size >= 256 ? 2 : 3;

  if ((context = lk_context_new (NULL, LK_CONTEXT_FLAGS_NONE, &error)) == NULL ||
      (stream = lk_stream_new (context, &error)) == NULL)
    return lk_cli_fail ("bench train: %s", error->message);
  info = lk_context_get_info (context);
  printf ("likeness-cli bench train — %s\n", date);
  printf ("Device: %s (%s), driver %s\n", info->name, lk_device_type_to_string (info->type),
          info->driver);
  fflush (stdout);

  start = g_get_monotonic_time ();
  if (model != NULL)
    {
      g_autoptr(LkModelFiles) files = lk_model_files_open (model, NULL, &error);

      if (files != NULL && (unet = lk_unet_new_from_model_files (stream, files, &error)) != NULL &&
          !lk_stream_finish (stream, &error))
        g_clear_pointer (&unet, lk_unet_unref);
    }
  else
    unet = random_unet (stream, tiny ? &tiny_config : &LK_UNET_CONFIG_SD1, &error);
  if (unet == NULL)
    return lk_cli_fail ("bench train: %s", error->message);
  config = lk_unet_get_config (unet);
  printf ("UNet: %s (%u model channels), loaded in %.1f s\n",
          model != NULL ? model : tiny ? "random weights, the tests' tiny configuration"
                                       : "random SD1.5 weights",
          config->model_channels, (g_get_monotonic_time () - start) / 1e6);
  if (config->in_channels != 4)
    return lk_cli_fail ("bench train: %s has a %u-channel UNet; LoRA training takes a 4-channel "
                        "one", model, config->in_channels);
  printf ("LoRA rank %d (alpha %d) on every UNet transformer target; batch 1 at %d×%d (latent "
          "%d×%d), context 77×%u; weights f16, activations f32\n",
          rank, rank / 2, size, size, size / 8, size / 8, config->context_dim);
  /* CLIP's forward and backward of 77 tokens: ~60 GFLOP beside the UNet's ~2.4 TFLOP at 512². */
  printf ("(The UNet alone: training the text encoder too adds its forward and backward, about "
          "%.0f %% more work at this size.)\n",
          100.0 * 60 / (3 * 803.0 * size * size / (512 * 512)));
  fflush (stdout);

  x0 = random_tensor (stream, 4, (gint64[]) { 1, 4, size / 8, size / 8 }, 1.0f, rand, &error);
  ctx = x0 ? random_tensor (stream, 3, (gint64[]) { 1, 77, config->context_dim }, 2.0f, rand,
                            &error) : NULL;
  if (ctx == NULL || !lk_stream_finish (stream, &error))
    return lk_cli_fail ("bench train: %s", error->message);

  train.rank = rank;
  train.alpha = rank / 2.0f;
  train.seed = 7;
  for (guint m = 0; m < 2; m++)
    {
      if (!modes[m])
        continue;
      train.checkpointing = m == 0;
      printf ("%s gradient checkpointing:\n", m == 0 ? "With" : "Without");
      fflush (stdout);
      if (!time_steps (stream, unet, &train, x0, ctx, steps, &timings[m], &error))
        return lk_cli_fail ("bench train: %s%s", error->message,
                            m == 1 ? " (without gradient checkpointing; --checkpointing on "
                                     "measures with it only)" : "");
    }

  printf ("\n");
  for (guint m = 0; m < 2; m++)
    if (modes[m])
      {
        g_autofree char *easyphoto = format_duration (timings[m].mean * EASYPHOTO_MICRO_BATCHES);

        printf ("%-27s %.2f s/step (best %.2f), peak device memory %.1f MiB; EasyPhoto's 800 "
                "steps × accumulation 4: %s\n",
                m == 0 ? "With gradient checkpointing:" : "Without:", timings[m].mean,
                timings[m].best, timings[m].peak / (1024.0 * 1024.0), easyphoto);
      }
  return 0;
}
