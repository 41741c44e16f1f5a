/* lk-schedule.h: Stable Diffusion's noise schedule and the sigma sequences samplers walk
 *
 * Samplers work in k-diffusion's variance-exploding form: x = x₀ + σ·ε with
 * σ = √((1 − ᾱ)/ᾱ); the ε-predicting UNet sees x·c_in with c_in = 1/√(σ² + 1) at timestep
 * lk_schedule_sigma_to_t (σ), and denoised = x − σ·ε̂.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _LkSchedule LkSchedule;

/* SD1.x's "scaled linear" β: linspace(√0.00085, √0.012, 1000)², in double throughout (ldm
 * computes ᾱ in float64 and stores it as float32; the difference is ~1e-7 relative). */
LkSchedule   *lk_schedule_new_sd15             (void);
LkSchedule   *lk_schedule_new_scaled_linear    (double          beta_start,
                                                double          beta_end,
                                                guint           n_train_steps);
void          lk_schedule_free                 (LkSchedule     *self);

guint         lk_schedule_get_n_train_steps    (LkSchedule     *self);
double        lk_schedule_get_alpha_cumprod    (LkSchedule     *self,
                                                guint           t);
/* σ at integer timestep t. */
double        lk_schedule_get_sigma            (LkSchedule     *self,
                                                guint           t);
double        lk_schedule_get_sigma_min        (LkSchedule     *self);
double        lk_schedule_get_sigma_max        (LkSchedule     *self);

/* k-diffusion's DiscreteSchedule: a fractional t interpolates log σ linearly between its
 * neighbours; σ → t inverts that, clamped to [0, n − 1] outside the table (not quantized, as
 * A1111's default). */
double        lk_schedule_t_to_sigma           (LkSchedule     *self,
                                                double          t);
double        lk_schedule_sigma_to_t           (LkSchedule     *self,
                                                double          sigma);

/* Sigma sequences of steps + 1 values, descending, ending in 0; g_free() them.
 * Default: k-diffusion's get_sigmas (A1111's "Uniform" scheduler, what "Automatic" means for
 * Euler, Euler a and DPM++ 2M), σ(t) at t = linspace(n − 1, 0, steps).
 * Karras et al. (2022): σ_max^(1/ρ) … σ_min^(1/ρ) evenly spaced, raised to ρ; σ_min/σ_max are
 * the schedule's (0.0292/14.6146 for SD1.5) and ρ is 7 as everywhere.
 * DDIM: σ at lk_schedule_ddim_timesteps(), then 0. */
double       *lk_schedule_sigmas_default       (LkSchedule     *self,
                                                guint           steps);
double       *lk_schedule_sigmas_karras        (LkSchedule     *self,
                                                guint           steps,
                                                double          rho);
double       *lk_schedule_sigmas_ddim          (LkSchedule     *self,
                                                guint           steps);
/* DDIM's "leading" spacing with offset 1 (SD1.5's diffusers config; ldm's "uniform" gives the
 * same when steps divides 1000): t_i = (steps − 1 − i)·⌊n/steps⌋ + 1, descending, exactly
 * @steps of them. The last DDIM step goes to σ = 0 (diffusers' set_alpha_to_one = True) where
 * SD1.5's config stops at ᾱ₀, σ = 0.029: invisible after the VAE, and it lets DDIM share the
 * sigma-space sampler. g_free() the result. */
guint        *lk_schedule_ddim_timesteps       (LkSchedule     *self,
                                                guint           steps);

/* img2img: which part of a @steps-step sigma sequence runs for a denoising strength.
 * A1111 (sd-webui, which EasyPhoto drives): t_enc = ⌊min(strength, 0.999)·steps⌋ and the
 * sampler gets sigmas[steps − t_enc − 1 …], so t_enc + 1 steps run (50 steps at 0.45 run 23)
 * and the init latent is noised to that first sigma. Diffusers (EasyPhoto's diffusers edition):
 * ⌊strength·steps⌋ steps run, from sigmas[steps − that]. We default to A1111's rule because
 * EasyPhoto's published defaults were tuned on it. Returns the index of the first sigma. */
typedef enum
{
  LK_IMG2IMG_A1111,
  LK_IMG2IMG_DIFFUSERS,
} LkImg2ImgRule;

guint         lk_schedule_img2img_first_step   (guint           steps,
                                                double          strength,
                                                LkImg2ImgRule   rule);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkSchedule, lk_schedule_free)

G_END_DECLS
