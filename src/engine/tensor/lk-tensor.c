/* lk-tensor.c: typed, shaped views of device buffers, and the graph arena
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-tensor"

#include "config.h"

#include <string.h>

#include "lk-tensor.h"
#include "lk-half.h"

G_DEFINE_BOXED_TYPE (LkTensor, lk_tensor, lk_tensor_ref, lk_tensor_unref)

struct _LkArena
{
  gatomicrefcount  ref_count;
  LkContext       *context;  /* owned */
  GMutex           lock;
  GPtrArray       *free;     /* LkBuffer, owned */
  guint64          bytes;    /* everything the arena holds, free or live */
  guint64          live;
  guint64          peak_live;
  guint            reuses;
};

static void arena_give_back (LkArena  *self,
                             LkBuffer *buffer);

gsize
lk_dtype_size (LkDType dtype)
{
  return dtype == LK_DTYPE_F16 ? 2 : 4;
}

const char *
lk_dtype_name (LkDType dtype)
{
  return dtype == LK_DTYPE_F16 ? "f16" : "f32";
}

static void
set_contiguous_strides (LkTensor *self)
{
  gint64 stride = 1;

  for (gint i = (gint) self->ndim - 1; i >= 0; i--)
    {
      self->strides[i] = stride;
      stride *= self->shape[i];
    }
}

static LkTensor *
tensor_alloc (LkDType       dtype,
              guint         ndim,
              const gint64 *shape)
{
  LkTensor *self = g_new0 (LkTensor, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->dtype = dtype;
  self->ndim = ndim;
  for (guint i = 0; i < ndim; i++)
    self->shape[i] = shape[i];
  set_contiguous_strides (self);
  return self;
}

static gboolean
check_shape (guint         ndim,
             const gint64 *shape,
             GError      **error)
{
  if (ndim == 0 || ndim > LK_MAX_DIMS)
    {
      g_set_error (error, LK_VK_ERROR, LK_VK_ERROR_INVALID,
                   "Tensors have 1 to %d dimensions, not %u", LK_MAX_DIMS, ndim);
      return FALSE;
    }
  for (guint i = 0; i < ndim; i++)
    if (shape[i] <= 0 || shape[i] > (G_GINT64_CONSTANT (1) << 40))
      {
        g_set_error (error, LK_VK_ERROR, LK_VK_ERROR_INVALID,
                     "Tensor dimension %u has an invalid size %" G_GINT64_FORMAT, i, shape[i]);
        return FALSE;
      }
  return TRUE;
}

LkTensor *
lk_tensor_new (LkContext     *context,
               LkDType        dtype,
               guint          ndim,
               const gint64  *shape,
               GError       **error)
{
  g_autoptr(LkTensor) self = NULL;

  g_return_val_if_fail (LK_IS_CONTEXT (context), NULL);

  if (!check_shape (ndim, shape, error))
    return NULL;
  self = tensor_alloc (dtype, ndim, shape);
  self->buffer = lk_buffer_new (context, LK_MEMORY_DEVICE, lk_tensor_nbytes (self), error);
  if (self->buffer == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

LkTensor *
lk_tensor_new_for_buffer (LkBuffer     *buffer,
                          gsize         offset,
                          LkDType       dtype,
                          guint         ndim,
                          const gint64 *shape)
{
  LkTensor *self;

  g_return_val_if_fail (check_shape (ndim, shape, NULL), NULL);

  self = tensor_alloc (dtype, ndim, shape);
  g_return_val_if_fail (offset + lk_tensor_nbytes (self) <= lk_buffer_get_size (buffer), (lk_tensor_unref (self), NULL));
  self->buffer = lk_buffer_ref (buffer);
  self->offset = offset;
  return self;
}

/**
 * lk_tensor_view:
 * @element_offset: where the view starts, in elements of @base
 *
 * A contiguous view of part of a contiguous tensor with another shape (reshape and slicing along
 * the outermost dimension).
 */
LkTensor *
lk_tensor_view (LkTensor     *base,
                guint         ndim,
                const gint64 *shape,
                gint64        element_offset)
{
  LkTensor *self;

  g_return_val_if_fail (lk_tensor_is_contiguous (base), NULL);
  g_return_val_if_fail (check_shape (ndim, shape, NULL), NULL);

  self = tensor_alloc (base->dtype, ndim, shape);
  g_return_val_if_fail (element_offset >= 0 &&
                        element_offset + lk_tensor_numel (self) <= lk_tensor_numel (base),
                        (lk_tensor_unref (self), NULL));
  self->buffer = lk_buffer_ref (base->buffer);
  self->offset = base->offset + element_offset * lk_dtype_size (base->dtype);
  return self;
}

LkTensor *
lk_tensor_ref (LkTensor *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_tensor_unref (LkTensor *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  if (self->arena != NULL)
    {
      arena_give_back (self->arena, g_steal_pointer (&self->buffer));
      lk_arena_unref (self->arena);
    }
  else
    lk_buffer_unref (self->buffer);
  g_free (self);
}

gint64
lk_tensor_numel (const LkTensor *self)
{
  gint64 n = 1;

  for (guint i = 0; i < self->ndim; i++)
    n *= self->shape[i];
  return n;
}

gsize
lk_tensor_nbytes (const LkTensor *self)
{
  return lk_tensor_numel (self) * lk_dtype_size (self->dtype);
}

gboolean
lk_tensor_is_contiguous (const LkTensor *self)
{
  gint64 stride = 1;

  for (gint i = (gint) self->ndim - 1; i >= 0; i--)
    {
      if (self->shape[i] != 1 && self->strides[i] != stride)
        return FALSE;
      stride *= self->shape[i];
    }
  return TRUE;
}

gboolean
lk_tensor_same_shape (const LkTensor *a,
                      const LkTensor *b)
{
  if (a->ndim != b->ndim)
    return FALSE;
  for (guint i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i])
      return FALSE;
  return TRUE;
}

char *
lk_tensor_describe (const LkTensor *self)
{
  GString *s = g_string_new (lk_dtype_name (self->dtype));

  g_string_append_c (s, '[');
  for (guint i = 0; i < self->ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "×" : "", self->shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

LkContext *
lk_tensor_get_context (const LkTensor *self)
{
  return lk_buffer_get_context (self->buffer);
}

LkBinding
lk_tensor_binding (const LkTensor *self,
                   LkAccess        access)
{
  return lk_tensor_binding_range (self, 0, lk_tensor_numel (self), access);
}

LkBinding
lk_tensor_binding_range (const LkTensor *self,
                         gint64          first,
                         gint64          count,
                         LkAccess        access)
{
  gsize size = lk_dtype_size (self->dtype);
  gsize bytes = count * size;

  g_assert (first >= 0 && first + count <= lk_tensor_numel (self));
  /* Storage buffer ranges are read as whole 32-bit words by f16 kernels: round up to 4 bytes,
   * inside the buffer (its size is a multiple of 4). */
  bytes = MIN ((bytes + 3) & ~(gsize) 3, lk_buffer_get_size (self->buffer) - (self->offset + first * size));
  return (LkBinding) {
    .buffer = self->buffer,
    .offset = self->offset + first * size,
    .range = bytes,
    .access = access,
  };
}

static gboolean
check_transferable (LkTensor  *self,
                    GError   **error)
{
  if (!lk_tensor_is_contiguous (self))
    {
      g_set_error_literal (error, LK_VK_ERROR, LK_VK_ERROR_INVALID,
                           "Only contiguous tensors can be copied to or from the host");
      return FALSE;
    }
  return TRUE;
}

gboolean
lk_tensor_upload_f32 (LkTensor     *self,
                      LkStream     *stream,
                      const float  *data,
                      GError      **error)
{
  gint64 n = lk_tensor_numel (self);
  g_autofree guint16 *halves = NULL;

  if (!check_transferable (self, error))
    return FALSE;
  if (self->dtype == LK_DTYPE_F32)
    return lk_stream_upload (stream, self->buffer, self->offset, data, n * 4, error);

  halves = g_new (guint16, n);
  lk_floats_to_halves (data, halves, n);
  return lk_stream_upload (stream, self->buffer, self->offset, halves, n * 2, error);
}

gboolean
lk_tensor_download_f32 (LkTensor  *self,
                        LkStream  *stream,
                        float     *data,
                        GError   **error)
{
  gint64 n = lk_tensor_numel (self);
  g_autofree guint16 *halves = NULL;

  if (!check_transferable (self, error))
    return FALSE;
  if (self->dtype == LK_DTYPE_F32)
    return lk_stream_download (stream, self->buffer, self->offset, data, n * 4, error);

  halves = g_new (guint16, n);
  if (!lk_stream_download (stream, self->buffer, self->offset, halves, n * 2, error))
    return FALSE;
  lk_halves_to_floats (halves, data, n);
  return TRUE;
}

void
lk_tensor_poison (LkTensor *self,
                  LkStream *stream)
{
  gsize begin = self->offset & ~(gsize) 3;
  gsize end = (self->offset + lk_tensor_nbytes (self) + 3) & ~(gsize) 3;

  g_return_if_fail (lk_tensor_is_contiguous (self));
  /* 0xffff is a NaN in f16 and 0xffffffff one in f32. The rounding to whole words may touch a
   * neighbour's two bytes only for f16 tensors at odd offsets, which views never produce for
   * outputs. */
  lk_stream_fill (stream, self->buffer, begin, MIN (end, lk_buffer_get_size (self->buffer)) - begin,
                  0xffffffffu);
}

/* The arena */

LkArena *
lk_arena_new (LkContext *context)
{
  LkArena *self = g_new0 (LkArena, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->context = g_object_ref (context);
  g_mutex_init (&self->lock);
  self->free = g_ptr_array_new_with_free_func ((GDestroyNotify) lk_buffer_unref);
  return self;
}

LkArena *
lk_arena_ref (LkArena *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_arena_unref (LkArena *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_ptr_array_unref (self->free);
  g_mutex_clear (&self->lock);
  g_object_unref (self->context);
  g_free (self);
}

/* Sizes are rounded up to one of four steps per power of two, so a released buffer fits the
 * many slightly different activations of a network at the cost of at most 25 % slack. */
static gsize
size_class (gsize bytes)
{
  gsize p = 256;

  while (p < bytes)
    {
      if (p + p / 4 >= bytes)
        return p + p / 4;
      if (p + p / 2 >= bytes)
        return p + p / 2;
      if (p + 3 * (p / 4) >= bytes)
        return p + 3 * (p / 4);
      p *= 2;
    }
  return p;
}

LkTensor *
lk_arena_tensor (LkArena       *self,
                 LkDType        dtype,
                 guint          ndim,
                 const gint64  *shape,
                 GError       **error)
{
  g_autoptr(LkTensor) tensor = NULL;
  LkBuffer *buffer = NULL;
  gsize want;

  if (!check_shape (ndim, shape, error))
    return NULL;
  tensor = tensor_alloc (dtype, ndim, shape);
  want = size_class (lk_tensor_nbytes (tensor));

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->free->len; i++)
    {
      LkBuffer *candidate = g_ptr_array_index (self->free, i);

      if (lk_buffer_get_size (candidate) == want)
        {
          buffer = g_ptr_array_steal_index_fast (self->free, i);
          self->reuses++;
          break;
        }
    }
  g_mutex_unlock (&self->lock);

  if (buffer == NULL)
    {
      buffer = lk_buffer_new (self->context, LK_MEMORY_DEVICE, want, error);
      if (buffer == NULL)
        return NULL;
      g_mutex_lock (&self->lock);
      self->bytes += lk_buffer_get_size (buffer);
      g_mutex_unlock (&self->lock);
    }

  g_mutex_lock (&self->lock);
  self->live += lk_buffer_get_size (buffer);
  self->peak_live = MAX (self->peak_live, self->live);
  g_mutex_unlock (&self->lock);

  tensor->buffer = buffer;
  tensor->arena = lk_arena_ref (self);
  return g_steal_pointer (&tensor);
}

static void
arena_give_back (LkArena  *self,
                 LkBuffer *buffer)
{
  g_mutex_lock (&self->lock);
  self->live -= lk_buffer_get_size (buffer);
  g_ptr_array_add (self->free, buffer);
  g_mutex_unlock (&self->lock);
}

guint64
lk_arena_get_bytes (LkArena *self)
{
  return self->bytes;
}

guint64
lk_arena_get_live_bytes (LkArena *self)
{
  return self->live;
}

guint64
lk_arena_get_peak_live_bytes (LkArena *self)
{
  return self->peak_live;
}

guint
lk_arena_get_reuse_count (LkArena *self)
{
  return self->reuses;
}

/* Gives the free buffers back to the device. */
void
lk_arena_trim (LkArena *self)
{
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->free->len; i++)
    self->bytes -= lk_buffer_get_size (g_ptr_array_index (self->free, i));
  g_ptr_array_set_size (self->free, 0);
  g_mutex_unlock (&self->lock);
}
