/* lk-nn-graph.c: the layers every network module builds its forward pass from
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-nn-graph.h"

LkTensor *
lk_graph_linear (LkArena   *arena,
                 LkStream  *stream,
                 LkTensor  *x,
                 LkTensor  *w,
                 LkTensor  *b,
                 GError   **error)
{
  return lk_graph_linear_to (arena, stream, x, w, b, LK_DTYPE_F32, error);
}

LkTensor *
lk_graph_linear_to (LkArena   *arena,
                    LkStream  *stream,
                    LkTensor  *x,
                    LkTensor  *w,
                    LkTensor  *b,
                    LkDType    dtype,
                    GError   **error)
{
  LkGemmOptions options = { FALSE, TRUE, 1.0f };
  gint64 shape[LK_MAX_DIMS];
  g_autoptr(LkTensor) y = NULL;

  memcpy (shape, x->shape, sizeof shape);
  shape[x->ndim - 1] = w->shape[0];
  y = lk_arena_tensor (arena, dtype, x->ndim, shape, error);
  if (y == NULL || !lk_op_gemm (stream, x, w, b, y, &options, error))
    return NULL;
  return g_steal_pointer (&y);
}

LkTensor *
lk_graph_layer_norm (LkArena   *arena,
                     LkStream  *stream,
                     LkTensor  *x,
                     LkTensor  *w,
                     LkTensor  *b,
                     float      eps,
                     GError   **error)
{
  return lk_graph_layer_norm_to (arena, stream, x, w, b, eps, LK_DTYPE_F32, error);
}

LkTensor *
lk_graph_layer_norm_to (LkArena   *arena,
                        LkStream  *stream,
                        LkTensor  *x,
                        LkTensor  *w,
                        LkTensor  *b,
                        float      eps,
                        LkDType    dtype,
                        GError   **error)
{
  g_autoptr(LkTensor) y = lk_arena_tensor (arena, dtype, x->ndim, x->shape, error);

  if (y == NULL || !lk_op_layer_norm (stream, x, w, b, y, eps, error))
    return NULL;
  return g_steal_pointer (&y);
}

LkTensor *
lk_graph_group_norm (LkArena   *arena,
                     LkStream  *stream,
                     LkTensor  *x,
                     LkTensor  *w,
                     LkTensor  *b,
                     guint      groups,
                     float      eps,
                     gboolean   silu,
                     GError   **error)
{
  return lk_graph_group_norm_to (arena, stream, x, w, b, groups, eps, silu, LK_DTYPE_F32, error);
}

LkTensor *
lk_graph_group_norm_to (LkArena   *arena,
                        LkStream  *stream,
                        LkTensor  *x,
                        LkTensor  *w,
                        LkTensor  *b,
                        guint      groups,
                        float      eps,
                        gboolean   silu,
                        LkDType    dtype,
                        GError   **error)
{
  g_autoptr(LkTensor) y = lk_arena_tensor (arena, dtype, x->ndim, x->shape, error);

  if (y == NULL || !lk_op_group_norm (stream, x, w, b, y, groups, eps, silu, error))
    return NULL;
  return g_steal_pointer (&y);
}

LkTensor *
lk_graph_add (LkArena   *arena,
              LkStream  *stream,
              LkTensor  *a,
              LkTensor  *b,
              GError   **error)
{
  g_autoptr(LkTensor) y = lk_arena_tensor (arena, LK_DTYPE_F32, a->ndim, a->shape, error);

  if (y == NULL || !lk_op_add (stream, a, b, y, error))
    return NULL;
  return g_steal_pointer (&y);
}

LkTensor *
lk_graph_conv2d (LkArena   *arena,
                 LkStream  *stream,
                 LkTensor  *x,
                 LkTensor  *w,
                 LkTensor  *b,
                 guint      stride,
                 GError   **error)
{
  gint64 k = w->shape[2], padding = k == 3 ? 1 : 0;
  LkConv2dOptions options = { stride, padding };
  gint64 shape[4] = {
    x->shape[0], w->shape[0], (x->shape[2] + 2 * padding - k) / stride + 1,
    (x->shape[3] + 2 * padding - k) / stride + 1,
  };
  g_autoptr(LkTensor) y = lk_arena_tensor (arena, LK_DTYPE_F32, 4, shape, error);

  if (y == NULL || !lk_op_conv2d (stream, x, w, b, y, &options, error))
    return NULL;
  return g_steal_pointer (&y);
}

const LkWeightInfo *
lk_weight_source_require (const LkWeightSource  *source,
                          const char            *name,
                          LkWeights            **weights,
                          GError               **error)
{
  if (source->files != NULL)
    return lk_model_files_require (source->files, name, weights, error);
  *weights = source->weights;
  return lk_weights_require (source->weights, name, error);
}

static char *
describe_shape (guint         ndim,
                const gint64 *shape)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i > 0 ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* A NaN or infinite weight (in the file, or a value beyond f16's range) would silently turn
 * every image black or grey; one pass over the halves the upload needs anyway costs about as
 * much as the conversion. */
static gboolean
check_finite (const char     *name,
              const guint16  *halves,
              gint64          numel,
              GError        **error)
{
  for (gint64 i = 0; i < numel; i++)
    if ((halves[i] & 0x7c00) == 0x7c00)
      {
        g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                     "%s holds %s at element %" G_GINT64_FORMAT " (a damaged checkpoint, or a "
                     "weight beyond f16's range)", name,
                     (halves[i] & 0x03ff) != 0 ? "NaN" : "an infinite value", i);
        return FALSE;
      }
  return TRUE;
}

LkTensor *
lk_graph_load_f16 (const LkWeightSource  *source,
                   LkStream              *stream,
                   const char            *name,
                   guint                  ndim,
                   const gint64          *shape,
                   const char            *architecture,
                   GError               **error)
{
  const LkWeightInfo *info;
  LkWeights *weights;
  g_autofree guint16 *halves = NULL;
  g_autoptr(LkTensor) tensor = NULL;
  gboolean same;

  if ((info = lk_weight_source_require (source, name, &weights, error)) == NULL)
    return NULL;
  same = info->ndim == ndim;
  for (guint i = 0; same && i < ndim; i++)
    same = info->shape[i] == shape[i];
  if (!same)
    {
      g_autofree char *found = describe_shape (info->ndim, info->shape);
      g_autofree char *expected = describe_shape (ndim, shape);

      g_set_error (error, LK_MODEL_ERROR, LK_MODEL_ERROR_UNSUPPORTED,
                   "%s is %s where %s has %s", name, found, architecture, expected);
      return NULL;
    }
  if ((halves = lk_weights_dup_f16 (weights, info, error)) == NULL ||
      !check_finite (name, halves, info->numel, error))
    return NULL;
  lk_weights_release_pages (weights, info);
  tensor = lk_tensor_new (lk_stream_get_context (stream), LK_DTYPE_F16, ndim, shape, error);
  if (tensor == NULL ||
      !lk_stream_upload (stream, tensor->buffer, tensor->offset, halves, info->numel * 2, error))
    return NULL;
  return g_steal_pointer (&tensor);
}
