/* lk-ref-embedding.c: CPU reference of the embedding lookup
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lk-ref.h"

void
lk_ref_embedding (const float *table,
                  const float *ids,
                  float       *y,
                  gsize        n,
                  gsize        dim)
{
  for (gsize r = 0; r < n; r++)
    memcpy (y + r * dim, table + (gsize) ids[r] * dim, dim * sizeof (float));
}
