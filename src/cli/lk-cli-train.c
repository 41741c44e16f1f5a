/* lk-cli-train.c: likeness-cli train-lora
 *
 * Trains a LoRA on photos with EasyPhoto's defaults (lk-lora-train-job.h) and writes it as a
 * kohya safetensors file. Training runs on a worker thread while the main loop prints progress
 * and waits for Ctrl-C, which stops the training after the current micro-batch, writes a
 * checkpoint and says where; --resume continues from it.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib-unix.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "lk-cli.h"
#include "lk-lora-train-job.h"

typedef struct
{
  GMainLoop      *loop;
  GCancellable   *cancellable;
  gboolean        tty;
  gboolean        done;
  gboolean        ok;
  GError         *error;
  gint64          start;
  double          first_seconds; /* the run's first step, which compiles the pipelines */
  double          step_seconds;  /* the sum over the others */
  guint64         steps_seen;
  gboolean        line_open;     /* a \r progress line awaits its newline */
  guint           interrupts;
} Training;

static char *
format_duration (double seconds)
{
  if (seconds < 60)
    return g_strdup_printf ("%.0f s", seconds);
  if (seconds < 3600)
    return g_strdup_printf ("%.0f min %02.0f s", floor (seconds / 60), fmod (seconds, 60));
  return g_strdup_printf ("%.0f h %02.0f min", floor (seconds / 3600),
                          floor (fmod (seconds, 3600) / 60));
}

/* Seconds per step, the first left out once there are others. */
static double
mean_seconds (const Training *training)
{
  if (training->steps_seen > 1)
    return training->step_seconds / (training->steps_seen - 1);
  return training->first_seconds;
}

static void
end_line (Training *training)
{
  if (training->line_open)
    fputc ('\n', stderr);
  training->line_open = FALSE;
}

static void
progress_cb (const LkLoraTrainProgress *p,
             gpointer                   user_data)
{
  Training *training = user_data;
  g_autofree char *eta = NULL;
  double mean;

  if (p->message != NULL)
    {
      end_line (training);
      fprintf (stderr, "%s\n", p->message);
      return;
    }
  if (!p->step_done)
    return;
  if (training->steps_seen++ == 0)
    training->first_seconds = p->seconds_per_step;
  else
    training->step_seconds += p->seconds_per_step;
  mean = mean_seconds (training);
  eta = format_duration (mean * (p->n_steps - p->step));
  fprintf (stderr, "%sstep %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "  loss %.4f  %.2f s/step  "
           "ETA %s  peak %.0f MiB%s", training->tty ? "\r" : "", p->step, p->n_steps, p->loss,
           p->seconds_per_step, eta, p->peak_device_bytes / (1024.0 * 1024.0),
           training->tty ? "   " : "\n");
  training->line_open = training->tty;
  if (p->checkpoint != NULL)
    {
      end_line (training);
      fprintf (stderr, "checkpoint written to %s\n", p->checkpoint);
    }
  fflush (stderr);
}

static gboolean
sigint_cb (gpointer user_data)
{
  Training *training = user_data;

  end_line (training);
  if (training->interrupts++ == 0)
    {
      fprintf (stderr, "interrupted: stopping after this micro-batch and writing a checkpoint "
               "(Ctrl-C again to quit without one)\n");
      g_cancellable_cancel (training->cancellable);
      return G_SOURCE_CONTINUE;
    }
  fprintf (stderr, "interrupted again: quitting without a checkpoint\n");
  _exit (130);
}

static void
trained_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Training *training = user_data;

  training->ok = lk_lora_train_job_run_finish (LK_LORA_TRAIN_JOB (source), result,
                                               &training->error);
  training->done = TRUE;
  g_main_loop_quit (training->loop);
}

/* --images: folders (their photos) and files, in the order given. */
static GPtrArray *
collect_images (char   **specs,
                GError **error)
{
  g_autoptr(GPtrArray) images = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; specs[i] != NULL; i++)
    {
      g_autoptr(GPtrArray) found = NULL, skipped = NULL;

      if (!g_file_test (specs[i], G_FILE_TEST_IS_DIR))
        {
          if (!g_file_test (specs[i], G_FILE_TEST_EXISTS))
            {
              g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file or folder",
                           specs[i]);
              return NULL;
            }
          g_ptr_array_add (images, g_strdup (specs[i]));
          continue;
        }
      if ((found = lk_lora_train_list_images (specs[i], &skipped, error)) == NULL)
        return NULL;
      for (guint k = 0; k < skipped->len; k++)
        fprintf (stderr, "%s: skipping %s (not a photo)\n", specs[i],
                 (const char *) g_ptr_array_index (skipped, k));
      for (guint k = 0; k < found->len; k++)
        g_ptr_array_add (images, g_strdup (g_ptr_array_index (found, k)));
    }
  g_ptr_array_add (images, NULL);
  return g_steal_pointer (&images);
}

int
lk_cli_train_lora (int    argc,
                   char **argv)
{
  LkLoraTrainOptions o = LK_LORA_TRAIN_OPTIONS_DEFAULT;
  g_autofree char *model = NULL, *vocab = NULL, *caption = NULL, *output = NULL;
  g_autofree char *resume = NULL, *checkpoint = NULL;
  g_auto(GStrv) image_specs = NULL;
  int rank = o.rank, steps = o.steps, accum = o.accumulation, batch = o.batch, size = o.size;
  int save_every = o.save_every;
  double alpha = o.alpha, lr = o.lr, te_lr = o.te_lr;
  gint64 seed = -1;
  gboolean no_checkpointing = FALSE, f16 = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "SD1.x checkpoint (.safetensors, .ckpt) or diffusers folder", "CKPT" },
    { "images", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &image_specs, "A folder of photos, or one photo (repeatable)", "DIR" },
    { "caption", 'c', 0, G_OPTION_ARG_STRING, &caption, "The caption of every photo (EasyPhoto: “easyphoto_face, easyphoto, 1person”)", "TEXT" },
    { "vocab", 0, 0, G_OPTION_ARG_FILENAME, &vocab, "CLIP vocabulary (default: the downloaded clip-vocab)", "FILE" },
    { "rank", 0, 0, G_OPTION_ARG_INT, &rank, "LoRA rank (128)", "R" },
    { "alpha", 0, 0, G_OPTION_ARG_DOUBLE, &alpha, "LoRA alpha (64)", "A" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Optimizer steps (800; EasyPhoto: min(200 × photos, 800))", "N" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "UNet learning rate (1e-4)", "LR" },
    { "te-lr", 0, 0, G_OPTION_ARG_DOUBLE, &te_lr, "Text encoder learning rate (5e-5; 0: UNet only)", "LR" },
    { "accum", 0, 0, G_OPTION_ARG_INT, &accum, "Gradient accumulation: micro-batches per step (4)", "N" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Photos per micro-batch (1)", "N" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "Training crop size, a multiple of 64 (512)", "PX" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed (default: a random one)", "S" },
    { "save-every", 0, 0, G_OPTION_ARG_INT, &save_every, "A checkpoint every N steps (100; 0: only at the end or on Ctrl-C)", "N" },
    { "no-checkpointing", 0, 0, G_OPTION_ARG_NONE, &no_checkpointing, "No gradient checkpointing: faster, more GPU memory", NULL },
    { "f16", 0, 0, G_OPTION_ARG_NONE, &f16, "f16 activations with dynamic loss scaling (EasyPhoto's fp16 mixed precision): less GPU memory", NULL },
    { "checkpoint", 0, 0, G_OPTION_ARG_FILENAME, &checkpoint, "Where training checkpoints go (default: OUT without .safetensors, plus .train-checkpoint)", "FILE" },
    { "resume", 0, 0, G_OPTION_ARG_FILENAME, &resume, "Continue from a training checkpoint (its seed is kept)", "FILE" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "The LoRA to write (kohya .safetensors)", "OUT" },
    { NULL }
  };
  g_autoptr(GOptionContext) options =
    g_option_context_new ("— train a LoRA on photos (EasyPhoto's defaults)");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(LkTokenizer) tokenizer = NULL;
  g_autoptr(LkModelFiles) files = NULL;
  g_autoptr(LkContext) context = NULL;
  g_autoptr(LkPipeline) pipeline = NULL;
  g_autoptr(LkLoraTrainJob) job = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autofree char *vocab_path = NULL, *took = NULL;
  Training training = { NULL };
  guint sigint;
  gint64 start;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    return lk_cli_fail ("train-lora: %s", error->message);
  if (argc > 1)
    return lk_cli_fail ("train-lora: unexpected argument “%s”", argv[1]);
  if (model == NULL || image_specs == NULL || output == NULL)
    return lk_cli_fail ("train-lora: --model CKPT, --images DIR and -o OUT.safetensors are "
                        "required");
  if (caption == NULL)
    return lk_cli_fail ("train-lora: --caption TEXT is required (EasyPhoto's is "
                        "“easyphoto_face, easyphoto, 1person”)");
  if (rank < 1 || steps < 1 || accum < 1 || batch < 1 || size < 1 || save_every < 0)
    return lk_cli_fail ("train-lora: --rank, --steps, --accum, --batch and --size must be at "
                        "least 1, --save-every not negative");
  o.rank = rank;
  o.alpha = alpha;
  o.steps = steps;
  o.lr = lr;
  o.te_lr = te_lr;
  o.accumulation = accum;
  o.batch = batch;
  o.size = size;
  o.seed = seed >= 0 ? (guint64) seed : g_random_int ();
  o.save_every = save_every;
  o.checkpointing = !no_checkpointing;
  o.f16_activations = f16;

  /* Everything that can be checked before the model loads is. */
  if ((images = collect_images (image_specs, &error)) == NULL)
    return lk_cli_fail ("train-lora: %s", error->message);
  if (resume != NULL && !g_file_test (resume, G_FILE_TEST_IS_REGULAR))
    return lk_cli_fail ("train-lora: --resume %s: no such checkpoint", resume);

  start = g_get_monotonic_time ();
  if ((vocab_path = lk_cli_find_vocab (vocab, &error)) == NULL ||
      (tokenizer = lk_tokenizer_new_from_file (vocab_path, &error)) == NULL ||
      (files = lk_model_files_open (model, NULL, &error)) == NULL ||
      (context = lk_context_new (NULL, LK_CONTEXT_FLAGS_NONE, &error)) == NULL ||
      (pipeline = lk_pipeline_new (context, files, tokenizer, &error)) == NULL)
    return lk_cli_fail ("train-lora: %s", error->message);
  g_clear_pointer (&files, lk_model_files_unref);
  fprintf (stderr, "%s loaded in %.1f s (%s)\n", model, (g_get_monotonic_time () - start) / 1e6,
           lk_model_kind_get_name (lk_pipeline_get_kind (pipeline)));

  if ((job = lk_lora_train_job_new (pipeline, tokenizer, (const char * const *) images->pdata,
                                    caption, &o, &error)) == NULL)
    return lk_cli_fail ("train-lora: %s", error->message);
  lk_lora_train_job_set_output (job, output);
  lk_lora_train_job_set_checkpoint (job, checkpoint);
  lk_lora_train_job_set_resume (job, resume);
  lk_lora_train_job_set_base_model (job, model);
  {
    g_autofree char *te = o.te_lr > 0 ? g_strdup_printf ("text encoder lr %g", o.te_lr)
                                      : g_strdup ("text encoder frozen");

    fprintf (stderr, "Training a rank %u (alpha %g) LoRA on %u photos at %u², %u steps × %u "
             "micro-batches of %u, UNet lr %g, %s, seed %" G_GUINT64_FORMAT "%s%s\n", o.rank,
             o.alpha, lk_lora_train_job_get_n_images (job), o.size, o.steps, o.accumulation,
             o.batch, o.lr, te, o.seed, o.checkpointing ? "" : ", no gradient checkpointing",
             o.f16_activations ? ", f16 activations" : "");
  }

  loop = g_main_loop_new (NULL, FALSE);
  cancellable = g_cancellable_new ();
  training.loop = loop;
  training.cancellable = cancellable;
  training.tty = isatty (STDERR_FILENO);
  training.start = g_get_monotonic_time ();
  lk_lora_train_job_set_progress_func (job, progress_cb, &training, NULL);
  sigint = g_unix_signal_add (SIGINT, sigint_cb, &training);
  lk_lora_train_job_run_async (job, cancellable, trained_cb, &training);
  while (!training.done)
    g_main_loop_run (loop);
  g_source_remove (sigint);
  end_line (&training);

  if (!training.ok)
    {
      gboolean cancelled = g_error_matches (training.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

      lk_cli_fail ("train-lora: %s", training.error->message);
      g_clear_error (&training.error);
      return cancelled ? 130 : 1;
    }
  took = format_duration ((g_get_monotonic_time () - training.start) / 1e6);
  printf ("%s: rank %u LoRA on %u layers, %" G_GUINT64_FORMAT " steps, %s (%.2f s/step); "
          "checkpoint %s\n", output, o.rank, lk_lora_train_job_get_n_layers (job),
          lk_lora_train_job_get_step (job), took,
          mean_seconds (&training),
          lk_lora_train_job_get_checkpoint (job));
  return 0;
}
