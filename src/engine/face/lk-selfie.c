/* lk-selfie.c: selfie segmentation on the graph executor
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-face"

#include "config.h"

#include <math.h>

#include "lk-selfie.h"
#include "lk-blazeface.h"

static const char *const output_names[] = { "activation_10" };

struct _LkSelfie
{
  LkTfGraph *graph;
};

void
lk_selfie_free (LkSelfie *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->graph, lk_tfgraph_free);
  g_free (self);
}

LkSelfie *
lk_selfie_new (LkContext   *context,
               const char  *model_path,
               GError     **error)
{
  g_autoptr(LkSelfie) self = g_new0 (LkSelfie, 1);

  self->graph = lk_tfgraph_load (context, model_path, LK_SELFIE_INPUT_SIZE,
                                 LK_SELFIE_INPUT_SIZE, 3, "selfie segmentation", error);
  if (self->graph == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

/* Bilinear sample of channel-interleaved 8-bit or float data at (x, y) in pixel units, pixel
 * centres at integer + ½, edges clamped. */
static float
sample (const guint8 *data,
        const float  *fdata,
        gsize         stride,
        guint         channels,
        guint         width,
        guint         height,
        float         x,
        float         y,
        guint         c)
{
  float fx, fy, v = 0;
  int x0, y0;

  x = CLAMP (x - 0.5f, 0.0f, width - 1.0f);
  y = CLAMP (y - 0.5f, 0.0f, height - 1.0f);
  x0 = MIN ((int) x, (int) width - 1);
  y0 = MIN ((int) y, (int) height - 1);
  fx = x - x0;
  fy = y - y0;
  for (int dy = 0; dy <= 1; dy++)
    for (int dx = 0; dx <= 1; dx++)
      {
        int px = MIN (x0 + dx, (int) width - 1), py = MIN (y0 + dy, (int) height - 1);
        float w = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
        float value = data ? data[py * stride + (gsize) px * channels + c] :
                             fdata[(gsize) py * stride + (gsize) px * channels + c];

        v += w * value;
      }
  return v;
}

gboolean
lk_selfie_prepare (const LkImage  *image,
                   float          *input,
                   GError        **error)
{
  const guint n = LK_SELFIE_INPUT_SIZE;

  if (image == NULL || image->width < 2 || image->height < 2 || image->channels < 3)
    {
      g_set_error (error, LK_FACE_ERROR, LK_FACE_ERROR_BAD_IMAGE,
                   "segmentation needs an RGB image of at least 2 × 2 pixels, not %u × %u",
                   image ? image->width : 0, image ? image->height : 0);
      return FALSE;
    }
  for (guint v = 0; v < n; v++)
    for (guint u = 0; u < n; u++)
      for (guint c = 0; c < 3; c++)
        input[(v * n + u) * 3 + c] =
          sample (image->data, NULL, image->stride, image->channels, image->width, image->height,
                  (u + 0.5f) * image->width / n, (v + 0.5f) * image->height / n, c) / 255.0f;
  return TRUE;
}

gboolean
lk_selfie_run (LkSelfie     *self,
               LkStream     *stream,
               const float  *input,
               float        *mask,
               GError      **error)
{
  const gint64 shape[] = { 1, LK_SELFIE_INPUT_SIZE, LK_SELFIE_INPUT_SIZE, 3 };
  float *out = NULL;
  gint64 numel;

  if (!lk_tfgraph_run_host (self->graph, stream, input, 4, shape, 1,
                            (const char **) output_names, &out, &numel, error))
    return FALSE;
  if (numel != LK_SELFIE_INPUT_SIZE * LK_SELFIE_INPUT_SIZE)
    {
      g_set_error (error, LK_TFGRAPH_ERROR, LK_TFGRAPH_ERROR_SHAPE,
                   "selfie segmentation gave %" G_GINT64_FORMAT " values, expected 65536", numel);
      g_free (out);
      return FALSE;
    }
  memcpy (mask, out, numel * sizeof (float));
  g_free (out);
  return TRUE;
}

LkImage *
lk_selfie_segment (LkSelfie       *self,
                   LkStream       *stream,
                   const LkImage  *image,
                   GError        **error)
{
  const guint n = LK_SELFIE_INPUT_SIZE;
  g_autofree float *input = g_new (float, n * n * 3);
  g_autofree float *mask = g_new (float, n * n);
  g_autoptr(LkImage) rgb = NULL;
  const LkImage *src = image;
  LkImage *out;

  if (image != NULL && image->channels < 3)
    src = rgb = lk_image_convert (image, 3);
  if (!lk_selfie_prepare (src, input, error) || !lk_selfie_run (self, stream, input, mask, error))
    return NULL;
  out = lk_image_new (image->width, image->height, 1);
  for (guint y = 0; y < image->height; y++)
    for (guint x = 0; x < image->width; x++)
      {
        float v = sample (NULL, mask, n, 1, n, n, (x + 0.5f) * n / image->width,
                          (y + 0.5f) * n / image->height, 0);

        *lk_image_pixel (out, x, y) = (guint8) CLAMP (lroundf (v * 255.0f), 0, 255);
      }
  return out;
}
