/* lk-model-scan.c: what a weights file is, told from its tensor names
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Names decide the family (kohya LoRAs use lora_unet_/lora_te_, ControlNets control_model. or an
 * input_hint_block, checkpoints model.diffusion_model., VAEs bare encoder./decoder.); the width of
 * a cross-attention key (768 SD1, 1024 SD2, 2048 SDXL) decides whether Likeness can use it.
 * Checkpoints go through lk_model_files_open(), the loader's own detector.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "lk-catalog-files.h"
#include "lk-model-kind.h"
#include "lk-model-scan.h"
#include "lk-weights.h"

#define MAX_DEPTH 6

static const char *const model_extensions[] = { ".safetensors", ".ckpt", ".pth", ".pt", ".bin" };

/* Relative to the folder scanned: web UI (A1111, Forge), its ControlNet extension, ComfyUI, and
 * the same folders when the user points at models/ itself. */
static const char *const model_folders[] = {
  "models/Stable-diffusion", "models/Lora", "models/LyCORIS", "models/ControlNet", "models/VAE",
  "extensions/sd-webui-controlnet/models",
  "models/checkpoints", "models/loras", "models/controlnet", "models/vae",
  "Stable-diffusion", "Lora", "LyCORIS", "ControlNet", "VAE",
  "checkpoints", "loras", "controlnet", "vae",
};

const char *
lk_model_class_get_role (LkModelClass klass)
{
  switch (klass)
    {
    case LK_MODEL_CLASS_CHECKPOINT:
      return "base";
    case LK_MODEL_CLASS_CHECKPOINT_INPAINT:
      return "inpaint";
    case LK_MODEL_CLASS_LORA:
      return "lora";
    case LK_MODEL_CLASS_CONTROLNET:
      return "controlnet";
    case LK_MODEL_CLASS_VAE:
      return "vae";
    case LK_MODEL_CLASS_UNSUPPORTED:
    case LK_MODEL_CLASS_UNKNOWN:
    case LK_MODEL_CLASS_NOT_MODEL:
    default:
      return NULL;
    }
}

const char *
lk_model_class_get_label (LkModelClass klass)
{
  switch (klass)
    {
    case LK_MODEL_CLASS_CHECKPOINT:
      return "SD1.x checkpoint";
    case LK_MODEL_CLASS_CHECKPOINT_INPAINT:
      return "SD1.x inpainting checkpoint";
    case LK_MODEL_CLASS_LORA:
      return "SD1.x LoRA";
    case LK_MODEL_CLASS_CONTROLNET:
      return "SD1.x ControlNet";
    case LK_MODEL_CLASS_VAE:
      return "VAE";
    case LK_MODEL_CLASS_UNSUPPORTED:
      return "not supported";
    case LK_MODEL_CLASS_UNKNOWN:
      return "unknown weights";
    case LK_MODEL_CLASS_NOT_MODEL:
    default:
      return "not a model";
    }
}

static gboolean
has_model_extension (const char *path)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);

  for (guint i = 0; i < G_N_ELEMENTS (model_extensions); i++)
    if (g_str_has_suffix (lower, model_extensions[i]))
      return TRUE;
  return FALSE;
}

typedef struct
{
  gboolean  unet;
  gboolean  lora;
  gboolean  lora_xl;       /* lora_te1_/lora_te2_: two text encoders */
  gboolean  control;
  gboolean  vae_encoder;
  gboolean  vae_decoder;
  gboolean  embedding;
  gint64    context_width; /* width of a cross-attention key, 0 when none was seen */
} Signs;

static void
read_signs (LkWeights *weights,
            Signs     *signs)
{
  memset (signs, 0, sizeof *signs);
  for (guint i = 0; i < lk_weights_get_n_tensors (weights); i++)
    {
      const LkWeightInfo *info = lk_weights_get_nth (weights, i);
      const char *name = info->name;

      if (g_str_has_prefix (name, "model.diffusion_model."))
        signs->unet = TRUE;
      if (g_str_has_prefix (name, "lora_unet_") || g_str_has_prefix (name, "lora_te_") ||
          strstr (name, ".lora_down.") != NULL || strstr (name, ".lora_A.") != NULL)
        signs->lora = TRUE;
      if (g_str_has_prefix (name, "lora_te1_") || g_str_has_prefix (name, "lora_te2_"))
        signs->lora = signs->lora_xl = TRUE;
      if (g_str_has_prefix (name, "control_model.") || strstr (name, "input_hint_block.") ||
          g_str_has_prefix (name, "controlnet_cond_embedding."))
        signs->control = TRUE;
      if (g_str_has_prefix (name, "encoder.down.") || g_str_has_prefix (name, "encoder.down_blocks.") ||
          g_str_has_prefix (name, "first_stage_model.encoder."))
        signs->vae_encoder = TRUE;
      if (g_str_has_prefix (name, "decoder.up.") || g_str_has_prefix (name, "decoder.up_blocks.") ||
          g_str_has_prefix (name, "first_stage_model.decoder."))
        signs->vae_decoder = TRUE;
      if (strcmp (name, "emb_params") == 0 || g_str_has_prefix (name, "string_to_param"))
        signs->embedding = TRUE;
      /* Cross-attention keys: [out, context] in LDM, diffusers and LoRA-down form alike. */
      if (signs->context_width == 0 && info->ndim == 2 &&
          (g_str_has_suffix (name, "attn2.to_k.weight") ||
           g_str_has_suffix (name, "attn2_to_k.lora_down.weight") ||
           g_str_has_suffix (name, "attn2.to_k.lora_down.weight")))
        signs->context_width = info->shape[1];
    }
}

static const char *
width_family (gint64 width)
{
  switch (width)
    {
    case 1024:
      return "Stable Diffusion 2";
    case 2048:
      return "SDXL";
    default:
      return "an unknown Stable Diffusion";
    }
}

LkModelClass
lk_model_classify (const char  *path,
                   char       **detail)
{
  g_autoptr(LkWeights) weights = NULL;
  g_autoptr(GError) error = NULL;
  GHashTable *metadata;
  const char *base_version;
  Signs signs;

  g_return_val_if_fail (path != NULL, LK_MODEL_CLASS_NOT_MODEL);

#define RETURN_WITH(klass, ...) \
  G_STMT_START { if (detail != NULL) *detail = g_strdup_printf (__VA_ARGS__); return klass; } G_STMT_END

  if (!has_model_extension (path))
    RETURN_WITH (LK_MODEL_CLASS_NOT_MODEL, "not a model file");
  weights = lk_weights_open (path, &error);
  if (weights == NULL)
    RETURN_WITH (LK_MODEL_CLASS_NOT_MODEL, "not readable as weights: %s", error->message);
  read_signs (weights, &signs);
  metadata = lk_weights_get_metadata (weights);
  base_version = metadata != NULL ? g_hash_table_lookup (metadata, "ss_base_model_version") : NULL;

  if (signs.lora)
    {
      if (signs.lora_xl || (base_version != NULL && strstr (base_version, "sdxl") != NULL))
        RETURN_WITH (LK_MODEL_CLASS_UNSUPPORTED, "an SDXL LoRA; Likeness uses SD1.x only");
      if ((base_version != NULL && strstr (base_version, "v2") != NULL) ||
          (metadata != NULL && g_strcmp0 (g_hash_table_lookup (metadata, "ss_v2"), "True") == 0))
        RETURN_WITH (LK_MODEL_CLASS_UNSUPPORTED,
                     "a Stable Diffusion 2 LoRA; Likeness uses SD1.x only");
      if (signs.context_width != 0 && signs.context_width != 768)
        RETURN_WITH (LK_MODEL_CLASS_UNSUPPORTED, "a LoRA for %s; Likeness uses SD1.x only",
                     width_family (signs.context_width));
      RETURN_WITH (LK_MODEL_CLASS_LORA, "%u tensors", lk_weights_get_n_tensors (weights));
    }
  if (signs.control)
    {
      if (signs.context_width != 0 && signs.context_width != 768)
        RETURN_WITH (LK_MODEL_CLASS_UNSUPPORTED, "a ControlNet for %s; Likeness uses SD1.x only",
                     width_family (signs.context_width));
      RETURN_WITH (LK_MODEL_CLASS_CONTROLNET, "%u tensors", lk_weights_get_n_tensors (weights));
    }
  if (signs.unet)
    {
      g_autoptr(LkModelFiles) files = NULL;

      g_clear_error (&error);
      files = lk_model_files_open (path, NULL, &error);
      if (files == NULL && g_error_matches (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED))
        RETURN_WITH (LK_MODEL_CLASS_UNSUPPORTED, "%s", error->message);
      if (files == NULL)
        RETURN_WITH (LK_MODEL_CLASS_UNKNOWN, "%s", error->message);
      if (lk_model_files_get_kind (files) == LK_MODEL_KIND_SD1_INPAINT)
        RETURN_WITH (LK_MODEL_CLASS_CHECKPOINT_INPAINT, "%s",
                     lk_model_kind_get_name (LK_MODEL_KIND_SD1_INPAINT));
      RETURN_WITH (LK_MODEL_CLASS_CHECKPOINT, "%s", lk_model_kind_get_name (LK_MODEL_KIND_SD1));
    }
  if (signs.vae_encoder && signs.vae_decoder)
    RETURN_WITH (LK_MODEL_CLASS_VAE, "%u tensors", lk_weights_get_n_tensors (weights));
  if (signs.embedding)
    RETURN_WITH (LK_MODEL_CLASS_UNKNOWN, "a textual-inversion embedding; Likeness does not use "
                 "them");
  RETURN_WITH (LK_MODEL_CLASS_UNKNOWN, "weights Likeness does not recognise (%u tensors)",
               lk_weights_get_n_tensors (weights));
#undef RETURN_WITH
}

void
lk_model_scan_item_free (LkModelScanItem *item)
{
  if (item == NULL)
    return;
  g_free (item->path);
  g_free (item->note);
  g_free (item);
}

static char *
name_from_path (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  char *dot = strrchr (base, '.');

  if (dot != NULL && dot != base)
    *dot = '\0';
  return g_steal_pointer (&base);
}

LkModelScanItem *
lk_models_adopt (LkCatalog        *catalog,
                 LkModelRegistry  *registry,
                 const char       *path,
                 gboolean          hash,
                 GCancellable     *cancellable,
                 GError          **error)
{
  g_autoptr(LkModelScanItem) item = g_new0 (LkModelScanItem, 1);
  g_autofree char *detail = NULL;
  g_autofree char *name = NULL;
  g_autofree char *sha256 = NULL;
  g_autoptr(GFile) file = NULL;
  const LkModelEntry *entry = NULL;
  const char *role;
  goffset size = -1;
  GStatBuf st;

  g_return_val_if_fail (LK_IS_CATALOG (catalog), NULL);
  g_return_val_if_fail (path != NULL, NULL);

  file = g_file_new_for_path (path);
  item->path = g_file_get_path (file);  /* absolute: the row refers to the file where it is */
  item->klass = lk_model_classify (item->path, &detail);
  role = lk_model_class_get_role (item->klass);
  /* Hashing also recognises the registry's non-weights files (the CLIP vocabulary). */
  if (hash && (role != NULL || registry != NULL))
    {
      sha256 = lk_catalog_files_hash (item->path, &size, cancellable, error);
      if (sha256 == NULL)
        return NULL;
      if (registry != NULL)
        entry = lk_model_registry_find_by_sha256 (registry, sha256, NULL);
      if (entry != NULL && entry->files->len != 1)
        entry = NULL;  /* one file of a multi-file model is not the model */
    }
  else if (g_stat (item->path, &st) == 0)
    size = st.st_size;
  if (role == NULL && entry == NULL)
    {
      item->note = g_strdup_printf ("ignored: %s", detail);
      return g_steal_pointer (&item);
    }

  name = entry != NULL ? g_strdup (entry->name) : name_from_path (item->path);
  if (entry != NULL)
    role = entry->role;
  if (!lk_catalog_set_model (catalog, role, name, item->path, size, sha256, NULL, "ready", error))
    return NULL;
  item->recorded = TRUE;
  item->note = g_strdup_printf ("%s, recorded as %s “%s”%s",
                                entry != NULL ? entry->title : lk_model_class_get_label (item->klass),
                                role, name, entry != NULL ? " (the registry's own file)" : "");
  return g_steal_pointer (&item);
}

/* The class a file must have to stand in for a model of this role, or NOT_MODEL when only the
 * registry's own bytes will do. */
static LkModelClass
class_for_role (const char *role)
{
  static const LkModelClass classes[] = {
    LK_MODEL_CLASS_CHECKPOINT, LK_MODEL_CLASS_CHECKPOINT_INPAINT, LK_MODEL_CLASS_VAE,
    LK_MODEL_CLASS_CONTROLNET,
  };

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    if (g_strcmp0 (lk_model_class_get_role (classes[i]), role) == 0)
      return classes[i];
  return LK_MODEL_CLASS_NOT_MODEL;
}

LkModelScanItem *
lk_models_adopt_as (LkCatalog           *catalog,
                    const LkModelEntry  *entry,
                    const char          *path,
                    GCancellable        *cancellable,
                    GError             **error)
{
  g_autoptr(LkModelScanItem) item = g_new0 (LkModelScanItem, 1);
  g_autoptr(GFile) file = NULL;
  g_autofree char *detail = NULL;
  g_autofree char *sha256 = NULL;
  g_autofree char *base = NULL;
  const LkModelFileSpec *first;
  LkModelClass wanted;
  goffset size = -1;
  gboolean pinned_match;

  g_return_val_if_fail (LK_IS_CATALOG (catalog), NULL);
  g_return_val_if_fail (entry != NULL, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  file = g_file_new_for_path (path);
  item->path = g_file_get_path (file);
  base = g_path_get_basename (item->path);
  first = g_ptr_array_index (entry->files, 0);
  if (!g_file_test (item->path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, "%s is not a file",
                   item->path);
      return NULL;
    }
  if (entry->files->len != 1)
    {
      /* The parts of a TF.js model only work together, from one folder. */
      g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_WRONG_KIND,
                   "“%s” is made of %u files and cannot be adopted from one of them",
                   entry->title, entry->files->len);
      return NULL;
    }

  wanted = class_for_role (entry->role);
  item->klass = lk_model_classify (item->path, &detail);
  if (wanted != LK_MODEL_CLASS_NOT_MODEL && item->klass != wanted)
    {
      g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_WRONG_KIND,
                   "“%s” needs a file of kind “%s”, but %s is of kind “%s” (%s)", entry->title,
                   lk_model_class_get_label (wanted), base, lk_model_class_get_label (item->klass),
                   detail);
      return NULL;
    }

  sha256 = lk_catalog_files_hash (item->path, &size, cancellable, error);
  if (sha256 == NULL)
    return NULL;
  pinned_match = first->sha256 != NULL && strcmp (sha256, first->sha256) == 0;
  if (wanted == LK_MODEL_CLASS_NOT_MODEL && !pinned_match)
    {
      g_set_error (error, LK_MODELS_ERROR, LK_MODELS_ERROR_WRONG_KIND,
                   "%s is not %s: its SHA-256 is %s, the publisher's file has %s", base,
                   first->path, sha256, first->sha256 != NULL ? first->sha256 : "no pin");
      return NULL;
    }

  if (!lk_catalog_set_model (catalog, entry->role, entry->name, item->path, size, sha256, NULL,
                             "ready", error))
    return NULL;
  item->recorded = TRUE;
  item->note = g_strdup_printf ("recorded as %s “%s”%s", entry->role, entry->name,
                                pinned_match ? ", the publisher's own file"
                                             : ", a different file than the publisher's");
  return g_steal_pointer (&item);
}

static gboolean
walk (LkCatalog        *catalog,
      LkModelRegistry  *registry,
      GFile            *dir,
      guint             depth,
      gboolean          hash,
      GHashTable       *seen,
      GPtrArray        *items,
      GCancellable     *cancellable,
      GError          **error)
{
  g_autoptr(GFileEnumerator) children = NULL;
  g_autoptr(GError) local_error = NULL;
  GFileInfo *info;
  GFile *child;

  children = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NONE, cancellable, error);
  if (children == NULL)
    return FALSE;
  while (g_file_enumerator_iterate (children, &info, &child, cancellable, &local_error) &&
         info != NULL)
    {
      const char *name = g_file_info_get_name (info);
      g_autofree char *path = g_file_get_path (child);

      if (name[0] == '.' || g_str_has_suffix (name, ".part") ||
          !g_hash_table_add (seen, g_strdup (path)))
        continue;
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        {
          if (depth < MAX_DEPTH &&
              !walk (catalog, registry, child, depth + 1, hash, seen, items, cancellable, error))
            return FALSE;
        }
      else if (g_file_info_get_file_type (info) == G_FILE_TYPE_REGULAR)
        {
          LkModelScanItem *item = lk_models_adopt (catalog, registry, path, hash, cancellable,
                                                   error);

          if (item == NULL)
            return FALSE;
          g_ptr_array_add (items, item);
        }
    }
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

static int
compare_items (gconstpointer a,
               gconstpointer b)
{
  const LkModelScanItem *item_a = *(LkModelScanItem * const *) a;
  const LkModelScanItem *item_b = *(LkModelScanItem * const *) b;

  return strcmp (item_a->path, item_b->path);
}

GPtrArray *
lk_models_scan (LkCatalog        *catalog,
                LkModelRegistry  *registry,
                const char       *dir,
                gboolean          hash,
                GCancellable     *cancellable,
                GError          **error)
{
  g_autoptr(GPtrArray) items = NULL;
  g_autoptr(GHashTable) seen = NULL;
  g_autoptr(GFile) root = NULL;
  guint n_folders = 0;

  g_return_val_if_fail (LK_IS_CATALOG (catalog), NULL);
  g_return_val_if_fail (dir != NULL, NULL);

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, "%s is not a folder", dir);
      return NULL;
    }
  items = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_model_scan_item_free);
  seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  root = g_file_new_for_path (dir);
  for (guint i = 0; i < G_N_ELEMENTS (model_folders); i++)
    {
      g_autoptr(GFile) folder = g_file_resolve_relative_path (root, model_folders[i]);
      g_autofree char *path = g_file_get_path (folder);

      if (!g_file_test (path, G_FILE_TEST_IS_DIR))
        continue;
      n_folders++;
      if (!walk (catalog, registry, folder, 0, hash, seen, items, cancellable, error))
        return NULL;
    }
  if (n_folders == 0 && !walk (catalog, registry, root, 0, hash, seen, items, cancellable, error))
    return NULL;
  g_ptr_array_sort (items, compare_items);
  return g_steal_pointer (&items);
}
