/* lk-lora.c: LoRA adapters — reading, matching, merging, writing
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-lora"

#include "config.h"

#include <string.h>

#include "lk-half.h"
#include "lk-lora.h"
#include "lk-ops.h"
#include "lk-safetensors.h"

#define UNET_PREFIX "model.diffusion_model."
#define TEXT_PREFIX "cond_stage_model.transformer."

G_DEFINE_QUARK (lk-lora-error-quark, lk_lora_error)

typedef struct
{
  LkLoraAdapter  pub;
  /* PEFT names and lk_lora_add() know their canonical name without a model; kohya names are
   * resolved against one. */
  char          *mapped;
} Adapter;

struct _LkLora
{
  gatomicrefcount  ref_count;
  LkLoraFormat     format;
  GPtrArray       *adapters;  /* Adapter *, in file order */
  GHashTable      *by_key;    /* key → Adapter * (borrowed) */
  GHashTable      *by_target; /* canonical name → Adapter * (borrowed) */
  GHashTable      *metadata;  /* owned strings */
};

G_DEFINE_BOXED_TYPE (LkLora, lk_lora, lk_lora_ref, lk_lora_unref)

static void
adapter_free (gpointer data)
{
  Adapter *a = data;

  g_free (a->pub.key);
  g_free (a->pub.target);
  g_free (a->pub.down);
  g_free (a->pub.up);
  g_free (a->mapped);
  g_free (a);
}

LkLora *
lk_lora_new (void)
{
  LkLora *self = g_new0 (LkLora, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->format = LK_LORA_FORMAT_KOHYA;
  self->adapters = g_ptr_array_new_with_free_func (adapter_free);
  self->by_key = g_hash_table_new (g_str_hash, g_str_equal);
  self->by_target = g_hash_table_new (g_str_hash, g_str_equal);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

LkLora *
lk_lora_ref (LkLora *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_lora_unref (LkLora *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_hash_table_unref (self->by_key);
  g_hash_table_unref (self->by_target);
  g_hash_table_unref (self->metadata);
  g_ptr_array_unref (self->adapters);
  g_free (self);
}

LkLoraFormat
lk_lora_get_format (LkLora *self)
{
  return self->format;
}

GHashTable *
lk_lora_get_metadata (LkLora *self)
{
  return self->metadata;
}

guint
lk_lora_get_n_adapters (LkLora *self)
{
  return self->adapters->len;
}

const LkLoraAdapter *
lk_lora_get_adapter (LkLora *self,
                     guint   index)
{
  g_return_val_if_fail (index < self->adapters->len, NULL);
  return &((Adapter *) g_ptr_array_index (self->adapters, index))->pub;
}

const LkLoraAdapter *
lk_lora_lookup (LkLora     *self,
                const char *target)
{
  Adapter *a = g_hash_table_lookup (self->by_target, target);

  return a != NULL ? &a->pub : NULL;
}

/* ---- names -------------------------------------------------------------------------------- */

char *
lk_lora_kohya_name (const char *target)
{
  const char *prefix, *rest;
  char *name, *p;

  g_return_val_if_fail (target != NULL, NULL);

  if (g_str_has_prefix (target, UNET_PREFIX))
    prefix = LK_LORA_KOHYA_UNET_PREFIX, rest = target + strlen (UNET_PREFIX);
  else if (g_str_has_prefix (target, TEXT_PREFIX))
    prefix = LK_LORA_KOHYA_TEXT_PREFIX, rest = target + strlen (TEXT_PREFIX);
  else
    return NULL;
  name = g_str_has_suffix (rest, ".weight")
         ? g_strconcat (prefix, rest, NULL)
         : g_strconcat (prefix, rest, ".", NULL);  /* a placeholder suffix cut below */
  *strrchr (name, '.') = '\0';
  for (p = name; *p != '\0'; p++)
    if (*p == '.')
      *p = '_';
  return name;
}

/* A kohya name built from diffusers module names (lora_unet_down_blocks_0_attentions_0_…) →
 * the dotted diffusers weight name, as far as the block structure goes: what lies inside a
 * block keeps its underscores, which lk_lora_kohya_name() folds away again. */
static char *
kohya_diffusers_to_dotted (const char *rest)
{
  static const char *const indexed[] = {
    "down_blocks_", "up_blocks_", "attentions_", "resnets_", "downsamplers_", "upsamplers_",
  };
  g_autoptr(GString) out = g_string_new (NULL);
  const char *p = rest;
  gboolean again = TRUE;

  while (again)
    {
      again = FALSE;
      for (guint i = 0; i < G_N_ELEMENTS (indexed); i++)
        {
          const char *q;

          if (!g_str_has_prefix (p, indexed[i]))
            continue;
          q = p + strlen (indexed[i]);
          if (!g_ascii_isdigit (*q))
            continue;
          g_string_append_len (out, p, strlen (indexed[i]) - 1);
          g_string_append_c (out, '.');
          while (g_ascii_isdigit (*q))
            g_string_append_c (out, *q++);
          if (*q == '_')
            q++;
          g_string_append_c (out, '.');
          p = q;
          again = TRUE;
          break;
        }
      if (!again && g_str_has_prefix (p, "mid_block_"))
        {
          g_string_append (out, "mid_block.");
          p += strlen ("mid_block_");
          again = TRUE;
        }
    }
  if (g_str_has_prefix (p, "time_embedding_"))
    {
      g_string_append (out, "time_embedding.");
      p += strlen ("time_embedding_");
    }
  g_string_append (out, p);
  g_string_append (out, ".weight");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* PEFT / diffusers module path → canonical weight name, or NULL. */
static char *
peft_to_canonical (const char *module)
{
  g_autofree char *weight = NULL;
  const char *p = module;

  if (g_str_has_prefix (p, "base_model.model."))
    p += strlen ("base_model.model.");
  if (g_str_has_prefix (p, "text_encoder."))
    {
      weight = g_strconcat (p + strlen ("text_encoder."), ".weight", NULL);
      return lk_model_map_diffusers_text (weight);
    }
  if (g_str_has_prefix (p, "unet."))
    p += strlen ("unet.");
  weight = g_strconcat (p, ".weight", NULL);
  if (g_str_has_prefix (p, "text_model."))
    return lk_model_map_diffusers_text (weight);
  return lk_model_map_diffusers_unet (weight);
}

/* ---- reading ------------------------------------------------------------------------------ */

typedef struct
{
  const LkWeightInfo *down, *up, *alpha;
  LkLoraFormat        format;
} Pending;

static const struct
{
  const char   *suffix;
  LkLoraFormat  format;
  guint         slot;     /* 0 down, 1 up, 2 alpha */
} factor_suffixes[] = {
  { ".lora_down.weight", LK_LORA_FORMAT_KOHYA, 0 },
  { ".lora_up.weight", LK_LORA_FORMAT_KOHYA, 1 },
  { ".lora_A.weight", LK_LORA_FORMAT_PEFT, 0 },
  { ".lora_B.weight", LK_LORA_FORMAT_PEFT, 1 },
  { ".lora_A.default.weight", LK_LORA_FORMAT_PEFT, 0 },
  { ".lora_B.default.weight", LK_LORA_FORMAT_PEFT, 1 },
  { ".alpha", LK_LORA_FORMAT_KOHYA, 2 },
};

static float *
read_factor (LkWeights          *weights,
             const LkWeightInfo *info,
             guint              *ndim,
             gint64             *shape,
             GError            **error)
{
  if ((info->ndim != 2 && info->ndim != 4) || !lk_weight_dtype_is_float (info->dtype))
    {
      g_set_error (error, LK_LORA_ERROR, LK_LORA_ERROR_FORMAT,
                   "%s: LoRA factor “%s” is not a 2-D or 4-D float tensor",
                   lk_weights_get_path (weights), info->name);
      return NULL;
    }
  *ndim = info->ndim;
  memcpy (shape, info->shape, info->ndim * sizeof (gint64));
  return lk_weights_dup_f32 (weights, info, error);
}

static gboolean
add_pending (LkLora      *self,
             LkWeights   *weights,
             const char  *key,
             Pending     *pending,
             GError     **error)
{
  const char *path = lk_weights_get_path (weights);
  Adapter *a;

  if (pending->down == NULL || pending->up == NULL)
    {
      g_set_error (error, LK_LORA_ERROR, LK_LORA_ERROR_FORMAT, "%s: LoRA “%s” has no %s factor",
                   path, key, pending->down == NULL ? "down (lora_down / lora_A)" : "up (lora_up / lora_B)");
      return FALSE;
    }
  a = g_new0 (Adapter, 1);
  a->pub.key = g_strdup (key);
  g_ptr_array_add (self->adapters, a);
  g_hash_table_insert (self->by_key, a->pub.key, a);
  if ((a->pub.down = read_factor (weights, pending->down, &a->pub.down_ndim,
                                  a->pub.down_shape, error)) == NULL ||
      (a->pub.up = read_factor (weights, pending->up, &a->pub.up_ndim,
                                a->pub.up_shape, error)) == NULL)
    return FALSE;
  a->pub.rank = a->pub.down_shape[0];
  if (a->pub.up_shape[1] != a->pub.rank ||
      (a->pub.up_ndim == 4 && (a->pub.up_shape[2] != 1 || a->pub.up_shape[3] != 1)) ||
      a->pub.rank == 0)
    {
      g_set_error (error, LK_LORA_ERROR, LK_LORA_ERROR_FORMAT,
                   "%s: LoRA “%s”: down has rank %" G_GINT64_FORMAT " but up is %" G_GINT64_FORMAT
                   " wide (or not 1×1)", path, key, a->pub.down_shape[0], a->pub.up_shape[1]);
      return FALSE;
    }
  a->pub.alpha = a->pub.rank;
  if (pending->alpha != NULL)
    {
      float alpha;

      if (pending->alpha->numel != 1 || !lk_weights_read_f32 (weights, pending->alpha, &alpha, NULL))
        {
          g_set_error (error, LK_LORA_ERROR, LK_LORA_ERROR_FORMAT,
                       "%s: LoRA “%s”: alpha is not a float scalar", path, key);
          return FALSE;
        }
      a->pub.alpha = alpha;
    }
  if (pending->format == LK_LORA_FORMAT_PEFT)
    a->mapped = peft_to_canonical (key);
  return TRUE;
}

LkLora *
lk_lora_new_from_weights (LkWeights  *weights,
                          GError    **error)
{
  g_autoptr(LkLora) self = lk_lora_new ();
  g_autoptr(GHashTable) pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  guint n_kohya = 0, n_peft = 0;
  GHashTable *metadata;

  g_return_val_if_fail (weights != NULL, NULL);

  for (guint i = 0; i < lk_weights_get_n_tensors (weights); i++)
    {
      const LkWeightInfo *info = lk_weights_get_nth (weights, i);

      for (guint s = 0; s < G_N_ELEMENTS (factor_suffixes); s++)
        {
          g_autofree char *key = NULL;
          Pending *p;

          if (!g_str_has_suffix (info->name, factor_suffixes[s].suffix))
            continue;
          key = g_strndup (info->name, strlen (info->name) - strlen (factor_suffixes[s].suffix));
          p = g_hash_table_lookup (pending, key);
          if (p == NULL)
            {
              p = g_new0 (Pending, 1);
              p->format = g_str_has_prefix (key, "lora_") ? LK_LORA_FORMAT_KOHYA : LK_LORA_FORMAT_PEFT;
              g_ptr_array_add (order, key);
              g_hash_table_insert (pending, g_steal_pointer (&key), p);
              if (p->format == LK_LORA_FORMAT_KOHYA)
                n_kohya++;
              else
                n_peft++;
            }
          if (factor_suffixes[s].slot == 0)
            p->down = info;
          else if (factor_suffixes[s].slot == 1)
            p->up = info;
          else
            p->alpha = info;
          break;
        }
    }
  if (order->len == 0)
    {
      g_set_error (error, LK_LORA_ERROR, LK_LORA_ERROR_FORMAT,
                   "%s: not a LoRA: no lora_down/lora_up or lora_A/lora_B tensors",
                   lk_weights_get_path (weights));
      return NULL;
    }
  self->format = n_kohya >= n_peft ? LK_LORA_FORMAT_KOHYA : LK_LORA_FORMAT_PEFT;
  for (guint i = 0; i < order->len; i++)
    if (!add_pending (self, weights, order->pdata[i], g_hash_table_lookup (pending, order->pdata[i]),
                      error))
      return NULL;

  metadata = lk_weights_get_metadata (weights);
  if (metadata != NULL)
    {
      GHashTableIter iter;
      gpointer k, v;

      g_hash_table_iter_init (&iter, metadata);
      while (g_hash_table_iter_next (&iter, &k, &v))
        g_hash_table_insert (self->metadata, g_strdup (k), g_strdup (v));
    }
  return g_steal_pointer (&self);
}

LkLora *
lk_lora_open (const char  *path,
              GError     **error)
{
  g_autoptr(LkWeights) weights = lk_weights_open (path, error);

  if (weights == NULL)
    return NULL;
  return lk_lora_new_from_weights (weights, error);
}

gboolean
lk_lora_add (LkLora        *self,
             const char    *target,
             float          alpha,
             guint          down_ndim,
             const gint64  *down_shape,
             const float   *down,
             guint          up_ndim,
             const gint64  *up_shape,
             const float   *up,
             GError       **error)
{
  g_autofree char *key = NULL;
  gint64 down_numel = 1, up_numel = 1;
  Adapter *a;

  g_return_val_if_fail (target != NULL, FALSE);
  g_return_val_if_fail (down_ndim == 2 || down_ndim == 4, FALSE);
  g_return_val_if_fail (up_ndim == 2 || up_ndim == 4, FALSE);

  key = lk_lora_kohya_name (target);
  if (key == NULL || g_hash_table_contains (self->by_target, target) ||
      up_shape[1] != down_shape[0] || down_shape[0] <= 0)
    {
      g_set_error (error, LK_LORA_ERROR, LK_LORA_ERROR_FORMAT,
                   "LoRA for “%s”: not a UNet or text encoder weight, a duplicate, or down and up "
                   "ranks differ", target);
      return FALSE;
    }
  for (guint d = 0; d < down_ndim; d++)
    down_numel *= down_shape[d];
  for (guint d = 0; d < up_ndim; d++)
    up_numel *= up_shape[d];

  a = g_new0 (Adapter, 1);
  a->pub.key = g_steal_pointer (&key);
  a->pub.target = g_strdup (target);
  a->mapped = g_strdup (target);
  a->pub.rank = down_shape[0];
  a->pub.alpha = alpha;
  a->pub.down_ndim = down_ndim;
  a->pub.up_ndim = up_ndim;
  memcpy (a->pub.down_shape, down_shape, down_ndim * sizeof (gint64));
  memcpy (a->pub.up_shape, up_shape, up_ndim * sizeof (gint64));
  a->pub.down = g_memdup2 (down, down_numel * sizeof (float));
  a->pub.up = g_memdup2 (up, up_numel * sizeof (float));
  g_ptr_array_add (self->adapters, a);
  g_hash_table_insert (self->by_key, a->pub.key, a);
  g_hash_table_insert (self->by_target, a->pub.target, a);
  return TRUE;
}

/* ---- matching ----------------------------------------------------------------------------- */

static char *
describe_shape (guint         ndim,
                const gint64 *shape)
{
  GString *s = g_string_new ("[");

  for (guint d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? ", " : "", shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* W [out, in(, kh, kw)] against down [r, in(, kh, kw)] and up [out, r(, 1, 1)]; a 2-D factor
 * fits a 1×1 kernel and a 1×1 factor a Linear weight. */
static gboolean
adapter_fits (const LkLoraAdapter  *a,
              const LkTensor       *w,
              GError              **error)
{
  gint64 kh = w->ndim == 4 ? w->shape[2] : 1, kw = w->ndim == 4 ? w->shape[3] : 1;
  gint64 dkh = a->down_ndim == 4 ? a->down_shape[2] : 1, dkw = a->down_ndim == 4 ? a->down_shape[3] : 1;

  if ((w->ndim == 2 || w->ndim == 4) && a->up_shape[0] == w->shape[0] &&
      a->down_shape[1] == w->shape[1] && dkh == kh && dkw == kw)
    return TRUE;

  {
    g_autofree char *ws = describe_shape (w->ndim, w->shape);
    g_autofree char *ds = describe_shape (a->down_ndim, a->down_shape);
    g_autofree char *us = describe_shape (a->up_ndim, a->up_shape);

    g_set_error (error, LK_LORA_ERROR, LK_LORA_ERROR_SHAPE,
                 "LoRA “%s” does not fit %s %s: down %s, up %s (a LoRA for another model?)",
                 a->key, a->target, ws, ds, us);
  }
  return FALSE;
}

static char *
resolve_kohya (const char *key,
               GHashTable *index)
{
  const char *found = g_hash_table_lookup (index, key);
  g_autofree char *dotted = NULL;
  g_autofree char *canonical = NULL;
  g_autofree char *folded = NULL;

  if (found != NULL)
    return g_strdup (found);
  if (!g_str_has_prefix (key, LK_LORA_KOHYA_UNET_PREFIX))
    return NULL;
  /* Trained on a diffusers UNet: its module names, underscored. */
  dotted = kohya_diffusers_to_dotted (key + strlen (LK_LORA_KOHYA_UNET_PREFIX));
  if ((canonical = lk_model_map_diffusers_unet (dotted)) == NULL ||
      (folded = lk_lora_kohya_name (canonical)) == NULL)
    return NULL;
  found = g_hash_table_lookup (index, folded);
  return found != NULL ? g_strdup (found) : NULL;
}

gboolean
lk_lora_match (LkLora      *self,
               GHashTable  *targets,
               GPtrArray  **unmatched,
               GError     **error)
{
  g_autoptr(GHashTable) index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer name;
  guint n_matched = 0;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (targets != NULL, FALSE);

  g_hash_table_iter_init (&iter, targets);
  while (g_hash_table_iter_next (&iter, &name, NULL))
    {
      char *kohya = lk_lora_kohya_name (name);

      if (kohya != NULL && g_str_has_suffix (name, ".weight"))
        g_hash_table_insert (index, kohya, name);
      else
        g_free (kohya);
    }

  g_hash_table_remove_all (self->by_target);
  for (guint i = 0; i < self->adapters->len; i++)
    {
      Adapter *a = g_ptr_array_index (self->adapters, i);
      g_autofree char *target = NULL;

      if (a->mapped != NULL)
        target = g_hash_table_contains (targets, a->mapped) ? g_strdup (a->mapped) : NULL;
      else
        target = resolve_kohya (a->pub.key, index);

      g_clear_pointer (&a->pub.target, g_free);
      if (target == NULL || g_hash_table_contains (self->by_target, target))
        {
          g_ptr_array_add (missing, g_strdup (a->pub.key));
          continue;
        }
      a->pub.target = g_steal_pointer (&target);
      if (!adapter_fits (&a->pub, g_hash_table_lookup (targets, a->pub.target), error))
        return FALSE;
      g_hash_table_insert (self->by_target, a->pub.target, a);
      n_matched++;
    }

  if (n_matched == 0)
    {
      const char *first = self->adapters->len > 0
                          ? ((Adapter *) g_ptr_array_index (self->adapters, 0))->pub.key : "";

      g_set_error (error, LK_LORA_ERROR, LK_LORA_ERROR_NO_MATCH,
                   "None of the LoRA's %u modules (such as “%s”) names a weight of this model: "
                   "it was made for another architecture", self->adapters->len, first);
      return FALSE;
    }
  if (missing->len > 0)
    g_debug ("%u of %u LoRA modules match no weight, first “%s”", missing->len,
             self->adapters->len, (const char *) missing->pdata[0]);
  if (unmatched != NULL)
    *unmatched = g_steal_pointer (&missing);
  return TRUE;
}

/* ---- writing ------------------------------------------------------------------------------ */

static gpointer
convert (const float   *src,
         gsize          n,
         LkWeightDType  dtype)
{
  guint16 *halves;

  if (dtype == LK_WEIGHT_F32)
    return g_memdup2 (src, n * sizeof (float));
  halves = g_new (guint16, n);
  lk_floats_to_halves (src, halves, n);
  return halves;
}

gboolean
lk_lora_save (LkLora         *self,
              const char     *path,
              LkWeightDType   dtype,
              GHashTable     *metadata,
              GError        **error)
{
  guint n = self->adapters->len;
  g_autofree LkSafetensorsEntry *entries = g_new0 (LkSafetensorsEntry, 3 * n);
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  static const gint64 no_shape[1] = { 0 };
  guint rank = 0;
  float alpha = 0;

  g_return_val_if_fail (dtype == LK_WEIGHT_F16 || dtype == LK_WEIGHT_F32, FALSE);

  for (guint i = 0; i < n; i++)
    {
      Adapter *a = g_ptr_array_index (self->adapters, i);
      g_autofree char *key = a->pub.target != NULL ? lk_lora_kohya_name (a->pub.target) : NULL;
      gsize down_n = 1, up_n = 1;
      const char *stem;

      if (key == NULL)
        {
          g_set_error (error, LK_LORA_ERROR, LK_LORA_ERROR_FORMAT,
                       "%s: LoRA module “%s” has no UNet or text encoder weight to be named after",
                       path, a->pub.key);
          return FALSE;
        }
      for (guint d = 0; d < a->pub.down_ndim; d++)
        down_n *= a->pub.down_shape[d];
      for (guint d = 0; d < a->pub.up_ndim; d++)
        up_n *= a->pub.up_shape[d];
      stem = key;
      entries[3 * i] = (LkSafetensorsEntry) {
        g_strconcat (stem, ".lora_down.weight", NULL), dtype, a->pub.down_ndim, a->pub.down_shape,
        convert (a->pub.down, down_n, dtype),
      };
      entries[3 * i + 1] = (LkSafetensorsEntry) {
        g_strconcat (stem, ".lora_up.weight", NULL), dtype, a->pub.up_ndim, a->pub.up_shape,
        convert (a->pub.up, up_n, dtype),
      };
      entries[3 * i + 2] = (LkSafetensorsEntry) {
        g_strconcat (stem, ".alpha", NULL), dtype, 0, no_shape, convert (&a->pub.alpha, 1, dtype),
      };
      for (guint e = 0; e < 3; e++)
        {
          g_ptr_array_add (owned, (gpointer) entries[3 * i + e].name);
          g_ptr_array_add (owned, (gpointer) entries[3 * i + e].data);
        }
      if (i == 0)
        rank = a->pub.rank, alpha = a->pub.alpha;
    }

  g_hash_table_insert (meta, g_strdup ("ss_network_module"), g_strdup ("networks.lora"));
  g_hash_table_insert (meta, g_strdup ("ss_network_dim"), g_strdup_printf ("%u", rank));
  g_hash_table_insert (meta, g_strdup ("ss_network_alpha"), g_strdup_printf ("%g", alpha));
  g_hash_table_insert (meta, g_strdup ("ss_base_model_version"), g_strdup ("sd_v1"));
  g_hash_table_insert (meta, g_strdup ("ss_v2"), g_strdup ("False"));
  if (metadata != NULL)
    {
      GHashTableIter iter;
      gpointer k, v;

      g_hash_table_iter_init (&iter, metadata);
      while (g_hash_table_iter_next (&iter, &k, &v))
        g_hash_table_insert (meta, g_strdup (k), g_strdup (v));
    }
  return lk_safetensors_write (path, entries, 3 * n, meta, error);
}

/* ---- merging ------------------------------------------------------------------------------ */

typedef struct
{
  char      *target;
  LkTensor  *weight;     /* owned reference */
  gpointer   original;   /* its bits before the merge */
  gsize      nbytes;
} Kept;

struct _LkLoraMerge
{
  GPtrArray *kept;     /* Kept * */
  GPtrArray *targets;  /* borrowed from kept */
};

static void
kept_free (gpointer data)
{
  Kept *k = data;

  g_free (k->target);
  g_clear_pointer (&k->weight, lk_tensor_unref);
  g_free (k->original);
  g_free (k);
}

void
lk_lora_merge_free (LkLoraMerge *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->targets);
  g_ptr_array_unref (self->kept);
  g_free (self);
}

GPtrArray *
lk_lora_merge_get_targets (LkLoraMerge *self)
{
  return self->targets;
}

/* Records W += Σ_i scale_i · up_i · down_i as one GEMM over the factors stacked along the rank:
 * up_cat [out, R] · down_cat [R, K], each up_i scaled by its scale on the host. */
static gboolean
merge_one (LkStream             *stream,
           LkTensor             *weight,
           const LkLoraAdapter **adapters,
           const float          *scales,
           guint                 n,
           GError              **error)
{
  LkContext *context = lk_stream_get_context (stream);
  gint64 out = weight->shape[0];
  gint64 k = lk_tensor_numel (weight) / out;
  gint64 total_rank = 0, offset = 0;
  g_autofree float *up_cat = NULL, *down_cat = NULL;
  g_autoptr(LkTensor) up_t = NULL, down_t = NULL, delta = NULL, w2 = NULL;
  LkGemmOptions options = LK_GEMM_OPTIONS_DEFAULT;

  for (guint i = 0; i < n; i++)
    total_rank += adapters[i]->rank;
  up_cat = g_new (float, out * total_rank);
  down_cat = g_new (float, total_rank * k);
  for (guint i = 0; i < n; i++)
    {
      const LkLoraAdapter *a = adapters[i];

      for (gint64 o = 0; o < out; o++)
        for (guint j = 0; j < a->rank; j++)
          up_cat[o * total_rank + offset + j] = a->up[o * a->rank + j] * scales[i];
      memcpy (down_cat + offset * k, a->down, a->rank * k * sizeof (float));
      offset += a->rank;
    }

  up_t = lk_tensor_new (context, LK_DTYPE_F32, 2, (gint64[]) { out, total_rank }, error);
  down_t = up_t ? lk_tensor_new (context, LK_DTYPE_F32, 2, (gint64[]) { total_rank, k }, error) : NULL;
  delta = down_t ? lk_tensor_new (context, LK_DTYPE_F32, 2, (gint64[]) { out, k }, error) : NULL;
  if (delta == NULL ||
      !lk_tensor_upload_f32 (up_t, stream, up_cat, error) ||
      !lk_tensor_upload_f32 (down_t, stream, down_cat, error) ||
      !lk_op_gemm (stream, up_t, down_t, NULL, delta, &options, error))
    return FALSE;
  w2 = lk_tensor_view (weight, 2, (gint64[]) { out, k }, 0);
  return lk_op_add (stream, w2, delta, w2, error);
}

LkLoraMerge *
lk_lora_merge (LkStream    *stream,
               GHashTable  *targets,
               LkLora     **loras,
               const float *strengths,
               guint        n_loras,
               GError     **error)
{
  g_autoptr(LkLoraMerge) self = g_new0 (LkLoraMerge, 1);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree const LkLoraAdapter **adapters = g_new (const LkLoraAdapter *, MAX (n_loras, 1));
  g_autofree float *scales = g_new (float, MAX (n_loras, 1));

  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (targets != NULL, NULL);
  g_return_val_if_fail (loras != NULL || n_loras == 0, NULL);

  self->kept = g_ptr_array_new_with_free_func (kept_free);
  self->targets = g_ptr_array_new ();

  for (guint l = 0; l < n_loras; l++)
    if (!lk_lora_match (loras[l], targets, NULL, error))
      return NULL;

  /* Keep every original first: a download finishes the stream, so do them before recording. */
  for (guint l = 0; l < n_loras; l++)
    for (guint i = 0; i < loras[l]->adapters->len; i++)
      {
        Adapter *a = g_ptr_array_index (loras[l]->adapters, i);
        LkTensor *w;
        Kept *kept;

        if (a->pub.target == NULL || !g_hash_table_add (seen, a->pub.target))
          continue;
        w = g_hash_table_lookup (targets, a->pub.target);
        if (!lk_tensor_is_contiguous (w))
          {
            g_set_error (error, LK_LORA_ERROR, LK_LORA_ERROR_SHAPE,
                         "%s: only contiguous weights take a LoRA", a->pub.target);
            return NULL;
          }
        kept = g_new0 (Kept, 1);
        kept->target = g_strdup (a->pub.target);
        kept->weight = lk_tensor_ref (w);
        kept->nbytes = lk_tensor_nbytes (w);
        kept->original = g_malloc (kept->nbytes);
        g_ptr_array_add (self->kept, kept);
        g_ptr_array_add (self->targets, kept->target);
        if (!lk_stream_download (stream, w->buffer, w->offset, kept->original, kept->nbytes, error))
          return NULL;
      }

  for (guint t = 0; t < self->kept->len; t++)
    {
      Kept *kept = g_ptr_array_index (self->kept, t);
      guint n = 0;

      for (guint l = 0; l < n_loras; l++)
        {
          const LkLoraAdapter *a = lk_lora_lookup (loras[l], kept->target);

          if (a == NULL || strengths[l] == 0.0f)
            continue;
          adapters[n] = a;
          scales[n] = strengths[l] * a->alpha / a->rank;
          n++;
        }
      if (n > 0 && !merge_one (stream, kept->weight, adapters, scales, n, error))
        {
          /* Leave the weights as they were. */
          lk_lora_merge_restore (self, stream, NULL);
          return NULL;
        }
    }
  return g_steal_pointer (&self);
}

gboolean
lk_lora_merge_restore (LkLoraMerge  *self,
                       LkStream     *stream,
                       GError      **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  for (guint t = 0; t < self->kept->len; t++)
    {
      Kept *kept = g_ptr_array_index (self->kept, t);

      if (!lk_stream_upload (stream, kept->weight->buffer, kept->weight->offset, kept->original,
                             kept->nbytes, error))
        return FALSE;
    }
  return TRUE;
}
