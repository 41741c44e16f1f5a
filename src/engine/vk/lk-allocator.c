/* lk-allocator.c: block sub-allocators for device-local, upload and readback memory
 *
 * Each block is one VkDeviceMemory with one VkBuffer over all of it, so a sub-allocation is just
 * (block, offset, size) and binds as a buffer range. Free space is a sorted list of ranges,
 * first fit, coalesced on release. Requests larger than half a block get a block of their own.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-vk"

#include "config.h"

#include "lk-context-private.h"

typedef struct
{
  gsize offset;
  gsize size;
} Range;

typedef struct
{
  VkDeviceMemory  memory;
  VkBuffer        buffer;
  gpointer        mapped;
  gsize           size;
  gsize           used;
  GArray         *free_ranges;  /* Range, sorted by offset, never adjacent */
  LkMemoryKind    kind;
  gboolean        dedicated;
} Block;

struct _LkAllocator
{
  LkContext                        *context;  /* borrowed: the context owns us */
  VkDevice                          device;
  VkPhysicalDeviceMemoryProperties  properties;
  guint32                           memory_type[LK_N_MEMORY_KINDS];
  GPtrArray                        *blocks[LK_N_MEMORY_KINDS];
  gsize                             block_size;
  GMutex                            lock;
  guint64                           allocated;
  guint64                           peak;
};

static const VkBufferUsageFlags buffer_usage =
  VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
  VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
  VK_BUFFER_USAGE_TRANSFER_DST_BIT;

static guint32
choose_memory_type (const VkPhysicalDeviceMemoryProperties *props,
                    guint32                                 type_bits,
                    VkMemoryPropertyFlags                   required,
                    VkMemoryPropertyFlags                   preferred)
{
  guint32 fallback = G_MAXUINT32;

  for (guint32 i = 0; i < props->memoryTypeCount; i++)
    {
      VkMemoryPropertyFlags flags = props->memoryTypes[i].propertyFlags;

      if (!(type_bits & (1u << i)) || (flags & required) != required)
        continue;
      if ((flags & preferred) == preferred)
        return i;
      if (fallback == G_MAXUINT32)
        fallback = i;
    }
  return fallback;
}

LkAllocator *
lk_allocator_new (LkContext        *context,
                  VkPhysicalDevice  physical,
                  VkDevice          device,
                  gsize             block_size)
{
  LkAllocator *self = g_new0 (LkAllocator, 1);
  VkMemoryRequirements req;
  VkBuffer probe;
  const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                     VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

  self->context = context;
  self->device = device;
  self->block_size = block_size;
  g_mutex_init (&self->lock);
  vkGetPhysicalDeviceMemoryProperties (physical, &self->properties);

  /* Which memory types can back our storage buffers at all. */
  vkCreateBuffer (device,
                  &(VkBufferCreateInfo) {
                    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                    .size = 4096,
                    .usage = buffer_usage,
                  },
                  NULL, &probe);
  vkGetBufferMemoryRequirements (device, probe, &req);
  vkDestroyBuffer (device, probe, NULL);

  self->memory_type[LK_MEMORY_DEVICE] =
    choose_memory_type (&self->properties, req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  self->memory_type[LK_MEMORY_UPLOAD] =
    choose_memory_type (&self->properties, req.memoryTypeBits, host, 0);
  self->memory_type[LK_MEMORY_READBACK] =
    choose_memory_type (&self->properties, req.memoryTypeBits, host, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);

  for (guint k = 0; k < LK_N_MEMORY_KINDS; k++)
    self->blocks[k] = g_ptr_array_new ();
  return self;
}

static void
block_free (LkAllocator *self,
            Block       *block)
{
  if (block->mapped)
    vkUnmapMemory (self->device, block->memory);
  vkDestroyBuffer (self->device, block->buffer, NULL);
  vkFreeMemory (self->device, block->memory, NULL);
  g_array_unref (block->free_ranges);
  g_free (block);
}

void
lk_allocator_free (LkAllocator *self)
{
  for (guint k = 0; k < LK_N_MEMORY_KINDS; k++)
    {
      for (guint i = 0; i < self->blocks[k]->len; i++)
        {
          Block *block = g_ptr_array_index (self->blocks[k], i);

          if (block->used != 0)
            g_critical ("Freeing a memory block with %zu bytes still in use", block->used);
          block_free (self, block);
        }
      g_ptr_array_unref (self->blocks[k]);
    }
  g_mutex_clear (&self->lock);
  g_free (self);
}

static Block *
block_new (LkAllocator   *self,
           LkMemoryKind   kind,
           gsize          size,
           gboolean       dedicated,
           GError       **error)
{
  g_autofree Block *block = g_new0 (Block, 1);
  VkMemoryRequirements req;
  guint32 type = self->memory_type[kind];

  if (type == G_MAXUINT32)
    {
      g_set_error (error, LK_VK_ERROR, LK_VK_ERROR_UNSUPPORTED,
                   "The Vulkan device has no memory type for %s buffers",
                   kind == LK_MEMORY_DEVICE ? "device" : "host-visible");
      return NULL;
    }

  block->kind = kind;
  block->dedicated = dedicated;
  if (!LK_VK_CHECK (vkCreateBuffer (self->device,
                                    &(VkBufferCreateInfo) {
                                      .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                                      .size = size,
                                      .usage = buffer_usage,
                                    },
                                    NULL, &block->buffer),
                    error))
    return NULL;
  vkGetBufferMemoryRequirements (self->device, block->buffer, &req);
  if (!LK_VK_CHECK (vkAllocateMemory (self->device,
                                      &(VkMemoryAllocateInfo) {
                                        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                        .allocationSize = req.size,
                                        .memoryTypeIndex = type,
                                      },
                                      NULL, &block->memory),
                    error))
    {
      vkDestroyBuffer (self->device, block->buffer, NULL);
      g_prefix_error (error, "Allocating %.1f MiB: ", size / (1024.0 * 1024.0));
      return NULL;
    }
  if (!LK_VK_CHECK (vkBindBufferMemory (self->device, block->buffer, block->memory, 0), error))
    goto fail;
  if (self->properties.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT &&
      !LK_VK_CHECK (vkMapMemory (self->device, block->memory, 0, VK_WHOLE_SIZE, 0, &block->mapped), error))
    goto fail;

  block->size = size;
  block->free_ranges = g_array_new (FALSE, FALSE, sizeof (Range));
  g_array_append_val (block->free_ranges, ((Range) { 0, size }));
  return g_steal_pointer (&block);

fail:
  vkDestroyBuffer (self->device, block->buffer, NULL);
  vkFreeMemory (self->device, block->memory, NULL);
  return NULL;
}

static gboolean
block_take (Block *block,
            gsize  size,
            gsize  alignment,
            gsize *offset_out)
{
  for (guint i = 0; i < block->free_ranges->len; i++)
    {
      Range *r = &g_array_index (block->free_ranges, Range, i);
      gsize start = (r->offset + alignment - 1) / alignment * alignment;
      gsize pad = start - r->offset;

      if (r->size < pad || r->size - pad < size)
        continue;

      {
        Range tail = { start + size, r->offset + r->size - (start + size) };

        if (pad > 0)
          {
            r->size = pad;
            if (tail.size > 0)
              g_array_insert_val (block->free_ranges, i + 1, tail);
          }
        else if (tail.size > 0)
          *r = tail;
        else
          g_array_remove_index (block->free_ranges, i);
      }
      block->used += size;
      *offset_out = start;
      return TRUE;
    }
  return FALSE;
}

static void
block_give_back (Block *block,
                 gsize  offset,
                 gsize  size)
{
  GArray *ranges = block->free_ranges;
  guint i = 0;

  while (i < ranges->len && g_array_index (ranges, Range, i).offset < offset)
    i++;
  g_array_insert_val (ranges, i, ((Range) { offset, size }));

  /* Coalesce with the next, then with the previous range. */
  if (i + 1 < ranges->len)
    {
      Range *cur = &g_array_index (ranges, Range, i);
      Range *next = &g_array_index (ranges, Range, i + 1);

      g_assert (cur->offset + cur->size <= next->offset);
      if (cur->offset + cur->size == next->offset)
        {
          cur->size += next->size;
          g_array_remove_index (ranges, i + 1);
        }
    }
  if (i > 0)
    {
      Range *prev = &g_array_index (ranges, Range, i - 1);
      Range *cur = &g_array_index (ranges, Range, i);

      g_assert (prev->offset + prev->size <= cur->offset);
      if (prev->offset + prev->size == cur->offset)
        {
          prev->size += cur->size;
          g_array_remove_index (ranges, i);
        }
    }
  block->used -= size;
}

gboolean
lk_allocator_alloc (LkAllocator   *self,
                    LkMemoryKind   kind,
                    gsize          size,
                    gsize          alignment,
                    LkBuffer      *buffer,
                    GError       **error)
{
  GPtrArray *blocks = self->blocks[kind];
  Block *block = NULL;
  gsize offset = 0;

  g_assert (alignment > 0);
  size = MAX (size, 4);
  size = (size + 3) & ~(gsize) 3;

  g_mutex_lock (&self->lock);

  if (size > self->block_size / 2)
    {
      block = block_new (self, kind, size, TRUE, error);
      if (block == NULL)
        goto out;
      block_take (block, size, alignment, &offset);
      g_ptr_array_add (blocks, block);
    }
  else
    {
      for (guint i = 0; i < blocks->len && block == NULL; i++)
        {
          Block *candidate = g_ptr_array_index (blocks, i);

          if (!candidate->dedicated && block_take (candidate, size, alignment, &offset))
            block = candidate;
        }
      if (block == NULL)
        {
          block = block_new (self, kind, self->block_size, FALSE, error);
          if (block == NULL)
            goto out;
          g_ptr_array_add (blocks, block);
          if (!block_take (block, size, alignment, &offset))
            g_assert_not_reached ();
        }
    }

  buffer->block = block;
  buffer->offset = offset;
  buffer->size = size;
  buffer->kind = kind;
  if (kind == LK_MEMORY_DEVICE)
    {
      self->allocated += size;
      self->peak = MAX (self->peak, self->allocated);
    }

out:
  g_mutex_unlock (&self->lock);
  return block != NULL;
}

void
lk_allocator_release (LkAllocator *self,
                      LkBuffer    *buffer)
{
  Block *block = buffer->block;
  GPtrArray *blocks = self->blocks[buffer->kind];

  g_mutex_lock (&self->lock);
  block_give_back (block, buffer->offset, buffer->size);
  if (buffer->kind == LK_MEMORY_DEVICE)
    self->allocated -= buffer->size;

  if (block->used == 0)
    {
      guint n_shared = 0;

      for (guint i = 0; i < blocks->len; i++)
        n_shared += !((Block *) g_ptr_array_index (blocks, i))->dedicated;
      /* Keep one shared block per kind warm; give everything else back to the driver. */
      if (block->dedicated || n_shared > 1)
        {
          g_ptr_array_remove_fast (blocks, block);
          block_free (self, block);
        }
    }
  g_mutex_unlock (&self->lock);
}

VkBuffer
lk_allocator_block_handle (gpointer block)
{
  return ((Block *) block)->buffer;
}

gpointer
lk_allocator_block_data (gpointer block)
{
  return ((Block *) block)->mapped;
}

guint64
lk_allocator_get_allocated (LkAllocator *self)
{
  guint64 v;

  g_mutex_lock (&self->lock);
  v = self->allocated;
  g_mutex_unlock (&self->lock);
  return v;
}

guint64
lk_allocator_get_peak (LkAllocator *self)
{
  guint64 v;

  g_mutex_lock (&self->lock);
  v = self->peak;
  g_mutex_unlock (&self->lock);
  return v;
}

void
lk_allocator_reset_peak (LkAllocator *self)
{
  g_mutex_lock (&self->lock);
  self->peak = self->allocated;
  g_mutex_unlock (&self->lock);
}

guint
lk_allocator_get_n_blocks (LkAllocator  *self,
                           LkMemoryKind  kind)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->blocks[kind]->len;
  g_mutex_unlock (&self->lock);
  return n;
}

/* LkBuffer */

LkBuffer *
lk_buffer_new (LkContext     *context,
               LkMemoryKind   kind,
               gsize          size,
               GError       **error)
{
  g_autofree LkBuffer *self = g_new0 (LkBuffer, 1);

  g_return_val_if_fail (LK_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (kind < LK_N_MEMORY_KINDS, NULL);

  if (!lk_allocator_alloc (lk_context_get_allocator (context), kind, size,
                           lk_context_get_binding_alignment (context), self, error))
    return NULL;
  g_atomic_ref_count_init (&self->ref_count);
  self->context = g_object_ref (context);
  return g_steal_pointer (&self);
}

LkBuffer *
lk_buffer_ref (LkBuffer *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_buffer_unref (LkBuffer *self)
{
  if (g_atomic_ref_count_dec (&self->ref_count))
    {
      LkContext *context = self->context;

      lk_allocator_release (lk_context_get_allocator (context), self);
      g_free (self);
      g_object_unref (context);
    }
}

gsize
lk_buffer_get_size (LkBuffer *self)
{
  return self->size;
}

LkMemoryKind
lk_buffer_get_kind (LkBuffer *self)
{
  return self->kind;
}

LkContext *
lk_buffer_get_context (LkBuffer *self)
{
  return self->context;
}

gpointer
lk_buffer_get_data (LkBuffer *self)
{
  guint8 *mapped = lk_allocator_block_data (self->block);

  return mapped ? mapped + self->offset : NULL;
}

VkBuffer
lk_buffer_get_handle (LkBuffer *self,
                      gsize    *offset)
{
  if (offset)
    *offset = self->offset;
  return lk_allocator_block_handle (self->block);
}
