/* lk-weights-private.h: how the readers fill an LkWeights
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-weights.h"

G_BEGIN_DECLS

struct _LkWeights
{
  gatomicrefcount  ref_count;
  char            *path;
  GMappedFile     *mapped;      /* owned; NULL for an empty file */
  GPtrArray       *tensors;     /* LkWeightInfo*, owned, name owned */
  GHashTable      *by_name;     /* borrowed name → borrowed info */
  GHashTable      *metadata;    /* owned strings */
  GPtrArray       *buffers;     /* data the readers had to copy (inflated entries) */
};

LkWeights    *lk_weights_new_mapped   (const char    *path,
                                       GError       **error);
/* A new, zeroed entry; a duplicate name is an error. */
LkWeightInfo *lk_weights_add          (LkWeights     *self,
                                       const char    *name,
                                       GError       **error);
const guint8 *lk_weights_get_bytes    (LkWeights     *self,
                                       gsize         *length);
/* Sets an LK_IO_ERROR "PATH: tensor “NAME”: message" (tensor may be NULL); returns FALSE. */
gboolean      lk_weights_set_error    (LkWeights     *self,
                                       GError       **error,
                                       LkIoError      code,
                                       const char    *tensor,
                                       const char    *format,
                                       ...) G_GNUC_PRINTF (5, 6);
/* numel of a shape, FALSE on a negative dimension or overflow past G_MAXINT64 / 16. */
gboolean      lk_weights_shape_numel  (guint          ndim,
                                       const gint64  *shape,
                                       gint64        *numel);

G_END_DECLS
