/* lk-train-checkpoint.c: saving and resuming LoRA training
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-train"

#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "lk-safetensors.h"
#include "lk-train-checkpoint.h"

#define FORMAT_KEY "likeness_train_checkpoint"
#define FORMAT_VERSION "1"

/* The six tensors of a layer, in file order. */
#define TENSORS_PER_LAYER 6

static const char *suffixes[TENSORS_PER_LAYER] = {
  "lora_down.weight", "lora_up.weight",
  "lora_down.exp_avg", "lora_down.exp_avg_sq",
  "lora_up.exp_avg", "lora_up.exp_avg_sq",
};

static LkTensor *
layer_tensor (LkLoraLayer *layer,
              guint        index)
{
  switch (index)
    {
    case 0:
      return lk_lora_layer_get_down (layer);
    case 1:
      return lk_lora_layer_get_up (layer);
    default:
      return lk_lora_layer_get_moment (layer, index >= 4, index % 2 == 1);
    }
}

gboolean
lk_train_checkpoint_save (const char          *path,
                          LkStream            *stream,
                          const char * const  *names,
                          LkLoraLayer        **layers,
                          guint                n_layers,
                          const LkTrainState  *state,
                          GError             **error)
{
  guint n_entries = n_layers * (TENSORS_PER_LAYER + 1);
  g_autofree LkSafetensorsEntry *entries = g_new0 (LkSafetensorsEntry, n_entries);
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  g_autofree float *alphas = g_new (float, MAX (n_layers, 1));
  g_autoptr(GHashTable) metadata = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  static const gint64 scalar_shape[1] = { 0 };
  guint e = 0;

  g_return_val_if_fail (path != NULL && stream != NULL && state != NULL, FALSE);
  g_return_val_if_fail (n_layers == 0 || (names != NULL && layers != NULL), FALSE);

  for (guint l = 0; l < n_layers; l++)
    {
      for (guint t = 0; t < TENSORS_PER_LAYER; t++)
        {
          LkTensor *tensor = layer_tensor (layers[l], t);
          float *data = g_new (float, lk_tensor_numel (tensor));
          char *name = g_strdup_printf ("%s.%s", names[l], suffixes[t]);

          g_ptr_array_add (owned, data);
          g_ptr_array_add (owned, name);
          if (!lk_tensor_download_f32 (tensor, stream, data, error))
            {
              g_prefix_error (error, "%s: saving %s: ", path, name);
              return FALSE;
            }
          entries[e++] = (LkSafetensorsEntry) { name, LK_WEIGHT_F32, tensor->ndim, tensor->shape,
                                                data };
        }
      /* kohya keeps alpha as a 0-d tensor beside the factors. */
      alphas[l] = lk_lora_layer_get_scale (layers[l]) * lk_lora_layer_get_rank (layers[l]);
      {
        char *name = g_strdup_printf ("%s.alpha", names[l]);

        g_ptr_array_add (owned, name);
        entries[e++] = (LkSafetensorsEntry) { name, LK_WEIGHT_F32, 0, scalar_shape, &alphas[l] };
      }
    }

  g_hash_table_insert (metadata, (char *) FORMAT_KEY, g_strdup (FORMAT_VERSION));
  g_hash_table_insert (metadata, (char *) "step", g_strdup_printf ("%" G_GUINT64_FORMAT, state->step));
  g_hash_table_insert (metadata, (char *) "rng_seed",
                       g_strdup_printf ("%" G_GUINT64_FORMAT, state->rng.seed));
  g_hash_table_insert (metadata, (char *) "rng_offset",
                       g_strdup_printf ("%" G_GUINT64_FORMAT, state->rng.offset));
  g_hash_table_insert (metadata, (char *) "skipped_steps",
                       g_strdup_printf ("%" G_GUINT64_FORMAT, state->skipped));
  g_hash_table_insert (metadata, (char *) "loss_scale_good_steps",
                       g_strdup_printf ("%" G_GUINT64_FORMAT, state->good_steps));
  /* 17 significant digits read back to the same double. */
  g_hash_table_insert (metadata, (char *) "loss_scale", g_strdup_printf ("%.17g", state->loss_scale));
  return lk_safetensors_write (path, entries, e, metadata, error);
}

static gboolean
parse_u64 (GHashTable  *metadata,
           const char  *path,
           const char  *key,
           guint64     *out,
           GError     **error)
{
  const char *text = metadata ? g_hash_table_lookup (metadata, key) : NULL;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, out, NULL))
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                   "%s: the training checkpoint's metadata has no valid “%s”", path, key);
      return FALSE;
    }
  return TRUE;
}

gboolean
lk_train_checkpoint_load (const char          *path,
                          LkStream            *stream,
                          const char * const  *names,
                          LkLoraLayer        **layers,
                          guint                n_layers,
                          LkTrainState        *state,
                          GError             **error)
{
  g_autoptr(LkWeights) weights = NULL;
  g_autoptr(GPtrArray) data = g_ptr_array_new_with_free_func (g_free);
  GHashTable *metadata;
  LkTrainState loaded = { 0 };
  const char *text;
  char *end = NULL;

  g_return_val_if_fail (path != NULL && stream != NULL && state != NULL, FALSE);
  g_return_val_if_fail (n_layers == 0 || (names != NULL && layers != NULL), FALSE);

  weights = lk_safetensors_open (path, error);
  if (weights == NULL)
    return FALSE;
  metadata = lk_weights_get_metadata (weights);
  if (metadata == NULL || g_strcmp0 (g_hash_table_lookup (metadata, FORMAT_KEY), FORMAT_VERSION) != 0)
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_UNSUPPORTED,
                   "%s: not a Likeness training checkpoint of version " FORMAT_VERSION, path);
      return FALSE;
    }
  if (!parse_u64 (metadata, path, "step", &loaded.step, error) ||
      !parse_u64 (metadata, path, "rng_seed", &loaded.rng.seed, error) ||
      !parse_u64 (metadata, path, "rng_offset", &loaded.rng.offset, error))
    return FALSE;
  /* Absent from checkpoints written before loss scaling skipped steps. */
  if ((g_hash_table_contains (metadata, "skipped_steps") &&
       !parse_u64 (metadata, path, "skipped_steps", &loaded.skipped, error)) ||
      (g_hash_table_contains (metadata, "loss_scale_good_steps") &&
       !parse_u64 (metadata, path, "loss_scale_good_steps", &loaded.good_steps, error)))
    return FALSE;
  if (loaded.skipped > loaded.step)
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                   "%s: the training checkpoint skipped more steps than it took", path);
      return FALSE;
    }
  text = g_hash_table_lookup (metadata, "loss_scale");
  errno = 0;
  if (text != NULL)
    loaded.loss_scale = g_ascii_strtod (text, &end);
  if (text == NULL || end == text || *end != '\0' || errno != 0 || !(loaded.loss_scale > 0))
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                   "%s: the training checkpoint's metadata has no valid “loss_scale”", path);
      return FALSE;
    }

  /* Check and read everything first, so a bad file leaves the layers as they were. */
  for (guint l = 0; l < n_layers; l++)
    {
      g_autofree char *alpha_name = g_strdup_printf ("%s.alpha", names[l]);
      const LkWeightInfo *alpha_info = lk_weights_require (weights, alpha_name, error);
      float alpha, expected = lk_lora_layer_get_scale (layers[l]) * lk_lora_layer_get_rank (layers[l]);

      if (alpha_info == NULL)
        return FALSE;
      if (alpha_info->numel != 1 || !lk_weights_read_f32 (weights, alpha_info, &alpha, error) ||
          alpha != expected)
        {
          g_clear_error (error);
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                       "%s: %s is not the layer's alpha %g", path, alpha_name, expected);
          return FALSE;
        }
      for (guint t = 0; t < TENSORS_PER_LAYER; t++)
        {
          LkTensor *tensor = layer_tensor (layers[l], t);
          g_autofree char *name = g_strdup_printf ("%s.%s", names[l], suffixes[t]);
          const LkWeightInfo *info = lk_weights_require (weights, name, error);
          gboolean same = info != NULL && info->dtype == LK_WEIGHT_F32 && info->ndim == tensor->ndim;
          float *values;

          if (info == NULL)
            return FALSE;
          for (guint d = 0; same && d < tensor->ndim; d++)
            same = info->shape[d] == tensor->shape[d];
          if (!same)
            {
              g_autofree char *want = lk_tensor_describe (tensor);

              g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                           "%s: %s is not the layer's %s", path, name, want);
              return FALSE;
            }
          values = g_new (float, info->numel);
          g_ptr_array_add (data, values);
          if (!lk_weights_read_f32 (weights, info, values, error))
            return FALSE;
        }
    }

  for (guint l = 0; l < n_layers; l++)
    for (guint t = 0; t < TENSORS_PER_LAYER; t++)
      if (!lk_tensor_upload_f32 (layer_tensor (layers[l], t), stream,
                                 g_ptr_array_index (data, l * TENSORS_PER_LAYER + t), error))
        return FALSE;
  *state = loaded;
  return TRUE;
}
