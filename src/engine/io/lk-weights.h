/* lk-weights.h: named tensors read from a model file, whatever its container
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Both the safetensors reader and the restricted .ckpt/.pth reader produce an LkWeights: a
 * read-only set of named tensors whose data points into the mapped file. Everything in it has
 * been validated (dtype known, shape sane, every element inside the file) before it is handed out.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define LK_IO_ERROR (lk_io_error_quark ())

typedef enum
{
  LK_IO_ERROR_FAILED,      /* the file could not be read or written */
  LK_IO_ERROR_CORRUPT,     /* bad lengths, offsets, JSON, shapes */
  LK_IO_ERROR_UNSUPPORTED, /* a valid file that uses something we do not read */
  LK_IO_ERROR_REFUSED,     /* a pickle asked for something we never run */
  LK_IO_ERROR_NOT_FOUND,   /* no tensor of that name */
} LkIoError;

GQuark lk_io_error_quark (void);

typedef enum
{
  LK_WEIGHT_F32,
  LK_WEIGHT_F16,
  LK_WEIGHT_BF16,
  LK_WEIGHT_F64,
  /* Valid in a file, but never converted to floats (position_ids are I64 in many checkpoints). */
  LK_WEIGHT_I64,
  LK_WEIGHT_I32,
  LK_WEIGHT_I16,
  LK_WEIGHT_I8,
  LK_WEIGHT_U8,
  LK_WEIGHT_BOOL,
  LK_WEIGHT_U16,
  LK_WEIGHT_U32,
  LK_WEIGHT_U64,
  LK_WEIGHT_F8_E4M3,
  LK_WEIGHT_F8_E5M2,
  LK_WEIGHT_N_DTYPES
} LkWeightDType;

#define LK_WEIGHT_MAX_DIMS 8

typedef struct
{
  const char     *name;      /* owned by the LkWeights */
  LkWeightDType   dtype;
  guint           ndim;
  gint64          shape[LK_WEIGHT_MAX_DIMS];
  /* In elements. Safetensors are always contiguous; a .ckpt view may not be. */
  gint64          strides[LK_WEIGHT_MAX_DIMS];
  const guint8   *data;      /* the first element */
  gint64          numel;
  gsize           nbytes;    /* numel × element size */
  gboolean        contiguous;
} LkWeightInfo;

typedef struct _LkWeights LkWeights;

#define LK_TYPE_WEIGHTS (lk_weights_get_type ())

GType               lk_weights_get_type       (void) G_GNUC_CONST;

gsize               lk_weight_dtype_size      (LkWeightDType       dtype);
const char         *lk_weight_dtype_name      (LkWeightDType       dtype);
gboolean            lk_weight_dtype_is_float  (LkWeightDType       dtype);

/* Opens a .safetensors, .ckpt, .pth, .pt or .bin file, chosen by its first bytes. */
LkWeights          *lk_weights_open           (const char         *path,
                                               GError            **error);
LkWeights          *lk_weights_ref            (LkWeights          *self);
void                lk_weights_unref          (LkWeights          *self);

const char         *lk_weights_get_path       (LkWeights          *self);
guint               lk_weights_get_n_tensors  (LkWeights          *self);
/* In file order (safetensors: header order; pickles: the order of the dict). */
const LkWeightInfo *lk_weights_get_nth        (LkWeights          *self,
                                               guint               index);
const LkWeightInfo *lk_weights_lookup         (LkWeights          *self,
                                               const char         *name);
/* Like lookup, but a missing name is an LK_IO_ERROR_NOT_FOUND naming the file and tensor. */
const LkWeightInfo *lk_weights_require        (LkWeights          *self,
                                               const char         *name,
                                               GError            **error);
/* The string map of a safetensors __metadata__ (empty for pickles); borrowed. */
GHashTable         *lk_weights_get_metadata   (LkWeights          *self);

/* Tells the kernel that this process is done with the file pages under @info's data for now
 * (madvise MADV_DONTNEED on the whole pages it covers): they leave the resident set and come
 * back from the page cache if read again. Loaders call it once a tensor is uploaded, so loading
 * a 2 GB checkpoint does not hold the file resident beside the device copy. Does nothing for
 * data the readers copied (inflated .ckpt entries). */
void                lk_weights_release_pages  (LkWeights          *self,
                                               const LkWeightInfo *info);

/* Converts a float tensor (F32, F16, BF16, F64; any strides) into dst, which holds
 * info->numel values in row-major order. Other dtypes are an LK_IO_ERROR_UNSUPPORTED. */
gboolean            lk_weights_read_f32       (LkWeights          *self,
                                               const LkWeightInfo *info,
                                               float              *dst,
                                               GError            **error);
gboolean            lk_weights_read_f16       (LkWeights          *self,
                                               const LkWeightInfo *info,
                                               guint16            *dst,
                                               GError            **error);
/* Newly allocated copies (g_free). */
float              *lk_weights_dup_f32        (LkWeights          *self,
                                               const LkWeightInfo *info,
                                               GError            **error);
guint16            *lk_weights_dup_f16        (LkWeights          *self,
                                               const LkWeightInfo *info,
                                               GError            **error);

float               lk_bf16_to_float          (guint16             b);
guint16             lk_float_to_bf16          (float               f);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkWeights, lk_weights_unref)

G_END_DECLS
