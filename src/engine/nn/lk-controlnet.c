/* lk-controlnet.c: SD1.x ControlNet — hint encoder, the UNet's encoder, zero convolutions — and
 * the sum of several units for one sampling step
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-controlnet"

#include "config.h"

#include <math.h>
#include <string.h>

#include "lk-controlnet.h"
#include "lk-control-image.h"
#include "lk-unet-private.h"

#define ARCHITECTURE "an SD1.x ControlNet"

/* The hint encoder: eight 3×3 convolutions with SiLU between them; these three halve the size. */
#define N_HINT_CONVS 8
static const guint hint_channels[N_HINT_CONVS] = { 16, 16, 32, 32, 96, 96, 256, 0 };
#define HINT_STRIDE(i) ((i) == 2 || (i) == 4 || (i) == 6 ? 2 : 1)

/* sd-webui-controlnet's soft injection: residual i of 13 weighs 0.825^(12 − i). */
#define SOFT_INJECTION_BASE 0.825

struct _LkControlNet
{
  gatomicrefcount  ref_count;

  /* owned, f16 on the device */
  LkUnetEncoder    encoder;
  LkTensor        *hint_w[N_HINT_CONVS], *hint_b[N_HINT_CONVS];
  LkTensor        *zero_w[LK_UNET_N_DOWN_RESIDUALS], *zero_b[LK_UNET_N_DOWN_RESIDUALS];
  LkTensor        *middle_out_w, *middle_out_b;
};

G_DEFINE_BOXED_TYPE (LkControlNet, lk_controlnet, lk_controlnet_ref, lk_controlnet_unref)

/* ControlNet's cldm.ControlNet.__init__ for SD1.x, tensor by tensor. */
static void
walk (LkUnetLoader *loader,
      LkControlNet *self)
{
  guint skip_channels[LK_UNET_N_DOWN_RESIDUALS];
  guint mc = self->encoder.config.model_channels, in = LK_CONTROLNET_HINT_CHANNELS;

  for (guint i = 0; i < N_HINT_CONVS; i++)
    {
      g_autofree char *name = g_strdup_printf ("input_hint_block.%u", 2 * i);
      guint out = i == N_HINT_CONVS - 1 ? mc : hint_channels[i];

      lk_unet_loader_take_conv (loader, "", name, &self->hint_w[i], &self->hint_b[i], out, in, 3);
      in = out;
    }
  lk_unet_walk_encoder (loader, &self->encoder, skip_channels);
  for (guint i = 0; i < LK_UNET_N_DOWN_RESIDUALS; i++)
    {
      g_autofree char *prefix = g_strdup_printf ("zero_convs.%u.", i);

      lk_unet_loader_take_conv (loader, prefix, "0", &self->zero_w[i], &self->zero_b[i],
                                skip_channels[i], skip_channels[i], 1);
    }
  lk_unet_loader_take_conv (loader, "middle_block_out.", "0", &self->middle_out_w,
                            &self->middle_out_b, 4 * mc, 4 * mc, 1);
}

static void
spec_clear (gpointer data)
{
  LkUnetTensorSpec *spec = data;

  g_free (spec->name);
}

GArray *
lk_controlnet_config_list_tensors (const LkUnetConfig *config)
{
  LkUnetLoader loader = { NULL, NULL, g_array_new (FALSE, TRUE, sizeof (LkUnetTensorSpec)), NULL,
                          LK_CONTROLNET_PREFIX, ARCHITECTURE, NULL, NULL };
  g_autoptr(LkControlNet) scratch = g_new0 (LkControlNet, 1);

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (config->model_channels > 0 && config->model_channels % 32 == 0, NULL);

  g_atomic_ref_count_init (&scratch->ref_count);
  scratch->encoder.config = *config;
  g_array_set_clear_func (loader.specs, spec_clear);
  walk (&loader, scratch);
  return loader.specs;
}

/* Which naming the file uses: canonical names with the prefix (rename NULL), the same without
 * it, or diffusers'; the latter two give a canonical → file name table. */
static gboolean
find_naming (LkWeights    *weights,
             GHashTable  **rename,
             GError      **error)
{
  static const char *const sdxl_names[] = {
    LK_CONTROLNET_PREFIX "label_emb.0.0.weight", "label_emb.0.0.weight",
    "add_embedding.linear_1.weight",
  };
  guint n = lk_weights_get_n_tensors (weights);
  gboolean bare, diffusers;

  for (guint i = 0; i < G_N_ELEMENTS (sdxl_names); i++)
    if (lk_weights_lookup (weights, sdxl_names[i]) != NULL)
      {
        g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                     "%s: an SDXL ControlNet (it has %s); only SD1.x ControlNets are supported",
                     lk_weights_get_path (weights), sdxl_names[i]);
        return FALSE;
      }

  *rename = NULL;
  if (lk_weights_lookup (weights, LK_CONTROLNET_PREFIX "input_hint_block.0.weight") != NULL)
    return TRUE;
  bare = lk_weights_lookup (weights, "input_hint_block.0.weight") != NULL;
  diffusers = lk_weights_lookup (weights, "controlnet_cond_embedding.conv_in.weight") != NULL;
  if (!bare && !diffusers)
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNKNOWN,
                   "%s is not a ControlNet: it has neither %sinput_hint_block.0.weight nor "
                   "controlnet_cond_embedding.conv_in.weight", lk_weights_get_path (weights),
                   LK_CONTROLNET_PREFIX);
      return FALSE;
    }

  *rename = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < n; i++)
    {
      const char *name = lk_weights_get_nth (weights, i)->name;
      char *canonical = bare ? g_strconcat (LK_CONTROLNET_PREFIX, name, NULL)
                             : lk_model_map_diffusers_controlnet (name);

      if (canonical != NULL)
        g_hash_table_insert (*rename, canonical, (gpointer) name);
    }
  return TRUE;
}

LkControlNet *
lk_controlnet_new (LkStream   *stream,
                   LkWeights  *weights,
                   GError    **error)
{
  LkWeightSource source = { weights, NULL };
  LkUnetLoader loader = { &source, stream, NULL, NULL, LK_CONTROLNET_PREFIX, ARCHITECTURE, NULL,
                          NULL };
  g_autoptr(LkControlNet) self = NULL;
  g_autoptr(GHashTable) rename = NULL;
  LkUnetConfig *config;

  g_return_val_if_fail (stream != NULL, NULL);
  g_return_val_if_fail (weights != NULL, NULL);

  if (!find_naming (weights, &rename, error))
    return NULL;
  loader.rename = rename;

  self = g_new0 (LkControlNet, 1);
  g_atomic_ref_count_init (&self->ref_count);
  config = &self->encoder.config;
  if (!lk_unet_detect_config (&loader, NULL, config, error))
    return NULL;
  /* SD2's shapes differ from SD1's in ways the shape checks would also catch, but saying what
   * the file is helps more than naming its first odd tensor. */
  if (config->context_dim == 1024)
    {
      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "%s: a ControlNet for SD2 (1024-wide cross attention); only SD1.x ControlNets "
                   "are supported", lk_weights_get_path (weights));
      return NULL;
    }
  walk (&loader, self);
  if (loader.error != NULL)
    {
      g_propagate_error (error, loader.error);
      return NULL;
    }
  return g_steal_pointer (&self);
}

LkControlNet *
lk_controlnet_open (LkStream    *stream,
                    const char  *path,
                    GError     **error)
{
  g_autoptr(LkWeights) weights = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  if ((weights = lk_weights_open (path, error)) == NULL)
    return NULL;
  return lk_controlnet_new (stream, weights, error);
}

LkControlNet *
lk_controlnet_ref (LkControlNet *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_controlnet_unref (LkControlNet *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  lk_unet_encoder_clear (&self->encoder);
  for (guint i = 0; i < N_HINT_CONVS; i++)
    {
      g_clear_pointer (&self->hint_w[i], lk_tensor_unref);
      g_clear_pointer (&self->hint_b[i], lk_tensor_unref);
    }
  for (guint i = 0; i < LK_UNET_N_DOWN_RESIDUALS; i++)
    {
      g_clear_pointer (&self->zero_w[i], lk_tensor_unref);
      g_clear_pointer (&self->zero_b[i], lk_tensor_unref);
    }
  g_clear_pointer (&self->middle_out_w, lk_tensor_unref);
  g_clear_pointer (&self->middle_out_b, lk_tensor_unref);
  g_free (self);
}

const LkUnetConfig *
lk_controlnet_get_config (LkControlNet *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return &self->encoder.config;
}

static gboolean
check_hint (LkTensor  *x,
            LkTensor  *hint,
            GError   **error)
{
  g_autofree char *dh = NULL, *dx = NULL;

  if (hint->ndim == 4 && (hint->shape[0] == 1 || hint->shape[0] == x->shape[0]) &&
      hint->shape[1] == LK_CONTROLNET_HINT_CHANNELS &&
      hint->shape[2] == LK_CONTROLNET_HINT_FACTOR * x->shape[2] &&
      hint->shape[3] == LK_CONTROLNET_HINT_FACTOR * x->shape[3])
    return TRUE;
  dh = lk_tensor_describe (hint);
  dx = lk_tensor_describe (x);
  g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
               "controlnet: control image %s does not fit latent %s: it must be [1 or B, 3, "
               "8·h, 8·w] (lk_controlnet_prepare_hint() resizes it)", dh, dx);
  return FALSE;
}

/* The hint encoder: control image → features added after conv_in. */
static LkTensor *
hint_forward (LkControlNet  *self,
              LkArena       *arena,
              LkStream      *stream,
              LkTensor      *hint,
              GError       **error)
{
  g_autoptr(LkTensor) h = lk_tensor_ref (hint);

  for (guint i = 0; i < N_HINT_CONVS; i++)
    {
      LkTensor *next = lk_graph_conv2d (arena, stream, h, self->hint_w[i], self->hint_b[i],
                                        HINT_STRIDE (i), error);

      if (next == NULL || (i + 1 < N_HINT_CONVS && !lk_op_silu (stream, next, next, error)))
        {
          g_clear_pointer (&next, lk_tensor_unref);
          return NULL;
        }
      lk_tensor_unref (h);
      h = next;
    }
  return g_steal_pointer (&h);
}

static void
tensor_unref_nullable (gpointer tensor)
{
  if (tensor != NULL)
    lk_tensor_unref (tensor);
}

/* A zero convolution, scaled. */
static LkTensor *
zero_conv (LkArena   *arena,
           LkStream  *stream,
           LkTensor  *x,
           LkTensor  *w,
           LkTensor  *b,
           float      scale,
           GError   **error)
{
  g_autoptr(LkTensor) y = lk_graph_conv2d (arena, stream, x, w, b, 1, error);

  if (y == NULL || (scale != 1.0f && !lk_op_scale (stream, y, scale, y, error)))
    return NULL;
  return g_steal_pointer (&y);
}

gboolean
lk_controlnet_forward (LkControlNet     *self,
                       LkStream         *stream,
                       LkTensor         *x,
                       LkTensor         *timesteps,
                       LkTensor         *context,
                       LkTensor         *hint,
                       const float      *scales,
                       LkUnetResiduals  *out,
                       GError          **error)
{
  g_autoptr(LkArena) arena = NULL;
  g_autoptr(LkTensor) emb = NULL, guided = NULL, mid = NULL;
  g_autoptr(GPtrArray) skips = NULL;
  LkUnetResiduals result = { { NULL } };

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (stream != NULL, FALSE);
  g_return_val_if_fail (x != NULL && timesteps != NULL && context != NULL && hint != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (!lk_unet_check_inputs (&self->encoder.config, "controlnet", x, timesteps, context, error) ||
      !check_hint (x, hint, error))
    return FALSE;

  /* The residuals keep the arena alive until the UNet has used them. */
  arena = lk_arena_new (lk_stream_get_context (stream));
  skips = g_ptr_array_new_with_free_func (tensor_unref_nullable);
  if ((emb = lk_unet_encoder_embed (&self->encoder, arena, stream, timesteps, error)) == NULL ||
      (guided = hint_forward (self, arena, stream, hint, error)) == NULL ||
      (mid = lk_unet_encoder_forward (&self->encoder, arena, stream, x, emb, context, guided,
                                      skips, error)) == NULL)
    return FALSE;
  g_clear_pointer (&guided, lk_tensor_unref);
  g_assert (skips->len == LK_UNET_N_DOWN_RESIDUALS);

  for (guint i = 0; i < LK_UNET_N_DOWN_RESIDUALS; i++)
    {
      result.down[i] = zero_conv (arena, stream, g_ptr_array_index (skips, i), self->zero_w[i],
                                  self->zero_b[i], scales != NULL ? scales[i] : 1.0f, error);
      if (result.down[i] == NULL)
        {
          lk_unet_residuals_clear (&result);
          return FALSE;
        }
      /* Done with this skip: its memory goes to the next convolutions. */
      g_clear_pointer (&g_ptr_array_index (skips, i), lk_tensor_unref);
    }
  result.middle = zero_conv (arena, stream, mid, self->middle_out_w, self->middle_out_b,
                             scales != NULL ? scales[LK_UNET_N_DOWN_RESIDUALS] : 1.0f, error);
  if (result.middle == NULL)
    {
      lk_unet_residuals_clear (&result);
      return FALSE;
    }
  *out = result;
  return TRUE;
}

LkTensor *
lk_controlnet_prepare_hint (LkStream      *stream,
                            const guint8  *rgb,
                            guint          image_width,
                            guint          image_height,
                            gsize          stride,
                            guint          width,
                            guint          height,
                            GError       **error)
{
  g_autofree guint8 *resized = NULL;
  g_autofree float *planar = NULL;
  g_autoptr(LkTensor) hint = NULL;
  const guint8 *src = rgb;
  gsize plane = (gsize) width * height;

  g_return_val_if_fail (stream != NULL && rgb != NULL, NULL);
  g_return_val_if_fail (image_width > 0 && image_height > 0 && width > 0 && height > 0, NULL);

  if (image_width != width || image_height != height)
    {
      resized = lk_control_just_resize (rgb, image_width, image_height, stride, width, height);
      src = resized;
      stride = (gsize) width * 3;
    }
  planar = g_new (float, 3 * plane);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      for (guint c = 0; c < 3; c++)
        planar[c * plane + (gsize) y * width + x] = src[y * stride + 3 * x + c] / 255.0f;

  hint = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F32, 4,
                        (gint64[]) { 1, 3, height, width }, error);
  if (hint == NULL || !lk_tensor_upload_f32 (hint, stream, planar, error))
    return NULL;
  return g_steal_pointer (&hint);
}

/* ---- units ------------------------------------------------------------------------------- */

static const char *const mode_names[] = {
  [LK_CONTROL_MODE_BALANCED] = "balanced",
  [LK_CONTROL_MODE_PROMPT] = "prompt",
  [LK_CONTROL_MODE_CONTROL] = "control",
};

const char *
lk_control_mode_to_string (LkControlMode mode)
{
  g_return_val_if_fail (mode <= LK_CONTROL_MODE_CONTROL, NULL);
  return mode_names[mode];
}

gboolean
lk_control_mode_from_string (const char    *name,
                             LkControlMode *mode)
{
  g_return_val_if_fail (name != NULL && mode != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (mode_names); i++)
    if (g_ascii_strcasecmp (name, mode_names[i]) == 0)
      {
        *mode = i;
        return TRUE;
      }
  /* A1111's labels, as its API and infotext write them. */
  if (g_ascii_strcasecmp (name, "My prompt is more important") == 0)
    *mode = LK_CONTROL_MODE_PROMPT;
  else if (g_ascii_strcasecmp (name, "ControlNet is more important") == 0)
    *mode = LK_CONTROL_MODE_CONTROL;
  else
    return FALSE;
  return TRUE;
}

void
lk_control_unit_scales (const LkControlUnit *unit,
                        gboolean             conditional,
                        float               *scales)
{
  g_return_if_fail (unit != NULL && scales != NULL);

  for (guint i = 0; i <= LK_UNET_N_DOWN_RESIDUALS; i++)
    {
      double soft = unit->mode == LK_CONTROL_MODE_BALANCED
                      ? 1.0 : pow (SOFT_INJECTION_BASE, (double) (LK_UNET_N_DOWN_RESIDUALS - i));

      scales[i] = unit->mode == LK_CONTROL_MODE_CONTROL && !conditional
                    ? 0.0f : (float) (unit->weight * soft);
    }
}

gboolean
lk_control_unit_is_active (const LkControlUnit *unit,
                           float                fraction)
{
  g_return_val_if_fail (unit != NULL, FALSE);
  return fraction >= unit->start && fraction <= unit->end && unit->weight != 0.0f;
}

/* x's first @channels channels, copied (an inpainting UNet's latent for a 4-channel
 * ControlNet, as A1111 does). */
static LkTensor *
leading_channels (LkStream  *stream,
                  LkTensor  *x,
                  guint      channels,
                  GError   **error)
{
  gint64 batch = x->shape[0], hw = x->shape[2] * x->shape[3];
  g_autoptr(LkTensor) y = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F32, 4,
                                         (gint64[]) { batch, channels, x->shape[2], x->shape[3] },
                                         error);

  if (y == NULL)
    return NULL;
  for (gint64 b = 0; b < batch; b++)
    {
      gint64 shape[1] = { channels * hw };
      g_autoptr(LkTensor) from = lk_tensor_view (x, 1, shape, b * x->shape[1] * hw);
      g_autoptr(LkTensor) to = lk_tensor_view (y, 1, shape, b * channels * hw);

      if (!lk_op_scale (stream, from, 1.0f, to, error))
        return NULL;
    }
  return g_steal_pointer (&y);
}

/* Zeroes the batch entries of @t that are not conditional. */
static gboolean
zero_unconditional (LkStream        *stream,
                    LkTensor        *t,
                    const gboolean  *conditional,
                    GError         **error)
{
  gint64 per = lk_tensor_numel (t) / t->shape[0];

  for (gint64 b = 0; b < t->shape[0]; b++)
    if (!conditional[b])
      {
        g_autoptr(LkTensor) entry = lk_tensor_view (t, 1, &per, b * per);

        if (!lk_op_scale (stream, entry, 0.0f, entry, error))
          return FALSE;
      }
  return TRUE;
}

/* total += part, or total = part when there is none yet; takes part. */
static gboolean
accumulate (LkStream   *stream,
            LkTensor  **total,
            LkTensor   *part,
            GError    **error)
{
  g_autoptr(LkTensor) owned = part;

  if (*total == NULL)
    {
      *total = g_steal_pointer (&owned);
      return TRUE;
    }
  return lk_op_add (stream, *total, owned, *total, error);
}

gboolean
lk_control_units_apply (const LkControlUnit  *units,
                        guint                 n_units,
                        LkStream             *stream,
                        LkTensor             *x,
                        LkTensor             *timesteps,
                        LkTensor             *context,
                        const gboolean       *conditional,
                        float                 fraction,
                        LkUnetResiduals      *out,
                        GError              **error)
{
  g_return_val_if_fail (units != NULL || n_units == 0, FALSE);
  g_return_val_if_fail (stream != NULL && x != NULL && out != NULL, FALSE);

  lk_unet_residuals_clear (out);
  for (guint u = 0; u < n_units; u++)
    {
      const LkControlUnit *unit = &units[u];
      guint in_channels;
      g_autoptr(LkTensor) x_in = NULL;
      LkUnetResiduals part = { { NULL } };
      float scales[LK_UNET_N_DOWN_RESIDUALS + 1];
      gboolean ok = TRUE;

      if (!lk_control_unit_is_active (unit, fraction))
        continue;
      in_channels = lk_controlnet_get_config (unit->net)->in_channels;
      if (x->ndim == 4 && x->shape[1] > in_channels)
        x_in = leading_channels (stream, x, in_channels, error);
      else
        x_in = lk_tensor_ref (x);
      lk_control_unit_scales (unit, TRUE, scales);
      if (x_in == NULL ||
          !lk_controlnet_forward (unit->net, stream, x_in, timesteps, context, unit->hint, scales,
                                  &part, error))
        {
          lk_unet_residuals_clear (out);
          return FALSE;
        }
      for (guint i = 0; i <= LK_UNET_N_DOWN_RESIDUALS; i++)
        {
          LkTensor **slot = i < LK_UNET_N_DOWN_RESIDUALS ? &part.down[i] : &part.middle;
          LkTensor **total = i < LK_UNET_N_DOWN_RESIDUALS ? &out->down[i] : &out->middle;

          if (ok && unit->mode == LK_CONTROL_MODE_CONTROL && conditional != NULL)
            ok = zero_unconditional (stream, *slot, conditional, error);
          if (ok)
            ok = accumulate (stream, total, g_steal_pointer (slot), error);
        }
      lk_unet_residuals_clear (&part);
      if (!ok)
        {
          lk_unet_residuals_clear (out);
          return FALSE;
        }
    }
  return TRUE;
}
