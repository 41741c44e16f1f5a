/* lk-lora-step.c: the optimizer step of LoRA training, shared by the UNet's and the text
 * encoder's layers
 *
 * The statistics (Σ g², the count of infs and NaNs over every gradient) are read back before any
 * AdamW is recorded, so a skipped step records nothing, and an overflow of Σ g² itself (finite
 * gradients whose squares pass f32's range) counts as one too instead of clipping everything to
 * zero.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-train"

#include "config.h"

#include <math.h>

#include "lk-lora-step.h"

#define MAX_GRAD_NORM 1.0

static void
update_scale (LkTrainState             *state,
              const LkLossScaleOptions *scaling,
              gboolean                  overflow)
{
  if (scaling == NULL || !scaling->dynamic)
    return;
  if (overflow)
    {
      state->loss_scale *= scaling->backoff_factor;
      state->good_steps = 0;
    }
  else if (++state->good_steps >= MAX (scaling->growth_interval, 1))
    {
      state->loss_scale *= scaling->growth_factor;
      state->good_steps = 0;
    }
}

gboolean
lk_lora_step (LkStream                  *stream,
              const LkLoraGroup         *groups,
              guint                      n_groups,
              LkTrainState              *state,
              const LkLossScaleOptions  *scaling,
              LkLoraStepResult          *result,
              GError                   **error)
{
  g_autoptr(GPtrArray) grads = g_ptr_array_new ();
  g_autoptr(LkTensor) stats = NULL;
  LkAdamWOptions options = LK_ADAMW_OPTIONS_DEFAULT;
  float sums[2];
  gboolean overflow;

  g_return_val_if_fail (stream != NULL && (groups != NULL || n_groups == 0) && state != NULL,
                        FALSE);
  g_return_val_if_fail (state->loss_scale > 0 && state->skipped <= state->step, FALSE);

  for (guint g = 0; g < n_groups; g++)
    for (guint i = 0; i < groups[g].n_layers; i++)
      {
        g_ptr_array_add (grads, lk_lora_layer_get_down_grad (groups[g].layers[i]));
        g_ptr_array_add (grads, lk_lora_layer_get_up_grad (groups[g].layers[i]));
      }
  if ((stats = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F32, 1, (gint64[]) { 2 },
                              error)) == NULL ||
      !lk_op_grad_stats (stream, (LkTensor **) grads->pdata, grads->len, stats, error) ||
      !lk_tensor_download_f32 (stats, stream, sums, error))
    return FALSE;
  overflow = sums[1] != 0 || !isfinite (sums[0]);
  if (result != NULL)
    {
      result->skipped = overflow;
      result->grad_norm = overflow ? INFINITY : sqrt (sums[0]) / state->loss_scale;
    }

  if (!overflow)
    {
      options.step = state->step - state->skipped + 1;
      options.grad_scale = 1.0 / state->loss_scale;
      options.max_grad_norm = MAX_GRAD_NORM;
      for (guint g = 0; g < n_groups; g++)
        {
          options.lr = groups[g].lr;
          for (guint i = 0; i < groups[g].n_layers; i++)
            if (!lk_lora_layer_step (groups[g].layers[i], stream, stats, &options, error))
              return FALSE;
        }
    }
  else
    state->skipped++;
  state->step++;
  update_scale (state, scaling, overflow);
  return TRUE;
}

static LkTensor *
layer_grad (LkLoraLayer **layers,
            guint         index)
{
  return index % 2 ? lk_lora_layer_get_up_grad (layers[index / 2])
                   : lk_lora_layer_get_down_grad (layers[index / 2]);
}

GPtrArray *
lk_lora_grads_save (LkStream      *stream,
                    LkLoraLayer  **layers,
                    guint          n_layers,
                    GError       **error)
{
  g_autoptr(GPtrArray) saved = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_tensor_unref);

  g_return_val_if_fail (stream != NULL && (layers != NULL || n_layers == 0), NULL);

  for (guint i = 0; i < 2 * n_layers; i++)
    {
      LkTensor *grad = layer_grad (layers, i);
      g_autoptr(LkTensor) copy = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F32,
                                                grad->ndim, grad->shape, error);

      if (copy == NULL || !lk_op_scale (stream, grad, 1.0f, copy, error))
        return NULL;
      g_ptr_array_add (saved, g_steal_pointer (&copy));
    }
  return g_steal_pointer (&saved);
}

gboolean
lk_lora_grads_add_saved (LkStream      *stream,
                         LkLoraLayer  **layers,
                         guint          n_layers,
                         GPtrArray     *saved,
                         GError       **error)
{
  g_return_val_if_fail (stream != NULL && saved != NULL && saved->len == 2 * n_layers, FALSE);

  for (guint i = 0; i < 2 * n_layers; i++)
    {
      LkTensor *grad = layer_grad (layers, i);

      if (!lk_op_add (stream, grad, saved->pdata[i], grad, error))
        return FALSE;
    }
  return TRUE;
}
