/* lk-schedule.c: the discrete DDPM schedule, its sigma table and sigma spacings
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-schedule"

#include "config.h"

#include <math.h>

#include "lk-schedule.h"

struct _LkSchedule
{
  guint   n;
  double *alphas_cumprod;  /* [n] */
  double *sigmas;          /* [n], ascending */
  double *log_sigmas;      /* [n] */
};

LkSchedule *
lk_schedule_new_scaled_linear (double beta_start,
                               double beta_end,
                               guint  n_train_steps)
{
  LkSchedule *self;
  double root_start = sqrt (beta_start), root_end = sqrt (beta_end), cumprod = 1.0;

  g_return_val_if_fail (n_train_steps >= 2, NULL);
  g_return_val_if_fail (beta_start > 0 && beta_end < 1, NULL);

  self = g_new0 (LkSchedule, 1);
  self->n = n_train_steps;
  self->alphas_cumprod = g_new (double, n_train_steps);
  self->sigmas = g_new (double, n_train_steps);
  self->log_sigmas = g_new (double, n_train_steps);
  for (guint t = 0; t < n_train_steps; t++)
    {
      double root = root_start + (root_end - root_start) * t / (n_train_steps - 1);

      cumprod *= 1.0 - root * root;
      self->alphas_cumprod[t] = cumprod;
      self->sigmas[t] = sqrt ((1.0 - cumprod) / cumprod);
      self->log_sigmas[t] = log (self->sigmas[t]);
    }
  return self;
}

LkSchedule *
lk_schedule_new_sd15 (void)
{
  return lk_schedule_new_scaled_linear (0.00085, 0.012, 1000);
}

void
lk_schedule_free (LkSchedule *self)
{
  if (self == NULL)
    return;
  g_free (self->alphas_cumprod);
  g_free (self->sigmas);
  g_free (self->log_sigmas);
  g_free (self);
}

guint
lk_schedule_get_n_train_steps (LkSchedule *self)
{
  return self->n;
}

double
lk_schedule_get_alpha_cumprod (LkSchedule *self,
                               guint       t)
{
  g_return_val_if_fail (t < self->n, NAN);
  return self->alphas_cumprod[t];
}

double
lk_schedule_get_sigma (LkSchedule *self,
                       guint       t)
{
  g_return_val_if_fail (t < self->n, NAN);
  return self->sigmas[t];
}

double
lk_schedule_get_sigma_min (LkSchedule *self)
{
  return self->sigmas[0];
}

double
lk_schedule_get_sigma_max (LkSchedule *self)
{
  return self->sigmas[self->n - 1];
}

double
lk_schedule_t_to_sigma (LkSchedule *self,
                        double      t)
{
  double low, w;
  guint lo, hi;

  t = CLAMP (t, 0.0, (double) (self->n - 1));
  low = floor (t);
  lo = (guint) low;
  hi = (guint) ceil (t);
  w = t - low;
  return exp ((1.0 - w) * self->log_sigmas[lo] + w * self->log_sigmas[hi]);
}

double
lk_schedule_sigma_to_t (LkSchedule *self,
                        double      sigma)
{
  double log_sigma = log (sigma), w;
  guint lo = 0;

  g_return_val_if_fail (sigma > 0, 0.0);

  /* The last table entry at or below log σ, kept below n − 1 so that lo + 1 exists; below the
   * table that is entry 0 and the weight clamps to t = 0. */
  while (lo + 1 < self->n && self->log_sigmas[lo + 1] <= log_sigma)
    lo++;
  lo = MIN (lo, self->n - 2);
  w = (self->log_sigmas[lo] - log_sigma) / (self->log_sigmas[lo] - self->log_sigmas[lo + 1]);
  w = CLAMP (w, 0.0, 1.0);
  return (1.0 - w) * lo + w * (lo + 1);
}

double *
lk_schedule_sigmas_default (LkSchedule *self,
                            guint       steps)
{
  double *sigmas;
  double t_max = self->n - 1;

  g_return_val_if_fail (steps >= 1, NULL);

  sigmas = g_new (double, steps + 1);
  for (guint i = 0; i < steps; i++)
    {
      /* torch.linspace(t_max, 0, steps); one step is t_max alone. */
      double t = steps == 1 ? t_max : t_max - t_max * i / (steps - 1);

      sigmas[i] = lk_schedule_t_to_sigma (self, t);
    }
  sigmas[steps] = 0.0;
  return sigmas;
}

double *
lk_schedule_sigmas_karras (LkSchedule *self,
                           guint       steps,
                           double      rho)
{
  double *sigmas;
  double min_inv_rho = pow (lk_schedule_get_sigma_min (self), 1.0 / rho);
  double max_inv_rho = pow (lk_schedule_get_sigma_max (self), 1.0 / rho);

  g_return_val_if_fail (steps >= 1, NULL);
  g_return_val_if_fail (rho > 0, NULL);

  sigmas = g_new (double, steps + 1);
  for (guint i = 0; i < steps; i++)
    {
      double ramp = steps == 1 ? 0.0 : (double) i / (steps - 1);

      sigmas[i] = pow (max_inv_rho + ramp * (min_inv_rho - max_inv_rho), rho);
    }
  sigmas[steps] = 0.0;
  return sigmas;
}

guint *
lk_schedule_ddim_timesteps (LkSchedule *self,
                            guint       steps)
{
  guint *timesteps;
  guint ratio;

  g_return_val_if_fail (steps >= 1 && steps <= self->n, NULL);

  ratio = self->n / steps;
  timesteps = g_new (guint, steps);
  for (guint i = 0; i < steps; i++)
    timesteps[i] = MIN ((steps - 1 - i) * ratio + 1, self->n - 1);
  return timesteps;
}

double *
lk_schedule_sigmas_ddim (LkSchedule *self,
                         guint       steps)
{
  g_autofree guint *timesteps = lk_schedule_ddim_timesteps (self, steps);
  double *sigmas;

  g_return_val_if_fail (timesteps != NULL, NULL);

  sigmas = g_new (double, steps + 1);
  for (guint i = 0; i < steps; i++)
    sigmas[i] = self->sigmas[timesteps[i]];
  sigmas[steps] = 0.0;
  return sigmas;
}

guint
lk_schedule_img2img_first_step (guint         steps,
                                double        strength,
                                LkImg2ImgRule rule)
{
  guint run;

  g_return_val_if_fail (steps >= 1, 0);

  strength = CLAMP (strength, 0.0, 1.0);
  switch (rule)
    {
    case LK_IMG2IMG_A1111:
      run = (guint) (MIN (strength, 0.999) * steps);
      return steps - run - 1;
    case LK_IMG2IMG_DIFFUSERS:
      run = MIN ((guint) (strength * steps), steps);
      return steps - run;
    default:
      g_return_val_if_reached (0);
    }
}
