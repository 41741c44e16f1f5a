/* lk-sampler.h: k-diffusion's samplers stepping a latent on the device
 *
 * A sampler walks a descending sigma sequence (lk-schedule.h) of steps + 1 values ending in 0.
 * At each step the caller evaluates the model at the current sigma — denoised = x − σ·ε̂ with
 * classifier-free guidance already combined (lk_cfg_combine()) — and the sampler moves x to the
 * next sigma. Every step of every sampler here is one linear combination
 *   x ← c_x·x + c_d·denoised + c_o·previous denoised + c_n·noise
 * whose coefficients lk_sampler_coefficients() computes in double on the host; the device applies
 * them with elementwise ops in f32, and lk_sampler_ref_step() applies them in double for tests.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-tensor.h"

G_BEGIN_DECLS

#define LK_SAMPLER_ERROR (lk_sampler_error_quark ())

typedef enum
{
  LK_SAMPLER_ERROR_INVALID,
} LkSamplerError;

GQuark lk_sampler_error_quark (void);

/* As k-diffusion defines them (sample_euler, sample_euler_ancestral, sample_dpmpp_2m,
 * sample_dpmpp_2m_sde, sample_lcm), with default settings: no churn, eta 1 for the ancestral
 * and SDE samplers, s_noise 1, the midpoint solver for 2M SDE.
 * DPM++ 2M SDE draws fresh standard normal noise at each step where k-diffusion (and A1111) use
 * a Brownian tree seeded from the seed: the increments of a Brownian motion over disjoint
 * intervals are independent normals, so the distribution is the same, but the numbers differ
 * from A1111's for the same seed, and the Brownian tree's property that a finer schedule
 * refines the same path is lost.
 * DDIM (eta 0) is ldm's deterministic DDIM step, x₀ + σ_next·ε̂ in sigma space, on the DDIM
 * sigmas (lk_schedule_sigmas_ddim()); algebraically the same as Euler there.
 * LCM is the consistency sampler as ComfyUI and A1111 run it: x ← denoised + σ_next·noise,
 * without the LCM scheduler's boundary-condition scalings (c_skip ≤ 0.0025 for t ≥ 1). */
typedef enum
{
  LK_SAMPLER_EULER,
  LK_SAMPLER_EULER_ANCESTRAL,
  LK_SAMPLER_DPMPP_2M,
  LK_SAMPLER_DPMPP_2M_SDE,
  LK_SAMPLER_DDIM,
  LK_SAMPLER_LCM,
  LK_N_SAMPLERS
} LkSamplerKind;

/* "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_sde", "ddim", "lcm". */
const char *lk_sampler_kind_to_string  (LkSamplerKind   kind);
gboolean    lk_sampler_kind_from_string (const char     *name,
                                         LkSamplerKind  *kind);

typedef struct
{
  double x;
  double denoised;
  double old_denoised;  /* the previous step's denoised; 0 at the first step */
  double noise;         /* times a fresh standard normal; 0 when the step needs none */
} LkSamplerCoefficients;

/* The step from sigmas[i] to sigmas[i + 1]; @sigmas is the sampler's whole sequence, so that
 * multistep samplers see the earlier sigmas and know i = 0 has no history. */
void        lk_sampler_coefficients    (LkSamplerKind           kind,
                                        const double           *sigmas,
                                        guint                   n_sigmas,
                                        guint                   i,
                                        LkSamplerCoefficients  *out);
/* The same step in double on host arrays of n elements; old_denoised and noise may be NULL
 * when their coefficients are 0. */
void        lk_sampler_ref_step        (LkSamplerKind           kind,
                                        const double           *sigmas,
                                        guint                   n_sigmas,
                                        guint                   i,
                                        double                 *x,
                                        const double           *denoised,
                                        const double           *old_denoised,
                                        const double           *noise,
                                        gsize                   n);

typedef struct _LkSampler LkSampler;

/* @sigmas: n_sigmas ≥ 2 values, descending, copied. For img2img pass the tail from
 * lk_schedule_img2img_first_step(). */
LkSampler  *lk_sampler_new             (LkSamplerKind   kind,
                                        const double   *sigmas,
                                        guint           n_sigmas);
void        lk_sampler_free            (LkSampler      *self);

LkSamplerKind lk_sampler_get_kind      (LkSampler      *self);
guint       lk_sampler_get_n_steps     (LkSampler      *self);
/* Steps taken so far. */
guint       lk_sampler_get_step        (LkSampler      *self);
gboolean    lk_sampler_is_done         (LkSampler      *self);
/* The sigma the model is evaluated at for the next step. */
double      lk_sampler_get_sigma       (LkSampler      *self);
/* Whether the next step wants a noise tensor. */
gboolean    lk_sampler_needs_noise     (LkSampler      *self);

/* Records one step into @stream: x (f32, contiguous) is replaced by x at the next sigma.
 * denoised is the model's output at lk_sampler_get_sigma() and is only read; noise (standard
 * normal, x's shape) must be given when lk_sampler_needs_noise(), else it may be NULL. The
 * sampler keeps its own copy of denoised for the multistep samplers, and its scratch tensors,
 * made on the first step for x's shape. */
gboolean    lk_sampler_step            (LkSampler      *self,
                                        LkStream       *stream,
                                        LkTensor       *x,
                                        LkTensor       *denoised,
                                        LkTensor       *noise,
                                        GError        **error);

/* The model: writes denoised (x's shape) for x at sigma; CFG combined. */
typedef gboolean (*LkDenoiseFunc) (LkStream   *stream,
                                   LkTensor   *x,
                                   double      sigma,
                                   LkTensor   *denoised,
                                   gpointer    user_data,
                                   GError    **error);
/* Fills noise with standard normals, e.g. lk_rng_normal_tensor(). */
typedef gboolean (*LkNoiseFunc)   (LkStream   *stream,
                                   LkTensor   *noise,
                                   gpointer    user_data,
                                   GError    **error);

/* Runs the remaining steps, checking @cancellable between them. The stream is submitted after
 * each step so that long runs don't pile up one huge batch. */
gboolean    lk_sampler_run             (LkSampler      *self,
                                        LkStream       *stream,
                                        LkTensor       *x,
                                        LkDenoiseFunc   denoise,
                                        LkNoiseFunc     noise,
                                        gpointer        user_data,
                                        GCancellable   *cancellable,
                                        GError        **error);

/* out = uncond + scale·(cond − uncond), all the same shape, out distinct from the inputs. */
gboolean    lk_cfg_combine             (LkStream       *stream,
                                        LkTensor       *uncond,
                                        LkTensor       *cond,
                                        double          scale,
                                        LkTensor       *out,
                                        GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkSampler, lk_sampler_free)

G_END_DECLS
