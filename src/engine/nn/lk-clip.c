/* lk-clip.c: the CLIP text transformer (pre-LN blocks, causal self-attention, QuickGELU MLP)
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-clip"

#include "config.h"

#include <string.h>

#include "lk-clip-private.h"

#define HEAD_DIM       LK_CLIP_HEAD_DIM
#define LAYER_NORM_EPS LK_CLIP_LAYER_NORM_EPS

typedef LkClipLayer ClipLayer;

G_DEFINE_BOXED_TYPE (LkClipTextModel, lk_clip_text_model, lk_clip_text_model_ref,
                     lk_clip_text_model_unref)

/* Where tensors come from: a single file, or a checkpoint's module set. */
typedef struct
{
  LkWeights    *weights;
  LkModelFiles *files;
} Source;

static const LkWeightInfo *
source_lookup (const Source  *source,
               const char    *suffix,
               LkWeights    **weights,
               GError       **error)
{
  g_autofree char *name = g_strconcat (LK_CLIP_TEXT_PREFIX, suffix, NULL);

  if (source->files != NULL)
    return lk_model_files_require (source->files, name, weights, error);
  *weights = source->weights;
  return lk_weights_require (source->weights, name, error);
}

static gboolean
source_has (const Source *source,
            const char   *suffix)
{
  g_autofree char *name = g_strconcat (LK_CLIP_TEXT_PREFIX, suffix, NULL);

  if (source->files != NULL)
    return lk_model_files_lookup (source->files, name, NULL) != NULL;
  return lk_weights_lookup (source->weights, name) != NULL;
}

/* The shape of a tensor, checked to be 1-D or 2-D. */
static gboolean
source_shape (const Source *source,
              const char   *suffix,
              gint64        shape[2],
              GError      **error)
{
  LkWeights *weights;
  const LkWeightInfo *info = source_lookup (source, suffix, &weights, error);

  if (info == NULL)
    return FALSE;
  if (info->ndim != 2 || info->shape[0] <= 0 || info->shape[1] <= 0)
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT, "%s%s: expected a 2-D tensor",
                   LK_CLIP_TEXT_PREFIX, suffix);
      return FALSE;
    }
  shape[0] = info->shape[0];
  shape[1] = info->shape[1];
  return TRUE;
}

/* Reads one tensor, checks it has the expected shape and records its upload as f16. */
static LkTensor *
upload (const Source  *source,
        LkStream      *stream,
        const char    *suffix,
        guint          ndim,
        gint64         dim0,
        gint64         dim1,
        GError       **error)
{
  gint64 shape[2] = { dim0, dim1 };
  LkWeights *weights;
  const LkWeightInfo *info = source_lookup (source, suffix, &weights, error);
  g_autofree guint16 *halves = NULL;
  g_autoptr(LkTensor) tensor = NULL;

  if (info == NULL)
    return NULL;
  if (info->ndim != ndim || info->shape[0] != dim0 || (ndim == 2 && info->shape[1] != dim1))
    {
      if (ndim == 2)
        g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                     "%s%s: expected [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] as the rest of "
                     "the text encoder", LK_CLIP_TEXT_PREFIX, suffix, dim0, dim1);
      else
        g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                     "%s%s: expected [%" G_GINT64_FORMAT "] as the rest of the text encoder",
                     LK_CLIP_TEXT_PREFIX, suffix, dim0);
      return NULL;
    }
  halves = lk_weights_dup_f16 (weights, info, error);
  if (halves == NULL)
    return NULL;
  tensor = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F16, ndim, shape, error);
  if (tensor == NULL ||
      !lk_stream_upload (stream, tensor->buffer, tensor->offset, halves, info->numel * 2, error))
    return NULL;
  return g_steal_pointer (&tensor);
}

static void
clip_layer_clear (ClipLayer *layer)
{
  LkTensor **tensors = (LkTensor **) layer;

  for (guint i = 0; i < sizeof (ClipLayer) / sizeof (LkTensor *); i++)
    g_clear_pointer (&tensors[i], lk_tensor_unref);
}

/* A layer's Linear layers and where they go, shared by loading and lk_clip_text_model_get_weights(). */
static const char *const layer_linears[] = {
  "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1",
  "mlp.fc2",
};

static void
layer_slots (ClipLayer  *layer,
             LkTensor  **weight_slots[6],
             LkTensor  **bias_slots[6],
             LkTensor  **norm_slots[2][2])
{
  LkTensor **w[] = {
    &layer->q_w, &layer->k_w, &layer->v_w, &layer->out_w, &layer->fc1_w, &layer->fc2_w,
  };
  LkTensor **b[] = {
    &layer->q_b, &layer->k_b, &layer->v_b, &layer->out_b, &layer->fc1_b, &layer->fc2_b,
  };

  G_STATIC_ASSERT (G_N_ELEMENTS (w) == G_N_ELEMENTS (layer_linears));
  memcpy (weight_slots, w, sizeof w);
  memcpy (bias_slots, b, sizeof b);
  norm_slots[0][0] = &layer->ln1_w;
  norm_slots[0][1] = &layer->ln1_b;
  norm_slots[1][0] = &layer->ln2_w;
  norm_slots[1][1] = &layer->ln2_b;
}

static gboolean
load_layer (LkClipTextModel *self,
            const Source    *source,
            LkStream        *stream,
            guint            index,
            ClipLayer       *layer,
            GError         **error)
{
  LkTensor **weight_slots[6], **bias_slots[6], **norm_slots[2][2];

  layer_slots (layer, weight_slots, bias_slots, norm_slots);
  for (guint i = 0; i < G_N_ELEMENTS (layer_linears); i++)
    {
      gint64 out = i == 4 ? self->mlp : self->width;
      gint64 in = i == 5 ? self->mlp : self->width;
      g_autofree char *w = g_strdup_printf ("encoder.layers.%u.%s.weight", index, layer_linears[i]);
      g_autofree char *b = g_strdup_printf ("encoder.layers.%u.%s.bias", index, layer_linears[i]);

      if ((*weight_slots[i] = upload (source, stream, w, 2, out, in, error)) == NULL ||
          (*bias_slots[i] = upload (source, stream, b, 1, out, 0, error)) == NULL)
        return FALSE;
    }
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *w = g_strdup_printf ("encoder.layers.%u.layer_norm%u.weight", index, i + 1);
      g_autofree char *b = g_strdup_printf ("encoder.layers.%u.layer_norm%u.bias", index, i + 1);

      if ((*norm_slots[i][0] = upload (source, stream, w, 1, self->width, 0, error)) == NULL ||
          (*norm_slots[i][1] = upload (source, stream, b, 1, self->width, 0, error)) == NULL)
        return FALSE;
    }
  return TRUE;
}

static LkClipTextModel *
load (LkStream      *stream,
      const Source  *source,
      GError       **error)
{
  g_autoptr(LkClipTextModel) self = g_new0 (LkClipTextModel, 1);
  gint64 token_shape[2], position_shape[2], fc1_shape[2];

  g_atomic_ref_count_init (&self->ref_count);
  if (!source_shape (source, "embeddings.token_embedding.weight", token_shape, error) ||
      !source_shape (source, "embeddings.position_embedding.weight", position_shape, error) ||
      !source_shape (source, "encoder.layers.0.mlp.fc1.weight", fc1_shape, error))
    return NULL;
  self->vocab = token_shape[0];
  self->width = token_shape[1];
  self->context = position_shape[0];
  self->mlp = fc1_shape[0];
  while (TRUE)
    {
      g_autofree char *name = g_strdup_printf ("encoder.layers.%u.layer_norm1.weight", self->n_layers);

      if (!source_has (source, name))
        break;
      self->n_layers++;
    }
  if (self->width % HEAD_DIM != 0 || position_shape[1] != self->width || self->n_layers == 0)
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "text encoder: width %u with %u layers and position embedding width %"
                   G_GINT64_FORMAT " is not a CLIP text transformer we run", self->width,
                   self->n_layers, position_shape[1]);
      return NULL;
    }

  self->token_embedding = upload (source, stream, "embeddings.token_embedding.weight", 2,
                                  self->vocab, self->width, error);
  if (self->token_embedding == NULL)
    return NULL;
  self->position_embedding = upload (source, stream, "embeddings.position_embedding.weight", 2,
                                     self->context, self->width, error);
  if (self->position_embedding == NULL)
    return NULL;
  self->layers = g_new0 (ClipLayer, self->n_layers);
  for (guint i = 0; i < self->n_layers; i++)
    if (!load_layer (self, source, stream, i, &self->layers[i], error))
      return NULL;
  self->final_ln_w = upload (source, stream, "final_layer_norm.weight", 1, self->width, 0, error);
  if (self->final_ln_w == NULL)
    return NULL;
  self->final_ln_b = upload (source, stream, "final_layer_norm.bias", 1, self->width, 0, error);
  if (self->final_ln_b == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

LkClipTextModel *
lk_clip_text_model_new (LkStream   *stream,
                        LkWeights  *weights,
                        GError    **error)
{
  Source source = { weights, NULL };

  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (weights != NULL, NULL);
  return load (stream, &source, error);
}

LkClipTextModel *
lk_clip_text_model_new_from_model_files (LkStream      *stream,
                                         LkModelFiles  *files,
                                         GError       **error)
{
  Source source = { NULL, files };

  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (files != NULL, NULL);
  return load (stream, &source, error);
}

LkClipTextModel *
lk_clip_text_model_ref (LkClipTextModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_clip_text_model_unref (LkClipTextModel *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  for (guint i = 0; self->layers != NULL && i < self->n_layers; i++)
    clip_layer_clear (&self->layers[i]);
  g_free (self->layers);
  g_clear_pointer (&self->token_embedding, lk_tensor_unref);
  g_clear_pointer (&self->position_embedding, lk_tensor_unref);
  g_clear_pointer (&self->final_ln_w, lk_tensor_unref);
  g_clear_pointer (&self->final_ln_b, lk_tensor_unref);
  g_free (self);
}

static void
insert_weight (GHashTable *table,
               char       *suffix,
               LkTensor   *tensor)
{
  g_hash_table_insert (table, g_strconcat (LK_CLIP_TEXT_PREFIX, suffix, NULL), tensor);
  g_free (suffix);
}

GHashTable *
lk_clip_text_model_get_weights (LkClipTextModel *self)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_return_val_if_fail (self != NULL, NULL);

  insert_weight (table, g_strdup ("embeddings.token_embedding.weight"), self->token_embedding);
  insert_weight (table, g_strdup ("embeddings.position_embedding.weight"),
                 self->position_embedding);
  insert_weight (table, g_strdup ("final_layer_norm.weight"), self->final_ln_w);
  insert_weight (table, g_strdup ("final_layer_norm.bias"), self->final_ln_b);
  for (guint l = 0; l < self->n_layers; l++)
    {
      LkTensor **weight_slots[6], **bias_slots[6], **norm_slots[2][2];

      layer_slots (&self->layers[l], weight_slots, bias_slots, norm_slots);
      for (guint i = 0; i < G_N_ELEMENTS (layer_linears); i++)
        {
          insert_weight (table, g_strdup_printf ("encoder.layers.%u.%s.weight", l,
                                                 layer_linears[i]), *weight_slots[i]);
          insert_weight (table, g_strdup_printf ("encoder.layers.%u.%s.bias", l,
                                                 layer_linears[i]), *bias_slots[i]);
        }
      for (guint i = 0; i < 2; i++)
        {
          insert_weight (table, g_strdup_printf ("encoder.layers.%u.layer_norm%u.weight", l,
                                                 i + 1), *norm_slots[i][0]);
          insert_weight (table, g_strdup_printf ("encoder.layers.%u.layer_norm%u.bias", l,
                                                 i + 1), *norm_slots[i][1]);
        }
    }
  return table;
}

guint
lk_clip_text_model_get_width (LkClipTextModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->width;
}

guint
lk_clip_text_model_get_n_layers (LkClipTextModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_layers;
}

guint
lk_clip_text_model_get_context (LkClipTextModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->context;
}

/* One pre-LN block: x + attn(ln1(x)), then + mlp(ln2(·)). */
static LkTensor *
block_forward (LkClipTextModel *self,
               const ClipLayer *layer,
               LkArena         *arena,
               LkStream        *stream,
               LkTensor        *x,
               GError         **error)
{
  g_autoptr(LkTensor) h = NULL, q = NULL, k = NULL, v = NULL, attn = NULL, proj = NULL;
  g_autoptr(LkTensor) x1 = NULL, h2 = NULL, fc1 = NULL, fc2 = NULL;

  if ((h = lk_graph_layer_norm (arena, stream, x, layer->ln1_w, layer->ln1_b, LAYER_NORM_EPS,
                               error)) == NULL ||
      (q = lk_graph_linear (arena, stream, h, layer->q_w, layer->q_b, error)) == NULL ||
      (k = lk_graph_linear (arena, stream, h, layer->k_w, layer->k_b, error)) == NULL ||
      (v = lk_graph_linear (arena, stream, h, layer->v_w, layer->v_b, error)) == NULL ||
      (attn = lk_arena_tensor (arena, LK_DTYPE_F32, 3, q->shape, error)) == NULL ||
      !lk_op_attention_masked (stream, q, k, v, attn, self->width / HEAD_DIM, 0.0f, TRUE, error))
    return NULL;
  g_clear_pointer (&h, lk_tensor_unref);
  g_clear_pointer (&q, lk_tensor_unref);
  g_clear_pointer (&k, lk_tensor_unref);
  g_clear_pointer (&v, lk_tensor_unref);
  if ((proj = lk_graph_linear (arena, stream, attn, layer->out_w, layer->out_b, error)) == NULL ||
      (x1 = lk_graph_add (arena, stream, x, proj, error)) == NULL)
    return NULL;
  g_clear_pointer (&attn, lk_tensor_unref);
  g_clear_pointer (&proj, lk_tensor_unref);

  if ((h2 = lk_graph_layer_norm (arena, stream, x1, layer->ln2_w, layer->ln2_b, LAYER_NORM_EPS,
                                error)) == NULL ||
      (fc1 = lk_graph_linear (arena, stream, h2, layer->fc1_w, layer->fc1_b, error)) == NULL ||
      !lk_op_unary (stream, LK_UNARY_QUICK_GELU, fc1, 1.0f, 0.0f, fc1, error))
    return NULL;
  g_clear_pointer (&h2, lk_tensor_unref);
  if ((fc2 = lk_graph_linear (arena, stream, fc1, layer->fc2_w, layer->fc2_b, error)) == NULL)
    return NULL;
  g_clear_pointer (&fc1, lk_tensor_unref);
  return lk_graph_add (arena, stream, x1, fc2, error);
}

LkTensor *
lk_clip_text_model_embed (LkClipTextModel  *self,
                          LkArena          *arena,
                          LkStream         *stream,
                          const gint32     *ids,
                          guint             batch,
                          guint             clip_skip,
                          GError          **error)
{
  gint64 ids_shape[2] = { batch, self->context };
  gint64 x_shape[3] = { batch, self->context, self->width };
  gsize n_ids = (gsize) batch * self->context;
  g_autofree float *id_values = NULL;
  g_autoptr(LkTensor) ids_tensor = NULL, tokens = NULL;

  if (clip_skip < 1 || clip_skip > self->n_layers)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "text encoder: clip skip %u is outside 1…%u", clip_skip, self->n_layers);
      return NULL;
    }
  id_values = g_new (float, n_ids);
  for (gsize i = 0; i < n_ids; i++)
    {
      if (ids[i] < 0 || (guint) ids[i] >= self->vocab)
        {
          g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                       "text encoder: token id %d is outside the vocabulary of %u", ids[i],
                       self->vocab);
          return NULL;
        }
      id_values[i] = ids[i];
    }

  if ((ids_tensor = lk_arena_tensor (arena, LK_DTYPE_F32, 2, ids_shape, error)) == NULL ||
      !lk_tensor_upload_f32 (ids_tensor, stream, id_values, error) ||
      (tokens = lk_arena_tensor (arena, LK_DTYPE_F32, 3, x_shape, error)) == NULL ||
      !lk_op_embedding (stream, self->token_embedding, ids_tensor, tokens, error))
    return NULL;
  g_clear_pointer (&ids_tensor, lk_tensor_unref);
  return lk_graph_add (arena, stream, tokens, self->position_embedding, error);
}

LkTensor *
lk_clip_text_model_forward (LkClipTextModel  *self,
                            LkStream         *stream,
                            const gint32     *ids,
                            guint             batch,
                            guint             clip_skip,
                            GError          **error)
{
  g_autoptr(LkArena) arena = NULL;
  g_autoptr(LkTensor) x = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (ids != NULL, NULL);
  g_return_val_if_fail (batch > 0, NULL);

  /* The arena lives as long as the tensors drawn from it: the returned one keeps it. */
  arena = lk_arena_new (lk_stream_get_context (stream));
  if ((x = lk_clip_text_model_embed (self, arena, stream, ids, batch, clip_skip, error)) == NULL)
    return NULL;

  for (guint i = 0; i + clip_skip - 1 < self->n_layers; i++)
    {
      LkTensor *next = block_forward (self, &self->layers[i], arena, stream, x, error);

      if (next == NULL)
        return NULL;
      lk_tensor_unref (x);
      x = next;
    }
  return lk_graph_layer_norm (arena, stream, x, self->final_ln_w, self->final_ln_b, LAYER_NORM_EPS,
                              error);
}

void
lk_clip_apply_prompt_weights (float       *hidden,
                              const float *weights,
                              gsize        n_tokens,
                              gsize        dim)
{
  double before = 0, after = 0;
  double ratio;

  g_return_if_fail (hidden != NULL && weights != NULL);

  for (gsize t = 0; t < n_tokens; t++)
    for (gsize d = 0; d < dim; d++)
      {
        float *h = &hidden[t * dim + d];

        before += *h;
        *h *= weights[t];
        after += *h;
      }
  /* A1111 divides the means as they come; a zero mean after weighting leaves it unscaled. */
  ratio = after != 0 ? before / after : 1.0;
  for (gsize i = 0; i < n_tokens * dim; i++)
    hidden[i] *= ratio;
}
