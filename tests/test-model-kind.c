/* test-model-kind.c: model kind detection, diffusers → LDM names, separate VAE files
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "lk-model-kind.h"
#include "lk-safetensors.h"

#define UNET "model.diffusion_model."
#define VAE "first_stage_model."
#define TEXT "cond_stage_model.transformer.text_model."

typedef struct
{
  const char *name;
  gint64      shape[4];
} Spec;

static char *dir;

/* Writes zero-filled F16 tensors (dims of 0 end a shape). */
static char *
write_file (const char *rel,
            const Spec *specs,
            guint       n)
{
  g_autofree char *path = g_build_filename (dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_autofree LkSafetensorsEntry *entries = g_new0 (LkSafetensorsEntry, n);
  g_autofree guint8 *zeros = NULL;
  g_autoptr(GError) error = NULL;
  gsize most = 1;

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  for (guint i = 0; i < n; i++)
    {
      gsize numel = 1;

      entries[i].name = specs[i].name;
      entries[i].dtype = LK_WEIGHT_F16;
      entries[i].shape = specs[i].shape;
      while (entries[i].ndim < 4 && specs[i].shape[entries[i].ndim] != 0)
        numel *= specs[i].shape[entries[i].ndim++];
      most = MAX (most, numel);
    }
  zeros = g_malloc0 (most * 2);
  for (guint i = 0; i < n; i++)
    entries[i].data = zeros;
  g_assert_true (lk_safetensors_write (path, entries, n, NULL, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&path);
}

#define WRITE(rel, ...) \
  ({ static const Spec specs_[] = { __VA_ARGS__ }; write_file (rel, specs_, G_N_ELEMENTS (specs_)); })

#define SD1_UNET(in_channels) \
  { UNET "input_blocks.0.0.weight", { 320, in_channels, 3, 3 } }, \
  { UNET "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", { 320, 768 } }

static void
assert_model_error (const char *path,
                    const char *vae,
                    int         code,
                    const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkModelFiles) model = lk_model_files_open (path, vae, &error);

  g_assert_null (model);
  g_assert_error (error, LK_MODEL_ERROR, code);
  g_test_message ("%s", error->message);
  /* The message names the file at fault. */
  g_assert_true (strstr (error->message, path) != NULL ||
                 (vae != NULL && strstr (error->message, vae) != NULL));
  if (strstr (error->message, fragment) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, fragment);
}

static void
test_ldm_kinds (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkModelFiles) model = NULL;
  g_autofree char *sd1 = NULL, *inpaint = NULL, *sd2 = NULL, *sd2_unet = NULL, *sdxl = NULL;
  g_autofree char *lora = NULL, *odd = NULL, *no_text = NULL;
  LkWeights *weights = NULL;
  const LkWeightInfo *info;

  sd1 = WRITE ("sd1.safetensors", SD1_UNET (4),
               { VAE "decoder.conv_in.weight", { 512, 4, 3, 3 } },
               { VAE "encoder.mid.attn_1.q.weight", { 4, 4, 1, 1 } },
               { TEXT "embeddings.token_embedding.weight", { 4, 8 } },
               /* Old transformers versions saved the text encoder without text_model. */
               { "cond_stage_model.transformer.embeddings.position_embedding.weight", { 77, 8 } },
               { "alphas_cumprod", { 1000 } });
  model = lk_model_files_open (sd1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lk_model_files_get_layout (model), ==, LK_MODEL_LAYOUT_LDM);
  g_assert_cmpint (lk_model_files_get_kind (model), ==, LK_MODEL_KIND_SD1);
  g_assert_cmpstr (lk_model_kind_get_name (LK_MODEL_KIND_SD1), ==, "Stable Diffusion 1.x");
  info = lk_model_files_lookup (model, TEXT "embeddings.position_embedding.weight", &weights);
  g_assert_nonnull (info);
  g_assert_cmpstr (lk_weights_get_path (weights), ==, sd1);
  g_assert_cmpint (info->shape[0], ==, 77);
  g_assert_null (lk_model_files_require (model, UNET "nothing", NULL, &error));
  g_assert_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_INCOMPLETE);
  g_clear_error (&error);
  g_clear_pointer (&model, lk_model_files_unref);

  inpaint = WRITE ("inpaint.safetensors", SD1_UNET (9),
                   { VAE "decoder.conv_in.weight", { 512, 4, 3, 3 } },
                   { TEXT "embeddings.token_embedding.weight", { 4, 8 } });
  model = lk_model_files_open (inpaint, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lk_model_files_get_kind (model), ==, LK_MODEL_KIND_SD1_INPAINT);
  g_clear_pointer (&model, lk_model_files_unref);

  sd2 = WRITE ("sd2.safetensors",
               { UNET "input_blocks.0.0.weight", { 320, 4, 3, 3 } },
               { UNET "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", { 320, 1024 } },
               { "cond_stage_model.model.token_embedding.weight", { 4, 8 } });
  assert_model_error (sd2, NULL, LK_MODEL_ERROR_UNSUPPORTED,
                      "Stable Diffusion 2 checkpoints are not supported yet");
  /* A UNet alone is enough to tell SD2 by its 1024-wide cross-attention. */
  sd2_unet = WRITE ("sd2-unet.safetensors",
                    { UNET "input_blocks.0.0.weight", { 320, 4, 3, 3 } },
                    { UNET "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", { 320, 1024 } });
  assert_model_error (sd2_unet, NULL, LK_MODEL_ERROR_UNSUPPORTED, "Stable Diffusion 2");

  sdxl = WRITE ("sdxl.safetensors",
                { UNET "input_blocks.0.0.weight", { 320, 4, 3, 3 } },
                { UNET "label_emb.0.0.weight", { 1280, 2816 } },
                { "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight", { 8 } });
  assert_model_error (sdxl, NULL, LK_MODEL_ERROR_UNSUPPORTED, "SDXL checkpoints are not supported");

  lora = WRITE ("lora.safetensors",
                { "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", { 4, 320 } });
  assert_model_error (lora, NULL, LK_MODEL_ERROR_UNKNOWN, "not a Stable Diffusion checkpoint");

  odd = WRITE ("pix2pix.safetensors", SD1_UNET (8),
               { VAE "decoder.conv_in.weight", { 512, 4, 3, 3 } },
               { TEXT "embeddings.token_embedding.weight", { 4, 8 } });
  assert_model_error (odd, NULL, LK_MODEL_ERROR_UNSUPPORTED, "8 input channels");

  no_text = WRITE ("no-text.safetensors", SD1_UNET (4),
                   { VAE "decoder.conv_in.weight", { 512, 4, 3, 3 } });
  assert_model_error (no_text, NULL, LK_MODEL_ERROR_INCOMPLETE, "text encoder");
}

static void
test_separate_vae (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkModelFiles) model = NULL;
  g_autofree char *no_vae = NULL, *bare = NULL, *prefixed = NULL, *with_vae = NULL;
  g_autofree char *diffusers_vae = NULL, *not_vae = NULL;
  LkWeights *weights = NULL;
  const LkWeightInfo *info;

  no_vae = WRITE ("no-vae.safetensors", SD1_UNET (4),
                  { TEXT "embeddings.token_embedding.weight", { 4, 8 } });
  assert_model_error (no_vae, NULL, LK_MODEL_ERROR_INCOMPLETE, "separate VAE");

  bare = WRITE ("vae-bare.safetensors",
                { "encoder.conv_in.weight", { 128, 3, 3, 3 } },
                { "decoder.conv_in.weight", { 512, 4, 3, 3 } },
                { "post_quant_conv.weight", { 4, 4, 1, 1 } },
                { "loss.logvar", { 1 } });
  model = lk_model_files_open (no_vae, bare, &error);
  g_assert_no_error (error);
  info = lk_model_files_lookup (model, VAE "post_quant_conv.weight", &weights);
  g_assert_nonnull (info);
  g_assert_cmpstr (lk_weights_get_path (weights), ==, bare);
  g_assert_null (lk_model_files_lookup (model, VAE "loss.logvar", NULL));
  g_clear_pointer (&model, lk_model_files_unref);

  /* The checkpoint's own VAE goes entirely, even names the new file lacks. */
  with_vae = WRITE ("with-vae.safetensors", SD1_UNET (4),
                    { VAE "decoder.conv_in.weight", { 512, 4, 3, 3 } },
                    { VAE "encoder.mid.attn_1.q.weight", { 4, 4, 1, 1 } },
                    { TEXT "embeddings.token_embedding.weight", { 4, 8 } });
  prefixed = WRITE ("vae-prefixed.safetensors",
                    { VAE "decoder.conv_in.weight", { 512, 4, 3, 3 } },
                    { VAE "decoder.conv_out.weight", { 3, 128, 3, 3 } },
                    { "model_ema.decay", { 1 } });
  model = lk_model_files_open (with_vae, prefixed, &error);
  g_assert_no_error (error);
  g_assert_null (lk_model_files_lookup (model, VAE "encoder.mid.attn_1.q.weight", NULL));
  g_assert_nonnull (lk_model_files_lookup (model, VAE "decoder.conv_out.weight", NULL));
  lk_model_files_lookup (model, VAE "decoder.conv_in.weight", &weights);
  g_assert_cmpstr (lk_weights_get_path (weights), ==, prefixed);
  g_assert_null (lk_model_files_lookup (model, "model_ema.decay", NULL));
  g_clear_pointer (&model, lk_model_files_unref);

  diffusers_vae = WRITE ("vae-diffusers.safetensors",
                         { "decoder.conv_in.weight", { 512, 4, 3, 3 } },
                         { "decoder.mid_block.attentions.0.query.weight", { 4, 4 } },
                         { "decoder.conv_norm_out.weight", { 128 } });
  model = lk_model_files_open (with_vae, diffusers_vae, &error);
  g_assert_no_error (error);
  info = lk_model_files_lookup (model, VAE "decoder.mid.attn_1.q.weight", NULL);
  g_assert_nonnull (info);
  g_assert_cmpuint (info->ndim, ==, 4);
  g_assert_nonnull (lk_model_files_lookup (model, VAE "decoder.norm_out.weight", NULL));
  g_clear_pointer (&model, lk_model_files_unref);

  not_vae = WRITE ("not-vae.safetensors", { "something.weight", { 4 } });
  assert_model_error (with_vae, not_vae, LK_MODEL_ERROR_UNKNOWN, "not a VAE");
}

static void
test_diffusers_folder (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LkModelFiles) model = NULL;
  g_autofree char *folder = g_build_filename (dir, "sd15-diffusers", NULL);
  g_autofree char *xl = g_build_filename (dir, "sdxl-diffusers", NULL);
  g_autofree char *xl_text2 = g_build_filename (xl, "text_encoder_2", NULL);
  g_autofree char *unet = NULL, *vae = NULL, *text = NULL;
  g_autofree float *values = NULL;
  LkWeights *weights = NULL;
  const LkWeightInfo *info;

  unet = WRITE ("sd15-diffusers/unet/diffusion_pytorch_model.safetensors",
                { "conv_in.weight", { 320, 4, 3, 3 } },
                { "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight", { 320, 768 } },
                { "up_blocks.0.upsamplers.0.conv.weight", { 2, 2, 3, 3 } },
                { "down_blocks.1.resnets.0.conv_shortcut.weight", { 2, 2, 1, 1 } });
  vae = WRITE ("sd15-diffusers/vae/diffusion_pytorch_model.safetensors",
               { "decoder.conv_in.weight", { 512, 4, 3, 3 } },
               { "encoder.mid_block.attentions.0.to_q.weight", { 4, 4 } },
               { "decoder.up_blocks.0.resnets.2.norm1.weight", { 4 } });
  text = WRITE ("sd15-diffusers/text_encoder/model.safetensors",
                { "text_model.embeddings.token_embedding.weight", { 4, 8 } });

  model = lk_model_files_open (folder, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lk_model_files_get_layout (model), ==, LK_MODEL_LAYOUT_DIFFUSERS);
  g_assert_cmpint (lk_model_files_get_kind (model), ==, LK_MODEL_KIND_SD1);
  g_assert_nonnull (lk_model_files_lookup (model, UNET "output_blocks.2.1.conv.weight", NULL));
  g_assert_nonnull (lk_model_files_lookup (model, UNET "input_blocks.4.0.skip_connection.weight",
                                           NULL));
  g_assert_nonnull (lk_model_files_lookup (model, VAE "decoder.up.3.block.2.norm1.weight", NULL));
  info = lk_model_files_lookup (model, VAE "encoder.mid.attn_1.q.weight", &weights);
  g_assert_nonnull (info);
  g_assert_cmpstr (lk_weights_get_path (weights), ==, vae);
  g_assert_cmpuint (info->ndim, ==, 4);
  g_assert_cmpint (info->shape[0], ==, 4);
  g_assert_cmpint (info->shape[1], ==, 4);
  g_assert_cmpint (info->shape[2], ==, 1);
  g_assert_cmpint (info->shape[3], ==, 1);
  values = lk_weights_dup_f32 (weights, info, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (values[15], ==, 0.0f);
  {
    g_autoptr(GPtrArray) names = lk_model_files_list_names (model);

    g_assert_cmpuint (names->len, ==, 8);
    g_assert_cmpstr (names->pdata[0], ==, TEXT "embeddings.token_embedding.weight");
  }

  g_assert_cmpint (g_mkdir_with_parents (xl_text2, 0755), ==, 0);
  assert_model_error (xl, NULL, LK_MODEL_ERROR_UNSUPPORTED, "SDXL");

  g_unlink (text);
  assert_model_error (folder, NULL, LK_MODEL_ERROR_INCOMPLETE, "text_encoder");
}

/* ---- every SD1.5 diffusers name maps onto the LDM list of make_random_sd15.py ------------ */

static void
add_pair (GPtrArray  *names,
          const char *prefix,
          const char *module)
{
  g_ptr_array_add (names, g_strdup_printf ("%s%s.weight", prefix, module));
  g_ptr_array_add (names, g_strdup_printf ("%s%s.bias", prefix, module));
}

static void
add_unet_resnet (GPtrArray  *names,
                 const char *prefix,
                 gboolean    shortcut)
{
  static const char *parts[] = { "norm1", "conv1", "time_emb_proj", "norm2", "conv2" };

  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    add_pair (names, prefix, parts[i]);
  if (shortcut)
    add_pair (names, prefix, "conv_shortcut");
}

static void
add_transformer (GPtrArray  *names,
                 const char *prefix)
{
  g_autofree char *block = g_strconcat (prefix, "transformer_blocks.0.", NULL);

  add_pair (names, prefix, "norm");
  add_pair (names, prefix, "proj_in");
  add_pair (names, prefix, "proj_out");
  for (guint a = 1; a <= 2; a++)
    {
      g_ptr_array_add (names, g_strdup_printf ("%sattn%u.to_q.weight", block, a));
      g_ptr_array_add (names, g_strdup_printf ("%sattn%u.to_k.weight", block, a));
      g_ptr_array_add (names, g_strdup_printf ("%sattn%u.to_v.weight", block, a));
      add_pair (names, block, a == 1 ? "attn1.to_out.0" : "attn2.to_out.0");
    }
  add_pair (names, block, "norm1");
  add_pair (names, block, "norm2");
  add_pair (names, block, "norm3");
  add_pair (names, block, "ff.net.0.proj");
  add_pair (names, block, "ff.net.2");
}

static GPtrArray *
diffusers_unet_names (void)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  add_pair (names, "", "conv_in");
  add_pair (names, "", "time_embedding.linear_1");
  add_pair (names, "", "time_embedding.linear_2");
  add_pair (names, "", "conv_norm_out");
  add_pair (names, "", "conv_out");
  for (guint i = 0; i < 4; i++)
    {
      for (guint j = 0; j < 2; j++)
        {
          g_autofree char *r = g_strdup_printf ("down_blocks.%u.resnets.%u.", i, j);
          g_autofree char *a = g_strdup_printf ("down_blocks.%u.attentions.%u.", i, j);

          add_unet_resnet (names, r, j == 0 && (i == 1 || i == 2));
          if (i < 3)
            add_transformer (names, a);
        }
      if (i < 3)
        {
          g_autofree char *d = g_strdup_printf ("down_blocks.%u.downsamplers.0.", i);
          add_pair (names, d, "conv");
        }
    }
  add_unet_resnet (names, "mid_block.resnets.0.", FALSE);
  add_unet_resnet (names, "mid_block.resnets.1.", FALSE);
  add_transformer (names, "mid_block.attentions.0.");
  for (guint i = 0; i < 4; i++)
    {
      for (guint j = 0; j < 3; j++)
        {
          g_autofree char *r = g_strdup_printf ("up_blocks.%u.resnets.%u.", i, j);
          g_autofree char *a = g_strdup_printf ("up_blocks.%u.attentions.%u.", i, j);

          add_unet_resnet (names, r, TRUE);
          if (i > 0)
            add_transformer (names, a);
        }
      if (i < 3)
        {
          g_autofree char *u = g_strdup_printf ("up_blocks.%u.upsamplers.0.", i);
          add_pair (names, u, "conv");
        }
    }
  return names;
}

static void
add_vae_resnet (GPtrArray  *names,
                const char *prefix,
                gboolean    shortcut)
{
  static const char *parts[] = { "norm1", "conv1", "norm2", "conv2" };

  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    add_pair (names, prefix, parts[i]);
  if (shortcut)
    add_pair (names, prefix, "conv_shortcut");
}

static GPtrArray *
diffusers_vae_names (void)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  static const char *attention[] = { "group_norm", "to_q", "to_k", "to_v", "to_out.0" };

  add_pair (names, "", "quant_conv");
  add_pair (names, "", "post_quant_conv");
  for (guint side = 0; side < 2; side++)
    {
      const char *s = side == 0 ? "encoder." : "decoder.";
      g_autofree char *mid = g_strconcat (s, "mid_block.", NULL);

      add_pair (names, s, "conv_in");
      add_pair (names, s, "conv_norm_out");
      add_pair (names, s, "conv_out");
      for (guint j = 0; j < 2; j++)
        {
          g_autofree char *r = g_strdup_printf ("%sresnets.%u.", mid, j);
          add_vae_resnet (names, r, FALSE);
        }
      for (guint a = 0; a < G_N_ELEMENTS (attention); a++)
        {
          g_autofree char *p = g_strconcat (mid, "attentions.0.", NULL);
          add_pair (names, p, attention[a]);
        }
    }
  for (guint i = 0; i < 4; i++)
    {
      for (guint j = 0; j < 2; j++)
        {
          g_autofree char *r = g_strdup_printf ("encoder.down_blocks.%u.resnets.%u.", i, j);
          add_vae_resnet (names, r, j == 0 && (i == 1 || i == 2));
        }
      for (guint j = 0; j < 3; j++)
        {
          g_autofree char *r = g_strdup_printf ("decoder.up_blocks.%u.resnets.%u.", i, j);
          add_vae_resnet (names, r, j == 0 && (i == 2 || i == 3));
        }
      if (i < 3)
        {
          g_autofree char *d = g_strdup_printf ("encoder.down_blocks.%u.downsamplers.0.", i);
          g_autofree char *u = g_strdup_printf ("decoder.up_blocks.%u.upsamplers.0.", i);
          add_pair (names, d, "conv");
          add_pair (names, u, "conv");
        }
    }
  return names;
}

static void
test_mapping_matches_ldm_list (void)
{
  const char *source = g_getenv ("LIKENESS_SOURCE_DIR");
  const char *data = g_getenv ("LIKENESS_TEST_DATA");
  g_autofree char *tool = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GHashTable) ldm = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) mapped = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) unet = diffusers_unet_names ();
  g_autoptr(GPtrArray) vae = diffusers_vae_names ();
  g_auto(GStrv) lines = NULL;
  int status = 0;

  if (data != NULL)
    tool = g_build_filename (data, "tools", "make_random_sd15.py", NULL);
  else if (source != NULL)
    tool = g_build_filename (source, "..", "shared", "tools", "make_random_sd15.py", NULL);
  if (tool == NULL || !g_file_test (tool, G_FILE_TEST_EXISTS) ||
      !g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("make_random_sd15.py (../shared/tools) or /usr/bin/python3 is missing");
      return;
    }
  {
    const char *argv[] = { "/usr/bin/python3", tool, "--list", NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                                 NULL, &out, NULL, &status, NULL));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], UNET) || g_str_has_prefix (lines[i], VAE))
      g_hash_table_add (ldm, g_strndup (lines[i], strcspn (lines[i], " ")));
  g_assert_cmpuint (g_hash_table_size (ldm), >, 900);

  for (guint i = 0; i < unet->len; i++)
    {
      char *name = lk_model_map_diffusers_unet (unet->pdata[i]);

      if (name == NULL)
        g_error ("no LDM name for %s", (char *) unet->pdata[i]);
      if (!g_hash_table_add (mapped, name))
        g_error ("%s mapped twice", name);
    }
  for (guint i = 0; i < vae->len; i++)
    {
      char *name = lk_model_map_diffusers_vae (vae->pdata[i]);

      if (name == NULL)
        g_error ("no LDM name for %s", (char *) vae->pdata[i]);
      if (!g_hash_table_add (mapped, name))
        g_error ("%s mapped twice", name);
    }
  {
    GHashTableIter iter;
    gpointer key;

    g_hash_table_iter_init (&iter, mapped);
    while (g_hash_table_iter_next (&iter, &key, NULL))
      if (!g_hash_table_contains (ldm, key))
        g_error ("mapped name %s is not in the LDM list", (char *) key);
    g_hash_table_iter_init (&iter, ldm);
    while (g_hash_table_iter_next (&iter, &key, NULL))
      if (!g_hash_table_contains (mapped, key))
        g_error ("LDM name %s has no diffusers name", (char *) key);
  }

  /* The other spellings, and names that have no LDM counterpart. */
  {
    g_autofree char *q = lk_model_map_diffusers_vae ("decoder.mid_block.attentions.0.query.bias");
    g_autofree char *t = lk_model_map_diffusers_text ("text_model.final_layer_norm.weight");

    g_assert_cmpstr (q, ==, VAE "decoder.mid.attn_1.q.bias");
    g_assert_cmpstr (t, ==, TEXT "final_layer_norm.weight");
  }
  g_assert_null (lk_model_map_diffusers_unet ("down_blocks.3.attentions.0.norm.weight"));
  g_assert_null (lk_model_map_diffusers_unet ("down_blocks.4.resnets.0.norm1.weight"));
  g_assert_null (lk_model_map_diffusers_unet ("up_blocks.0.attentions.0.norm.weight"));
  g_assert_null (lk_model_map_diffusers_unet ("add_embedding.linear_1.weight"));
  g_assert_null (lk_model_map_diffusers_unet ("down_blocks.99999999999.resnets.0.norm1.weight"));
  g_assert_null (lk_model_map_diffusers_vae ("encoder.up_blocks.0.resnets.0.norm1.weight"));
  g_assert_null (lk_model_map_diffusers_text ("logit_scale"));
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) d = g_dir_open (path, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  dir = g_dir_make_tmp ("lk-model-kind-XXXXXX", NULL);
  g_test_add_func ("/model-kind/ldm", test_ldm_kinds);
  g_test_add_func ("/model-kind/separate-vae", test_separate_vae);
  g_test_add_func ("/model-kind/diffusers", test_diffusers_folder);
  g_test_add_func ("/model-kind/mapping", test_mapping_matches_ldm_list);
  ret = g_test_run ();
  remove_tree (dir);
  g_free (dir);
  return ret;
}
