/* lk-pipeline-extras.c: ControlNet units and LoRAs around an LkPipeline's generations
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-pipeline-extras.h"

struct _LkPipelineExtras
{
  LkPipeline       *pipeline;
  LkStream         *stream;   /* hint uploads and LoRA merges; NULL when it could not be made */
  GArray           *units;    /* LkControlUnit, holding a reference on net and on hint */
  GPtrArray        *merges;   /* LkLoraMerge, in the order they were made */
  LkPipelineHooks   hooks;
};

static LkTensor *
extras_unet_forward (LkPipeline            *pipeline,
                     LkStream              *stream,
                     const LkPipelineStep  *step,
                     gpointer               user_data,
                     GError               **error)
{
  LkPipelineExtras *self = user_data;
  LkUnetResiduals residuals = { { NULL } };
  /* Batch entry 0 carries the prompt, 1 (with guidance) the negative prompt. */
  const gboolean conditional[2] = { TRUE, FALSE };
  LkTensor *eps;

  if (!lk_control_units_apply ((const LkControlUnit *) self->units->data, self->units->len,
                               stream, step->x, step->timesteps, step->context, conditional,
                               (float) step->step / step->n_steps, &residuals, error))
    return NULL;
  eps = lk_unet_forward_with_residuals (lk_pipeline_get_unet (pipeline), stream, step->x,
                                        step->timesteps, step->context, &residuals, error);
  /* The stream keeps the buffers it recorded until they have run. */
  lk_unet_residuals_clear (&residuals);
  return eps;
}

static void
unit_clear (gpointer data)
{
  LkControlUnit *unit = data;

  g_clear_pointer (&unit->net, lk_controlnet_unref);
  g_clear_pointer (&unit->hint, lk_tensor_unref);
}

LkPipelineExtras *
lk_pipeline_extras_new (LkPipeline *pipeline)
{
  LkPipelineExtras *self;

  g_return_val_if_fail (pipeline != NULL, NULL);

  self = g_new0 (LkPipelineExtras, 1);
  self->pipeline = lk_pipeline_ref (pipeline);
  self->units = g_array_new (FALSE, TRUE, sizeof (LkControlUnit));
  g_array_set_clear_func (self->units, unit_clear);
  self->merges = g_ptr_array_new ();
  self->hooks.unet_forward = extras_unet_forward;
  self->hooks.user_data = self;
  return self;
}

static LkStream *
extras_get_stream (LkPipelineExtras  *self,
                   GError           **error)
{
  if (self->stream == NULL)
    self->stream = lk_stream_new (lk_pipeline_get_context (self->pipeline), error);
  return self->stream;
}

void
lk_pipeline_extras_free (LkPipelineExtras *self)
{
  if (self == NULL)
    return;

  /* Undo the merges newest first, so each restores the bits it found. */
  for (guint i = self->merges->len; i > 0; i--)
    {
      g_autoptr(LkLoraMerge) merge = g_ptr_array_index (self->merges, i - 1);
      g_autoptr(GError) error = NULL;

      if (!lk_lora_merge_restore (merge, self->stream, &error) ||
          (i == 1 && !lk_stream_finish (self->stream, &error)))
        g_warning ("Could not restore the weights a LoRA changed: %s", error->message);
    }
  g_ptr_array_unref (self->merges);
  g_array_unref (self->units);
  g_clear_pointer (&self->stream, lk_stream_free);
  lk_pipeline_unref (self->pipeline);
  g_free (self);
}

gboolean
lk_pipeline_extras_add_control (LkPipelineExtras  *self,
                                LkControlNet      *net,
                                const LkImage     *image,
                                guint              width,
                                guint              height,
                                float              weight,
                                float              start,
                                float              end,
                                LkControlMode      mode,
                                GError           **error)
{
  g_autoptr(LkImage) rgb = NULL;
  LkStream *stream;
  LkTensor *hint;
  LkControlUnit unit;

  g_return_val_if_fail (self != NULL && net != NULL && image != NULL, FALSE);

  if (!(start >= 0 && start <= end && end <= 1) || !isfinite (weight))
    {
      g_set_error (error, LK_PIPELINE_ERROR, LK_PIPELINE_ERROR_INVALID,
                   "A ControlNet's guidance must start and end between 0 and 1, start first, "
                   "with a finite weight (got %g to %g, weight %g)", start, end, weight);
      return FALSE;
    }
  if (image->channels != 3)
    image = rgb = lk_image_convert (image, 3);
  if ((stream = extras_get_stream (self, error)) == NULL ||
      (hint = lk_controlnet_prepare_hint (stream, image->data, image->width, image->height,
                                          image->stride, width, height, error)) == NULL)
    return FALSE;
  if (!lk_stream_finish (stream, error))
    {
      lk_tensor_unref (hint);
      return FALSE;
    }
  unit = (LkControlUnit) {
    .net = lk_controlnet_ref (net),
    .hint = hint,
    .weight = weight,
    .start = start,
    .end = end,
    .mode = mode,
  };
  g_array_append_val (self->units, unit);
  return TRUE;
}

guint
lk_pipeline_extras_get_n_controls (LkPipelineExtras *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->units->len;
}

gboolean
lk_pipeline_extras_add_lora (LkPipelineExtras  *self,
                             LkLora            *lora,
                             float              te_weight,
                             float              unet_weight,
                             GPtrArray         *unmatched,
                             GError           **error)
{
  GHashTable *unet_weights, *te_weights;
  g_autoptr(GHashTable) both = NULL;
  g_autoptr(GPtrArray) missing = NULL;
  g_autoptr(LkLoraMerge) unet_merge = NULL;
  g_autoptr(LkLoraMerge) te_merge = NULL;
  g_autoptr(GError) unet_error = NULL;
  g_autoptr(GError) te_error = NULL;
  GHashTableIter iter;
  gpointer key, value;
  LkStream *stream;

  g_return_val_if_fail (self != NULL && lora != NULL, FALSE);

  if ((stream = extras_get_stream (self, error)) == NULL)
    return FALSE;
  unet_weights = lk_unet_get_weights (lk_pipeline_get_unet (self->pipeline));
  te_weights = lk_clip_text_model_get_weights (lk_pipeline_get_text_model (self->pipeline));

  /* What matches neither module, for the caller to report. */
  both = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_iter_init (&iter, unet_weights);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (both, key, value);
  g_hash_table_iter_init (&iter, te_weights);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (both, key, value);
  if (!lk_lora_match (lora, both, &missing, error))
    return FALSE;

  /* A LoRA may change only the UNet or only the text encoder (A1111 takes either); the check
   * above has refused one that changes neither. */
  unet_merge = lk_lora_merge (stream, unet_weights, &lora, &unet_weight, 1, &unet_error);
  if (unet_merge == NULL && !g_error_matches (unet_error, LK_LORA_ERROR, LK_LORA_ERROR_NO_MATCH))
    {
      g_propagate_error (error, g_steal_pointer (&unet_error));
      return FALSE;
    }
  te_merge = lk_lora_merge (stream, te_weights, &lora, &te_weight, 1, &te_error);
  if ((te_merge == NULL && !g_error_matches (te_error, LK_LORA_ERROR, LK_LORA_ERROR_NO_MATCH)) ||
      (te_merge == NULL && unet_merge == NULL))
    {
      /* Put the UNet back before failing, so nothing is left half applied. */
      if (unet_merge != NULL && lk_lora_merge_restore (unet_merge, stream, NULL))
        lk_stream_finish (stream, NULL);
      if (unet_merge != NULL)
        g_propagate_error (error, g_steal_pointer (&te_error));
      else
        g_propagate_error (error, g_steal_pointer (&unet_error));
      return FALSE;
    }
  if (!lk_stream_finish (stream, error))
    {
      /* Try to leave the weights as they were; the device is likely lost by now. */
      if (te_merge != NULL)
        lk_lora_merge_restore (te_merge, stream, NULL);
      if (unet_merge != NULL)
        lk_lora_merge_restore (unet_merge, stream, NULL);
      lk_stream_finish (stream, NULL);
      return FALSE;
    }

  if (unet_merge != NULL)
    g_ptr_array_add (self->merges, g_steal_pointer (&unet_merge));
  if (te_merge != NULL)
    g_ptr_array_add (self->merges, g_steal_pointer (&te_merge));
  if (unmatched != NULL)
    for (guint i = 0; i < missing->len; i++)
      g_ptr_array_add (unmatched, g_strdup (g_ptr_array_index (missing, i)));
  return TRUE;
}

const LkPipelineHooks *
lk_pipeline_extras_get_hooks (LkPipelineExtras *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->units->len > 0 ? &self->hooks : NULL;
}
