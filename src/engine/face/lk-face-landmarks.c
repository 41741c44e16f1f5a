/* lk-face-landmarks.c: face-api's 68-point landmark net on the engine
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-face-landmarks.h"
#include "lk-blazeface.h"
#include "io/lk-tfjs.h"
#include "ops/lk-ops-vision.h"

/* face-api's FaceFeatureExtractor subtracts this mean (RGB, pixel units) and divides by 255. */
static const float landmark_mean[3] = { 122.782f, 117.001f, 104.298f };

struct _LkFaceLandmarkNet
{
  LkContext  *context;
  LkArena    *arena;
  GHashTable *weights;   /* manifest name → device LkTensor */
};

void
lk_face_landmark_net_free (LkFaceLandmarkNet *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->weights, g_hash_table_unref);
  g_clear_pointer (&self->arena, lk_arena_unref);
  g_free (self);
}

static gboolean
upload_weight (LkFaceLandmarkNet  *self,
               LkStream           *stream,
               LkTfjsModel        *model,
               const char         *name,
               guint               ndim,
               const gint64       *shape,
               GError            **error)
{
  const LkTfjsTensor *t = lk_tfjs_model_get_shaped (model, name, ndim, shape, error);
  g_autoptr(LkTensor) device = NULL;

  if (t == NULL)
    return FALSE;
  device = lk_tensor_new (self->context, LK_DTYPE_F32, t->ndim, t->shape, error);
  if (device == NULL || !lk_tensor_upload_f32 (device, stream, t->data, error))
    return FALSE;
  g_hash_table_insert (self->weights, g_strdup (name), g_steal_pointer (&device));
  return TRUE;
}

LkFaceLandmarkNet *
lk_face_landmark_net_new (LkContext   *context,
                          const char  *manifest_path,
                          GError     **error)
{
  g_autoptr(LkFaceLandmarkNet) self = g_new0 (LkFaceLandmarkNet, 1);
  g_autoptr(LkTfjsModel) model = NULL;
  g_autoptr(LkStream) stream = NULL;
  static const gint64 widths[4] = { 32, 64, 128, 256 };

  self->context = context;
  self->arena = lk_arena_new (context);
  self->weights = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) lk_tensor_unref);
  model = lk_tfjs_model_load (manifest_path, error);
  if (model == NULL)
    return NULL;
  stream = lk_stream_new (context, error);
  if (stream == NULL)
    return NULL;

  /* The shapes are the architecture's: a manifest of another network fails here by name. */
  for (guint b = 0; b < 4; b++)
    for (guint c = 0; c < 4; c++)
      {
        gint64 cin = (c == 0 ? (b == 0 ? 3 : widths[b - 1]) : widths[b]);
        gint64 cout = widths[b];
        g_autofree char *prefix = g_strdup_printf ("dense%u/conv%u", b, c);
        g_autofree char *bias = g_strconcat (prefix, "/bias", NULL);
        gint64 bias_shape[1] = { cout };

        if (b == 0 && c == 0)
          {
            g_autofree char *filters = g_strconcat (prefix, "/filters", NULL);
            gint64 shape[4] = { 3, 3, cin, cout };

            if (!upload_weight (self, stream, model, filters, 4, shape, error))
              return NULL;
          }
        else
          {
            g_autofree char *dw = g_strconcat (prefix, "/depthwise_filter", NULL);
            g_autofree char *pw = g_strconcat (prefix, "/pointwise_filter", NULL);
            gint64 dw_shape[4] = { 3, 3, cin, 1 };
            gint64 pw_shape[4] = { 1, 1, cin, cout };

            if (!upload_weight (self, stream, model, dw, 4, dw_shape, error) ||
                !upload_weight (self, stream, model, pw, 4, pw_shape, error))
              return NULL;
          }
        if (!upload_weight (self, stream, model, bias, 1, bias_shape, error))
          return NULL;
      }
  {
    gint64 fc_shape[2] = { 256, 136 };
    gint64 fc_bias[1] = { 136 };

    if (!upload_weight (self, stream, model, "fc/weights", 2, fc_shape, error) ||
        !upload_weight (self, stream, model, "fc/bias", 1, fc_bias, error))
      return NULL;
  }
  if (!lk_stream_finish (stream, error))
    return NULL;
  return g_steal_pointer (&self);
}

static LkTensor *
weight (LkFaceLandmarkNet *self,
        const char        *prefix,
        const char        *suffix)
{
  g_autofree char *name = g_strconcat (prefix, suffix, NULL);

  return g_hash_table_lookup (self->weights, name);
}

/* TensorFlow "same" padding for a 3×3 window at @stride on a square @in. */
static gboolean
same_window (gint64           in,
             guint            stride,
             LkVisionWindow  *window,
             gint64          *out)
{
  gint64 before, after;

  if (!lk_vision_out_size (LK_VISION_PAD_SAME, in, 3, stride, 1, &before, &after, out))
    return FALSE;
  *window = (LkVisionWindow) { stride, stride, 1, 1, (gint) before, (gint) before };
  return TRUE;
}

/* face-api's depthwiseSeparableConv: depthwise 3×3 ("same"), pointwise 1×1 + bias, then @act. */
static LkTensor *
separable (LkFaceLandmarkNet  *self,
           LkStream           *stream,
           LkTensor           *x,
           const char         *prefix,
           guint               stride,
           LkVisionAct         act,
           GError            **error)
{
  LkTensor *pw = weight (self, prefix, "/pointwise_filter");
  const gint64 *xs = x->shape;
  LkVisionWindow window, one = { 1, 1, 1, 1, 0, 0 };
  g_autoptr(LkTensor) t = NULL;
  g_autoptr(LkTensor) y = NULL;
  gint64 size;

  if (!same_window (xs[1], stride, &window, &size))
    return NULL;
  {
    gint64 shape[4] = { 1, size, size, xs[3] };

    t = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, shape, error);
    if (t == NULL || !lk_op_vision_depthwise (stream, x, weight (self, prefix, "/depthwise_filter"),
                                              NULL, NULL, LK_VISION_ACT_NONE, t, &window, error))
      return NULL;
  }
  {
    gint64 shape[4] = { 1, size, size, pw->shape[3] };

    y = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, shape, error);
    if (y == NULL || !lk_op_vision_conv2d (stream, t, pw, weight (self, prefix, "/bias"), NULL,
                                           act, y, &one, error))
      return NULL;
  }
  return g_steal_pointer (&y);
}

static LkTensor *
add_relu (LkFaceLandmarkNet  *self,
          LkStream           *stream,
          LkTensor           *a,
          LkTensor           *b,
          LkTensor          **relu,
          GError            **error)
{
  g_autoptr(LkTensor) sum = lk_arena_tensor (self->arena, LK_DTYPE_F32, a->ndim, a->shape, error);

  if (sum == NULL || !lk_op_add (stream, a, b, sum, error))
    return NULL;
  *relu = lk_arena_tensor (self->arena, LK_DTYPE_F32, a->ndim, a->shape, error);
  if (*relu == NULL ||
      !lk_op_vision_activation (stream, LK_VISION_ACT_RELU, sum, NULL, *relu, error))
    {
      g_clear_pointer (relu, lk_tensor_unref);
      return NULL;
    }
  return g_steal_pointer (&sum);
}

/* face-api's denseBlock4: each separable conv sees the ReLU of the sum of all earlier outputs. */
static LkTensor *
dense_block (LkFaceLandmarkNet  *self,
             LkStream           *stream,
             LkTensor           *x,
             guint               index,
             GError            **error)
{
  g_autofree char *p0 = g_strdup_printf ("dense%u/conv0", index);
  g_autofree char *p1 = g_strdup_printf ("dense%u/conv1", index);
  g_autofree char *p2 = g_strdup_printf ("dense%u/conv2", index);
  g_autofree char *p3 = g_strdup_printf ("dense%u/conv3", index);
  g_autoptr(LkTensor) out1 = NULL, out2 = NULL, out3 = NULL, out4 = NULL;
  g_autoptr(LkTensor) s2 = NULL, s3 = NULL, s4 = NULL;
  g_autoptr(LkTensor) in3 = NULL, in4 = NULL, result = NULL;

  if (index == 0)
    {
      LkTensor *filters = weight (self, p0, "/filters");
      LkVisionWindow window;
      gint64 size;

      if (!same_window (x->shape[1], 2, &window, &size))
        return NULL;
      {
        gint64 shape[4] = { 1, size, size, filters->shape[3] };

        out1 = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, shape, error);
        if (out1 == NULL ||
            !lk_op_vision_conv2d (stream, x, filters, weight (self, p0, "/bias"), NULL,
                                  LK_VISION_ACT_RELU, out1, &window, error))
          return NULL;
      }
    }
  else
    out1 = separable (self, stream, x, p0, 2, LK_VISION_ACT_RELU, error);
  if (out1 == NULL ||
      (out2 = separable (self, stream, out1, p1, 1, LK_VISION_ACT_NONE, error)) == NULL ||
      (s2 = add_relu (self, stream, out1, out2, &in3, error)) == NULL ||
      (out3 = separable (self, stream, in3, p2, 1, LK_VISION_ACT_NONE, error)) == NULL ||
      (s3 = add_relu (self, stream, s2, out3, &in4, error)) == NULL ||
      (out4 = separable (self, stream, in4, p3, 1, LK_VISION_ACT_NONE, error)) == NULL ||
      (s4 = add_relu (self, stream, s3, out4, &result, error)) == NULL)
    return NULL;
  return g_steal_pointer (&result);
}

gboolean
lk_face_landmark_net_run (LkFaceLandmarkNet  *self,
                          LkStream           *stream,
                          const float        *pixels,
                          float              *out,
                          GError            **error)
{
  const gsize n = LK_FACE_LANDMARKS_INPUT_SIZE * LK_FACE_LANDMARKS_INPUT_SIZE;
  g_autofree float *normalized = g_new (float, n * 3);
  gint64 shape[4] = { 1, LK_FACE_LANDMARKS_INPUT_SIZE, LK_FACE_LANDMARKS_INPUT_SIZE, 3 };
  g_autoptr(LkTensor) x = NULL;
  g_autoptr(LkTensor) pooled = NULL;
  g_autoptr(LkTensor) y = NULL;
  LkGemmOptions gemm = LK_GEMM_OPTIONS_DEFAULT;

  for (gsize i = 0; i < n * 3; i++)
    normalized[i] = (pixels[i] - landmark_mean[i % 3]) / 255.0f;
  x = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, shape, error);
  if (x == NULL || !lk_tensor_upload_f32 (x, stream, normalized, error))
    return FALSE;
  for (guint b = 0; b < 4; b++)
    {
      LkTensor *next = dense_block (self, stream, x, b, error);

      if (next == NULL)
        return FALSE;
      lk_tensor_unref (x);
      x = next;
    }
  /* 7×7 features, a 7×7 "valid" average pool: one 256-vector. */
  {
    gint64 pool_shape[4] = { 1, 1, 1, x->shape[3] };
    LkVisionWindow window = { 2, 2, 1, 1, 0, 0 };

    pooled = lk_arena_tensor (self->arena, LK_DTYPE_F32, 4, pool_shape, error);
    if (pooled == NULL ||
        !lk_op_vision_pool (stream, LK_VISION_POOL_AVG, x, pooled, 7, 7, &window, error))
      return FALSE;
  }
  {
    gint64 a_shape[2] = { 1, pooled->shape[3] };
    gint64 y_shape[2] = { 1, 136 };
    g_autoptr(LkTensor) a = lk_tensor_view (pooled, 2, a_shape, 0);

    y = lk_arena_tensor (self->arena, LK_DTYPE_F32, 2, y_shape, error);
    if (y == NULL ||
        !lk_op_gemm (stream, a, weight (self, "fc", "/weights"), weight (self, "fc", "/bias"), y,
                     &gemm, error))
      return FALSE;
  }
  return lk_tensor_download_f32 (y, stream, out, error);
}

gboolean
lk_face_crop_square (const LkImage  *image,
                     const float     box[4],
                     guint           size,
                     float          *pixels,
                     LkFaceSquare     *crop,
                     GError        **error)
{
  gint x0, y0, x1, y1, w, h, side, pad_x, pad_y;
  float scale;

  if (image == NULL || image->channels < 3 || image->width == 0 || image->height == 0)
    {
      g_set_error (error, LK_FACE_ERROR, LK_FACE_ERROR_BAD_IMAGE,
                   "A face crop needs an RGB image");
      return FALSE;
    }
  if (!isfinite (box[0]) || !isfinite (box[1]) || !isfinite (box[2]) || !isfinite (box[3]) ||
      box[2] <= 0.0f || box[3] <= 0.0f)
    {
      g_set_error (error, LK_FACE_ERROR, LK_FACE_ERROR_BAD_IMAGE,
                   "Invalid face box (%g, %g, %g × %g)", box[0], box[1], box[2], box[3]);
      return FALSE;
    }
  x0 = CLAMP ((gint) floorf (box[0]), 0, (gint) image->width - 1);
  y0 = CLAMP ((gint) floorf (box[1]), 0, (gint) image->height - 1);
  x1 = CLAMP ((gint) ceilf (box[0] + box[2]), x0 + 1, (gint) image->width);
  y1 = CLAMP ((gint) ceilf (box[1] + box[3]), y0 + 1, (gint) image->height);
  w = x1 - x0;
  h = y1 - y0;
  side = MAX (w, h);
  /* face-api pads the crop with zeros to a square, the crop centred, then resizes bilinearly
   * (TensorFlow's rule without half-pixel centres) to the network's size. */
  pad_x = (side - w) / 2;
  pad_y = (side - h) / 2;
  scale = (float) side / size;
  for (guint oy = 0; oy < size; oy++)
    {
      float sy = oy * scale;
      gint iy0 = (gint) floorf (sy);
      gint iy1 = MIN (iy0 + 1, side - 1);
      float fy = sy - iy0;

      for (guint ox = 0; ox < size; ox++)
        {
          float sx = ox * scale;
          gint ix0 = (gint) floorf (sx);
          gint ix1 = MIN (ix0 + 1, side - 1);
          float fx = sx - ix0;
          gint ys[2] = { iy0, iy1 }, xs[2] = { ix0, ix1 };
          float wy[2] = { 1.0f - fy, fy }, wx[2] = { 1.0f - fx, fx };

          for (guint c = 0; c < 3; c++)
            {
              float acc = 0.0f;

              for (guint a = 0; a < 2; a++)
                for (guint b = 0; b < 2; b++)
                  {
                    gint px = xs[b] - pad_x, py = ys[a] - pad_y;

                    if (px >= 0 && px < w && py >= 0 && py < h)
                      acc += wy[a] * wx[b] *
                             image->data[(gsize) (y0 + py) * image->stride +
                                         (gsize) (x0 + px) * image->channels + c];
                  }
              pixels[((gsize) oy * size + ox) * 3 + c] = acc;
            }
        }
    }
  crop->origin_x = (float) (x0 - pad_x);
  crop->origin_y = (float) (y0 - pad_y);
  crop->side = (float) side;
  return TRUE;
}

gboolean
lk_face_landmark_net_detect (LkFaceLandmarkNet  *self,
                             LkStream           *stream,
                             const LkImage      *image,
                             const float         box[4],
                             LkFaceLandmarks    *landmarks,
                             GError            **error)
{
  const guint size = LK_FACE_LANDMARKS_INPUT_SIZE;
  g_autofree float *pixels = g_new0 (float, size * size * 3);
  float raw[136];
  LkFaceSquare crop;

  if (!lk_face_crop_square (image, box, size, pixels, &crop, error))
    return FALSE;
  if (!lk_face_landmark_net_run (self, stream, pixels, raw, error))
    return FALSE;
  for (guint i = 0; i < LK_FACE_LANDMARKS_N_POINTS; i++)
    {
      landmarks->points[i][0] = crop.origin_x + raw[2 * i] * crop.side;
      landmarks->points[i][1] = crop.origin_y + raw[2 * i + 1] * crop.side;
    }
  /* iBUG 68: eyes 36–41 and 42–47, nose tip 30, mouth corners 48 and 54. */
  for (guint e = 0; e < 2; e++)
    {
      float sx = 0.0f, sy = 0.0f;

      for (guint i = 36 + 6 * e; i < 42 + 6 * e; i++)
        {
          sx += landmarks->points[i][0];
          sy += landmarks->points[i][1];
        }
      landmarks->align[e][0] = sx / 6.0f;
      landmarks->align[e][1] = sy / 6.0f;
    }
  memcpy (landmarks->align[2], landmarks->points[30], sizeof landmarks->align[2]);
  memcpy (landmarks->align[3], landmarks->points[48], sizeof landmarks->align[3]);
  memcpy (landmarks->align[4], landmarks->points[54], sizeof landmarks->align[4]);
  return TRUE;
}
