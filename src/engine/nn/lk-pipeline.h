/* lk-pipeline.h: Stable Diffusion 1.x txt2img, img2img and inpainting, as A1111 runs them
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A pipeline holds the text encoder, UNet and autoencoder of one checkpoint on the device and
 * runs k-diffusion's samplers over them: the prompt and the negative prompt go through CLIP in
 * 75-token chunks with A1111's emphasis, each step evaluates the UNet once for both (classifier-
 * free guidance as a batch of 2), and the latent is decoded into an RGB image.
 */
#pragma once

#include <gio/gio.h>

#include "lk-clip.h"
#include "lk-image.h"
#include "lk-model-kind.h"
#include "lk-sampler.h"
#include "lk-tokenizer.h"
#include "lk-unet.h"
#include "lk-vae.h"

G_BEGIN_DECLS

#define LK_PIPELINE_ERROR (lk_pipeline_error_quark ())

typedef enum
{
  LK_PIPELINE_ERROR_INVALID,  /* a parameter out of range: size, steps, strength, clip skip… */
  LK_PIPELINE_ERROR_IMAGE,    /* an input image or mask missing or not fitting the parameters */
  LK_PIPELINE_ERROR_MODEL,    /* the modules do not fit together (text width ≠ UNet context) */
} LkPipelineError;

GQuark lk_pipeline_error_quark (void);

typedef struct _LkPipeline LkPipeline;

/* One UNet evaluation, as LkPipelineHooks.unet_forward sees it; everything is borrowed. */
typedef struct
{
  guint      step;       /* 0-based, of n_steps */
  guint      n_steps;
  double     sigma;
  /* [B, in_channels, h, w]: the latent times c_in = 1/√(σ² + 1), followed for the 9-channel
   * inpainting UNet by the mask and the masked image's latent. B is 2 with classifier-free
   * guidance (batch 0 for the prompt, 1 for the negative prompt), 1 when cfg_scale is 1. */
  LkTensor  *x;
  LkTensor  *timesteps;  /* [B] */
  LkTensor  *context;    /* [B, 77 · chunks, text width] */
} LkPipelineStep;

/* Where extra conditioning plugs in without changing the sampling loop: a ControlNet runs its
 * forward in unet_forward and hands its residuals to the UNet; a LoRA merges in begin and
 * restores in end. Every member may be NULL. */
typedef struct
{
  /* Once per generation, before the first step (prompts encoded, start latent made). */
  gboolean   (*begin)         (LkPipeline            *pipeline,
                               LkStream              *stream,
                               gpointer               user_data,
                               GError               **error);
  /* Records the noise prediction ε̂ [B, 4, h, w] (f32) for @step into @stream, in place of
   * lk_unet_forward (lk_pipeline_get_unet (pipeline), stream, step->x, step->timesteps,
   * step->context, error). */
  LkTensor  *(*unet_forward)  (LkPipeline            *pipeline,
                               LkStream              *stream,
                               const LkPipelineStep  *step,
                               gpointer               user_data,
                               GError               **error);
  /* After the last step, or when the generation fails or is cancelled after begin succeeded. */
  void       (*end)           (LkPipeline            *pipeline,
                               LkStream              *stream,
                               gpointer               user_data);
  gpointer     user_data;
} LkPipelineHooks;

/* After each step: seconds that step took, waiting for the device included. */
typedef void (*LkPipelineProgressFunc) (guint     step,
                                        guint     n_steps,
                                        double    seconds_per_step,
                                        gpointer  user_data);

typedef struct
{
  const char              *prompt;
  const char              *negative_prompt;  /* NULL: "" */
  guint                    steps;            /* 1…1000; img2img runs a part of them */
  double                   cfg_scale;        /* 1: no guidance, and no negative-prompt pass */
  LkSamplerKind            sampler;
  gboolean                 karras;           /* Karras sigmas (ignored by DDIM) */
  guint64                  seed;             /* Philox noise (lk-rng.h): the same on every device */
  /* Multiples of 64, 64…4096 (the UNet needs latents of multiples of 8). txt2img's size;
   * img2img and inpaint take the image's own size, which must then be this one unless both
   * are 0. */
  guint                    width, height;
  double                   strength;         /* img2img / inpaint: 0 keeps the image, 1 redraws */
  guint                    clip_skip;        /* 1: CLIP's last layer, 2: the one before… */
  guint                    mask_blur;        /* inpaint: Gaussian σ in pixels (A1111's 4) */
  const LkPipelineHooks   *hooks;            /* NULL: none */
  LkPipelineProgressFunc   progress;
  gpointer                 progress_data;
} LkPipelineParams;

/* A1111's defaults: 20 steps, CFG 7, Euler a, 512×512, strength 0.75, clip skip 1, mask blur 4,
 * seed 0, no prompt. */
void          lk_pipeline_params_init      (LkPipelineParams       *params);

/* Loads the three modules of @files (and its separate VAE, when it has one) onto @context's
 * device and keeps @tokenizer. */
LkPipeline   *lk_pipeline_new              (LkContext              *context,
                                            LkModelFiles           *files,
                                            LkTokenizer            *tokenizer,
                                            GError                **error);
/* The same from one file whose tensors carry their canonical LDM names (lk-model-kind.h), with no
 * check of the model kind beyond what the modules check: any configuration they accept, as the
 * tests' tiny checkpoints. @vae_weights, when not NULL, replaces the file's autoencoder (names
 * with first_stage_model.). */
LkPipeline   *lk_pipeline_new_for_weights  (LkContext              *context,
                                            LkWeights              *weights,
                                            LkWeights              *vae_weights,
                                            LkTokenizer            *tokenizer,
                                            GError                **error);
LkPipeline   *lk_pipeline_ref              (LkPipeline             *self);
void          lk_pipeline_unref            (LkPipeline             *self);

/* LK_MODEL_KIND_SD1_INPAINT when the UNet takes 9 channels. */
LkModelKind       lk_pipeline_get_kind       (LkPipeline           *self);
LkUnet           *lk_pipeline_get_unet       (LkPipeline           *self);
LkClipTextModel  *lk_pipeline_get_text_model (LkPipeline           *self);
LkVae            *lk_pipeline_get_vae        (LkPipeline           *self);
LkContext        *lk_pipeline_get_context    (LkPipeline           *self);

/* Each returns a new RGB image, or NULL with @error set (G_IO_ERROR_CANCELLED when @cancellable
 * fired; it is checked between steps). One generation at a time per pipeline.
 *
 * img2img (A1111): the image is encoded (the posterior's mean), noised to the first sigma of the
 * schedule's tail that lk_schedule_img2img_first_step() gives for the strength, and sampled from
 * there; strength 0 runs no step and returns the image through the autoencoder.
 *
 * inpaint (A1111, "original" fill, whole picture): the mask (gray, white = repaint, the image's
 * size; RGBA images use their alpha) is blurred by a Gaussian of σ = mask_blur. For the 4-channel
 * UNet, and also for the 9-channel one as A1111 does, each step's denoised latent is blended
 * with the encoded image outside the mask at latent resolution (the blurred mask averaged over
 * 8×8 blocks and rounded); the 9-channel UNet also gets the rounded mask and the latent of the
 * image with the masked area grey. After decoding, the result is composited over the original
 * through the blurred mask, so pixels where it is 0 keep their exact original value. */
LkImage      *lk_pipeline_txt2img          (LkPipeline             *self,
                                            const LkPipelineParams *params,
                                            GCancellable           *cancellable,
                                            GError                **error);
LkImage      *lk_pipeline_img2img          (LkPipeline             *self,
                                            const LkPipelineParams *params,
                                            const LkImage          *image,
                                            GCancellable           *cancellable,
                                            GError                **error);
LkImage      *lk_pipeline_inpaint          (LkPipeline             *self,
                                            const LkPipelineParams *params,
                                            const LkImage          *image,
                                            const LkImage          *mask,
                                            GCancellable           *cancellable,
                                            GError                **error);

/* The mask blur on the host, as A1111 blurs inpainting masks: cv2.GaussianBlur of an 8-bit mask
 * along x with a kernel of 2·⌊2.5σ + 0.5⌋ + 1 taps and σ, then along y, borders reflected
 * (BORDER_REFLECT_101), in OpenCV's bit-exact fixed point. Returns a new packed width × height
 * mask. */
guint8       *lk_pipeline_blur_mask        (const guint8           *mask,
                                            guint                   width,
                                            guint                   height,
                                            gsize                   stride,
                                            double                  sigma);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkPipeline, lk_pipeline_unref)

G_END_DECLS
