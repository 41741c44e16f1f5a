/* lk-lora-layer.c: a trainable LoRA on a frozen Linear or 1×1 convolution
 *
 * The forward keeps nothing: the rank-r hidden state h = (α / r) · x Aᵀ is a thin GEMM,
 * cheaper to recompute in the backward than to hold for every layer of the UNet. With it,
 *   dB = dyᵀ h,   dh = (α / r) · dy B,   dA = dhᵀ x,   dx = dy W + dh A.
 * A Linear runs these as GEMMs over its rows; a 1×1 convolution as convolutions and their
 * gradients, so NCHW activations need no transposition.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-train"

#include "config.h"

#include <math.h>

#include "lk-lora-layer.h"
#include "lk-ops-private.h"
#include "lk-rng.h"

struct _LkLoraLayer
{
  /* borrowed (referenced), frozen */
  LkTensor *weight;
  LkTensor *bias;
  /* owned, f32 */
  LkTensor *down;       /* A [r, in] (+ [1, 1]) */
  LkTensor *up;         /* B [out, r] (+ [1, 1]) */
  LkTensor *down_grad;
  LkTensor *up_grad;
  LkTensor *moments[4]; /* m_A, v_A, m_B, v_B */

  gboolean conv;
  gint64   in, out;
  guint    rank;
  float    scale;
};

void
lk_lora_layer_free (LkLoraLayer *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->weight, lk_tensor_unref);
  g_clear_pointer (&self->bias, lk_tensor_unref);
  g_clear_pointer (&self->down, lk_tensor_unref);
  g_clear_pointer (&self->up, lk_tensor_unref);
  g_clear_pointer (&self->down_grad, lk_tensor_unref);
  g_clear_pointer (&self->up_grad, lk_tensor_unref);
  for (guint i = 0; i < G_N_ELEMENTS (self->moments); i++)
    g_clear_pointer (&self->moments[i], lk_tensor_unref);
  g_free (self);
}

/* U(−bound, bound) from Philox: counter (i / 4, 0, 0, 0) under the seed, 24 bits per value. */
static void
fill_uniform (float   *out,
              gsize    n,
              double   bound,
              guint64  seed)
{
  guint32 key[2] = { seed & 0xffffffffu, seed >> 32 };

  for (gsize i = 0; i < n; i += 4)
    {
      guint32 counter[4] = { i / 4, (guint64) (i / 4) >> 32, 0, 0 };
      guint32 words[4];

      lk_philox4x32_10 (counter, key, words);
      for (gsize j = 0; j < 4 && i + j < n; j++)
        out[i + j] = bound * (2.0 * ((words[j] >> 8) * (1.0 / 16777216.0)) - 1.0);
    }
}

static LkTensor *
new_filled (LkStream     *stream,
            guint         ndim,
            const gint64 *shape,
            const float  *data,
            GError      **error)
{
  g_autoptr(LkTensor) t = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F32, ndim,
                                         shape, error);
  g_autofree float *zeros = NULL;
  gint64 n;

  if (t == NULL)
    return NULL;
  n = lk_tensor_numel (t);
  if (data == NULL)
    data = zeros = g_new0 (float, n);
  if (!lk_tensor_upload_f32 (t, stream, data, error))
    return NULL;
  return g_steal_pointer (&t);
}

LkLoraLayer *
lk_lora_layer_new (LkStream  *stream,
                   LkTensor  *weight,
                   LkTensor  *bias,
                   guint      rank,
                   float      alpha,
                   guint64    seed,
                   GError   **error)
{
  g_autoptr(LkLoraLayer) self = NULL;
  g_autofree float *init = NULL;
  gint64 down_shape[4], up_shape[4];
  guint ndim;

  g_return_val_if_fail (stream != NULL && weight != NULL, NULL);

  ndim = weight->ndim;
  if ((ndim != 2 && ndim != 4) || (ndim == 4 && (weight->shape[2] != 1 || weight->shape[3] != 1)) ||
      weight->shape[0] < 1 || weight->shape[1] < 1 || rank == 0 ||
      rank > MIN (weight->shape[0], weight->shape[1]) ||
      (bias != NULL && (bias->ndim != 1 || bias->shape[0] != weight->shape[0])))
    {
      g_autofree char *dw = lk_tensor_describe (weight);
      g_autofree char *db = bias ? lk_tensor_describe (bias) : g_strdup ("none");

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "LoRA layer: weight %s, bias %s, rank %u: expected a Linear weight [out, in] "
                   "or a 1×1 convolution's [out, in, 1, 1], bias [out], and a rank from 1 to "
                   "min(in, out)", dw, db, rank);
      return NULL;
    }
  if (weight->dtype != LK_DTYPE_F16)
    {
      g_autofree char *dw = lk_tensor_describe (weight);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_DTYPE,
                   "LoRA layer: the frozen weight %s must be f16", dw);
      return NULL;
    }

  self = g_new0 (LkLoraLayer, 1);
  self->weight = lk_tensor_ref (weight);
  self->bias = bias ? lk_tensor_ref (bias) : NULL;
  self->conv = ndim == 4;
  self->out = weight->shape[0];
  self->in = weight->shape[1];
  self->rank = rank;
  self->scale = alpha / rank;

  down_shape[0] = rank;
  down_shape[1] = self->in;
  up_shape[0] = self->out;
  up_shape[1] = rank;
  down_shape[2] = down_shape[3] = up_shape[2] = up_shape[3] = 1;

  /* Kaiming-uniform with a = √5: gain √(2 / (1 + a²)) · √(3 / fan_in) = 1 / √fan_in. */
  init = g_new (float, rank * self->in);
  fill_uniform (init, rank * self->in, 1.0 / sqrt ((double) self->in), seed);
  if ((self->down = new_filled (stream, ndim, down_shape, init, error)) == NULL ||
      (self->up = new_filled (stream, ndim, up_shape, NULL, error)) == NULL ||
      (self->down_grad = new_filled (stream, ndim, down_shape, NULL, error)) == NULL ||
      (self->up_grad = new_filled (stream, ndim, up_shape, NULL, error)) == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (self->moments); i++)
    if ((self->moments[i] = new_filled (stream, ndim, i < 2 ? down_shape : up_shape, NULL,
                                        error)) == NULL)
      return NULL;
  return g_steal_pointer (&self);
}

gboolean
lk_lora_layer_is_conv (LkLoraLayer *self)
{
  return self->conv;
}

guint
lk_lora_layer_get_rank (LkLoraLayer *self)
{
  return self->rank;
}

float
lk_lora_layer_get_scale (LkLoraLayer *self)
{
  return self->scale;
}

LkTensor *
lk_lora_layer_get_down (LkLoraLayer *self)
{
  return self->down;
}

LkTensor *
lk_lora_layer_get_up (LkLoraLayer *self)
{
  return self->up;
}

LkTensor *
lk_lora_layer_get_down_grad (LkLoraLayer *self)
{
  return self->down_grad;
}

LkTensor *
lk_lora_layer_get_up_grad (LkLoraLayer *self)
{
  return self->up_grad;
}

LkTensor *
lk_lora_layer_get_moment (LkLoraLayer *self,
                          gboolean     up,
                          gboolean     second)
{
  return self->moments[(up ? 2 : 0) + (second ? 1 : 0)];
}

/* Checks x against y (forward) or dy (backward) and gives a Linear's row count (0 for a
 * convolution); FALSE with an error naming both shapes when they do not fit the layer. */
static gboolean
check_io (LkLoraLayer  *self,
          LkTensor     *x,
          LkTensor     *y,
          const char   *what,
          gint64       *rows,
          GError      **error)
{
  gboolean ok;

  if (self->conv)
    ok = x->ndim == 4 && x->shape[1] == self->in && y->ndim == 4 && y->shape[0] == x->shape[0] &&
         y->shape[1] == self->out && y->shape[2] == x->shape[2] && y->shape[3] == x->shape[3];
  else
    ok = x->ndim >= 1 && x->shape[x->ndim - 1] == self->in && y->ndim == x->ndim &&
         y->shape[y->ndim - 1] == self->out &&
         lk_tensor_numel (x) / self->in == lk_tensor_numel (y) / self->out;
  if (!ok || lk_tensor_numel (x) == 0)
    {
      g_autofree char *dx = lk_tensor_describe (x);
      g_autofree char *dy = lk_tensor_describe (y);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "LoRA layer %s: x %s, %s %s for %" G_GINT64_FORMAT " → %" G_GINT64_FORMAT
                   " features: expected %s", what, dx, what[0] == 'f' ? "y" : "dy", dy,
                   self->in, self->out,
                   self->conv ? "[N, in, H, W] → [N, out, H, W]" : "[..., in] → [..., out]");
      return FALSE;
    }
  *rows = self->conv ? 0 : lk_tensor_numel (x) / self->in;
  return lk_ops_check_contiguous (x, "LoRA layer", "x", error) &&
         lk_ops_check_contiguous (y, "LoRA layer", what[0] == 'f' ? "y" : "dy", error);
}

static LkTensor *
rows_view (LkTensor *t,
           gint64    rows)
{
  return lk_tensor_view (t, 2, (gint64[]) { rows, t->shape[t->ndim - 1] }, 0);
}

static LkTensor *
scratch (LkStream      *stream,
         guint          ndim,
         const gint64  *shape,
         GError       **error)
{
  return lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F32, ndim, shape, error);
}

/* h = (α / r) · x Aᵀ: [rows, r] or [N, r, H, W]. */
static LkTensor *
hidden (LkLoraLayer  *self,
        LkStream     *stream,
        LkTensor     *x,
        gint64        rows,
        GError      **error)
{
  if (!self->conv)
    {
      g_autoptr(LkTensor) x2 = rows_view (x, rows);
      g_autoptr(LkTensor) h = scratch (stream, 2, (gint64[]) { rows, self->rank }, error);
      LkGemmOptions o = { FALSE, TRUE, self->scale };

      if (h == NULL || !lk_op_gemm (stream, x2, self->down, NULL, h, &o, error))
        return NULL;
      return g_steal_pointer (&h);
    }
  else
    {
      gint64 shape[4] = { x->shape[0], self->rank, x->shape[2], x->shape[3] };
      g_autoptr(LkTensor) raw = scratch (stream, 4, shape, error);
      g_autoptr(LkTensor) h = scratch (stream, 4, shape, error);

      if (raw == NULL || h == NULL ||
          !lk_op_conv2d (stream, x, self->down, NULL, raw, &(LkConv2dOptions) { 1, 0 }, error) ||
          !lk_op_scale (stream, raw, self->scale, h, error))
        return NULL;
      return g_steal_pointer (&h);
    }
}

gboolean
lk_lora_layer_forward (LkLoraLayer  *self,
                       LkStream     *stream,
                       LkTensor     *x,
                       LkTensor     *y,
                       GError      **error)
{
  g_autoptr(LkTensor) h = NULL, base = NULL, delta = NULL;
  gint64 rows;

  g_return_val_if_fail (self != NULL && stream != NULL && x != NULL && y != NULL, FALSE);

  if (!check_io (self, x, y, "forward", &rows, error) ||
      (h = hidden (self, stream, x, rows, error)) == NULL ||
      (base = scratch (stream, y->ndim, y->shape, error)) == NULL ||
      (delta = scratch (stream, y->ndim, y->shape, error)) == NULL)
    return FALSE;

  if (!self->conv)
    {
      g_autoptr(LkTensor) x2 = rows_view (x, rows);
      g_autoptr(LkTensor) base2 = rows_view (base, rows);
      g_autoptr(LkTensor) delta2 = rows_view (delta, rows);
      LkGemmOptions o = { FALSE, TRUE, 1.0f };

      if (!lk_op_gemm (stream, x2, self->weight, self->bias, base2, &o, error) ||
          !lk_op_gemm (stream, h, self->up, NULL, delta2, &o, error))
        return FALSE;
    }
  else
    {
      LkConv2dOptions o = { 1, 0 };

      if (!lk_op_conv2d (stream, x, self->weight, self->bias, base, &o, error) ||
          !lk_op_conv2d (stream, h, self->up, NULL, delta, &o, error))
        return FALSE;
    }
  return lk_op_add (stream, base, delta, y, error);
}

gboolean
lk_lora_layer_backward (LkLoraLayer  *self,
                        LkStream     *stream,
                        LkTensor     *x,
                        LkTensor     *dy,
                        LkTensor     *dx,
                        GError      **error)
{
  g_autoptr(LkTensor) h = NULL, dh = NULL, dx_base = NULL, dx_lora = NULL;
  gint64 rows;

  g_return_val_if_fail (self != NULL && stream != NULL && x != NULL && dy != NULL, FALSE);

  if (!check_io (self, x, dy, "backward", &rows, error))
    return FALSE;
  if (dx != NULL && !lk_tensor_same_shape (dx, x))
    return lk_ops_check_shape_equal (x, dx, "LoRA layer backward", error);
  if ((h = hidden (self, stream, x, rows, error)) == NULL ||
      (dh = scratch (stream, h->ndim, h->shape, error)) == NULL)
    return FALSE;
  if (dx != NULL &&
      ((dx_base = scratch (stream, x->ndim, x->shape, error)) == NULL ||
       (dx_lora = scratch (stream, x->ndim, x->shape, error)) == NULL))
    return FALSE;

  if (!self->conv)
    {
      g_autoptr(LkTensor) x2 = rows_view (x, rows);
      g_autoptr(LkTensor) dy2 = rows_view (dy, rows);

      /* dB [out, r] = dyᵀ h; dh = (α / r) · dy B; dA [r, in] = dhᵀ x. */
      if (!lk_op_gemm (stream, dy2, h, NULL, self->up_grad, &(LkGemmOptions) { TRUE, FALSE, 1.0f },
                       error) ||
          !lk_op_gemm (stream, dy2, self->up, NULL, dh,
                       &(LkGemmOptions) { FALSE, FALSE, self->scale }, error) ||
          !lk_op_gemm (stream, dh, x2, NULL, self->down_grad,
                       &(LkGemmOptions) { TRUE, FALSE, 1.0f }, error))
        return FALSE;
      if (dx != NULL)
        {
          g_autoptr(LkTensor) base2 = rows_view (dx_base, rows);
          g_autoptr(LkTensor) lora2 = rows_view (dx_lora, rows);

          if (!lk_op_gemm (stream, dy2, self->weight, NULL, base2, &LK_GEMM_OPTIONS_DEFAULT,
                           error) ||
              !lk_op_gemm (stream, dh, self->down, NULL, lora2, &LK_GEMM_OPTIONS_DEFAULT, error))
            return FALSE;
        }
    }
  else
    {
      LkConv2dOptions o = { 1, 0 };
      g_autoptr(LkTensor) dh_raw = scratch (stream, h->ndim, h->shape, error);

      if (dh_raw == NULL ||
          !lk_op_conv2d_backward (stream, h, self->up, dy, dh_raw, self->up_grad, NULL, &o,
                                  error) ||
          !lk_op_scale (stream, dh_raw, self->scale, dh, error) ||
          !lk_op_conv2d_backward (stream, x, self->down, dh, dx_lora, self->down_grad, NULL, &o,
                                  error) ||
          (dx != NULL &&
           !lk_op_conv2d_backward (stream, x, self->weight, dy, dx_base, NULL, NULL, &o, error)))
        return FALSE;
    }
  return dx == NULL || lk_op_add (stream, dx_base, dx_lora, dx, error);
}

gboolean
lk_lora_layer_step (LkLoraLayer          *self,
                    LkStream             *stream,
                    LkTensor             *stats,
                    const LkAdamWOptions *options,
                    GError              **error)
{
  g_return_val_if_fail (self != NULL && stream != NULL && options != NULL, FALSE);

  return lk_op_adamw_step (stream, self->down, self->down_grad, self->moments[0],
                           self->moments[1], stats, options, error) &&
         lk_op_adamw_step (stream, self->up, self->up_grad, self->moments[2], self->moments[3],
                           stats, options, error);
}
