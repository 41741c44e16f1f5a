/* lk-pipeline.c: txt2img, img2img and inpainting over the CLIP, UNet and VAE modules
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The A1111 behaviour followed here is that of stable-diffusion-webui 1.x (processing.py,
 * sd_samplers_cfg_denoiser.py, sd_hijack_clip.py), which EasyPhoto drives.
 */
#define G_LOG_DOMAIN "lk-pipeline"

#include "config.h"

#include <math.h>

#include "lk-pipeline.h"
#include "lk-ops.h"
#include "lk-rng.h"
#include "lk-schedule.h"

#define LATENT_CHANNELS 4
#define LATENT_SCALE    8
#define MAX_SIDE        4096
/* The UNet halves the latent three times and concatenates skips of equal size, so the latent's
 * sides are multiples of 8. (A1111 takes multiples of 8 pixels by resizing mismatched skips in
 * its UNet's concatenation; lk_unet_forward() does not.) */
#define SIZE_MULTIPLE   (LATENT_SCALE * 8)
#define MAX_STEPS       1000

G_DEFINE_QUARK (lk-pipeline-error-quark, lk_pipeline_error)

struct _LkPipeline
{
  gatomicrefcount   ref_count;
  LkModelKind       kind;
  GMutex            lock;      /* one generation at a time: they share the stream */

  /* owned */
  LkContext        *context;
  LkStream         *stream;
  LkTokenizer      *tokenizer;
  LkClipTextModel  *text_model;
  LkUnet           *unet;
  LkVae            *vae;
  LkSchedule       *schedule;
};

G_DEFINE_BOXED_TYPE (LkPipeline, lk_pipeline, lk_pipeline_ref, lk_pipeline_unref)

void
lk_pipeline_params_init (LkPipelineParams *params)
{
  g_return_if_fail (params != NULL);

  *params = (LkPipelineParams) {
    .prompt = "",
    .negative_prompt = "",
    .steps = 20,
    .cfg_scale = 7.0,
    .sampler = LK_SAMPLER_EULER_ANCESTRAL,
    .width = 512,
    .height = 512,
    .strength = 0.75,
    .clip_skip = 1,
    .mask_blur = 4,
  };
}

static LkPipeline *
pipeline_alloc (LkContext   *context,
                LkTokenizer *tokenizer,
                GError     **error)
{
  g_autoptr(LkPipeline) self = g_new0 (LkPipeline, 1);

  g_atomic_ref_count_init (&self->ref_count);
  g_mutex_init (&self->lock);
  self->context = g_object_ref (context);
  self->tokenizer = lk_tokenizer_ref (tokenizer);
  self->schedule = lk_schedule_new_sd15 ();
  if ((self->stream = lk_stream_new (context, error)) == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

/* Checks that the modules fit together, then waits for their uploads. */
static gboolean
pipeline_finish_load (LkPipeline  *self,
                      GError     **error)
{
  const LkUnetConfig *config = lk_unet_get_config (self->unet);
  guint width = lk_clip_text_model_get_width (self->text_model);

  if (!lk_stream_finish (self->stream, error))
    return FALSE;
  if (width != config->context_dim)
    {
      g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_MODEL,
                   "the text encoder is %u wide where the UNet's cross-attention takes %u", width,
                   config->context_dim);
      return FALSE;
    }
  if (lk_clip_text_model_get_context (self->text_model) != LK_CLIP_CONTEXT)
    {
      g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_MODEL,
                   "the text encoder takes %u tokens where prompts come in chunks of %d",
                   lk_clip_text_model_get_context (self->text_model), LK_CLIP_CONTEXT);
      return FALSE;
    }
  if (config->out_channels != LATENT_CHANNELS ||
      (config->in_channels != LATENT_CHANNELS && config->in_channels != 2 * LATENT_CHANNELS + 1))
    {
      g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_MODEL,
                   "a UNet with %u input and %u output channels is not an SD1.x one (4 or 9 in, "
                   "4 out)", config->in_channels, config->out_channels);
      return FALSE;
    }
  self->kind = config->in_channels == LATENT_CHANNELS ? LK_MODEL_KIND_SD1 : LK_MODEL_KIND_SD1_INPAINT;
  return TRUE;
}

LkPipeline *
lk_pipeline_new (LkContext     *context,
                 LkModelFiles  *files,
                 LkTokenizer   *tokenizer,
                 GError       **error)
{
  g_autoptr(LkPipeline) self = NULL;

  g_return_val_if_fail (LK_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (files != NULL, NULL);
  g_return_val_if_fail (tokenizer != NULL, NULL);

  if ((self = pipeline_alloc (context, tokenizer, error)) == NULL ||
      (self->text_model = lk_clip_text_model_new_from_model_files (self->stream, files,
                                                                    error)) == NULL ||
      (self->unet = lk_unet_new_from_model_files (self->stream, files, error)) == NULL ||
      (self->vae = lk_vae_new_from_model_files (self->stream, files, error)) == NULL ||
      !pipeline_finish_load (self, error))
    {
      if (self != NULL)
        lk_stream_finish (self->stream, NULL);
      return NULL;
    }
  return g_steal_pointer (&self);
}

LkPipeline *
lk_pipeline_new_for_weights (LkContext    *context,
                             LkWeights    *weights,
                             LkWeights    *vae_weights,
                             LkTokenizer  *tokenizer,
                             GError      **error)
{
  g_autoptr(LkPipeline) self = NULL;

  g_return_val_if_fail (LK_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (weights != NULL, NULL);
  g_return_val_if_fail (tokenizer != NULL, NULL);

  if ((self = pipeline_alloc (context, tokenizer, error)) == NULL ||
      (self->text_model = lk_clip_text_model_new (self->stream, weights, error)) == NULL ||
      (self->unet = lk_unet_new (self->stream, weights, error)) == NULL ||
      (self->vae = lk_vae_new (self->stream, vae_weights != NULL ? vae_weights : weights,
                               error)) == NULL ||
      !pipeline_finish_load (self, error))
    {
      /* The uploads recorded so far read the mapped file: let them finish before it may go. */
      if (self != NULL)
        lk_stream_finish (self->stream, NULL);
      return NULL;
    }
  return g_steal_pointer (&self);
}

LkPipeline *
lk_pipeline_ref (LkPipeline *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_pipeline_unref (LkPipeline *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_clear_pointer (&self->text_model, lk_clip_text_model_unref);
  g_clear_pointer (&self->unet, lk_unet_unref);
  g_clear_pointer (&self->vae, lk_vae_unref);
  g_clear_pointer (&self->stream, lk_stream_free);
  g_clear_pointer (&self->tokenizer, lk_tokenizer_unref);
  g_clear_pointer (&self->schedule, lk_schedule_free);
  g_clear_object (&self->context);
  g_mutex_clear (&self->lock);
  g_free (self);
}

LkModelKind
lk_pipeline_get_kind (LkPipeline *self)
{
  g_return_val_if_fail (self != NULL, LK_MODEL_KIND_SD1);
  return self->kind;
}

LkUnet *
lk_pipeline_get_unet (LkPipeline *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->unet;
}

LkClipTextModel *
lk_pipeline_get_text_model (LkPipeline *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->text_model;
}

LkVae *
lk_pipeline_get_vae (LkPipeline *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->vae;
}

LkContext *
lk_pipeline_get_context (LkPipeline *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->context;
}

/* Masks on the host */

/* OpenCV's bit-exact 8-bit Gaussian kernel: taps of exp(−x²/2σ²) normalised to sum 1, turned
 * into multiples of 1/256 with the rounding error carried from tap to tap, the centre tap taking
 * what is left so they sum to exactly 256. */
static void
gaussian_kernel_fixed (double  sigma,
                       guint   taps,
                       gint   *kernel)
{
  guint half = (taps - 1) / 2;
  g_autofree double *values = g_new (double, half + 1);
  double scale = -0.125 / (sigma * sigma), sum = 0, err = 0;
  gint total = 0;

  for (guint i = 0; i < half; i++)
    {
      /* OpenCV's x runs over 2·(i − half), hence the −1/8σ². */
      double x = 1.0 - taps + 2.0 * i;

      values[i] = exp (x * x * scale);
      sum += values[i];
    }
  sum = 2 * sum + 1;
  for (guint i = 0; i < half; i++)
    {
      double adjusted = values[i] * (1 / sum) * 256 + err;
      double rounded = nearbyint (adjusted);

      err = adjusted - rounded;
      kernel[i] = kernel[taps - 1 - i] = (gint) rounded;
      total += 2 * (gint) rounded;
    }
  kernel[half] = 256 - total;
}

/* OpenCV's BORDER_REFLECT_101: …, 2, 1 | 0, 1, 2, … n − 1 | n − 2, … */
static gint64
reflect_101 (gint64 i,
             gint64 n)
{
  if (n == 1)
    return 0;
  while (i < 0 || i >= n)
    i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

/* One 1-D pass along rows (along_x) or columns of a packed 8-bit plane, in OpenCV's fixed point:
 * the sum of taps × pixels in 1/256, rounded half up. */
static void
blur_pass (const guint8 *src,
           guint8       *dst,
           guint         width,
           guint         height,
           gboolean      along_x,
           const gint   *kernel,
           guint         taps)
{
  gint64 half = taps / 2;

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        gint acc = 0;

        for (gint64 k = -half; k <= half; k++)
          {
            gint64 sx = along_x ? reflect_101 ((gint64) x + k, width) : x;
            gint64 sy = along_x ? y : reflect_101 ((gint64) y + k, height);

            acc += kernel[k + half] * src[sy * width + sx];
          }
        dst[(gsize) y * width + x] = MIN ((acc + 128) >> 8, 255);
      }
}

guint8 *
lk_pipeline_blur_mask (const guint8 *mask,
                       guint         width,
                       guint         height,
                       gsize         stride,
                       double        sigma)
{
  guint taps = 2 * (guint) (2.5 * sigma + 0.5) + 1;
  g_autofree gint *kernel = g_new (gint, taps);
  g_autofree guint8 *tmp = g_new (guint8, (gsize) width * height);
  guint8 *out = g_new (guint8, (gsize) width * height);

  g_return_val_if_fail (mask != NULL && width > 0 && height > 0, NULL);

  for (guint y = 0; y < height; y++)
    memcpy (out + (gsize) y * width, mask + y * stride, width);
  if (sigma <= 0 || taps == 1)
    return out;
  gaussian_kernel_fixed (sigma, taps, kernel);
  blur_pass (out, tmp, width, height, TRUE, kernel, taps);
  blur_pass (tmp, out, width, height, FALSE, kernel, taps);
  return out;
}

/* One generation */

typedef enum
{
  MODE_TXT2IMG,
  MODE_IMG2IMG,
  MODE_INPAINT,
} Mode;

typedef struct
{
  LkPipeline              *self;
  const LkPipelineParams  *params;
  const LkPipelineHooks   *hooks;
  LkStream                *stream;
  guint                    batch;      /* 2 with CFG, 1 without */
  gint64                   h, w;       /* latent */
  LkRng                    rng;

  LkTensor                *context;    /* [B, 77·chunks, width] */
  LkTensor                *image_cond; /* 9-channel UNet: [B, 5, h, w] mask and masked latent */
  LkTensor                *nmask;      /* inpaint: [1, 4, h, w], 1 where the latent is redrawn */
  LkTensor                *keep;       /* inpaint: the init latent where nmask is 0, else 0 */
  LkTensor                *c_in;       /* [B, 1, 1, 1] */
  LkTensor                *timesteps;  /* [B] */
  LkTensor                *mix;        /* [1, B]: CFG and −σ folded into one GEMM */
  LkTensor                *blend;      /* scratch, the latent's shape */

  guint                    step, n_steps;
  guint                    evaluations;
  gint64                   step_start;
} Run;

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->context, lk_tensor_unref);
  g_clear_pointer (&run->image_cond, lk_tensor_unref);
  g_clear_pointer (&run->nmask, lk_tensor_unref);
  g_clear_pointer (&run->keep, lk_tensor_unref);
  g_clear_pointer (&run->c_in, lk_tensor_unref);
  g_clear_pointer (&run->timesteps, lk_tensor_unref);
  g_clear_pointer (&run->mix, lk_tensor_unref);
  g_clear_pointer (&run->blend, lk_tensor_unref);
}

static LkTensor *
new_tensor (Run      *run,
            guint     ndim,
            gint64    d0,
            gint64    d1,
            gint64    d2,
            gint64    d3,
            GError  **error)
{
  gint64 shape[4] = { d0, d1, d2, d3 };

  return lk_tensor_new (run->self->context, LK_DTYPE_F32, ndim, shape, error);
}

static LkTensor *
tensor_from (Run          *run,
             guint         ndim,
             gint64        d0,
             gint64        d1,
             gint64        d2,
             gint64        d3,
             const float  *data,
             GError      **error)
{
  g_autoptr(LkTensor) t = new_tensor (run, ndim, d0, d1, d2, d3, error);

  if (t == NULL || !lk_tensor_upload_f32 (t, run->stream, data, error))
    return NULL;
  return g_steal_pointer (&t);
}

/* One prompt through the text encoder: [chunks, 77, width] on the host, A1111's emphasis
 * applied chunk by chunk as sd_hijack_clip does. */
static float *
encode_text (Run         *run,
             const char  *prompt,
             guint       *n_chunks,
             GError     **error)
{
  LkPipeline *self = run->self;
  g_autoptr(LkPromptTokens) tokens = lk_tokenizer_encode_prompt (self->tokenizer, prompt);
  gsize width = lk_clip_text_model_get_width (self->text_model);
  gsize per_chunk = (gsize) LK_CLIP_CONTEXT * width;
  g_autoptr(LkTensor) hidden = NULL;
  g_autofree float *host = NULL;

  hidden = lk_clip_text_model_forward (self->text_model, run->stream, tokens->ids,
                                       tokens->n_chunks, run->params->clip_skip, error);
  if (hidden == NULL)
    return NULL;
  host = g_new (float, tokens->n_chunks * per_chunk);
  if (!lk_tensor_download_f32 (hidden, run->stream, host, error))
    return NULL;
  for (guint c = 0; c < tokens->n_chunks; c++)
    lk_clip_apply_prompt_weights (host + c * per_chunk, tokens->weights + c * LK_CLIP_CONTEXT,
                                  LK_CLIP_CONTEXT, width);
  *n_chunks = tokens->n_chunks;
  return g_steal_pointer (&host);
}

/* The cross-attention context: the prompt in batch 0, the negative prompt in batch 1. When
 * their chunk counts differ the shorter one is padded with chunks of the empty prompt, as
 * A1111's pad_cond_uncond does, so both fit one batch. */
static gboolean
encode_prompts (Run     *run,
                GError **error)
{
  const LkPipelineParams *params = run->params;
  gsize width = lk_clip_text_model_get_width (run->self->text_model);
  gsize per_chunk = (gsize) LK_CLIP_CONTEXT * width;
  const char *texts[2] = { params->prompt, params->negative_prompt ? params->negative_prompt : "" };
  g_autofree float *encoded[2] = { NULL, NULL };
  g_autofree float *empty = NULL, *context = NULL;
  guint chunks[2] = { 0, 0 }, n_chunks, empty_chunks;

  for (guint b = 0; b < run->batch; b++)
    if ((encoded[b] = encode_text (run, texts[b], &chunks[b], error)) == NULL)
      return FALSE;
  n_chunks = MAX (chunks[0], chunks[1]);
  if (run->batch == 2 && chunks[0] != chunks[1] &&
      (empty = encode_text (run, "", &empty_chunks, error)) == NULL)
    return FALSE;

  context = g_new (float, run->batch * n_chunks * per_chunk);
  for (guint b = 0; b < run->batch; b++)
    {
      float *dst = context + b * n_chunks * per_chunk;

      memcpy (dst, encoded[b], chunks[b] * per_chunk * sizeof (float));
      for (guint c = chunks[b]; c < n_chunks; c++)
        memcpy (dst + c * per_chunk, empty, per_chunk * sizeof (float));
    }
  run->context = tensor_from (run, 3, run->batch, n_chunks * LK_CLIP_CONTEXT, width, 0, context,
                              error);
  return run->context != NULL;
}

/* Waits for the step just recorded and reports it. */
static gboolean
finish_step (Run     *run,
             GError **error)
{
  gint64 now;

  if (!lk_stream_finish (run->stream, error))
    return FALSE;
  now = g_get_monotonic_time ();
  run->step++;
  if (run->params->progress != NULL)
    run->params->progress (run->step, run->n_steps, (now - run->step_start) / 1e6,
                           run->params->progress_data);
  run->step_start = now;
  return TRUE;
}

/* LkDenoiseFunc: k-diffusion's CompVisDenoiser with A1111's CFGDenoiser around it. */
static gboolean
denoise_cb (LkStream  *stream,
            LkTensor  *x,
            double     sigma,
            LkTensor  *denoised,
            gpointer   user_data,
            GError   **error)
{
  Run *run = user_data;
  LkPipeline *self = run->self;
  const LkUnetConfig *config = lk_unet_get_config (self->unet);
  double cfg = run->params->cfg_scale;
  float c_in = 1.0 / sqrt (sigma * sigma + 1.0);
  float t = lk_schedule_sigma_to_t (self->schedule, sigma);
  float c_ins[2] = { c_in, c_in }, ts[2] = { t, t };
  /* denoised = x − σ·ε̂ with ε̂ = uncond + cfg·(cond − uncond): one GEMM of the weights
   * [−σ·cfg, −σ·(1 − cfg)] with ε̂'s two batch entries as rows, x as the bias. */
  float mix[2] = { run->batch == 2 ? -sigma * cfg : -sigma, -sigma * (1 - cfg) };
  gint64 n = lk_tensor_numel (x);
  gint64 rows_shape[2] = { run->batch, n }, row_shape[2] = { 1, n }, flat_shape[1] = { n };
  LkGemmOptions options = LK_GEMM_OPTIONS_DEFAULT;
  LkPipelineStep step;
  g_autoptr(LkTensor) scaled = NULL, x_in = NULL, eps = NULL;
  g_autoptr(LkTensor) eps_rows = NULL, bias = NULL, out_row = NULL;

  /* The previous step was submitted by lk_sampler_run(): wait for it, so progress reports the
   * device's time and a cancellation stops within one step. */
  if (run->evaluations++ > 0 && !finish_step (run, error))
    return FALSE;
  step = (LkPipelineStep) { run->step, run->n_steps, sigma, NULL, run->timesteps, run->context };

  if (!lk_tensor_upload_f32 (run->c_in, stream, c_ins, error) ||
      !lk_tensor_upload_f32 (run->timesteps, stream, ts, error) ||
      !lk_tensor_upload_f32 (run->mix, stream, mix, error) ||
      (scaled = new_tensor (run, 4, run->batch, LATENT_CHANNELS, run->h, run->w, error)) == NULL ||
      !lk_op_mul (stream, x, run->c_in, scaled, error))
    return FALSE;
  if (run->image_cond != NULL)
    {
      if ((x_in = new_tensor (run, 4, run->batch, config->in_channels, run->h, run->w,
                              error)) == NULL ||
          !lk_op_concat_channels (stream, scaled, run->image_cond, x_in, error))
        return FALSE;
    }
  else
    x_in = g_steal_pointer (&scaled);

  step.x = x_in;
  if (run->hooks != NULL && run->hooks->unet_forward != NULL)
    eps = run->hooks->unet_forward (self, stream, &step, run->hooks->user_data, error);
  else
    eps = lk_unet_forward (self->unet, stream, x_in, run->timesteps, run->context, error);
  if (eps == NULL)
    return FALSE;
  if (eps->ndim != 4 || eps->shape[0] != run->batch || lk_tensor_numel (eps) != run->batch * n ||
      !lk_tensor_is_contiguous (eps))
    {
      g_autofree char *desc = lk_tensor_describe (eps);

      g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_MODEL,
                   "the UNet predicted %s for a latent of [%u, %d, %" G_GINT64_FORMAT ", %"
                   G_GINT64_FORMAT "]", desc, run->batch, LATENT_CHANNELS, run->h, run->w);
      return FALSE;
    }

  eps_rows = lk_tensor_view (eps, 2, rows_shape, 0);
  bias = lk_tensor_view (x, 1, flat_shape, 0);
  out_row = lk_tensor_view (denoised, 2, row_shape, 0);
  if (!lk_op_gemm (stream, run->mix, eps_rows, bias, out_row, &options, error))
    return FALSE;

  /* A1111 keeps the known part: denoised ← init·(1 − nmask) + denoised·nmask. */
  if (run->nmask != NULL &&
      (!lk_op_mul (stream, denoised, run->nmask, run->blend, error) ||
       !lk_op_add (stream, run->blend, run->keep, denoised, error)))
    return FALSE;
  return TRUE;
}

static gboolean
noise_cb (LkStream  *stream,
          LkTensor  *noise,
          gpointer   user_data,
          GError   **error)
{
  Run *run = user_data;

  return lk_rng_normal_tensor (&run->rng, stream, noise, error);
}

static double *
make_sigmas (LkPipeline             *self,
             const LkPipelineParams *params)
{
  if (params->sampler == LK_SAMPLER_DDIM)
    return lk_schedule_sigmas_ddim (self->schedule, params->steps);
  if (params->karras)
    return lk_schedule_sigmas_karras (self->schedule, params->steps, 7.0);
  return lk_schedule_sigmas_default (self->schedule, params->steps);
}

static gboolean
check_params (LkPipeline             *self,
              const LkPipelineParams *params,
              Mode                    mode,
              guint                   width,
              guint                   height,
              GError                **error)
{
  guint n_layers = lk_clip_text_model_get_n_layers (self->text_model);

  if (params->prompt == NULL)
    g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID, "no prompt");
  else if (width < SIZE_MULTIPLE || height < SIZE_MULTIPLE || width > MAX_SIDE ||
           height > MAX_SIDE || width % SIZE_MULTIPLE != 0 || height % SIZE_MULTIPLE != 0)
    g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID,
                 "size %u×%u: width and height must be multiples of %d from %d to %d", width,
                 height, SIZE_MULTIPLE, SIZE_MULTIPLE, MAX_SIDE);
  else if (params->steps < 1 || params->steps > MAX_STEPS)
    g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID,
                 "%u steps: from 1 to %d", params->steps, MAX_STEPS);
  else if (!isfinite (params->cfg_scale) || params->cfg_scale < 0 || params->cfg_scale > 100)
    g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID,
                 "CFG scale %g: from 0 to 100", params->cfg_scale);
  else if (params->sampler >= LK_N_SAMPLERS)
    g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID, "unknown sampler %d",
                 params->sampler);
  else if (params->clip_skip < 1 || params->clip_skip > n_layers)
    g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID,
                 "clip skip %u: from 1 to the text encoder's %u layers", params->clip_skip,
                 n_layers);
  else if (mode != MODE_TXT2IMG && !(params->strength >= 0 && params->strength <= 1))
    g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID,
                 "strength %g: from 0 to 1", params->strength);
  else if (mode == MODE_INPAINT && params->mask_blur > 64)
    g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID,
                 "mask blur %u: at most 64 pixels", params->mask_blur);
  else
    return TRUE;
  return FALSE;
}

/* image (RGB, RGBA or gray) → [1, 3, H, W] in [−1, 1] on the host; @mask (0…1 per pixel, or
 * NULL) turns masked pixels to 0, mid-grey, as A1111's inpainting conditioning does. */
static float *
image_to_planes (const LkImage *image,
                 const float   *mask)
{
  gsize plane = (gsize) image->width * image->height;
  float *planes = g_new (float, 3 * plane);

  for (guint y = 0; y < image->height; y++)
    for (guint x = 0; x < image->width; x++)
      {
        const guint8 *px = lk_image_pixel (image, x, y);
        gsize i = (gsize) y * image->width + x;

        for (guint c = 0; c < 3; c++)
          {
            float v = px[image->channels >= 3 ? c : 0] / 127.5f - 1.0f;

            planes[c * plane + i] = mask != NULL ? v * (1.0f - mask[i]) : v;
          }
      }
  return planes;
}

static LkTensor *
encode_planes (Run          *run,
               const float  *planes,
               guint         width,
               guint         height,
               GError      **error)
{
  g_autoptr(LkTensor) t = tensor_from (run, 4, 1, 3, height, width, planes, error);

  if (t == NULL)
    return NULL;
  return lk_vae_encode (run->self->vae, run->stream, t, error);
}

/* The mask as A1111 reads it: the alpha of an RGBA image, else its gray value. */
static guint8 *
mask_gray (const LkImage *mask)
{
  guint8 *gray = g_new (guint8, (gsize) mask->width * mask->height);
  g_autoptr(LkImage) luma = NULL;
  const LkImage *src = mask;
  guint channel = 0;

  if (mask->channels == 4)
    {
      /* A1111 reads an RGBA mask's alpha unless it is opaque everywhere. */
      for (guint y = 0; y < mask->height && channel == 0; y++)
        for (guint x = 0; x < mask->width && channel == 0; x++)
          if (lk_image_pixel (mask, x, y)[3] != 255)
            channel = 3;
    }
  if (mask->channels != 1 && channel == 0)
    src = luma = lk_image_convert (mask, 1);
  for (guint y = 0; y < src->height; y++)
    for (guint x = 0; x < src->width; x++)
      gray[(gsize) y * src->width + x] = lk_image_pixel (src, x, y)[channel];
  return gray;
}

/* The latent blend of inpainting: nmask and keep = init·(1 − nmask). @blurred is the blurred
 * mask at the image's size. */
static gboolean
prepare_inpaint (Run            *run,
                 const LkImage  *image,
                 const guint8   *blurred,
                 LkTensor       *init,
                 GError        **error)
{
  guint width = image->width;
  gsize plane = (gsize) run->h * run->w;
  g_autofree float *nmask = g_new (float, LATENT_CHANNELS * plane);
  g_autoptr(LkTensor) inverse = NULL;

  /* A1111 resizes the blurred mask to the latent's size and rounds it; an 8×8 box average stands
   * in for PIL's resize here. */
  for (gint64 ly = 0; ly < run->h; ly++)
    for (gint64 lx = 0; lx < run->w; lx++)
      {
        guint sum = 0;
        float v;

        for (guint dy = 0; dy < LATENT_SCALE; dy++)
          for (guint dx = 0; dx < LATENT_SCALE; dx++)
            sum += blurred[(ly * LATENT_SCALE + dy) * width + lx * LATENT_SCALE + dx];
        v = nearbyintf (sum / (255.0f * LATENT_SCALE * LATENT_SCALE));
        for (guint c = 0; c < LATENT_CHANNELS; c++)
          nmask[c * plane + ly * run->w + lx] = v;
      }
  if ((run->nmask = tensor_from (run, 4, 1, LATENT_CHANNELS, run->h, run->w, nmask,
                                 error)) == NULL ||
      (inverse = new_tensor (run, 4, 1, LATENT_CHANNELS, run->h, run->w, error)) == NULL ||
      (run->keep = new_tensor (run, 4, 1, LATENT_CHANNELS, run->h, run->w, error)) == NULL ||
      (run->blend = new_tensor (run, 4, 1, LATENT_CHANNELS, run->h, run->w, error)) == NULL ||
      !lk_op_unary (run->stream, LK_UNARY_IDENTITY, run->nmask, -1.0f, 1.0f, inverse, error) ||
      !lk_op_mul (run->stream, init, inverse, run->keep, error))
    return FALSE;
  return TRUE;
}

/* The 9-channel UNet's extra input, [B, 5, h, w]: the mask (1 = repaint) sampled at each 8×8
 * block's first pixel as F.interpolate's nearest mode does, then the latent of the image with
 * the masked pixels grey. @blurred NULL: no mask, everything is repainted (A1111's txt2img and
 * unmasked img2img conditioning for inpainting models). */
static gboolean
prepare_image_cond (Run            *run,
                    const LkImage  *image,
                    const guint8   *blurred,
                    guint           width,
                    guint           height,
                    GError        **error)
{
  gsize pixels = (gsize) width * height, plane = (gsize) run->h * run->w;
  g_autofree float *mask = g_new (float, pixels);
  g_autofree float *planes = NULL, *masked = NULL, *cond = NULL;
  g_autoptr(LkTensor) latent = NULL;

  for (gsize i = 0; i < pixels; i++)
    mask[i] = blurred != NULL ? nearbyintf (blurred[i] / 255.0f) : 1.0f;
  if (image != NULL)
    planes = image_to_planes (image, mask);
  else
    planes = g_new0 (float, 3 * pixels);
  if ((latent = encode_planes (run, planes, width, height, error)) == NULL)
    return FALSE;
  masked = g_new (float, LATENT_CHANNELS * plane);
  if (!lk_tensor_download_f32 (latent, run->stream, masked, error))
    return FALSE;

  cond = g_new (float, run->batch * (LATENT_CHANNELS + 1) * plane);
  for (guint b = 0; b < run->batch; b++)
    {
      float *dst = cond + b * (LATENT_CHANNELS + 1) * plane;

      for (gint64 ly = 0; ly < run->h; ly++)
        for (gint64 lx = 0; lx < run->w; lx++)
          dst[ly * run->w + lx] = mask[(ly * LATENT_SCALE) * width + lx * LATENT_SCALE];
      memcpy (dst + plane, masked, LATENT_CHANNELS * plane * sizeof (float));
    }
  run->image_cond = tensor_from (run, 4, run->batch, LATENT_CHANNELS + 1, run->h, run->w, cond,
                                 error);
  return run->image_cond != NULL;
}

/* [1, 3, H, W] in [−1, 1] → RGB bytes as A1111 makes them: clamp((x + 1)/2, 0, 1)·255,
 * truncated. */
static LkImage *
planes_to_image (const float *planes,
                 guint        width,
                 guint        height)
{
  gsize plane = (gsize) width * height;
  LkImage *image = lk_image_new (width, height, 3);

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        guint8 *px = lk_image_pixel (image, x, y);

        for (guint c = 0; c < 3; c++)
          {
            float v = (planes[c * plane + (gsize) y * width + x] + 1.0f) * 0.5f;

            px[c] = (guint8) (CLAMP (v, 0.0f, 1.0f) * 255.0f);
          }
      }
  return image;
}

/* A1111's overlay: the original composited over the result with alpha 255 − mask. */
static void
paste_back (LkImage        *result,
            const LkImage  *original,
            const guint8   *blurred)
{
  for (guint y = 0; y < result->height; y++)
    for (guint x = 0; x < result->width; x++)
      {
        guint m = blurred[(gsize) y * result->width + x];
        guint8 *px = lk_image_pixel (result, x, y);
        const guint8 *src = lk_image_pixel (original, x, y);

        for (guint c = 0; c < 3; c++)
          {
            guint o = src[original->channels >= 3 ? c : 0];

            px[c] = (o * (255 - m) + px[c] * m + 127) / 255;
          }
      }
}

static LkImage *
generate_locked (LkPipeline             *self,
                 const LkPipelineParams *params,
                 Mode                    mode,
                 const LkImage          *image,
                 const LkImage          *mask,
                 GCancellable           *cancellable,
                 GError                **error)
{
  Run run = { self, params, params->hooks, self->stream, params->cfg_scale != 1.0 ? 2 : 1 };
  guint width = params->width, height = params->height;
  g_autofree double *sigmas = NULL;
  g_autofree guint8 *blurred = NULL;
  g_autofree float *pixels = NULL;
  g_autoptr(LkSampler) sampler = NULL;
  g_autoptr(LkTensor) init = NULL, x = NULL, noise = NULL, decoded = NULL;
  g_autoptr(LkImage) result = NULL;
  gboolean begun = FALSE, ok = FALSE;
  guint first = 0;

  if (image != NULL)
    {
      if ((width != 0 || height != 0) && (width != image->width || height != image->height))
        {
          g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_IMAGE,
                       "the image is %u×%u where the size asked for is %u×%u", image->width,
                       image->height, width, height);
          return NULL;
        }
      width = image->width;
      height = image->height;
    }
  if (mode == MODE_INPAINT && mask == NULL)
    {
      g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_IMAGE, "inpainting needs a mask");
      return NULL;
    }
  if (mask != NULL && (mask->width != width || mask->height != height))
    {
      g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_IMAGE,
                   "the mask is %u×%u where the image is %u×%u", mask->width, mask->height,
                   width, height);
      return NULL;
    }
  if (!check_params (self, params, mode, width, height, error))
    return NULL;

  run.h = height / LATENT_SCALE;
  run.w = width / LATENT_SCALE;
  lk_rng_init (&run.rng, params->seed);
  sigmas = make_sigmas (self, params);
  if (mode != MODE_TXT2IMG)
    first = params->strength > 0
            ? lk_schedule_img2img_first_step (params->steps, params->strength, LK_IMG2IMG_A1111)
            : params->steps;
  run.n_steps = params->steps - first;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  /* Everything below records into the pipeline's stream; on failure it is drained so that the
   * next generation starts clean. */
  if (!encode_prompts (&run, error))
    goto out;

  if (mask != NULL)
    {
      g_autofree guint8 *gray = mask_gray (mask);

      blurred = lk_pipeline_blur_mask (gray, width, height, width, params->mask_blur);
    }
  if (image != NULL)
    {
      g_autofree float *planes = image_to_planes (image, NULL);

      if ((init = encode_planes (&run, planes, width, height, error)) == NULL)
        goto out;
    }
  if (blurred != NULL && !prepare_inpaint (&run, image, blurred, init, error))
    goto out;
  if (self->kind == LK_MODEL_KIND_SD1_INPAINT &&
      !prepare_image_cond (&run, image, blurred, width, height, error))
    goto out;

  /* The start latent: noise at the first sigma, over the encoded image for img2img. */
  if ((x = new_tensor (&run, 4, 1, LATENT_CHANNELS, run.h, run.w, error)) == NULL ||
      (noise = new_tensor (&run, 4, 1, LATENT_CHANNELS, run.h, run.w, error)) == NULL ||
      !lk_rng_normal_tensor (&run.rng, run.stream, noise, error))
    goto out;
  if (init == NULL)
    {
      if (!lk_op_scale (run.stream, noise, sigmas[0], x, error))
        goto out;
    }
  else if (run.n_steps == 0)
    {
      if (!lk_op_scale (run.stream, init, 1.0f, x, error))
        goto out;
    }
  else
    {
      g_autoptr(LkTensor) scaled = new_tensor (&run, 4, 1, LATENT_CHANNELS, run.h, run.w, error);

      if (scaled == NULL || !lk_op_scale (run.stream, noise, sigmas[first], scaled, error) ||
          !lk_op_add (run.stream, init, scaled, x, error))
        goto out;
    }

  if (run.hooks != NULL && run.hooks->begin != NULL &&
      !run.hooks->begin (self, run.stream, run.hooks->user_data, error))
    goto out;
  begun = run.hooks != NULL;

  if (run.n_steps > 0)
    {
      if ((run.c_in = new_tensor (&run, 4, run.batch, 1, 1, 1, error)) == NULL ||
          (run.timesteps = new_tensor (&run, 1, run.batch, 0, 0, 0, error)) == NULL ||
          (run.mix = new_tensor (&run, 2, 1, run.batch, 0, 0, error)) == NULL ||
          !lk_stream_finish (run.stream, error))
        goto out;
      sampler = lk_sampler_new (params->sampler, sigmas + first, params->steps + 1 - first);
      run.step_start = g_get_monotonic_time ();
      if (!lk_sampler_run (sampler, run.stream, x, denoise_cb, noise_cb, &run, cancellable,
                           error) ||
          !finish_step (&run, error))
        goto out;
    }

  /* A1111 blends the final latent once more before decoding. */
  if (run.nmask != NULL &&
      (!lk_op_mul (run.stream, x, run.nmask, run.blend, error) ||
       !lk_op_add (run.stream, run.blend, run.keep, x, error)))
    goto out;
  if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
      (decoded = lk_vae_decode (self->vae, run.stream, x, error)) == NULL)
    goto out;
  pixels = g_new (float, lk_tensor_numel (decoded));
  if (!lk_tensor_download_f32 (decoded, run.stream, pixels, error))
    goto out;
  result = planes_to_image (pixels, width, height);
  if (blurred != NULL)
    paste_back (result, image, blurred);
  ok = TRUE;

out:
  if (begun && run.hooks->end != NULL)
    run.hooks->end (self, run.stream, run.hooks->user_data);
  if (!ok)
    {
      g_clear_pointer (&result, lk_image_free);
      lk_stream_finish (run.stream, NULL);
    }
  run_clear (&run);
  return g_steal_pointer (&result);
}

static LkImage *
generate (LkPipeline             *self,
          const LkPipelineParams *params,
          Mode                    mode,
          const LkImage          *image,
          const LkImage          *mask,
          GCancellable           *cancellable,
          GError                **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);

  return generate_locked (self, params, mode, image, mask, cancellable, error);
}

LkImage *
lk_pipeline_txt2img (LkPipeline              *self,
                     const LkPipelineParams  *params,
                     GCancellable            *cancellable,
                     GError                 **error)
{
  g_return_val_if_fail (self != NULL && params != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);

  return generate (self, params, MODE_TXT2IMG, NULL, NULL, cancellable, error);
}

static gboolean
check_image (const LkImage  *image,
             const char     *what,
             GError        **error)
{
  if (image == NULL || image->width == 0 || image->height == 0 || image->data == NULL ||
      (image->channels != 1 && image->channels != 3 && image->channels != 4))
    {
      g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_IMAGE, "no %s given, or an empty "
                   "one", what);
      return FALSE;
    }
  return TRUE;
}

LkImage *
lk_pipeline_img2img (LkPipeline              *self,
                     const LkPipelineParams  *params,
                     const LkImage           *image,
                     GCancellable            *cancellable,
                     GError                 **error)
{
  g_return_val_if_fail (self != NULL && params != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);

  if (!check_image (image, "image", error))
    return NULL;
  return generate (self, params, MODE_IMG2IMG, image, NULL, cancellable, error);
}

LkImage *
lk_pipeline_inpaint (LkPipeline              *self,
                     const LkPipelineParams  *params,
                     const LkImage           *image,
                     const LkImage           *mask,
                     GCancellable            *cancellable,
                     GError                 **error)
{
  g_return_val_if_fail (self != NULL && params != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);

  if (!check_image (image, "image", error) || !check_image (mask, "mask to inpaint", error))
    return NULL;
  return generate (self, params, MODE_INPAINT, image, mask, cancellable, error);
}
