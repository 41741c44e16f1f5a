/* lk-sd-train.c: LoRA training of an SD1.x model — the UNet and, optionally, the text encoder
 * together
 *
 * A frozen text encoder's output depends on the ids alone, so it is kept for the next
 * micro-batch with the same ids (EasyPhoto's one caption: every one).
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-train"

#include "config.h"

#include "lk-lora.h"
#include "lk-sd-train.h"

struct _LkSdTrainer
{
  LkSdTrainOptions  options;
  LkClipTextModel  *text_encoder;
  LkUnetTrainer    *unet;
  LkClipTrainer    *clip;         /* NULL: the text encoder is frozen */
  GPtrArray        *layers;       /* LkLoraLayer *, borrowed from the two trainers */
  GPtrArray        *targets;      /* char *, NULL-terminated */
  GPtrArray        *kohya_names;  /* char *, NULL-terminated */

  /* the frozen text encoder's last output and its ids */
  gint32           *cached_ids;
  gsize             n_cached_ids;
  LkTensor         *cached_context;
};

void
lk_sd_trainer_free (LkSdTrainer *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->layers, g_ptr_array_unref);
  g_clear_pointer (&self->targets, g_ptr_array_unref);
  g_clear_pointer (&self->kohya_names, g_ptr_array_unref);
  g_clear_pointer (&self->clip, lk_clip_trainer_free);
  g_clear_pointer (&self->unet, lk_unet_trainer_free);
  g_clear_pointer (&self->text_encoder, lk_clip_text_model_unref);
  g_clear_pointer (&self->cached_context, lk_tensor_unref);
  g_free (self->cached_ids);
  g_free (self);
}

static gboolean
add_layers (LkSdTrainer         *self,
            LkLoraLayer        **layers,
            const char * const  *names,
            guint                n_layers,
            const char          *prefix,
            GError             **error)
{
  for (guint i = 0; i < n_layers; i++)
    {
      char *target = g_strconcat (prefix, names[i], ".weight", NULL);
      char *kohya = lk_lora_kohya_name (target);

      g_ptr_array_add (self->targets, target);
      if (kohya == NULL)
        {
          g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                       "LoRA training: %s has no kohya name", target);
          return FALSE;
        }
      g_ptr_array_add (self->kohya_names, kohya);
      g_ptr_array_add (self->layers, layers[i]);
    }
  return TRUE;
}

LkSdTrainer *
lk_sd_trainer_new (LkStream                *stream,
                   LkUnet                  *unet,
                   LkClipTextModel         *text_encoder,
                   const LkSdTrainOptions  *options,
                   GError                 **error)
{
  g_autoptr(LkSdTrainer) self = NULL;

  g_return_val_if_fail (stream != NULL && unet != NULL && text_encoder != NULL, NULL);
  g_return_val_if_fail (options != NULL, NULL);

  self = g_new0 (LkSdTrainer, 1);
  self->options = *options;
  self->text_encoder = lk_clip_text_model_ref (text_encoder);
  self->layers = g_ptr_array_new ();
  self->targets = g_ptr_array_new_with_free_func (g_free);
  self->kohya_names = g_ptr_array_new_with_free_func (g_free);
  if ((self->unet = lk_unet_trainer_new (stream, unet, &options->unet, error)) == NULL ||
      !add_layers (self, lk_unet_trainer_get_layers (self->unet),
                   lk_unet_trainer_get_names (self->unet),
                   lk_unet_trainer_get_n_layers (self->unet), LK_UNET_PREFIX, error))
    return NULL;
  if (options->train_text_encoder)
    {
      LkClipTrainOptions clip_options = LK_CLIP_TRAIN_OPTIONS_DEFAULT;

      clip_options.rank = options->unet.rank;
      clip_options.alpha = options->unet.alpha;
      clip_options.clip_skip = options->clip_skip;
      clip_options.f16_activations = options->unet.f16_activations;
      clip_options.seed = options->unet.seed;
      if ((self->clip = lk_clip_trainer_new (stream, text_encoder, &clip_options, error)) == NULL ||
          !add_layers (self, lk_clip_trainer_get_layers (self->clip),
                       lk_clip_trainer_get_names (self->clip),
                       lk_clip_trainer_get_n_layers (self->clip), LK_CLIP_TEXT_PREFIX, error))
        return NULL;
    }
  else if (options->clip_skip < 1 ||
           options->clip_skip > lk_clip_text_model_get_n_layers (text_encoder))
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "LoRA training: clip skip %u is outside 1…%u", options->clip_skip,
                   lk_clip_text_model_get_n_layers (text_encoder));
      return NULL;
    }
  g_ptr_array_add (self->targets, NULL);
  g_ptr_array_add (self->kohya_names, NULL);
  return g_steal_pointer (&self);
}

LkUnetTrainer *
lk_sd_trainer_get_unet_trainer (LkSdTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->unet;
}

LkClipTrainer *
lk_sd_trainer_get_clip_trainer (LkSdTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->clip;
}

const LkSdTrainOptions *
lk_sd_trainer_get_options (LkSdTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return &self->options;
}

guint
lk_sd_trainer_get_n_layers (LkSdTrainer *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->layers->len;
}

LkLoraLayer **
lk_sd_trainer_get_layers (LkSdTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (LkLoraLayer **) self->layers->pdata;
}

const char * const *
lk_sd_trainer_get_targets (LkSdTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (const char * const *) self->targets->pdata;
}

const char * const *
lk_sd_trainer_get_kohya_names (LkSdTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (const char * const *) self->kohya_names->pdata;
}

LkTrainState *
lk_sd_trainer_get_state (LkSdTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return lk_unet_trainer_get_state (self->unet);
}

gboolean
lk_sd_trainer_save_checkpoint (LkSdTrainer  *self,
                               LkStream     *stream,
                               const char   *path,
                               GError      **error)
{
  g_return_val_if_fail (self != NULL && stream != NULL && path != NULL, FALSE);
  return lk_train_checkpoint_save (path, stream, lk_sd_trainer_get_kohya_names (self),
                                   lk_sd_trainer_get_layers (self), self->layers->len,
                                   lk_sd_trainer_get_state (self), error);
}

gboolean
lk_sd_trainer_load_checkpoint (LkSdTrainer  *self,
                               LkStream     *stream,
                               const char   *path,
                               GError      **error)
{
  g_return_val_if_fail (self != NULL && stream != NULL && path != NULL, FALSE);
  return lk_train_checkpoint_load (path, stream, lk_sd_trainer_get_kohya_names (self),
                                   lk_sd_trainer_get_layers (self), self->layers->len,
                                   lk_sd_trainer_get_state (self), error);
}

/* The text encoder's output for ids, [rows, context, width] for rows = batch × n_chunks. */
static LkTensor *
encode (LkSdTrainer   *self,
        LkStream      *stream,
        const gint32  *ids,
        guint          rows,
        GError       **error)
{
  gsize n_ids = (gsize) rows * lk_clip_text_model_get_context (self->text_encoder);
  g_autoptr(LkTensor) output = NULL, context = NULL;

  if (self->clip != NULL)
    return lk_clip_trainer_forward (self->clip, stream, ids, rows, error);
  if (self->cached_context != NULL && self->n_cached_ids == n_ids &&
      memcmp (self->cached_ids, ids, n_ids * sizeof (gint32)) == 0)
    return lk_tensor_ref (self->cached_context);
  /* A copy outside the forward's arena, which would otherwise stay alive with it. */
  if ((output = lk_clip_text_model_forward (self->text_encoder, stream, ids, rows,
                                            self->options.clip_skip, error)) == NULL ||
      (context = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F32, output->ndim,
                                output->shape, error)) == NULL ||
      !lk_op_scale (stream, output, 1.0f, context, error))
    return NULL;
  g_clear_pointer (&self->cached_context, lk_tensor_unref);
  g_free (self->cached_ids);
  self->cached_ids = g_memdup2 (ids, n_ids * sizeof (gint32));
  self->n_cached_ids = n_ids;
  self->cached_context = lk_tensor_ref (context);
  return g_steal_pointer (&context);
}

gboolean
lk_sd_trainer_backward (LkSdTrainer   *self,
                        LkStream      *stream,
                        LkTensor      *x_t,
                        LkTensor      *timesteps,
                        const gint32  *ids,
                        guint          n_chunks,
                        LkTensor      *target,
                        float          weight,
                        gboolean       accumulate,
                        double        *loss,
                        GError       **error)
{
  guint context_len, width, batch;
  g_autoptr(LkTensor) encoded = NULL, context = NULL, d_context = NULL, d_encoded = NULL;

  g_return_val_if_fail (self != NULL && stream != NULL && x_t != NULL && timesteps != NULL, FALSE);
  g_return_val_if_fail (ids != NULL && target != NULL, FALSE);

  if (x_t->ndim != 4 || x_t->shape[0] < 1 || n_chunks < 1)
    {
      g_autofree char *dx = lk_tensor_describe (x_t);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "LoRA training: latents %s and %u chunks of token ids; expected [B, C, h, w] "
                   "and at least one chunk", dx, n_chunks);
      return FALSE;
    }
  batch = x_t->shape[0];
  context_len = lk_clip_text_model_get_context (self->text_encoder);
  width = lk_clip_text_model_get_width (self->text_encoder);
  if ((encoded = encode (self, stream, ids, batch * n_chunks, error)) == NULL)
    return FALSE;
  /* The chunks of one sample lie one after the other: the joined context is a view. */
  context = lk_tensor_view (encoded, 3, (gint64[]) { batch, (gint64) n_chunks * context_len,
                                                     width }, 0);
  if (self->clip == NULL)
    return lk_unet_trainer_backward (self->unet, stream, x_t, timesteps, context, target, weight,
                                     accumulate, loss, error);

  if ((d_context = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F32, 3,
                                  context->shape, error)) == NULL ||
      !lk_unet_trainer_backward_full (self->unet, stream, x_t, timesteps, context, target, weight,
                                      accumulate, d_context, loss, error))
    {
      lk_clip_trainer_release (self->clip);
      return FALSE;
    }
  d_encoded = lk_tensor_view (d_context, 3, encoded->shape, 0);
  return lk_clip_trainer_backward (self->clip, stream, d_encoded, accumulate, error);
}

gboolean
lk_sd_trainer_apply (LkSdTrainer       *self,
                     LkStream          *stream,
                     LkLoraStepResult  *result,
                     GError           **error)
{
  LkLoraGroup groups[2];
  const LkUnetTrainOptions *unet_options;

  g_return_val_if_fail (self != NULL && stream != NULL, FALSE);

  unet_options = lk_unet_trainer_get_options (self->unet);
  groups[0] = (LkLoraGroup) { lk_unet_trainer_get_layers (self->unet),
                              lk_unet_trainer_get_n_layers (self->unet), unet_options->lr };
  if (self->clip != NULL)
    groups[1] = (LkLoraGroup) { lk_clip_trainer_get_layers (self->clip),
                                lk_clip_trainer_get_n_layers (self->clip), self->options.te_lr };
  return lk_lora_step (stream, groups, self->clip != NULL ? 2 : 1, lk_sd_trainer_get_state (self),
                       &unet_options->loss_scaling, result, error);
}

gboolean
lk_sd_train_step (LkSdTrainer       *self,
                  LkStream          *stream,
                  guint              n_micro,
                  LkTensor         **x0,
                  const gint32     **ids,
                  guint              n_chunks,
                  double            *loss,
                  LkLoraStepResult  *result,
                  GError           **error)
{
  double total = 0;

  g_return_val_if_fail (self != NULL && stream != NULL && n_micro > 0, FALSE);
  g_return_val_if_fail (x0 != NULL && ids != NULL, FALSE);

  for (guint i = 0; i < n_micro; i++)
    {
      g_autoptr(LkTensor) x_t = NULL, t = NULL, noise = NULL;
      double micro_loss;

      if (!lk_unet_trainer_noise (self->unet, stream, x0[i], &x_t, &t, &noise, error) ||
          !lk_sd_trainer_backward (self, stream, x_t, t, ids[i], n_chunks, noise,
                                   1.0f / n_micro, i > 0, &micro_loss, error))
        return FALSE;
      total += micro_loss;
    }
  if (!lk_sd_trainer_apply (self, stream, result, error))
    return FALSE;
  if (loss != NULL)
    *loss = total / n_micro;
  return TRUE;
}
