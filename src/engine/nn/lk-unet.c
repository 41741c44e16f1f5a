/* lk-unet.c: the SD1.x UNet — ResBlocks, SpatialTransformers, resampling — as engine ops
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-unet"

#include "config.h"

#include "lk-unet.h"
#include "lk-nn-graph.h"

#define N_LEVELS         4
#define N_RES_BLOCKS     2
#define N_INPUT_BLOCKS   (1 + N_LEVELS * N_RES_BLOCKS + N_LEVELS - 1)
#define N_OUTPUT_BLOCKS  (N_LEVELS * (N_RES_BLOCKS + 1))
#define GROUPS           32
#define HEADS            8
#define RES_NORM_EPS     1e-5f
#define SPATIAL_NORM_EPS 1e-6f
#define LAYER_NORM_EPS   1e-5f
#define MAX_PERIOD       10000.0f

static const guint channel_mult[N_LEVELS] = { 1, 2, 4, 4 };

/* Levels with a SpatialTransformer after each ResBlock: all but the last. */
#define LEVEL_HAS_ATTENTION(level) ((level) < N_LEVELS - 1)

typedef struct
{
  LkTensor *in_norm_w, *in_norm_b, *in_conv_w, *in_conv_b;
  LkTensor *emb_w, *emb_b;
  LkTensor *out_norm_w, *out_norm_b, *out_conv_w, *out_conv_b;
  LkTensor *skip_w, *skip_b;  /* a 1×1 convolution when the channel count changes */
} ResBlock;

typedef struct
{
  LkTensor *norm_w, *norm_b;
  LkTensor *proj_in_w, *proj_in_b;    /* weight kept as a [C, C] view of the 1×1 kernel */
  LkTensor *ln1_w, *ln1_b, *q1_w, *k1_w, *v1_w, *o1_w, *o1_b;
  LkTensor *ln2_w, *ln2_b, *q2_w, *k2_w, *v2_w, *o2_w, *o2_b;
  LkTensor *ln3_w, *ln3_b, *ff1_w, *ff1_b, *ff2_w, *ff2_b;
  LkTensor *proj_out_w, *proj_out_b;  /* [C, C] view; bias as [C, 1, 1] to broadcast over NCHW */
} Transformer;

/* One entry of input_blocks / output_blocks: what it holds, in the order it runs. */
typedef struct
{
  ResBlock    *res;
  Transformer *attn;
  LkTensor    *down_w, *down_b;  /* 3×3, stride 2 */
  LkTensor    *up_w, *up_b;      /* nearest ×2, then 3×3 */
} Block;

struct _LkUnet
{
  gatomicrefcount  ref_count;
  LkUnetConfig     config;

  /* owned, all f16 on the device */
  LkTensor        *time1_w, *time1_b, *time2_w, *time2_b;
  LkTensor        *conv_in_w, *conv_in_b;
  Block            input[N_INPUT_BLOCKS];  /* [0] is conv_in, kept apart */
  Block            middle;                 /* middle_block.0 and .1 */
  ResBlock        *middle_res;             /* middle_block.2 */
  Block            output[N_OUTPUT_BLOCKS];
  LkTensor        *out_norm_w, *out_norm_b, *out_conv_w, *out_conv_b;
};

G_DEFINE_BOXED_TYPE (LkUnet, lk_unet, lk_unet_ref, lk_unet_unref)

/* The architecture is walked once, by the same code, to list the tensors it needs and to load
 * them: a Loader without a source only lists. The first error stops all later work. */
typedef struct
{
  const LkWeightSource *source;
  LkStream     *stream;
  GArray       *specs;
  GError       *error;
} Loader;

static void
take (Loader           *loader,
      const char       *prefix,
      const char       *suffix,
      LkUnetTensorRole  role,
      LkTensor        **slot,
      guint             ndim,
      gint64            d0,
      gint64            d1,
      gint64            d2,
      gint64            d3)
{
  LkUnetTensorSpec spec = { g_strconcat (LK_UNET_PREFIX, prefix, suffix, NULL), role, ndim,
                            { d0, d1, d2, d3 } };
  if (loader->specs != NULL)
    {
      g_array_append_val (loader->specs, spec);
      return;
    }
  if (loader->error == NULL)
    *slot = lk_graph_load_f16 (loader->source, loader->stream, spec.name, ndim, spec.shape,
                               "an SD1.x UNet", &loader->error);
  g_free (spec.name);
}

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

/* LDM's UNetModel.__init__ for SD1.x, tensor by tensor. */
static void
walk (Loader *loader,
      LkUnet *self)
{
  const LkUnetConfig *config = &self->config;
  guint mc = config->model_channels, emb = 4 * mc, ch = mc;
  guint skip_channels[N_INPUT_BLOCKS], n_skips = 0, index = 1;

  take_linear (loader, "", "time_embed.0", &self->time1_w, &self->time1_b, emb, mc);
  take_linear (loader, "", "time_embed.2", &self->time2_w, &self->time2_b, emb, emb);
  take_conv (loader, "", "input_blocks.0.0", &self->conv_in_w, &self->conv_in_b, mc,
             config->in_channels, 3);
  skip_channels[n_skips++] = ch;
  for (guint level = 0; level < N_LEVELS; level++)
    {
      for (guint r = 0; r < N_RES_BLOCKS; r++, index++)
        {
          g_autofree char *res = g_strdup_printf ("input_blocks.%u.0.", index);
          g_autofree char *attn = g_strdup_printf ("input_blocks.%u.1.", index);

          self->input[index].res = take_res_block (loader, res, ch, channel_mult[level] * mc, emb);
          ch = channel_mult[level] * mc;
          if (LEVEL_HAS_ATTENTION (level))
            self->input[index].attn = take_transformer (loader, attn, ch, config->context_dim);
          skip_channels[n_skips++] = ch;
        }
      if (level < N_LEVELS - 1)
        {
          g_autofree char *down = g_strdup_printf ("input_blocks.%u.0.", index);

          take_conv (loader, down, "op", &self->input[index].down_w, &self->input[index].down_b,
                     ch, ch, 3);
          skip_channels[n_skips++] = ch;
          index++;
        }
    }
  g_assert (index == N_INPUT_BLOCKS && n_skips == N_INPUT_BLOCKS);

  self->middle.res = take_res_block (loader, "middle_block.0.", ch, ch, emb);
  self->middle.attn = take_transformer (loader, "middle_block.1.", ch, config->context_dim);
  self->middle_res = take_res_block (loader, "middle_block.2.", ch, ch, emb);

  index = 0;
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

static void
res_block_free (ResBlock *res)
{
  free_tensors (res, sizeof (ResBlock));
}

static void
transformer_free (Transformer *t)
{
  free_tensors (t, sizeof (Transformer));
}

static void
block_clear (Block *block)
{
  g_clear_pointer (&block->res, res_block_free);
  g_clear_pointer (&block->attn, transformer_free);
  g_clear_pointer (&block->down_w, lk_tensor_unref);
  g_clear_pointer (&block->down_b, lk_tensor_unref);
  g_clear_pointer (&block->up_w, lk_tensor_unref);
  g_clear_pointer (&block->up_b, lk_tensor_unref);
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
  Loader loader = { NULL, NULL, g_array_new (FALSE, TRUE, sizeof (LkUnetTensorSpec)), NULL };
  g_autoptr(LkUnet) scratch = g_new0 (LkUnet, 1);

  g_return_val_if_fail (config != NULL && config_is_valid (config), NULL);

  g_atomic_ref_count_init (&scratch->ref_count);
  scratch->config = *config;
  g_array_set_clear_func (loader.specs, spec_clear);
  walk (&loader, scratch);
  return loader.specs;
}

/* The dimensions the rest of the shapes follow from. */
static gboolean
detect_config (const LkWeightSource  *source,
               LkUnetConfig          *config,
               GError               **error)
{
  static const char *names[] = {
    LK_UNET_PREFIX "input_blocks.0.0.weight",
    LK_UNET_PREFIX "out.2.weight",
    LK_UNET_PREFIX "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
  };
  static const guint ndims[] = { 4, 4, 2 };
  const LkWeightInfo *infos[G_N_ELEMENTS (names)];

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      LkWeights *weights;

      if ((infos[i] = lk_weight_source_require (source, names[i], &weights, error)) == NULL)
        return FALSE;
      if (infos[i]->ndim != ndims[i])
        {
          g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                       "%s has %u dimensions where an SD1.x UNet has %u", names[i],
                       infos[i]->ndim, ndims[i]);
          return FALSE;
        }
    }
  config->model_channels = infos[0]->shape[0];
  config->in_channels = infos[0]->shape[1];
  config->out_channels = infos[1]->shape[0];
  config->context_dim = infos[2]->shape[1];
  if (!config_is_valid (config))
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "UNet with %u model channels, %u in, %u out and context %u is not one we run",
                   config->model_channels, config->in_channels, config->out_channels,
                   config->context_dim);
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
  Loader loader = { source, stream, NULL, NULL };

  g_atomic_ref_count_init (&self->ref_count);
  if (!detect_config (source, &self->config, error))
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
    &self->time1_w, &self->time1_b, &self->time2_w, &self->time2_b, &self->conv_in_w,
    &self->conv_in_b, &self->out_norm_w, &self->out_norm_b, &self->out_conv_w, &self->out_conv_b,
  };

  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (own); i++)
    g_clear_pointer (own[i], lk_tensor_unref);
  for (guint i = 0; i < N_INPUT_BLOCKS; i++)
    block_clear (&self->input[i]);
  block_clear (&self->middle);
  g_clear_pointer (&self->middle_res, res_block_free);
  for (guint i = 0; i < N_OUTPUT_BLOCKS; i++)
    block_clear (&self->output[i]);
  g_free (self);
}

const LkUnetConfig *
lk_unet_get_config (LkUnet *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return &self->config;
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

  if ((h = lk_graph_group_norm (arena, stream, x, res->in_norm_w, res->in_norm_b, GROUPS,
                                RES_NORM_EPS, TRUE, error)) == NULL ||
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
  if ((h3 = lk_graph_group_norm (arena, stream, h2, res->out_norm_w, res->out_norm_b, GROUPS,
                                 RES_NORM_EPS, TRUE, error)) == NULL)
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

  if ((q = lk_graph_linear (arena, stream, x, q_w, NULL, error)) == NULL ||
      (k = lk_graph_linear (arena, stream, source, k_w, NULL, error)) == NULL ||
      (v = lk_graph_linear (arena, stream, source, v_w, NULL, error)) == NULL ||
      (o = lk_arena_tensor (arena, LK_DTYPE_F32, 3, q->shape, error)) == NULL ||
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

  if ((n = lk_graph_layer_norm (arena, stream, x, ln_w, ln_b, LAYER_NORM_EPS, error)) == NULL ||
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

  if ((n = lk_graph_group_norm (arena, stream, x, t->norm_w, t->norm_b, GROUPS, SPATIAL_NORM_EPS,
                                FALSE, error)) == NULL ||
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
  if ((ln3 = lk_graph_layer_norm (arena, stream, h2, t->ln3_w, t->ln3_b, LAYER_NORM_EPS,
                                  error)) == NULL ||
      (ff1 = lk_graph_linear (arena, stream, ln3, t->ff1_w, t->ff1_b, error)) == NULL ||
      (gated = arena_like (arena, 3, batch, hw, 4 * c, 0, error)) == NULL ||
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

static gboolean
check_inputs (LkUnet    *self,
              LkTensor  *x,
              LkTensor  *timesteps,
              LkTensor  *context,
              GError   **error)
{
  g_autofree char *dx = lk_tensor_describe (x);
  g_autofree char *dt = lk_tensor_describe (timesteps);
  g_autofree char *dc = lk_tensor_describe (context);

  if (x->ndim != 4 || x->shape[1] != self->config.in_channels || x->shape[2] % 8 != 0 ||
      x->shape[3] % 8 != 0 || timesteps->ndim != 1 || timesteps->shape[0] != x->shape[0] ||
      context->ndim != 3 || context->shape[0] != x->shape[0] ||
      context->shape[2] != self->config.context_dim)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "unet: x %s, timesteps %s, context %s where x must be [B, %u, h, w] with h and "
                   "w multiples of 8, timesteps [B] and context [B, n, %u]", dx, dt, dc,
                   self->config.in_channels, self->config.context_dim);
      return FALSE;
    }
  return TRUE;
}

LkTensor *
lk_unet_forward (LkUnet    *self,
                 LkStream  *stream,
                 LkTensor  *x,
                 LkTensor  *timesteps,
                 LkTensor  *context,
                 GError   **error)
{
  g_autoptr(LkArena) arena = NULL;
  g_autoptr(LkTensor) t_emb = NULL, e1 = NULL, emb = NULL, h = NULL, out = NULL;
  g_autoptr(GPtrArray) skips = NULL;
  gint64 batch;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (x != NULL && timesteps != NULL && context != NULL, NULL);

  if (!check_inputs (self, x, timesteps, context, error))
    return NULL;
  batch = x->shape[0];

  /* The arena lives as long as the tensors drawn from it: the returned one keeps it. */
  arena = lk_arena_new (lk_stream_get_context (stream));
  if ((t_emb = arena_like (arena, 2, batch, self->config.model_channels, 0, 0, error)) == NULL ||
      !lk_op_timestep_embedding (stream, timesteps, t_emb, MAX_PERIOD, TRUE, error) ||
      (e1 = lk_graph_linear (arena, stream, t_emb, self->time1_w, self->time1_b, error)) == NULL ||
      !lk_op_silu (stream, e1, e1, error) ||
      (emb = lk_graph_linear (arena, stream, e1, self->time2_w, self->time2_b, error)) == NULL ||
      !lk_op_silu (stream, emb, emb, error))
    return NULL;
  g_clear_pointer (&t_emb, lk_tensor_unref);
  g_clear_pointer (&e1, lk_tensor_unref);

  skips = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_tensor_unref);
  if ((h = lk_graph_conv2d (arena, stream, x, self->conv_in_w, self->conv_in_b, 1, error)) == NULL)
    return NULL;
  g_ptr_array_add (skips, lk_tensor_ref (h));
  for (guint i = 1; i < N_INPUT_BLOCKS; i++)
    {
      LkTensor *next = block_forward (&self->input[i], arena, stream, h, emb, context, error);

      if (next == NULL)
        return NULL;
      lk_tensor_unref (h);
      h = next;
      g_ptr_array_add (skips, lk_tensor_ref (h));
    }

  {
    LkTensor *mid = block_forward (&self->middle, arena, stream, h, emb, context, error);

    if (mid == NULL)
      return NULL;
    lk_tensor_unref (h);
    h = res_block_forward (self->middle_res, arena, stream, mid, emb, error);
    lk_tensor_unref (mid);
    if (h == NULL)
      return NULL;
  }

  for (guint i = 0; i < N_OUTPUT_BLOCKS; i++)
    {
      g_autoptr(LkTensor) skip = g_ptr_array_steal_index (skips, skips->len - 1);
      g_autoptr(LkTensor) joined = arena_like (arena, 4, batch, h->shape[1] + skip->shape[1],
                                               h->shape[2], h->shape[3], error);
      LkTensor *next;

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

  if ((out = lk_graph_group_norm (arena, stream, h, self->out_norm_w, self->out_norm_b, GROUPS,
                                  RES_NORM_EPS, TRUE, error)) == NULL)
    return NULL;
  g_clear_pointer (&h, lk_tensor_unref);
  return lk_graph_conv2d (arena, stream, out, self->out_conv_w, self->out_conv_b, 1, error);
}
