/* lk-test-train.c: random UNet and text encoder checkpoints, and LoRA helpers, for the training
 * tests
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-half.h"
#include "lk-safetensors.h"
#include "lk-test-train.h"
#include "lk-test-util.h"

char *
lk_test_train_write_unet (const char         *dir,
                          const LkUnetConfig *config)
{
  g_autoptr(GArray) specs = lk_unet_config_list_tensors (config);
  g_autoptr(GArray) entries = g_array_new (FALSE, FALSE, sizeof (LkSafetensorsEntry));
  g_autoptr(GPtrArray) data = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, "unet.safetensors", NULL);
  guint64 state = 0x9e3779b97f4a7c15ull ^ config->model_channels;

  for (guint i = 0; i < specs->len; i++)
    {
      LkUnetTensorSpec *spec = &g_array_index (specs, LkUnetTensorSpec, i);
      LkSafetensorsEntry entry = { spec->name, LK_WEIGHT_F16, spec->ndim, spec->shape, NULL };
      gint64 numel = 1;

      for (guint d = 0; d < spec->ndim; d++)
        numel *= spec->shape[d];
      switch (spec->role)
        {
        case LK_UNET_TENSOR_WEIGHT:
          entry.data = lk_halves_uniform (numel, 0, 1.5f * sqrtf (3.0f * spec->shape[0] / numel),
                                          &state);
          break;
        case LK_UNET_TENSOR_NORM_WEIGHT:
          entry.data = lk_halves_uniform (numel, 1, 0.2f, &state);
          break;
        default:
          entry.data = lk_halves_uniform (numel, 0, 0.1f, &state);
          break;
        }
      g_ptr_array_add (data, (gpointer) entry.data);
      g_array_append_val (entries, entry);
    }
  lk_safetensors_write (path, (LkSafetensorsEntry *) entries->data, entries->len, NULL, &error);
  g_assert_no_error (error);
  return path;
}

typedef struct
{
  GPtrArray *names;
  GPtrArray *data;
  GArray    *shapes;  /* gint64[2] per tensor; dim 1 of 0 for a vector */
  guint64    state;
} Tensors;

static void
add_tensor (Tensors    *t,
            char       *suffix,
            gint64      dim0,
            gint64      dim1,
            float       center,
            float       amplitude)
{
  gint64 shape[2] = { dim0, dim1 };

  g_ptr_array_add (t->names, g_strconcat (LK_CLIP_TEXT_PREFIX, suffix, NULL));
  g_free (suffix);
  g_ptr_array_add (t->data, lk_halves_uniform (dim0 * MAX (dim1, 1), center, amplitude,
                                               &t->state));
  g_array_append_vals (t->shapes, shape, 2);
}

char *
lk_test_train_write_clip (const char             *dir,
                          const LkTestClipConfig *config)
{
  static const char *const linears[] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1",
    "mlp.fc2",
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) entries = g_array_new (FALSE, FALSE, sizeof (LkSafetensorsEntry));
  char *path = g_build_filename (dir, "clip.safetensors", NULL);
  Tensors t = {
    g_ptr_array_new_with_free_func (g_free), g_ptr_array_new_with_free_func (g_free),
    g_array_new (FALSE, FALSE, sizeof (gint64)), 0x9e3779b97f4a7c15ull ^ config->width,
  };
  /* test-clip.c's 0.08 at 768 wide, the same √fan-in scale at other widths */
  float amplitude = 0.08f * sqrtf (768.0f / config->width);

  add_tensor (&t, g_strdup ("embeddings.token_embedding.weight"), config->vocab, config->width,
              0, 0.5f);
  add_tensor (&t, g_strdup ("embeddings.position_embedding.weight"), config->context,
              config->width, 0, 0.5f);
  for (guint l = 0; l < config->n_layers; l++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (linears); i++)
        {
          gint64 out = i == 4 ? config->mlp : config->width;
          gint64 in = i == 5 ? config->mlp : config->width;

          add_tensor (&t, g_strdup_printf ("encoder.layers.%u.%s.weight", l, linears[i]), out, in,
                      0, amplitude * sqrtf ((float) config->width / in));
          add_tensor (&t, g_strdup_printf ("encoder.layers.%u.%s.bias", l, linears[i]), out, 0,
                      0, 0.1f);
        }
      for (guint n = 1; n <= 2; n++)
        {
          add_tensor (&t, g_strdup_printf ("encoder.layers.%u.layer_norm%u.weight", l, n),
                      config->width, 0, 1, 0.2f);
          add_tensor (&t, g_strdup_printf ("encoder.layers.%u.layer_norm%u.bias", l, n),
                      config->width, 0, 0, 0.1f);
        }
    }
  add_tensor (&t, g_strdup ("final_layer_norm.weight"), config->width, 0, 1, 0.2f);
  add_tensor (&t, g_strdup ("final_layer_norm.bias"), config->width, 0, 0, 0.1f);

  for (guint i = 0; i < t.names->len; i++)
    {
      const gint64 *shape = &g_array_index (t.shapes, gint64, 2 * i);
      LkSafetensorsEntry entry = {
        g_ptr_array_index (t.names, i), LK_WEIGHT_F16, shape[1] > 0 ? 2 : 1, shape,
        g_ptr_array_index (t.data, i),
      };

      g_array_append_val (entries, entry);
    }
  lk_safetensors_write (path, (LkSafetensorsEntry *) entries->data, entries->len, NULL, &error);
  g_assert_no_error (error);
  g_ptr_array_unref (t.names);
  g_ptr_array_unref (t.data);
  g_array_unref (t.shapes);
  return path;
}

float *
lk_test_train_download_lora (LkLoraLayer **layers,
                             guint         n_layers,
                             LkStream     *stream,
                             gboolean      grads,
                             gsize        *n)
{
  GArray *all = g_array_new (FALSE, FALSE, sizeof (float));

  for (guint i = 0; i < n_layers; i++)
    for (guint up = 0; up < 2; up++)
      {
        LkTensor *t = grads ? (up ? lk_lora_layer_get_up_grad (layers[i])
                                  : lk_lora_layer_get_down_grad (layers[i]))
                            : (up ? lk_lora_layer_get_up (layers[i])
                                  : lk_lora_layer_get_down (layers[i]));
        g_autofree float *data = lk_test_download (stream, t);

        g_array_append_vals (all, data, lk_tensor_numel (t));
      }
  *n = all->len;
  return (float *) g_array_free (all, FALSE);
}

void
lk_test_train_randomize_ups (LkLoraLayer **layers,
                             guint         n_layers,
                             LkStream     *stream,
                             guint32       seed)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < n_layers; i++)
    {
      LkTensor *up = lk_lora_layer_get_up (layers[i]);
      g_autofree float *data = lk_test_random (lk_tensor_numel (up), -0.3f, 0.3f, seed + i);

      lk_tensor_upload_f32 (up, stream, data, &error);
      g_assert_no_error (error);
    }
}
