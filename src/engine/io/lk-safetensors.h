/* lk-safetensors.h: the safetensors format, read through mmap and written atomically
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-weights.h"

G_BEGIN_DECLS

/* Headers larger than this are refused before they are read. */
#define LK_SAFETENSORS_MAX_HEADER (100 * 1024 * 1024)

typedef struct
{
  const char     *name;
  LkWeightDType   dtype;
  guint           ndim;
  const gint64   *shape;
  gconstpointer   data;    /* numel × dtype size bytes, row-major */
} LkSafetensorsEntry;

/* Validates the header (length, JSON, dtypes, shapes, offsets in range and not overlapping) and
 * maps the file; errors name the file and, where there is one, the tensor. */
LkWeights *lk_safetensors_open  (const char                *path,
                                 GError                   **error);
/* Writes to a temporary name beside path, fsyncs and renames over path. metadata may be NULL
 * (string → string). The data section starts on an 8-byte boundary (the header is padded with
 * spaces), and tensors are stored back to back in the order given. */
gboolean   lk_safetensors_write (const char                *path,
                                 const LkSafetensorsEntry  *entries,
                                 gsize                      n_entries,
                                 GHashTable                *metadata,
                                 GError                   **error);

G_END_DECLS
