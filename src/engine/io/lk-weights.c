/* lk-weights.c: named tensors, shared by the safetensors and pickle readers
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lk-half.h"
#include "lk-pickle.h"
#include "lk-safetensors.h"
#include "lk-weights-private.h"

G_DEFINE_QUARK (lk-io-error-quark, lk_io_error)

G_DEFINE_BOXED_TYPE (LkWeights, lk_weights, lk_weights_ref, lk_weights_unref)

static const struct
{
  const char *name;
  gsize       size;
} dtype_table[LK_WEIGHT_N_DTYPES] = {
  [LK_WEIGHT_F32] = { "F32", 4 },
  [LK_WEIGHT_F16] = { "F16", 2 },
  [LK_WEIGHT_BF16] = { "BF16", 2 },
  [LK_WEIGHT_F64] = { "F64", 8 },
  [LK_WEIGHT_I64] = { "I64", 8 },
  [LK_WEIGHT_I32] = { "I32", 4 },
  [LK_WEIGHT_I16] = { "I16", 2 },
  [LK_WEIGHT_I8] = { "I8", 1 },
  [LK_WEIGHT_U8] = { "U8", 1 },
  [LK_WEIGHT_BOOL] = { "BOOL", 1 },
  [LK_WEIGHT_U16] = { "U16", 2 },
  [LK_WEIGHT_U32] = { "U32", 4 },
  [LK_WEIGHT_U64] = { "U64", 8 },
  [LK_WEIGHT_F8_E4M3] = { "F8_E4M3", 1 },
  [LK_WEIGHT_F8_E5M2] = { "F8_E5M2", 1 },
};

gsize
lk_weight_dtype_size (LkWeightDType dtype)
{
  g_return_val_if_fail (dtype < LK_WEIGHT_N_DTYPES, 0);
  return dtype_table[dtype].size;
}

const char *
lk_weight_dtype_name (LkWeightDType dtype)
{
  g_return_val_if_fail (dtype < LK_WEIGHT_N_DTYPES, NULL);
  return dtype_table[dtype].name;
}

gboolean
lk_weight_dtype_is_float (LkWeightDType dtype)
{
  return dtype == LK_WEIGHT_F32 || dtype == LK_WEIGHT_F16 || dtype == LK_WEIGHT_BF16 ||
         dtype == LK_WEIGHT_F64;
}

float
lk_bf16_to_float (guint16 b)
{
  guint32 bits = (guint32) b << 16;
  float f;

  memcpy (&f, &bits, sizeof f);
  return f;
}

guint16
lk_float_to_bf16 (float f)
{
  guint32 bits;

  memcpy (&bits, &f, sizeof bits);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return (guint16) ((bits >> 16) | 0x40);  /* keep NaN a NaN */
  bits += 0x7fff + ((bits >> 16) & 1);      /* round to nearest even */
  return (guint16) (bits >> 16);
}

static void
info_free (gpointer data)
{
  LkWeightInfo *info = data;

  g_free ((char *) info->name);
  g_free (info);
}

LkWeights *
lk_weights_new_mapped (const char  *path,
                       GError     **error)
{
  g_autoptr(LkWeights) self = g_new0 (LkWeights, 1);
  g_autoptr(GError) local_error = NULL;

  g_atomic_ref_count_init (&self->ref_count);
  self->path = g_strdup (path);
  self->tensors = g_ptr_array_new_with_free_func (info_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->buffers = g_ptr_array_new_with_free_func (g_free);
  self->mapped = g_mapped_file_new (path, FALSE, &local_error);
  if (self->mapped == NULL)
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED,
                   "%s: %s", path, local_error->message);
      return NULL;
    }
  return g_steal_pointer (&self);
}

const guint8 *
lk_weights_get_bytes (LkWeights *self,
                      gsize     *length)
{
  *length = g_mapped_file_get_length (self->mapped);
  return (const guint8 *) g_mapped_file_get_contents (self->mapped);
}

void
lk_weights_release_pages (LkWeights          *self,
                          const LkWeightInfo *info)
{
  const guint8 *map, *begin, *end;
  gsize length, page;

  g_return_if_fail (self != NULL && info != NULL);
  map = lk_weights_get_bytes (self, &length);
  if (map == NULL || info->data < map || info->data + info->nbytes > map + length)
    return;
  page = sysconf (_SC_PAGESIZE);
  /* Only the pages the tensor covers whole: its neighbours may still be wanted. */
  begin = map + (info->data - map + page - 1) / page * page;
  end = map + (info->data + info->nbytes - map) / page * page;
  if (end > begin)
    madvise ((void *) begin, end - begin, MADV_DONTNEED);
}

LkWeightInfo *
lk_weights_add (LkWeights   *self,
                const char  *name,
                GError     **error)
{
  LkWeightInfo *info;

  if (g_hash_table_contains (self->by_name, name))
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                   "%s: tensor “%s” appears twice", self->path, name);
      return NULL;
    }
  info = g_new0 (LkWeightInfo, 1);
  info->name = g_strdup (name);
  g_ptr_array_add (self->tensors, info);
  g_hash_table_insert (self->by_name, (char *) info->name, info);
  return info;
}

gboolean
lk_weights_set_error (LkWeights   *self,
                      GError     **error,
                      LkIoError    code,
                      const char  *tensor,
                      const char  *format,
                      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  if (tensor != NULL)
    g_set_error (error, LK_IO_ERROR, code, "%s: tensor “%s”: %s", self->path, tensor, message);
  else
    g_set_error (error, LK_IO_ERROR, code, "%s: %s", self->path, message);
  return FALSE;
}

gboolean
lk_weights_shape_numel (guint         ndim,
                        const gint64 *shape,
                        gint64       *numel)
{
  gint64 n = 1;

  for (guint i = 0; i < ndim; i++)
    {
      if (shape[i] < 0)
        return FALSE;
      if (shape[i] != 0 && n > (G_MAXINT64 / 16) / shape[i])
        return FALSE;
      n *= shape[i];
    }
  *numel = n;
  return TRUE;
}

LkWeights *
lk_weights_open (const char  *path,
                 GError     **error)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFileInputStream) stream = NULL;
  guint8 head[9] = { 0 };
  gsize got = 0;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  file = g_file_new_for_path (path);
  stream = g_file_read (file, NULL, &local_error);
  if (stream == NULL ||
      !g_input_stream_read_all (G_INPUT_STREAM (stream), head, sizeof head, &got, NULL,
                                &local_error))
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED, "%s: %s", path, local_error->message);
      return NULL;
    }
  /* Zip files start with "PK\3\4", safetensors headers with '{' after the length, legacy torch
   * pickles with PROTO 2. Anything else gets the safetensors reader's error. */
  if (got >= 4 && memcmp (head, "PK\3\4", 4) == 0)
    return lk_pickle_open (path, error);
  if (got == 9 && head[8] == '{')
    return lk_safetensors_open (path, error);
  if (got >= 2 && head[0] == 0x80 && head[1] <= 5)
    return lk_pickle_open (path, error);
  return lk_safetensors_open (path, error);
}

LkWeights *
lk_weights_ref (LkWeights *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
lk_weights_unref (LkWeights *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->tensors, g_ptr_array_unref);
  g_clear_pointer (&self->metadata, g_hash_table_unref);
  g_clear_pointer (&self->buffers, g_ptr_array_unref);
  g_clear_pointer (&self->mapped, g_mapped_file_unref);
  g_free (self->path);
  g_free (self);
}

const char *
lk_weights_get_path (LkWeights *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->path;
}

guint
lk_weights_get_n_tensors (LkWeights *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->tensors->len;
}

const LkWeightInfo *
lk_weights_get_nth (LkWeights *self,
                    guint      index)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (index < self->tensors->len, NULL);
  return g_ptr_array_index (self->tensors, index);
}

const LkWeightInfo *
lk_weights_lookup (LkWeights  *self,
                   const char *name)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  return g_hash_table_lookup (self->by_name, name);
}

const LkWeightInfo *
lk_weights_require (LkWeights   *self,
                    const char  *name,
                    GError     **error)
{
  const LkWeightInfo *info = lk_weights_lookup (self, name);

  if (info == NULL)
    g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_NOT_FOUND,
                 "%s: no tensor “%s”", self->path, name);
  return info;
}

GHashTable *
lk_weights_get_metadata (LkWeights *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->metadata;
}

static inline float
load_as_float (LkWeightDType  dtype,
               const guint8  *p)
{
  switch (dtype)
    {
    case LK_WEIGHT_F32:
      {
        float f;
        memcpy (&f, p, sizeof f);
        return f;
      }
    case LK_WEIGHT_F16:
      {
        guint16 h;
        memcpy (&h, p, sizeof h);
        return lk_half_to_float (h);
      }
    case LK_WEIGHT_BF16:
      {
        guint16 b;
        memcpy (&b, p, sizeof b);
        return lk_bf16_to_float (b);
      }
    case LK_WEIGHT_F64:
      {
        double d;
        memcpy (&d, p, sizeof d);
        return (float) d;
      }
    default:
      g_assert_not_reached ();
    }
}

/* Visits every element in row-major order, calling store (i, element pointer). The strides were
 * checked against the data when the file was opened. */
#define FOR_EACH_ELEMENT(info, esize, BODY)                                                     \
  G_STMT_START {                                                                                \
    if ((info)->contiguous)                                                                     \
      {                                                                                         \
        for (gint64 i_ = 0; i_ < (info)->numel; i_++)                                           \
          {                                                                                     \
            const guint8 *p_ = (info)->data + (gsize) i_ * (esize);                            \
            gint64 i = i_;                                                                      \
            BODY;                                                                               \
          }                                                                                     \
      }                                                                                         \
    else if ((info)->numel > 0)                                                                 \
      {                                                                                         \
        gint64 index_[LK_WEIGHT_MAX_DIMS] = { 0 };                                              \
        gint64 offset_ = 0;                                                                     \
        for (gint64 i_ = 0; i_ < (info)->numel; i_++)                                           \
          {                                                                                     \
            const guint8 *p_ = (info)->data + offset_ * (gint64) (esize);                      \
            gint64 i = i_;                                                                      \
            BODY;                                                                               \
            for (gint d_ = (gint) (info)->ndim - 1; d_ >= 0; d_--)                              \
              {                                                                                 \
                index_[d_]++;                                                                   \
                offset_ += (info)->strides[d_];                                                 \
                if (index_[d_] < (info)->shape[d_])                                             \
                  break;                                                                        \
                offset_ -= (info)->strides[d_] * (info)->shape[d_];                             \
                index_[d_] = 0;                                                                 \
              }                                                                                 \
          }                                                                                     \
      }                                                                                         \
  } G_STMT_END

static gboolean
check_float (LkWeights           *self,
             const LkWeightInfo  *info,
             GError             **error)
{
  if (lk_weight_dtype_is_float (info->dtype))
    return TRUE;
  return lk_weights_set_error (self, error, LK_IO_ERROR_UNSUPPORTED, info->name,
                               "%s is not a floating-point type",
                               lk_weight_dtype_name (info->dtype));
}

gboolean
lk_weights_read_f32 (LkWeights           *self,
                     const LkWeightInfo  *info,
                     float               *dst,
                     GError             **error)
{
  gsize esize;
  LkWeightDType dtype;

  g_return_val_if_fail (self != NULL && info != NULL, FALSE);
  g_return_val_if_fail (dst != NULL || info->numel == 0, FALSE);

  if (!check_float (self, info, error))
    return FALSE;
  esize = lk_weight_dtype_size (info->dtype);
  dtype = info->dtype;
  if (dtype == LK_WEIGHT_F32 && info->contiguous)
    {
      memcpy (dst, info->data, info->nbytes);
      return TRUE;
    }
  FOR_EACH_ELEMENT (info, esize, dst[i] = load_as_float (dtype, p_));
  return TRUE;
}

gboolean
lk_weights_read_f16 (LkWeights           *self,
                     const LkWeightInfo  *info,
                     guint16             *dst,
                     GError             **error)
{
  gsize esize;
  LkWeightDType dtype;

  g_return_val_if_fail (self != NULL && info != NULL, FALSE);
  g_return_val_if_fail (dst != NULL || info->numel == 0, FALSE);

  if (!check_float (self, info, error))
    return FALSE;
  esize = lk_weight_dtype_size (info->dtype);
  dtype = info->dtype;
  if (dtype == LK_WEIGHT_F16 && info->contiguous)
    {
      memcpy (dst, info->data, info->nbytes);
      return TRUE;
    }
  if (dtype == LK_WEIGHT_F16)
    FOR_EACH_ELEMENT (info, esize, memcpy (&dst[i], p_, 2));
  else
    FOR_EACH_ELEMENT (info, esize, dst[i] = lk_float_to_half (load_as_float (dtype, p_)));
  return TRUE;
}

typedef gboolean (*ReadFunc) (LkWeights *, const LkWeightInfo *, gpointer, GError **);

static gpointer
dup_converted (LkWeights           *self,
               const LkWeightInfo  *info,
               gsize                element_size,
               ReadFunc             read,
               GError             **error)
{
  g_autofree guint8 *dst = NULL;

  g_return_val_if_fail (self != NULL && info != NULL, NULL);
  if (!check_float (self, info, error))
    return NULL;
  dst = g_try_malloc (MAX (info->numel, 1) * element_size);
  if (dst == NULL)
    {
      lk_weights_set_error (self, error, LK_IO_ERROR_FAILED, info->name, "out of memory");
      return NULL;
    }
  if (!read (self, info, dst, error))
    return NULL;
  return g_steal_pointer (&dst);
}

float *
lk_weights_dup_f32 (LkWeights           *self,
                    const LkWeightInfo  *info,
                    GError             **error)
{
  return dup_converted (self, info, sizeof (float), (ReadFunc) lk_weights_read_f32, error);
}

guint16 *
lk_weights_dup_f16 (LkWeights           *self,
                    const LkWeightInfo  *info,
                    GError             **error)
{
  return dup_converted (self, info, sizeof (guint16), (ReadFunc) lk_weights_read_f16, error);
}
