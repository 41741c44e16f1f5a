/* lk-ops-attention.c: fused multi-head attention (flash style, online softmax)
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-ops"

#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "lk-ops-span.h"

#define MAX_HEAD_DIM 256

/* The kernel's tiling, specialization constants 0 and 4–6. */
typedef struct
{
  guint32 rows;         /* query rows per workgroup */
  guint32 threads;      /* invocations per row, a power of two */
  guint32 keys;         /* keys per tile */
  gboolean staged;      /* key/value tiles go through shared memory */
} AttentionTiles;

static gboolean
fits_shared (const LkDeviceInfo *info,
             guint32             keys,
             guint               head_dim)
{
  return 2 * keys * head_dim * sizeof (float) <= info->max_shared_memory;
}

/* The tiling of attention.comp. GPUs: up to four invocations per row (a quarter of the
 * registers each), tiles of up to 32 keys staged in shared memory by a 128-wide workgroup. CPU
 * drivers, which normally take attention_subgroup.comp and come here only for head dims that
 * are not multiples of 8: one row per invocation, one subgroup of rows per workgroup, keys and
 * values read straight from the buffer — no barrier, no shared memory.
 * LIKENESS_ATTENTION_TILES="rows,threads,keys,staged" forces attention.comp with that tiling, so
 * tests can run the GPU shapes on any device. */
static AttentionTiles
choose_tiles (LkContext *context,
              guint      head_dim)
{
  const LkDeviceInfo *info = lk_context_get_info (context);
  const char *env = g_getenv ("LIKENESS_ATTENTION_TILES");
  gboolean shuffle = (info->subgroup_ops & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) != 0;
  AttentionTiles tiles;

  if (env != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (env, ",", -1);

      if (g_strv_length (parts) == 4)
        {
          tiles.rows = atoi (parts[0]);
          tiles.threads = atoi (parts[1]);
          tiles.keys = atoi (parts[2]);
          tiles.staged = atoi (parts[3]) != 0;
          if (tiles.rows > 0 && tiles.keys > 0 && tiles.threads > 0 &&
              (tiles.threads & (tiles.threads - 1)) == 0 && head_dim % tiles.threads == 0 &&
              tiles.rows * tiles.threads <= info->max_workgroup_invocations &&
              (!tiles.staged || fits_shared (info, tiles.keys, head_dim)) &&
              (tiles.threads == 1 || (shuffle && tiles.threads <= info->subgroup_size)))
            return tiles;
        }
      g_warning ("LIKENESS_ATTENTION_TILES=%s does not fit head dim %u on this device; ignored",
                 env, head_dim);
    }

  if (info->type == VK_PHYSICAL_DEVICE_TYPE_CPU)
    return (AttentionTiles) { MAX (info->subgroup_size, 4), 1, 8, FALSE };

  tiles.threads = 1;
  while (shuffle && tiles.threads < 4 && tiles.threads * 2 <= info->subgroup_size &&
         head_dim % (tiles.threads * 2) == 0)
    tiles.threads *= 2;
  tiles.rows = MIN (128, info->max_workgroup_invocations) / tiles.threads;
  tiles.keys = 32;
  while (tiles.keys > 8 && !fits_shared (info, tiles.keys, head_dim))
    tiles.keys /= 2;
  tiles.staged = fits_shared (info, tiles.keys, head_dim);
  return tiles;
}

/* attention_subgroup.comp: CPU drivers, whose loads cost per lane and whose subgroup shuffles
 * are register permutes, with a fixed subgroup size, rows of whole 8-element groups and every
 * tensor starting on one. */
static gboolean
use_subgroup_kernel (LkContext *context,
                     LkTensor  *tensors[4],
                     guint      head_dim)
{
  const LkDeviceInfo *info = lk_context_get_info (context);

  if (g_getenv ("LIKENESS_ATTENTION_TILES") != NULL ||
      info->type != VK_PHYSICAL_DEVICE_TYPE_CPU ||
      !(info->subgroup_ops & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) ||
      info->subgroup_size < 4 || info->subgroup_size > 64 ||
      info->subgroup_size > info->max_workgroup_invocations ||
      (info->min_subgroup_size != 0 && info->min_subgroup_size != info->max_subgroup_size) ||
      head_dim % 8 != 0)
    return FALSE;
  for (guint i = 0; i < 4; i++)
    if (tensors[i]->offset % (8 * lk_dtype_size (tensors[i]->dtype)) != 0)
      return FALSE;
  return TRUE;
}

/* Query rows per invocation of attention_subgroup.comp: each shuffled key or value element
 * feeds that many FMAs, as long as the rows' registers stay cheap. */
static guint32
subgroup_kernel_rows (guint head_dim)
{
  /* Measured on lavapipe (2 cores, AVX2, 1024 queries and keys): D = 40 runs at 3.6 GFLOP/s
   * with one row, 6 with two, 14 with four; D = 160 at 26 with two. Eight rows, or four at
   * D = 160, take over 10 s to compile. */
  return head_dim <= 80 ? 4 : 2;
}

gboolean
lk_op_attention (LkStream   *stream,
                 LkTensor   *q,
                 LkTensor   *k,
                 LkTensor   *v,
                 LkTensor   *o,
                 guint       heads,
                 float       scale,
                 GError    **error)
{
  return lk_op_attention_masked (stream, q, k, v, o, heads, scale, FALSE, error);
}

gboolean
lk_op_attention_masked (LkStream   *stream,
                        LkTensor   *q,
                        LkTensor   *k,
                        LkTensor   *v,
                        LkTensor   *o,
                        guint       heads,
                        float       scale,
                        gboolean    causal,
                        GError    **error)
{
  LkContext *context = lk_stream_get_context (stream);
  const LkDeviceInfo *info = lk_context_get_info (context);
  gint64 batch, nq, nk, hd, head_dim, batches_per_dispatch, rows_per_dispatch;
  AttentionTiles tiles;
  LkKernel *pipeline;

  if (q->ndim != 3 || k->ndim != 3 || !lk_tensor_same_shape (k, v) || !lk_tensor_same_shape (q, o) ||
      k->shape[0] != q->shape[0] || k->shape[2] != q->shape[2] || heads == 0 ||
      q->shape[2] % heads != 0 || lk_tensor_numel (q) == 0 || lk_tensor_numel (k) == 0)
    {
      g_autofree char *dq = lk_tensor_describe (q);
      g_autofree char *dk = lk_tensor_describe (k);
      g_autofree char *dv = lk_tensor_describe (v);
      g_autofree char *d_o = lk_tensor_describe (o);

      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_SHAPE,
                   "attention: q %s, k %s, v %s, o %s with %u heads; expected q and o "
                   "[B, Nq, heads·D], k and v [B, Nk, heads·D]", dq, dk, dv, d_o, heads);
      return FALSE;
    }
  if (!lk_ops_check_contiguous (q, "attention", "q", error) ||
      !lk_ops_check_contiguous (k, "attention", "k", error) ||
      !lk_ops_check_contiguous (v, "attention", "v", error) ||
      !lk_ops_check_contiguous (o, "attention", "o", error))
    return FALSE;

  batch = q->shape[0];
  nq = q->shape[1];
  nk = k->shape[1];
  hd = q->shape[2];
  head_dim = hd / heads;
  if (head_dim > MAX_HEAD_DIM)
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "attention: head dim %" G_GINT64_FORMAT " is over %d", head_dim, MAX_HEAD_DIM);
      return FALSE;
    }
  if (heads > info->max_workgroup_count[1])
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "attention: %u heads is over the device's grid limit", heads);
      return FALSE;
    }
  if (scale == 0.0f)
    scale = 1.0f / sqrtf (head_dim);

  /* Keys and values of a batch must be bound whole; queries split by batch, then by rows. */
  if (lk_ops_rows_per_binding (k, nk * hd) == 0)
    return lk_ops_error_too_large (k, "attention", "k", "one batch", error);
  if (lk_ops_rows_per_binding (v, nk * hd) == 0)
    return lk_ops_error_too_large (v, "attention", "v", "one batch", error);
  batches_per_dispatch = MIN (MIN (lk_ops_rows_per_binding (q, nq * hd), lk_ops_rows_per_binding (o, nq * hd)),
                              MIN (lk_ops_rows_per_binding (k, nk * hd), lk_ops_rows_per_binding (v, nk * hd)));
  batches_per_dispatch = MIN (batches_per_dispatch, info->max_workgroup_count[2]);
  rows_per_dispatch = nq;
  if (batches_per_dispatch == 0)
    {
      batches_per_dispatch = 1;
      rows_per_dispatch = MIN (lk_ops_rows_per_binding (q, hd), lk_ops_rows_per_binding (o, hd));
      if (rows_per_dispatch == 0)
        return lk_ops_error_too_large (q, "attention", "q or o", "one row", error);
    }

  if (use_subgroup_kernel (context, (LkTensor *[]) { q, k, v, o }, head_dim))
    {
      guint32 rows_per_lane = subgroup_kernel_rows (head_dim);
      guint32 spec[] = {
        info->subgroup_size, 1, 1,
        head_dim, rows_per_lane, q->dtype == LK_DTYPE_F16, k->dtype == LK_DTYPE_F16,
        v->dtype == LK_DTYPE_F16, o->dtype == LK_DTYPE_F16, causal != FALSE,
      };

      tiles = (AttentionTiles) { info->subgroup_size * rows_per_lane, 1, info->subgroup_size, FALSE };
      pipeline = lk_context_get_kernel (context, "attention_subgroup", 4, 10 * sizeof (guint32),
                                        spec, G_N_ELEMENTS (spec), error);
    }
  else
    {
      guint32 spec[] = {
        0, 1, 1,
        head_dim, 0, 0, 0,
        q->dtype == LK_DTYPE_F16, k->dtype == LK_DTYPE_F16, v->dtype == LK_DTYPE_F16, o->dtype == LK_DTYPE_F16,
        causal != FALSE,
      };

      tiles = choose_tiles (context, head_dim);
      spec[0] = tiles.rows * tiles.threads;
      spec[4] = tiles.threads;
      spec[5] = tiles.keys;
      spec[6] = tiles.staged ? tiles.keys : 1;
      pipeline = lk_context_get_kernel (context, "attention", 4, 10 * sizeof (guint32),
                                        spec, G_N_ELEMENTS (spec), error);
    }
  if (pipeline == NULL)
    return FALSE;
  rows_per_dispatch = MIN (rows_per_dispatch, (gint64) info->max_workgroup_count[0] * tiles.rows);

  for (gint64 b = 0; b < batch; b += batches_per_dispatch)
    {
      gint64 nb = MIN (batches_per_dispatch, batch - b);

      for (gint64 row = 0; row < nq; row += rows_per_dispatch)
        {
          gint64 rows = MIN (rows_per_dispatch, nq - row);
          /* Within one dispatch rows · hd (one batch) or nb · nq · hd elements are bound. */
          gint64 q_count = (nb - 1) * nq * hd + rows * hd;
          struct {
            guint32 nq, rows, nk, hd, q_base, k_base, v_base, o_base;
            float scale;
            guint32 row0;
          } push = { nq, rows, nk, hd, 0, 0, 0, 0, scale * (float) M_LOG2E, row };
          LkBinding bindings[] = {
            lk_ops_bind_span (q, (b * nq + row) * hd, q_count, LK_ACCESS_READ, &push.q_base),
            lk_ops_bind_span (k, b * nk * hd, nb * nk * hd, LK_ACCESS_READ, &push.k_base),
            lk_ops_bind_span (v, b * nk * hd, nb * nk * hd, LK_ACCESS_READ, &push.v_base),
            lk_ops_bind_span (o, (b * nq + row) * hd, q_count, LK_ACCESS_WRITE, &push.o_base),
          };

          lk_stream_dispatch (stream, pipeline, bindings, G_N_ELEMENTS (bindings), &push, sizeof push,
                              (rows + tiles.rows - 1) / tiles.rows, heads, nb);
        }
    }
  return TRUE;
}
