/* lk-esrgan.c: a Keras layers-model runner for UpscalerJS's ESRGAN models
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-esrgan.h"
#include "lk-blazeface.h"
#include "io/lk-tfjs.h"
#include "ops/lk-ops-vision.h"

typedef enum
{
  LAYER_INPUT,
  LAYER_CONV,
  LAYER_RELU,
  LAYER_CONCAT,
  LAYER_ADD,
  LAYER_UPSAMPLE,
} LayerKind;

typedef struct
{
  char       *name;
  LayerKind   kind;
  guint       inputs[16];
  guint       n_inputs;
  LkTensor   *w;       /* conv kernel [k, k, Cin, Cout]; for UPSAMPLE the identity kernel */
  LkTensor   *bias;
  LkVisionAct act;
  guint       kernel;
  guint       size;    /* UpSampling2D factor */
} Layer;

struct _LkEsrgan
{
  LkContext *context;
  LkArena   *arena;
  GArray    *layers;   /* of Layer, in the config's (topological) order */
  guint      output;
  guint      scale;
};

static void
layer_clear (Layer *layer)
{
  g_free (layer->name);
  g_clear_pointer (&layer->w, lk_tensor_unref);
  g_clear_pointer (&layer->bias, lk_tensor_unref);
}

void
lk_esrgan_free (LkEsrgan *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->layers, g_array_unref);
  g_clear_pointer (&self->arena, lk_arena_unref);
  g_free (self);
}

guint
lk_esrgan_get_scale (LkEsrgan *self)
{
  return self->scale;
}

static gboolean
invalid (GError     **error,
         const char  *path,
         const char  *layer,
         const char  *what)
{
  g_set_error (error, LK_FACE_ERROR, LK_FACE_ERROR_BAD_IMAGE, "%s: layer %s: %s", path,
               layer ? layer : "(unnamed)", what);
  return FALSE;
}

static gint
find_layer (LkEsrgan   *self,
            const char *name)
{
  for (guint i = 0; i < self->layers->len; i++)
    if (g_strcmp0 (g_array_index (self->layers, Layer, i).name, name) == 0)
      return (gint) i;
  return -1;
}

static gboolean
upload (LkEsrgan      *self,
        LkStream      *stream,
        const float   *data,
        guint          ndim,
        const gint64  *shape,
        LkTensor     **out,
        GError       **error)
{
  *out = lk_tensor_new (self->context, LK_DTYPE_F32, ndim, shape, error);
  return *out != NULL && lk_tensor_upload_f32 (*out, stream, data, error);
}

LkEsrgan *
lk_esrgan_new (LkContext   *context,
               const char  *model_path,
               GError     **error)
{
  g_autoptr(LkEsrgan) self = g_new0 (LkEsrgan, 1);
  g_autoptr(LkTfjsModel) model = NULL;
  g_autoptr(LkStream) stream = NULL;
  JsonObject *topology, *config;
  JsonArray *layers, *outputs;
  guint channels_of[512];

  self->context = context;
  self->arena = lk_arena_new (context);
  self->layers = g_array_new (FALSE, TRUE, sizeof (Layer));
  g_array_set_clear_func (self->layers, (GDestroyNotify) layer_clear);
  model = lk_tfjs_model_load (model_path, error);
  if (model == NULL)
    return NULL;
  topology = lk_tfjs_model_get_topology (model);
  if (lk_tfjs_model_get_format (model) != LK_TFJS_LAYERS_MODEL || topology == NULL)
    {
      invalid (error, model_path, NULL, "not a TF.js layers model");
      return NULL;
    }
  if (json_object_has_member (topology, "model_config"))
    topology = json_object_get_object_member (topology, "model_config");
  config = topology && json_object_has_member (topology, "config") ?
    json_object_get_object_member (topology, "config") : NULL;
  layers = config && json_object_has_member (config, "layers") ?
    json_object_get_array_member (config, "layers") : NULL;
  outputs = config && json_object_has_member (config, "output_layers") ?
    json_object_get_array_member (config, "output_layers") : NULL;
  if (layers == NULL || outputs == NULL || json_array_get_length (outputs) != 1 ||
      json_array_get_length (layers) > G_N_ELEMENTS (channels_of))
    {
      invalid (error, model_path, NULL, "no Keras config with layers and one output");
      return NULL;
    }
  stream = lk_stream_new (context, error);
  if (stream == NULL)
    return NULL;

  for (guint i = 0; i < json_array_get_length (layers); i++)
    {
      JsonObject *lo = json_array_get_object_element (layers, i);
      const char *cls = lo ? lk_tfjs_json_string (json_object_get_member (lo, "class_name")) : NULL;
      JsonObject *lc = lo && json_object_has_member (lo, "config") ?
        json_object_get_object_member (lo, "config") : NULL;
      const char *name = lo ? lk_tfjs_json_string (json_object_get_member (lo, "name")) : NULL;
      JsonArray *inbound = lo && json_object_has_member (lo, "inbound_nodes") ?
        json_object_get_array_member (lo, "inbound_nodes") : NULL;
      Layer layer = { 0 };

      if (cls == NULL || lc == NULL || name == NULL || inbound == NULL)
        {
          invalid (error, model_path, name, "malformed layer");
          return NULL;
        }
      layer.name = g_strdup (name);
      /* Inputs: the first call's tensors, by layer name. */
      if (json_array_get_length (inbound) > 0)
        {
          JsonArray *call = json_array_get_array_element (inbound, 0);

          for (guint k = 0; call != NULL && k < json_array_get_length (call); k++)
            {
              JsonArray *ref = json_array_get_array_element (call, k);
              const char *src = ref ? lk_tfjs_json_string (json_array_get_element (ref, 0)) : NULL;
              gint at = src ? find_layer (self, src) : -1;

              if (at < 0 || layer.n_inputs == G_N_ELEMENTS (layer.inputs))
                {
                  layer_clear (&layer);
                  invalid (error, model_path, name, "unknown or too many inputs");
                  return NULL;
                }
              layer.inputs[layer.n_inputs++] = (guint) at;
            }
        }
      if (g_str_equal (cls, "InputLayer"))
        {
          layer.kind = LAYER_INPUT;
          channels_of[i] = 3;
        }
      else if (g_str_equal (cls, "Conv2D"))
        {
          const char *act = lk_tfjs_json_string (json_object_get_member (lc, "activation"));
          const char *padding = lk_tfjs_json_string (json_object_get_member (lc, "padding"));
          JsonArray *ks = json_object_get_array_member (lc, "kernel_size");
          JsonArray *st = json_object_get_array_member (lc, "strides");
          g_autofree char *kn = g_strconcat (name, "/kernel", NULL);
          g_autofree char *bn = g_strconcat (name, "/bias", NULL);
          gint64 cout = json_object_get_int_member (lc, "filters");
          const LkTfjsTensor *k, *b;

          layer.kind = LAYER_CONV;
          layer.kernel = ks ? (guint) json_array_get_int_element (ks, 0) : 0;
          if (layer.n_inputs != 1 || ks == NULL || st == NULL ||
              json_array_get_int_element (ks, 1) != layer.kernel || layer.kernel % 2 == 0 ||
              json_array_get_int_element (st, 0) != 1 || json_array_get_int_element (st, 1) != 1 ||
              (g_strcmp0 (padding, "same") != 0 && layer.kernel != 1) ||
              (g_strcmp0 (act, "linear") != 0 && g_strcmp0 (act, "relu") != 0))
            {
              layer_clear (&layer);
              invalid (error, model_path, name, "unsupported Conv2D (odd square kernel, stride 1, "
                       "same padding, linear or relu only)");
              return NULL;
            }
          layer.act = g_str_equal (act, "relu") ? LK_VISION_ACT_RELU : LK_VISION_ACT_NONE;
          {
            gint64 ws[4] = { layer.kernel, layer.kernel, channels_of[layer.inputs[0]], cout };
            gint64 bs[1] = { cout };

            if ((k = lk_tfjs_model_get_shaped (model, kn, 4, ws, error)) == NULL ||
                (b = lk_tfjs_model_get_shaped (model, bn, 1, bs, error)) == NULL ||
                !upload (self, stream, k->data, 4, ws, &layer.w, error) ||
                !upload (self, stream, b->data, 1, bs, &layer.bias, error))
              {
                layer_clear (&layer);
                return NULL;
              }
          }
          channels_of[i] = (guint) cout;
        }
      else if (g_str_equal (cls, "Activation"))
        {
          if (g_strcmp0 (lk_tfjs_json_string (json_object_get_member (lc, "activation")),
                         "relu") != 0 || layer.n_inputs != 1)
            {
              layer_clear (&layer);
              invalid (error, model_path, name, "only ReLU activations are supported");
              return NULL;
            }
          layer.kind = LAYER_RELU;
          channels_of[i] = channels_of[layer.inputs[0]];
        }
      else if (g_str_equal (cls, "Concatenate") || g_str_equal (cls, "Add"))
        {
          gboolean concat = g_str_equal (cls, "Concatenate");

          if (layer.n_inputs < 2 ||
              (concat && json_object_has_member (lc, "axis") &&
               json_object_get_int_member (lc, "axis") != -1 &&
               json_object_get_int_member (lc, "axis") != 3))
            {
              layer_clear (&layer);
              invalid (error, model_path, name, "two or more inputs (channels axis) expected");
              return NULL;
            }
          layer.kind = concat ? LAYER_CONCAT : LAYER_ADD;
          channels_of[i] = channels_of[layer.inputs[0]];
          for (guint k = 1; concat && k < layer.n_inputs; k++)
            channels_of[i] += channels_of[layer.inputs[k]];
        }
      else if (g_str_equal (cls, "UpSampling2D"))
        {
          JsonArray *size = json_object_get_array_member (lc, "size");
          const char *interp = lk_tfjs_json_string (json_object_get_member (lc, "interpolation"));
          guint c = layer.n_inputs == 1 ? channels_of[layer.inputs[0]] : 0;

          layer.kind = LAYER_UPSAMPLE;
          layer.size = size ? (guint) json_array_get_int_element (size, 0) : 0;
          if (size == NULL || json_array_get_int_element (size, 1) != layer.size ||
              layer.size < 2 || layer.size > 8 || c == 0 ||
              (interp != NULL && !g_str_equal (interp, "nearest")))
            {
              layer_clear (&layer);
              invalid (error, model_path, name, "only square nearest UpSampling2D is supported");
              return NULL;
            }
          /* Nearest upsampling is exactly a transposed convolution with a size × size kernel
           * at stride size whose every tap is the identity on channels. */
          {
            gint64 ws[4] = { layer.size, layer.size, c, c };
            g_autofree float *identity = g_new0 (float, (gsize) layer.size * layer.size * c * c);

            for (guint t = 0; t < layer.size * layer.size; t++)
              for (guint ch = 0; ch < c; ch++)
                identity[((gsize) t * c + ch) * c + ch] = 1.0f;
            if (!upload (self, stream, identity, 4, ws, &layer.w, error))
              {
                layer_clear (&layer);
                return NULL;
              }
          }
          self->scale = self->scale ? self->scale * layer.size : layer.size;
          channels_of[i] = c;
        }
      else
        {
          g_autofree char *what = g_strdup_printf ("unsupported layer class %s", cls);

          layer_clear (&layer);
          invalid (error, model_path, name, what);
          return NULL;
        }
      g_array_append_val (self->layers, layer);
    }
  {
    JsonArray *ref = json_array_get_array_element (outputs, 0);
    const char *out = ref ? lk_tfjs_json_string (json_array_get_element (ref, 0)) : NULL;
    gint at = out ? find_layer (self, out) : -1;

    if (at < 0 || channels_of[at] != 3 || self->scale == 0)
      {
        invalid (error, model_path, out, "the output must be an upscaled 3-channel layer");
        return NULL;
      }
    self->output = (guint) at;
  }
  if (!lk_stream_finish (stream, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* Concatenate and Add with more than two inputs: folded left, two at a time. */
static LkTensor *
run_nary (LkEsrgan   *self,
          LkStream   *stream,
          Layer      *layer,
          LkTensor  **values,
          GError    **error)
{
  g_autoptr(LkTensor) acc = lk_tensor_ref (values[layer->inputs[0]]);

  for (guint k = 1; k < layer->n_inputs; k++)
    {
      LkTensor *b = values[layer->inputs[k]];
      gint64 shape[4] = { 1, acc->shape[1], acc->shape[2], acc->shape[3] };
      g_autoptr(LkTensor) y = NULL;
      gboolean ok;

      if (layer->kind == LAYER_CONCAT)
        shape[3] += b->shape[3];
      y = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, shape, error);
      if (y == NULL)
        return NULL;
      ok = layer->kind == LAYER_CONCAT ? lk_op_vision_concat (stream, acc, b, y, error) :
                                         lk_op_add (stream, acc, b, y, error);
      if (!ok)
        return NULL;
      g_clear_pointer (&acc, lk_tensor_unref);
      acc = g_steal_pointer (&y);
    }
  return g_steal_pointer (&acc);
}

static LkTensor *
run_layer (LkEsrgan   *self,
           LkStream   *stream,
           Layer      *layer,
           LkTensor  **values,
           GError    **error)
{
  LkTensor *x = values[layer->inputs[0]];
  LkTensor *b = layer->n_inputs > 1 ? values[layer->inputs[1]] : NULL;
  gint64 shape[4] = { 1, x->shape[1], x->shape[2], x->shape[3] };
  g_autoptr(LkTensor) y = NULL;
  gboolean ok = FALSE;

  if ((layer->kind == LAYER_CONCAT || layer->kind == LAYER_ADD) && layer->n_inputs > 2)
    return run_nary (self, stream, layer, values, error);
  switch (layer->kind)
    {
    case LAYER_CONV:
      shape[3] = layer->w->shape[3];
      break;
    case LAYER_CONCAT:
      shape[3] += b->shape[3];
      break;
    case LAYER_UPSAMPLE:
      shape[1] *= layer->size;
      shape[2] *= layer->size;
      break;
    default:
      break;
    }
  y = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, shape, error);
  if (y == NULL)
    return NULL;
  switch (layer->kind)
    {
    case LAYER_CONV:
      {
        gint pad = (gint) layer->kernel / 2;
        LkVisionWindow window = { 1, 1, 1, 1, pad, pad };

        ok = lk_op_vision_conv2d (stream, x, layer->w, layer->bias, NULL, layer->act, y, &window,
                                  error);
      }
      break;
    case LAYER_RELU:
      ok = lk_op_vision_activation (stream, LK_VISION_ACT_RELU, x, NULL, y, error);
      break;
    case LAYER_CONCAT:
      ok = lk_op_vision_concat (stream, x, b, y, error);
      break;
    case LAYER_ADD:
      ok = lk_op_add (stream, x, b, y, error);
      break;
    case LAYER_UPSAMPLE:
      {
        LkVisionWindow window = { layer->size, layer->size, 1, 1, 0, 0 };

        ok = lk_op_vision_conv2d_transpose (stream, x, layer->w, NULL, NULL, LK_VISION_ACT_NONE,
                                            y, &window, error);
      }
      break;
    case LAYER_INPUT:
    default:
      g_assert_not_reached ();
    }
  return ok ? g_steal_pointer (&y) : NULL;
}

float *
lk_esrgan_run (LkEsrgan     *self,
               LkStream     *stream,
               const float  *input,
               guint         width,
               guint         height,
               GError      **error)
{
  guint n = self->layers->len;
  g_autofree LkTensor **values = g_new0 (LkTensor *, n);
  g_autofree guint *last_use = g_new0 (guint, n);
  gint64 shape[4] = { 1, height, width, 3 };
  float *out = NULL;
  gboolean ok = TRUE;

  if (width == 0 || height == 0)
    {
      g_set_error (error, LK_FACE_ERROR, LK_FACE_ERROR_BAD_IMAGE, "ESRGAN: empty input");
      return NULL;
    }
  /* Free each activation after its last reader: the arena then reuses its buffer. */
  for (guint i = 0; i < n; i++)
    {
      Layer *layer = &g_array_index (self->layers, Layer, i);

      for (guint k = 0; k < layer->n_inputs; k++)
        last_use[layer->inputs[k]] = i;
    }
  for (guint i = 0; i < n && ok; i++)
    {
      Layer *layer = &g_array_index (self->layers, Layer, i);

      if (layer->kind == LAYER_INPUT)
        {
          values[i] = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, shape, error);
          ok = values[i] != NULL && lk_tensor_upload_f32 (values[i], stream, input, error);
        }
      else
        ok = (values[i] = run_layer (self, stream, layer, values, error)) != NULL;
      for (guint k = 0; ok && k < layer->n_inputs; k++)
        if (last_use[layer->inputs[k]] == i && layer->inputs[k] != self->output)
          g_clear_pointer (&values[layer->inputs[k]], lk_tensor_unref);
    }
  if (ok)
    {
      out = g_new (float, (gsize) width * self->scale * height * self->scale * 3);
      if (!lk_tensor_download_f32 (values[self->output], stream, out, error))
        g_clear_pointer (&out, g_free);
    }
  for (guint i = 0; i < n; i++)
    g_clear_pointer (&values[i], lk_tensor_unref);
  return out;
}

/* Weight of input coordinate @i within a tile [start, start + len) of an image of @total: a
 * linear ramp over the overlap on sides that have a neighbour, 1 elsewhere. */
static float
ramp (float  i,
      guint  start,
      guint  len,
      guint  total,
      guint  overlap)
{
  float w = 1.0f;

  if (overlap == 0)
    return w;
  if (start > 0)
    w = MIN (w, (i - start + 0.5f) / overlap);
  if (start + len < total)
    w = MIN (w, (start + len - i - 0.5f) / overlap);
  return CLAMP (w, 1e-3f, 1.0f);
}

LkImage *
lk_esrgan_upscale (LkEsrgan      *self,
                   LkStream      *stream,
                   const LkImage *image,
                   guint          tile,
                   guint          overlap,
                   GError       **error)
{
  guint s = self->scale, W, H, step;
  g_autofree float *acc = NULL;
  g_autofree float *weight = NULL;
  LkImage *out;

  if (image == NULL || image->channels < 3 || image->width == 0 || image->height == 0)
    {
      g_set_error (error, LK_FACE_ERROR, LK_FACE_ERROR_BAD_IMAGE,
                   "ESRGAN needs a non-empty RGB image");
      return NULL;
    }
  if (tile == 0)
    tile = 128;
  if (overlap == 0)
    overlap = 16;
  if (overlap * 2 >= tile)
    overlap = tile / 4;
  W = image->width * s;
  H = image->height * s;
  if ((guint64) W * H > (guint64) 64 << 20)
    {
      g_set_error (error, LK_FACE_ERROR, LK_FACE_ERROR_BAD_IMAGE,
                   "ESRGAN: %u × %u upscaled by %u is too large", image->width, image->height, s);
      return NULL;
    }
  acc = g_new0 (float, (gsize) W * H * 3);
  weight = g_new0 (float, (gsize) W * H);
  step = tile - overlap;
  for (guint ty = 0; ty < image->height; ty += step)
    {
      guint th = MIN (tile, image->height - ty);

      for (guint tx = 0; tx < image->width; tx += step)
        {
          guint tw = MIN (tile, image->width - tx);
          g_autofree float *in = g_new (float, (gsize) tw * th * 3);
          g_autofree float *sr = NULL;

          for (guint y = 0; y < th; y++)
            for (guint x = 0; x < tw; x++)
              for (guint c = 0; c < 3; c++)
                in[((gsize) y * tw + x) * 3 + c] =
                  image->data[(gsize) (ty + y) * image->stride + (gsize) (tx + x) * image->channels +
                              c] / 255.0f;
          sr = lk_esrgan_run (self, stream, in, tw, th, error);
          if (sr == NULL)
            return NULL;
          for (guint y = 0; y < th * s; y++)
            {
              float wy = ramp (ty + (y + 0.5f) / s - 0.5f, ty, th, image->height, overlap);

              for (guint x = 0; x < tw * s; x++)
                {
                  float wx = ramp (tx + (x + 0.5f) / s - 0.5f, tx, tw, image->width, overlap);
                  gsize o = (gsize) (ty * s + y) * W + tx * s + x;

                  for (guint c = 0; c < 3; c++)
                    acc[o * 3 + c] += wx * wy * sr[((gsize) y * tw * s + x) * 3 + c];
                  weight[o] += wx * wy;
                }
            }
          if (tx + tw >= image->width)
            break;
        }
      if (ty + th >= image->height)
        break;
    }
  out = lk_image_new (W, H, 3);
  for (guint y = 0; y < H; y++)
    for (guint x = 0; x < W; x++)
      for (guint c = 0; c < 3; c++)
        {
          gsize o = (gsize) y * W + x;
          float v = acc[o * 3 + c] / weight[o];

          out->data[(gsize) y * out->stride + x * 3 + c] =
            (guint8) CLAMP (lroundf (v * 255.0f), 0, 255);
        }
  return out;
}
