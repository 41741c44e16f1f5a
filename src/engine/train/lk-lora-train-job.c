/* lk-lora-train-job.c: training a face LoRA on an SD1.x checkpoint, start to finish
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-train"

#include "config.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "lk-image-warp.h"
#include "lk-lora.h"
#include "lk-lora-train-job.h"
#include "lk-rng.h"
#include "lk-schedule.h"
#include "lk-sd-train.h"

G_DEFINE_QUARK (lk-train-error-quark, lk_train_error)

/* Host memory for cached crop latents: 4096 latents of a 512² crop. */
#define LATENT_CACHE_BYTES (256u << 20)

/* Philox counter tags (word 1), apart from lk_rng_normal()'s counters, whose word 1 is 0. */
#define TAG_SHUFFLE 0x53485546u
#define TAG_CROP    0x43524f50u

typedef struct
{
  char    *path;
  LkImage *image;  /* RGB, short side = the training size */
} Photo;

struct _LkLoraTrainJob
{
  GObject                  parent_instance;

  /* owned */
  LkPipeline              *pipeline;
  LkTokenizer             *tokenizer;
  LkLoraTrainOptions       options;
  char                    *caption;
  GPtrArray               *photos;        /* Photo * */
  char                    *output;
  char                    *checkpoint;
  char                    *default_checkpoint;  /* beside the output */
  char                    *resume;
  char                    *base_model;
  LkLoraTrainProgressFunc  progress_func;
  gpointer                 progress_data;
  GDestroyNotify           progress_destroy;
  double                   fraction;
  char                    *message;

  /* made by prepare() on the thread that runs the job */
  LkStream                *stream;
  LkSdTrainer             *trainer;
  GHashTable              *target_ndims;  /* canonical UNet name → its checkpoint ndim */
  gint32                  *ids;           /* [batch, 77]: the caption's tokens per sample */
  LkSchedule              *schedule;
  GHashTable              *latents;       /* "photo:x:y:flip" → float * */
  gsize                    latent_bytes;
  guint64                  last_saved;    /* the step of the last checkpoint written */
  gboolean                 running;
  GMainContext            *notify_context;  /* the async caller's, or NULL */
};

enum
{
  PROP_0,
  PROP_FRACTION,
  PROP_MESSAGE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (LkLoraTrainJob, lk_lora_train_job, G_TYPE_OBJECT)

static void
photo_free (gpointer data)
{
  Photo *photo = data;

  g_free (photo->path);
  g_clear_pointer (&photo->image, lk_image_free);
  g_free (photo);
}

static void unprepare (LkLoraTrainJob *self);

static void
lk_lora_train_job_finalize (GObject *object)
{
  LkLoraTrainJob *self = LK_LORA_TRAIN_JOB (object);

  if (self->progress_destroy != NULL)
    self->progress_destroy (self->progress_data);
  unprepare (self);
  g_clear_pointer (&self->stream, lk_stream_free);
  g_clear_pointer (&self->latents, g_hash_table_unref);
  g_clear_pointer (&self->photos, g_ptr_array_unref);
  g_clear_pointer (&self->pipeline, lk_pipeline_unref);
  g_clear_pointer (&self->tokenizer, lk_tokenizer_unref);
  g_free (self->caption);
  g_free (self->output);
  g_free (self->checkpoint);
  g_free (self->default_checkpoint);
  g_free (self->resume);
  g_free (self->base_model);
  g_free (self->message);
  G_OBJECT_CLASS (lk_lora_train_job_parent_class)->finalize (object);
}

static void
lk_lora_train_job_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  LkLoraTrainJob *self = LK_LORA_TRAIN_JOB (object);

  switch (prop_id)
    {
    case PROP_FRACTION:
      g_value_set_double (value, self->fraction);
      break;
    case PROP_MESSAGE:
      g_value_set_string (value, self->message);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
lk_lora_train_job_class_init (LkLoraTrainJobClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = lk_lora_train_job_finalize;
  object_class->get_property = lk_lora_train_job_get_property;

  properties[PROP_FRACTION] =
    g_param_spec_double ("fraction", NULL, NULL, 0, 1, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MESSAGE] =
    g_param_spec_string ("message", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
lk_lora_train_job_init (LkLoraTrainJob *self)
{
  self->photos = g_ptr_array_new_with_free_func (photo_free);
  self->latents = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* ---- photos ------------------------------------------------------------------------------- */

static gboolean
is_side_file (const char *name)
{
  static const char *const suffixes[] = { ".txt", ".caption", ".json", ".toml", ".yaml", ".yml" };
  g_autofree char *lower = g_ascii_strdown (name, -1);

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    if (g_str_has_suffix (lower, suffixes[i]))
      return TRUE;
  return FALSE;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

GPtrArray *
lk_lora_train_list_images (const char  *dir,
                           GPtrArray  **skipped,
                           GError     **error)
{
  g_autoptr(GDir) folder = NULL;
  g_autoptr(GPtrArray) images = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) side = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_return_val_if_fail (dir != NULL, NULL);

  if ((folder = g_dir_open (dir, 0, error)) == NULL)
    return NULL;
  while ((name = g_dir_read_name (folder)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (name[0] == '.' || !g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue;
      if (is_side_file (name))
        g_ptr_array_add (side, g_strdup (name));
      else
        g_ptr_array_add (images, g_steal_pointer (&path));
    }
  if (images->len == 0)
    {
      g_set_error (error, LK_TRAIN_ERROR, LK_TRAIN_ERROR_NO_IMAGES,
                   "%s holds no photos to train on%s", dir,
                   side->len > 0 ? " (only captions or metadata)" : "");
      return NULL;
    }
  g_ptr_array_sort (images, compare_strings);
  g_ptr_array_sort (side, compare_strings);
  if (skipped != NULL)
    *skipped = g_steal_pointer (&side);
  return g_steal_pointer (&images);
}

/* Short side to @size: INTER_AREA to shrink, bilinear to enlarge. */
static LkImage *
load_photo (const char  *path,
            guint        size,
            GError     **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(LkImage) image = lk_image_load (path, 3, &local);
  guint short_side, width, height;

  if (image == NULL)
    {
      g_set_error (error, LK_TRAIN_ERROR, LK_TRAIN_ERROR_IMAGE,
                   "%s cannot be used as a training photo: %s", path, local->message);
      return NULL;
    }
  short_side = MIN (image->width, image->height);
  if (short_side == size)
    return g_steal_pointer (&image);
  width = MAX (size, (guint) round ((double) image->width * size / short_side));
  height = MAX (size, (guint) round ((double) image->height * size / short_side));
  return lk_image_resize (image, width, height,
                          short_side > size ? LK_INTERP_AREA : LK_INTERP_LINEAR);
}

/* ---- creation ----------------------------------------------------------------------------- */

static gboolean
check_options (const LkLoraTrainOptions  *o,
               GError                   **error)
{
  const char *problem = NULL;

  if (o->rank < 1 || o->rank > 1024)
    problem = "the rank must be 1 to 1024";
  else if (!isfinite (o->alpha) || o->alpha <= 0)
    problem = "alpha must be a positive number";
  else if (o->steps < 1)
    problem = "at least one step is needed";
  else if (!isfinite (o->lr) || o->lr <= 0 || o->lr > 1)
    problem = "the learning rate must be in (0, 1]";
  else if (!isfinite (o->te_lr) || o->te_lr < 0 || o->te_lr > 1)
    problem = "the text encoder's learning rate must be in [0, 1] (0: not trained)";
  else if (o->accumulation < 1 || o->accumulation > 1024)
    problem = "gradient accumulation must be 1 to 1024 micro-batches";
  else if (o->batch < 1 || o->batch > 64)
    problem = "the batch must be 1 to 64";
  else if (o->size < 64 || o->size > 2048 || o->size % 64 != 0)
    problem = "the size must be a multiple of 64 from 64 to 2048";
  if (problem == NULL)
    return TRUE;
  g_set_error (error, LK_TRAIN_ERROR, LK_TRAIN_ERROR_INVALID, "LoRA training: %s", problem);
  return FALSE;
}

LkLoraTrainJob *
lk_lora_train_job_new (LkPipeline                *pipeline,
                       LkTokenizer               *tokenizer,
                       const char * const        *images,
                       const char                *caption,
                       const LkLoraTrainOptions  *options,
                       GError                   **error)
{
  g_autoptr(LkLoraTrainJob) self = NULL;
  const LkUnetConfig *config;

  g_return_val_if_fail (pipeline != NULL && tokenizer != NULL && options != NULL, NULL);

  if (!check_options (options, error))
    return NULL;
  config = lk_unet_get_config (lk_pipeline_get_unet (pipeline));
  if (lk_pipeline_get_kind (pipeline) != LK_MODEL_KIND_SD1 || config->in_channels != 4 ||
      config->out_channels != 4)
    {
      g_set_error (error, LK_TRAIN_ERROR, LK_TRAIN_ERROR_MODEL,
                   "LoRA training needs an ordinary SD1.x checkpoint; this one is %s (a UNet of "
                   "%u input channels): train on the base model the inpainting one came from",
                   lk_model_kind_get_name (lk_pipeline_get_kind (pipeline)), config->in_channels);
      return NULL;
    }
  if (images == NULL || images[0] == NULL)
    {
      g_set_error (error, LK_TRAIN_ERROR, LK_TRAIN_ERROR_NO_IMAGES,
                   "LoRA training needs at least one photo");
      return NULL;
    }

  self = g_object_new (LK_TYPE_LORA_TRAIN_JOB, NULL);
  self->pipeline = lk_pipeline_ref (pipeline);
  self->tokenizer = lk_tokenizer_ref (tokenizer);
  self->options = *options;
  self->caption = g_strdup (caption != NULL ? caption : "");
  for (guint i = 0; images[i] != NULL; i++)
    {
      LkImage *image = load_photo (images[i], options->size, error);
      Photo *photo;

      if (image == NULL)
        return NULL;
      photo = g_new0 (Photo, 1);
      photo->path = g_strdup (images[i]);
      photo->image = image;
      g_ptr_array_add (self->photos, photo);
    }
  return g_steal_pointer (&self);
}

void
lk_lora_train_job_set_output (LkLoraTrainJob *self,
                              const char     *path)
{
  g_return_if_fail (LK_IS_LORA_TRAIN_JOB (self) && !self->running);

  g_free (self->output);
  self->output = g_strdup (path);
  g_clear_pointer (&self->default_checkpoint, g_free);
  if (path != NULL)
    {
      gsize length = strlen (path);
      gsize stem = g_str_has_suffix (path, ".safetensors") ? length - strlen (".safetensors")
                                                            : length;

      /* Not .safetensors: web UIs would list it among the LoRAs. */
      self->default_checkpoint = g_strdup_printf ("%.*s.train-checkpoint", (int) stem, path);
    }
}

void
lk_lora_train_job_set_checkpoint (LkLoraTrainJob *self,
                                  const char     *path)
{
  g_return_if_fail (LK_IS_LORA_TRAIN_JOB (self) && !self->running);

  g_free (self->checkpoint);
  self->checkpoint = g_strdup (path);
}

void
lk_lora_train_job_set_resume (LkLoraTrainJob *self,
                              const char     *path)
{
  g_return_if_fail (LK_IS_LORA_TRAIN_JOB (self) && !self->running);
  g_return_if_fail (self->trainer == NULL);

  g_free (self->resume);
  self->resume = g_strdup (path);
}

void
lk_lora_train_job_set_base_model (LkLoraTrainJob *self,
                                  const char     *name)
{
  g_return_if_fail (LK_IS_LORA_TRAIN_JOB (self));

  g_free (self->base_model);
  self->base_model = g_strdup (name);
}

void
lk_lora_train_job_set_progress_func (LkLoraTrainJob          *self,
                                     LkLoraTrainProgressFunc  func,
                                     gpointer                 user_data,
                                     GDestroyNotify           destroy)
{
  g_return_if_fail (LK_IS_LORA_TRAIN_JOB (self) && !self->running);

  if (self->progress_destroy != NULL)
    self->progress_destroy (self->progress_data);
  self->progress_func = func;
  self->progress_data = user_data;
  self->progress_destroy = destroy;
}

const char *
lk_lora_train_job_get_checkpoint (LkLoraTrainJob *self)
{
  g_return_val_if_fail (LK_IS_LORA_TRAIN_JOB (self), NULL);

  return self->checkpoint != NULL ? self->checkpoint : self->default_checkpoint;
}

guint64
lk_lora_train_job_get_step (LkLoraTrainJob *self)
{
  g_return_val_if_fail (LK_IS_LORA_TRAIN_JOB (self), 0);

  return self->trainer != NULL ? lk_sd_trainer_get_state (self->trainer)->step : 0;
}

guint
lk_lora_train_job_get_n_images (LkLoraTrainJob *self)
{
  g_return_val_if_fail (LK_IS_LORA_TRAIN_JOB (self), 0);

  return self->photos->len;
}

guint
lk_lora_train_job_get_n_layers (LkLoraTrainJob *self)
{
  g_return_val_if_fail (LK_IS_LORA_TRAIN_JOB (self), 0);

  return self->trainer != NULL ? lk_sd_trainer_get_n_layers (self->trainer) : 0;
}

double
lk_lora_train_job_get_fraction (LkLoraTrainJob *self)
{
  g_return_val_if_fail (LK_IS_LORA_TRAIN_JOB (self), 0);

  return self->fraction;
}

const char *
lk_lora_train_job_get_message (LkLoraTrainJob *self)
{
  g_return_val_if_fail (LK_IS_LORA_TRAIN_JOB (self), NULL);

  return self->message;
}

/* ---- progress ----------------------------------------------------------------------------- */

typedef struct
{
  LkLoraTrainJob      *job;
  LkLoraTrainProgress  progress;
  char                *message;
  char                *checkpoint;
} Report;

static void
report_free (gpointer data)
{
  Report *report = data;

  g_object_unref (report->job);
  g_free (report->message);
  g_free (report->checkpoint);
  g_free (report);
}

/* On the thread that owns the job's caller: the properties, then the progress function. */
static gboolean
report_deliver (gpointer data)
{
  Report *report = data;
  LkLoraTrainJob *self = report->job;
  const LkLoraTrainProgress *p = &report->progress;
  g_autofree char *message = NULL;
  double fraction = self->fraction;

  if (p->message != NULL)
    message = g_strdup (p->message);
  else if (p->step_done)
    {
      fraction = p->n_steps > 0 ? (double) p->step / p->n_steps : 0;
      message = g_strdup_printf ("step %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT ", loss %.4f",
                                 p->step, p->n_steps, p->loss);
    }
  if (fraction != self->fraction)
    {
      self->fraction = fraction;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRACTION]);
    }
  if (message != NULL && g_strcmp0 (message, self->message) != 0)
    {
      g_free (self->message);
      self->message = g_steal_pointer (&message);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MESSAGE]);
    }
  if (self->progress_func != NULL)
    self->progress_func (p, self->progress_data);
  return G_SOURCE_REMOVE;
}

static void
report (LkLoraTrainJob            *self,
        const LkLoraTrainProgress *progress)
{
  Report *r = g_new0 (Report, 1);

  r->job = g_object_ref (self);
  r->progress = *progress;
  r->progress.message = r->message = g_strdup (progress->message);
  r->progress.checkpoint = r->checkpoint = g_strdup (progress->checkpoint);
  if (self->notify_context != NULL)
    g_main_context_invoke_full (self->notify_context, G_PRIORITY_DEFAULT, report_deliver, r,
                                report_free);
  else
    {
      report_deliver (r);
      report_free (r);
    }
}

static void
note (LkLoraTrainJob *self,
      const char     *format,
      ...) G_GNUC_PRINTF (2, 3);

static void
note (LkLoraTrainJob *self,
      const char     *format,
      ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  report (self, &(LkLoraTrainProgress) { .message = text });
}

/* ---- preparation -------------------------------------------------------------------------- */

static LkTensor *
tensor_from (LkStream     *stream,
             guint         ndim,
             const gint64 *shape,
             const float  *data,
             GError      **error)
{
  g_autoptr(LkTensor) t = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F32, ndim,
                                         shape, error);

  if (t == NULL || !lk_tensor_upload_f32 (t, stream, data, error))
    return NULL;
  return g_steal_pointer (&t);
}

/* The caption's tokens, once for each sample of a batch. A frozen text encoder's output for them
 * is kept by the trainer, so the caption is encoded once. */
static void
tokenize_caption (LkLoraTrainJob *self)
{
  guint batch = self->options.batch;

  self->ids = g_new (gint32, (gsize) batch * LK_CLIP_CONTEXT);
  lk_tokenizer_encode_padded (self->tokenizer, self->caption, self->ids);
  for (guint b = 1; b < batch; b++)
    memcpy (self->ids + b * LK_CLIP_CONTEXT, self->ids, LK_CLIP_CONTEXT * sizeof (gint32));
}

/* SD1.x's proj_in / proj_out are 1×1 convolutions, saved in kohya's conv layout. */
static void
find_target_ndims (LkLoraTrainJob *self)
{
  g_autoptr(GArray) specs = lk_unet_config_list_tensors (
    lk_unet_get_config (lk_pipeline_get_unet (self->pipeline)));

  self->target_ndims = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < specs->len; i++)
    {
      LkUnetTensorSpec *spec = &g_array_index (specs, LkUnetTensorSpec, i);

      g_hash_table_insert (self->target_ndims, g_strdup (spec->name),
                           GUINT_TO_POINTER (spec->ndim));
    }
}

static void
unprepare (LkLoraTrainJob *self)
{
  g_clear_pointer (&self->trainer, lk_sd_trainer_free);
  g_clear_pointer (&self->target_ndims, g_hash_table_unref);
  g_clear_pointer (&self->ids, g_free);
  g_clear_pointer (&self->schedule, lk_schedule_free);
}

/* The LoRA layers, the caption's encoding and the resumed state, on first use. */
static gboolean
prepare (LkLoraTrainJob  *self,
         GError         **error)
{
  LkSdTrainOptions sd = LK_SD_TRAIN_OPTIONS_DEFAULT;
  LkTrainState *state;

  if (self->trainer != NULL)
    return TRUE;
  if (self->stream == NULL &&
      (self->stream = lk_stream_new (lk_pipeline_get_context (self->pipeline), error)) == NULL)
    return FALSE;
  sd.unet.rank = self->options.rank;
  sd.unet.alpha = self->options.alpha;
  sd.unet.lr = self->options.lr;
  sd.unet.checkpointing = self->options.checkpointing;
  sd.unet.seed = self->options.seed;
  sd.unet.f16_activations = self->options.f16_activations;
  sd.train_text_encoder = self->options.te_lr > 0;
  sd.te_lr = self->options.te_lr;
  self->schedule = lk_schedule_new_sd15 ();
  find_target_ndims (self);
  tokenize_caption (self);
  if ((self->trainer = lk_sd_trainer_new (self->stream, lk_pipeline_get_unet (self->pipeline),
                                          lk_pipeline_get_text_model (self->pipeline), &sd,
                                          error)) == NULL ||
      !lk_stream_finish (self->stream, error))
    {
      unprepare (self);
      return FALSE;
    }

  state = lk_sd_trainer_get_state (self->trainer);
  if (self->resume != NULL)
    {
      if (!lk_sd_trainer_load_checkpoint (self->trainer, self->stream, self->resume, error))
        {
          g_prefix_error (error, "cannot resume (is it a checkpoint of this training, with the "
                          "same rank, alpha and text encoder setting?): ");
          unprepare (self);
          return FALSE;
        }
      if (state->rng.seed != self->options.seed)
        note (self, "resuming with the checkpoint's seed %" G_GUINT64_FORMAT,
              state->rng.seed);
      note (self, "resumed from %s at step %" G_GUINT64_FORMAT, self->resume, state->step);
    }
  self->last_saved = state->step;
  return TRUE;
}

/* ---- samples ------------------------------------------------------------------------------ */

static void
philox (guint64  seed,
        guint64  a,
        guint32  tag,
        guint32  b,
        guint32  out[4])
{
  const guint32 counter[4] = { (guint32) a, tag, b, (guint32) (a >> 32) };
  const guint32 key[2] = { (guint32) seed, (guint32) (seed >> 32) };

  lk_philox4x32_10 (counter, key, out);
}

typedef struct
{
  guint    photo;
  guint    x, y;
  gboolean flip;
} Sample;

/* Sample number @k of the run: photo, crop and flip, from the seed alone. */
static Sample
draw_sample (LkLoraTrainJob *self,
             guint64         seed,
             guint64         k)
{
  guint n = self->photos->len;
  guint64 epoch = k / n;
  g_autofree guint *order = g_new (guint, n);
  const Photo *photo;
  guint32 r[4];
  Sample s;

  /* Fisher–Yates over this epoch's order. */
  for (guint i = 0; i < n; i++)
    order[i] = i;
  for (guint i = n; i-- > 1;)
    {
      guint j, t;

      philox (seed, epoch, TAG_SHUFFLE, i, r);
      j = r[0] % (i + 1);
      t = order[i], order[i] = order[j], order[j] = t;
    }
  s.photo = order[k % n];
  photo = g_ptr_array_index (self->photos, s.photo);
  philox (seed, k, TAG_CROP, 0, r);
  s.x = r[0] % (photo->image->width - self->options.size + 1);
  s.y = r[1] % (photo->image->height - self->options.size + 1);
  s.flip = r[2] & 1;
  return s;
}

/* The crop's latent [4, size/8, size/8] on the host: from the cache, or VAE-encoded. Borrowed
 * from the cache, or @owned. */
static const float *
sample_latent (LkLoraTrainJob  *self,
               const Sample    *s,
               float          **owned,
               GError         **error)
{
  const Photo *photo = g_ptr_array_index (self->photos, s->photo);
  guint size = self->options.size;
  g_autofree char *key = g_strdup_printf ("%u:%u:%u:%d", s->photo, s->x, s->y, s->flip);
  g_autofree float *pixels = NULL;
  g_autoptr(LkTensor) image = NULL, latent = NULL;
  float *data;
  gsize plane = (gsize) size * size, n;

  *owned = NULL;
  if ((data = g_hash_table_lookup (self->latents, key)) != NULL)
    return data;

  pixels = g_new (float, 3 * plane);
  for (guint y = 0; y < size; y++)
    for (guint x = 0; x < size; x++)
      {
        const guint8 *px = lk_image_pixel (photo->image, s->x + (s->flip ? size - 1 - x : x),
                                           s->y + y);

        for (guint c = 0; c < 3; c++)
          pixels[c * plane + (gsize) y * size + x] = px[c] / 127.5f - 1.0f;
      }
  if ((image = tensor_from (self->stream, 4, (gint64[]) { 1, 3, size, size }, pixels,
                            error)) == NULL ||
      (latent = lk_vae_encode (lk_pipeline_get_vae (self->pipeline), self->stream, image,
                               error)) == NULL)
    return NULL;
  n = lk_tensor_numel (latent);
  data = g_new (float, n);
  if (!lk_tensor_download_f32 (latent, self->stream, data, error))
    {
      g_free (data);
      return NULL;
    }
  if (self->latent_bytes + n * sizeof (float) <= LATENT_CACHE_BYTES)
    {
      self->latent_bytes += n * sizeof (float);
      g_hash_table_insert (self->latents, g_steal_pointer (&key), data);
      return data;
    }
  return *owned = data;
}

/* x_t = √ᾱ x0 + √(1 − ᾱ) ε for one sample, on the host. */
static void
add_noise (LkLoraTrainJob *self,
           const float    *x0,
           const float    *noise,
           float           t,
           gsize           n,
           float          *x_t)
{
  double ab = lk_schedule_get_alpha_cumprod (self->schedule, (guint) t);
  float a = sqrt (ab), s = sqrt (1.0 - ab);

  for (gsize i = 0; i < n; i++)
    x_t[i] = a * x0[i] + s * noise[i];
}

/* One forward and backward of a batch whose latents are @x0 [batch, 4, h, w] (host), with the
 * caption. Noise and timesteps come from @noise / @timesteps when not NULL, else from the
 * trainer's generator. */
static gboolean
micro_step (LkLoraTrainJob  *self,
            const float     *x0,
            guint            batch,
            const float     *fixed_noise,
            const float     *fixed_t,
            float            weight,
            gboolean         accumulate,
            double          *loss,
            GError         **error)
{
  guint latent = self->options.size / 8;
  gint64 shape[4] = { batch, 4, latent, latent };
  gsize per = (gsize) 4 * latent * latent, n = per * batch;
  g_autofree float *noise = NULL, *t = NULL, *x_t = g_new (float, n);
  g_autoptr(LkTensor) tx = NULL, tt = NULL, target = NULL;

  if (fixed_noise == NULL)
    {
      noise = g_new (float, n);
      t = g_new (float, batch);
      lk_unet_trainer_sample (lk_sd_trainer_get_unet_trainer (self->trainer), shape, noise, t);
      fixed_noise = noise;
      fixed_t = t;
    }
  for (guint b = 0; b < batch; b++)
    add_noise (self, x0 + b * per, fixed_noise + b * per, fixed_t[b], per, x_t + b * per);
  return (tx = tensor_from (self->stream, 4, shape, x_t, error)) != NULL &&
         (tt = tensor_from (self->stream, 1, (gint64[]) { batch }, fixed_t, error)) != NULL &&
         (target = tensor_from (self->stream, 4, shape, fixed_noise, error)) != NULL &&
         lk_sd_trainer_backward (self->trainer, self->stream, tx, tt, self->ids, 1, target,
                                 weight, accumulate, loss, error);
}

/* ---- files -------------------------------------------------------------------------------- */

static gboolean
save_checkpoint (LkLoraTrainJob  *self,
                 GError         **error)
{
  const char *path = lk_lora_train_job_get_checkpoint (self);
  LkTrainState *state = lk_sd_trainer_get_state (self->trainer);

  if (path == NULL)
    return TRUE;
  if (!lk_sd_trainer_save_checkpoint (self->trainer, self->stream, path, error))
    return FALSE;
  self->last_saved = state->step;
  return TRUE;
}

static char *
tag_frequency (LkLoraTrainJob *self)
{
  g_auto(GStrv) tags = g_strsplit (self->caption, ",", -1);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  /* kohya: folder → tag → count over the images; one caption for every photo here. */
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "images");
  json_builder_begin_object (builder);
  for (guint i = 0; tags[i] != NULL; i++)
    {
      g_strstrip (tags[i]);
      if (tags[i][0] == '\0' || !g_hash_table_add (seen, tags[i]))
        continue;
      json_builder_set_member_name (builder, tags[i]);
      json_builder_add_int_value (builder, self->photos->len);
    }
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

static void
put (GHashTable *meta,
     const char *key,
     char       *value)
{
  g_hash_table_insert (meta, g_strdup (key), value);
}

static char *
format_double (double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  return g_strdup (g_ascii_formatd (buffer, sizeof buffer, "%g", value));
}

/* kohya's training metadata (what A1111's and ComfyUI's LoRA info panels show); no dates, so
 * the same training writes the same bytes. */
static GHashTable *
lora_metadata (LkLoraTrainJob *self)
{
  GHashTable *meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const LkLoraTrainOptions *o = &self->options;
  LkTrainState *state = lk_sd_trainer_get_state (self->trainer);
  gboolean te = o->te_lr > 0;

  put (meta, "ss_steps", g_strdup_printf ("%" G_GUINT64_FORMAT, state->step));
  put (meta, "ss_max_train_steps", g_strdup_printf ("%u", o->steps));
  put (meta, "ss_learning_rate", format_double (o->lr));
  put (meta, "ss_unet_lr", format_double (o->lr));
  put (meta, "ss_text_encoder_lr", format_double (o->te_lr));
  put (meta, "ss_network_train_unet_only", g_strdup (te ? "False" : "True"));
  put (meta, "ss_resolution", g_strdup_printf ("(%u, %u)", o->size, o->size));
  put (meta, "ss_batch_size_per_device", g_strdup_printf ("%u", o->batch));
  put (meta, "ss_gradient_accumulation_steps", g_strdup_printf ("%u", o->accumulation));
  put (meta, "ss_num_train_images", g_strdup_printf ("%u", self->photos->len));
  put (meta, "ss_seed", g_strdup_printf ("%" G_GUINT64_FORMAT, state->rng.seed));
  put (meta, "ss_optimizer",
       g_strdup ("torch.optim.adamw.AdamW(weight_decay=0.01,betas=(0.9, 0.999),eps=1e-08)"));
  put (meta, "ss_lr_scheduler", g_strdup ("constant"));
  put (meta, "ss_lr_warmup_steps", g_strdup ("0"));
  put (meta, "ss_max_grad_norm", g_strdup ("1.0"));
  put (meta, "ss_gradient_checkpointing", g_strdup (o->checkpointing ? "True" : "False"));
  put (meta, "ss_mixed_precision", g_strdup (o->f16_activations ? "fp16" : "no"));
  put (meta, "ss_min_snr_gamma", g_strdup ("None"));
  put (meta, "ss_noise_offset", g_strdup ("None"));
  put (meta, "ss_flip_aug", g_strdup ("True"));
  put (meta, "ss_random_crop", g_strdup ("True"));
  put (meta, "ss_tag_frequency", tag_frequency (self));
  if (self->base_model != NULL)
    put (meta, "ss_sd_model_name", g_path_get_basename (self->base_model));
  if (self->output != NULL)
    {
      g_autofree char *base = g_path_get_basename (self->output);
      char *dot = strrchr (base, '.');

      if (dot != NULL && dot != base)
        *dot = '\0';
      put (meta, "ss_output_name", g_steal_pointer (&base));
    }
  put (meta, "ss_training_comment",
       g_strdup_printf ("Likeness %s; caption “%s”", PACKAGE_VERSION, self->caption));
  return meta;
}

/* Every layer's factors, in kohya's layout: [r, in] / [out, r] for a Linear, with trailing
 * 1 × 1 for a 1×1 convolution (proj_in / proj_out of SD1.x). */
static gboolean
save_lora (LkLoraTrainJob  *self,
           GError         **error)
{
  LkLoraLayer **layers = lk_sd_trainer_get_layers (self->trainer);
  const char * const *targets = lk_sd_trainer_get_targets (self->trainer);
  g_autoptr(LkLora) lora = lk_lora_new ();
  g_autoptr(GHashTable) meta = NULL;

  for (guint i = 0; i < lk_sd_trainer_get_n_layers (self->trainer); i++)
    {
      const char *target = targets[i];
      LkTensor *down = lk_lora_layer_get_down (layers[i]), *up = lk_lora_layer_get_up (layers[i]);
      guint ndim = GPOINTER_TO_UINT (g_hash_table_lookup (self->target_ndims, target)) == 4 ? 4 : 2;
      gint64 down_shape[4] = { down->shape[0], down->shape[1], 1, 1 };
      gint64 up_shape[4] = { up->shape[0], up->shape[1], 1, 1 };
      g_autofree float *down_data = g_new (float, lk_tensor_numel (down));
      g_autofree float *up_data = g_new (float, lk_tensor_numel (up));

      if (!lk_tensor_download_f32 (down, self->stream, down_data, error) ||
          !lk_tensor_download_f32 (up, self->stream, up_data, error) ||
          !lk_lora_add (lora, target, self->options.alpha, ndim, down_shape, down_data, ndim,
                        up_shape, up_data, error))
        return FALSE;
    }
  meta = lora_metadata (self);
  return lk_lora_save (lora, self->output, LK_WEIGHT_F16, meta, error);
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void
explain_failure (LkLoraTrainJob  *self,
                 guint64          step,
                 GError         **error)
{
  if (error == NULL || *error == NULL)
    return;
  if (g_error_matches (*error, LK_VK_ERROR, LK_VK_ERROR_OUT_OF_MEMORY))
    g_prefix_error (error, "training step %" G_GUINT64_FORMAT " at %u² with rank %u and batch %u%s"
                    " ran out of memory (a smaller size or rank, batch 1 and gradient "
                    "checkpointing need less): ", step + 1, self->options.size,
                    self->options.rank, self->options.batch,
                    self->options.checkpointing ? "" : " without gradient checkpointing");
  else
    g_prefix_error (error, "training step %" G_GUINT64_FORMAT ": ", step + 1);
}

/* Before the training rather than after it. */
static gboolean
check_folders (LkLoraTrainJob  *self,
               GError         **error)
{
  const char *paths[] = { self->output, lk_lora_train_job_get_checkpoint (self) };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *dir = paths[i] != NULL ? g_path_get_dirname (paths[i]) : NULL;

      if (dir != NULL && !g_file_test (dir, G_FILE_TEST_IS_DIR))
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                       "%s cannot be written: there is no folder %s", paths[i], dir);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
lk_lora_train_job_run (LkLoraTrainJob  *self,
                       GCancellable    *cancellable,
                       GError         **error)
{
  LkContext *context;
  LkTrainState *state, snapshot;
  const LkLoraTrainOptions *o;
  guint latent;
  gsize per;
  g_autofree float *x0 = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (LK_IS_LORA_TRAIN_JOB (self), FALSE);
  g_return_val_if_fail (!self->running, FALSE);

  self->running = TRUE;
  o = &self->options;
  context = lk_pipeline_get_context (self->pipeline);
  lk_context_reset_peak_allocated_bytes (context);
  if (!check_folders (self, error) || !prepare (self, error))
    goto out;
  state = lk_sd_trainer_get_state (self->trainer);
  latent = o->size / 8;
  per = (gsize) 4 * latent * latent;
  x0 = g_new (float, per * o->batch);

  while (state->step < o->steps)
    {
      gint64 start = g_get_monotonic_time ();
      const char *written = NULL;
      LkLoraStepResult result = { FALSE };
      double total = 0;

      snapshot = *state;
      for (guint micro = 0; micro < o->accumulation; micro++)
        {
          double loss;

          if (g_cancellable_is_cancelled (cancellable))
            {
              g_autoptr(GError) local = NULL;

              /* The half-accumulated step is redone on resume: back to where it began. */
              *state = snapshot;
              if (state->step > self->last_saved && !save_checkpoint (self, &local))
                {
                  g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                              "training cancelled at step %" G_GUINT64_FORMAT
                                              ", and its checkpoint could not be written: ",
                                              state->step);
                  goto out;
                }
              if (lk_lora_train_job_get_checkpoint (self) != NULL && state->step > 0)
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             "training cancelled at step %" G_GUINT64_FORMAT " of %u; its "
                             "checkpoint is %s (resume from it)", state->step, o->steps,
                             lk_lora_train_job_get_checkpoint (self));
              else
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             "training cancelled at step %" G_GUINT64_FORMAT " of %u",
                             state->step, o->steps);
              goto out;
            }
          for (guint b = 0; b < o->batch; b++)
            {
              guint64 k = (state->step * o->accumulation + micro) * o->batch + b;
              Sample s = draw_sample (self, state->rng.seed, k);
              g_autofree float *owned = NULL;
              const float *data = sample_latent (self, &s, &owned, error);

              if (data == NULL)
                goto failed;
              memcpy (x0 + b * per, data, per * sizeof (float));
            }
          if (!micro_step (self, x0, o->batch, NULL, NULL, 1.0f / o->accumulation,
                           micro > 0, &loss, error))
            goto failed;
          total += loss;
          if (micro + 1 < o->accumulation)
            report (self, &(LkLoraTrainProgress) {
                      .step = state->step, .n_steps = o->steps, .micro_step = micro + 1,
                      .accumulation = o->accumulation, .loss = loss,
                      .peak_device_bytes = lk_context_get_peak_allocated_bytes (context) });
        }
      if (!lk_sd_trainer_apply (self->trainer, self->stream, &result, error) ||
          !lk_stream_finish (self->stream, error))
        {
          /* Some parameters may have moved: no checkpoint of a half-updated LoRA. */
          explain_failure (self, state->step, error);
          goto out;
        }
      if (result.skipped)
        note (self, "step %" G_GUINT64_FORMAT " skipped: its f16 gradients overflowed; the loss "
              "scale is now %g", state->step, state->loss_scale);
      if (o->save_every > 0 && state->step % o->save_every == 0 && state->step < o->steps)
        {
          if (!save_checkpoint (self, error))
            goto out;
          written = lk_lora_train_job_get_checkpoint (self);
        }
      report (self, &(LkLoraTrainProgress) {
                .step = state->step, .n_steps = o->steps, .micro_step = o->accumulation,
                .accumulation = o->accumulation, .step_done = TRUE,
                .loss = total / o->accumulation,
                .seconds_per_step = (g_get_monotonic_time () - start) / 1e6,
                .peak_device_bytes = lk_context_get_peak_allocated_bytes (context),
                .checkpoint = written });
      continue;

    failed:
      explain_failure (self, state->step, error);
      *state = snapshot;
      if (state->step > self->last_saved)
        {
          g_autoptr(GError) ignored = NULL;

          if (save_checkpoint (self, &ignored))
            g_prefix_error (error, "(a checkpoint of step %" G_GUINT64_FORMAT " is %s) ",
                            state->step, lk_lora_train_job_get_checkpoint (self));
        }
      goto out;
    }

  /* The checkpoint first: when the LoRA cannot be written, training need not be redone. */
  if (state->step > self->last_saved && !save_checkpoint (self, error))
    goto out;
  if (self->output != NULL && !save_lora (self, error))
    goto out;
  ok = TRUE;

out:
  self->running = FALSE;
  return ok;
}

static void
run_in_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  LkLoraTrainJob *self = source;
  GError *error = NULL;
  gboolean ok = lk_lora_train_job_run (self, cancellable, &error);

  /* Reports already sent hold their own reference to the context. */
  g_clear_pointer (&self->notify_context, g_main_context_unref);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
lk_lora_train_job_run_async (LkLoraTrainJob      *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (LK_IS_LORA_TRAIN_JOB (self));
  g_return_if_fail (!self->running && self->notify_context == NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, lk_lora_train_job_run_async);
  /* A cancelled run's own error says where its checkpoint went. */
  g_task_set_check_cancellable (task, FALSE);
  self->notify_context = g_main_context_ref_thread_default ();
  g_task_run_in_thread (task, run_in_thread);
}

gboolean
lk_lora_train_job_run_finish (LkLoraTrainJob  *self,
                              GAsyncResult    *result,
                              GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == lk_lora_train_job_run_async,
                        FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
lk_lora_train_job_evaluate (LkLoraTrainJob  *self,
                            guint            n_timesteps,
                            guint64          seed,
                            double          *loss,
                            GError         **error)
{
  guint size, latent;
  gsize per;
  double total = 0;
  LkRng rng;

  g_return_val_if_fail (LK_IS_LORA_TRAIN_JOB (self) && !self->running, FALSE);
  g_return_val_if_fail (n_timesteps > 0 && loss != NULL, FALSE);

  if (!prepare (self, error))
    return FALSE;
  size = self->options.size;
  latent = size / 8;
  per = (gsize) 4 * latent * latent;
  lk_rng_init (&rng, seed);
  for (guint i = 0; i < self->photos->len; i++)
    {
      const Photo *photo = g_ptr_array_index (self->photos, i);
      Sample s = { i, (photo->image->width - size) / 2, (photo->image->height - size) / 2, FALSE };
      g_autofree float *owned = NULL, *noise = g_new (float, per);
      const float *x0 = sample_latent (self, &s, &owned, error);

      if (x0 == NULL)
        return FALSE;
      for (guint k = 0; k < n_timesteps; k++)
        {
          float t = floor ((k + 0.5) * lk_schedule_get_n_train_steps (self->schedule) /
                           n_timesteps);
          double mse;

          lk_rng_normal (&rng, noise, per);
          if (!micro_step (self, x0, 1, noise, &t, 1.0f, FALSE, &mse, error))
            return FALSE;
          total += mse;
        }
    }
  *loss = total / (self->photos->len * n_timesteps);
  return TRUE;
}
