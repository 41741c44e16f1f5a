/* lk-face-id.c: face-api's FaceRecognitionNet on the engine
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-face-id.h"
#include "lk-blazeface.h"
#include "io/lk-tfjs.h"
#include "ops/lk-ops-vision.h"

/* face-api's FaceRecognitionNet subtracts this mean (RGB, pixel units) and divides by 255. */
static const float id_mean[3] = { 122.782f, 117.001f, 104.298f };

typedef struct
{
  LkTensor *w;      /* [k, k, Cin, Cout], the scale layer folded in */
  LkTensor *bias;   /* [Cout] */
} ConvLayer;

/* The residual layers in order; "down" ones halve the size. */
static const struct
{
  const char *name;
  guint       cin, cout;
  gboolean    down;
} blocks[] = {
  { "conv32_1", 32, 32, FALSE }, { "conv32_2", 32, 32, FALSE }, { "conv32_3", 32, 32, FALSE },
  { "conv64_down", 32, 64, TRUE }, { "conv64_1", 64, 64, FALSE }, { "conv64_2", 64, 64, FALSE },
  { "conv64_3", 64, 64, FALSE },
  { "conv128_down", 64, 128, TRUE }, { "conv128_1", 128, 128, FALSE },
  { "conv128_2", 128, 128, FALSE },
  { "conv256_down", 128, 256, TRUE }, { "conv256_1", 256, 256, FALSE },
  { "conv256_2", 256, 256, FALSE }, { "conv256_down_out", 256, 256, TRUE },
};

struct _LkFaceIdNet
{
  LkContext *context;
  LkArena   *arena;
  ConvLayer  stem;
  ConvLayer  convs[G_N_ELEMENTS (blocks)][2];
  LkTensor  *fc;     /* [256, 128] */
};

static void
conv_layer_clear (ConvLayer *layer)
{
  g_clear_pointer (&layer->w, lk_tensor_unref);
  g_clear_pointer (&layer->bias, lk_tensor_unref);
}

void
lk_face_id_net_free (LkFaceIdNet *self)
{
  if (self == NULL)
    return;
  conv_layer_clear (&self->stem);
  for (guint i = 0; i < G_N_ELEMENTS (blocks); i++)
    for (guint j = 0; j < 2; j++)
      conv_layer_clear (&self->convs[i][j]);
  g_clear_pointer (&self->fc, lk_tensor_unref);
  g_clear_pointer (&self->arena, lk_arena_unref);
  g_free (self);
}

/* conv + bias, then face-api's scale layer (x · weights + biases per channel): folded into one
 * convolution, w' = w · s and b' = b · s + t. */
static gboolean
load_conv (LkFaceIdNet  *self,
           LkStream     *stream,
           LkTfjsModel  *model,
           const char   *prefix,
           gint64        kernel,
           gint64        cin,
           gint64        cout,
           ConvLayer    *layer,
           GError      **error)
{
  g_autofree char *wn = g_strconcat (prefix, "/conv/filters", NULL);
  g_autofree char *bn = g_strconcat (prefix, "/conv/bias", NULL);
  g_autofree char *sn = g_strconcat (prefix, "/scale/weights", NULL);
  g_autofree char *tn = g_strconcat (prefix, "/scale/biases", NULL);
  gint64 w_shape[4] = { kernel, kernel, cin, cout };
  gint64 c_shape[1] = { cout };
  const LkTfjsTensor *w, *b, *s, *t;
  g_autofree float *folded = NULL;
  g_autofree float *bias = NULL;
  gint64 n = kernel * kernel * cin * cout;

  if ((w = lk_tfjs_model_get_shaped (model, wn, 4, w_shape, error)) == NULL ||
      (b = lk_tfjs_model_get_shaped (model, bn, 1, c_shape, error)) == NULL ||
      (s = lk_tfjs_model_get_shaped (model, sn, 1, c_shape, error)) == NULL ||
      (t = lk_tfjs_model_get_shaped (model, tn, 1, c_shape, error)) == NULL)
    return FALSE;
  folded = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    folded[i] = w->data[i] * s->data[i % cout];
  bias = g_new (float, cout);
  for (gint64 o = 0; o < cout; o++)
    bias[o] = b->data[o] * s->data[o] + t->data[o];
  layer->w = lk_tensor_new (self->context, LK_DTYPE_F32, 4, w_shape, error);
  if (layer->w == NULL || !lk_tensor_upload_f32 (layer->w, stream, folded, error))
    return FALSE;
  layer->bias = lk_tensor_new (self->context, LK_DTYPE_F32, 1, c_shape, error);
  return layer->bias != NULL && lk_tensor_upload_f32 (layer->bias, stream, bias, error);
}

LkFaceIdNet *
lk_face_id_net_new (LkContext   *context,
                    const char  *manifest_path,
                    GError     **error)
{
  g_autoptr(LkFaceIdNet) self = g_new0 (LkFaceIdNet, 1);
  g_autoptr(LkTfjsModel) model = NULL;
  g_autoptr(LkStream) stream = NULL;

  self->context = context;
  self->arena = lk_arena_new (context);
  model = lk_tfjs_model_load (manifest_path, error);
  if (model == NULL)
    return NULL;
  stream = lk_stream_new (context, error);
  if (stream == NULL)
    return NULL;
  if (!load_conv (self, stream, model, "conv32_down", 7, 3, 32, &self->stem, error))
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (blocks); i++)
    {
      g_autofree char *p1 = g_strconcat (blocks[i].name, "/conv1", NULL);
      g_autofree char *p2 = g_strconcat (blocks[i].name, "/conv2", NULL);

      if (!load_conv (self, stream, model, p1, 3, blocks[i].cin, blocks[i].cout,
                      &self->convs[i][0], error) ||
          !load_conv (self, stream, model, p2, 3, blocks[i].cout, blocks[i].cout,
                      &self->convs[i][1], error))
        return NULL;
    }
  {
    gint64 fc_shape[2] = { 256, LK_FACE_ID_DIM };
    const LkTfjsTensor *fc = lk_tfjs_model_get_shaped (model, "fc", 2, fc_shape, error);

    if (fc == NULL)
      return NULL;
    self->fc = lk_tensor_new (context, LK_DTYPE_F32, 2, fc_shape, error);
    if (self->fc == NULL || !lk_tensor_upload_f32 (self->fc, stream, fc->data, error))
      return NULL;
  }
  if (!lk_stream_finish (stream, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* A convolution with face-api's padding rule: "valid" at stride 2, "same" at stride 1. */
static LkTensor *
conv (LkFaceIdNet     *self,
      LkStream        *stream,
      LkTensor        *x,
      const ConvLayer *layer,
      guint            stride,
      LkVisionAct      act,
      GError         **error)
{
  LkVisionPadMode mode = stride == 2 ? LK_VISION_PAD_VALID : LK_VISION_PAD_SAME;
  gint64 kernel = layer->w->shape[0];
  gint64 before_h, after_h, ho, before_w, after_w, wo;
  LkVisionWindow window;
  g_autoptr(LkTensor) y = NULL;

  if (!lk_vision_out_size (mode, x->shape[1], kernel, stride, 1, &before_h, &after_h, &ho) ||
      !lk_vision_out_size (mode, x->shape[2], kernel, stride, 1, &before_w, &after_w, &wo))
    {
      g_set_error (error, LK_FACE_ERROR, LK_FACE_ERROR_BAD_IMAGE,
                   "Face-ID input too small for a %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                   " convolution", kernel, kernel);
      return NULL;
    }
  window = (LkVisionWindow) { stride, stride, 1, 1, (gint) before_h, (gint) before_w };
  {
    gint64 shape[4] = { 1, ho, wo, layer->w->shape[3] };

    y = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, shape, error);
  }
  if (y == NULL ||
      !lk_op_vision_conv2d (stream, x, layer->w, layer->bias, NULL, act, y, &window, error))
    return NULL;
  return g_steal_pointer (&y);
}

static LkTensor *
pad (LkFaceIdNet  *self,
     LkStream     *stream,
     LkTensor     *x,
     gint64        bottom,
     gint64        right,
     gint64        channels,
     GError      **error)
{
  const gint64 pads[4][2] = { { 0, 0 }, { 0, bottom }, { 0, right }, { 0, channels } };
  gint64 shape[4] = { 1, x->shape[1] + bottom, x->shape[2] + right, x->shape[3] + channels };
  g_autoptr(LkTensor) y = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, shape, error);

  if (y == NULL || !lk_op_vision_pad (stream, x, pads, 0.0f, y, error))
    return NULL;
  return g_steal_pointer (&y);
}

/* face-api's residual and residualDown: the shortcut of a down block is a 2×2 average pool,
 * zero-padded in channels; the branch is zero-padded at the bottom and right when the "valid"
 * stride-2 convolution came out one pixel short of the pool. */
static LkTensor *
residual (LkFaceIdNet  *self,
          LkStream     *stream,
          LkTensor     *x,
          guint         index,
          GError      **error)
{
  gboolean down = blocks[index].down;
  g_autoptr(LkTensor) a = NULL, b = NULL, shortcut = NULL, sum = NULL, y = NULL;

  a = conv (self, stream, x, &self->convs[index][0], down ? 2 : 1, LK_VISION_ACT_RELU, error);
  if (a == NULL)
    return NULL;
  b = conv (self, stream, a, &self->convs[index][1], 1, LK_VISION_ACT_NONE, error);
  if (b == NULL)
    return NULL;
  if (down)
    {
      gint64 shape[4] = { 1, x->shape[1] / 2, x->shape[2] / 2, x->shape[3] };
      LkVisionWindow window = { 2, 2, 1, 1, 0, 0 };
      g_autoptr(LkTensor) pooled = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, shape, error);

      if (pooled == NULL ||
          !lk_op_vision_pool (stream, LK_VISION_POOL_AVG, x, pooled, 2, 2, &window, error))
        return NULL;
      if (pooled->shape[3] != b->shape[3])
        shortcut = pad (self, stream, pooled, 0, 0, b->shape[3] - pooled->shape[3], error);
      else
        shortcut = g_steal_pointer (&pooled);
      if (shortcut == NULL)
        return NULL;
      if (shortcut->shape[1] != b->shape[1] || shortcut->shape[2] != b->shape[2])
        {
          LkTensor *padded = pad (self, stream, b, shortcut->shape[1] - b->shape[1],
                                  shortcut->shape[2] - b->shape[2], 0, error);

          if (padded == NULL)
            return NULL;
          lk_tensor_unref (b);
          b = padded;
        }
    }
  else
    shortcut = lk_tensor_ref (x);
  sum = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, b->shape, error);
  if (sum == NULL || !lk_op_add (stream, b, shortcut, sum, error))
    return NULL;
  y = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, b->shape, error);
  if (y == NULL || !lk_op_vision_activation (stream, LK_VISION_ACT_RELU, sum, NULL, y, error))
    return NULL;
  return g_steal_pointer (&y);
}

gboolean
lk_face_id_net_run (LkFaceIdNet  *self,
                    LkStream     *stream,
                    const float  *pixels,
                    float        *descriptor,
                    GError      **error)
{
  const gsize n = LK_FACE_ID_INPUT_SIZE * LK_FACE_ID_INPUT_SIZE;
  g_autofree float *normalized = g_new (float, n * 3);
  gint64 shape[4] = { 1, LK_FACE_ID_INPUT_SIZE, LK_FACE_ID_INPUT_SIZE, 3 };
  g_autoptr(LkTensor) x = NULL;
  g_autoptr(LkTensor) y = NULL;
  LkGemmOptions gemm = LK_GEMM_OPTIONS_DEFAULT;

  for (gsize i = 0; i < n * 3; i++)
    normalized[i] = (pixels[i] - id_mean[i % 3]) / 255.0f;
  x = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, shape, error);
  if (x == NULL || !lk_tensor_upload_f32 (x, stream, normalized, error))
    return FALSE;
  {
    g_autoptr(LkTensor) stem = conv (self, stream, x, &self->stem, 2, LK_VISION_ACT_RELU, error);
    gint64 ps[4];
    LkVisionWindow window = { 2, 2, 1, 1, 0, 0 };

    if (stem == NULL)
      return FALSE;
    ps[0] = 1;
    ps[1] = (stem->shape[1] - 3) / 2 + 1;
    ps[2] = (stem->shape[2] - 3) / 2 + 1;
    ps[3] = stem->shape[3];
    lk_tensor_unref (x);
    x = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, ps, error);
    if (x == NULL ||
        !lk_op_vision_pool (stream, LK_VISION_POOL_MAX, stem, x, 3, 3, &window, error))
      return FALSE;
  }
  for (guint i = 0; i < G_N_ELEMENTS (blocks); i++)
    {
      LkTensor *next = residual (self, stream, x, i, error);

      if (next == NULL)
        return FALSE;
      lk_tensor_unref (x);
      x = next;
    }
  {
    gint64 ms[4] = { 1, 1, 1, x->shape[3] };
    gint64 a_shape[2] = { 1, x->shape[3] };
    gint64 y_shape[2] = { 1, LK_FACE_ID_DIM };
    LkVisionWindow window = { 1, 1, 1, 1, 0, 0 };
    g_autoptr(LkTensor) mean = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, ms, error);
    g_autoptr(LkTensor) a = NULL;

    if (mean == NULL ||
        !lk_op_vision_pool (stream, LK_VISION_POOL_AVG, x, mean, (guint) x->shape[1],
                            (guint) x->shape[2], &window, error))
      return FALSE;
    a = lk_tensor_view (mean, 2, a_shape, 0);
    y = lk_arena_tensor (self->arena, LK_DTYPE_F32, 2, y_shape, error);
    if (y == NULL || !lk_op_gemm (stream, a, self->fc, NULL, y, &gemm, error))
      return FALSE;
  }
  return lk_tensor_download_f32 (y, stream, descriptor, error);
}

gboolean
lk_face_id_net_describe (LkFaceIdNet   *self,
                         LkStream      *stream,
                         const LkImage *image,
                         const float    box[4],
                         float         *descriptor,
                         GError       **error)
{
  const guint size = LK_FACE_ID_INPUT_SIZE;
  g_autofree float *pixels = g_new0 (float, size * size * 3);
  LkFaceSquare crop;

  return lk_face_crop_square (image, box, size, pixels, &crop, error) &&
         lk_face_id_net_run (self, stream, pixels, descriptor, error);
}

void
lk_face_id_aligned_box (const LkFaceLandmarks *landmarks,
                        float                  box[4])
{
  float x0 = G_MAXFLOAT, y0 = G_MAXFLOAT, x1 = -G_MAXFLOAT, y1 = -G_MAXFLOAT;

  for (guint i = 0; i < LK_FACE_LANDMARKS_N_POINTS; i++)
    {
      x0 = MIN (x0, landmarks->points[i][0]);
      y0 = MIN (y0, landmarks->points[i][1]);
      x1 = MAX (x1, landmarks->points[i][0]);
      y1 = MAX (y1, landmarks->points[i][1]);
    }
  box[0] = x0 - 0.1f * (x1 - x0);
  box[1] = y0 - 0.1f * (y1 - y0);
  box[2] = 1.2f * (x1 - x0);
  box[3] = 1.2f * (y1 - y0);
}

float
lk_face_id_distance (const float *a,
                     const float *b)
{
  double sum = 0.0;

  for (guint i = 0; i < LK_FACE_ID_DIM; i++)
    sum += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
  return (float) sqrt (sum);
}

float
lk_face_id_cosine (const float *a,
                   const float *b)
{
  double ab = 0.0, aa = 0.0, bb = 0.0;

  for (guint i = 0; i < LK_FACE_ID_DIM; i++)
    {
      ab += (double) a[i] * b[i];
      aa += (double) a[i] * a[i];
      bb += (double) b[i] * b[i];
    }
  if (aa == 0.0 || bb == 0.0)
    return 0.0f;
  return (float) (ab / sqrt (aa * bb));
}

gboolean
lk_face_id_same_person (const float *a,
                        const float *b)
{
  return lk_face_id_distance (a, b) < LK_FACE_ID_SAME_PERSON_DISTANCE;
}
