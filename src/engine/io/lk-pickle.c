/* lk-pickle.c: a restricted reader for PyTorch .ckpt / .pth / .bin files
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two parts: a zip central-directory reader (stored entries, deflated ones inflated with GIO's
 * zlib converter, zip64 for files over 4 GB) and a pickle interpreter that builds plain values
 * (ints, strings, tuples, dicts) and tensor descriptions. Globals are checked against a short
 * allow-list when they are named, so no other callable can even reach REDUCE.
 */
#include "config.h"

#include <string.h>

#include "lk-pickle.h"
#include "lk-weights-private.h"

#define MAX_NESTING 32
#define MAX_PROTOCOL 5

/* ---- zip ---------------------------------------------------------------------------------- */

typedef struct
{
  char          *name;
  const guint8  *data;    /* uncompressed bytes: in the map, or in self->buffers */
  guint64        size;
} ZipEntry;

static void
zip_entry_free (gpointer data)
{
  ZipEntry *entry = data;

  g_free (entry->name);
  g_free (entry);
}

static inline guint16
get_u16 (const guint8 *p)
{
  return (guint16) (p[0] | p[1] << 8);
}

static inline guint32
get_u32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
}

static inline guint64
get_u64 (const guint8 *p)
{
  return (guint64) get_u32 (p) | (guint64) get_u32 (p + 4) << 32;
}

#define zip_error(error, self, ...) \
  lk_weights_set_error ((self), (error), LK_IO_ERROR_CORRUPT, NULL, __VA_ARGS__)

static const guint8 *
inflate_entry (LkWeights     *self,
               const char    *name,
               const guint8  *src,
               guint64        src_size,
               guint64        size,
               GError       **error)
{
  g_autoptr(GZlibDecompressor) decompressor = NULL;
  g_autoptr(GError) local_error = NULL;
  guint8 *dst;
  gsize in_done = 0, out_done = 0;

  if (size > G_MAXSIZE / 2 || (dst = g_try_malloc (MAX (size, 1))) == NULL)
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED,
                   "%s: no memory to inflate zip entry “%s”", self->path, name);
      return NULL;
    }
  g_ptr_array_add (self->buffers, dst);
  decompressor = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW);
  for (;;)
    {
      gsize read = 0, written = 0;
      GConverterResult result;

      result = g_converter_convert (G_CONVERTER (decompressor), src + in_done, src_size - in_done,
                                    dst + out_done, size - out_done, G_CONVERTER_INPUT_AT_END,
                                    &read, &written, &local_error);
      if (result == G_CONVERTER_ERROR)
        {
          /* A full output buffer with input left means the entry is longer than it says. */
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                       "%s: zip entry “%s” does not inflate: %s", self->path, name,
                       local_error->message);
          return NULL;
        }
      in_done += read;
      out_done += written;
      if (result == G_CONVERTER_FINISHED)
        break;
      if (read == 0 && written == 0)
        {
          zip_error (error, self, "zip entry “%s” is truncated", name);
          return NULL;
        }
    }
  if (out_done != size)
    {
      zip_error (error, self, "zip entry “%s” inflates to %" G_GSIZE_FORMAT " bytes, not %"
                 G_GUINT64_FORMAT, name, out_done, size);
      return NULL;
    }
  return dst;
}

/* Reads the central directory into name → ZipEntry. */
static GHashTable *
zip_read_directory (LkWeights  *self,
                    GError    **error)
{
  g_autoptr(GHashTable) entries = NULL;
  const guint8 *bytes;
  gsize length;
  gsize eocd = 0;
  gboolean found = FALSE;
  guint64 n_entries, cd_size, cd_offset, pos;

  bytes = lk_weights_get_bytes (self, &length);
  if (length < 22)
    {
      zip_error (error, self, "too short for a zip file");
      return NULL;
    }
  for (gsize back = 0; back <= 65535 && back + 22 <= length; back++)
    {
      gsize at = length - 22 - back;

      if (get_u32 (bytes + at) == 0x06054b50 && get_u16 (bytes + at + 20) == back)
        {
          eocd = at;
          found = TRUE;
          break;
        }
    }
  if (!found)
    {
      zip_error (error, self, "no zip end of central directory (is the file truncated?)");
      return NULL;
    }
  n_entries = get_u16 (bytes + eocd + 10);
  cd_size = get_u32 (bytes + eocd + 12);
  cd_offset = get_u32 (bytes + eocd + 16);
  if (get_u16 (bytes + eocd + 4) != 0 || get_u16 (bytes + eocd + 6) != 0)
    {
      zip_error (error, self, "multi-part zip files are not supported");
      return NULL;
    }
  if (n_entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff)
    {
      guint64 record;

      if (eocd < 20 || get_u32 (bytes + eocd - 20) != 0x07064b50)
        {
          zip_error (error, self, "zip64 locator missing");
          return NULL;
        }
      record = get_u64 (bytes + eocd - 20 + 8);
      if (length < 56 || record > length - 56 || get_u32 (bytes + record) != 0x06064b50)
        {
          zip_error (error, self, "zip64 end of central directory is out of range");
          return NULL;
        }
      n_entries = get_u64 (bytes + record + 32);
      cd_size = get_u64 (bytes + record + 40);
      cd_offset = get_u64 (bytes + record + 48);
    }
  if (cd_offset > length || cd_size > length - cd_offset || n_entries > cd_size / 46)
    {
      zip_error (error, self, "zip central directory is out of range");
      return NULL;
    }

  entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, zip_entry_free);
  pos = cd_offset;
  for (guint64 i = 0; i < n_entries; i++)
    {
      const guint8 *h = bytes + pos;
      guint64 csize, usize, local, data_start;
      guint16 flags, method, name_len, extra_len, comment_len;
      g_autofree char *name = NULL;
      ZipEntry *entry;

      if (cd_offset + cd_size - pos < 46 || get_u32 (h) != 0x02014b50)
        {
          zip_error (error, self, "zip central directory entry %" G_GUINT64_FORMAT " is corrupt", i);
          return NULL;
        }
      flags = get_u16 (h + 8);
      method = get_u16 (h + 10);
      csize = get_u32 (h + 20);
      usize = get_u32 (h + 24);
      name_len = get_u16 (h + 28);
      extra_len = get_u16 (h + 30);
      comment_len = get_u16 (h + 32);
      local = get_u32 (h + 42);
      if (cd_offset + cd_size - pos < 46 + (guint64) name_len + extra_len + comment_len)
        {
          zip_error (error, self, "zip central directory entry %" G_GUINT64_FORMAT " is corrupt", i);
          return NULL;
        }
      name = g_strndup ((const char *) h + 46, name_len);
      if (strlen (name) != name_len)
        {
          zip_error (error, self, "zip entry name with a NUL byte");
          return NULL;
        }
      /* zip64 sizes and offset live in extra field 0x0001, in this order, when maxed out. */
      for (guint e = 0; e + 4 <= extra_len;)
        {
          const guint8 *x = h + 46 + name_len + e;
          guint16 id = get_u16 (x), size = get_u16 (x + 2);
          guint at = 4;

          if (e + 4 + (guint) size > extra_len)
            break;
          if (id == 0x0001)
            {
              if (usize == 0xffffffff && at + 8 <= 4u + size)
                usize = get_u64 (x + at), at += 8;
              if (csize == 0xffffffff && at + 8 <= 4u + size)
                csize = get_u64 (x + at), at += 8;
              if (local == 0xffffffff && at + 8 <= 4u + size)
                local = get_u64 (x + at), at += 8;
            }
          e += 4 + size;
        }
      pos += 46 + (guint64) name_len + extra_len + comment_len;

      if (flags & 1)
        {
          zip_error (error, self, "zip entry “%s” is encrypted", name);
          return NULL;
        }
      if (local > length || length - local < 30 || get_u32 (bytes + local) != 0x04034b50)
        {
          zip_error (error, self, "zip entry “%s” has no local header", name);
          return NULL;
        }
      data_start = local + 30 + get_u16 (bytes + local + 26) + get_u16 (bytes + local + 28);
      if (data_start > length || csize > length - data_start)
        {
          zip_error (error, self, "zip entry “%s” runs past the end of the file", name);
          return NULL;
        }
      if (g_hash_table_contains (entries, name))
        {
          zip_error (error, self, "zip entry “%s” appears twice", name);
          return NULL;
        }
      entry = g_new0 (ZipEntry, 1);
      entry->name = g_steal_pointer (&name);
      entry->size = usize;
      g_hash_table_insert (entries, entry->name, entry);
      if (method == 0)
        {
          if (csize != usize)
            {
              zip_error (error, self, "stored zip entry “%s” has two sizes", entry->name);
              return NULL;
            }
          entry->data = bytes + data_start;
        }
      else if (method == 8)
        {
          entry->data = inflate_entry (self, entry->name, bytes + data_start, csize, usize, error);
          if (entry->data == NULL)
            return NULL;
        }
      else
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_UNSUPPORTED,
                       "%s: zip entry “%s” uses compression method %u (only stored and deflated "
                       "entries are read)", self->path, entry->name, method);
          return NULL;
        }
    }
  return g_steal_pointer (&entries);
}

/* ---- pickle values ------------------------------------------------------------------------ */

typedef enum
{
  V_MARK,
  V_NONE,
  V_BOOL,
  V_INT,
  V_FLOAT,
  V_STR,
  V_BYTES,
  V_TUPLE,
  V_LIST,
  V_DICT,
  V_GLOBAL,
  V_STORAGE,
  V_TENSOR,
  V_OPAQUE,   /* an inert object (numpy scalar, Lightning callback) kept as a name only */
} ValueKind;

typedef enum
{
  G_REBUILD_TENSOR,
  G_REBUILD_PARAMETER,
  G_ORDERED_DICT,
  G_STORAGE_TYPE,
  G_INERT,
} GlobalKind;

typedef struct _Value Value;

struct _Value
{
  ValueKind       kind;
  gint64          i;          /* BOOL, INT; GLOBAL: GlobalKind */
  double          f;
  char           *s;          /* STR, BYTES, GLOBAL (module.name) */
  gsize           len;
  GPtrArray      *items;      /* TUPLE, LIST; DICT: key, value, key, value… */
  /* STORAGE, TENSOR (with the storage's dtype) */
  LkWeightDType   dtype;
  const guint8   *data;
  gint64          numel;
  guint           ndim;
  gint64          shape[LK_WEIGHT_MAX_DIMS];
  gint64          strides[LK_WEIGHT_MAX_DIMS];
  gboolean        visited;    /* DICT: already collected (shared dicts are walked once) */
};

typedef struct
{
  LkWeights     *weights;
  GHashTable    *zip;        /* name → ZipEntry */
  const char    *prefix;     /* "archive/" */
  const guint8  *p;
  gsize          length;
  gsize          pos;
  GPtrArray     *values;     /* every Value, owned */
  GPtrArray     *stack;
  GArray        *marks;
  GHashTable    *memo;       /* index → Value */
} Unpickler;

static void
value_free (gpointer data)
{
  Value *v = data;

  g_free (v->s);
  g_clear_pointer (&v->items, g_ptr_array_unref);
  g_free (v);
}

static Value *
value_new (Unpickler *u,
           ValueKind  kind)
{
  Value *v = g_new0 (Value, 1);

  v->kind = kind;
  if (kind == V_TUPLE || kind == V_LIST || kind == V_DICT)
    v->items = g_ptr_array_new ();
  g_ptr_array_add (u->values, v);
  return v;
}

static const char *
kind_name (ValueKind kind)
{
  static const char *names[] = { "mark", "None", "bool", "int", "float", "str", "bytes",
                                 "tuple", "list", "dict", "global", "storage", "tensor",
                                 "object" };
  return names[kind];
}

static gboolean
fail (Unpickler   *u,
      GError     **error,
      const char  *format,
      ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (Unpickler   *u,
      GError     **error,
      const char  *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT, "%s: pickle at byte %" G_GSIZE_FORMAT
               ": %s", u->weights->path, u->pos, message);
  return FALSE;
}

static gboolean
need (Unpickler  *u,
      gsize       n,
      GError    **error)
{
  if (u->length - u->pos < n)
    return fail (u, error, "truncated");
  return TRUE;
}

static Value *
pop (Unpickler  *u,
     GError    **error)
{
  Value *v;

  if (u->stack->len == 0 ||
      (u->marks->len > 0 && g_array_index (u->marks, guint, u->marks->len - 1) >= u->stack->len))
    {
      fail (u, error, "stack underflow");
      return NULL;
    }
  v = g_ptr_array_steal_index (u->stack, u->stack->len - 1);
  return v;
}

static Value *
top (Unpickler  *u,
     GError    **error)
{
  if (u->stack->len == 0 ||
      (u->marks->len > 0 && g_array_index (u->marks, guint, u->marks->len - 1) >= u->stack->len))
    {
      fail (u, error, "stack underflow");
      return NULL;
    }
  return g_ptr_array_index (u->stack, u->stack->len - 1);
}

/* Moves the items above the last mark into a new array. */
static GPtrArray *
pop_mark (Unpickler  *u,
          GError    **error)
{
  GPtrArray *items;
  guint mark;

  if (u->marks->len == 0)
    {
      fail (u, error, "no mark on the stack");
      return NULL;
    }
  mark = g_array_index (u->marks, guint, u->marks->len - 1);
  g_array_set_size (u->marks, u->marks->len - 1);
  items = g_ptr_array_new ();
  for (guint i = mark; i < u->stack->len; i++)
    g_ptr_array_add (items, g_ptr_array_index (u->stack, i));
  g_ptr_array_set_size (u->stack, mark);
  return items;
}

static gboolean
resolve_global (Unpickler   *u,
                const char  *module,
                const char  *name,
                GError     **error)
{
  static const struct
  {
    const char    *name;
    LkWeightDType  dtype;
  } storages[] = {
    { "FloatStorage", LK_WEIGHT_F32 }, { "HalfStorage", LK_WEIGHT_F16 },
    { "BFloat16Storage", LK_WEIGHT_BF16 }, { "DoubleStorage", LK_WEIGHT_F64 },
    { "LongStorage", LK_WEIGHT_I64 }, { "IntStorage", LK_WEIGHT_I32 },
    { "ShortStorage", LK_WEIGHT_I16 }, { "CharStorage", LK_WEIGHT_I8 },
    { "ByteStorage", LK_WEIGHT_U8 }, { "BoolStorage", LK_WEIGHT_BOOL },
  };
  /* Plain data that training checkpoints carry beside the weights (Lightning's callback state, a
   * numpy scalar for the best score). They are never called: applying them gives an opaque
   * value, which is skipped. */
  static const char *inert[] = {
    "numpy.core.multiarray.scalar", "numpy.core.multiarray._reconstruct", "numpy.dtype",
    "numpy.ndarray", "_codecs.encode", "__builtin__.set", "builtins.set",
    "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
    NULL,  /* g_strv_contains reads up to here */
  };
  Value *v = value_new (u, V_GLOBAL);

  v->s = g_strconcat (module, ".", name, NULL);
  if (g_strv_contains (inert, v->s))
    {
      v->i = G_INERT;
      g_ptr_array_add (u->stack, v);
      return TRUE;
    }
  if (g_str_equal (module, "torch._utils") && g_str_equal (name, "_rebuild_tensor_v2"))
    v->i = G_REBUILD_TENSOR;
  else if (g_str_equal (module, "torch._utils") && g_str_equal (name, "_rebuild_parameter"))
    v->i = G_REBUILD_PARAMETER;
  else if (g_str_equal (module, "collections") && g_str_equal (name, "OrderedDict"))
    v->i = G_ORDERED_DICT;
  else
    {
      gboolean known = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (storages) && g_str_equal (module, "torch"); i++)
        if (g_str_equal (name, storages[i].name))
          {
            v->i = G_STORAGE_TYPE;
            v->dtype = storages[i].dtype;
            known = TRUE;
          }
      if (!known)
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_REFUSED,
                       "%s: refusing pickle global “%s”: only PyTorch tensor data is read, "
                       "nothing is executed", u->weights->path, v->s);
          return FALSE;
        }
    }
  g_ptr_array_add (u->stack, v);
  return TRUE;
}

static gboolean
get_int (Value  *v,
         gint64 *out)
{
  if (v->kind != V_INT && v->kind != V_BOOL)
    return FALSE;
  *out = v->i;
  return TRUE;
}

static gboolean
get_int_tuple (Value  *v,
               guint  *n,
               gint64 *out)
{
  if (v->kind != V_TUPLE && v->kind != V_LIST)
    return FALSE;
  if (v->items->len > LK_WEIGHT_MAX_DIMS)
    return FALSE;
  *n = v->items->len;
  for (guint i = 0; i < v->items->len; i++)
    if (!get_int (g_ptr_array_index (v->items, i), &out[i]) || out[i] < 0)
      return FALSE;
  return TRUE;
}

static gboolean
persistent_load (Unpickler  *u,
                 Value      *pid,
                 GError    **error)
{
  Value *tag, *type, *key, *v;
  g_autofree char *entry_name = NULL;
  ZipEntry *entry;
  gint64 numel;
  gsize esize;

  if (pid->kind != V_TUPLE || pid->items->len != 5 ||
      (tag = g_ptr_array_index (pid->items, 0))->kind != V_STR || !g_str_equal (tag->s, "storage") ||
      (type = g_ptr_array_index (pid->items, 1))->kind != V_GLOBAL || type->i != G_STORAGE_TYPE ||
      (key = g_ptr_array_index (pid->items, 2))->kind != V_STR ||
      !get_int (g_ptr_array_index (pid->items, 4), &numel) || numel < 0)
    return fail (u, error, "persistent id is not ('storage', type, key, location, numel)");
  if (strchr (key->s, '/') != NULL)
    return fail (u, error, "storage key “%s” is not a plain name", key->s);
  entry_name = g_strconcat (u->prefix, "data/", key->s, NULL);
  entry = g_hash_table_lookup (u->zip, entry_name);
  if (entry == NULL)
    return fail (u, error, "storage “%s” is missing from the zip", entry_name);
  esize = lk_weight_dtype_size (type->dtype);
  if ((guint64) numel > entry->size / esize)
    return fail (u, error, "storage “%s” holds %" G_GUINT64_FORMAT " bytes, not %" G_GINT64_FORMAT
                 " elements of %s", entry_name, entry->size, numel,
                 lk_weight_dtype_name (type->dtype));
  v = value_new (u, V_STORAGE);
  v->dtype = type->dtype;
  v->data = entry->data;
  v->numel = numel;
  g_ptr_array_add (u->stack, v);
  return TRUE;
}

static gboolean
rebuild_tensor (Unpickler  *u,
                Value      *args,
                GError    **error)
{
  Value *storage, *v;
  gint64 offset, shape[LK_WEIGHT_MAX_DIMS], strides[LK_WEIGHT_MAX_DIMS], numel;
  guint ndim, n_strides;
  guint64 last = 0;

  if (args->kind != V_TUPLE || args->items->len < 4 ||
      (storage = g_ptr_array_index (args->items, 0))->kind != V_STORAGE ||
      !get_int (g_ptr_array_index (args->items, 1), &offset) || offset < 0 ||
      !get_int_tuple (g_ptr_array_index (args->items, 2), &ndim, shape) ||
      !get_int_tuple (g_ptr_array_index (args->items, 3), &n_strides, strides) ||
      n_strides != ndim)
    return fail (u, error, "_rebuild_tensor_v2 arguments are not (storage, offset, size, stride)");
  if (!lk_weights_shape_numel (ndim, shape, &numel))
    return fail (u, error, "tensor shape is too large");
  /* The last element reached must lie inside the storage. */
  if (numel > 0)
    {
      last = offset;
      for (guint d = 0; d < ndim; d++)
        {
          if ((guint64) strides[d] > G_MAXINT64 / 16 / (guint64) shape[d])
            return fail (u, error, "tensor strides are too large");
          last += (guint64) (shape[d] - 1) * (guint64) strides[d];
          if (last >= (guint64) storage->numel)
            return fail (u, error, "tensor view reaches past its storage of %" G_GINT64_FORMAT
                         " elements", storage->numel);
        }
      if (last >= (guint64) storage->numel)
        return fail (u, error, "tensor offset %" G_GINT64_FORMAT " is past its storage of %"
                     G_GINT64_FORMAT " elements", offset, storage->numel);
    }
  v = value_new (u, V_TENSOR);
  v->dtype = storage->dtype;
  v->data = storage->data + (gsize) offset * lk_weight_dtype_size (storage->dtype);
  v->numel = numel;
  v->ndim = ndim;
  memcpy (v->shape, shape, sizeof shape);
  memcpy (v->strides, strides, sizeof strides);
  g_ptr_array_add (u->stack, v);
  return TRUE;
}

static gboolean
reduce (Unpickler  *u,
        GError    **error)
{
  Value *args, *callable;

  if ((args = pop (u, error)) == NULL || (callable = pop (u, error)) == NULL)
    return FALSE;
  if (callable->kind != V_GLOBAL)
    return fail (u, error, "REDUCE on a %s", kind_name (callable->kind));
  if (args->kind != V_TUPLE)
    return fail (u, error, "REDUCE arguments are a %s, not a tuple", kind_name (args->kind));

  switch ((GlobalKind) callable->i)
    {
    case G_REBUILD_TENSOR:
      return rebuild_tensor (u, args, error);

    case G_REBUILD_PARAMETER:
      {
        Value *tensor;

        if (args->items->len < 1 || (tensor = g_ptr_array_index (args->items, 0))->kind != V_TENSOR)
          return fail (u, error, "_rebuild_parameter without a tensor");
        g_ptr_array_add (u->stack, tensor);
        return TRUE;
      }

    case G_ORDERED_DICT:
      {
        Value *dict = value_new (u, V_DICT);

        if (args->items->len > 0)
          {
            Value *pairs = g_ptr_array_index (args->items, 0);

            if (args->items->len > 1 || (pairs->kind != V_LIST && pairs->kind != V_TUPLE))
              return fail (u, error, "OrderedDict arguments are not a list of pairs");
            for (guint i = 0; i < pairs->items->len; i++)
              {
                Value *pair = g_ptr_array_index (pairs->items, i);

                if ((pair->kind != V_TUPLE && pair->kind != V_LIST) || pair->items->len != 2)
                  return fail (u, error, "OrderedDict arguments are not a list of pairs");
                g_ptr_array_add (dict->items, g_ptr_array_index (pair->items, 0));
                g_ptr_array_add (dict->items, g_ptr_array_index (pair->items, 1));
              }
          }
        g_ptr_array_add (u->stack, dict);
        return TRUE;
      }

    case G_INERT:
      {
        Value *object = value_new (u, V_OPAQUE);

        object->s = g_strdup (callable->s);
        g_ptr_array_add (u->stack, object);
        return TRUE;
      }

    case G_STORAGE_TYPE:
    default:
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_REFUSED,
                   "%s: refusing to call pickle global “%s”", u->weights->path, callable->s);
      return FALSE;
    }
}

static gboolean
set_item (Unpickler  *u,
          Value      *dict,
          Value      *key,
          Value      *value,
          GError    **error)
{
  if (dict->kind != V_DICT)
    return fail (u, error, "SETITEM on a %s", kind_name (dict->kind));
  /* A repeated key (which torch never writes) becomes a duplicate-name error later. */
  g_ptr_array_add (dict->items, key);
  g_ptr_array_add (dict->items, value);
  return TRUE;
}

static Value *
push_string (Unpickler  *u,
             ValueKind   kind,
             gsize       n,
             GError    **error)
{
  Value *v;

  if (!need (u, n, error))
    return NULL;
  /* A str with NUL characters or invalid UTF-8 stays bytes, so it can never name a tensor. */
  if (kind == V_STR && !g_utf8_validate_len ((const char *) u->p + u->pos, n, NULL))
    kind = V_BYTES;
  v = value_new (u, kind);
  v->s = g_strndup ((const char *) u->p + u->pos, n);
  v->len = n;
  u->pos += n;
  g_ptr_array_add (u->stack, v);
  return v;
}

static gboolean
read_line (Unpickler  *u,
           char      **line,
           GError    **error)
{
  const guint8 *start = u->p + u->pos;
  const guint8 *end = memchr (start, '\n', MIN (u->length - u->pos, 256));

  if (end == NULL)
    return fail (u, error, "GLOBAL name is not terminated");
  *line = g_strndup ((const char *) start, end - start);
  u->pos += end - start + 1;
  return TRUE;
}

static gboolean
memo_put (Unpickler  *u,
          guint64     index,
          GError    **error)
{
  Value *v = top (u, error);

  if (v == NULL)
    return FALSE;
  g_hash_table_insert (u->memo, GSIZE_TO_POINTER ((gsize) index), v);
  return TRUE;
}

static gboolean
memo_get (Unpickler  *u,
          guint64     index,
          GError    **error)
{
  Value *v = g_hash_table_lookup (u->memo, GSIZE_TO_POINTER ((gsize) index));

  if (v == NULL)
    return fail (u, error, "memo %" G_GUINT64_FORMAT " was never stored", index);
  g_ptr_array_add (u->stack, v);
  return TRUE;
}

static Value *
unpickle (Unpickler  *u,
          GError    **error)
{
  while (u->pos < u->length)
    {
      guint8 op = u->p[u->pos++];
      Value *v, *a, *b;
      g_autoptr(GPtrArray) items = NULL;

      switch (op)
        {
        case 0x80: /* PROTO */
          if (!need (u, 1, error))
            return NULL;
          if (u->p[u->pos] > MAX_PROTOCOL)
            {
              fail (u, error, "pickle protocol %u is not supported", u->p[u->pos]);
              return NULL;
            }
          u->pos++;
          break;

        case 0x95: /* FRAME */
          if (!need (u, 8, error))
            return NULL;
          u->pos += 8;
          break;

        case '.': /* STOP */
          v = pop (u, error);
          return v;

        case '(': /* MARK */
          g_array_append_val (u->marks, u->stack->len);
          break;

        case '}': /* EMPTY_DICT */
          g_ptr_array_add (u->stack, value_new (u, V_DICT));
          break;

        case ']': /* EMPTY_LIST */
          g_ptr_array_add (u->stack, value_new (u, V_LIST));
          break;

        case ')': /* EMPTY_TUPLE */
          g_ptr_array_add (u->stack, value_new (u, V_TUPLE));
          break;

        case 'N':
          g_ptr_array_add (u->stack, value_new (u, V_NONE));
          break;

        case 0x88: /* NEWTRUE */
        case 0x89: /* NEWFALSE */
          v = value_new (u, V_BOOL);
          v->i = op == 0x88;
          g_ptr_array_add (u->stack, v);
          break;

        case 'J': /* BININT */
        case 'K': /* BININT1 */
        case 'M': /* BININT2 */
          {
            gsize n = op == 'J' ? 4 : op == 'K' ? 1 : 2;

            if (!need (u, n, error))
              return NULL;
            v = value_new (u, V_INT);
            v->i = op == 'J' ? (gint32) get_u32 (u->p + u->pos) :
                   op == 'K' ? u->p[u->pos] : get_u16 (u->p + u->pos);
            u->pos += n;
            g_ptr_array_add (u->stack, v);
          }
          break;

        case 0x8a: /* LONG1 */
          {
            guint n;
            guint64 bits = 0;

            if (!need (u, 1, error))
              return NULL;
            n = u->p[u->pos++];
            if (n > 8)
              {
                fail (u, error, "integer of %u bytes is too large", n);
                return NULL;
              }
            if (!need (u, n, error))
              return NULL;
            for (guint i = 0; i < n; i++)
              bits |= (guint64) u->p[u->pos + i] << (8 * i);
            if (n > 0 && n < 8 && (u->p[u->pos + n - 1] & 0x80))
              bits |= ~(guint64) 0 << (8 * n);  /* sign-extend */
            u->pos += n;
            v = value_new (u, V_INT);
            v->i = (gint64) bits;
            g_ptr_array_add (u->stack, v);
          }
          break;

        case 'G': /* BINFLOAT, big-endian */
          {
            guint64 bits = 0;

            if (!need (u, 8, error))
              return NULL;
            for (guint i = 0; i < 8; i++)
              bits = bits << 8 | u->p[u->pos + i];
            u->pos += 8;
            v = value_new (u, V_FLOAT);
            memcpy (&v->f, &bits, sizeof v->f);
            g_ptr_array_add (u->stack, v);
          }
          break;

        case 'X': /* BINUNICODE */
        case 'T': /* BINSTRING */
        case 'B': /* BINBYTES */
          if (!need (u, 4, error))
            return NULL;
          u->pos += 4;
          /* Python 2 strings (T, U) are bytes; numpy keeps raw scalar data in them. */
          if (push_string (u, op == 'X' ? V_STR : V_BYTES, get_u32 (u->p + u->pos - 4),
                           error) == NULL)
            return NULL;
          break;

        case 0x8c: /* SHORT_BINUNICODE */
        case 'U':  /* SHORT_BINSTRING */
        case 'C':  /* SHORT_BINBYTES */
          if (!need (u, 1, error))
            return NULL;
          u->pos += 1;
          if (push_string (u, op == 0x8c ? V_STR : V_BYTES, u->p[u->pos - 1], error) == NULL)
            return NULL;
          break;

        case 0x8d: /* BINUNICODE8 */
        case 0x8e: /* BINBYTES8 */
          {
            guint64 n;

            if (!need (u, 8, error))
              return NULL;
            n = get_u64 (u->p + u->pos);
            u->pos += 8;
            if (n > u->length - u->pos)
              {
                fail (u, error, "truncated");
                return NULL;
              }
            if (push_string (u, op == 0x8e ? V_BYTES : V_STR, n, error) == NULL)
              return NULL;
          }
          break;

        case 'q': /* BINPUT */
          if (!need (u, 1, error) || !memo_put (u, u->p[u->pos++], error))
            return NULL;
          break;

        case 'r': /* LONG_BINPUT */
          if (!need (u, 4, error))
            return NULL;
          u->pos += 4;
          if (!memo_put (u, get_u32 (u->p + u->pos - 4), error))
            return NULL;
          break;

        case 0x94: /* MEMOIZE */
          if (!memo_put (u, g_hash_table_size (u->memo), error))
            return NULL;
          break;

        case 'h': /* BINGET */
          if (!need (u, 1, error) || !memo_get (u, u->p[u->pos++], error))
            return NULL;
          break;

        case 'j': /* LONG_BINGET */
          if (!need (u, 4, error))
            return NULL;
          u->pos += 4;
          if (!memo_get (u, get_u32 (u->p + u->pos - 4), error))
            return NULL;
          break;

        case 'c': /* GLOBAL */
          {
            g_autofree char *module = NULL;
            g_autofree char *name = NULL;

            if (!read_line (u, &module, error) || !read_line (u, &name, error) ||
                !resolve_global (u, module, name, error))
              return NULL;
          }
          break;

        case 0x93: /* STACK_GLOBAL */
          if ((b = pop (u, error)) == NULL || (a = pop (u, error)) == NULL)
            return NULL;
          if (a->kind != V_STR || b->kind != V_STR)
            {
              fail (u, error, "STACK_GLOBAL names are not strings");
              return NULL;
            }
          if (!resolve_global (u, a->s, b->s, error))
            return NULL;
          break;

        case 't': /* TUPLE */
        case 'l': /* LIST */
          if ((items = pop_mark (u, error)) == NULL)
            return NULL;
          v = value_new (u, op == 't' ? V_TUPLE : V_LIST);
          g_ptr_array_extend (v->items, items, NULL, NULL);
          g_ptr_array_add (u->stack, v);
          break;

        case 0x85: /* TUPLE1 */
        case 0x86: /* TUPLE2 */
        case 0x87: /* TUPLE3 */
          {
            guint n = op - 0x84;
            Value *parts[3];

            for (guint i = n; i > 0; i--)
              if ((parts[i - 1] = pop (u, error)) == NULL)
                return NULL;
            v = value_new (u, V_TUPLE);
            for (guint i = 0; i < n; i++)
              g_ptr_array_add (v->items, parts[i]);
            g_ptr_array_add (u->stack, v);
          }
          break;

        case 'd': /* DICT */
          if ((items = pop_mark (u, error)) == NULL)
            return NULL;
          if (items->len % 2 != 0)
            {
              fail (u, error, "DICT with an odd number of items");
              return NULL;
            }
          v = value_new (u, V_DICT);
          for (guint i = 0; i < items->len; i += 2)
            if (!set_item (u, v, items->pdata[i], items->pdata[i + 1], error))
              return NULL;
          g_ptr_array_add (u->stack, v);
          break;

        case 'a': /* APPEND */
          if ((a = pop (u, error)) == NULL || (v = top (u, error)) == NULL)
            return NULL;
          if (v->kind != V_LIST)
            {
              fail (u, error, "APPEND to a %s", kind_name (v->kind));
              return NULL;
            }
          g_ptr_array_add (v->items, a);
          break;

        case 'e': /* APPENDS */
          if ((items = pop_mark (u, error)) == NULL || (v = top (u, error)) == NULL)
            return NULL;
          if (v->kind != V_LIST)
            {
              fail (u, error, "APPENDS to a %s", kind_name (v->kind));
              return NULL;
            }
          g_ptr_array_extend (v->items, items, NULL, NULL);
          break;

        case 's': /* SETITEM */
          if ((b = pop (u, error)) == NULL || (a = pop (u, error)) == NULL ||
              (v = top (u, error)) == NULL || !set_item (u, v, a, b, error))
            return NULL;
          break;

        case 'u': /* SETITEMS */
          if ((items = pop_mark (u, error)) == NULL || (v = top (u, error)) == NULL)
            return NULL;
          if (items->len % 2 != 0)
            {
              fail (u, error, "SETITEMS with an odd number of items");
              return NULL;
            }
          for (guint i = 0; i < items->len; i += 2)
            if (!set_item (u, v, items->pdata[i], items->pdata[i + 1], error))
              return NULL;
          break;

        case 'Q': /* BINPERSID */
          if ((a = pop (u, error)) == NULL || !persistent_load (u, a, error))
            return NULL;
          break;

        case 'R': /* REDUCE */
          if (!reduce (u, error))
            return NULL;
          break;

        case 'b': /* BUILD */
          if ((a = pop (u, error)) == NULL || (v = top (u, error)) == NULL)
            return NULL;
          /* A state_dict's OrderedDict carries its _metadata this way; it is not needed. */
          if (v->kind == V_OPAQUE)
            break;
          if (v->kind != V_DICT || (a->kind != V_DICT && a->kind != V_NONE && a->kind != V_TUPLE))
            {
              g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_REFUSED,
                           "%s: refusing pickle BUILD of a %s", u->weights->path,
                           v->kind == V_GLOBAL ? v->s : kind_name (v->kind));
              return NULL;
            }
          break;

        case 0x81: /* NEWOBJ: cls.__new__(cls, *args), allowed only for inert classes */
          if ((b = pop (u, error)) == NULL || (a = pop (u, error)) == NULL)
            return NULL;
          if (a->kind != V_GLOBAL || a->i != G_INERT)
            {
              g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_REFUSED,
                           "%s: refusing to create an object of “%s”", u->weights->path,
                           a->kind == V_GLOBAL ? a->s : kind_name (a->kind));
              return NULL;
            }
          v = value_new (u, V_OPAQUE);
          v->s = g_strdup (a->s);
          g_ptr_array_add (u->stack, v);
          break;

        case '0': /* POP */
          if (pop (u, error) == NULL)
            return NULL;
          break;

        case '1': /* POP_MARK */
          if ((items = pop_mark (u, error)) == NULL)
            return NULL;
          break;

        case '2': /* DUP */
          if ((v = top (u, error)) == NULL)
            return NULL;
          g_ptr_array_add (u->stack, v);
          break;

        default:
          u->pos--;
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_REFUSED,
                       "%s: pickle opcode 0x%02x at byte %" G_GSIZE_FORMAT " is not one that "
                       "PyTorch tensor files use", u->weights->path, op, u->pos);
          return NULL;
        }
    }
  fail (u, error, "no STOP opcode");
  return NULL;
}

static gboolean
collect_tensors (Unpickler   *u,
                 Value       *dict,
                 const char  *prefix,
                 guint        depth,
                 GError     **error)
{
  if (depth > MAX_NESTING)
    return fail (u, error, "dicts nested more than %d deep", MAX_NESTING);
  /* A dict reachable along many paths (memo references) would otherwise be walked once per
   * path, exponentially many times. */
  if (dict->visited)
    return TRUE;
  dict->visited = TRUE;

  for (guint i = 0; i < dict->items->len; i += 2)
    {
      Value *key = g_ptr_array_index (dict->items, i);
      Value *value = g_ptr_array_index (dict->items, i + 1);
      g_autofree char *name = NULL;
      LkWeightInfo *info;
      gint64 stride = 1;

      if (key->kind != V_STR || (value->kind != V_TENSOR && value->kind != V_DICT))
        continue;
      name = g_strconcat (prefix, key->s, NULL);
      if (value->kind == V_DICT)
        {
          g_autofree char *inner = g_strconcat (name, ".", NULL);

          if (!collect_tensors (u, value, inner, depth + 1, error))
            return FALSE;
          continue;
        }
      info = lk_weights_add (u->weights, name, error);
      if (info == NULL)
        return FALSE;
      info->dtype = value->dtype;
      info->ndim = value->ndim;
      info->numel = value->numel;
      info->nbytes = (gsize) value->numel * lk_weight_dtype_size (value->dtype);
      info->data = value->data;
      info->contiguous = TRUE;
      for (gint d = (gint) value->ndim - 1; d >= 0; d--)
        {
          info->shape[d] = value->shape[d];
          info->strides[d] = value->strides[d];
          if (value->shape[d] != 1 && value->strides[d] != stride)
            info->contiguous = FALSE;
          stride *= value->shape[d];
        }
    }
  return TRUE;
}

LkWeights *
lk_pickle_open (const char  *path,
                GError     **error)
{
  g_autoptr(LkWeights) self = NULL;
  g_autoptr(GHashTable) zip = NULL;
  g_autofree char *prefix = NULL;
  GHashTableIter iter;
  gpointer key, value;
  ZipEntry *pkl = NULL;
  Unpickler u = { 0 };
  Value *root, *state;
  const guint8 *bytes;
  gsize length;
  gboolean ok;

  g_return_val_if_fail (path != NULL, NULL);

  self = lk_weights_new_mapped (path, error);
  if (self == NULL)
    return NULL;
  bytes = lk_weights_get_bytes (self, &length);
  if (length >= 2 && bytes[0] == 0x80)
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_UNSUPPORTED,
                   "%s: the legacy PyTorch format (before 1.6) is not supported; re-save it with "
                   "a newer torch.save or convert it to safetensors", path);
      return NULL;
    }
  zip = zip_read_directory (self, error);
  if (zip == NULL)
    return NULL;

  /* torch.save puts everything under one folder named after the file. */
  g_hash_table_iter_init (&iter, zip);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const char *name = key;
      const char *slash = strchr (name, '/');

      if (slash != NULL && g_str_equal (slash + 1, "data.pkl"))
        {
          if (pkl != NULL)
            {
              zip_error (error, self, "more than one data.pkl in the zip");
              return NULL;
            }
          pkl = value;
          prefix = g_strndup (name, slash + 1 - name);
        }
    }
  if (pkl == NULL)
    {
      zip_error (error, self, "not a PyTorch file: no data.pkl in the zip");
      return NULL;
    }

  {
    g_autofree char *byteorder_name = g_strconcat (prefix, "byteorder", NULL);
    ZipEntry *byteorder = g_hash_table_lookup (zip, byteorder_name);

    if (byteorder != NULL &&
        !(byteorder->size == 6 && memcmp (byteorder->data, "little", 6) == 0))
      {
        g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_UNSUPPORTED,
                     "%s: only little-endian PyTorch files are read", path);
        return NULL;
      }
  }

  u.weights = self;
  u.zip = zip;
  u.prefix = prefix;
  u.p = pkl->data;
  u.length = pkl->size;
  u.values = g_ptr_array_new_with_free_func (value_free);
  u.stack = g_ptr_array_new ();
  u.marks = g_array_new (FALSE, FALSE, sizeof (guint));
  u.memo = g_hash_table_new (NULL, NULL);

  root = unpickle (&u, error);
  ok = root != NULL;
  if (ok && root->kind != V_DICT)
    ok = fail (&u, error, "the pickle holds a %s, not a dict of tensors", kind_name (root->kind));
  if (ok)
    {
      state = root;
      for (guint i = 0; i < root->items->len; i += 2)
        {
          Value *k = g_ptr_array_index (root->items, i);
          Value *v = g_ptr_array_index (root->items, i + 1);

          if (k->kind == V_STR && g_str_equal (k->s, "state_dict") && v->kind == V_DICT)
            state = v;
        }
      ok = collect_tensors (&u, state, "", 0, error);
    }

  g_ptr_array_unref (u.stack);
  g_array_unref (u.marks);
  g_hash_table_unref (u.memo);
  g_ptr_array_unref (u.values);
  if (!ok)
    return NULL;
  return g_steal_pointer (&self);
}
