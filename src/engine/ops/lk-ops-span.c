/* lk-ops-span.c: binding runs of whole rows of tensors that may be larger than one binding
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdlib.h>

#include "lk-ops-span.h"

LkBinding
lk_ops_bind_span (LkTensor  *t,
                  gint64     first,
                  gint64     count,
                  LkAccess   access,
                  guint32   *slack)
{
  LkContext *context = lk_tensor_get_context (t);
  gsize size = lk_dtype_size (t->dtype);
  gsize align = lk_context_get_binding_alignment (context);
  gsize start = t->offset + first * size;
  gsize aligned = start / align * align;
  gsize end = start + count * size;
  gsize buffer_size = lk_buffer_get_size (t->buffer);

  g_assert (first >= 0 && count > 0 && first + count <= lk_tensor_numel (t));
  g_assert ((start - aligned) % size == 0);
  *slack = (start - aligned) / size;
  /* f16 kernels read whole 32-bit words: round up to 4 bytes, inside the buffer. */
  return (LkBinding) {
    .buffer = t->buffer,
    .offset = aligned,
    .range = MIN ((end - aligned + 3) & ~(gsize) 3, buffer_size - aligned),
    .access = access,
  };
}

gint64
lk_ops_rows_per_binding (LkTensor *t,
                         gint64    row_elems)
{
  LkContext *context = lk_tensor_get_context (t);
  guint64 range = lk_context_get_max_binding_range (context);
  guint64 overhead = lk_context_get_binding_alignment (context) + 4;
  guint64 row_bytes = MAX (row_elems, 1) * lk_dtype_size (t->dtype);

  if (range <= overhead)
    return 0;
  /* Indices in the kernels are 32-bit. */
  return MIN ((range - overhead) / row_bytes, (G_MAXUINT32 / 2) / (guint64) MAX (row_elems, 1));
}

gboolean
lk_ops_error_too_large (LkTensor    *t,
                        const char  *op,
                        const char  *what,
                        const char  *part,
                        GError     **error)
{
  g_autofree char *desc = lk_tensor_describe (t);

  g_set_error (error, LK_OP_ERROR, LK_OP_ERROR_UNSUPPORTED,
               "%s: %s of %s %s is larger than the device's largest storage binding",
               op, part, what, desc);
  return FALSE;
}

guint32
lk_ops_reduce_local_size (LkContext *context,
                          gint64     elems,
                          gboolean  *use_subgroup)
{
  const LkDeviceInfo *info = lk_context_get_info (context);
  VkSubgroupFeatureFlags needed = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
  guint32 subgroup = info->subgroup_size;

  const char *env = g_getenv ("LIKENESS_REDUCE_LOCAL_SIZE");
  guint32 size;

  *use_subgroup = (info->subgroup_ops & needed) == needed && subgroup >= 4 && subgroup <= 128 &&
                  (subgroup & (subgroup - 1)) == 0;

  /* "SIZE,SUBGROUP" forces a shape, so tests can run the GPU shapes (several subgroups, or a
   * shared-memory tree) on any device. */
  if (env != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (env, ",", -1);

      size = g_strv_length (parts) == 2 ? atoi (parts[0]) : 0;
      if (size >= 1 && size <= info->max_workgroup_invocations && (size & (size - 1)) == 0 &&
          (atoi (parts[1]) == 0 || (*use_subgroup && size % subgroup == 0)))
        {
          *use_subgroup = atoi (parts[1]) != 0;
          return size;
        }
      g_warning ("LIKENESS_REDUCE_LOCAL_SIZE=%s does not fit this device; ignored", env);
    }

  if (info->type == VK_PHYSICAL_DEVICE_TYPE_CPU)
    return *use_subgroup ? subgroup : 8;

  /* About four elements per invocation, within [32, 256]. */
  size = 256;
  while (size > 32 && size * 4 > elems)
    size /= 2;
  if (*use_subgroup)
    size = MAX (size, subgroup);
  while (size > info->max_workgroup_invocations)
    size /= 2;
  if (*use_subgroup && size < subgroup)
    *use_subgroup = FALSE;
  return size;
}
