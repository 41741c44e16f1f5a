/* lk-sampler.c: the samplers' step coefficients and their application on the device
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-sampler"

#include "config.h"

#include <math.h>
#include <string.h>

#include "lk-ops.h"
#include "lk-sampler.h"

G_DEFINE_QUARK (lk-sampler-error-quark, lk_sampler_error)

static const char * const kind_names[] = {
  [LK_SAMPLER_EULER] = "euler",
  [LK_SAMPLER_EULER_ANCESTRAL] = "euler_a",
  [LK_SAMPLER_DPMPP_2M] = "dpmpp_2m",
  [LK_SAMPLER_DPMPP_2M_SDE] = "dpmpp_2m_sde",
  [LK_SAMPLER_DDIM] = "ddim",
  [LK_SAMPLER_LCM] = "lcm",
};

G_STATIC_ASSERT (G_N_ELEMENTS (kind_names) == LK_N_SAMPLERS);

const char *
lk_sampler_kind_to_string (LkSamplerKind kind)
{
  g_return_val_if_fail (kind < LK_N_SAMPLERS, NULL);
  return kind_names[kind];
}

gboolean
lk_sampler_kind_from_string (const char    *name,
                             LkSamplerKind *kind)
{
  g_return_val_if_fail (name != NULL, FALSE);

  for (guint k = 0; k < LK_N_SAMPLERS; k++)
    if (g_str_equal (name, kind_names[k]))
      {
        *kind = k;
        return TRUE;
      }
  return FALSE;
}

/* Multistep samplers: the step after the first also uses the previous denoised. */
static gboolean
kind_is_multistep (LkSamplerKind kind)
{
  return kind == LK_SAMPLER_DPMPP_2M || kind == LK_SAMPLER_DPMPP_2M_SDE;
}

void
lk_sampler_coefficients (LkSamplerKind          kind,
                         const double          *sigmas,
                         guint                  n_sigmas,
                         guint                  i,
                         LkSamplerCoefficients *out)
{
  double sigma, next, h, h_last, r, a, up, down;

  g_return_if_fail (kind < LK_N_SAMPLERS);
  g_return_if_fail (i + 1 < n_sigmas);

  sigma = sigmas[i];
  next = sigmas[i + 1];
  *out = (LkSamplerCoefficients) { 0, 0, 0, 0 };

  /* Every sampler's last step to σ = 0 lands on the model's estimate. */
  if (next <= 0.0)
    {
      out->denoised = 1.0;
      return;
    }

  /* h: the step in λ = −log σ; h_last: the previous one (only read when i > 0). */
  h = log (sigma / next);
  h_last = i > 0 ? log (sigmas[i - 1] / sigma) : 0.0;

  switch (kind)
    {
    case LK_SAMPLER_EULER:
    case LK_SAMPLER_DDIM:
      /* x + (σ_next − σ)·(x − denoised)/σ; DDIM's x₀ + σ_next·ε̂ is the same combination. */
      out->x = next / sigma;
      out->denoised = 1.0 - next / sigma;
      break;

    case LK_SAMPLER_EULER_ANCESTRAL:
      /* eta 1: an Euler step down to σ_down, then noise back up to σ_next. */
      up = MIN (next, sqrt (next * next * (sigma * sigma - next * next) / (sigma * sigma)));
      down = sqrt (next * next - up * up);
      out->x = down / sigma;
      out->denoised = 1.0 - down / sigma;
      out->noise = up;
      break;

    case LK_SAMPLER_DPMPP_2M:
      out->x = next / sigma;
      a = -expm1 (-h);
      if (i == 0)
        out->denoised = a;
      else
        {
          r = h_last / h;
          out->denoised = a * (1.0 + 1.0 / (2.0 * r));
          out->old_denoised = -a / (2.0 * r);
        }
      break;

    case LK_SAMPLER_DPMPP_2M_SDE:
      /* eta 1: the exponential integrator over 2h, with fresh noise of variance 1 − e^(−2h). */
      a = -expm1 (-2.0 * h);
      out->x = next / sigma * exp (-h);
      out->denoised = a;
      if (i > 0)
        {
          /* Midpoint correction: half of a·(denoised − old)/r. */
          r = h_last / h;
          out->denoised += 0.5 * a / r;
          out->old_denoised = -0.5 * a / r;
        }
      out->noise = next * sqrt (a);
      break;

    case LK_SAMPLER_LCM:
      out->denoised = 1.0;
      out->noise = next;
      break;

    default:
      g_assert_not_reached ();
    }
}

void
lk_sampler_ref_step (LkSamplerKind  kind,
                     const double  *sigmas,
                     guint          n_sigmas,
                     guint          i,
                     double        *x,
                     const double  *denoised,
                     const double  *old_denoised,
                     const double  *noise,
                     gsize          n)
{
  LkSamplerCoefficients c;

  lk_sampler_coefficients (kind, sigmas, n_sigmas, i, &c);
  g_return_if_fail (c.old_denoised == 0 || old_denoised != NULL);
  g_return_if_fail (c.noise == 0 || noise != NULL);

  for (gsize e = 0; e < n; e++)
    {
      double v = c.x * x[e] + c.denoised * denoised[e];

      if (c.old_denoised != 0)
        v += c.old_denoised * old_denoised[e];
      if (c.noise != 0)
        v += c.noise * noise[e];
      x[e] = v;
    }
}

struct _LkSampler
{
  LkSamplerKind  kind;
  double        *sigmas;
  guint          n_sigmas;
  guint          step;

  /* owned, made on the first step */
  LkTensor      *old_denoised;
  LkTensor      *scratch[3];
};

LkSampler *
lk_sampler_new (LkSamplerKind  kind,
                const double  *sigmas,
                guint          n_sigmas)
{
  LkSampler *self;

  g_return_val_if_fail (kind < LK_N_SAMPLERS, NULL);
  g_return_val_if_fail (sigmas != NULL && n_sigmas >= 2, NULL);
  for (guint i = 0; i + 1 < n_sigmas; i++)
    g_return_val_if_fail (sigmas[i] > 0 && sigmas[i + 1] < sigmas[i], NULL);

  self = g_new0 (LkSampler, 1);
  self->kind = kind;
  self->sigmas = g_memdup2 (sigmas, n_sigmas * sizeof (double));
  self->n_sigmas = n_sigmas;
  return self;
}

void
lk_sampler_free (LkSampler *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->old_denoised, lk_tensor_unref);
  for (guint s = 0; s < G_N_ELEMENTS (self->scratch); s++)
    g_clear_pointer (&self->scratch[s], lk_tensor_unref);
  g_free (self->sigmas);
  g_free (self);
}

LkSamplerKind
lk_sampler_get_kind (LkSampler *self)
{
  return self->kind;
}

guint
lk_sampler_get_n_steps (LkSampler *self)
{
  return self->n_sigmas - 1;
}

guint
lk_sampler_get_step (LkSampler *self)
{
  return self->step;
}

gboolean
lk_sampler_is_done (LkSampler *self)
{
  return self->step + 1 >= self->n_sigmas;
}

double
lk_sampler_get_sigma (LkSampler *self)
{
  return self->sigmas[MIN (self->step, self->n_sigmas - 1)];
}

gboolean
lk_sampler_needs_noise (LkSampler *self)
{
  LkSamplerCoefficients c;

  if (lk_sampler_is_done (self))
    return FALSE;
  lk_sampler_coefficients (self->kind, self->sigmas, self->n_sigmas, self->step, &c);
  return c.noise != 0;
}

static LkTensor *
new_like (LkTensor  *like,
          GError   **error)
{
  return lk_tensor_new (lk_tensor_get_context (like), LK_DTYPE_F32, like->ndim, like->shape, error);
}

static gboolean
ensure_scratch (LkSampler  *self,
                LkTensor   *x,
                GError    **error)
{
  if (self->scratch[0] != NULL)
    {
      if (!lk_tensor_same_shape (self->scratch[0], x))
        {
          g_set_error (error, LK_SAMPLER_ERROR, LK_SAMPLER_ERROR_INVALID,
                       "latent changed shape between sampler steps");
          return FALSE;
        }
      return TRUE;
    }
  for (guint s = 0; s < G_N_ELEMENTS (self->scratch); s++)
    if ((self->scratch[s] = new_like (x, error)) == NULL)
      return FALSE;
  if (kind_is_multistep (self->kind) && (self->old_denoised = new_like (x, error)) == NULL)
    return FALSE;
  return TRUE;
}

static gboolean
check_operand (LkTensor    *x,
               LkTensor    *t,
               const char  *name,
               GError     **error)
{
  if (t == x || !lk_tensor_same_shape (t, x))
    {
      g_set_error (error, LK_SAMPLER_ERROR, LK_SAMPLER_ERROR_INVALID,
                   "sampler step: %s must be a tensor of x's shape other than x", name);
      return FALSE;
    }
  return TRUE;
}

gboolean
lk_sampler_step (LkSampler  *self,
                 LkStream   *stream,
                 LkTensor   *x,
                 LkTensor   *denoised,
                 LkTensor   *noise,
                 GError    **error)
{
  LkSamplerCoefficients c;
  LkTensor *terms[4];
  double coefs[4];
  guint n_terms = 0;
  LkTensor *acc, *scaled, *sum;

  g_return_val_if_fail (self != NULL && stream != NULL && x != NULL && denoised != NULL, FALSE);

  if (lk_sampler_is_done (self))
    {
      g_set_error (error, LK_SAMPLER_ERROR, LK_SAMPLER_ERROR_INVALID,
                   "sampler step after the last one");
      return FALSE;
    }
  if (x->dtype != LK_DTYPE_F32 || !lk_tensor_is_contiguous (x))
    {
      g_set_error (error, LK_SAMPLER_ERROR, LK_SAMPLER_ERROR_INVALID,
                   "sampler step: x must be contiguous f32");
      return FALSE;
    }
  if (!check_operand (x, denoised, "denoised", error) || !ensure_scratch (self, x, error))
    return FALSE;

  lk_sampler_coefficients (self->kind, self->sigmas, self->n_sigmas, self->step, &c);
  if (c.noise != 0 && (noise == NULL || !check_operand (x, noise, "noise", error)))
    {
      if (noise == NULL)
        g_set_error (error, LK_SAMPLER_ERROR, LK_SAMPLER_ERROR_INVALID,
                     "%s needs noise at step %u", kind_names[self->kind], self->step);
      return FALSE;
    }

  /* x first, so that it is read only by the first dispatch and the last one may write it. */
  if (c.x != 0)
    terms[n_terms] = x, coefs[n_terms++] = c.x;
  if (c.denoised != 0)
    terms[n_terms] = denoised, coefs[n_terms++] = c.denoised;
  if (c.old_denoised != 0)
    terms[n_terms] = self->old_denoised, coefs[n_terms++] = c.old_denoised;
  if (c.noise != 0)
    terms[n_terms] = noise, coefs[n_terms++] = c.noise;
  g_assert (n_terms >= 1);

  acc = n_terms == 1 && terms[0] != x ? x : self->scratch[0];
  if (!lk_op_unary (stream, LK_UNARY_IDENTITY, terms[0], coefs[0], 0.0f, acc, error))
    return FALSE;
  scaled = self->scratch[1];
  sum = self->scratch[2];
  for (guint k = 1; k < n_terms; k++)
    {
      LkTensor *target = k + 1 == n_terms ? x : sum;

      if (!lk_op_unary (stream, LK_UNARY_IDENTITY, terms[k], coefs[k], 0.0f, scaled, error) ||
          !lk_op_add (stream, acc, scaled, target, error))
        return FALSE;
      sum = acc;
      acc = target;
    }
  if (acc != x && !lk_op_unary (stream, LK_UNARY_IDENTITY, acc, 1.0f, 0.0f, x, error))
    return FALSE;

  if (self->old_denoised != NULL &&
      !lk_op_unary (stream, LK_UNARY_IDENTITY, denoised, 1.0f, 0.0f, self->old_denoised, error))
    return FALSE;

  self->step++;
  return TRUE;
}

gboolean
lk_sampler_run (LkSampler     *self,
                LkStream      *stream,
                LkTensor      *x,
                LkDenoiseFunc  denoise,
                LkNoiseFunc    noise_func,
                gpointer       user_data,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(LkTensor) denoised = NULL;
  g_autoptr(LkTensor) noise = NULL;

  g_return_val_if_fail (denoise != NULL, FALSE);

  if ((denoised = new_like (x, error)) == NULL)
    return FALSE;

  while (!lk_sampler_is_done (self))
    {
      gboolean wants_noise = lk_sampler_needs_noise (self);

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (!denoise (stream, x, lk_sampler_get_sigma (self), denoised, user_data, error))
        return FALSE;
      if (wants_noise)
        {
          if (noise_func == NULL)
            {
              g_set_error (error, LK_SAMPLER_ERROR, LK_SAMPLER_ERROR_INVALID,
                           "%s needs a noise source", kind_names[self->kind]);
              return FALSE;
            }
          if (noise == NULL && (noise = new_like (x, error)) == NULL)
            return FALSE;
          if (!noise_func (stream, noise, user_data, error))
            return FALSE;
        }
      if (!lk_sampler_step (self, stream, x, denoised, wants_noise ? noise : NULL, error) ||
          !lk_stream_submit (stream, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
lk_cfg_combine (LkStream  *stream,
                LkTensor  *uncond,
                LkTensor  *cond,
                double     scale,
                LkTensor  *out,
                GError   **error)
{
  g_autoptr(LkTensor) difference = NULL;
  g_autoptr(LkTensor) scaled = NULL;

  g_return_val_if_fail (out != uncond && out != cond, FALSE);

  if ((difference = new_like (out, error)) == NULL || (scaled = new_like (out, error)) == NULL)
    return FALSE;
  return lk_op_binary (stream, LK_BINARY_SUB, cond, uncond, difference, error) &&
         lk_op_unary (stream, LK_UNARY_IDENTITY, difference, scale, 0.0f, scaled, error) &&
         lk_op_add (stream, uncond, scaled, out, error);
}
