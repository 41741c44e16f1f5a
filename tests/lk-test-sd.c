/* lk-test-sd.c: tiny SD1.5-layout checkpoints for the tests
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-clip.h"
#include "lk-tokenizer.h"
#include "lk-half.h"
#include "lk-safetensors.h"
#include "lk-test-sd.h"
#include "lk-unet.h"
#include "lk-vae.h"

void
lk_test_checkpoint_init (LkTestCheckpoint *ckpt)
{
  ckpt->names = g_ptr_array_new_with_free_func (g_free);
  ckpt->data = g_ptr_array_new_with_free_func (g_free);
  ckpt->shapes = g_array_new (FALSE, FALSE, sizeof (gint64));
  ckpt->ndims = g_array_new (FALSE, FALSE, sizeof (guint));
  ckpt->state = 0x2545f4914f6cdd1dull;
}

void
lk_test_checkpoint_clear (LkTestCheckpoint *ckpt)
{
  g_ptr_array_unref (ckpt->names);
  g_ptr_array_unref (ckpt->data);
  g_array_unref (ckpt->shapes);
  g_array_unref (ckpt->ndims);
}

/* Weights at the variance-keeping scale of their fan-in, norms 1 ± 0.2, biases ± 0.1, so the
 * activations stay of order 1 through every layer. */
void
lk_test_checkpoint_add (LkTestCheckpoint *ckpt,
                        const char       *name,
                        gboolean          norm_weight,
                        gboolean          bias,
                        guint             ndim,
                        const gint64     *shape)
{
  gint64 numel = 1, padded[4] = { 0, 0, 0, 0 };
  guint16 *halves;

  for (guint d = 0; d < ndim; d++)
    numel *= padded[d] = shape[d];
  if (norm_weight)
    halves = lk_halves_uniform (numel, 1, 0.2f, &ckpt->state);
  else if (bias)
    halves = lk_halves_uniform (numel, 0, 0.1f, &ckpt->state);
  else
    halves = lk_halves_uniform (numel, 0, sqrtf (3.0f * shape[0] / numel), &ckpt->state);
  g_ptr_array_add (ckpt->names, g_strdup (name));
  g_ptr_array_add (ckpt->data, halves);
  g_array_append_vals (ckpt->shapes, padded, 4);
  g_array_append_val (ckpt->ndims, ndim);
}

static void
checkpoint_add_2d (LkTestCheckpoint *ckpt,
                   const char       *suffix,
                   gboolean          norm_weight,
                   gboolean          bias,
                   gint64            d0,
                   gint64            d1)
{
  g_autofree char *name = g_strconcat (LK_CLIP_TEXT_PREFIX, suffix, NULL);
  gint64 shape[2] = { d0, d1 };

  lk_test_checkpoint_add (ckpt, name, norm_weight, bias, d1 > 0 ? 2 : 1, shape);
}

#define W LK_TEST_SD_WIDTH

static void
add_tiny_clip (LkTestCheckpoint *ckpt)
{
  static const struct { const char *name; gint64 out, in; } linear[] = {
    { "self_attn.q_proj", W, W }, { "self_attn.k_proj", W, W },
    { "self_attn.v_proj", W, W }, { "self_attn.out_proj", W, W },
    { "mlp.fc1", LK_TEST_SD_MLP, W }, { "mlp.fc2", W, LK_TEST_SD_MLP },
  };

  checkpoint_add_2d (ckpt, "embeddings.token_embedding.weight", FALSE, FALSE, LK_CLIP_VOCAB_SIZE,
                     LK_TEST_SD_WIDTH);
  checkpoint_add_2d (ckpt, "embeddings.position_embedding.weight", FALSE, FALSE, LK_CLIP_CONTEXT,
                     LK_TEST_SD_WIDTH);
  for (guint l = 0; l < LK_TEST_SD_LAYERS; l++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (linear); i++)
        {
          g_autofree char *w = g_strdup_printf ("encoder.layers.%u.%s.weight", l, linear[i].name);
          g_autofree char *b = g_strdup_printf ("encoder.layers.%u.%s.bias", l, linear[i].name);

          checkpoint_add_2d (ckpt, w, FALSE, FALSE, linear[i].out, linear[i].in);
          checkpoint_add_2d (ckpt, b, FALSE, TRUE, linear[i].out, 0);
        }
      for (guint n = 1; n <= 2; n++)
        {
          g_autofree char *w = g_strdup_printf ("encoder.layers.%u.layer_norm%u.weight", l, n);
          g_autofree char *b = g_strdup_printf ("encoder.layers.%u.layer_norm%u.bias", l, n);

          checkpoint_add_2d (ckpt, w, TRUE, FALSE, LK_TEST_SD_WIDTH, 0);
          checkpoint_add_2d (ckpt, b, FALSE, TRUE, LK_TEST_SD_WIDTH, 0);
        }
    }
  checkpoint_add_2d (ckpt, "final_layer_norm.weight", TRUE, FALSE, LK_TEST_SD_WIDTH, 0);
  checkpoint_add_2d (ckpt, "final_layer_norm.bias", FALSE, TRUE, LK_TEST_SD_WIDTH, 0);
}

#undef W

static void
add_tiny_unet (LkTestCheckpoint *ckpt,
               guint             in_channels)
{
  LkUnetConfig config = { in_channels, 4, LK_TEST_SD_CHANNELS, LK_TEST_SD_WIDTH };
  g_autoptr(GArray) specs = lk_unet_config_list_tensors (&config);

  for (guint i = 0; i < specs->len; i++)
    {
      const LkUnetTensorSpec *spec = &g_array_index (specs, LkUnetTensorSpec, i);

      lk_test_checkpoint_add (ckpt, spec->name, spec->role == LK_UNET_TENSOR_NORM_WEIGHT,
                              spec->role == LK_UNET_TENSOR_BIAS ||
                              spec->role == LK_UNET_TENSOR_NORM_BIAS,
                              spec->ndim, spec->shape);
    }
}

static void
add_tiny_vae (LkTestCheckpoint *ckpt)
{
  LkVaeConfig config = { LK_TEST_SD_VAE };
  g_autoptr(GArray) specs = lk_vae_config_list_tensors (&config);

  for (guint i = 0; i < specs->len; i++)
    {
      const LkVaeTensorSpec *spec = &g_array_index (specs, LkVaeTensorSpec, i);

      lk_test_checkpoint_add (ckpt, spec->name, spec->role == LK_VAE_TENSOR_NORM_WEIGHT,
                              spec->role == LK_VAE_TENSOR_BIAS ||
                              spec->role == LK_VAE_TENSOR_NORM_BIAS,
                              spec->ndim, spec->shape);
    }
}

void
lk_test_checkpoint_write (LkTestCheckpoint *ckpt,
                          const char       *path,
                          const char       *nan_tensor)
{
  g_autoptr(GArray) entries = g_array_new (FALSE, FALSE, sizeof (LkSafetensorsEntry));
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < ckpt->names->len; i++)
    {
      LkSafetensorsEntry entry = {
        g_ptr_array_index (ckpt->names, i), LK_WEIGHT_F16, g_array_index (ckpt->ndims, guint, i),
        &g_array_index (ckpt->shapes, gint64, 4 * i), g_ptr_array_index (ckpt->data, i),
      };

      if (g_strcmp0 (entry.name, nan_tensor) == 0)
        ((guint16 *) g_ptr_array_index (ckpt->data, i))[2] = 0x7e00;
      g_array_append_val (entries, entry);
    }
  lk_safetensors_write (path, (LkSafetensorsEntry *) entries->data, entries->len, NULL, &error);
  g_assert_no_error (error);
}

char *
lk_test_sd_write_tiny (const char *dir,
                       const char *file,
                       guint       unet_in_channels,
                       const char *nan_tensor)
{
  char *path = g_build_filename (dir, file, NULL);
  LkTestCheckpoint ckpt;

  lk_test_checkpoint_init (&ckpt);
  add_tiny_clip (&ckpt);
  add_tiny_unet (&ckpt, unet_in_channels);
  add_tiny_vae (&ckpt);
  lk_test_checkpoint_write (&ckpt, path, nan_tensor);
  lk_test_checkpoint_clear (&ckpt);
  return path;
}
