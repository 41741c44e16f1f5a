/* lk-ops-matmul-private.h: what the GEMM and convolution ops share
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-ops-span.h"

G_BEGIN_DECLS

/* Register tile of gemm.comp and conv2d.comp, chosen per device and shape. */
typedef struct
{
  guint32 local_size;  /* spec constant 0 */
  guint32 tm;          /* rows (output channels) per invocation */
  guint32 tn;          /* columns (pixels) per invocation, a multiple of sg */
  guint32 sg;          /* lanes sharing columns through subgroupBroadcast; 0 = none */
} LkMatmulTiles;

/* For an output of @rows × @cols. */
void      lk_matmul_tiles        (LkContext     *context,
                                  gint64         rows,
                                  gint64         cols,
                                  LkMatmulTiles *tiles);
/* Rows of the output one workgroup covers. */
guint32   lk_matmul_rows_per_group (const LkMatmulTiles *tiles);
/* The grid of an output of @rows × @cols: x walks the column tiles, y the row tiles. */
gboolean  lk_matmul_grid         (LkContext           *context,
                                  const LkMatmulTiles *tiles,
                                  gint64               rows,
                                  gint64               cols,
                                  guint32             *groups_x,
                                  guint32             *groups_y,
                                  GError             **error);
/* Spec constants 0 to LK_MATMUL_N_SPEC − 1, shared by both kernels: local size, tile, then
 * whether the row operand (A, w), the column operand (B, x), the output and the bias are f16,
 * and whether there is a bias. The kernels' own follow. */
#define LK_MATMUL_N_SPEC 11

void      lk_matmul_spec         (const LkMatmulTiles *tiles,
                                  LkTensor            *rows,
                                  LkTensor            *cols,
                                  LkTensor            *out,
                                  LkTensor            *bias,
                                  guint32             *spec);
/* Whether @count elements of @t fit one lk_ops_bind_span(). */
static inline gboolean
lk_matmul_fits (LkTensor *t,
                gint64    count)
{
  return lk_ops_rows_per_binding (t, count) > 0;
}

G_END_DECLS
