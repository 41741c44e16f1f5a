/* lk-stream.c: a command stream that batches dispatches and derives barriers from each buffer's
 * last access
 *
 * Dispatches are recorded into a command buffer of the current frame; a frame is submitted when
 * the caller asks, or when it holds many dispatches, and a ring of frames lets recording go on
 * while the device works. Every buffer remembers how it was last touched and in which barrier
 * epoch: a read after a write, or a write after any access, in the same epoch needs a barrier;
 * everything else goes straight through. Buffers bound in a frame are kept alive until the frame
 * has completed on the device, so memory is never reused under a running dispatch.
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-vk"

#include "config.h"

#include <string.h>

#include "lk-context-private.h"

#define N_FRAMES              3
#define MAX_DISPATCHES_FRAME  256
#define SETS_PER_POOL         256
#define STAGING_SIZE          (16u * 1024 * 1024)

enum
{
  ACCESS_SHADER_READ    = 1 << 0,
  ACCESS_SHADER_WRITE   = 1 << 1,
  ACCESS_TRANSFER_READ  = 1 << 2,
  ACCESS_TRANSFER_WRITE = 1 << 3,
};
#define ACCESS_ANY_WRITE (ACCESS_SHADER_WRITE | ACCESS_TRANSFER_WRITE)

typedef struct
{
  VkCommandBuffer  cmd;
  GArray          *pools;        /* VkDescriptorPool */
  guint            pool_index;
  GPtrArray       *held;         /* LkBuffer, released when the frame completes */
  guint64          timeline;     /* value signalled by its submission; 0 when not in flight */
  guint            n_dispatches;
  gboolean         recording;
} Frame;

struct _LkStream
{
  LkContext     *context;  /* owned */
  VkDevice       device;
  VkCommandPool  command_pool;
  Frame          frames[N_FRAMES];
  guint          current;
  guint64        epoch;
  GError        *error;    /* sticky: the first recording error, reported at submit */

  LkBuffer      *upload;   /* staging ring towards the device */
  gsize          upload_head;
  LkBuffer      *readback;

  LkStreamStats  stats;
};

/* Epochs are unique across streams, so a buffer's record never matches a stream it was not
 * touched by, even one allocated at a freed stream's address. */
static guint64
next_epoch (void)
{
  static guint64 epoch_counter;
  static GMutex lock;
  guint64 v;

  g_mutex_lock (&lock);
  v = ++epoch_counter;
  g_mutex_unlock (&lock);
  return v;
}

static void
set_sticky_error (LkStream *self,
                  GError   *error)
{
  if (self->error == NULL)
    self->error = error;
  else
    g_error_free (error);
}

LkStream *
lk_stream_new (LkContext  *context,
               GError    **error)
{
  g_autoptr(LkStream) self = g_new0 (LkStream, 1);
  VkCommandBuffer cmds[N_FRAMES];

  g_return_val_if_fail (LK_IS_CONTEXT (context), NULL);

  self->context = g_object_ref (context);
  self->device = lk_context_get_device (context);
  self->epoch = next_epoch ();

  if (!LK_VK_CHECK (vkCreateCommandPool (self->device,
                                         &(VkCommandPoolCreateInfo) {
                                           .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                           .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                           .queueFamilyIndex = lk_context_get_info (context)->compute_queue_family,
                                         },
                                         NULL, &self->command_pool),
                    error))
    return NULL;
  if (!LK_VK_CHECK (vkAllocateCommandBuffers (self->device,
                                              &(VkCommandBufferAllocateInfo) {
                                                .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                                .commandPool = self->command_pool,
                                                .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                                .commandBufferCount = N_FRAMES,
                                              },
                                              cmds),
                    error))
    return NULL;

  for (guint i = 0; i < N_FRAMES; i++)
    {
      self->frames[i].cmd = cmds[i];
      self->frames[i].pools = g_array_new (FALSE, FALSE, sizeof (VkDescriptorPool));
      self->frames[i].held = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_buffer_unref);
    }

  return g_steal_pointer (&self);
}

static gboolean
wait_timeline (LkStream *self,
               guint64   value,
               GError  **error)
{
  VkSemaphore timeline = lk_context_get_timeline (self->context);

  return LK_VK_CHECK (vkWaitSemaphores (self->device,
                                        &(VkSemaphoreWaitInfo) {
                                          .sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO,
                                          .semaphoreCount = 1,
                                          .pSemaphores = &timeline,
                                          .pValues = &value,
                                        },
                                        UINT64_MAX),
                      error);
}

/* Waits for a frame's submission and releases what it held. */
static gboolean
frame_retire (LkStream *self,
              Frame    *frame,
              GError  **error)
{
  if (frame->timeline == 0)
    return TRUE;
  if (!wait_timeline (self, frame->timeline, error))
    return FALSE;
  frame->timeline = 0;
  g_ptr_array_set_size (frame->held, 0);
  for (guint i = 0; i < frame->pools->len; i++)
    vkResetDescriptorPool (self->device, g_array_index (frame->pools, VkDescriptorPool, i), 0);
  frame->pool_index = 0;
  frame->n_dispatches = 0;
  return TRUE;
}

void
lk_stream_free (LkStream *self)
{
  if (self == NULL)
    return;

  for (guint i = 0; i < N_FRAMES; i++)
    {
      Frame *frame = &self->frames[i];
      g_autoptr(GError) error = NULL;

      if (frame->recording)
        {
          vkEndCommandBuffer (frame->cmd);
          frame->recording = FALSE;
        }
      if (!frame_retire (self, frame, &error))
        g_warning ("Waiting for the device failed: %s", error->message);
      if (frame->pools != NULL)
        {
          for (guint p = 0; p < frame->pools->len; p++)
            vkDestroyDescriptorPool (self->device, g_array_index (frame->pools, VkDescriptorPool, p), NULL);
          g_array_unref (frame->pools);
        }
      g_clear_pointer (&frame->held, g_ptr_array_unref);
    }
  if (self->command_pool != VK_NULL_HANDLE)
    vkDestroyCommandPool (self->device, self->command_pool, NULL);
  g_clear_pointer (&self->upload, lk_buffer_unref);
  g_clear_pointer (&self->readback, lk_buffer_unref);
  g_clear_error (&self->error);
  g_clear_object (&self->context);
  g_free (self);
}

LkContext *
lk_stream_get_context (LkStream *self)
{
  return self->context;
}

const LkStreamStats *
lk_stream_get_stats (LkStream *self)
{
  return &self->stats;
}

static Frame *
current_frame (LkStream *self)
{
  Frame *frame = &self->frames[self->current];

  if (!frame->recording)
    {
      GError *error = NULL;

      if (!frame_retire (self, frame, &error))
        set_sticky_error (self, error);
      vkResetCommandBuffer (frame->cmd, 0);
      vkBeginCommandBuffer (frame->cmd,
                            &(VkCommandBufferBeginInfo) {
                              .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                              .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
                            });
      frame->recording = TRUE;
    }
  return frame;
}

static void
barrier (LkStream *self,
         Frame    *frame)
{
  const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;

  vkCmdPipelineBarrier (frame->cmd, stages, stages, 0,
                        1, &(VkMemoryBarrier) {
                          .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                        },
                        0, NULL, 0, NULL);
  self->epoch = next_epoch ();
  self->stats.barriers++;
}

static gboolean
needs_barrier (LkStream *self,
               LkBuffer *buffer,
               guint     access)
{
  guint last;

  if (buffer->last_stream != self || buffer->last_epoch != self->epoch)
    return buffer->last_stream != NULL && buffer->last_stream != self;
  last = buffer->last_access;
  if ((access & (ACCESS_SHADER_READ | ACCESS_TRANSFER_READ)) && (last & ACCESS_ANY_WRITE))
    return TRUE;  /* read after write */
  if ((access & ACCESS_ANY_WRITE) && last != 0)
    return TRUE;  /* write after read or write */
  return FALSE;
}

static void
note_access (LkStream *self,
             Frame    *frame,
             LkBuffer *buffer,
             guint     access)
{
  if (buffer->last_stream != self || buffer->last_epoch != self->epoch)
    {
      buffer->last_stream = self;
      buffer->last_epoch = self->epoch;
      buffer->last_access = 0;
    }
  buffer->last_access |= access;
  g_ptr_array_add (frame->held, lk_buffer_ref (buffer));
}

static VkDescriptorSet
allocate_set (LkStream              *self,
              Frame                 *frame,
              VkDescriptorSetLayout  layout)
{
  VkDescriptorSet set = VK_NULL_HANDLE;

  while (TRUE)
    {
      VkResult res;

      if (frame->pool_index == frame->pools->len)
        {
          VkDescriptorPool pool;
          GError *error = NULL;

          if (!LK_VK_CHECK (vkCreateDescriptorPool (self->device,
                                                    &(VkDescriptorPoolCreateInfo) {
                                                      .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                                      .maxSets = SETS_PER_POOL,
                                                      .poolSizeCount = 1,
                                                      .pPoolSizes = &(VkDescriptorPoolSize) {
                                                        .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                        .descriptorCount = SETS_PER_POOL * LK_MAX_BINDINGS,
                                                      },
                                                    },
                                                    NULL, &pool),
                            &error))
            {
              set_sticky_error (self, error);
              return VK_NULL_HANDLE;
            }
          g_array_append_val (frame->pools, pool);
        }

      res = vkAllocateDescriptorSets (self->device,
                                      &(VkDescriptorSetAllocateInfo) {
                                        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                        .descriptorPool = g_array_index (frame->pools, VkDescriptorPool, frame->pool_index),
                                        .descriptorSetCount = 1,
                                        .pSetLayouts = &layout,
                                      },
                                      &set);
      if (res == VK_SUCCESS)
        return set;
      if (res != VK_ERROR_OUT_OF_POOL_MEMORY && res != VK_ERROR_FRAGMENTED_POOL)
        {
          GError *error = NULL;

          LK_VK_CHECK (res, &error);
          set_sticky_error (self, error);
          return VK_NULL_HANDLE;
        }
      frame->pool_index++;
    }
}

void
lk_stream_dispatch (LkStream        *self,
                    LkKernel        *pipeline,
                    const LkBinding *bindings,
                    guint            n_bindings,
                    const void      *push,
                    gsize            push_size,
                    guint32          groups_x,
                    guint32          groups_y,
                    guint32          groups_z)
{
  VkDescriptorBufferInfo infos[LK_MAX_BINDINGS];
  VkWriteDescriptorSet writes[LK_MAX_BINDINGS];
  const LkDeviceInfo *dev = lk_context_get_info (self->context);
  gboolean need_barrier = FALSE;
  VkDescriptorSet set;
  Frame *frame;

  g_return_if_fail (pipeline != NULL);
  g_return_if_fail (n_bindings == pipeline->n_bindings);
  g_return_if_fail (push_size == pipeline->push_size);

  if (groups_x == 0 || groups_y == 0 || groups_z == 0)
    return;
  if (groups_x > dev->max_workgroup_count[0] || groups_y > dev->max_workgroup_count[1] ||
      groups_z > dev->max_workgroup_count[2])
    {
      set_sticky_error (self, g_error_new (LK_VK_ERROR, LK_VK_ERROR_INVALID,
                                           "%s: %u×%u×%u workgroups exceed the device's limits",
                                           pipeline->key, groups_x, groups_y, groups_z));
      return;
    }

  frame = current_frame (self);

  for (guint i = 0; i < n_bindings; i++)
    {
      const LkBinding *b = &bindings[i];
      guint access = ((b->access & LK_ACCESS_READ) ? ACCESS_SHADER_READ : 0) |
                     ((b->access & LK_ACCESS_WRITE) ? ACCESS_SHADER_WRITE : 0);
      gsize base;

      g_return_if_fail (b->buffer != NULL);
      g_return_if_fail (b->offset + b->range <= b->buffer->size);
      if (b->range > lk_context_get_max_binding_range (self->context) ||
          b->offset % lk_context_get_binding_alignment (self->context) != 0)
        {
          set_sticky_error (self, g_error_new (LK_VK_ERROR, LK_VK_ERROR_INVALID,
                                               "%s: binding %u (offset %zu, range %zu) is misaligned "
                                               "or beyond the device's storage range",
                                               pipeline->key, i, b->offset, b->range));
          return;
        }
      need_barrier |= needs_barrier (self, b->buffer, access);
      infos[i] = (VkDescriptorBufferInfo) {
        .buffer = lk_buffer_get_handle (b->buffer, &base),
        .offset = base + b->offset,
        .range = b->range,
      };
      writes[i] = (VkWriteDescriptorSet) {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstBinding = i,
        .descriptorCount = 1,
        .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .pBufferInfo = &infos[i],
      };
    }

  set = allocate_set (self, frame, pipeline->set_layout);
  if (set == VK_NULL_HANDLE)
    return;
  for (guint i = 0; i < n_bindings; i++)
    writes[i].dstSet = set;
  vkUpdateDescriptorSets (self->device, n_bindings, writes, 0, NULL);

  if (need_barrier)
    barrier (self, frame);
  for (guint i = 0; i < n_bindings; i++)
    note_access (self, frame, bindings[i].buffer,
                 ((bindings[i].access & LK_ACCESS_READ) ? ACCESS_SHADER_READ : 0) |
                 ((bindings[i].access & LK_ACCESS_WRITE) ? ACCESS_SHADER_WRITE : 0));

  vkCmdBindPipeline (frame->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline->pipeline);
  vkCmdBindDescriptorSets (frame->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline->layout, 0, 1, &set, 0, NULL);
  if (push_size > 0)
    vkCmdPushConstants (frame->cmd, pipeline->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
  vkCmdDispatch (frame->cmd, groups_x, groups_y, groups_z);
  self->stats.dispatches++;

  /* Keep the device fed: hand over long batches without waiting for them. */
  if (++frame->n_dispatches >= MAX_DISPATCHES_FRAME)
    {
      GError *error = NULL;

      if (!lk_stream_submit (self, &error))
        set_sticky_error (self, error);
    }
}

static void
record_copy (LkStream *self,
             LkBuffer *src,
             gsize     src_offset,
             LkBuffer *dst,
             gsize     dst_offset,
             gsize     size)
{
  Frame *frame = current_frame (self);
  gsize src_base, dst_base;
  VkBuffer src_handle = lk_buffer_get_handle (src, &src_base);
  VkBuffer dst_handle = lk_buffer_get_handle (dst, &dst_base);

  if (needs_barrier (self, src, ACCESS_TRANSFER_READ) || needs_barrier (self, dst, ACCESS_TRANSFER_WRITE))
    barrier (self, frame);
  note_access (self, frame, src, ACCESS_TRANSFER_READ);
  note_access (self, frame, dst, ACCESS_TRANSFER_WRITE);
  vkCmdCopyBuffer (frame->cmd, src_handle, dst_handle, 1,
                   &(VkBufferCopy) {
                     .srcOffset = src_base + src_offset,
                     .dstOffset = dst_base + dst_offset,
                     .size = size,
                   });
}

void
lk_stream_fill (LkStream *self,
                LkBuffer *dst,
                gsize     offset,
                gsize     size,
                guint32   pattern)
{
  Frame *frame = current_frame (self);
  gsize base;
  VkBuffer handle = lk_buffer_get_handle (dst, &base);

  g_return_if_fail (offset % 4 == 0 && size % 4 == 0);
  g_return_if_fail (offset + size <= dst->size);

  if (needs_barrier (self, dst, ACCESS_TRANSFER_WRITE))
    barrier (self, frame);
  note_access (self, frame, dst, ACCESS_TRANSFER_WRITE);
  vkCmdFillBuffer (frame->cmd, handle, base + offset, size, pattern);
}

/**
 * lk_stream_upload:
 *
 * Copies host data into @dst through the staging ring. The copy is recorded in order with the
 * dispatches; @data may be reused as soon as this returns.
 */
gboolean
lk_stream_upload (LkStream    *self,
                  LkBuffer    *dst,
                  gsize        dst_offset,
                  const void  *data,
                  gsize        size,
                  GError     **error)
{
  const guint8 *bytes = data;

  g_return_val_if_fail (dst_offset + size <= dst->size, FALSE);

  if (self->upload == NULL)
    {
      self->upload = lk_buffer_new (self->context, LK_MEMORY_UPLOAD, STAGING_SIZE, error);
      if (self->upload == NULL)
        return FALSE;
    }

  while (size > 0)
    {
      gsize chunk;

      /* The ring is reclaimed only when everything that used it has completed. */
      if (self->upload_head >= STAGING_SIZE)
        {
          if (!lk_stream_finish (self, error))
            return FALSE;
          self->upload_head = 0;
        }
      chunk = MIN (size, STAGING_SIZE - self->upload_head);
      memcpy ((guint8 *) lk_buffer_get_data (self->upload) + self->upload_head, bytes, chunk);
      record_copy (self, self->upload, self->upload_head, dst, dst_offset, chunk);
      self->upload_head = (self->upload_head + chunk + 255) & ~(gsize) 255;
      dst_offset += chunk;
      bytes += chunk;
      size -= chunk;
      self->stats.uploaded_bytes += chunk;
    }
  return TRUE;
}

/**
 * lk_stream_download:
 *
 * Submits what was recorded, waits, and copies @size bytes of @src into @data.
 */
gboolean
lk_stream_download (LkStream  *self,
                    LkBuffer  *src,
                    gsize      src_offset,
                    void      *data,
                    gsize      size,
                    GError   **error)
{
  guint8 *bytes = data;

  g_return_val_if_fail (src_offset + size <= src->size, FALSE);

  if (self->readback == NULL)
    {
      self->readback = lk_buffer_new (self->context, LK_MEMORY_READBACK, STAGING_SIZE, error);
      if (self->readback == NULL)
        return FALSE;
    }

  while (size > 0)
    {
      gsize chunk = MIN (size, STAGING_SIZE);
      Frame *frame;

      record_copy (self, src, src_offset, self->readback, 0, chunk);
      frame = current_frame (self);
      vkCmdPipelineBarrier (frame->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0,
                            1, &(VkMemoryBarrier) {
                              .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                              .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
                            },
                            0, NULL, 0, NULL);
      if (!lk_stream_finish (self, error))
        return FALSE;
      memcpy (bytes, lk_buffer_get_data (self->readback), chunk);
      src_offset += chunk;
      bytes += chunk;
      size -= chunk;
      self->stats.downloaded_bytes += chunk;
    }
  return TRUE;
}

/**
 * lk_stream_submit:
 *
 * Hands what was recorded to the device without waiting for it.
 */
gboolean
lk_stream_submit (LkStream  *self,
                  GError   **error)
{
  Frame *frame = &self->frames[self->current];
  VkSemaphore timeline = lk_context_get_timeline (self->context);
  GMutex *lock = lk_context_get_queue_lock (self->context);
  guint64 value;
  VkResult res;

  if (self->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&self->error));
      if (frame->recording)
        {
          vkEndCommandBuffer (frame->cmd);
          frame->recording = FALSE;
          g_ptr_array_set_size (frame->held, 0);
        }
      return FALSE;
    }
  if (!frame->recording)
    return TRUE;

  frame->recording = FALSE;
  if (!LK_VK_CHECK (vkEndCommandBuffer (frame->cmd), error))
    return FALSE;

  g_mutex_lock (lock);
  value = lk_context_next_timeline_value (self->context);
  res = vkQueueSubmit (lk_context_get_queue (self->context), 1,
                       &(VkSubmitInfo) {
                         .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                         .pNext = &(VkTimelineSemaphoreSubmitInfo) {
                           .sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO,
                           .signalSemaphoreValueCount = 1,
                           .pSignalSemaphoreValues = &value,
                         },
                         .commandBufferCount = 1,
                         .pCommandBuffers = &frame->cmd,
                         .signalSemaphoreCount = 1,
                         .pSignalSemaphores = &timeline,
                       },
                       VK_NULL_HANDLE);
  g_mutex_unlock (lock);
  if (!LK_VK_CHECK (res, error))
    {
      g_ptr_array_set_size (frame->held, 0);
      return FALSE;
    }

  frame->timeline = value;
  self->stats.submits++;
  self->current = (self->current + 1) % N_FRAMES;
  return TRUE;
}

/**
 * lk_stream_finish:
 *
 * Submits what was recorded and waits until the device has done all of it.
 */
gboolean
lk_stream_finish (LkStream  *self,
                  GError   **error)
{
  if (!lk_stream_submit (self, error))
    return FALSE;
  for (guint i = 0; i < N_FRAMES; i++)
    if (!frame_retire (self, &self->frames[i], error))
      return FALSE;
  self->upload_head = 0;
  return TRUE;
}
