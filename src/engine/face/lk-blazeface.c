/* lk-blazeface.c: BlazeFace "back": letterbox, network, anchors, weighted NMS
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-face"

#include "config.h"

#include <math.h>

#include "lk-blazeface.h"
#include "image/lk-control-image.h"

G_DEFINE_QUARK (lk-face-error-quark, lk_face_error)

/* The graph's outputs: scores and regressors of the 16 × 16 cells, then of the 8 × 8 cells. */
static const char *const output_names[] = { "Identity", "Identity_1", "Identity_2", "Identity_3" };

struct _LkBlazeFace
{
  LkTfGraph *graph;
};

void
lk_blazeface_free (LkBlazeFace *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->graph, lk_tfgraph_free);
  g_free (self);
}

LkBlazeFace *
lk_blazeface_new (LkContext   *context,
                  const char  *model_path,
                  GError     **error)
{
  g_autoptr(LkBlazeFace) self = g_new0 (LkBlazeFace, 1);

  self->graph = lk_tfgraph_load (context, model_path, LK_BLAZEFACE_INPUT_SIZE,
                                 LK_BLAZEFACE_INPUT_SIZE, 3, "BlazeFace back", error);
  if (self->graph == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

gboolean
lk_blazeface_letterbox (const LkImage  *image,
                        float          *input,
                        LkLetterbox    *letterbox,
                        GError        **error)
{
  const guint size = LK_BLAZEFACE_INPUT_SIZE;
  g_autoptr(LkImage) rgb = NULL;
  g_autofree guint8 *scaled = NULL;
  guint width, height, x0, y0;
  float scale;

  if (image == NULL || image->width < 2 || image->height < 2 ||
      (image->channels != 1 && image->channels != 3 && image->channels != 4))
    {
      g_set_error (error, LK_FACE_ERROR, LK_FACE_ERROR_BAD_IMAGE,
                   "face detection needs an image of at least 2 × 2 pixels, not %u × %u",
                   image ? image->width : 0, image ? image->height : 0);
      return FALSE;
    }
  if (image->channels != 3)
    rgb = lk_image_convert (image, 3);
  else
    rgb = lk_image_copy (image);

  scale = (float) size / MAX (rgb->width, rgb->height);
  width = CLAMP ((guint) lroundf (rgb->width * scale), 1, size);
  height = CLAMP ((guint) lroundf (rgb->height * scale), 1, size);
  /* OpenCV's area filter when shrinking, so fine detail does not alias; cubic when enlarging. */
  if (width <= rgb->width)
    scaled = lk_resize_area_rgb (rgb->data, rgb->width, rgb->height, rgb->stride, width, height);
  else
    scaled = lk_resize_cubic_rgb (rgb->data, rgb->width, rgb->height, rgb->stride, width, height);
  x0 = (size - width) / 2;
  y0 = (size - height) / 2;
  for (guint i = 0; i < size * size * 3; i++)
    input[i] = -1.0f;
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width * 3; x++)
      input[((y0 + y) * size + x0) * 3 + x] = scaled[y * width * 3 + x] / 127.5f - 1.0f;
  letterbox->scale_x = (float) width / rgb->width;
  letterbox->scale_y = (float) height / rgb->height;
  letterbox->offset_x = x0;
  letterbox->offset_y = y0;
  return TRUE;
}

gboolean
lk_blazeface_run (LkBlazeFace  *self,
                  LkStream     *stream,
                  const float  *input,
                  float        *scores,
                  float        *regressors,
                  GError      **error)
{
  const gint64 shape[] = { 1, LK_BLAZEFACE_INPUT_SIZE, LK_BLAZEFACE_INPUT_SIZE, 3 };
  const gint64 expected[] = { 512, 384, 512 * 16, 384 * 16 };
  float *out[4] = { NULL };
  gint64 numel[4];
  gboolean ok;

  ok = lk_tfgraph_run_host (self->graph, stream, input, 4, shape, 4,
                            (const char **) output_names, out, numel, error);
  for (guint i = 0; ok && i < 4; i++)
    if (numel[i] != expected[i])
      {
        g_set_error (error, LK_TFGRAPH_ERROR, LK_TFGRAPH_ERROR_SHAPE,
                     "BlazeFace output %s has %" G_GINT64_FORMAT " values, expected %"
                     G_GINT64_FORMAT, output_names[i], numel[i], expected[i]);
        ok = FALSE;
      }
  if (ok)
    {
      memcpy (scores, out[0], 512 * sizeof (float));
      memcpy (scores + 512, out[1], 384 * sizeof (float));
      memcpy (regressors, out[2], 512 * 16 * sizeof (float));
      memcpy (regressors + 512 * 16, out[3], 384 * 16 * sizeof (float));
    }
  for (guint i = 0; i < 4; i++)
    g_free (out[i]);
  return ok;
}

/* MediaPipe's SSD anchors for this model: layers of strides 16, 32, 32, 32 on a 256² input,
 * offset 0.5, one aspect ratio plus the interpolated scale, fixed size. Layers of equal stride
 * share their grid, so each 16-px cell holds 2 anchors and each 32-px cell 3 × 2 = 6, all
 * centred on the cell; with fixed sizes only the centres matter. */
static gpointer
make_anchors (gpointer data)
{
  static const guint strides[] = { 16, 32, 32, 32 };
  float *anchors = g_new (float, 2 * LK_BLAZEFACE_N_ANCHORS);
  guint n = 0, layer = 0;

  while (layer < G_N_ELEMENTS (strides))
    {
      guint stride = strides[layer], same = 0;
      guint cells = (LK_BLAZEFACE_INPUT_SIZE + stride - 1) / stride;

      while (layer + same < G_N_ELEMENTS (strides) && strides[layer + same] == stride)
        same++;
      for (guint y = 0; y < cells; y++)
        for (guint x = 0; x < cells; x++)
          for (guint a = 0; a < 2 * same; a++)
            {
              anchors[2 * n] = (x + 0.5f) / cells;
              anchors[2 * n + 1] = (y + 0.5f) / cells;
              n++;
            }
      layer += same;
    }
  g_assert (n == LK_BLAZEFACE_N_ANCHORS);
  return anchors;
}

const float *
lk_blazeface_anchors (void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once (&once, make_anchors, NULL);
}

typedef struct
{
  float box[4];   /* xmin, ymin, xmax, ymax in input pixels */
  float keypoints[LK_BLAZEFACE_N_KEYPOINTS][2];
  float score;
} Candidate;

static int
by_score_desc (gconstpointer a,
               gconstpointer b)
{
  const Candidate *ca = a, *cb = b;

  return (ca->score < cb->score) - (ca->score > cb->score);
}

static int
by_left_edge (gconstpointer a,
              gconstpointer b)
{
  const LkFaceDetection *da = a, *db = b;
  float ca = da->x + 0.5f * da->width, cb = db->x + 0.5f * db->width;

  return (ca > cb) - (ca < cb);
}

static float
iou (const float *a,
     const float *b)
{
  float ix = MIN (a[2], b[2]) - MAX (a[0], b[0]);
  float iy = MIN (a[3], b[3]) - MAX (a[1], b[1]);
  float inter, uni;

  if (ix <= 0 || iy <= 0)
    return 0;
  inter = ix * iy;
  uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return uni > 0 ? inter / uni : 0;
}

GArray *
lk_blazeface_decode (const float               *scores,
                     const float               *regressors,
                     const LkLetterbox         *letterbox,
                     const LkBlazeFaceOptions  *options)
{
  const float *anchors = lk_blazeface_anchors ();
  const float size = LK_BLAZEFACE_INPUT_SIZE;
  LkBlazeFaceOptions defaults = LK_BLAZEFACE_OPTIONS_DEFAULT;
  g_autoptr(GArray) candidates = g_array_new (FALSE, FALSE, sizeof (Candidate));
  GArray *faces = g_array_new (FALSE, FALSE, sizeof (LkFaceDetection));
  g_autofree gboolean *taken = NULL;

  if (options == NULL)
    options = &defaults;
  for (guint i = 0; i < LK_BLAZEFACE_N_ANCHORS; i++)
    {
      const float *r = regressors + i * LK_BLAZEFACE_N_COORDS;
      float logit = CLAMP (scores[i], -100.0f, 100.0f);
      float score = 1.0f / (1.0f + expf (-logit));
      float cx, cy;
      Candidate c;

      if (!(score >= options->min_score))
        continue;
      /* Regressors are offsets from the anchor centre in input pixels. */
      cx = r[0] + anchors[2 * i] * size;
      cy = r[1] + anchors[2 * i + 1] * size;
      c.box[0] = cx - 0.5f * r[2];
      c.box[1] = cy - 0.5f * r[3];
      c.box[2] = cx + 0.5f * r[2];
      c.box[3] = cy + 0.5f * r[3];
      for (guint k = 0; k < LK_BLAZEFACE_N_KEYPOINTS; k++)
        {
          c.keypoints[k][0] = r[4 + 2 * k] + anchors[2 * i] * size;
          c.keypoints[k][1] = r[5 + 2 * k] + anchors[2 * i + 1] * size;
        }
      c.score = score;
      if (c.box[2] > c.box[0] && c.box[3] > c.box[1])
        g_array_append_val (candidates, c);
    }
  g_array_sort (candidates, by_score_desc);

  /* Weighted NMS: the best remaining candidate absorbs every one overlapping it by more than
   * the threshold, and the merged box is their score-weighted mean (steadier than keeping the
   * single best box); the score stays the best one's. */
  taken = g_new0 (gboolean, MAX (candidates->len, 1));
  for (guint i = 0; i < candidates->len; i++)
    {
      const Candidate *best = &g_array_index (candidates, Candidate, i);
      double sum_w = 0, box[4] = { 0 }, kp[LK_BLAZEFACE_N_KEYPOINTS][2] = { { 0 } };
      LkFaceDetection face;

      if (taken[i])
        continue;
      for (guint j = i; j < candidates->len; j++)
        {
          const Candidate *c = &g_array_index (candidates, Candidate, j);

          if (taken[j] || (j != i && iou (best->box, c->box) <= options->iou_threshold))
            continue;
          taken[j] = TRUE;
          sum_w += c->score;
          for (guint k = 0; k < 4; k++)
            box[k] += c->score * c->box[k];
          for (guint k = 0; k < LK_BLAZEFACE_N_KEYPOINTS; k++)
            {
              kp[k][0] += c->score * c->keypoints[k][0];
              kp[k][1] += c->score * c->keypoints[k][1];
            }
        }
      /* Input pixels back to image pixels. */
      face.x = (box[0] / sum_w - letterbox->offset_x) / letterbox->scale_x;
      face.y = (box[1] / sum_w - letterbox->offset_y) / letterbox->scale_y;
      face.width = (box[2] - box[0]) / sum_w / letterbox->scale_x;
      face.height = (box[3] - box[1]) / sum_w / letterbox->scale_y;
      for (guint k = 0; k < LK_BLAZEFACE_N_KEYPOINTS; k++)
        {
          face.keypoints[k][0] = (kp[k][0] / sum_w - letterbox->offset_x) / letterbox->scale_x;
          face.keypoints[k][1] = (kp[k][1] / sum_w - letterbox->offset_y) / letterbox->scale_y;
        }
      face.score = best->score;
      g_array_append_val (faces, face);
    }
  g_array_sort (faces, by_left_edge);
  return faces;
}

GArray *
lk_blazeface_detect (LkBlazeFace               *self,
                     LkStream                  *stream,
                     const LkImage             *image,
                     const LkBlazeFaceOptions  *options,
                     GError                   **error)
{
  const gsize n_input = LK_BLAZEFACE_INPUT_SIZE * LK_BLAZEFACE_INPUT_SIZE * 3;
  g_autofree float *input = g_new (float, n_input);
  g_autofree float *scores = g_new (float, LK_BLAZEFACE_N_ANCHORS);
  g_autofree float *regressors = g_new (float, LK_BLAZEFACE_N_ANCHORS * LK_BLAZEFACE_N_COORDS);
  LkLetterbox letterbox;

  if (!lk_blazeface_letterbox (image, input, &letterbox, error) ||
      !lk_blazeface_run (self, stream, input, scores, regressors, error))
    return NULL;
  return lk_blazeface_decode (scores, regressors, &letterbox, options);
}
