/* lk-lora-train-job.h: training a face LoRA on an SD1.x checkpoint, start to finish
 *
 * The job EasyPhoto runs (../shared/REFERENCE-easyphoto.md): a few photos, one caption, a LoRA of
 * rank 128 / alpha 64 on the UNet's transformer blocks and the text encoder's attention and MLP
 * (lk-sd-train.h: both trained together, or the UNet alone), AdamW at a constant learning rate
 * per network, batch 1 × accumulation 4, random crops and flips of the photos at 512². When
 * the text encoder is frozen the caption is encoded once; trained, it goes through the encoder
 * and its LoRA in every micro-batch. It writes training checkpoints (lk-train-checkpoint.h)
 * every N steps, when cancelled and at the end, from which a run resumes bit-exactly, and the
 * result as a kohya LoRA that A1111, ComfyUI and Likeness' own loader read.
 *
 * Data. Each photo is loaded once (EXIF orientation applied) and its short side resized to the
 * training size. Each sample of each micro-batch is one photo, a random size × size crop of it
 * and a random horizontal flip, as kohya and EasyPhoto's data loaders do. Which photo, crop and
 * flip depend only on the seed and the sample's number: the photos are visited in a new shuffled
 * order each epoch, and everything is drawn from Philox with the seed, so a resumed run needs
 * nothing but the step count and the seed to see the same samples. Crops are VAE-encoded (the
 * posterior's mean × 0.18215) when first seen and the latents kept on the host, up to a memory
 * budget: EasyPhoto's preprocessed photos are already square at the training size, so they have
 * one crop and two flips and every step after the first few is served from the cache; larger
 * photos have many crops, encoded as they come (the cache then only helps when one repeats).
 * The encoder is deterministic, so cached and fresh latents are the same bits.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "lk-pipeline.h"

G_BEGIN_DECLS

#define LK_TRAIN_ERROR (lk_train_error_quark ())

typedef enum
{
  LK_TRAIN_ERROR_INVALID,    /* an option out of range */
  LK_TRAIN_ERROR_NO_IMAGES,  /* no photo to train on */
  LK_TRAIN_ERROR_IMAGE,      /* a file that is not a usable image */
  LK_TRAIN_ERROR_MODEL,      /* a model that cannot be trained (not SD1.x, inpainting) */
  LK_TRAIN_ERROR_RESUME,     /* a checkpoint that does not belong to this training */
} LkTrainError;

GQuark lk_train_error_quark (void);

typedef struct
{
  guint    rank;           /* EasyPhoto: 128 */
  float    alpha;          /* 64 */
  guint    steps;          /* optimizer steps; EasyPhoto: min(200 × photos, 800) */
  double   lr;             /* UNet, 1e-4 */
  double   te_lr;          /* text encoder, 5e-5; 0 trains the UNet only */
  guint    accumulation;   /* micro-batches per optimizer step, 4 */
  guint    batch;          /* samples per micro-batch, 1 */
  guint    size;           /* crop side in pixels, a multiple of 64: 512 */
  guint64  seed;           /* LoRA initialisation, samples, noise and timesteps */
  guint    save_every;     /* a checkpoint every N steps; 0: only when cancelled and at the end */
  gboolean checkpointing;  /* gradient checkpointing (recompute each block): less memory */
  /* Activations and their gradients in f16, with dynamic loss scaling (a step whose gradients
   * overflow is skipped): EasyPhoto's fp16 mixed precision. */
  gboolean f16_activations;
} LkLoraTrainOptions;

#define LK_LORA_TRAIN_OPTIONS_DEFAULT \
  ((LkLoraTrainOptions) { 128, 64.0f, 800, 1e-4, 5e-5, 4, 1, 512, 0, 100, TRUE, FALSE })

/* What the job reports, after every micro-batch. Strings are borrowed for the call. */
typedef struct
{
  const char *message;            /* a note (a file skipped, a resumed step); the rest is 0 */
  guint64     step;               /* optimizer steps done */
  guint64     n_steps;
  guint       micro_step;         /* micro-batches done in the current step, 1 … accumulation */
  guint       accumulation;
  gboolean    step_done;          /* this micro-batch ended an optimizer step */
  double      loss;               /* ε-MSE of this micro-batch, or the step's mean when done */
  double      seconds_per_step;   /* of the step just done (step_done only) */
  guint64     peak_device_bytes;  /* since the job started, model weights included */
  const char *checkpoint;         /* the checkpoint this step wrote, or NULL */
} LkLoraTrainProgress;

typedef void (*LkLoraTrainProgressFunc) (const LkLoraTrainProgress *progress,
                                         gpointer                   user_data);

#define LK_TYPE_LORA_TRAIN_JOB (lk_lora_train_job_get_type ())
G_DECLARE_FINAL_TYPE (LkLoraTrainJob, lk_lora_train_job, LK, LORA_TRAIN_JOB, GObject)

/* The training photos of a folder, sorted by name: every file but hidden ones and captions or
 * metadata beside them (.txt, .caption, .json, .toml, .yaml), which are skipped and, when
 * @skipped is not NULL, listed there (a new array of names). Whether the others are images is
 * for lk_lora_train_job_new() to find out. LK_TRAIN_ERROR_NO_IMAGES when nothing is left. */
GPtrArray       *lk_lora_train_list_images     (const char                *dir,
                                                GPtrArray                **skipped,
                                                GError                   **error);

/* Checks the options and the model (SD1.x with a 4-channel UNet), and loads and resizes every
 * photo in @images (paths, NULL-terminated). A file that does not load as an image is an
 * LK_TRAIN_ERROR_IMAGE naming it: training on fewer photos than the user gave, silently, would
 * be worse than stopping. @pipeline's modules are used on the device, never changed; the
 * caption goes through @tokenizer (plain text: no emphasis, at most 75 tokens, as kohya). */
LkLoraTrainJob  *lk_lora_train_job_new         (LkPipeline                *pipeline,
                                                LkTokenizer               *tokenizer,
                                                const char * const        *images,
                                                const char                *caption,
                                                const LkLoraTrainOptions  *options,
                                                GError                   **error);

/* Where the LoRA goes (NULL: nowhere); where checkpoints go (default: the output's name without
 * .safetensors, plus .train-checkpoint; none without either); a checkpoint to resume from (its
 * seed is the run's; set before the job first runs or evaluates); the base model's file name for
 * ss_sd_model_name. Folders that do not exist fail the run before it trains. */
void             lk_lora_train_job_set_output      (LkLoraTrainJob *self,
                                                    const char     *path);
void             lk_lora_train_job_set_checkpoint  (LkLoraTrainJob *self,
                                                    const char     *path);
void             lk_lora_train_job_set_resume      (LkLoraTrainJob *self,
                                                    const char     *path);
void             lk_lora_train_job_set_base_model  (LkLoraTrainJob *self,
                                                    const char     *name);
void             lk_lora_train_job_set_progress_func (LkLoraTrainJob          *self,
                                                      LkLoraTrainProgressFunc  func,
                                                      gpointer                 user_data,
                                                      GDestroyNotify           destroy);

const char      *lk_lora_train_job_get_checkpoint  (LkLoraTrainJob *self);
guint64          lk_lora_train_job_get_step        (LkLoraTrainJob *self);
guint            lk_lora_train_job_get_n_images    (LkLoraTrainJob *self);
/* LoRA layers trained: UNet ones, then the text encoder's. */
guint            lk_lora_train_job_get_n_layers    (LkLoraTrainJob *self);
/* The "fraction" (0…1 of the steps) and "message" properties say the same. */
double           lk_lora_train_job_get_fraction    (LkLoraTrainJob *self);
const char      *lk_lora_train_job_get_message     (LkLoraTrainJob *self);

/* Trains up to the options' steps (from the resumed step), checking @cancellable between
 * micro-batches. Cancelled, it writes a checkpoint of the last whole step (a half-accumulated
 * step is done again on resume) and fails with G_IO_ERROR_CANCELLED, naming the checkpoint; no
 * LoRA is written. Any other failure (out of GPU memory, a full disk) also leaves no LoRA, and a
 * checkpoint of the last whole step when one can still be written. Progress goes to the
 * progress function and the properties, on the calling thread. */
gboolean         lk_lora_train_job_run             (LkLoraTrainJob  *self,
                                                    GCancellable    *cancellable,
                                                    GError         **error);
/* The same on a worker thread; progress and property notifications arrive on the thread-default
 * main context of the caller, as does @callback. */
void             lk_lora_train_job_run_async       (LkLoraTrainJob      *self,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gboolean         lk_lora_train_job_run_finish      (LkLoraTrainJob  *self,
                                                    GAsyncResult    *result,
                                                    GError         **error);

/* The ε-MSE of the LoRA as it stands on a fixed set, the same for a given @seed whatever the
 * training did: the centre crop of each photo (unflipped) at @n_timesteps timesteps spread
 * evenly over [0, 1000), each with its own noise. Not while the job runs. */
gboolean         lk_lora_train_job_evaluate        (LkLoraTrainJob  *self,
                                                    guint            n_timesteps,
                                                    guint64          seed,
                                                    double          *loss,
                                                    GError         **error);

G_END_DECLS
