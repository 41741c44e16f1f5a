/* lk-buffer.h: ranges of device memory handed out by the context's block sub-allocators
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-context.h"

G_BEGIN_DECLS

typedef enum
{
  LK_MEMORY_DEVICE,    /* device-local: tensors and weights */
  LK_MEMORY_UPLOAD,    /* host-visible, write-combined: staging towards the device */
  LK_MEMORY_READBACK,  /* host-visible, cached: results coming back */
  LK_N_MEMORY_KINDS
} LkMemoryKind;

typedef struct _LkBuffer LkBuffer;

LkBuffer     *lk_buffer_new         (LkContext    *context,
                                     LkMemoryKind  kind,
                                     gsize         size,
                                     GError      **error);
LkBuffer     *lk_buffer_ref         (LkBuffer     *self);
void          lk_buffer_unref       (LkBuffer     *self);
gsize         lk_buffer_get_size    (LkBuffer     *self);
LkMemoryKind  lk_buffer_get_kind    (LkBuffer     *self);
LkContext    *lk_buffer_get_context (LkBuffer     *self);
/* Host pointer for host-visible memory, NULL otherwise. */
gpointer      lk_buffer_get_data    (LkBuffer     *self);
VkBuffer      lk_buffer_get_handle  (LkBuffer     *self,
                                     gsize        *offset);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkBuffer, lk_buffer_unref)

G_END_DECLS
