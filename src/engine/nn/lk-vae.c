/* lk-vae.c: the SD1.x autoencoder — ResnetBlocks, single-head attention, resampling — as engine
 * ops
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-vae"

#include "config.h"

#include <math.h>

#include "lk-vae.h"
#include "lk-nn-graph.h"

#define N_LEVELS       4
#define N_ENC_BLOCKS   2
#define N_DEC_BLOCKS   (N_ENC_BLOCKS + 1)
#define Z_CHANNELS     4
#define IMAGE_CHANNELS 3
#define GROUPS         32
#define NORM_EPS       1e-6f

static const guint channel_mult[N_LEVELS] = { 1, 2, 4, 4 };

/* Every tensor below is borrowed from LkVae.tensors, which owns them all. */
typedef struct
{
  LkTensor *norm1_w, *norm1_b, *conv1_w, *conv1_b;
  LkTensor *norm2_w, *norm2_b, *conv2_w, *conv2_b;
  LkTensor *nin_w, *nin_b;  /* a 1×1 convolution when the channel count changes */
} ResBlock;

typedef struct
{
  LkTensor *norm_w, *norm_b;
  LkTensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;  /* 1×1 convolutions */
  LkTensor *proj_w, *proj_b;
} AttnBlock;

typedef struct
{
  ResBlock  block_1;
  AttnBlock attn_1;
  ResBlock  block_2;
} Mid;

struct _LkVae
{
  gatomicrefcount  ref_count;
  LkVaeConfig      config;
  LkVaeTiling      tiling;

  /* owned: every loaded tensor, f16 on the device */
  GPtrArray       *tensors;

  /* encoder */
  LkTensor        *enc_in_w, *enc_in_b;
  ResBlock         down[N_LEVELS][N_ENC_BLOCKS];
  LkTensor        *down_w[N_LEVELS], *down_b[N_LEVELS];  /* all levels but the last */
  Mid              enc_mid;
  LkTensor        *enc_norm_w, *enc_norm_b, *enc_out_w, *enc_out_b;
  LkTensor        *quant_w, *quant_b;
  /* decoder */
  LkTensor        *post_quant_w, *post_quant_b;
  LkTensor        *dec_in_w, *dec_in_b;
  Mid              dec_mid;
  ResBlock         up[N_LEVELS][N_DEC_BLOCKS];
  LkTensor        *up_w[N_LEVELS], *up_b[N_LEVELS];      /* all levels but the first */
  LkTensor        *dec_norm_w, *dec_norm_b, *dec_out_w, *dec_out_b;
};

G_DEFINE_BOXED_TYPE (LkVae, lk_vae, lk_vae_ref, lk_vae_unref)

/* The architecture is walked once, by the same code, to list the tensors it needs and to load
 * them: a Loader with @specs set only lists. The first error stops all later work. */
typedef struct
{
  const LkWeightSource *source;
  LkStream     *stream;
  LkVae        *vae;
  GArray       *specs;
  GError       *error;
} Loader;

static void
take (Loader           *loader,
      const char       *name,
      LkVaeTensorRole   role,
      LkTensor        **slot,
      guint             ndim,
      gint64            d0,
      gint64            d1,
      gint64            k)
{
  LkVaeTensorSpec spec = { g_strconcat (LK_VAE_PREFIX, name, NULL), role, ndim, { d0, d1, k, k } };
  if (loader->specs != NULL)
    {
      g_array_append_val (loader->specs, spec);
      return;
    }
  if (loader->error == NULL &&
      (*slot = lk_graph_load_f16 (loader->source, loader->stream, spec.name, ndim, spec.shape,
                                  "SD1.x's autoencoder", &loader->error)) != NULL)
    g_ptr_array_add (loader->vae->tensors, *slot);
  g_free (spec.name);
}

/* A GroupNorm's gamma and beta [c]. */
static void
take_norm (Loader      *loader,
           const char  *prefix,
           const char  *name,
           LkTensor   **w,
           LkTensor   **b,
           gint64       c)
{
  g_autofree char *weight = g_strconcat (prefix, name, ".weight", NULL);
  g_autofree char *bias = g_strconcat (prefix, name, ".bias", NULL);

  take (loader, weight, LK_VAE_TENSOR_NORM_WEIGHT, w, 1, c, 0, 0);
  take (loader, bias, LK_VAE_TENSOR_NORM_BIAS, b, 1, c, 0, 0);
}

/* A convolution's weight [out, in, k, k] and bias [out]. */
static void
take_conv (Loader      *loader,
           const char  *prefix,
           const char  *name,
           LkTensor   **w,
           LkTensor   **b,
           gint64       out,
           gint64       in,
           gint64       k)
{
  g_autofree char *weight = g_strconcat (prefix, name, ".weight", NULL);
  g_autofree char *bias = g_strconcat (prefix, name, ".bias", NULL);

  take (loader, weight, LK_VAE_TENSOR_WEIGHT, w, 4, out, in, k);
  take (loader, bias, LK_VAE_TENSOR_BIAS, b, 1, out, 0, 0);
}

static void
take_res_block (Loader     *loader,
                const char *prefix,
                ResBlock   *res,
                guint       in,
                guint       out)
{
  take_norm (loader, prefix, "norm1", &res->norm1_w, &res->norm1_b, in);
  take_conv (loader, prefix, "conv1", &res->conv1_w, &res->conv1_b, out, in, 3);
  take_norm (loader, prefix, "norm2", &res->norm2_w, &res->norm2_b, out);
  take_conv (loader, prefix, "conv2", &res->conv2_w, &res->conv2_b, out, out, 3);
  if (in != out)
    take_conv (loader, prefix, "nin_shortcut", &res->nin_w, &res->nin_b, out, in, 1);
}

static void
take_mid (Loader     *loader,
          const char *prefix,
          Mid        *mid,
          guint       c)
{
  g_autofree char *block_1 = g_strconcat (prefix, "mid.block_1.", NULL);
  g_autofree char *attn = g_strconcat (prefix, "mid.attn_1.", NULL);
  g_autofree char *block_2 = g_strconcat (prefix, "mid.block_2.", NULL);
  AttnBlock *a = &mid->attn_1;

  take_res_block (loader, block_1, &mid->block_1, c, c);
  take_norm (loader, attn, "norm", &a->norm_w, &a->norm_b, c);
  take_conv (loader, attn, "q", &a->q_w, &a->q_b, c, c, 1);
  take_conv (loader, attn, "k", &a->k_w, &a->k_b, c, c, 1);
  take_conv (loader, attn, "v", &a->v_w, &a->v_b, c, c, 1);
  take_conv (loader, attn, "proj_out", &a->proj_w, &a->proj_b, c, c, 1);
  take_res_block (loader, block_2, &mid->block_2, c, c);
}

/* LDM's Encoder, Decoder and AutoencoderKL's 1×1 convolutions, tensor by tensor, in the order of
 * the checkpoints' state dicts. */
static void
walk (Loader *loader,
      LkVae  *self)
{
  guint base = self->config.base_channels, ch = base, top = base * channel_mult[N_LEVELS - 1];

  take_conv (loader, "encoder.", "conv_in", &self->enc_in_w, &self->enc_in_b, ch, IMAGE_CHANNELS,
             3);
  for (guint level = 0; level < N_LEVELS; level++)
    {
      guint out = base * channel_mult[level];

      for (guint r = 0; r < N_ENC_BLOCKS; r++)
        {
          g_autofree char *prefix = g_strdup_printf ("encoder.down.%u.block.%u.", level, r);

          take_res_block (loader, prefix, &self->down[level][r], ch, out);
          ch = out;
        }
      if (level < N_LEVELS - 1)
        {
          g_autofree char *prefix = g_strdup_printf ("encoder.down.%u.downsample.", level);

          take_conv (loader, prefix, "conv", &self->down_w[level], &self->down_b[level], ch, ch,
                     3);
        }
    }
  take_mid (loader, "encoder.", &self->enc_mid, ch);
  take_norm (loader, "encoder.", "norm_out", &self->enc_norm_w, &self->enc_norm_b, ch);
  take_conv (loader, "encoder.", "conv_out", &self->enc_out_w, &self->enc_out_b, 2 * Z_CHANNELS,
             ch, 3);
  take_conv (loader, "", "quant_conv", &self->quant_w, &self->quant_b, 2 * Z_CHANNELS,
             2 * Z_CHANNELS, 1);
  take_conv (loader, "", "post_quant_conv", &self->post_quant_w, &self->post_quant_b, Z_CHANNELS,
             Z_CHANNELS, 1);

  ch = top;
  take_conv (loader, "decoder.", "conv_in", &self->dec_in_w, &self->dec_in_b, ch, Z_CHANNELS, 3);
  take_mid (loader, "decoder.", &self->dec_mid, ch);
  for (guint level = N_LEVELS; level-- > 0;)
    {
      guint out = base * channel_mult[level];

      for (guint r = 0; r < N_DEC_BLOCKS; r++)
        {
          g_autofree char *prefix = g_strdup_printf ("decoder.up.%u.block.%u.", level, r);

          take_res_block (loader, prefix, &self->up[level][r], ch, out);
          ch = out;
        }
      if (level > 0)
        {
          g_autofree char *prefix = g_strdup_printf ("decoder.up.%u.upsample.", level);

          take_conv (loader, prefix, "conv", &self->up_w[level], &self->up_b[level], ch, ch, 3);
        }
    }
  take_norm (loader, "decoder.", "norm_out", &self->dec_norm_w, &self->dec_norm_b, ch);
  take_conv (loader, "decoder.", "conv_out", &self->dec_out_w, &self->dec_out_b, IMAGE_CHANNELS,
             ch, 3);
}

static void
spec_clear (gpointer data)
{
  LkVaeTensorSpec *spec = data;

  g_free (spec->name);
}

static LkVae *
vae_alloc (void)
{
  LkVae *self = g_new0 (LkVae, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->config = LK_VAE_CONFIG_SD1;
  self->tiling = LK_VAE_TILING_DEFAULT;
  self->tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_tensor_unref);
  return self;
}

static gboolean
config_is_valid (const LkVaeConfig *config)
{
  return config->base_channels > 0 && config->base_channels % GROUPS == 0;
}

GArray *
lk_vae_config_list_tensors (const LkVaeConfig *config)
{
  Loader loader = { NULL, NULL, NULL, g_array_new (FALSE, TRUE, sizeof (LkVaeTensorSpec)), NULL };
  g_autoptr(LkVae) scratch = vae_alloc ();

  g_return_val_if_fail (config != NULL && config_is_valid (config), NULL);

  scratch->config = *config;
  loader.vae = scratch;
  g_array_set_clear_func (loader.specs, spec_clear);
  walk (&loader, scratch);
  return loader.specs;
}

GArray *
lk_vae_list_tensors (void)
{
  return lk_vae_config_list_tensors (&LK_VAE_CONFIG_SD1);
}

/* The base width, from encoder.conv_in [base, 3, 3, 3]; walk() checks the rest against it. */
static gboolean
detect_config (const LkWeightSource  *source,
               LkVaeConfig           *config,
               GError               **error)
{
  static const char name[] = LK_VAE_PREFIX "encoder.conv_in.weight";
  const LkWeightInfo *info;
  LkWeights *weights;

  if ((info = lk_weight_source_require (source, name, &weights, error)) == NULL)
    return FALSE;
  if (info->ndim != 4 || info->shape[1] != IMAGE_CHANNELS || info->shape[0] > G_MAXUINT)
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "%s has %u dimensions and %" G_GINT64_FORMAT " input channels where an SD1.x "
                   "autoencoder has 4 and %d", name, info->ndim,
                   info->ndim >= 2 ? info->shape[1] : 0, IMAGE_CHANNELS);
      return FALSE;
    }
  config->base_channels = info->shape[0];
  if (!config_is_valid (config))
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "%s: an autoencoder %u channels wide is not one we run (a multiple of %d)",
                   name, config->base_channels, GROUPS);
      return FALSE;
    }
  return TRUE;
}

static LkVae *
load (LkStream              *stream,
      const LkWeightSource  *source,
      GError               **error)
{
  g_autoptr(LkVae) self = vae_alloc ();
  Loader loader = { source, stream, self, NULL, NULL };

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

LkVae *
lk_vae_new (LkStream   *stream,
            LkWeights  *weights,
            GError    **error)
{
  LkWeightSource source = { weights, NULL };

  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (weights != NULL, NULL);
  return load (stream, &source, error);
}

LkVae *
lk_vae_new_from_model_files (LkStream      *stream,
                             LkModelFiles  *files,
                             GError       **error)
{
  LkWeightSource source = { NULL, files };

  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (files != NULL, NULL);
  return load (stream, &source, error);
}

LkVae *
lk_vae_ref (LkVae *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_vae_unref (LkVae *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_clear_pointer (&self->tensors, g_ptr_array_unref);
  g_free (self);
}

const LkVaeConfig *
lk_vae_get_config (LkVae *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return &self->config;
}

void
lk_vae_set_tiling (LkVae             *self,
                   const LkVaeTiling *tiling)
{
  g_return_if_fail (self != NULL && tiling != NULL);
  g_return_if_fail (tiling->tile >= 8 && tiling->overlap < tiling->tile / 2);
  self->tiling = *tiling;
}

void
lk_vae_get_tiling (LkVae       *self,
                   LkVaeTiling *tiling)
{
  g_return_if_fail (self != NULL && tiling != NULL);
  *tiling = self->tiling;
}

/* The forward passes. Every helper returns a new tensor from the arena, or NULL with @error set;
 * inputs are borrowed. Intermediates are dropped as soon as they are used so the arena hands
 * their memory to the next ones. */

static LkTensor *
arena_tensor (LkArena   *arena,
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

/* Replaces *h by next (when not NULL) and says whether there was one. */
static gboolean
step (LkTensor **h,
      LkTensor  *next)
{
  if (next == NULL)
    return FALSE;
  lk_tensor_unref (*h);
  *h = next;
  return TRUE;
}

/* LDM's ResnetBlock without a time embedding: x + conv2(silu(norm2(conv1(silu(norm1(x)))))),
 * x through nin_shortcut when the channel count changes. */
static LkTensor *
res_block_forward (const ResBlock  *res,
                   LkArena         *arena,
                   LkStream        *stream,
                   LkTensor        *x,
                   GError         **error)
{
  g_autoptr(LkTensor) h = NULL, skip = NULL;

  if ((h = lk_graph_group_norm_to (arena, stream, x, res->norm1_w, res->norm1_b, GROUPS,
                                   NORM_EPS, TRUE, LK_DTYPE_F16, error)) == NULL ||
      !step (&h, lk_graph_conv2d (arena, stream, h, res->conv1_w, res->conv1_b, 1, error)) ||
      !step (&h, lk_graph_group_norm_to (arena, stream, h, res->norm2_w, res->norm2_b, GROUPS,
                                         NORM_EPS, TRUE, LK_DTYPE_F16, error)) ||
      !step (&h, lk_graph_conv2d (arena, stream, h, res->conv2_w, res->conv2_b, 1, error)))
    return NULL;
  if (res->nin_w != NULL)
    skip = lk_graph_conv2d (arena, stream, x, res->nin_w, res->nin_b, 1, error);
  else
    skip = lk_tensor_ref (x);
  if (skip == NULL)
    return NULL;
  return lk_graph_add (arena, stream, skip, h, error);
}

/* LDM's AttnBlock: one head as wide as the channels, over the h·w positions. With the 1×1
 * projections in planar layout [B, C, N] the scores are qᵀ·k [B, N, N], softmax over keys, and
 * the output v·pᵀ [B, C, N] comes back planar, so no layout change is needed. The N×N matrix is
 * held in memory: 4096² floats per image at a 512×512 image. */
static LkTensor *
attn_block_forward (const AttnBlock  *a,
                    LkArena          *arena,
                    LkStream         *stream,
                    LkTensor         *x,
                    GError          **error)
{
  gint64 batch = x->shape[0], c = x->shape[1], n = x->shape[2] * x->shape[3];
  gint64 planar_shape[3] = { batch, c, n };
  LkGemmOptions scores_options = { TRUE, FALSE, 1.0f }, out_options = { FALSE, TRUE, 1.0f };
  g_autoptr(LkTensor) h = NULL, q = NULL, k = NULL, v = NULL, qp = NULL, kp = NULL, vp = NULL;
  g_autoptr(LkTensor) scores = NULL, o = NULL, op = NULL, proj = NULL;

  if ((h = lk_graph_group_norm_to (arena, stream, x, a->norm_w, a->norm_b, GROUPS, NORM_EPS,
                                   FALSE, LK_DTYPE_F16, error)) == NULL ||
      (q = lk_graph_conv2d (arena, stream, h, a->q_w, a->q_b, 1, error)) == NULL ||
      (k = lk_graph_conv2d (arena, stream, h, a->k_w, a->k_b, 1, error)) == NULL ||
      (v = lk_graph_conv2d (arena, stream, h, a->v_w, a->v_b, 1, error)) == NULL)
    return NULL;
  g_clear_pointer (&h, lk_tensor_unref);
  qp = lk_tensor_view (q, 3, planar_shape, 0);
  kp = lk_tensor_view (k, 3, planar_shape, 0);
  vp = lk_tensor_view (v, 3, planar_shape, 0);

  if ((scores = arena_tensor (arena, 3, batch, n, n, 0, error)) == NULL ||
      !lk_op_gemm (stream, qp, kp, NULL, scores, &scores_options, error) ||
      !lk_op_softmax (stream, scores, scores, 1.0f / sqrtf ((float) c), error))
    return NULL;
  g_clear_pointer (&qp, lk_tensor_unref);
  g_clear_pointer (&kp, lk_tensor_unref);
  g_clear_pointer (&q, lk_tensor_unref);
  g_clear_pointer (&k, lk_tensor_unref);

  if ((o = arena_tensor (arena, 4, batch, c, x->shape[2], x->shape[3], error)) == NULL)
    return NULL;
  op = lk_tensor_view (o, 3, planar_shape, 0);
  if (!lk_op_gemm (stream, vp, scores, NULL, op, &out_options, error))
    return NULL;
  g_clear_pointer (&op, lk_tensor_unref);
  g_clear_pointer (&vp, lk_tensor_unref);
  g_clear_pointer (&v, lk_tensor_unref);
  g_clear_pointer (&scores, lk_tensor_unref);

  if ((proj = lk_graph_conv2d (arena, stream, o, a->proj_w, a->proj_b, 1, error)) == NULL)
    return NULL;
  g_clear_pointer (&o, lk_tensor_unref);
  return lk_graph_add (arena, stream, x, proj, error);
}

static LkTensor *
mid_forward (const Mid  *mid,
             LkArena    *arena,
             LkStream   *stream,
             LkTensor   *x,
             GError    **error)
{
  g_autoptr(LkTensor) h = NULL;

  if ((h = res_block_forward (&mid->block_1, arena, stream, x, error)) == NULL ||
      !step (&h, attn_block_forward (&mid->attn_1, arena, stream, h, error)) ||
      !step (&h, res_block_forward (&mid->block_2, arena, stream, h, error)))
    return NULL;
  return g_steal_pointer (&h);
}

/* A zero tensor from the arena. */
static LkTensor *
arena_zeros (LkArena   *arena,
             LkStream  *stream,
             guint      ndim,
             gint64     d0,
             gint64     d1,
             gint64     d2,
             gint64     d3,
             GError   **error)
{
  LkTensor *t = arena_tensor (arena, ndim, d0, d1, d2, d3, error);

  if (t != NULL)
    lk_stream_fill (stream, t->buffer, t->offset, lk_tensor_numel (t) * sizeof (float), 0);
  return t;
}

/* x [N, C, H, W] → [N, C, H + 1, W + 1] with a zero last row and column: torch's
 * F.pad (x, (0, 1, 0, 1)), which LDM's Downsample applies before its unpadded stride-2
 * convolution. Two channel concatenations on views do it exactly: a zero after each row of
 * W, then a zero row of W + 1 after each plane of H rows. */
static LkTensor *
pad_right_bottom (LkArena   *arena,
                  LkStream  *stream,
                  LkTensor  *x,
                  GError   **error)
{
  gint64 planes = x->shape[0] * x->shape[1], h = x->shape[2], w = x->shape[3];
  gint64 rows_shape[4] = { planes * h, w, 1, 1 }, wide_rows_shape[4] = { planes * h, w + 1, 1, 1 };
  gint64 wide_shape[4] = { planes, h, w + 1, 1 }, out_planes_shape[4] = { planes, h + 1, w + 1, 1 };
  g_autoptr(LkTensor) rows = NULL, zero_col = NULL, wide = NULL, wide_rows = NULL;
  g_autoptr(LkTensor) wide_planes = NULL, zero_row = NULL, out = NULL, out_planes = NULL;

  if ((zero_col = arena_zeros (arena, stream, 4, planes * h, 1, 1, 1, error)) == NULL ||
      (wide = arena_tensor (arena, 4, x->shape[0], x->shape[1], h, w + 1, error)) == NULL)
    return NULL;
  rows = lk_tensor_view (x, 4, rows_shape, 0);
  wide_rows = lk_tensor_view (wide, 4, wide_rows_shape, 0);
  if (!lk_op_concat_channels (stream, rows, zero_col, wide_rows, error))
    return NULL;
  g_clear_pointer (&zero_col, lk_tensor_unref);

  if ((zero_row = arena_zeros (arena, stream, 4, planes, 1, w + 1, 1, error)) == NULL ||
      (out = arena_tensor (arena, 4, x->shape[0], x->shape[1], h + 1, w + 1, error)) == NULL)
    return NULL;
  wide_planes = lk_tensor_view (wide, 4, wide_shape, 0);
  out_planes = lk_tensor_view (out, 4, out_planes_shape, 0);
  if (!lk_op_concat_channels (stream, wide_planes, zero_row, out_planes, error))
    return NULL;
  return g_steal_pointer (&out);
}

/* LDM's Downsample with a convolution: pad right and bottom by one, then 3×3 at stride 2. */
static LkTensor *
downsample_forward (LkArena   *arena,
                    LkStream  *stream,
                    LkTensor  *x,
                    LkTensor  *w,
                    LkTensor  *b,
                    GError   **error)
{
  LkConv2dOptions options = { 2, 0 };
  g_autoptr(LkTensor) padded = NULL, y = NULL;

  if ((padded = pad_right_bottom (arena, stream, x, error)) == NULL ||
      (y = arena_tensor (arena, 4, x->shape[0], w->shape[0], x->shape[2] / 2, x->shape[3] / 2,
                         error)) == NULL ||
      !lk_op_conv2d (stream, padded, w, b, y, &options, error))
    return NULL;
  return g_steal_pointer (&y);
}

/* LDM's Upsample with a convolution: nearest ×2, then 3×3. */
static LkTensor *
upsample_forward (LkArena   *arena,
                  LkStream  *stream,
                  LkTensor  *x,
                  LkTensor  *w,
                  LkTensor  *b,
                  GError   **error)
{
  g_autoptr(LkTensor) up = arena_tensor (arena, 4, x->shape[0], x->shape[1], 2 * x->shape[2],
                                         2 * x->shape[3], error);

  if (up == NULL || !lk_op_upsample_nearest2x (stream, x, up, error))
    return NULL;
  return lk_graph_conv2d (arena, stream, up, w, b, 1, error);
}

static gboolean
check_input (const char  *what,
             LkTensor    *x,
             gint64       channels,
             gint64       multiple,
             GError     **error)
{
  if (x->ndim != 4 || x->shape[0] < 1 || x->shape[1] != channels || x->shape[2] < 1 ||
      x->shape[3] < 1 || x->shape[2] % multiple != 0 || x->shape[3] % multiple != 0)
    {
      g_autofree char *dx = lk_tensor_describe (x);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "vae %s: input %s where it must be [B, %" G_GINT64_FORMAT ", h, w] with h and "
                   "w multiples of %" G_GINT64_FORMAT, what, dx, channels, multiple);
      return FALSE;
    }
  return TRUE;
}

/* The whole image at once; the input is checked. */
static LkTensor *
encode_whole (LkVae     *self,
              LkStream  *stream,
              LkTensor  *image,
              GError   **error)
{
  g_autoptr(LkArena) arena = NULL;
  g_autoptr(LkTensor) h = NULL, quant_w = NULL, quant_b = NULL, mean = NULL;
  gint64 mean_w_shape[4] = { Z_CHANNELS, 2 * Z_CHANNELS, 1, 1 }, mean_b_shape[1] = { Z_CHANNELS };

  /* The arena lives as long as the tensors drawn from it: the returned one keeps it. */
  arena = lk_arena_new (lk_stream_get_context (stream));
  if ((h = lk_graph_conv2d (arena, stream, image, self->enc_in_w, self->enc_in_b, 1,
                            error)) == NULL)
    return NULL;
  for (guint level = 0; level < N_LEVELS; level++)
    {
      for (guint r = 0; r < N_ENC_BLOCKS; r++)
        if (!step (&h, res_block_forward (&self->down[level][r], arena, stream, h, error)))
          return NULL;
      if (level < N_LEVELS - 1 &&
          !step (&h, downsample_forward (arena, stream, h, self->down_w[level],
                                         self->down_b[level], error)))
        return NULL;
    }
  if (!step (&h, mid_forward (&self->enc_mid, arena, stream, h, error)) ||
      !step (&h, lk_graph_group_norm_to (arena, stream, h, self->enc_norm_w, self->enc_norm_b,
                                         GROUPS, NORM_EPS, TRUE, LK_DTYPE_F16, error)) ||
      !step (&h, lk_graph_conv2d (arena, stream, h, self->enc_out_w, self->enc_out_b, 1, error)))
    return NULL;

  /* quant_conv gives the mean in its first four output channels and the log-variance in the
   * others: only the first rows of its weight and bias are needed. */
  quant_w = lk_tensor_view (self->quant_w, 4, mean_w_shape, 0);
  quant_b = lk_tensor_view (self->quant_b, 1, mean_b_shape, 0);
  if ((mean = lk_graph_conv2d (arena, stream, h, quant_w, quant_b, 1, error)) == NULL)
    return NULL;
  g_clear_pointer (&h, lk_tensor_unref);
  if (!lk_op_scale (stream, mean, LK_VAE_SCALE_FACTOR, mean, error))
    return NULL;
  return g_steal_pointer (&mean);
}

/* The whole latent at once; the input is checked. */
static LkTensor *
decode_whole (LkVae     *self,
              LkStream  *stream,
              LkTensor  *latent,
              GError   **error)
{
  g_autoptr(LkArena) arena = NULL;
  g_autoptr(LkTensor) h = NULL;

  arena = lk_arena_new (lk_stream_get_context (stream));
  if ((h = arena_tensor (arena, 4, latent->shape[0], Z_CHANNELS, latent->shape[2],
                         latent->shape[3], error)) == NULL ||
      !lk_op_scale (stream, latent, 1.0f / LK_VAE_SCALE_FACTOR, h, error) ||
      !step (&h, lk_graph_conv2d (arena, stream, h, self->post_quant_w, self->post_quant_b, 1,
                                  error)) ||
      !step (&h, lk_graph_conv2d (arena, stream, h, self->dec_in_w, self->dec_in_b, 1, error)) ||
      !step (&h, mid_forward (&self->dec_mid, arena, stream, h, error)))
    return NULL;
  for (guint level = N_LEVELS; level-- > 0;)
    {
      for (guint r = 0; r < N_DEC_BLOCKS; r++)
        if (!step (&h, res_block_forward (&self->up[level][r], arena, stream, h, error)))
          return NULL;
      if (level > 0 &&
          !step (&h, upsample_forward (arena, stream, h, self->up_w[level], self->up_b[level],
                                       error)))
        return NULL;
    }
  if (!step (&h, lk_graph_group_norm_to (arena, stream, h, self->dec_norm_w, self->dec_norm_b,
                                         GROUPS, NORM_EPS, TRUE, LK_DTYPE_F16, error)) ||
      !step (&h, lk_graph_conv2d (arena, stream, h, self->dec_out_w, self->dec_out_b, 1, error)))
    return NULL;
  return g_steal_pointer (&h);
}

/* Tiling */

/* Where the tiles of one axis start, in latent positions: as few as cover @length with
 * overlaps of at least @overlap, spread evenly. Returns how many (at most @length). */
static guint *
tile_starts (guint  length,
             guint  tile,
             guint  overlap,
             guint *n_tiles)
{
  guint n, *starts;

  if (length <= tile)
    {
      *n_tiles = 1;
      return g_new0 (guint, 1);
    }
  n = (length - tile + (tile - overlap) - 1) / (tile - overlap) + 1;
  starts = g_new (guint, n);
  for (guint i = 0; i < n; i++)
    starts[i] = ((guint64) i * (length - tile) + (n - 1) / 2) / (n - 1);
  *n_tiles = n;
  return starts;
}

/* The blending weight of each of a tile's @size output positions along one axis: 1 inside,
 * falling linearly towards 0 across the overlap with the previous tile (which ends at
 * @prev_end, or 0 for none) and with the next one (which starts at @next_start, or the axis'
 * end for none). Positions are output units, the tile covering [start, start + size). Two
 * neighbours' ramps over one overlap sum to 1; the caller divides by the sum anyway, which also
 * covers spots where three tiles meet. */
static void
tile_weights (guint   start,
              guint   size,
              guint   prev_end,
              guint   next_start,
              float  *weights)
{
  guint end = start + size;

  for (guint p = start; p < end; p++)
    {
      double w = 1;

      if (prev_end > start && p < prev_end)
        w *= (p - start + 0.5) / (prev_end - start);
      if (next_start < end && p >= next_start)
        w *= (end - p - 0.5) / (end - next_start);
      weights[p - start] = w;
    }
}

/* Runs encode_whole or decode_whole on overlapping tiles and blends their outputs on the host.
 * Positions are counted in latent units; an image has 8 pixels per unit. */
static LkTensor *
run_tiled (LkVae              *self,
           LkStream           *stream,
           LkTensor           *input,
           gboolean            encode,
           const LkVaeTiling  *tiling,
           GError            **error)
{
  const guint down = 1 << (N_LEVELS - 1);
  guint in_scale = encode ? down : 1, out_scale = encode ? 1 : down;
  guint out_channels = encode ? Z_CHANNELS : IMAGE_CHANNELS;
  gint64 batch = input->shape[0], in_channels = input->shape[1];
  guint lh = input->shape[2] / in_scale, lw = input->shape[3] / in_scale;
  gsize in_h = input->shape[2], in_w = input->shape[3];
  gsize out_h = (gsize) lh * out_scale, out_w = (gsize) lw * out_scale;
  guint tile_h = MIN (tiling->tile, lh), tile_w = MIN (tiling->tile, lw);
  guint n_y, n_x;
  g_autofree guint *ys = tile_starts (lh, tiling->tile, tiling->overlap, &n_y);
  g_autofree guint *xs = tile_starts (lw, tiling->tile, tiling->overlap, &n_x);
  g_autofree float *host_in = g_new (float, lk_tensor_numel (input));
  g_autofree float *sum = g_new0 (float, batch * out_channels * out_h * out_w);
  g_autofree float *weight_sum = g_new0 (float, out_h * out_w);
  g_autofree float *tile_in = g_new (float, batch * in_channels * (gsize) tile_h * in_scale *
                                            tile_w * in_scale);
  g_autofree float *tile_out = g_new (float, batch * out_channels * (gsize) tile_h * out_scale *
                                             tile_w * out_scale);
  g_autofree float *wy = g_new (float, tile_h * out_scale);
  g_autofree float *wx = g_new (float, tile_w * out_scale);
  g_autoptr(LkTensor) result = NULL;
  LkContext *context = lk_stream_get_context (stream);

  if (!lk_tensor_download_f32 (input, stream, host_in, error))
    return NULL;

  for (guint iy = 0; iy < n_y; iy++)
    for (guint ix = 0; ix < n_x; ix++)
      {
        gsize th = (gsize) tile_h * in_scale, tw = (gsize) tile_w * in_scale;
        gsize oh = (gsize) tile_h * out_scale, ow = (gsize) tile_w * out_scale;
        gsize y0 = (gsize) ys[iy] * in_scale, x0 = (gsize) xs[ix] * in_scale;
        gsize oy0 = (gsize) ys[iy] * out_scale, ox0 = (gsize) xs[ix] * out_scale;
        gint64 tile_shape[4] = { batch, in_channels, th, tw };
        g_autoptr(LkTensor) t = NULL, y = NULL;

        for (gint64 plane = 0; plane < batch * in_channels; plane++)
          for (gsize r = 0; r < th; r++)
            memcpy (tile_in + (plane * th + r) * tw, host_in + (plane * in_h + y0 + r) * in_w + x0,
                    tw * sizeof (float));
        if ((t = lk_tensor_new (context, LK_DTYPE_F32, 4, tile_shape, error)) == NULL ||
            !lk_tensor_upload_f32 (t, stream, tile_in, error) ||
            (y = encode ? encode_whole (self, stream, t, error)
                        : decode_whole (self, stream, t, error)) == NULL ||
            !lk_tensor_download_f32 (y, stream, tile_out, error))
          return NULL;

        tile_weights (oy0, oh, iy > 0 ? (ys[iy - 1] + tile_h) * out_scale : 0,
                      iy + 1 < n_y ? ys[iy + 1] * out_scale : out_h, wy);
        tile_weights (ox0, ow, ix > 0 ? (xs[ix - 1] + tile_w) * out_scale : 0,
                      ix + 1 < n_x ? xs[ix + 1] * out_scale : out_w, wx);
        for (gsize r = 0; r < oh; r++)
          for (gsize c = 0; c < ow; c++)
            weight_sum[(oy0 + r) * out_w + ox0 + c] += wy[r] * wx[c];
        for (gint64 plane = 0; plane < batch * out_channels; plane++)
          for (gsize r = 0; r < oh; r++)
            {
              float *dst = sum + (plane * out_h + oy0 + r) * out_w + ox0;
              const float *src = tile_out + (plane * oh + r) * ow;

              for (gsize c = 0; c < ow; c++)
                dst[c] += wy[r] * wx[c] * src[c];
            }
      }

  for (gint64 plane = 0; plane < batch * out_channels; plane++)
    for (gsize i = 0; i < out_h * out_w; i++)
      sum[plane * out_h * out_w + i] /= weight_sum[i];
  {
    gint64 out_shape[4] = { batch, out_channels, out_h, out_w };

    if ((result = lk_tensor_new (context, LK_DTYPE_F32, 4, out_shape, error)) == NULL ||
        !lk_tensor_upload_f32 (result, stream, sum, error))
      return NULL;
  }
  return g_steal_pointer (&result);
}

static gboolean
tiling_is_valid (const LkVaeTiling  *tiling,
                 GError            **error)
{
  if (tiling->tile < 8 || tiling->overlap >= tiling->tile / 2)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "vae tiling: tiles of %u with an overlap of %u where tiles must be at least 8 "
                   "and overlap by less than half", tiling->tile, tiling->overlap);
      return FALSE;
    }
  return TRUE;
}

static gboolean
wants_tiles (LkVae  *self,
             gint64  h,
             gint64  w)
{
  return self->tiling.max_area > 0 && h * w > (gint64) self->tiling.max_area &&
         (h > self->tiling.tile || w > self->tiling.tile);
}

LkTensor *
lk_vae_encode (LkVae     *self,
               LkStream  *stream,
               LkTensor  *image,
               GError   **error)
{
  const gint64 down = 1 << (N_LEVELS - 1);

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (image != NULL, NULL);

  if (!check_input ("encode", image, IMAGE_CHANNELS, down, error))
    return NULL;
  if (wants_tiles (self, image->shape[2] / down, image->shape[3] / down))
    return run_tiled (self, stream, image, TRUE, &self->tiling, error);
  return encode_whole (self, stream, image, error);
}

LkTensor *
lk_vae_decode (LkVae     *self,
               LkStream  *stream,
               LkTensor  *latent,
               GError   **error)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (latent != NULL, NULL);

  if (!check_input ("decode", latent, Z_CHANNELS, 1, error))
    return NULL;
  if (wants_tiles (self, latent->shape[2], latent->shape[3]))
    return run_tiled (self, stream, latent, FALSE, &self->tiling, error);
  return decode_whole (self, stream, latent, error);
}

LkTensor *
lk_vae_encode_tiled (LkVae              *self,
                     LkStream           *stream,
                     LkTensor           *image,
                     const LkVaeTiling  *tiling,
                     GError            **error)
{
  g_return_val_if_fail (self != NULL && stream != NULL && image != NULL && tiling != NULL, NULL);

  if (!check_input ("encode", image, IMAGE_CHANNELS, 1 << (N_LEVELS - 1), error) ||
      !tiling_is_valid (tiling, error))
    return NULL;
  return run_tiled (self, stream, image, TRUE, tiling, error);
}

LkTensor *
lk_vae_decode_tiled (LkVae              *self,
                     LkStream           *stream,
                     LkTensor           *latent,
                     const LkVaeTiling  *tiling,
                     GError            **error)
{
  g_return_val_if_fail (self != NULL && stream != NULL && latent != NULL && tiling != NULL, NULL);

  if (!check_input ("decode", latent, Z_CHANNELS, 1, error) || !tiling_is_valid (tiling, error))
    return NULL;
  return run_tiled (self, stream, latent, FALSE, tiling, error);
}
