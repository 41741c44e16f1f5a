/* lk-unet.c: the SD1.x UNet — ResBlocks, SpatialTransformers, resampling — as engine ops
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-unet"

#include "config.h"

#include "lk-unet-private.h"

#define N_LEVELS         LK_UNET_N_LEVELS
#define N_RES_BLOCKS     LK_UNET_N_RES_BLOCKS
#define N_INPUT_BLOCKS   LK_UNET_N_INPUT_BLOCKS
#define N_OUTPUT_BLOCKS  LK_UNET_N_OUTPUT_BLOCKS
#define GROUPS           32
#define HEADS            8
#define RES_NORM_EPS     1e-5f
#define SPATIAL_NORM_EPS 1e-6f
#define LAYER_NORM_EPS   1e-5f
#define MAX_PERIOD       10000.0f
/* What the inputs of the convolutions and projections are stored in: the outputs of the norms,
 * q/k/v, attention and GEGLU, all bounded, where f16 halves what the matmul kernels load (about
 * 1.7× faster on llvmpipe, see bench ops). The residual stream stays f32. */
#define ACT_HALF         LK_DTYPE_F16

static const guint channel_mult[N_LEVELS] = { 1, 2, 4, 4 };

/* Levels with a SpatialTransformer after each ResBlock: all but the last. */
#define LEVEL_HAS_ATTENTION(level) ((level) < N_LEVELS - 1)

typedef LkUnetResBlock    ResBlock;
typedef LkUnetTransformer Transformer;
typedef LkUnetBlock       Block;
typedef LkUnetLoader      Loader;

struct _LkUnet
{
  gatomicrefcount  ref_count;

  /* owned, all f16 on the device */
  LkUnetEncoder    encoder;
  Block            output[N_OUTPUT_BLOCKS];
  LkTensor        *out_norm_w, *out_norm_b, *out_conv_w, *out_conv_b;
  GHashTable      *slots;  /* canonical name → LkTensor ** inside the fields above */
};

G_DEFINE_BOXED_TYPE (LkUnet, lk_unet, lk_unet_ref, lk_unet_unref)

const char *
lk_unet_loader_file_name (LkUnetLoader *loader,
                          const char   *canonical)
{
  const char *found;

  if (loader->rename == NULL || (found = g_hash_table_lookup (loader->rename, canonical)) == NULL)
    return canonical;
  return found;
}

void
lk_unet_loader_take (LkUnetLoader      *loader,
                     const char        *prefix,
                     const char        *suffix,
                     LkUnetTensorRole   role,
                     LkTensor         **slot,
                     guint              ndim,
                     gint64             d0,
                     gint64             d1,
                     gint64             d2,
                     gint64             d3)
{
  LkUnetTensorSpec spec = { g_strconcat (loader->root, prefix, suffix, NULL), role, ndim,
                            { d0, d1, d2, d3 } };
  if (loader->specs != NULL)
    {
      g_array_append_val (loader->specs, spec);
      return;
    }
  if (loader->error == NULL)
    *slot = lk_graph_load_f16 (loader->source, loader->stream,
                               lk_unet_loader_file_name (loader, spec.name), ndim, spec.shape,
                               loader->architecture, &loader->error);
  if (loader->slots != NULL)
    g_hash_table_insert (loader->slots, g_steal_pointer (&spec.name), slot);
  g_free (spec.name);
}

#define take lk_unet_loader_take

/* A layer's weight [d0, d1, k, k] (ndim 4), [d0, d1] (ndim 2) or [d0] (ndim 1) and its bias [d0],
 * when b is not NULL. */
static void
take_layer (Loader      *loader,
            const char  *prefix,
            const char  *name,
            gboolean     norm,
            LkTensor   **w,
            LkTensor   **b,
            guint        ndim,
            gint64       d0,
            gint64       d1,
            gint64       k)
{
  g_autofree char *weight = g_strconcat (name, ".weight", NULL);
  g_autofree char *bias = g_strconcat (name, ".bias", NULL);

  take (loader, prefix, weight, norm ? LK_UNET_TENSOR_NORM_WEIGHT : LK_UNET_TENSOR_WEIGHT, w, ndim,
        d0, d1, k, k);
  if (b != NULL)
    take (loader, prefix, bias, norm ? LK_UNET_TENSOR_NORM_BIAS : LK_UNET_TENSOR_BIAS, b, 1, d0, 0,
          0, 0);
}

#define take_norm(loader, prefix, name, w, b, c) \
  take_layer (loader, prefix, name, TRUE, w, b, 1, c, 0, 0)
/* b NULL: a Linear without bias. */
#define take_linear(loader, prefix, name, w, b, out, in) \
  take_layer (loader, prefix, name, FALSE, w, b, 2, out, in, 0)
#define take_conv(loader, prefix, name, w, b, out, in, kernel) \
  take_layer (loader, prefix, name, FALSE, w, b, 4, out, in, kernel)

void
lk_unet_loader_take_conv (LkUnetLoader  *loader,
                          const char    *prefix,
                          const char    *name,
                          LkTensor     **w,
                          LkTensor     **b,
                          gint64         out,
                          gint64         in,
                          gint64         kernel)
{
  take_conv (loader, prefix, name, w, b, out, in, kernel);
}

static ResBlock *
take_res_block (Loader     *loader,
                const char *prefix,
                guint       in,
                guint       out,
                guint       emb)
{
  ResBlock *res = g_new0 (ResBlock, 1);

  take_norm (loader, prefix, "in_layers.0", &res->in_norm_w, &res->in_norm_b, in);
  take_conv (loader, prefix, "in_layers.2", &res->in_conv_w, &res->in_conv_b, out, in, 3);
  take_linear (loader, prefix, "emb_layers.1", &res->emb_w, &res->emb_b, out, emb);
  take_norm (loader, prefix, "out_layers.0", &res->out_norm_w, &res->out_norm_b, out);
  take_conv (loader, prefix, "out_layers.3", &res->out_conv_w, &res->out_conv_b, out, out, 3);
  if (in != out)
    take_conv (loader, prefix, "skip_connection", &res->skip_w, &res->skip_b, out, in, 1);
  return res;
}

/* Replaces a loaded tensor by a view of it with another shape. */
static void
reshape (LkTensor **slot,
         guint      ndim,
         gint64     d0,
         gint64     d1,
         gint64     d2)
{
  gint64 shape[3] = { d0, d1, d2 };
  LkTensor *view;

  if (*slot == NULL)
    return;
  view = lk_tensor_view (*slot, ndim, shape, 0);
  lk_tensor_unref (*slot);
  *slot = view;
}

static Transformer *
take_transformer (Loader     *loader,
                  const char *prefix,
                  guint       c,
                  guint       context_dim)
{
  Transformer *t = g_new0 (Transformer, 1);
  g_autofree char *block = g_strconcat (prefix, "transformer_blocks.0.", NULL);

  take_norm (loader, prefix, "norm", &t->norm_w, &t->norm_b, c);
  take_conv (loader, prefix, "proj_in", &t->proj_in_w, &t->proj_in_b, c, c, 1);
  take_linear (loader, block, "attn1.to_q", &t->q1_w, NULL, c, c);
  take_linear (loader, block, "attn1.to_k", &t->k1_w, NULL, c, c);
  take_linear (loader, block, "attn1.to_v", &t->v1_w, NULL, c, c);
  take_linear (loader, block, "attn1.to_out.0", &t->o1_w, &t->o1_b, c, c);
  take_linear (loader, block, "attn2.to_q", &t->q2_w, NULL, c, c);
  take_linear (loader, block, "attn2.to_k", &t->k2_w, NULL, c, context_dim);
  take_linear (loader, block, "attn2.to_v", &t->v2_w, NULL, c, context_dim);
  take_linear (loader, block, "attn2.to_out.0", &t->o2_w, &t->o2_b, c, c);
  take_linear (loader, block, "ff.net.0.proj", &t->ff1_w, &t->ff1_b, 8 * c, c);
  take_linear (loader, block, "ff.net.2", &t->ff2_w, &t->ff2_b, c, 4 * c);
  take_norm (loader, block, "norm1", &t->ln1_w, &t->ln1_b, c);
  take_norm (loader, block, "norm2", &t->ln2_w, &t->ln2_b, c);
  take_norm (loader, block, "norm3", &t->ln3_w, &t->ln3_b, c);
  take_conv (loader, prefix, "proj_out", &t->proj_out_w, &t->proj_out_b, c, c, 1);
  reshape (&t->proj_in_w, 2, c, c, 0);
  reshape (&t->proj_out_w, 2, c, c, 0);
  reshape (&t->proj_out_b, 3, c, 1, 1);
  return t;
}

/* LDM's UNetModel.__init__ for SD1.x up to the middle block, tensor by tensor. */
void
lk_unet_walk_encoder (LkUnetLoader  *loader,
                      LkUnetEncoder *encoder,
                      guint         *skip_channels)
{
  const LkUnetConfig *config = &encoder->config;
  guint mc = config->model_channels, emb = 4 * mc, ch = mc;
  guint n_skips = 0, index = 1;

  take_linear (loader, "", "time_embed.0", &encoder->time1_w, &encoder->time1_b, emb, mc);
  take_linear (loader, "", "time_embed.2", &encoder->time2_w, &encoder->time2_b, emb, emb);
  take_conv (loader, "", "input_blocks.0.0", &encoder->conv_in_w, &encoder->conv_in_b, mc,
             config->in_channels, 3);
  skip_channels[n_skips++] = ch;
  for (guint level = 0; level < N_LEVELS; level++)
    {
      for (guint r = 0; r < N_RES_BLOCKS; r++, index++)
        {
          g_autofree char *res = g_strdup_printf ("input_blocks.%u.0.", index);
          g_autofree char *attn = g_strdup_printf ("input_blocks.%u.1.", index);

          encoder->input[index].res = take_res_block (loader, res, ch, channel_mult[level] * mc,
                                                      emb);
          ch = channel_mult[level] * mc;
          if (LEVEL_HAS_ATTENTION (level))
            encoder->input[index].attn = take_transformer (loader, attn, ch,
                                                           config->context_dim);
          skip_channels[n_skips++] = ch;
        }
      if (level < N_LEVELS - 1)
        {
          g_autofree char *down = g_strdup_printf ("input_blocks.%u.0.", index);

          take_conv (loader, down, "op", &encoder->input[index].down_w,
                     &encoder->input[index].down_b, ch, ch, 3);
          skip_channels[n_skips++] = ch;
          index++;
        }
    }
  g_assert (index == N_INPUT_BLOCKS && n_skips == N_INPUT_BLOCKS);

  encoder->middle.res = take_res_block (loader, "middle_block.0.", ch, ch, emb);
  encoder->middle.attn = take_transformer (loader, "middle_block.1.", ch, config->context_dim);
  encoder->middle_res = take_res_block (loader, "middle_block.2.", ch, ch, emb);
}

/* The decoder half and the output layers. */
static void
walk (Loader *loader,
      LkUnet *self)
{
  const LkUnetConfig *config = &self->encoder.config;
  guint mc = config->model_channels, emb = 4 * mc, ch = channel_mult[N_LEVELS - 1] * mc;
  guint skip_channels[N_INPUT_BLOCKS], n_skips = N_INPUT_BLOCKS, index = 0;

  lk_unet_walk_encoder (loader, &self->encoder, skip_channels);
  for (guint level = N_LEVELS; level-- > 0;)
    for (guint r = 0; r <= N_RES_BLOCKS; r++, index++)
      {
        Block *block = &self->output[index];
        g_autofree char *res = g_strdup_printf ("output_blocks.%u.0.", index);
        guint sub = 1;

        block->res = take_res_block (loader, res, ch + skip_channels[--n_skips],
                                     channel_mult[level] * mc, emb);
        ch = channel_mult[level] * mc;
        if (LEVEL_HAS_ATTENTION (level))
          {
            g_autofree char *attn = g_strdup_printf ("output_blocks.%u.%u.", index, sub++);

            block->attn = take_transformer (loader, attn, ch, config->context_dim);
          }
        if (level > 0 && r == N_RES_BLOCKS)
          {
            g_autofree char *up = g_strdup_printf ("output_blocks.%u.%u.", index, sub);

            take_conv (loader, up, "conv", &block->up_w, &block->up_b, ch, ch, 3);
          }
      }

  take_norm (loader, "", "out.0", &self->out_norm_w, &self->out_norm_b, mc);
  take_conv (loader, "", "out.2", &self->out_conv_w, &self->out_conv_b, config->out_channels, mc,
             3);
}

/* Frees a struct made of tensor pointers only. */
static void
free_tensors (gpointer module,
              gsize    size)
{
  LkTensor **tensors = module;

  if (module == NULL)
    return;
  for (gsize i = 0; i < size / sizeof (LkTensor *); i++)
    g_clear_pointer (&tensors[i], lk_tensor_unref);
  g_free (module);
}

void
lk_unet_res_block_free (ResBlock *res)
{
  free_tensors (res, sizeof (ResBlock));
}

static void
transformer_free (Transformer *t)
{
  free_tensors (t, sizeof (Transformer));
}

void
lk_unet_block_clear (Block *block)
{
  g_clear_pointer (&block->res, lk_unet_res_block_free);
  g_clear_pointer (&block->attn, transformer_free);
  g_clear_pointer (&block->down_w, lk_tensor_unref);
  g_clear_pointer (&block->down_b, lk_tensor_unref);
  g_clear_pointer (&block->up_w, lk_tensor_unref);
  g_clear_pointer (&block->up_b, lk_tensor_unref);
}

void
lk_unet_encoder_clear (LkUnetEncoder *encoder)
{
  LkTensor **own[] = {
    &encoder->time1_w, &encoder->time1_b, &encoder->time2_w, &encoder->time2_b,
    &encoder->conv_in_w, &encoder->conv_in_b,
  };

  for (guint i = 0; i < G_N_ELEMENTS (own); i++)
    g_clear_pointer (own[i], lk_tensor_unref);
  for (guint i = 0; i < N_INPUT_BLOCKS; i++)
    lk_unet_block_clear (&encoder->input[i]);
  lk_unet_block_clear (&encoder->middle);
  g_clear_pointer (&encoder->middle_res, lk_unet_res_block_free);
}

static void
spec_clear (gpointer data)
{
  LkUnetTensorSpec *spec = data;

  g_free (spec->name);
}

static gboolean
config_is_valid (const LkUnetConfig *config)
{
  return config->in_channels > 0 && config->out_channels > 0 && config->context_dim > 0 &&
         config->model_channels > 0 && config->model_channels % GROUPS == 0;
}

GArray *
lk_unet_config_list_tensors (const LkUnetConfig *config)
{
  Loader loader = { NULL, NULL, g_array_new (FALSE, TRUE, sizeof (LkUnetTensorSpec)), NULL,
                    LK_UNET_PREFIX, "an SD1.x UNet", NULL, NULL };
  g_autoptr(LkUnet) scratch = g_new0 (LkUnet, 1);

  g_return_val_if_fail (config != NULL && config_is_valid (config), NULL);

  g_atomic_ref_count_init (&scratch->ref_count);
  scratch->encoder.config = *config;
  g_array_set_clear_func (loader.specs, spec_clear);
  walk (&loader, scratch);
  return loader.specs;
}

/* The dimensions the rest of the shapes follow from. */
gboolean
lk_unet_detect_config (LkUnetLoader  *loader,
                       const char    *out_name,
                       LkUnetConfig  *config,
                       GError       **error)
{
  static const char *suffixes[] = {
    "input_blocks.0.0.weight",
    "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
    "out.2.weight",
  };
  static const guint ndims[] = { 4, 2, 4 };
  const LkWeightInfo *infos[G_N_ELEMENTS (suffixes)];
  guint n = out_name != NULL ? 3 : 2;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *canonical = g_strconcat (loader->root, i == 2 ? out_name : suffixes[i],
                                                NULL);
      const char *name = lk_unet_loader_file_name (loader, canonical);
      LkWeights *weights;

      if ((infos[i] = lk_weight_source_require (loader->source, name, &weights, error)) == NULL)
        return FALSE;
      if (infos[i]->ndim != ndims[i])
        {
          g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                       "%s has %u dimensions where %s has %u", name, infos[i]->ndim,
                       loader->architecture, ndims[i]);
          return FALSE;
        }
    }
  config->model_channels = infos[0]->shape[0];
  config->in_channels = infos[0]->shape[1];
  config->context_dim = infos[1]->shape[1];
  config->out_channels = out_name != NULL ? infos[2]->shape[0] : config->in_channels;
  if (!config_is_valid (config))
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "%s with %u model channels, %u in, %u out and context %u is not one we run",
                   loader->architecture, config->model_channels, config->in_channels,
                   config->out_channels, config->context_dim);
      return FALSE;
    }
  return TRUE;
}

static LkUnet *
load (LkStream              *stream,
      const LkWeightSource  *source,
      GError               **error)
{
  g_autoptr(LkUnet) self = g_new0 (LkUnet, 1);
  Loader loader = { source, stream, NULL, NULL, LK_UNET_PREFIX, "an SD1.x UNet", NULL, NULL };

  g_atomic_ref_count_init (&self->ref_count);
  self->slots = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  loader.slots = self->slots;
  if (!lk_unet_detect_config (&loader, "out.2.weight", &self->encoder.config, error))
    return NULL;
  walk (&loader, self);
  if (loader.error != NULL)
    {
      g_propagate_error (error, loader.error);
      return NULL;
    }
  return g_steal_pointer (&self);
}

LkUnet *
lk_unet_new (LkStream   *stream,
             LkWeights  *weights,
             GError    **error)
{
  LkWeightSource source = { weights, NULL };

  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (weights != NULL, NULL);
  return load (stream, &source, error);
}

LkUnet *
lk_unet_new_from_model_files (LkStream      *stream,
                              LkModelFiles  *files,
                              GError       **error)
{
  LkWeightSource source = { NULL, files };

  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (files != NULL, NULL);
  return load (stream, &source, error);
}

LkUnet *
lk_unet_ref (LkUnet *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_unet_unref (LkUnet *self)
{
  LkTensor **own[] = {
    &self->out_norm_w, &self->out_norm_b, &self->out_conv_w, &self->out_conv_b,
  };

  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (own); i++)
    g_clear_pointer (own[i], lk_tensor_unref);
  lk_unet_encoder_clear (&self->encoder);
  for (guint i = 0; i < N_OUTPUT_BLOCKS; i++)
    lk_unet_block_clear (&self->output[i]);
  g_clear_pointer (&self->slots, g_hash_table_unref);
  g_free (self);
}

const LkUnetConfig *
lk_unet_get_config (LkUnet *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return &self->encoder.config;
}

GHashTable *
lk_unet_get_weights (LkUnet *self)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer name, slot;

  g_return_val_if_fail (self != NULL, NULL);

  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, &name, &slot))
    if (*(LkTensor **) slot != NULL)
      g_hash_table_insert (table, g_strdup (name), *(LkTensor **) slot);
  return table;
}

const LkUnetEncoder *
lk_unet_get_encoder (LkUnet *self)
{
  return &self->encoder;
}

const LkUnetBlock *
lk_unet_get_output_blocks (LkUnet *self)
{
  return self->output;
}

void
lk_unet_get_out_layers (LkUnet    *self,
                        LkTensor **norm_w,
                        LkTensor **norm_b,
                        LkTensor **conv_w,
                        LkTensor **conv_b)
{
  *norm_w = self->out_norm_w;
  *norm_b = self->out_norm_b;
  *conv_w = self->out_conv_w;
  *conv_b = self->out_conv_b;
}

void
lk_unet_residuals_clear (LkUnetResiduals *residuals)
{
  for (guint i = 0; i < LK_UNET_N_DOWN_RESIDUALS; i++)
    g_clear_pointer (&residuals->down[i], lk_tensor_unref);
  g_clear_pointer (&residuals->middle, lk_tensor_unref);
}

/* The forward pass. Every helper returns a new tensor from the arena, or NULL with @error set;
 * inputs are borrowed. Intermediates are dropped as soon as they are used so the arena hands
 * their memory to the next ones. */

static LkTensor *
arena_like (LkArena   *arena,
            guint      ndim,
            gint64     d0,
            gint64     d1,
            gint64     d2,
            gint64     d3,
            GError   **error)
{
  gint64 shape[4] = { d0, d1, d2, d3 };

  return lk_arena_tensor (arena, LK_DTYPE_F32, ndim, shape, error);
}

/* x [B, Cin, H, W], emb [B, 4·model_channels] already through SiLU (every emb_layers starts
 * with one). */
static LkTensor *
res_block_forward (const ResBlock  *res,
                   LkArena         *arena,
                   LkStream        *stream,
                   LkTensor        *x,
                   LkTensor        *emb,
                   GError         **error)
{
  g_autoptr(LkTensor) h = NULL, h1 = NULL, e = NULL, e4 = NULL, h2 = NULL, h3 = NULL, h4 = NULL;
  g_autoptr(LkTensor) skip = NULL;
  gint64 e_shape[4];

  if ((h = lk_graph_group_norm_to (arena, stream, x, res->in_norm_w, res->in_norm_b, GROUPS,
                                   RES_NORM_EPS, TRUE, ACT_HALF, error)) == NULL ||
      (h1 = lk_graph_conv2d (arena, stream, h, res->in_conv_w, res->in_conv_b, 1, error)) == NULL ||
      (e = lk_graph_linear (arena, stream, emb, res->emb_w, res->emb_b, error)) == NULL)
    return NULL;
  g_clear_pointer (&h, lk_tensor_unref);
  e_shape[0] = e->shape[0];
  e_shape[1] = e->shape[1];
  e_shape[2] = e_shape[3] = 1;
  e4 = lk_tensor_view (e, 4, e_shape, 0);
  if ((h2 = lk_graph_add (arena, stream, h1, e4, error)) == NULL)
    return NULL;
  g_clear_pointer (&e4, lk_tensor_unref);
  g_clear_pointer (&e, lk_tensor_unref);
  g_clear_pointer (&h1, lk_tensor_unref);
  /* Dropout sits between out_layers.0 (GroupNorm + SiLU) and .3: nothing at inference. */
  if ((h3 = lk_graph_group_norm_to (arena, stream, h2, res->out_norm_w, res->out_norm_b, GROUPS,
                                    RES_NORM_EPS, TRUE, ACT_HALF, error)) == NULL)
    return NULL;
  g_clear_pointer (&h2, lk_tensor_unref);
  h4 = lk_graph_conv2d (arena, stream, h3, res->out_conv_w, res->out_conv_b, 1, error);
  if (h4 == NULL)
    return NULL;
  g_clear_pointer (&h3, lk_tensor_unref);
  if (res->skip_w != NULL)
    skip = lk_graph_conv2d (arena, stream, x, res->skip_w, res->skip_b, 1, error);
  else
    skip = lk_tensor_ref (x);
  if (skip == NULL)
    return NULL;
  return lk_graph_add (arena, stream, skip, h4, error);
}

/* Multi-head attention with its projections; x [B, N, C], source [B, M, Dsrc]. */
static LkTensor *
attention_forward (LkArena   *arena,
                   LkStream  *stream,
                   LkTensor  *x,
                   LkTensor  *source,
                   LkTensor  *q_w,
                   LkTensor  *k_w,
                   LkTensor  *v_w,
                   LkTensor  *o_w,
                   LkTensor  *o_b,
                   GError   **error)
{
  g_autoptr(LkTensor) q = NULL, k = NULL, v = NULL, o = NULL;

  if ((q = lk_graph_linear_to (arena, stream, x, q_w, NULL, ACT_HALF, error)) == NULL ||
      (k = lk_graph_linear_to (arena, stream, source, k_w, NULL, ACT_HALF, error)) == NULL ||
      (v = lk_graph_linear_to (arena, stream, source, v_w, NULL, ACT_HALF, error)) == NULL ||
      (o = lk_arena_tensor (arena, ACT_HALF, 3, q->shape, error)) == NULL ||
      !lk_op_attention (stream, q, k, v, o, HEADS, 0.0f, error))
    return NULL;
  g_clear_pointer (&q, lk_tensor_unref);
  g_clear_pointer (&k, lk_tensor_unref);
  g_clear_pointer (&v, lk_tensor_unref);
  return lk_graph_linear (arena, stream, o, o_w, o_b, error);
}

/* x + attention(norm(x)) */
static LkTensor *
attention_residual (LkArena   *arena,
                    LkStream  *stream,
                    LkTensor  *x,
                    LkTensor  *context,
                    LkTensor  *ln_w,
                    LkTensor  *ln_b,
                    LkTensor  *q_w,
                    LkTensor  *k_w,
                    LkTensor  *v_w,
                    LkTensor  *o_w,
                    LkTensor  *o_b,
                    GError   **error)
{
  g_autoptr(LkTensor) n = NULL, a = NULL;

  if ((n = lk_graph_layer_norm_to (arena, stream, x, ln_w, ln_b, LAYER_NORM_EPS, ACT_HALF,
                                   error)) == NULL ||
      (a = attention_forward (arena, stream, n, context != NULL ? context : n, q_w, k_w, v_w, o_w,
                              o_b, error)) == NULL)
    return NULL;
  g_clear_pointer (&n, lk_tensor_unref);
  return lk_graph_add (arena, stream, x, a, error);
}

/* SpatialTransformer: x [B, C, H, W] → x + proj_out(block(proj_in(norm(x)))), the block working
 * on tokens [B, H·W, C]. The 1×1 projections are GEMMs that also move between the layouts. */
static LkTensor *
transformer_forward (const Transformer  *t,
                     LkArena            *arena,
                     LkStream           *stream,
                     LkTensor           *x,
                     LkTensor           *context,
                     GError            **error)
{
  gint64 batch = x->shape[0], c = x->shape[1], hw = x->shape[2] * x->shape[3];
  gint64 planar_shape[3] = { batch, c, hw };
  LkGemmOptions to_tokens = { TRUE, TRUE, 1.0f }, to_planar = { FALSE, TRUE, 1.0f };
  g_autoptr(LkTensor) n = NULL, planar = NULL, h = NULL, h1 = NULL, h2 = NULL;
  g_autoptr(LkTensor) ln3 = NULL, ff1 = NULL, gated = NULL, ff2 = NULL, h3 = NULL;
  g_autoptr(LkTensor) out = NULL, biased = NULL;

  if ((n = lk_graph_group_norm_to (arena, stream, x, t->norm_w, t->norm_b, GROUPS,
                                   SPATIAL_NORM_EPS, FALSE, ACT_HALF, error)) == NULL ||
      (h = arena_like (arena, 3, batch, hw, c, 0, error)) == NULL)
    return NULL;
  planar = lk_tensor_view (n, 3, planar_shape, 0);
  if (!lk_op_gemm (stream, planar, t->proj_in_w, t->proj_in_b, h, &to_tokens, error))
    return NULL;
  g_clear_pointer (&planar, lk_tensor_unref);
  g_clear_pointer (&n, lk_tensor_unref);

  if ((h1 = attention_residual (arena, stream, h, NULL, t->ln1_w, t->ln1_b, t->q1_w, t->k1_w,
                                t->v1_w, t->o1_w, t->o1_b, error)) == NULL)
    return NULL;
  g_clear_pointer (&h, lk_tensor_unref);
  if ((h2 = attention_residual (arena, stream, h1, context, t->ln2_w, t->ln2_b, t->q2_w, t->k2_w,
                                t->v2_w, t->o2_w, t->o2_b, error)) == NULL)
    return NULL;
  g_clear_pointer (&h1, lk_tensor_unref);

  /* Feed-forward: GEGLU to 4C, back to C. */
  if ((ln3 = lk_graph_layer_norm_to (arena, stream, h2, t->ln3_w, t->ln3_b, LAYER_NORM_EPS,
                                     ACT_HALF, error)) == NULL ||
      (ff1 = lk_graph_linear (arena, stream, ln3, t->ff1_w, t->ff1_b, error)) == NULL ||
      (gated = lk_arena_tensor (arena, ACT_HALF, 3, (gint64[]) { batch, hw, 4 * c },
                                error)) == NULL ||
      !lk_op_geglu (stream, ff1, gated, error))
    return NULL;
  g_clear_pointer (&ln3, lk_tensor_unref);
  g_clear_pointer (&ff1, lk_tensor_unref);
  if ((ff2 = lk_graph_linear (arena, stream, gated, t->ff2_w, t->ff2_b, error)) == NULL ||
      (h3 = lk_graph_add (arena, stream, h2, ff2, error)) == NULL)
    return NULL;
  g_clear_pointer (&gated, lk_tensor_unref);
  g_clear_pointer (&ff2, lk_tensor_unref);
  g_clear_pointer (&h2, lk_tensor_unref);

  /* proj_out back to planar: out[b] = W · h3[b]ᵀ, one GEMM per batch entry since only the right
   * operand may be shared between batches. */
  if ((out = lk_arena_tensor (arena, LK_DTYPE_F32, 4, x->shape, error)) == NULL)
    return NULL;
  for (gint64 b = 0; b < batch; b++)
    {
      gint64 tokens_shape[2] = { hw, c }, plane_shape[2] = { c, hw };
      g_autoptr(LkTensor) tokens = lk_tensor_view (h3, 2, tokens_shape, b * hw * c);
      g_autoptr(LkTensor) plane = lk_tensor_view (out, 2, plane_shape, b * c * hw);

      if (!lk_op_gemm (stream, t->proj_out_w, tokens, NULL, plane, &to_planar, error))
        return NULL;
    }
  g_clear_pointer (&h3, lk_tensor_unref);
  if ((biased = lk_graph_add (arena, stream, out, t->proj_out_b, error)) == NULL)
    return NULL;
  g_clear_pointer (&out, lk_tensor_unref);
  return lk_graph_add (arena, stream, biased, x, error);
}

static LkTensor *
block_forward (const Block  *block,
               LkArena      *arena,
               LkStream     *stream,
               LkTensor     *x,
               LkTensor     *emb,
               LkTensor     *context,
               GError      **error)
{
  g_autoptr(LkTensor) h = lk_tensor_ref (x);

#define STEP(expr) G_STMT_START {                   \
    LkTensor *next_ = (expr);                        \
    if (next_ == NULL)                               \
      return NULL;                                   \
    lk_tensor_unref (h);                             \
    h = next_;                                       \
  } G_STMT_END

  if (block->res != NULL)
    STEP (res_block_forward (block->res, arena, stream, h, emb, error));
  if (block->attn != NULL)
    STEP (transformer_forward (block->attn, arena, stream, h, context, error));
  if (block->down_w != NULL)
    STEP (lk_graph_conv2d (arena, stream, h, block->down_w, block->down_b, 2, error));
  if (block->up_w != NULL)
    {
      g_autoptr(LkTensor) up = arena_like (arena, 4, h->shape[0], h->shape[1], 2 * h->shape[2],
                                           2 * h->shape[3], error);

      if (up == NULL || !lk_op_upsample_nearest2x (stream, h, up, error))
        return NULL;
      STEP (lk_graph_conv2d (arena, stream, up, block->up_w, block->up_b, 1, error));
    }
#undef STEP
  return g_steal_pointer (&h);
}

gboolean
lk_unet_check_inputs (const LkUnetConfig  *config,
                      const char          *what,
                      LkTensor            *x,
                      LkTensor            *timesteps,
                      LkTensor            *context,
                      GError             **error)
{
  g_autofree char *dx = NULL, *dt = NULL, *dc = NULL;

  if (x->ndim == 4 && x->shape[1] == config->in_channels && x->shape[2] % 8 == 0 &&
      x->shape[3] % 8 == 0 && timesteps->ndim == 1 && timesteps->shape[0] == x->shape[0] &&
      context->ndim == 3 && context->shape[0] == x->shape[0] &&
      context->shape[2] == config->context_dim)
    return TRUE;

  dx = lk_tensor_describe (x);
  dt = lk_tensor_describe (timesteps);
  dc = lk_tensor_describe (context);
  g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
               "%s: x %s, timesteps %s, context %s where x must be [B, %u, h, w] with h and "
               "w multiples of 8, timesteps [B] and context [B, n, %u]", what, dx, dt, dc,
               config->in_channels, config->context_dim);
  return FALSE;
}

LkTensor *
lk_unet_encoder_embed (const LkUnetEncoder  *encoder,
                       LkArena              *arena,
                       LkStream             *stream,
                       LkTensor             *timesteps,
                       GError              **error)
{
  g_autoptr(LkTensor) t_emb = NULL, e1 = NULL, emb = NULL;

  if ((t_emb = arena_like (arena, 2, timesteps->shape[0], encoder->config.model_channels, 0, 0,
                           error)) == NULL ||
      !lk_op_timestep_embedding (stream, timesteps, t_emb, MAX_PERIOD, TRUE, error) ||
      (e1 = lk_graph_linear (arena, stream, t_emb, encoder->time1_w, encoder->time1_b,
                             error)) == NULL ||
      !lk_op_silu (stream, e1, e1, error) ||
      (emb = lk_graph_linear (arena, stream, e1, encoder->time2_w, encoder->time2_b,
                              error)) == NULL ||
      !lk_op_silu (stream, emb, emb, error))
    return NULL;
  return g_steal_pointer (&emb);
}

LkTensor *
lk_unet_encoder_forward (const LkUnetEncoder  *encoder,
                         LkArena              *arena,
                         LkStream             *stream,
                         LkTensor             *x,
                         LkTensor             *emb,
                         LkTensor             *context,
                         LkTensor             *hint,
                         GPtrArray            *skips,
                         GError              **error)
{
  g_autoptr(LkTensor) h = NULL, mid = NULL;

  if ((h = lk_graph_conv2d (arena, stream, x, encoder->conv_in_w, encoder->conv_in_b, 1,
                            error)) == NULL)
    return NULL;
  if (hint != NULL)
    {
      LkTensor *guided = lk_graph_add (arena, stream, h, hint, error);

      if (guided == NULL)
        return NULL;
      lk_tensor_unref (h);
      h = guided;
    }
  g_ptr_array_add (skips, lk_tensor_ref (h));
  for (guint i = 1; i < N_INPUT_BLOCKS; i++)
    {
      LkTensor *next = block_forward (&encoder->input[i], arena, stream, h, emb, context, error);

      if (next == NULL)
        return NULL;
      lk_tensor_unref (h);
      h = next;
      g_ptr_array_add (skips, lk_tensor_ref (h));
    }

  if ((mid = block_forward (&encoder->middle, arena, stream, h, emb, context, error)) == NULL)
    return NULL;
  g_clear_pointer (&h, lk_tensor_unref);
  return res_block_forward (encoder->middle_res, arena, stream, mid, emb, error);
}

/* Checks a residual has the shape of what it is added to. */
static gboolean
check_residual (LkTensor    *residual,
                LkTensor    *target,
                const char  *what,
                guint        index,
                GError     **error)
{
  g_autofree char *dr = NULL, *dt = NULL;

  if (lk_tensor_same_shape (residual, target))
    return TRUE;
  dr = lk_tensor_describe (residual);
  dt = lk_tensor_describe (target);
  g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
               "unet: %s residual %u is %s where the UNet has %s", what, index, dr, dt);
  return FALSE;
}

LkTensor *
lk_unet_forward_with_residuals (LkUnet                 *self,
                                LkStream               *stream,
                                LkTensor               *x,
                                LkTensor               *timesteps,
                                LkTensor               *context,
                                const LkUnetResiduals  *residuals,
                                GError                **error)
{
  const LkUnetConfig *config;
  g_autoptr(LkArena) arena = NULL;
  g_autoptr(LkTensor) emb = NULL, h = NULL, out = NULL;
  g_autoptr(GPtrArray) skips = NULL;
  gint64 batch;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (x != NULL && timesteps != NULL && context != NULL, NULL);

  config = &self->encoder.config;
  if (!lk_unet_check_inputs (config, "unet", x, timesteps, context, error))
    return NULL;
  batch = x->shape[0];

  /* The arena lives as long as the tensors drawn from it: the returned one keeps it. */
  arena = lk_arena_new (lk_stream_get_context (stream));
  if ((emb = lk_unet_encoder_embed (&self->encoder, arena, stream, timesteps, error)) == NULL)
    return NULL;

  skips = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_tensor_unref);
  if ((h = lk_unet_encoder_forward (&self->encoder, arena, stream, x, emb, context, NULL, skips,
                                    error)) == NULL)
    return NULL;
  g_assert (skips->len == N_INPUT_BLOCKS);

  /* Where diffusers and A1111 add ControlNet outputs: the middle block's output, and each skip
   * connection as the decoder concatenates it. */
  if (residuals != NULL && residuals->middle != NULL)
    {
      LkTensor *sum;

      if (!check_residual (residuals->middle, h, "middle", 0, error) ||
          (sum = lk_graph_add (arena, stream, h, residuals->middle, error)) == NULL)
        return NULL;
      lk_tensor_unref (h);
      h = sum;
    }

  for (guint i = 0; i < N_OUTPUT_BLOCKS; i++)
    {
      guint index = skips->len - 1;
      g_autoptr(LkTensor) skip = g_ptr_array_steal_index (skips, index);
      g_autoptr(LkTensor) joined = NULL;
      LkTensor *next;

      if (residuals != NULL && residuals->down[index] != NULL)
        {
          LkTensor *sum;

          if (!check_residual (residuals->down[index], skip, "down", index, error) ||
              (sum = lk_graph_add (arena, stream, skip, residuals->down[index], error)) == NULL)
            return NULL;
          lk_tensor_unref (skip);
          skip = sum;
        }
      joined = arena_like (arena, 4, batch, h->shape[1] + skip->shape[1], h->shape[2],
                           h->shape[3], error);
      if (joined == NULL || !lk_op_concat_channels (stream, h, skip, joined, error))
        return NULL;
      g_clear_pointer (&skip, lk_tensor_unref);
      g_clear_pointer (&h, lk_tensor_unref);
      next = block_forward (&self->output[i], arena, stream, joined, emb, context, error);
      if (next == NULL)
        return NULL;
      h = next;
    }
  g_assert (skips->len == 0);

  if ((out = lk_graph_group_norm_to (arena, stream, h, self->out_norm_w, self->out_norm_b,
                                     GROUPS, RES_NORM_EPS, TRUE, ACT_HALF, error)) == NULL)
    return NULL;
  g_clear_pointer (&h, lk_tensor_unref);
  return lk_graph_conv2d (arena, stream, out, self->out_conv_w, self->out_conv_b, 1, error);
}

LkTensor *
lk_unet_forward (LkUnet    *self,
                 LkStream  *stream,
                 LkTensor  *x,
                 LkTensor  *timesteps,
                 LkTensor  *context,
                 GError   **error)
{
  return lk_unet_forward_with_residuals (self, stream, x, timesteps, context, NULL, error);
}
