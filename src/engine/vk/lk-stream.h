/* lk-stream.h: a command stream that batches dispatches and derives barriers from each buffer's
 * last access
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-buffer.h"

G_BEGIN_DECLS

typedef enum
{
  LK_ACCESS_READ       = 1 << 0,
  LK_ACCESS_WRITE      = 1 << 1,
  LK_ACCESS_READ_WRITE = LK_ACCESS_READ | LK_ACCESS_WRITE,
} LkAccess;

typedef struct
{
  LkBuffer *buffer;
  gsize     offset;  /* bytes, a multiple of lk_context_get_binding_alignment() */
  gsize     range;   /* bytes, at most lk_context_get_max_binding_range() */
  LkAccess  access;
} LkBinding;

/* A compiled compute pipeline, owned by the context's cache. */
typedef struct _LkKernel LkKernel;

#define LK_MAX_BINDINGS        8
#define LK_MAX_SPEC_CONSTANTS  16
#define LK_MAX_PUSH_CONSTANTS  128

/* Specialization constants 0, 1, 2 are the workgroup size (local_size_{x,y,z}_id); the rest are
 * the kernel's own. */
LkKernel *lk_context_get_kernel (LkContext     *context,
                                 const char    *shader,
                                 guint          n_bindings,
                                 gsize          push_size,
                                 const guint32 *spec,
                                 guint          n_spec,
                                 GError       **error);

typedef struct _LkStream LkStream;

typedef struct
{
  guint64 dispatches;
  guint64 barriers;
  guint64 submits;
  guint64 uploaded_bytes;
  guint64 downloaded_bytes;
} LkStreamStats;

LkStream  *lk_stream_new        (LkContext        *context,
                                 GError          **error);
void       lk_stream_free       (LkStream         *self);
LkContext *lk_stream_get_context (LkStream        *self);
void       lk_stream_dispatch   (LkStream         *self,
                                 LkKernel         *kernel,
                                 const LkBinding  *bindings,
                                 guint             n_bindings,
                                 const void       *push,
                                 gsize             push_size,
                                 guint32           groups_x,
                                 guint32           groups_y,
                                 guint32           groups_z);
gboolean   lk_stream_upload     (LkStream         *self,
                                 LkBuffer         *dst,
                                 gsize             dst_offset,
                                 const void       *data,
                                 gsize             size,
                                 GError          **error);
gboolean   lk_stream_download   (LkStream         *self,
                                 LkBuffer         *src,
                                 gsize             src_offset,
                                 void             *data,
                                 gsize             size,
                                 GError          **error);
void       lk_stream_fill       (LkStream         *self,
                                 LkBuffer         *dst,
                                 gsize             offset,
                                 gsize             size,
                                 guint32           pattern);
gboolean   lk_stream_submit     (LkStream         *self,
                                 GError          **error);
gboolean   lk_stream_finish     (LkStream         *self,
                                 GError          **error);
const LkStreamStats *lk_stream_get_stats (LkStream *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkStream, lk_stream_free)

G_END_DECLS
