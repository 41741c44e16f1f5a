/* lk-ops-matmul.c: tile choice, grid and spec constants shared by GEMM and convolution
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-ops-matmul-private.h"

void
lk_matmul_tiles (LkContext     *context,
                 gint64         rows,
                 gint64         cols,
                 LkMatmulTiles *tiles)
{
  const LkDeviceInfo *info = lk_context_get_info (context);
  /* Tests run the GPU and the subgroup-free variants on whatever device they have. */
  const char *force = g_getenv ("LIKENESS_MATMUL_TILES");
  gboolean fixed_subgroup = info->subgroup_size >= 4 && info->subgroup_size <= 64 &&
                            (!info->subgroup_size_control ||
                             (info->min_subgroup_size == info->subgroup_size &&
                              info->max_subgroup_size == info->subgroup_size)) &&
                            (info->subgroup_ops & VK_SUBGROUP_FEATURE_BALLOT_BIT) != 0 &&
                            g_strcmp0 (force, "no-subgroups") != 0;
  gboolean cpu = force != NULL ? g_strcmp0 (force, "gpu") != 0
                               : info->type == VK_PHYSICAL_DEVICE_TYPE_CPU;

  tiles->sg = fixed_subgroup ? info->subgroup_size : 0;
  if (cpu)
    {
      /* lavapipe runs a subgroup as one SIMD register, and each buffer load or broadcast as a
       * loop over its lanes. Per k a lane loads its tm rows, and the subgroup loads tn = SG
       * columns once and broadcasts each; more rows amortise the broadcasts until the spilled
       * accumulators cost more than they save. Measured per CPU-second on llvmpipe (M 4096,
       * N 320, K 320): 12 × 16 14.8, 12 × 8 17.3, 16 × 8 18.3, 20 × 8 15.7, 16 × 16 15.5
       * GFLOP/s; i.e. time per row ∝ (tm + 3.5) / tm up to 16 rows. Pick the tm that costs
       * least once the padding of the last tile is counted (320 rows: 10, 4096 rows: 16). */
      static const guint32 candidates[] = { 16, 12, 10, 8 };
      double best = G_MAXDOUBLE;

      tiles->tn = MAX (tiles->sg, 8);
      tiles->local_size = MAX (tiles->sg, 8);
      if (rows * cols < 32768)
        {
          /* Too little work for the tile to matter; a small one compiles several times
           * faster (LLVM takes seconds over the large, fully unrolled one). */
          tiles->tm = 4;
          return;
        }
      for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
        {
          guint32 tm = candidates[i];
          guint64 per_group = (guint64) tiles->local_size * tm;
          double padded = (rows + per_group - 1) / per_group * per_group;
          double cost = padded * (2 * tm + 7) / (2 * tm);

          if (cost < best)
            {
              best = cost;
              tiles->tm = tm;
            }
        }
      return;
    }

  /* GPUs: one column per lane, a few rows per invocation, several subgroups per workgroup. */
  tiles->tm = 4;
  tiles->tn = fixed_subgroup ? tiles->sg : 4;
  tiles->local_size = fixed_subgroup ? MIN (4 * tiles->sg, 256) : 64;
}

guint32
lk_matmul_rows_per_group (const LkMatmulTiles *tiles)
{
  return tiles->local_size * tiles->tm;
}

gboolean
lk_matmul_grid (LkContext           *context,
                const LkMatmulTiles *tiles,
                gint64               rows,
                gint64               cols,
                guint32             *groups_x,
                guint32             *groups_y,
                GError             **error)
{
  const LkDeviceInfo *info = lk_context_get_info (context);
  guint64 row_groups = (rows + lk_matmul_rows_per_group (tiles) - 1) /
                       lk_matmul_rows_per_group (tiles);
  guint64 col_groups = (cols + tiles->tn - 1) / tiles->tn;

  /* Consecutive workgroups share the tile of the operand walked slower, which stays in cache,
   * and sweep the other, read again for each of those tiles. Walking the narrow column tiles
   * first re-reads the column operand once per (tall) row tile, several times fewer bytes
   * than the other way round: +10 % on M 4096, N 320, K 320 on llvmpipe. */
  if (col_groups > info->max_workgroup_count[0] || row_groups > info->max_workgroup_count[1])
    {
      g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
                   "%" G_GINT64_FORMAT " × %" G_GINT64_FORMAT " outputs need more workgroups "
                   "than the device dispatches", rows, cols);
      return FALSE;
    }
  *groups_x = col_groups;
  *groups_y = row_groups;
  return TRUE;
}

void
lk_matmul_spec (const LkMatmulTiles *tiles,
                LkTensor            *rows,
                LkTensor            *cols,
                LkTensor            *out,
                LkTensor            *bias,
                guint32             *spec)
{
  spec[0] = tiles->local_size;
  spec[1] = spec[2] = 1;
  spec[3] = tiles->tm;
  spec[4] = tiles->tn;
  spec[5] = tiles->sg;
  spec[6] = rows->dtype == LK_DTYPE_F16;
  spec[7] = cols->dtype == LK_DTYPE_F16;
  spec[8] = out->dtype == LK_DTYPE_F16;
  spec[9] = bias != NULL && bias->dtype == LK_DTYPE_F16;
  spec[10] = bias != NULL;
}
