/* lk-unet-train.c: LoRA training of the SD1.x UNet — forward, backward, one optimizer step
 *
 * The training forward runs the UNet block by block as lk-unet.c does, but keeps, per block,
 * the inputs each backward op needs (the backward ops recompute norm statistics and attention
 * scores themselves). With checkpointing, a block keeps only its input after its forward and
 * runs the forward again just before its backward, so at most one block's activations live
 * beside the skip connections. The ops are deterministic, so the recomputed activations, and
 * the gradients, are the same bits either way.
 *
 * proj_in and proj_out are 1×1 convolutions that the forward runs as GEMMs moving between the
 * planar [B, C, H·W] and token [B, H·W, C] layouts; their LoRA is done here with the same
 * transposed GEMMs, on the layer's A and B seen as [r, C] and [C, r].
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-train"

#include "config.h"

#include <math.h>

#include "lk-lora-step.h"
#include "lk-schedule.h"
#include "lk-unet-private.h"
#include "lk-unet-train.h"

#define GROUPS           32
#define HEADS            8
#define RES_NORM_EPS     1e-5f
#define SPATIAL_NORM_EPS 1e-6f
#define LAYER_NORM_EPS   1e-5f

/* The LoRA targets of one transformer, in the order of lk_unet_trainer_get_names(). */
enum
{
  L_PROJ_IN,
  L_Q1, L_K1, L_V1, L_O1,
  L_Q2, L_K2, L_V2, L_O2,
  L_FF1, L_FF2,
  L_PROJ_OUT,
  N_TARGETS
};

static const char *const target_names[N_TARGETS] = {
  "proj_in",
  "transformer_blocks.0.attn1.to_q", "transformer_blocks.0.attn1.to_k",
  "transformer_blocks.0.attn1.to_v", "transformer_blocks.0.attn1.to_out.0",
  "transformer_blocks.0.attn2.to_q", "transformer_blocks.0.attn2.to_k",
  "transformer_blocks.0.attn2.to_v", "transformer_blocks.0.attn2.to_out.0",
  "transformer_blocks.0.ff.net.0.proj", "transformer_blocks.0.ff.net.2",
  "proj_out",
};

/* Every block the forward runs after conv_in: input blocks 1 … 11, the middle block's ResBlock
 * and transformer, its last ResBlock, then the 12 output blocks. */
#define SLOT_MIDDLE      LK_UNET_N_INPUT_BLOCKS
#define SLOT_MIDDLE_RES  (SLOT_MIDDLE + 1)
#define SLOT_OUTPUT(i)   (SLOT_MIDDLE_RES + 1 + (i))
#define N_SLOTS          SLOT_OUTPUT (LK_UNET_N_OUTPUT_BLOCKS)

typedef struct
{
  LkTensor *x, *h, *h2, *h3;
} ResSaved;

typedef struct
{
  LkTensor *x, *n, *h, *n1, *q1, *k1, *v1, *o1, *h1, *n2, *q2, *k2, *v2, *o2, *h2;
  LkTensor *n3, *f1, *g, *h3;
} AttnSaved;

typedef struct
{
  LkTensor  *input;   /* kept through the backward */
  ResSaved   res;
  AttnSaved  attn;
  LkTensor  *up;      /* the upsampled input of the up convolution */
} BlockState;

struct _LkUnetTrainer
{
  LkUnet              *unet;
  LkUnetBlock          slots[N_SLOTS];   /* shallow copies: the tensors stay the UNet's */
  LkLoraLayer        **lora[N_SLOTS];    /* N_TARGETS layers for a slot with a transformer */
  GPtrArray           *layers;           /* LkLoraLayer *, owned */
  GPtrArray           *names;            /* char *, NULL-terminated */
  LkUnetTrainOptions   options;
  LkTrainState         state;
  LkSchedule          *schedule;
};

/* The step's working set: one arena for every activation and gradient. */
typedef struct
{
  LkUnetTrainer *self;
  LkArena       *arena;
  LkStream      *stream;
  LkTensor      *emb;
  LkTensor      *context;
  LkTensor      *d_context;      /* f32, or NULL when not wanted */
  gboolean       d_context_set;  /* written by a first cross-attention already */
  LkDType        act;            /* activations and their gradients */
  GError       **error;
} Run;

static LkTensor *
new_f32 (Run          *run,
         guint         ndim,
         const gint64 *shape)
{
  return lk_arena_tensor (run->arena, LK_DTYPE_F32, ndim, shape, run->error);
}

static LkTensor *
new_act (Run          *run,
         guint         ndim,
         const gint64 *shape)
{
  return lk_arena_tensor (run->arena, run->act, ndim, shape, run->error);
}

static LkTensor *
new_like (Run      *run,
          LkTensor *t)
{
  return new_act (run, t->ndim, t->shape);
}

/* The gradient of t. */
static LkTensor *
new_grad (Run      *run,
          LkTensor *t)
{
  return new_act (run, t->ndim, t->shape);
}

/* a + b (b broadcast), in the activations' dtype. */
static LkTensor *
add (Run      *run,
     LkTensor *a,
     LkTensor *b)
{
  g_autoptr(LkTensor) y = new_act (run, a->ndim, a->shape);

  if (y == NULL || !lk_op_add (run->stream, a, b, y, run->error))
    return NULL;
  return g_steal_pointer (&y);
}

/* A frozen convolution's forward, its output in the activations' dtype. */
static LkTensor *
conv (Run      *run,
      LkTensor *x,
      LkTensor *w,
      LkTensor *b,
      guint     stride)
{
  gint64 k = w->shape[2], padding = k == 3 ? 1 : 0;
  LkConv2dOptions o = { stride, padding };
  g_autoptr(LkTensor) y = new_act (run, 4, (gint64[]) {
    x->shape[0], w->shape[0], (x->shape[2] + 2 * padding - k) / stride + 1,
    (x->shape[3] + 2 * padding - k) / stride + 1 });

  if (y == NULL || !lk_op_conv2d (run->stream, x, w, b, y, &o, run->error))
    return NULL;
  return g_steal_pointer (&y);
}

static LkTensor *
group_norm (Run      *run,
            LkTensor *x,
            LkTensor *w,
            LkTensor *b,
            float     eps,
            gboolean  silu)
{
  return lk_graph_group_norm_to (run->arena, run->stream, x, w, b, GROUPS, eps, silu, run->act,
                                 run->error);
}

static LkTensor *
layer_norm (Run      *run,
            LkTensor *x,
            LkTensor *w,
            LkTensor *b)
{
  return lk_graph_layer_norm_to (run->arena, run->stream, x, w, b, LAYER_NORM_EPS, run->act,
                                 run->error);
}

static LkTensor *
view2 (LkTensor *t,
       gint64    d0,
       gint64    d1,
       gint64    offset)
{
  return lk_tensor_view (t, 2, (gint64[]) { d0, d1 }, offset);
}

/* *acc += g, or *acc = g when empty. Takes g. */
static gboolean
accumulate (Run       *run,
            LkTensor **acc,
            LkTensor  *g)
{
  LkTensor *sum;

  if (g == NULL)
    return FALSE;
  if (*acc == NULL)
    {
      *acc = g;
      return TRUE;
    }
  if ((sum = new_grad (run, *acc)) != NULL &&
      !lk_op_add (run->stream, *acc, g, sum, run->error))
    g_clear_pointer (&sum, lk_tensor_unref);
  lk_tensor_unref (g);
  if (sum == NULL)
    return FALSE;
  lk_tensor_unref (*acc);
  *acc = sum;
  return TRUE;
}

/* dx of a frozen convolution. */
static LkTensor *
conv_dx (Run      *run,
         LkTensor *x,
         LkTensor *w,
         LkTensor *dy,
         guint     stride)
{
  g_autoptr(LkTensor) dx = new_grad (run, x);
  LkConv2dOptions o = { stride, w->shape[2] == 3 ? 1 : 0 };

  if (dx == NULL || !lk_op_conv2d_backward (run->stream, x, w, dy, dx, NULL, NULL, &o, run->error))
    return NULL;
  return g_steal_pointer (&dx);
}

static LkTensor *
group_norm_dx (Run      *run,
               LkTensor *x,
               LkTensor *w,
               LkTensor *b,
               LkTensor *dy,
               float     eps,
               gboolean  silu)
{
  g_autoptr(LkTensor) dx = new_grad (run, x);

  if (dx == NULL || !lk_op_group_norm_backward (run->stream, x, w, b, dy, dx, NULL, NULL, GROUPS,
                                                eps, silu, run->error))
    return NULL;
  return g_steal_pointer (&dx);
}

static LkTensor *
layer_norm_dx (Run      *run,
               LkTensor *x,
               LkTensor *w,
               LkTensor *dy)
{
  g_autoptr(LkTensor) dx = new_grad (run, x);

  if (dx == NULL || !lk_op_layer_norm_backward (run->stream, x, w, dy, dx, NULL, NULL,
                                                LAYER_NORM_EPS, run->error))
    return NULL;
  return g_steal_pointer (&dx);
}

static void
res_saved_clear (ResSaved *s)
{
  g_clear_pointer (&s->x, lk_tensor_unref);
  g_clear_pointer (&s->h, lk_tensor_unref);
  g_clear_pointer (&s->h2, lk_tensor_unref);
  g_clear_pointer (&s->h3, lk_tensor_unref);
}

static void
attn_saved_clear (AttnSaved *s)
{
  LkTensor **all = (LkTensor **) s;

  for (gsize i = 0; i < sizeof *s / sizeof (LkTensor *); i++)
    g_clear_pointer (&all[i], lk_tensor_unref);
}

static void
block_state_clear_saved (BlockState *state)
{
  res_saved_clear (&state->res);
  attn_saved_clear (&state->attn);
  g_clear_pointer (&state->up, lk_tensor_unref);
}

/* ResBlock: out = skip(x) + conv(GN·SiLU(conv(GN·SiLU(x)) + emb_proj)). */
static LkTensor *
res_forward (Run                  *run,
             const LkUnetResBlock *res,
             LkTensor             *x,
             ResSaved             *s)
{
  g_autoptr(LkTensor) h1 = NULL, e = NULL, e4 = NULL, h4 = NULL, skip = NULL;

  s->x = lk_tensor_ref (x);
  if ((s->h = group_norm (run, x, res->in_norm_w, res->in_norm_b, RES_NORM_EPS, TRUE)) == NULL ||
      (h1 = conv (run, s->h, res->in_conv_w, res->in_conv_b, 1)) == NULL ||
      (e = lk_graph_linear (run->arena, run->stream, run->emb, res->emb_w, res->emb_b,
                            run->error)) == NULL)
    return NULL;
  e4 = lk_tensor_view (e, 4, (gint64[]) { e->shape[0], e->shape[1], 1, 1 }, 0);
  if ((s->h2 = add (run, h1, e4)) == NULL ||
      (s->h3 = group_norm (run, s->h2, res->out_norm_w, res->out_norm_b, RES_NORM_EPS,
                           TRUE)) == NULL ||
      (h4 = conv (run, s->h3, res->out_conv_w, res->out_conv_b, 1)) == NULL)
    return NULL;
  if (res->skip_w != NULL)
    skip = conv (run, x, res->skip_w, res->skip_b, 1);
  else
    skip = lk_tensor_ref (x);
  if (skip == NULL)
    return NULL;
  return add (run, skip, h4);
}

/* The time embedding's branch gets no gradient: nothing before it is trained. */
static LkTensor *
res_backward (Run                  *run,
              const LkUnetResBlock *res,
              ResSaved             *s,
              LkTensor             *dout)
{
  g_autoptr(LkTensor) dh3 = NULL, dh2 = NULL, dh = NULL, dx = NULL;

  if ((dh3 = conv_dx (run, s->h3, res->out_conv_w, dout, 1)) == NULL ||
      (dh2 = group_norm_dx (run, s->h2, res->out_norm_w, res->out_norm_b, dh3, RES_NORM_EPS,
                            TRUE)) == NULL)
    return NULL;
  g_clear_pointer (&dh3, lk_tensor_unref);
  if ((dh = conv_dx (run, s->h, res->in_conv_w, dh2, 1)) == NULL)
    return NULL;
  g_clear_pointer (&dh2, lk_tensor_unref);
  if ((dx = group_norm_dx (run, s->x, res->in_norm_w, res->in_norm_b, dh, RES_NORM_EPS,
                           TRUE)) == NULL)
    return NULL;
  g_clear_pointer (&dh, lk_tensor_unref);
  if (!accumulate (run, &dx, res->skip_w != NULL ? conv_dx (run, s->x, res->skip_w, dout, 1)
                                                 : lk_tensor_ref (dout)))
    return NULL;
  return g_steal_pointer (&dx);
}

/* A Linear with its LoRA: x [..., in] → [..., out]. */
static LkTensor *
lora_linear (Run         *run,
             LkLoraLayer *layer,
             LkTensor    *x,
             gint64       out)
{
  gint64 shape[4];
  g_autoptr(LkTensor) y = NULL;

  memcpy (shape, x->shape, x->ndim * sizeof (gint64));
  shape[x->ndim - 1] = out;
  if ((y = new_act (run, x->ndim, shape)) == NULL ||
      !lk_lora_layer_forward (layer, run->stream, x, y, run->error))
    return NULL;
  return g_steal_pointer (&y);
}

/* Its backward: the layer's gradients, and a new dx when @dx is not NULL. */
static gboolean
lora_linear_backward (Run          *run,
                      LkLoraLayer  *layer,
                      LkTensor     *x,
                      LkTensor     *dy,
                      LkTensor    **dx)
{
  if (dx != NULL && (*dx = new_grad (run, x)) == NULL)
    return FALSE;
  return lk_lora_layer_backward (layer, run->stream, x, dy, dx != NULL ? *dx : NULL, run->error);
}

static float
head_scale (LkTensor *q)
{
  return 1.0f / sqrtf ((float) (q->shape[q->ndim - 1] / HEADS));
}

/* proj_in with its LoRA: n planar [B, C, H·W] → tokens [B, H·W, C]. */
static LkTensor *
proj_in_hidden (Run         *run,
                LkLoraLayer *layer,
                LkTensor    *planar)
{
  g_autoptr(LkTensor) hid = new_f32 (run, 3, (gint64[]) { planar->shape[0], planar->shape[2],
                                                          lk_lora_layer_get_rank (layer) });
  LkGemmOptions o = { TRUE, TRUE, lk_lora_layer_get_scale (layer) };

  if (hid == NULL || !lk_op_gemm (run->stream, planar, lk_lora_layer_get_down (layer), NULL, hid,
                                  &o, run->error))
    return NULL;
  return g_steal_pointer (&hid);
}

static LkTensor *
proj_in_forward (Run                     *run,
                 const LkUnetTransformer *t,
                 LkLoraLayer             *layer,
                 LkTensor                *planar)
{
  gint64 shape[3] = { planar->shape[0], planar->shape[2], planar->shape[1] };
  g_autoptr(LkTensor) base = NULL, hid = NULL, delta = NULL;

  if ((base = new_f32 (run, 3, shape)) == NULL ||
      !lk_op_gemm (run->stream, planar, t->proj_in_w, t->proj_in_b, base,
                   &(LkGemmOptions) { TRUE, TRUE, 1.0f }, run->error) ||
      (hid = proj_in_hidden (run, layer, planar)) == NULL ||
      (delta = new_f32 (run, 3, shape)) == NULL ||
      !lk_op_gemm (run->stream, hid, lk_lora_layer_get_up (layer), NULL, delta,
                   &(LkGemmOptions) { FALSE, TRUE, 1.0f }, run->error))
    return NULL;
  return add (run, base, delta);
}

/* dh tokens [B, H·W, C] → d planar [B, C, H·W], and the layer's gradients. */
static LkTensor *
proj_in_backward (Run                     *run,
                  const LkUnetTransformer *t,
                  LkLoraLayer             *layer,
                  LkTensor                *planar,
                  LkTensor                *dh)
{
  gint64 batch = planar->shape[0], c = planar->shape[1], hw = planar->shape[2];
  gint64 r = lk_lora_layer_get_rank (layer);
  LkTensor *down = lk_lora_layer_get_down (layer), *up = lk_lora_layer_get_up (layer);
  g_autoptr(LkTensor) hid = NULL, dhid = NULL, dplanar = NULL, dh2 = NULL, hid2 = NULL;

  if ((hid = proj_in_hidden (run, layer, planar)) == NULL ||
      (dhid = new_f32 (run, 2, (gint64[]) { batch * hw, r })) == NULL ||
      (dplanar = new_grad (run, planar)) == NULL)
    return NULL;
  dh2 = view2 (dh, batch * hw, c, 0);
  hid2 = view2 (hid, batch * hw, r, 0);
  /* dB [C, r] = dhᵀ hid; dhid = (α / r) · dh B */
  if (!lk_op_gemm (run->stream, dh2, hid2, NULL, lk_lora_layer_get_up_grad (layer),
                   &(LkGemmOptions) { TRUE, FALSE, 1.0f }, run->error) ||
      !lk_op_gemm (run->stream, dh2, up, NULL, dhid,
                   &(LkGemmOptions) { FALSE, FALSE, lk_lora_layer_get_scale (layer) },
                   run->error))
    return NULL;
  for (gint64 b = 0; b < batch; b++)
    {
      g_autoptr(LkTensor) dhid_b = view2 (dhid, hw, r, b * hw * r);
      g_autoptr(LkTensor) planar_b = view2 (planar, c, hw, b * c * hw);
      g_autoptr(LkTensor) dh_b = view2 (dh, hw, c, b * hw * c);
      g_autoptr(LkTensor) dplanar_b = view2 (dplanar, c, hw, b * c * hw);
      g_autoptr(LkTensor) base = new_f32 (run, 2, (gint64[]) { c, hw });
      g_autoptr(LkTensor) lora = new_f32 (run, 2, (gint64[]) { c, hw });
      LkGemmOptions tt = { TRUE, TRUE, 1.0f };

      /* dA [r, C] = Σ_b dhid[b]ᵀ planar[b]ᵀ */
      if (b == 0)
        {
          if (!lk_op_gemm (run->stream, dhid_b, planar_b, NULL,
                           lk_lora_layer_get_down_grad (layer), &tt, run->error))
            return NULL;
        }
      else
        {
          g_autoptr(LkTensor) part = new_f32 (run, 2, (gint64[]) { r, c });
          LkTensor *grad = lk_lora_layer_get_down_grad (layer);

          if (part == NULL || !lk_op_gemm (run->stream, dhid_b, planar_b, NULL, part, &tt,
                                           run->error) ||
              !lk_op_add (run->stream, grad, part, grad, run->error))
            return NULL;
        }
      /* d planar[b] = Wᵀ dh[b]ᵀ + Aᵀ dhid[b]ᵀ */
      if (base == NULL || lora == NULL ||
          !lk_op_gemm (run->stream, t->proj_in_w, dh_b, NULL, base, &tt, run->error) ||
          !lk_op_gemm (run->stream, down, dhid_b, NULL, lora, &tt, run->error) ||
          !lk_op_add (run->stream, base, lora, dplanar_b, run->error))
        return NULL;
    }
  return g_steal_pointer (&dplanar);
}

/* hidᵀ [B, H·W, r] = (α / r) · tokens Aᵀ */
static LkTensor *
proj_out_hidden (Run         *run,
                 LkLoraLayer *layer,
                 LkTensor    *tokens)
{
  g_autoptr(LkTensor) hid = new_f32 (run, 3, (gint64[]) { tokens->shape[0], tokens->shape[1],
                                                          lk_lora_layer_get_rank (layer) });
  LkGemmOptions o = { FALSE, TRUE, lk_lora_layer_get_scale (layer) };

  if (hid == NULL || !lk_op_gemm (run->stream, tokens, lk_lora_layer_get_down (layer), NULL, hid,
                                  &o, run->error))
    return NULL;
  return g_steal_pointer (&hid);
}

/* proj_out with its LoRA, tokens [B, H·W, C] → planar [B, C, H, W] plus bias; one GEMM per batch
 * entry since only the right operand may be shared between batches. */
static LkTensor *
proj_out_forward (Run                     *run,
                  const LkUnetTransformer *t,
                  LkLoraLayer             *layer,
                  LkTensor                *tokens,
                  const gint64            *planar_shape)
{
  gint64 batch = tokens->shape[0], hw = tokens->shape[1], c = tokens->shape[2];
  gint64 r = lk_lora_layer_get_rank (layer);
  g_autoptr(LkTensor) out = NULL, hid = NULL;

  if ((out = new_act (run, 4, planar_shape)) == NULL ||
      (hid = proj_out_hidden (run, layer, tokens)) == NULL)
    return NULL;
  for (gint64 b = 0; b < batch; b++)
    {
      g_autoptr(LkTensor) tokens_b = view2 (tokens, hw, c, b * hw * c);
      g_autoptr(LkTensor) hid_b = view2 (hid, hw, r, b * hw * r);
      g_autoptr(LkTensor) out_b = view2 (out, c, hw, b * c * hw);
      g_autoptr(LkTensor) base = new_f32 (run, 2, (gint64[]) { c, hw });
      g_autoptr(LkTensor) delta = new_f32 (run, 2, (gint64[]) { c, hw });
      LkGemmOptions nt = { FALSE, TRUE, 1.0f };

      if (base == NULL || delta == NULL ||
          !lk_op_gemm (run->stream, t->proj_out_w, tokens_b, NULL, base, &nt, run->error) ||
          !lk_op_gemm (run->stream, lk_lora_layer_get_up (layer), hid_b, NULL, delta, &nt,
                       run->error) ||
          !lk_op_add (run->stream, base, delta, out_b, run->error))
        return NULL;
    }
  return add (run, out, t->proj_out_b);
}

/* dout planar [B, C, H, W] → d tokens [B, H·W, C], and the layer's gradients. */
static LkTensor *
proj_out_backward (Run                     *run,
                   const LkUnetTransformer *t,
                   LkLoraLayer             *layer,
                   LkTensor                *tokens,
                   LkTensor                *dout)
{
  gint64 batch = tokens->shape[0], hw = tokens->shape[1], c = tokens->shape[2];
  gint64 r = lk_lora_layer_get_rank (layer);
  LkTensor *up = lk_lora_layer_get_up (layer), *up_grad = lk_lora_layer_get_up_grad (layer);
  g_autoptr(LkTensor) hid = NULL, dhid = NULL, dtokens = NULL, dlora = NULL;
  g_autoptr(LkTensor) dhid2 = NULL, tokens2 = NULL, dlora2 = NULL;

  if ((hid = proj_out_hidden (run, layer, tokens)) == NULL ||
      (dhid = new_f32 (run, hid->ndim, hid->shape)) == NULL ||
      (dtokens = new_grad (run, tokens)) == NULL)
    return NULL;
  for (gint64 b = 0; b < batch; b++)
    {
      g_autoptr(LkTensor) dout_b = view2 (dout, c, hw, b * c * hw);
      g_autoptr(LkTensor) hid_b = view2 (hid, hw, r, b * hw * r);
      g_autoptr(LkTensor) dhid_b = view2 (dhid, hw, r, b * hw * r);
      g_autoptr(LkTensor) dtokens_b = view2 (dtokens, hw, c, b * hw * c);

      /* d tokens[b] = dout[b]ᵀ W; dhid[b] = (α / r) · dout[b]ᵀ B; dB = Σ_b dout[b] hid[b] */
      if (!lk_op_gemm (run->stream, dout_b, t->proj_out_w, NULL, dtokens_b,
                       &(LkGemmOptions) { TRUE, FALSE, 1.0f }, run->error) ||
          !lk_op_gemm (run->stream, dout_b, up, NULL, dhid_b,
                       &(LkGemmOptions) { TRUE, FALSE, lk_lora_layer_get_scale (layer) },
                       run->error))
        return NULL;
      if (b == 0)
        {
          if (!lk_op_gemm (run->stream, dout_b, hid_b, NULL, up_grad, &LK_GEMM_OPTIONS_DEFAULT,
                           run->error))
            return NULL;
        }
      else
        {
          g_autoptr(LkTensor) part = new_f32 (run, 2, (gint64[]) { c, r });

          if (part == NULL ||
              !lk_op_gemm (run->stream, dout_b, hid_b, NULL, part, &LK_GEMM_OPTIONS_DEFAULT,
                           run->error) ||
              !lk_op_add (run->stream, up_grad, part, up_grad, run->error))
            return NULL;
        }
    }
  /* dA [r, C] = dhidᵀ tokens; d tokens += dhid A */
  dhid2 = view2 (dhid, batch * hw, r, 0);
  tokens2 = view2 (tokens, batch * hw, c, 0);
  if ((dlora = new_grad (run, tokens)) == NULL)
    return NULL;
  dlora2 = view2 (dlora, batch * hw, c, 0);
  if (!lk_op_gemm (run->stream, dhid2, tokens2, NULL, lk_lora_layer_get_down_grad (layer),
                   &(LkGemmOptions) { TRUE, FALSE, 1.0f }, run->error) ||
      !lk_op_gemm (run->stream, dhid2, lk_lora_layer_get_down (layer), NULL, dlora2,
                   &LK_GEMM_OPTIONS_DEFAULT, run->error))
    return NULL;
  if (!accumulate (run, &dtokens, g_steal_pointer (&dlora)))
    return NULL;
  return g_steal_pointer (&dtokens);
}

/* x + attention(n) with q from n and k, v from @source (n itself for self-attention). */
static LkTensor *
attention_forward (Run          *run,
                   LkLoraLayer **lora,
                   guint         first,
                   LkTensor     *x,
                   LkTensor     *n,
                   LkTensor     *source,
                   LkTensor    **q,
                   LkTensor    **k,
                   LkTensor    **v,
                   LkTensor    **o)
{
  gint64 c = n->shape[2];
  g_autoptr(LkTensor) a = NULL;

  if ((*q = lora_linear (run, lora[first], n, c)) == NULL ||
      (*k = lora_linear (run, lora[first + 1], source, c)) == NULL ||
      (*v = lora_linear (run, lora[first + 2], source, c)) == NULL ||
      (*o = new_like (run, *q)) == NULL ||
      !lk_op_attention (run->stream, *q, *k, *v, *o, HEADS, head_scale (*q), run->error) ||
      (a = lora_linear (run, lora[first + 3], *o, c)) == NULL)
    return NULL;
  return add (run, x, a);
}

/* Adds d of one use of the context (f32, of its shape; taken) into run->d_context. */
static gboolean
add_context_grad (Run      *run,
                  LkTensor *d)
{
  g_autoptr(LkTensor) owned = d;

  if (d == NULL)
    return FALSE;
  if (!run->d_context_set)
    {
      run->d_context_set = TRUE;
      return lk_op_scale (run->stream, d, 1.0f, run->d_context, run->error);
    }
  return lk_op_add (run->stream, run->d_context, d, run->d_context, run->error);
}

/* Cross-attention's k and v backward to the context, when its gradient is wanted. */
static gboolean
context_backward (Run         *run,
                  LkLoraLayer *layer,
                  LkTensor    *dy)
{
  g_autoptr(LkTensor) dx = new_f32 (run, run->context->ndim, run->context->shape);

  return dx != NULL &&
         lk_lora_layer_backward (layer, run->stream, run->context, dy, dx, run->error) &&
         add_context_grad (run, g_steal_pointer (&dx));
}

/* From d of x + attention(n): dn (and, for self-attention, the k and v paths added to it).
 * Cross-attention's k and v paths go into run->d_context when it is wanted. */
static LkTensor *
attention_backward (Run          *run,
                    LkLoraLayer **lora,
                    guint         first,
                    LkTensor     *n,
                    LkTensor     *source,
                    LkTensor     *q,
                    LkTensor     *k,
                    LkTensor     *v,
                    LkTensor     *o,
                    LkTensor     *dy)
{
  gboolean self_attention = source == n;
  g_autoptr(LkTensor) d_o = NULL, dq = NULL, dk = NULL, dv = NULL, dn = NULL, dn_k = NULL;
  g_autoptr(LkTensor) dn_v = NULL;

  if (!lora_linear_backward (run, lora[first + 3], o, dy, &d_o) ||
      (dq = new_grad (run, q)) == NULL || (dk = new_grad (run, k)) == NULL ||
      (dv = new_grad (run, v)) == NULL ||
      !lk_op_attention_backward (run->stream, q, k, v, o, d_o, dq, dk, dv, HEADS, head_scale (q),
                                 FALSE, run->error))
    return NULL;
  g_clear_pointer (&d_o, lk_tensor_unref);
  if (!lora_linear_backward (run, lora[first], n, dq, &dn))
    return NULL;
  if (!self_attention && run->d_context != NULL)
    {
      if (!context_backward (run, lora[first + 1], dk) ||
          !context_backward (run, lora[first + 2], dv))
        return NULL;
    }
  else if (!lora_linear_backward (run, lora[first + 1], source, dk,
                                  self_attention ? &dn_k : NULL) ||
           !lora_linear_backward (run, lora[first + 2], source, dv,
                                  self_attention ? &dn_v : NULL))
    return NULL;
  if (self_attention &&
      (!accumulate (run, &dn, g_steal_pointer (&dn_k)) ||
       !accumulate (run, &dn, g_steal_pointer (&dn_v))))
    return NULL;
  return g_steal_pointer (&dn);
}

static LkTensor *
transformer_forward (Run                     *run,
                     const LkUnetTransformer *t,
                     LkLoraLayer            **lora,
                     LkTensor                *x,
                     AttnSaved               *s)
{
  gint64 batch = x->shape[0], c = x->shape[1], hw = x->shape[2] * x->shape[3];
  g_autoptr(LkTensor) planar = NULL, f2 = NULL, out = NULL;

  s->x = lk_tensor_ref (x);
  if ((s->n = group_norm (run, x, t->norm_w, t->norm_b, SPATIAL_NORM_EPS, FALSE)) == NULL)
    return NULL;
  planar = lk_tensor_view (s->n, 3, (gint64[]) { batch, c, hw }, 0);
  if ((s->h = proj_in_forward (run, t, lora[L_PROJ_IN], planar)) == NULL ||
      (s->n1 = layer_norm (run, s->h, t->ln1_w, t->ln1_b)) == NULL ||
      (s->h1 = attention_forward (run, lora, L_Q1, s->h, s->n1, s->n1, &s->q1, &s->k1, &s->v1,
                                  &s->o1)) == NULL ||
      (s->n2 = layer_norm (run, s->h1, t->ln2_w, t->ln2_b)) == NULL ||
      (s->h2 = attention_forward (run, lora, L_Q2, s->h1, s->n2, run->context, &s->q2, &s->k2,
                                  &s->v2, &s->o2)) == NULL ||
      (s->n3 = layer_norm (run, s->h2, t->ln3_w, t->ln3_b)) == NULL ||
      (s->f1 = lora_linear (run, lora[L_FF1], s->n3, 8 * c)) == NULL ||
      (s->g = new_act (run, 3, (gint64[]) { batch, hw, 4 * c })) == NULL ||
      !lk_op_geglu (run->stream, s->f1, s->g, run->error) ||
      (f2 = lora_linear (run, lora[L_FF2], s->g, c)) == NULL ||
      (s->h3 = add (run, s->h2, f2)) == NULL ||
      (out = proj_out_forward (run, t, lora[L_PROJ_OUT], s->h3, x->shape)) == NULL)
    return NULL;
  return add (run, out, x);
}

static LkTensor *
transformer_backward (Run                     *run,
                      const LkUnetTransformer *t,
                      LkLoraLayer            **lora,
                      AttnSaved               *s,
                      LkTensor                *dout)
{
  gint64 batch = s->x->shape[0], c = s->x->shape[1], hw = s->x->shape[2] * s->x->shape[3];
  g_autoptr(LkTensor) dh = NULL, dg = NULL, df1 = NULL, dn = NULL, dplanar = NULL, dn4 = NULL;
  g_autoptr(LkTensor) dout3 = NULL, dx = NULL;

  /* proj_out, then the feed-forward's residual */
  dout3 = lk_tensor_view (dout, 3, (gint64[]) { batch, c, hw }, 0);
  if ((dh = proj_out_backward (run, t, lora[L_PROJ_OUT], s->h3, dout3)) == NULL ||
      !lora_linear_backward (run, lora[L_FF2], s->g, dh, &dg) ||
      (df1 = new_grad (run, s->f1)) == NULL ||
      !lk_op_geglu_backward (run->stream, s->f1, dg, df1, run->error))
    return NULL;
  g_clear_pointer (&dg, lk_tensor_unref);
  if (!lora_linear_backward (run, lora[L_FF1], s->n3, df1, &dn) ||
      !accumulate (run, &dh, layer_norm_dx (run, s->h2, t->ln3_w, dn)))
    return NULL;
  g_clear_pointer (&df1, lk_tensor_unref);
  g_clear_pointer (&dn, lk_tensor_unref);

  /* cross-attention, self-attention */
  if ((dn = attention_backward (run, lora, L_Q2, s->n2, run->context, s->q2, s->k2, s->v2, s->o2,
                                dh)) == NULL ||
      !accumulate (run, &dh, layer_norm_dx (run, s->h1, t->ln2_w, dn)))
    return NULL;
  g_clear_pointer (&dn, lk_tensor_unref);
  if ((dn = attention_backward (run, lora, L_Q1, s->n1, s->n1, s->q1, s->k1, s->v1, s->o1,
                                dh)) == NULL ||
      !accumulate (run, &dh, layer_norm_dx (run, s->h, t->ln1_w, dn)))
    return NULL;
  g_clear_pointer (&dn, lk_tensor_unref);

  /* proj_in, the group norm, and the block's residual */
  {
    g_autoptr(LkTensor) planar = lk_tensor_view (s->n, 3, (gint64[]) { batch, c, hw }, 0);

    if ((dplanar = proj_in_backward (run, t, lora[L_PROJ_IN], planar, dh)) == NULL)
      return NULL;
  }
  dn4 = lk_tensor_view (dplanar, 4, s->x->shape, 0);
  if ((dx = group_norm_dx (run, s->x, t->norm_w, t->norm_b, dn4, SPATIAL_NORM_EPS,
                           FALSE)) == NULL ||
      !accumulate (run, &dx, lk_tensor_ref (dout)))
    return NULL;
  return g_steal_pointer (&dx);
}

static LkTensor *
block_forward (Run               *run,
               guint              slot,
               BlockState        *state)
{
  const LkUnetBlock *block = &run->self->slots[slot];
  g_autoptr(LkTensor) h = lk_tensor_ref (state->input);

#define STEP(expr) G_STMT_START {                   \
    LkTensor *next_ = (expr);                        \
    if (next_ == NULL)                               \
      return NULL;                                   \
    lk_tensor_unref (h);                             \
    h = next_;                                       \
  } G_STMT_END

  if (block->res != NULL)
    STEP (res_forward (run, block->res, h, &state->res));
  if (block->attn != NULL)
    STEP (transformer_forward (run, block->attn, run->self->lora[slot], h, &state->attn));
  if (block->down_w != NULL)
    STEP (conv (run, h, block->down_w, block->down_b, 2));
  if (block->up_w != NULL)
    {
      state->up = new_act (run, 4, (gint64[]) { h->shape[0], h->shape[1], 2 * h->shape[2],
                                                2 * h->shape[3] });
      if (state->up == NULL || !lk_op_upsample_nearest2x (run->stream, h, state->up, run->error))
        return NULL;
      STEP (conv (run, state->up, block->up_w, block->up_b, 1));
    }
#undef STEP
  return g_steal_pointer (&h);
}

/* d output → d input, the block's LoRA gradients on the way. With checkpointing the block's
 * forward runs again first. Without @need_dx a leading ResBlock is not gone through and the
 * returned tensor is d of its output. */
static LkTensor *
block_backward (Run        *run,
                guint       slot,
                BlockState *state,
                LkTensor   *dout,
                gboolean    need_dx)
{
  const LkUnetBlock *block = &run->self->slots[slot];
  g_autoptr(LkTensor) d = lk_tensor_ref (dout);

  if (state->res.x == NULL && state->attn.x == NULL && state->up == NULL &&
      (block->res != NULL || block->attn != NULL || block->up_w != NULL))
    {
      LkTensor *again = block_forward (run, slot, state);

      if (again == NULL)
        return NULL;
      lk_tensor_unref (again);
    }

#define STEP(expr) G_STMT_START {                   \
    LkTensor *next_ = (expr);                        \
    if (next_ == NULL)                               \
      return NULL;                                   \
    lk_tensor_unref (d);                             \
    d = next_;                                       \
  } G_STMT_END

  if (block->up_w != NULL)
    {
      g_autoptr(LkTensor) dx = NULL;

      STEP (conv_dx (run, state->up, block->up_w, d, 1));
      dx = new_act (run, 4, (gint64[]) { d->shape[0], d->shape[1], d->shape[2] / 2,
                                         d->shape[3] / 2 });
      if (dx == NULL || !lk_op_upsample_nearest2x_backward (run->stream, d, dx, run->error))
        return NULL;
      STEP (g_steal_pointer (&dx));
    }
  if (block->down_w != NULL)
    STEP (conv_dx (run, state->input, block->down_w, d, 2));
  if (block->attn != NULL)
    STEP (transformer_backward (run, block->attn, run->self->lora[slot], &state->attn, d));
  if (block->res != NULL && need_dx)
    STEP (res_backward (run, block->res, &state->res, d));
#undef STEP
  block_state_clear_saved (state);
  return g_steal_pointer (&d);
}

/* Forward and backward of the whole UNet from dL/dε̂ = d_scale · (ε̂ − target). */
static gboolean
forward_backward (Run       *run,
                  LkTensor  *x_t,
                  LkTensor  *target,
                  float      d_scale,
                  double    *loss)
{
  LkUnetTrainer *self = run->self;
  const LkUnetEncoder *encoder = lk_unet_get_encoder (self->unet);
  LkTensor *out_norm_w, *out_norm_b, *out_conv_w, *out_conv_b;
  BlockState states[N_SLOTS] = { { NULL } };
  LkTensor *skips[LK_UNET_N_INPUT_BLOCKS] = { NULL };
  LkTensor *dskips[LK_UNET_N_INPUT_BLOCKS] = { NULL };
  g_autoptr(LkTensor) h = NULL, o = NULL, eps = NULL, diff = NULL, dpred = NULL, d = NULL;
  g_autoptr(LkTensor) stats = NULL;
  gboolean ok = FALSE;

  lk_unet_get_out_layers (self->unet, &out_norm_w, &out_norm_b, &out_conv_w, &out_conv_b);

  if ((h = conv (run, x_t, encoder->conv_in_w, encoder->conv_in_b, 1)) == NULL)
    goto out;
  skips[0] = lk_tensor_ref (h);
  for (guint slot = 1; slot < N_SLOTS; slot++)
    {
      LkTensor *next;

      if (slot >= SLOT_OUTPUT (0))
        {
          guint index = LK_UNET_N_INPUT_BLOCKS - 1 - (slot - SLOT_OUTPUT (0));
          LkTensor *skip = skips[index];

          states[slot].input = new_act (run, 4, (gint64[]) { h->shape[0],
                                                              h->shape[1] + skip->shape[1],
                                                              h->shape[2], h->shape[3] });
          if (states[slot].input == NULL ||
              !lk_op_concat_channels (run->stream, h, skip, states[slot].input, run->error))
            goto out;
        }
      else
        states[slot].input = lk_tensor_ref (h);
      if ((next = block_forward (run, slot, &states[slot])) == NULL)
        goto out;
      if (self->options.checkpointing)
        block_state_clear_saved (&states[slot]);
      lk_tensor_unref (h);
      h = next;
      if (slot < LK_UNET_N_INPUT_BLOCKS)
        skips[slot] = lk_tensor_ref (h);
    }

  /* The prediction and the loss stay f32. */
  if ((o = group_norm (run, h, out_norm_w, out_norm_b, RES_NORM_EPS, TRUE)) == NULL ||
      (eps = lk_graph_conv2d (run->arena, run->stream, o, out_conv_w, out_conv_b, 1,
                              run->error)) == NULL ||
      (diff = new_f32 (run, eps->ndim, eps->shape)) == NULL ||
      !lk_op_binary (run->stream, LK_BINARY_SUB, eps, target, diff, run->error) ||
      (dpred = new_grad (run, eps)) == NULL ||
      !lk_op_scale (run->stream, diff, d_scale, dpred, run->error))
    goto out;
  if (loss != NULL &&
      ((stats = lk_tensor_new (lk_stream_get_context (run->stream), LK_DTYPE_F32, 1,
                               (gint64[]) { 2 }, run->error)) == NULL ||
       !lk_op_grad_stats (run->stream, &diff, 1, stats, run->error)))
    goto out;
  g_clear_pointer (&diff, lk_tensor_unref);
  g_clear_pointer (&eps, lk_tensor_unref);

  /* Backward: the output layers, the decoder (each concatenation hands one part back to the
   * decoder and the other to its skip connection), the middle, the encoder. */
  if ((d = conv_dx (run, o, out_conv_w, dpred, 1)) == NULL)
    goto out;
  g_clear_pointer (&o, lk_tensor_unref);
  {
    LkTensor *dh = group_norm_dx (run, h, out_norm_w, out_norm_b, d, RES_NORM_EPS, TRUE);

    if (dh == NULL)
      goto out;
    lk_tensor_unref (d);
    d = dh;
  }
  g_clear_pointer (&h, lk_tensor_unref);
  for (guint slot = N_SLOTS; slot-- > 1;)
    {
      LkTensor *next;

      if (slot < LK_UNET_N_INPUT_BLOCKS && dskips[slot] != NULL &&
          !accumulate (run, &d, g_steal_pointer (&dskips[slot])))
        goto out;
      /* Input block 1 holds the first LoRA: nothing before its transformer needs a gradient. */
      if ((next = block_backward (run, slot, &states[slot], d, slot > 1)) == NULL)
        goto out;
      lk_tensor_unref (d);
      d = next;
      g_clear_pointer (&states[slot].input, lk_tensor_unref);
      if (slot >= SLOT_OUTPUT (0))
        {
          guint index = LK_UNET_N_INPUT_BLOCKS - 1 - (slot - SLOT_OUTPUT (0));
          LkTensor *skip = skips[index];
          g_autoptr(LkTensor) dh = new_act (run, 4, (gint64[]) { d->shape[0],
                                                                 d->shape[1] - skip->shape[1],
                                                                 d->shape[2], d->shape[3] });

          if (dh == NULL || (dskips[index] = new_grad (run, skip)) == NULL ||
              !lk_op_concat_channels_backward (run->stream, d, dh, dskips[index], run->error))
            goto out;
          lk_tensor_unref (d);
          d = g_steal_pointer (&dh);
        }
    }

  if (loss != NULL)
    {
      float sums[2];

      if (!lk_tensor_download_f32 (stats, run->stream, sums, run->error))
        goto out;
      *loss = sums[0] / (double) lk_tensor_numel (target);
    }
  ok = TRUE;

out:
  for (guint i = 0; i < N_SLOTS; i++)
    {
      block_state_clear_saved (&states[i]);
      g_clear_pointer (&states[i].input, lk_tensor_unref);
    }
  for (guint i = 0; i < LK_UNET_N_INPUT_BLOCKS; i++)
    {
      g_clear_pointer (&skips[i], lk_tensor_unref);
      g_clear_pointer (&dskips[i], lk_tensor_unref);
    }
  return ok;
}

void
lk_unet_trainer_free (LkUnetTrainer *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->layers, g_ptr_array_unref);
  g_clear_pointer (&self->names, g_ptr_array_unref);
  for (guint i = 0; i < N_SLOTS; i++)
    g_free (self->lora[i]);
  g_clear_pointer (&self->schedule, lk_schedule_free);
  g_clear_pointer (&self->unet, lk_unet_unref);
  g_free (self);
}

/* A Linear weight for its LoRA layer; proj_in / proj_out are kept as [C, C] views already. */
static LkLoraLayer *
new_layer (LkUnetTrainer  *self,
           LkStream       *stream,
           const char     *prefix,
           guint           target,
           LkTensor       *weight,
           LkTensor       *bias,
           GError        **error)
{
  char *name = g_strconcat (prefix, target_names[target], NULL);
  /* Each layer draws its A from its own seed: the order of creation fixes them all. */
  guint64 seed = self->options.seed * 0x9e3779b97f4a7c15ull + self->layers->len + 1;
  LkLoraLayer *layer = lk_lora_layer_new (stream, weight, bias, self->options.rank,
                                          self->options.alpha, seed, error);

  if (layer == NULL)
    {
      g_prefix_error (error, "%s: ", name);
      g_free (name);
      return NULL;
    }
  g_ptr_array_add (self->layers, layer);
  g_ptr_array_add (self->names, name);
  return layer;
}

/* The LDM module prefix of each slot's transformer. */
static char *
slot_prefix (guint slot)
{
  if (slot < LK_UNET_N_INPUT_BLOCKS)
    return g_strdup_printf ("input_blocks.%u.1.", slot);
  if (slot == SLOT_MIDDLE)
    return g_strdup ("middle_block.1.");
  return g_strdup_printf ("output_blocks.%u.1.", slot - SLOT_OUTPUT (0));
}

LkUnetTrainer *
lk_unet_trainer_new (LkStream                  *stream,
                     LkUnet                    *unet,
                     const LkUnetTrainOptions  *options,
                     GError                   **error)
{
  g_autoptr(LkUnetTrainer) self = NULL;
  const LkUnetEncoder *encoder;
  const LkUnetBlock *output;

  g_return_val_if_fail (stream != NULL && unet != NULL && options != NULL, NULL);

  self = g_new0 (LkUnetTrainer, 1);
  self->unet = lk_unet_ref (unet);
  self->options = *options;
  self->layers = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_lora_layer_free);
  self->names = g_ptr_array_new_with_free_func (g_free);
  self->schedule = lk_schedule_new_sd15 ();
  lk_rng_init (&self->state.rng, options->seed);
  /* f32 training needs no scaling: its gradients neither underflow nor overflow. */
  if (!options->f16_activations)
    self->options.loss_scaling.dynamic = FALSE;
  self->state.loss_scale = options->f16_activations ? options->loss_scaling.initial_scale : 1.0;

  encoder = lk_unet_get_encoder (unet);
  output = lk_unet_get_output_blocks (unet);
  for (guint i = 1; i < LK_UNET_N_INPUT_BLOCKS; i++)
    self->slots[i] = encoder->input[i];
  self->slots[SLOT_MIDDLE] = encoder->middle;
  self->slots[SLOT_MIDDLE_RES].res = encoder->middle_res;
  for (guint i = 0; i < LK_UNET_N_OUTPUT_BLOCKS; i++)
    self->slots[SLOT_OUTPUT (i)] = output[i];

  for (guint slot = 1; slot < N_SLOTS; slot++)
    {
      const LkUnetTransformer *t = self->slots[slot].attn;
      g_autofree char *prefix = NULL;
      LkTensor *weights[N_TARGETS], *biases[N_TARGETS] = { NULL };

      if (t == NULL)
        continue;
      prefix = slot_prefix (slot);
      weights[L_PROJ_IN] = t->proj_in_w;
      weights[L_Q1] = t->q1_w;
      weights[L_K1] = t->k1_w;
      weights[L_V1] = t->v1_w;
      weights[L_O1] = t->o1_w;
      biases[L_O1] = t->o1_b;
      weights[L_Q2] = t->q2_w;
      weights[L_K2] = t->k2_w;
      weights[L_V2] = t->v2_w;
      weights[L_O2] = t->o2_w;
      biases[L_O2] = t->o2_b;
      weights[L_FF1] = t->ff1_w;
      biases[L_FF1] = t->ff1_b;
      weights[L_FF2] = t->ff2_w;
      biases[L_FF2] = t->ff2_b;
      weights[L_PROJ_OUT] = t->proj_out_w;
      self->lora[slot] = g_new0 (LkLoraLayer *, N_TARGETS);
      for (guint k = 0; k < N_TARGETS; k++)
        if ((self->lora[slot][k] = new_layer (self, stream, prefix, k, weights[k], biases[k],
                                              error)) == NULL)
          return NULL;
    }
  g_ptr_array_add (self->names, NULL);
  return g_steal_pointer (&self);
}

void
lk_unet_trainer_set_checkpointing (LkUnetTrainer *self,
                                   gboolean       checkpointing)
{
  self->options.checkpointing = checkpointing;
}

guint
lk_unet_trainer_get_n_layers (LkUnetTrainer *self)
{
  return self->layers->len;
}

LkLoraLayer **
lk_unet_trainer_get_layers (LkUnetTrainer *self)
{
  return (LkLoraLayer **) self->layers->pdata;
}

const char * const *
lk_unet_trainer_get_names (LkUnetTrainer *self)
{
  return (const char * const *) self->names->pdata;
}

LkTrainState *
lk_unet_trainer_get_state (LkUnetTrainer *self)
{
  return &self->state;
}

const LkUnetTrainOptions *
lk_unet_trainer_get_options (LkUnetTrainer *self)
{
  return &self->options;
}

gboolean
lk_unet_trainer_backward (LkUnetTrainer  *self,
                          LkStream       *stream,
                          LkTensor       *x_t,
                          LkTensor       *timesteps,
                          LkTensor       *context,
                          LkTensor       *target,
                          float           weight,
                          gboolean        accumulate_grads,
                          double         *loss,
                          GError        **error)
{
  return lk_unet_trainer_backward_full (self, stream, x_t, timesteps, context, target, weight,
                                        accumulate_grads, NULL, loss, error);
}

gboolean
lk_unet_trainer_backward_full (LkUnetTrainer  *self,
                               LkStream       *stream,
                               LkTensor       *x_t,
                               LkTensor       *timesteps,
                               LkTensor       *context,
                               LkTensor       *target,
                               float           weight,
                               gboolean        accumulate_grads,
                               LkTensor       *d_context,
                               double         *loss,
                               GError        **error)
{
  const LkUnetEncoder *encoder;
  LkLoraLayer **layers;
  g_autoptr(LkArena) arena = NULL;
  g_autoptr(GPtrArray) saved = NULL;
  Run run = { self, NULL, stream, NULL, context, d_context, FALSE, LK_DTYPE_F32, error };
  gboolean ok;

  g_return_val_if_fail (self != NULL && stream != NULL, FALSE);
  g_return_val_if_fail (x_t != NULL && timesteps != NULL && context != NULL && target != NULL,
                        FALSE);

  encoder = lk_unet_get_encoder (self->unet);
  if (!lk_unet_check_inputs (&encoder->config, "unet training", x_t, timesteps, context, error))
    return FALSE;
  if (target->ndim != 4 || target->shape[0] != x_t->shape[0] ||
      target->shape[1] != encoder->config.out_channels || target->shape[2] != x_t->shape[2] ||
      target->shape[3] != x_t->shape[3])
    {
      g_autofree char *dt = lk_tensor_describe (target);
      g_autofree char *dx = lk_tensor_describe (x_t);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "unet training: target %s where the prediction is %s", dt, dx);
      return FALSE;
    }
  if (d_context != NULL && (d_context->dtype != LK_DTYPE_F32 ||
                            !lk_tensor_same_shape (d_context, context) ||
                            !lk_tensor_is_contiguous (d_context)))
    {
      g_autofree char *dd = lk_tensor_describe (d_context);
      g_autofree char *dc = lk_tensor_describe (context);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "unet training: the context's gradient %s must be f32, contiguous and of the "
                   "context's shape %s", dd, dc);
      return FALSE;
    }

  /* The layers write their gradients: keep the sums so far to add them back. */
  layers = (LkLoraLayer **) self->layers->pdata;
  if (accumulate_grads &&
      (saved = lk_lora_grads_save (stream, layers, self->layers->len, error)) == NULL)
    return FALSE;

  arena = lk_arena_new (lk_stream_get_context (stream));
  run.arena = arena;
  run.act = self->options.f16_activations ? LK_DTYPE_F16 : LK_DTYPE_F32;
  if ((run.emb = lk_unet_encoder_embed (encoder, arena, stream, timesteps, error)) == NULL)
    return FALSE;
  /* dL/dε̂ carries the loss scale: every gradient after it is S times the loss's. */
  ok = forward_backward (&run, x_t, target,
                         2.0 * weight * self->state.loss_scale / lk_tensor_numel (target), loss);
  g_clear_pointer (&run.emb, lk_tensor_unref);
  if (!ok)
    return FALSE;
  g_assert (d_context == NULL || run.d_context_set);
  return saved == NULL || lk_lora_grads_add_saved (stream, layers, self->layers->len, saved, error);
}

gboolean
lk_unet_trainer_apply (LkUnetTrainer  *self,
                       LkStream       *stream,
                       GError        **error)
{
  return lk_unet_trainer_apply_full (self, stream, NULL, error);
}

gboolean
lk_unet_trainer_apply_full (LkUnetTrainer     *self,
                            LkStream          *stream,
                            LkLoraStepResult  *result,
                            GError           **error)
{
  LkLoraGroup group;

  g_return_val_if_fail (self != NULL && stream != NULL, FALSE);

  group = (LkLoraGroup) { (LkLoraLayer **) self->layers->pdata, self->layers->len,
                          self->options.lr };
  return lk_lora_step (stream, &group, 1, &self->state, &self->options.loss_scaling, result,
                       error);
}

void
lk_unet_trainer_sample (LkUnetTrainer *self,
                        const gint64  *shape,
                        float         *noise,
                        float         *timesteps)
{
  gsize n = shape[0] * shape[1] * shape[2] * shape[3];
  g_autofree float *z = g_new (float, shape[0]);
  guint n_steps = lk_schedule_get_n_train_steps (self->schedule);

  lk_rng_normal (&self->state.rng, noise, n);
  lk_rng_normal (&self->state.rng, z, shape[0]);
  /* Φ(z) is uniform on (0, 1): DDPM's uniform integer timestep. */
  for (gint64 b = 0; b < shape[0]; b++)
    {
      double u = 0.5 * erfc (-z[b] / G_SQRT2);

      timesteps[b] = MIN ((guint) floor (u * n_steps), n_steps - 1);
    }
}

gboolean
lk_unet_trainer_noise (LkUnetTrainer  *self,
                       LkStream       *stream,
                       LkTensor       *x0,
                       LkTensor      **x_t,
                       LkTensor      **timesteps,
                       LkTensor      **noise,
                       GError        **error)
{
  LkContext *ctx;
  gint64 batch, coef_shape[4];
  g_autofree float *noise_data = NULL, *t_data = NULL, *ca = NULL, *cs = NULL;
  g_autoptr(LkTensor) n = NULL, t = NULL, a = NULL, s = NULL, xa = NULL, ns = NULL, xt = NULL;

  g_return_val_if_fail (self != NULL && stream != NULL && x0 != NULL, FALSE);
  g_return_val_if_fail (x_t != NULL && timesteps != NULL && noise != NULL, FALSE);

  if (x0->ndim != 4)
    {
      g_autofree char *dx = lk_tensor_describe (x0);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "unet training: latents %s where [B, C, h, w] was expected", dx);
      return FALSE;
    }
  ctx = lk_stream_get_context (stream);
  batch = x0->shape[0];
  coef_shape[0] = batch;
  coef_shape[1] = coef_shape[2] = coef_shape[3] = 1;
  noise_data = g_new (float, lk_tensor_numel (x0));
  t_data = g_new (float, batch);
  ca = g_new (float, batch);
  cs = g_new (float, batch);
  lk_unet_trainer_sample (self, x0->shape, noise_data, t_data);
  for (gint64 b = 0; b < batch; b++)
    {
      double ab = lk_schedule_get_alpha_cumprod (self->schedule, (guint) t_data[b]);

      ca[b] = sqrt (ab);
      cs[b] = sqrt (1.0 - ab);
    }
  if ((n = lk_tensor_new (ctx, LK_DTYPE_F32, 4, x0->shape, error)) == NULL ||
      !lk_tensor_upload_f32 (n, stream, noise_data, error) ||
      (t = lk_tensor_new (ctx, LK_DTYPE_F32, 1, &batch, error)) == NULL ||
      !lk_tensor_upload_f32 (t, stream, t_data, error) ||
      (a = lk_tensor_new (ctx, LK_DTYPE_F32, 4, coef_shape, error)) == NULL ||
      !lk_tensor_upload_f32 (a, stream, ca, error) ||
      (s = lk_tensor_new (ctx, LK_DTYPE_F32, 4, coef_shape, error)) == NULL ||
      !lk_tensor_upload_f32 (s, stream, cs, error) ||
      (xa = lk_tensor_new (ctx, LK_DTYPE_F32, 4, x0->shape, error)) == NULL ||
      (ns = lk_tensor_new (ctx, LK_DTYPE_F32, 4, x0->shape, error)) == NULL ||
      (xt = lk_tensor_new (ctx, LK_DTYPE_F32, 4, x0->shape, error)) == NULL ||
      !lk_op_mul (stream, x0, a, xa, error) ||
      !lk_op_mul (stream, n, s, ns, error) ||
      !lk_op_add (stream, xa, ns, xt, error))
    return FALSE;
  *x_t = g_steal_pointer (&xt);
  *timesteps = g_steal_pointer (&t);
  *noise = g_steal_pointer (&n);
  return TRUE;
}

gboolean
lk_unet_train_step (LkUnetTrainer  *self,
                    LkStream       *stream,
                    guint           n_micro,
                    LkTensor      **x0,
                    LkTensor      **context,
                    double         *loss,
                    GError        **error)
{
  double total = 0;

  g_return_val_if_fail (self != NULL && stream != NULL && n_micro > 0, FALSE);

  for (guint i = 0; i < n_micro; i++)
    {
      g_autoptr(LkTensor) x_t = NULL, t = NULL, noise = NULL;
      double micro_loss;

      if (!lk_unet_trainer_noise (self, stream, x0[i], &x_t, &t, &noise, error) ||
          !lk_unet_trainer_backward (self, stream, x_t, t, context[i], noise, 1.0f / n_micro,
                                     i > 0, &micro_loss, error))
        return FALSE;
      total += micro_loss;
    }
  if (!lk_unet_trainer_apply (self, stream, error))
    return FALSE;
  if (loss != NULL)
    *loss = total / n_micro;
  return TRUE;
}
