/* lk-clip-train.c: LoRA training of the CLIP text encoder — forward with the LoRA, backward
 * from the gradient of its output
 *
 * One pre-LN layer, and what its backward reads:
 *   h = LN1(x);  q, k, v = h Wᵀ + b (+ LoRA);  a = causal attention(q, k, v);
 *   x1 = x + a Woᵀ + bo (+ LoRA);  h2 = LN2(x1);  f = h2 W1ᵀ + b1 (+ LoRA);  g = QuickGELU(f);
 *   out = x1 + g W2ᵀ + b2 (+ LoRA).
 * The backward ops recompute norm statistics and attention scores from these, so nothing else
 * is kept; the embeddings before the first layer are frozen, so its input gets no gradient.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-train"

#include "config.h"

#include "lk-clip-private.h"
#include "lk-clip-train.h"
#include "lk-lora-step.h"

enum
{
  L_Q, L_K, L_V, L_OUT, L_FC1, L_FC2,
  N_TARGETS
};

static const char *const target_names[N_TARGETS] = {
  "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1",
  "mlp.fc2",
};

typedef struct
{
  LkTensor *x, *h, *q, *k, *v, *a, *x1, *h2, *f, *g;
} LayerSaved;

struct _LkClipTrainer
{
  LkClipTextModel    *model;
  LkClipTrainOptions  options;
  guint               n_run;     /* encoder layers run: n_layers − clip_skip + 1 */
  GPtrArray          *layers;    /* LkLoraLayer *, owned, N_TARGETS per layer run */
  GPtrArray          *names;     /* char *, NULL-terminated */

  /* the last forward's, until its backward */
  LkArena            *arena;
  LayerSaved         *saved;     /* n_run */
  LkTensor           *last;      /* the input of the final layer norm */
};

typedef struct
{
  LkClipTrainer  *self;
  LkStream       *stream;
  LkDType         act;
  GError        **error;
} Run;

static LkTensor *
new_act (Run          *run,
         guint         ndim,
         const gint64 *shape)
{
  return lk_arena_tensor (run->self->arena, run->act, ndim, shape, run->error);
}

static LkTensor *
new_like (Run      *run,
          LkTensor *t)
{
  return new_act (run, t->ndim, t->shape);
}

static LkLoraLayer *
lora (LkClipTrainer *self,
      guint          layer,
      guint          target)
{
  return self->layers->pdata[layer * N_TARGETS + target];
}

/* a + b, the sum in the activations' dtype. Takes neither. */
static LkTensor *
add (Run      *run,
     LkTensor *a,
     LkTensor *b)
{
  g_autoptr(LkTensor) y = new_like (run, a);

  if (y == NULL || !lk_op_add (run->stream, a, b, y, run->error))
    return NULL;
  return g_steal_pointer (&y);
}

/* *acc += g. Takes g. */
static gboolean
accumulate (Run       *run,
            LkTensor **acc,
            LkTensor  *g)
{
  g_autoptr(LkTensor) owned = g;
  LkTensor *sum;

  if (g == NULL || (sum = add (run, *acc, g)) == NULL)
    return FALSE;
  lk_tensor_unref (*acc);
  *acc = sum;
  return TRUE;
}

static LkTensor *
lora_linear (Run         *run,
             LkLoraLayer *layer,
             LkTensor    *x,
             gint64       out)
{
  gint64 shape[3] = { x->shape[0], x->shape[1], out };
  g_autoptr(LkTensor) y = new_act (run, 3, shape);

  if (y == NULL || !lk_lora_layer_forward (layer, run->stream, x, y, run->error))
    return NULL;
  return g_steal_pointer (&y);
}

/* The layer's gradients, and a new dx when @dx is not NULL. */
static gboolean
lora_linear_backward (Run          *run,
                      LkLoraLayer  *layer,
                      LkTensor     *x,
                      LkTensor     *dy,
                      LkTensor    **dx)
{
  if (dx != NULL && (*dx = new_like (run, x)) == NULL)
    return FALSE;
  return lk_lora_layer_backward (layer, run->stream, x, dy, dx != NULL ? *dx : NULL, run->error);
}

static LkTensor *
layer_norm_dx (Run      *run,
               LkTensor *x,
               LkTensor *w,
               LkTensor *dy)
{
  g_autoptr(LkTensor) dx = new_like (run, x);

  if (dx == NULL || !lk_op_layer_norm_backward (run->stream, x, w, dy, dx, NULL, NULL,
                                                LK_CLIP_LAYER_NORM_EPS, run->error))
    return NULL;
  return g_steal_pointer (&dx);
}

static void
layer_saved_clear (LayerSaved *s,
                   gboolean    keep_input)
{
  LkTensor **all = (LkTensor **) s;

  for (gsize i = keep_input ? 1 : 0; i < sizeof *s / sizeof (LkTensor *); i++)
    g_clear_pointer (&all[i], lk_tensor_unref);
}

/* s->x → the layer's output, keeping the rest of *s. */
static LkTensor *
layer_forward (Run        *run,
               guint       index,
               LayerSaved *s)
{
  LkClipTrainer *self = run->self;
  const LkClipLayer *w = &self->model->layers[index];
  LkArena *arena = self->arena;
  guint width = self->model->width, heads = width / LK_CLIP_HEAD_DIM;
  g_autoptr(LkTensor) p = NULL, f2 = NULL;

  if ((s->h = lk_graph_layer_norm_to (arena, run->stream, s->x, w->ln1_w, w->ln1_b,
                                      LK_CLIP_LAYER_NORM_EPS, run->act, run->error)) == NULL ||
      (s->q = lora_linear (run, lora (self, index, L_Q), s->h, width)) == NULL ||
      (s->k = lora_linear (run, lora (self, index, L_K), s->h, width)) == NULL ||
      (s->v = lora_linear (run, lora (self, index, L_V), s->h, width)) == NULL ||
      (s->a = new_like (run, s->q)) == NULL ||
      !lk_op_attention_masked (run->stream, s->q, s->k, s->v, s->a, heads, 0.0f, TRUE,
                               run->error) ||
      (p = lora_linear (run, lora (self, index, L_OUT), s->a, width)) == NULL ||
      (s->x1 = add (run, s->x, p)) == NULL ||
      (s->h2 = lk_graph_layer_norm_to (arena, run->stream, s->x1, w->ln2_w, w->ln2_b,
                                       LK_CLIP_LAYER_NORM_EPS, run->act, run->error)) == NULL ||
      (s->f = lora_linear (run, lora (self, index, L_FC1), s->h2, self->model->mlp)) == NULL ||
      (s->g = new_like (run, s->f)) == NULL ||
      !lk_op_unary (run->stream, LK_UNARY_QUICK_GELU, s->f, 1.0f, 0.0f, s->g, run->error) ||
      (f2 = lora_linear (run, lora (self, index, L_FC2), s->g, width)) == NULL)
    return NULL;
  return add (run, s->x1, f2);
}

/* d output → d input (NULL for the first layer, whose input is frozen), the LoRA gradients on
 * the way. */
static gboolean
layer_backward (Run        *run,
                guint       index,
                LayerSaved *s,
                LkTensor   *dout,
                LkTensor  **dx)
{
  LkClipTrainer *self = run->self;
  const LkClipLayer *w = &self->model->layers[index];
  guint heads = self->model->width / LK_CLIP_HEAD_DIM;
  g_autoptr(LkTensor) dg = NULL, df = NULL, dh2 = NULL, dx1 = NULL, da = NULL, dq = NULL;
  g_autoptr(LkTensor) dk = NULL, dv = NULL, dh = NULL, dh_k = NULL, dh_v = NULL;
  gboolean need_dx = dx != NULL;

  if (s->h == NULL)
    {
      LkTensor *again = layer_forward (run, index, s);

      if (again == NULL)
        return FALSE;
      lk_tensor_unref (again);
    }

  /* the MLP and its residual */
  if (!lora_linear_backward (run, lora (self, index, L_FC2), s->g, dout, &dg) ||
      (df = new_like (run, s->f)) == NULL ||
      !lk_op_activation_backward (run->stream, LK_ACTIVATION_QUICK_GELU, s->f, dg, df,
                                  run->error))
    return FALSE;
  g_clear_pointer (&dg, lk_tensor_unref);
  if (!lora_linear_backward (run, lora (self, index, L_FC1), s->h2, df, &dh2))
    return FALSE;
  g_clear_pointer (&df, lk_tensor_unref);
  dx1 = lk_tensor_ref (dout);
  if (!accumulate (run, &dx1, layer_norm_dx (run, s->x1, w->ln2_w, dh2)))
    return FALSE;
  g_clear_pointer (&dh2, lk_tensor_unref);

  /* causal self-attention and its residual */
  if (!lora_linear_backward (run, lora (self, index, L_OUT), s->a, dx1, &da) ||
      (dq = new_like (run, s->q)) == NULL || (dk = new_like (run, s->k)) == NULL ||
      (dv = new_like (run, s->v)) == NULL ||
      !lk_op_attention_backward (run->stream, s->q, s->k, s->v, s->a, da, dq, dk, dv, heads, 0.0f,
                                 TRUE, run->error))
    return FALSE;
  g_clear_pointer (&da, lk_tensor_unref);
  if (!lora_linear_backward (run, lora (self, index, L_Q), s->h, dq, need_dx ? &dh : NULL) ||
      !lora_linear_backward (run, lora (self, index, L_K), s->h, dk, need_dx ? &dh_k : NULL) ||
      !lora_linear_backward (run, lora (self, index, L_V), s->h, dv, need_dx ? &dh_v : NULL))
    return FALSE;
  if (need_dx)
    {
      if (!accumulate (run, &dh, g_steal_pointer (&dh_k)) ||
          !accumulate (run, &dh, g_steal_pointer (&dh_v)) ||
          !accumulate (run, &dx1, layer_norm_dx (run, s->x, w->ln1_w, dh)))
        return FALSE;
      *dx = g_steal_pointer (&dx1);
    }
  layer_saved_clear (s, FALSE);
  return TRUE;
}

void
lk_clip_trainer_release (LkClipTrainer *self)
{
  g_return_if_fail (self != NULL);

  for (guint i = 0; self->saved != NULL && i < self->n_run; i++)
    layer_saved_clear (&self->saved[i], FALSE);
  g_clear_pointer (&self->last, lk_tensor_unref);
  g_clear_pointer (&self->arena, lk_arena_unref);
}

void
lk_clip_trainer_free (LkClipTrainer *self)
{
  if (self == NULL)
    return;
  lk_clip_trainer_release (self);
  g_free (self->saved);
  g_clear_pointer (&self->layers, g_ptr_array_unref);
  g_clear_pointer (&self->names, g_ptr_array_unref);
  g_clear_pointer (&self->model, lk_clip_text_model_unref);
  g_free (self);
}

LkClipTrainer *
lk_clip_trainer_new (LkStream                  *stream,
                     LkClipTextModel           *model,
                     const LkClipTrainOptions  *options,
                     GError                   **error)
{
  g_autoptr(LkClipTrainer) self = NULL;

  g_return_val_if_fail (stream != NULL && model != NULL && options != NULL, NULL);

  if (options->clip_skip < 1 || options->clip_skip > model->n_layers)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "text encoder training: clip skip %u is outside 1…%u", options->clip_skip,
                   model->n_layers);
      return NULL;
    }

  self = g_new0 (LkClipTrainer, 1);
  self->model = lk_clip_text_model_ref (model);
  self->options = *options;
  self->n_run = model->n_layers - options->clip_skip + 1;
  self->saved = g_new0 (LayerSaved, self->n_run);
  self->layers = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_lora_layer_free);
  self->names = g_ptr_array_new_with_free_func (g_free);
  for (guint l = 0; l < self->n_run; l++)
    {
      const LkClipLayer *w = &model->layers[l];
      LkTensor *weights[N_TARGETS] = { w->q_w, w->k_w, w->v_w, w->out_w, w->fc1_w, w->fc2_w };
      LkTensor *biases[N_TARGETS] = { w->q_b, w->k_b, w->v_b, w->out_b, w->fc1_b, w->fc2_b };

      for (guint t = 0; t < N_TARGETS; t++)
        {
          char *name = g_strdup_printf ("encoder.layers.%u.%s", l, target_names[t]);
          /* Each layer draws its A from its own seed, apart from the UNet trainer's. */
          guint64 seed = (options->seed ^ 0x74657874ull) * 0x9e3779b97f4a7c15ull +
                         self->layers->len + 1;
          LkLoraLayer *layer = lk_lora_layer_new (stream, weights[t], biases[t], options->rank,
                                                  options->alpha, seed, error);

          if (layer == NULL)
            {
              g_prefix_error (error, "%s: ", name);
              g_free (name);
              return NULL;
            }
          g_ptr_array_add (self->layers, layer);
          g_ptr_array_add (self->names, name);
        }
    }
  g_ptr_array_add (self->names, NULL);
  return g_steal_pointer (&self);
}

void
lk_clip_trainer_set_checkpointing (LkClipTrainer *self,
                                   gboolean       checkpointing)
{
  g_return_if_fail (self != NULL);
  self->options.checkpointing = checkpointing;
}

guint
lk_clip_trainer_get_n_layers (LkClipTrainer *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->layers->len;
}

LkLoraLayer **
lk_clip_trainer_get_layers (LkClipTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (LkLoraLayer **) self->layers->pdata;
}

const char * const *
lk_clip_trainer_get_names (LkClipTrainer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (const char * const *) self->names->pdata;
}

guint
lk_clip_trainer_get_context (LkClipTrainer *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->model->context;
}

guint
lk_clip_trainer_get_width (LkClipTrainer *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->model->width;
}

LkTensor *
lk_clip_trainer_forward (LkClipTrainer  *self,
                         LkStream       *stream,
                         const gint32   *ids,
                         guint           batch,
                         GError        **error)
{
  LkClipTextModel *model;
  Run run = { self, stream, LK_DTYPE_F32, error };
  g_autoptr(LkTensor) x = NULL, embedded = NULL;

  g_return_val_if_fail (self != NULL && stream != NULL && ids != NULL && batch > 0, NULL);

  model = self->model;
  run.act = self->options.f16_activations ? LK_DTYPE_F16 : LK_DTYPE_F32;
  lk_clip_trainer_release (self);
  self->arena = lk_arena_new (lk_stream_get_context (stream));
  if ((embedded = lk_clip_text_model_embed (model, self->arena, stream, ids, batch,
                                            self->options.clip_skip, error)) == NULL)
    goto fail;
  if (run.act == LK_DTYPE_F32)
    x = g_steal_pointer (&embedded);
  else if ((x = new_like (&run, embedded)) == NULL ||
           !lk_op_cast (stream, embedded, x, error))
    goto fail;
  g_clear_pointer (&embedded, lk_tensor_unref);

  for (guint l = 0; l < self->n_run; l++)
    {
      LkTensor *next;

      self->saved[l].x = lk_tensor_ref (x);
      if ((next = layer_forward (&run, l, &self->saved[l])) == NULL)
        goto fail;
      if (self->options.checkpointing)
        layer_saved_clear (&self->saved[l], TRUE);
      lk_tensor_unref (x);
      x = next;
    }
  self->last = g_steal_pointer (&x);
  return lk_graph_layer_norm (self->arena, stream, self->last, model->final_ln_w,
                              model->final_ln_b, LK_CLIP_LAYER_NORM_EPS, error);

fail:
  lk_clip_trainer_release (self);
  return NULL;
}

gboolean
lk_clip_trainer_backward (LkClipTrainer  *self,
                          LkStream       *stream,
                          LkTensor       *d_output,
                          gboolean        accumulate_grads,
                          GError        **error)
{
  LkLoraLayer **layers;
  Run run = { self, stream, LK_DTYPE_F32, error };
  g_autoptr(GPtrArray) saved = NULL;
  g_autoptr(LkTensor) d = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (self != NULL && stream != NULL && d_output != NULL, FALSE);

  if (self->last == NULL)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "text encoder training: a backward without its forward");
      return FALSE;
    }
  if (!lk_tensor_same_shape (d_output, self->last))
    {
      g_autofree char *dd = lk_tensor_describe (d_output);
      g_autofree char *dl = lk_tensor_describe (self->last);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "text encoder training: d_output %s where the output is %s", dd, dl);
      goto out;
    }
  run.act = self->options.f16_activations ? LK_DTYPE_F16 : LK_DTYPE_F32;
  layers = (LkLoraLayer **) self->layers->pdata;
  if (accumulate_grads &&
      (saved = lk_lora_grads_save (stream, layers, self->layers->len, error)) == NULL)
    goto out;

  if ((d = layer_norm_dx (&run, self->last, self->model->final_ln_w, d_output)) == NULL)
    goto out;
  g_clear_pointer (&self->last, lk_tensor_unref);
  for (guint l = self->n_run; l-- > 0;)
    {
      LkTensor *dx = NULL;

      if (!layer_backward (&run, l, &self->saved[l], d, l > 0 ? &dx : NULL))
        goto out;
      g_clear_pointer (&self->saved[l].x, lk_tensor_unref);
      lk_tensor_unref (d);
      d = dx;
    }
  ok = saved == NULL || lk_lora_grads_add_saved (stream, layers, self->layers->len, saved, error);

out:
  lk_clip_trainer_release (self);
  return ok;
}
