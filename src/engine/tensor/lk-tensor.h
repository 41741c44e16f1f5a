/* lk-tensor.h: typed, shaped views of device buffers
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "vk/lk-stream.h"

G_BEGIN_DECLS

typedef enum
{
  LK_DTYPE_F32,
  LK_DTYPE_F16,
} LkDType;

#define LK_MAX_DIMS 4

typedef struct _LkArena LkArena;
typedef struct _LkTensor LkTensor;

/* Fields are read-only outside tensor/. Shapes are outermost first (N, C, H, W); strides are in
 * elements. */
struct _LkTensor
{
  gatomicrefcount  ref_count;
  LkDType          dtype;
  guint            ndim;
  gint64           shape[LK_MAX_DIMS];
  gint64           strides[LK_MAX_DIMS];
  LkBuffer        *buffer;  /* owned */
  gsize            offset;  /* bytes into buffer */
  LkArena         *arena;   /* owned; when set, the buffer goes back to it */
};

#define LK_TYPE_TENSOR (lk_tensor_get_type ())

GType        lk_tensor_get_type      (void) G_GNUC_CONST;
gsize        lk_dtype_size           (LkDType          dtype);
const char  *lk_dtype_name           (LkDType          dtype);

LkTensor    *lk_tensor_new           (LkContext       *context,
                                      LkDType          dtype,
                                      guint            ndim,
                                      const gint64    *shape,
                                      GError         **error);
LkTensor    *lk_tensor_new_for_buffer (LkBuffer       *buffer,
                                      gsize            offset,
                                      LkDType          dtype,
                                      guint            ndim,
                                      const gint64    *shape);
LkTensor    *lk_tensor_view          (LkTensor        *base,
                                      guint            ndim,
                                      const gint64    *shape,
                                      gint64           element_offset);
LkTensor    *lk_tensor_ref           (LkTensor        *self);
void         lk_tensor_unref         (LkTensor        *self);

gint64       lk_tensor_numel         (const LkTensor  *self);
gsize        lk_tensor_nbytes        (const LkTensor  *self);
gboolean     lk_tensor_is_contiguous (const LkTensor  *self);
gboolean     lk_tensor_same_shape    (const LkTensor  *a,
                                      const LkTensor  *b);
char        *lk_tensor_describe      (const LkTensor  *self);
LkContext   *lk_tensor_get_context   (const LkTensor  *self);
/* The whole tensor as one binding; the caller checks it fits lk_context_get_max_binding_range(). */
LkBinding    lk_tensor_binding       (const LkTensor  *self,
                                      LkAccess         access);
/* Elements [first, first + count) of a contiguous tensor as a binding. */
LkBinding    lk_tensor_binding_range (const LkTensor  *self,
                                      gint64           first,
                                      gint64           count,
                                      LkAccess         access);

gboolean     lk_tensor_upload_f32    (LkTensor        *self,
                                      LkStream        *stream,
                                      const float     *data,
                                      GError         **error);
gboolean     lk_tensor_download_f32  (LkTensor        *self,
                                      LkStream        *stream,
                                      float           *data,
                                      GError         **error);
/* Fills with a bit pattern that reads as NaN in f32 and f16: outputs poisoned before a test. */
void         lk_tensor_poison        (LkTensor        *self,
                                      LkStream        *stream);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkTensor, lk_tensor_unref)

/* The graph arena: buffers released by a tensor's last unref are reused by later tensors of a
 * similar size, so a forward pass allocates only its peak of live activations. Reuse within one
 * stream is safe: the stream orders a write after the earlier reads of the same buffer. */
LkArena     *lk_arena_new            (LkContext       *context);
LkArena     *lk_arena_ref            (LkArena         *self);
void         lk_arena_unref          (LkArena         *self);
LkTensor    *lk_arena_tensor         (LkArena         *self,
                                      LkDType          dtype,
                                      guint            ndim,
                                      const gint64    *shape,
                                      GError         **error);
guint64      lk_arena_get_bytes      (LkArena         *self);
guint64      lk_arena_get_live_bytes (LkArena         *self);
guint64      lk_arena_get_peak_live_bytes (LkArena    *self);
guint        lk_arena_get_reuse_count (LkArena        *self);
void         lk_arena_trim           (LkArena         *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkArena, lk_arena_unref)

G_END_DECLS
