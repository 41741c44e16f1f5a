/* lk-context-private.h: what the vk/ files share among themselves
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-context.h"
#include "lk-buffer.h"
#include "lk-stream.h"

G_BEGIN_DECLS

/* One choke point turns a VkResult into a GError naming the call. */
gboolean lk_vk_check (VkResult    result,
                      const char *call,
                      GError    **error);

#define LK_VK_CHECK(call, error) lk_vk_check ((call), G_STRINGIFY (call), (error))

typedef struct _LkAllocator LkAllocator;

struct _LkBuffer
{
  gatomicrefcount  ref_count;
  LkContext       *context;   /* owned */
  LkMemoryKind     kind;
  gpointer         block;     /* borrowed: LkMemoryBlock of the allocator */
  gsize            offset;
  gsize            size;
  /* Hazard tracking, owned by the one stream that uses the buffer at a time: the access since
   * the last barrier of that stream's epoch. */
  gpointer         last_stream;
  guint64          last_epoch;
  guint            last_access;
};

LkAllocator *lk_allocator_new           (LkContext    *context,
                                         VkPhysicalDevice physical,
                                         VkDevice      device,
                                         gsize         block_size);
void         lk_allocator_free          (LkAllocator  *self);
gboolean     lk_allocator_alloc         (LkAllocator  *self,
                                         LkMemoryKind  kind,
                                         gsize         size,
                                         gsize         alignment,
                                         LkBuffer     *buffer,
                                         GError      **error);
void         lk_allocator_release       (LkAllocator  *self,
                                         LkBuffer     *buffer);
VkBuffer     lk_allocator_block_handle  (gpointer      block);
gpointer     lk_allocator_block_data    (gpointer      block);
guint64      lk_allocator_get_allocated (LkAllocator  *self);
guint64      lk_allocator_get_peak      (LkAllocator  *self);
void         lk_allocator_reset_peak    (LkAllocator  *self);
guint        lk_allocator_get_n_blocks  (LkAllocator  *self,
                                         LkMemoryKind  kind);

LkAllocator *lk_context_get_allocator   (LkContext    *self);
VkQueue      lk_context_get_queue       (LkContext    *self);
VkSemaphore  lk_context_get_timeline    (LkContext    *self);
guint64      lk_context_next_timeline_value (LkContext *self);
GMutex      *lk_context_get_queue_lock  (LkContext    *self);
VkDescriptorSetLayout lk_context_get_set_layout (LkContext *self,
                                         guint         n_bindings);

/* Kernels: compute pipelines */
struct _LkKernel
{
  char                 *key;
  VkPipeline            pipeline;
  VkPipelineLayout      layout;
  VkDescriptorSetLayout set_layout;  /* borrowed from the context */
  guint                 n_bindings;
  gsize                 push_size;
};

void lk_kernel_free (LkKernel *self,
                     VkDevice  device);

G_END_DECLS
