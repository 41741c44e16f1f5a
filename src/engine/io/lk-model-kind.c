/* lk-model-kind.c: which Stable Diffusion a checkpoint is, and its tensors under one naming
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The diffusers → LDM renaming follows the two codebases' module trees: diffusers numbers blocks
 * per resolution level (down_blocks.i.resnets.j), LDM numbers the UNet's sequential blocks
 * (input_blocks.3i+j+1.0) and counts the VAE decoder's levels from the bottom (up.3-i).
 */
#include "config.h"

#include <string.h>

#include "lk-model-kind.h"

G_DEFINE_QUARK (lk-model-error-quark, lk_model_error)

#define UNET "model.diffusion_model."
#define VAE "first_stage_model."
#define TEXT "cond_stage_model.transformer.text_model."

typedef struct
{
  LkWeights    *weights;  /* borrowed from self->files */
  LkWeightInfo  info;     /* a copy; name is the canonical name (the table's key) */
} Entry;

struct _LkModelFiles
{
  gatomicrefcount  ref_count;
  LkModelLayout    layout;
  LkModelKind      kind;
  char            *path;
  GPtrArray       *files;    /* LkWeights, owned */
  GHashTable      *tensors;  /* canonical name → Entry, both owned */
};

G_DEFINE_BOXED_TYPE (LkModelFiles, lk_model_files, lk_model_files_ref, lk_model_files_unref)

const char *
lk_model_kind_get_name (LkModelKind kind)
{
  switch (kind)
    {
    case LK_MODEL_KIND_SD1:
      return "Stable Diffusion 1.x";
    case LK_MODEL_KIND_SD1_INPAINT:
      return "Stable Diffusion 1.x inpainting";
    default:
      g_return_val_if_reached (NULL);
    }
}

/* ---- diffusers → LDM names ---------------------------------------------------------------- */

/* Consumes "prefixN." from *p, with N ≤ max. */
static gboolean
take_index (const char **p,
            const char  *prefix,
            guint        max,
            guint       *index)
{
  const char *q;
  guint value = 0;

  if (!g_str_has_prefix (*p, prefix))
    return FALSE;
  q = *p + strlen (prefix);
  if (!g_ascii_isdigit (*q))
    return FALSE;
  while (g_ascii_isdigit (*q))
    {
      value = value * 10 + (*q++ - '0');
      if (value > max)
        return FALSE;
    }
  if (*q != '.')
    return FALSE;
  *p = q + 1;
  *index = value;
  return TRUE;
}

/* Renames the first component of rest with a {from, to} table; NULL when none matches. */
static char *
rename_head (const char        *rest,
             const char *const *table)
{
  for (guint i = 0; table[i] != NULL; i += 2)
    if (g_str_has_prefix (rest, table[i]))
      return g_strconcat (table[i + 1], rest + strlen (table[i]), NULL);
  return NULL;
}

static const char *const unet_resnet[] = {
  "norm1.", "in_layers.0.",
  "conv1.", "in_layers.2.",
  "time_emb_proj.", "emb_layers.1.",
  "norm2.", "out_layers.0.",
  "conv2.", "out_layers.3.",
  "conv_shortcut.", "skip_connection.",
  NULL,
};

char *
lk_model_map_diffusers_unet (const char *name)
{
  static const char *const plain[] = {
    "conv_in.", UNET "input_blocks.0.0.",
    "time_embedding.linear_1.", UNET "time_embed.0.",
    "time_embedding.linear_2.", UNET "time_embed.2.",
    "conv_norm_out.", UNET "out.0.",
    "conv_out.", UNET "out.2.",
    NULL,
  };
  const char *p = name;
  g_autofree char *inner = NULL;
  guint i, j;

  g_return_val_if_fail (name != NULL, NULL);

  if ((inner = rename_head (name, plain)) != NULL)
    return g_steal_pointer (&inner);

  if (take_index (&p, "down_blocks.", 3, &i))
    {
      if (take_index (&p, "resnets.", 1, &j) && (inner = rename_head (p, unet_resnet)) != NULL)
        return g_strdup_printf (UNET "input_blocks.%u.0.%s", 3 * i + j + 1, inner);
      if (take_index (&p, "attentions.", 1, &j) && i < 3)
        return g_strdup_printf (UNET "input_blocks.%u.1.%s", 3 * i + j + 1, p);
      if (g_str_has_prefix (p, "downsamplers.0.conv.") && i < 3)
        return g_strdup_printf (UNET "input_blocks.%u.0.op.%s", 3 * i + 3,
                                p + strlen ("downsamplers.0.conv."));
      return NULL;
    }
  if (g_str_has_prefix (p, "mid_block."))
    {
      p += strlen ("mid_block.");
      if (take_index (&p, "resnets.", 1, &j) && (inner = rename_head (p, unet_resnet)) != NULL)
        return g_strdup_printf (UNET "middle_block.%u.%s", 2 * j, inner);
      if (take_index (&p, "attentions.", 0, &j))
        return g_strdup_printf (UNET "middle_block.1.%s", p);
      return NULL;
    }
  if (take_index (&p, "up_blocks.", 3, &i))
    {
      if (take_index (&p, "resnets.", 2, &j) && (inner = rename_head (p, unet_resnet)) != NULL)
        return g_strdup_printf (UNET "output_blocks.%u.0.%s", 3 * i + j, inner);
      if (take_index (&p, "attentions.", 2, &j) && i > 0)
        return g_strdup_printf (UNET "output_blocks.%u.1.%s", 3 * i + j, p);
      if (g_str_has_prefix (p, "upsamplers.0.conv.") && i < 3)
        return g_strdup_printf (UNET "output_blocks.%u.%u.conv.%s", 3 * i + 2, i == 0 ? 1 : 2,
                                p + strlen ("upsamplers.0.conv."));
      return NULL;
    }
  return NULL;
}

char *
lk_model_map_diffusers_controlnet (const char *name)
{
  static const char *const plain[] = {
    "controlnet_cond_embedding.conv_in.", "control_model.input_hint_block.0.",
    "controlnet_cond_embedding.conv_out.", "control_model.input_hint_block.14.",
    "controlnet_mid_block.", "control_model.middle_block_out.0.",
    NULL,
  };
  const char *p = name;
  g_autofree char *unet = NULL;
  guint i;

  g_return_val_if_fail (name != NULL, NULL);

  if ((unet = rename_head (name, plain)) != NULL)
    return g_steal_pointer (&unet);
  /* The hint encoder's blocks are its convolutions after conv_in, which sit at every other
   * index of LDM's Sequential (SiLUs between them). */
  if (take_index (&p, "controlnet_cond_embedding.blocks.", 5, &i))
    return g_strdup_printf ("control_model.input_hint_block.%u.%s", 2 * i + 2, p);
  p = name;
  if (take_index (&p, "controlnet_down_blocks.", 11, &i))
    return g_strdup_printf ("control_model.zero_convs.%u.0.%s", i, p);
  if (g_str_has_prefix (name, "up_blocks.") || g_str_has_prefix (name, "conv_out.") ||
      g_str_has_prefix (name, "conv_norm_out."))
    return NULL;
  if ((unet = lk_model_map_diffusers_unet (name)) == NULL || !g_str_has_prefix (unet, UNET))
    return NULL;
  return g_strconcat ("control_model.", unet + strlen (UNET), NULL);
}

char *
lk_model_map_diffusers_vae (const char *name)
{
  static const char *const plain[] = {
    "quant_conv.", VAE "quant_conv.",
    "post_quant_conv.", VAE "post_quant_conv.",
    NULL,
  };
  static const char *const side_plain[] = {
    "conv_in.", "conv_in.",
    "conv_out.", "conv_out.",
    "conv_norm_out.", "norm_out.",
    NULL,
  };
  static const char *const resnet[] = {
    "norm1.", "norm1.",
    "conv1.", "conv1.",
    "norm2.", "norm2.",
    "conv2.", "conv2.",
    "conv_shortcut.", "nin_shortcut.",
    NULL,
  };
  /* Older diffusers files use query/key/value/proj_attn, newer ones to_q/to_k/to_v/to_out.0. */
  static const char *const attention[] = {
    "group_norm.", "norm.",
    "query.", "q.", "to_q.", "q.",
    "key.", "k.", "to_k.", "k.",
    "value.", "v.", "to_v.", "v.",
    "proj_attn.", "proj_out.", "to_out.0.", "proj_out.",
    NULL,
  };
  const char *p = name;
  const char *side;
  g_autofree char *inner = NULL;
  guint i, j;

  g_return_val_if_fail (name != NULL, NULL);

  if ((inner = rename_head (name, plain)) != NULL)
    return g_steal_pointer (&inner);
  if (g_str_has_prefix (p, "encoder."))
    side = "encoder";
  else if (g_str_has_prefix (p, "decoder."))
    side = "decoder";
  else
    return NULL;
  p += strlen ("encoder.");

  if ((inner = rename_head (p, side_plain)) != NULL)
    return g_strdup_printf (VAE "%s.%s", side, inner);
  if (g_str_has_prefix (p, "mid_block."))
    {
      p += strlen ("mid_block.");
      if (take_index (&p, "resnets.", 1, &j) && (inner = rename_head (p, resnet)) != NULL)
        return g_strdup_printf (VAE "%s.mid.block_%u.%s", side, j + 1, inner);
      if (take_index (&p, "attentions.", 0, &j) && (inner = rename_head (p, attention)) != NULL)
        return g_strdup_printf (VAE "%s.mid.attn_1.%s", side, inner);
      return NULL;
    }
  if (side[0] == 'e' && take_index (&p, "down_blocks.", 3, &i))
    {
      if (take_index (&p, "resnets.", 1, &j) && (inner = rename_head (p, resnet)) != NULL)
        return g_strdup_printf (VAE "encoder.down.%u.block.%u.%s", i, j, inner);
      if (g_str_has_prefix (p, "downsamplers.0.conv."))
        return g_strdup_printf (VAE "encoder.down.%u.downsample.conv.%s", i,
                                p + strlen ("downsamplers.0.conv."));
      return NULL;
    }
  if (side[0] == 'd' && take_index (&p, "up_blocks.", 3, &i))
    {
      if (take_index (&p, "resnets.", 2, &j) && (inner = rename_head (p, resnet)) != NULL)
        return g_strdup_printf (VAE "decoder.up.%u.block.%u.%s", 3 - i, j, inner);
      if (g_str_has_prefix (p, "upsamplers.0.conv."))
        return g_strdup_printf (VAE "decoder.up.%u.upsample.conv.%s", 3 - i,
                                p + strlen ("upsamplers.0.conv."));
      return NULL;
    }
  return NULL;
}

char *
lk_model_map_diffusers_text (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);
  if (g_str_has_prefix (name, "text_model."))
    return g_strconcat ("cond_stage_model.transformer.", name, NULL);
  return NULL;
}

/* ---- the canonical table ------------------------------------------------------------------ */

static gboolean
add_entry (LkModelFiles        *self,
           char                *canonical,  /* taken */
           LkWeights           *weights,
           const LkWeightInfo  *info,
           GError             **error)
{
  Entry *entry;

  if (g_hash_table_contains (self->tensors, canonical))
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                   "%s: tensor “%s” gives “%s”, which another tensor already gave",
                   lk_weights_get_path (weights), info->name, canonical);
      g_free (canonical);
      return FALSE;
    }
  entry = g_new0 (Entry, 1);
  entry->weights = weights;
  entry->info = *info;
  entry->info.name = canonical;
  /* diffusers' VAE attention is Linear [C, C]; LDM's is a 1×1 conv [C, C, 1, 1]. */
  if (g_str_has_prefix (canonical, VAE) && strstr (canonical, ".mid.attn_1.") != NULL &&
      g_str_has_suffix (canonical, ".weight") && info->ndim == 2 &&
      strstr (canonical, ".attn_1.norm.") == NULL)
    {
      entry->info.ndim = 4;
      entry->info.shape[2] = entry->info.shape[3] = 1;
      entry->info.strides[2] = entry->info.strides[3] = 1;
    }
  g_hash_table_insert (self->tensors, canonical, entry);
  return TRUE;
}

typedef char *(*MapFunc) (const char *name);

static gboolean
add_file (LkModelFiles  *self,
          LkWeights     *weights,
          MapFunc        map,
          GError       **error)
{
  g_ptr_array_add (self->files, lk_weights_ref (weights));
  for (guint i = 0; i < lk_weights_get_n_tensors (weights); i++)
    {
      const LkWeightInfo *info = lk_weights_get_nth (weights, i);
      char *canonical = map (info->name);

      if (canonical == NULL)
        {
          g_debug ("%s: no canonical name for “%s”", lk_weights_get_path (weights), info->name);
          continue;
        }
      if (!add_entry (self, canonical, weights, info, error))
        return FALSE;
    }
  return TRUE;
}

static char *
map_ldm (const char *name)
{
  /* Checkpoints saved with old transformers versions lack the text_model level. */
  if (g_str_has_prefix (name, "cond_stage_model.transformer.") &&
      !g_str_has_prefix (name, TEXT))
    return g_strconcat (TEXT, name + strlen ("cond_stage_model.transformer."), NULL);
  return g_strdup (name);
}

static char *
map_vae_prefixed (const char *name)
{
  return g_str_has_prefix (name, VAE) ? g_strdup (name) : NULL;
}

static char *
map_vae_bare (const char *name)
{
  if (g_str_has_prefix (name, "encoder.") || g_str_has_prefix (name, "decoder.") ||
      g_str_has_prefix (name, "quant_conv.") || g_str_has_prefix (name, "post_quant_conv."))
    return g_strconcat (VAE, name, NULL);
  return NULL;
}

static gboolean
has_prefix_name (LkWeights  *weights,
                 const char *prefix)
{
  for (guint i = 0; i < lk_weights_get_n_tensors (weights); i++)
    if (g_str_has_prefix (lk_weights_get_nth (weights, i)->name, prefix))
      return TRUE;
  return FALSE;
}

static gboolean
remove_vae_cb (gpointer key,
               gpointer value,
               gpointer user_data)
{
  return g_str_has_prefix (key, VAE);
}

static gboolean
add_separate_vae (LkModelFiles  *self,
                  const char    *vae_path,
                  GError       **error)
{
  g_autoptr(LkWeights) vae = lk_weights_open (vae_path, error);
  MapFunc map;

  if (vae == NULL)
    return FALSE;
  if (has_prefix_name (vae, VAE))
    map = map_vae_prefixed;
  else if (lk_weights_lookup (vae, "decoder.conv_norm_out.weight") != NULL ||
           has_prefix_name (vae, "decoder.mid_block."))
    map = lk_model_map_diffusers_vae;
  else if (lk_weights_lookup (vae, "decoder.conv_in.weight") != NULL)
    map = map_vae_bare;
  else
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNKNOWN,
                   "%s: not a VAE (no decoder.conv_in.weight)", vae_path);
      return FALSE;
    }
  g_hash_table_foreach_remove (self->tensors, remove_vae_cb, NULL);
  return add_file (self, vae, map, error);
}

/* The first of candidates that exists in folder/sub, opened. */
static LkWeights *
open_component (const char         *folder,
                const char         *sub,
                const char *const  *candidates,
                GError            **error)
{
  for (guint i = 0; candidates[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (folder, sub, candidates[i], NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return lk_weights_open (path, error);
    }
  g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_INCOMPLETE,
               "%s: no %s/%s in the diffusers folder", folder, sub, candidates[0]);
  return NULL;
}

static gboolean
open_diffusers (LkModelFiles  *self,
                const char    *path,
                gboolean       want_vae,
                GError       **error)
{
  static const char *const module_files[] = {
    "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
    "diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.bin", NULL,
  };
  static const char *const text_files[] = {
    "model.safetensors", "model.fp16.safetensors", "pytorch_model.bin", "pytorch_model.fp16.bin",
    NULL,
  };
  g_autofree char *text_encoder_2 = g_build_filename (path, "text_encoder_2", NULL);
  g_autoptr(LkWeights) unet = NULL;
  g_autoptr(LkWeights) vae = NULL;
  g_autoptr(LkWeights) text = NULL;

  if (g_file_test (text_encoder_2, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "%s: SDXL checkpoints are not supported yet", path);
      return FALSE;
    }
  unet = open_component (path, "unet", module_files, error);
  if (unet == NULL)
    return FALSE;
  if (lk_weights_lookup (unet, "add_embedding.linear_1.weight") != NULL)
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "%s: SDXL checkpoints are not supported yet", path);
      return FALSE;
    }
  if (!add_file (self, unet, lk_model_map_diffusers_unet, error))
    return FALSE;
  if (want_vae)
    {
      vae = open_component (path, "vae", module_files, error);
      if (vae == NULL || !add_file (self, vae, lk_model_map_diffusers_vae, error))
        return FALSE;
    }
  text = open_component (path, "text_encoder", text_files, error);
  return text != NULL && add_file (self, text, lk_model_map_diffusers_text, error);
}

static const LkWeightInfo *
lookup_info (LkModelFiles *self,
             const char   *name)
{
  Entry *entry = g_hash_table_lookup (self->tensors, name);

  return entry != NULL ? &entry->info : NULL;
}

static gboolean
has_canonical_prefix (LkModelFiles *self,
                      const char   *prefix)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->tensors);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (g_str_has_prefix (key, prefix))
      return TRUE;
  return FALSE;
}

static gboolean
detect_kind (LkModelFiles  *self,
             GError       **error)
{
  const LkWeightInfo *conv_in, *to_k, *te;

  if (has_canonical_prefix (self, "conditioner.") ||
      lookup_info (self, UNET "label_emb.0.0.weight") != NULL)
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "%s: SDXL checkpoints are not supported yet", self->path);
      return FALSE;
    }
  to_k = lookup_info (self, UNET "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight");
  if (has_canonical_prefix (self, "cond_stage_model.model.") ||
      (to_k != NULL && to_k->ndim == 2 && to_k->shape[1] == 1024))
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "%s: Stable Diffusion 2 checkpoints are not supported yet", self->path);
      return FALSE;
    }
  conv_in = lookup_info (self, UNET "input_blocks.0.0.weight");
  if (conv_in == NULL)
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNKNOWN,
                   "%s: not a Stable Diffusion checkpoint (no UNet input convolution "
                   UNET "input_blocks.0.0.weight)", self->path);
      return FALSE;
    }
  /* SD1.x's cross-attention reads CLIP ViT-L's 768-wide states. The same architecture at another
   * width (the tests' tiny checkpoints) passes when the text encoder is that wide too: the
   * modules then check every shape against it. */
  te = lookup_info (self, TEXT "embeddings.token_embedding.weight");
  if (to_k == NULL || to_k->ndim != 2 ||
      (to_k->shape[1] != 768 && (te == NULL || te->ndim != 2 || te->shape[1] != to_k->shape[1])))
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "%s: the UNet's cross-attention is not 768 wide (not an SD1.x UNet)",
                   self->path);
      return FALSE;
    }
  if (conv_in->ndim != 4 || conv_in->shape[0] % 32 != 0 ||
      (conv_in->shape[1] != 4 && conv_in->shape[1] != 9))
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "%s: a UNet with %" G_GINT64_FORMAT " input channels is not supported (4, or "
                   "9 for inpainting)", self->path, conv_in->ndim == 4 ? conv_in->shape[1] : 0);
      return FALSE;
    }
  self->kind = conv_in->shape[1] == 9 ? LK_MODEL_KIND_SD1_INPAINT : LK_MODEL_KIND_SD1;

  if (lookup_info (self, TEXT "embeddings.token_embedding.weight") == NULL)
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_INCOMPLETE,
                   "%s: the checkpoint has no CLIP text encoder", self->path);
      return FALSE;
    }
  if (lookup_info (self, VAE "decoder.conv_in.weight") == NULL)
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_INCOMPLETE,
                   "%s: the checkpoint has no VAE; choose a separate VAE file", self->path);
      return FALSE;
    }
  return TRUE;
}

static void
entry_free (gpointer data)
{
  g_free (data);
}

LkModelFiles *
lk_model_files_open (const char  *path,
                     const char  *vae_path,
                     GError     **error)
{
  g_autoptr(LkModelFiles) self = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  self = g_new0 (LkModelFiles, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->path = g_strdup (path);
  self->files = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_weights_unref);
  self->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, entry_free);

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      self->layout = LK_MODEL_LAYOUT_DIFFUSERS;
      if (!open_diffusers (self, path, vae_path == NULL, error))
        return NULL;
    }
  else
    {
      g_autoptr(LkWeights) weights = lk_weights_open (path, error);

      self->layout = LK_MODEL_LAYOUT_LDM;
      if (weights == NULL || !add_file (self, weights, map_ldm, error))
        return NULL;
    }
  if (vae_path != NULL && !add_separate_vae (self, vae_path, error))
    return NULL;
  if (!detect_kind (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

LkModelFiles *
lk_model_files_ref (LkModelFiles *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_model_files_unref (LkModelFiles *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_clear_pointer (&self->tensors, g_hash_table_unref);
  g_clear_pointer (&self->files, g_ptr_array_unref);
  g_free (self->path);
  g_free (self);
}

LkModelLayout
lk_model_files_get_layout (LkModelFiles *self)
{
  g_return_val_if_fail (self != NULL, LK_MODEL_LAYOUT_LDM);
  return self->layout;
}

LkModelKind
lk_model_files_get_kind (LkModelFiles *self)
{
  g_return_val_if_fail (self != NULL, LK_MODEL_KIND_SD1);
  return self->kind;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GPtrArray *
lk_model_files_list_names (LkModelFiles *self)
{
  GPtrArray *names;
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (self != NULL, NULL);
  names = g_ptr_array_new_with_free_func (g_free);
  g_hash_table_iter_init (&iter, self->tensors);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, g_strdup (key));
  g_ptr_array_sort (names, compare_names);
  return names;
}

const LkWeightInfo *
lk_model_files_lookup (LkModelFiles  *self,
                       const char    *name,
                       LkWeights    **weights)
{
  Entry *entry;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  entry = g_hash_table_lookup (self->tensors, name);
  if (weights != NULL)
    *weights = entry != NULL ? entry->weights : NULL;
  return entry != NULL ? &entry->info : NULL;
}

const LkWeightInfo *
lk_model_files_require (LkModelFiles  *self,
                        const char    *name,
                        LkWeights    **weights,
                        GError       **error)
{
  const LkWeightInfo *info = lk_model_files_lookup (self, name, weights);

  if (info == NULL)
    g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_INCOMPLETE,
                 "%s: no tensor “%s”", self->path, name);
  return info;
}
