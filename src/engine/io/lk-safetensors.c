/* lk-safetensors.c: the safetensors format, read through mmap and written atomically
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
 * then the data; offsets count from the end of the header.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "lk-safetensors.h"
#include "lk-weights-private.h"

/* Deep nesting would only make the JSON parser recurse; a real header nests three levels. */
#define MAX_JSON_DEPTH 16

typedef struct
{
  guint64 begin;
  guint64 end;
  guint   index;
} Span;

static gboolean
parse_dtype (const char    *name,
             LkWeightDType *dtype)
{
  for (guint i = 0; i < LK_WEIGHT_N_DTYPES; i++)
    if (g_str_equal (name, lk_weight_dtype_name (i)))
      {
        *dtype = i;
        return TRUE;
      }
  return FALSE;
}

static gboolean
json_depth_ok (const char *text,
               gsize       length)
{
  gboolean in_string = FALSE;
  int depth = 0;

  for (gsize i = 0; i < length; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > MAX_JSON_DEPTH)
            return FALSE;
        }
      else if (c == '}' || c == ']')
        depth--;
    }
  return TRUE;
}

static gboolean
json_get_uint (JsonNode *node,
               gint64   *value)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return *value >= 0;
}

static int
span_compare (gconstpointer a,
              gconstpointer b)
{
  const Span *x = a;
  const Span *y = b;

  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

#define corrupt(error, self, tensor, ...) \
  lk_weights_set_error ((self), (error), LK_IO_ERROR_CORRUPT, (tensor), __VA_ARGS__)

static gboolean
read_metadata (LkWeights  *self,
               JsonNode   *node,
               GError    **error)
{
  JsonObject *object;
  g_autoptr(GList) members = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return corrupt (error, self, NULL, "__metadata__ is not an object");
  object = json_node_get_object (node);
  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *value = json_object_get_member (object, l->data);

      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
        return corrupt (error, self, NULL, "__metadata__ “%s” is not a string",
                        (const char *) l->data);
      g_hash_table_replace (self->metadata, g_strdup (l->data),
                            g_strdup (json_node_get_string (value)));
    }
  return TRUE;
}

static gboolean
read_entry (LkWeights     *self,
            const char    *name,
            JsonNode      *node,
            const guint8  *data,
            guint64        data_length,
            Span          *span,
            GError       **error)
{
  JsonObject *object;
  JsonNode *dtype_node, *shape_node, *offsets_node;
  JsonArray *shape, *offsets;
  LkWeightDType dtype;
  LkWeightInfo *info;
  gint64 dims[LK_WEIGHT_MAX_DIMS];
  gint64 numel, begin, end, stride;
  guint ndim;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return corrupt (error, self, name, "header entry is not an object");
  object = json_node_get_object (node);

  dtype_node = json_object_get_member (object, "dtype");
  if (dtype_node == NULL || !JSON_NODE_HOLDS_VALUE (dtype_node) ||
      json_node_get_value_type (dtype_node) != G_TYPE_STRING)
    return corrupt (error, self, name, "no dtype");
  if (!parse_dtype (json_node_get_string (dtype_node), &dtype))
    return corrupt (error, self, name, "unknown dtype “%s”", json_node_get_string (dtype_node));

  shape_node = json_object_get_member (object, "shape");
  if (shape_node == NULL || !JSON_NODE_HOLDS_ARRAY (shape_node))
    return corrupt (error, self, name, "no shape");
  shape = json_node_get_array (shape_node);
  ndim = json_array_get_length (shape);
  if (ndim > LK_WEIGHT_MAX_DIMS)
    return corrupt (error, self, name, "%u dimensions (at most %d are supported)",
                    ndim, LK_WEIGHT_MAX_DIMS);
  for (guint i = 0; i < ndim; i++)
    if (!json_get_uint (json_array_get_element (shape, i), &dims[i]))
      return corrupt (error, self, name, "dimension %u is not a non-negative integer", i);
  if (!lk_weights_shape_numel (ndim, dims, &numel))
    return corrupt (error, self, name, "shape is too large");

  offsets_node = json_object_get_member (object, "data_offsets");
  if (offsets_node == NULL || !JSON_NODE_HOLDS_ARRAY (offsets_node) ||
      json_array_get_length (offsets = json_node_get_array (offsets_node)) != 2 ||
      !json_get_uint (json_array_get_element (offsets, 0), &begin) ||
      !json_get_uint (json_array_get_element (offsets, 1), &end))
    return corrupt (error, self, name, "data_offsets is not a pair of non-negative integers");
  if (begin > end || (guint64) end > data_length)
    return corrupt (error, self, name,
                    "data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] lie outside the "
                    "%" G_GUINT64_FORMAT " bytes of data", begin, end, data_length);
  if ((guint64) (end - begin) != (guint64) numel * lk_weight_dtype_size (dtype))
    return corrupt (error, self, name,
                    "%" G_GINT64_FORMAT " bytes of data for %" G_GINT64_FORMAT " elements of %s",
                    end - begin, numel, lk_weight_dtype_name (dtype));

  info = lk_weights_add (self, name, error);
  if (info == NULL)
    return FALSE;
  info->dtype = dtype;
  info->ndim = ndim;
  info->numel = numel;
  info->nbytes = end - begin;
  info->contiguous = TRUE;
  info->data = data + begin;
  stride = 1;
  for (gint i = (gint) ndim - 1; i >= 0; i--)
    {
      info->shape[i] = dims[i];
      info->strides[i] = stride;
      stride *= dims[i];
    }
  span->begin = begin;
  span->end = end;
  return TRUE;
}

LkWeights *
lk_safetensors_open (const char  *path,
                     GError     **error)
{
  g_autoptr(LkWeights) self = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) json_error = NULL;
  g_autoptr(GList) members = NULL;
  g_autoptr(GArray) spans = NULL;
  const guint8 *bytes;
  const char *header;
  JsonObject *root;
  gsize length;
  guint64 header_length, data_length;

  g_return_val_if_fail (path != NULL, NULL);

  self = lk_weights_new_mapped (path, error);
  if (self == NULL)
    return NULL;
  bytes = lk_weights_get_bytes (self, &length);
  if (length < 8)
    {
      corrupt (error, self, NULL, "%" G_GSIZE_FORMAT " bytes is too short for a safetensors file",
               length);
      return NULL;
    }
  header_length = GUINT64_FROM_LE (*(const guint64 *) bytes);
  if (header_length > LK_SAFETENSORS_MAX_HEADER)
    {
      corrupt (error, self, NULL, "header of %" G_GUINT64_FORMAT " bytes is over the %d MB limit",
               header_length, LK_SAFETENSORS_MAX_HEADER / (1024 * 1024));
      return NULL;
    }
  if (header_length > length - 8)
    {
      corrupt (error, self, NULL, "header of %" G_GUINT64_FORMAT " bytes runs past the end of "
               "the file (%" G_GSIZE_FORMAT " bytes)", header_length, length);
      return NULL;
    }
  header = (const char *) bytes + 8;
  if (header_length < 2 || header[0] != '{')
    {
      corrupt (error, self, NULL, "header is not a JSON object");
      return NULL;
    }
  if (!g_utf8_validate_len (header, header_length, NULL) ||
      !json_depth_ok (header, header_length))
    {
      corrupt (error, self, NULL, "header is not valid UTF-8 JSON of sane depth");
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, header, header_length, &json_error))
    {
      corrupt (error, self, NULL, "header is not valid JSON: %s", json_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      corrupt (error, self, NULL, "header is not a JSON object");
      return NULL;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  data_length = length - 8 - header_length;

  spans = g_array_new (FALSE, FALSE, sizeof (Span));
  members = json_object_get_members (root);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (root, name);
      Span span = { 0, 0, self->tensors->len };

      if (g_str_equal (name, "__metadata__"))
        {
          if (!read_metadata (self, node, error))
            return NULL;
          continue;
        }
      if (!read_entry (self, name, node, bytes + 8 + header_length, data_length, &span, error))
        return NULL;
      if (span.end > span.begin)
        g_array_append_val (spans, span);
    }

  g_array_sort (spans, span_compare);
  for (guint i = 1; i < spans->len; i++)
    {
      const Span *prev = &g_array_index (spans, Span, i - 1);
      const Span *next = &g_array_index (spans, Span, i);

      if (next->begin < prev->end)
        {
          const LkWeightInfo *a = g_ptr_array_index (self->tensors, prev->index);
          const LkWeightInfo *b = g_ptr_array_index (self->tensors, next->index);

          corrupt (error, self, b->name, "data overlaps tensor “%s”", a->name);
          return NULL;
        }
    }
  return g_steal_pointer (&self);
}

static gboolean
write_all (int            fd,
           const guint8  *data,
           gsize          length,
           const char    *path,
           GError       **error)
{
  while (length > 0)
    {
      gssize n = write (fd, data, MIN (length, (gsize) 1 << 30));

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = errno;

          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED, "%s: %s", path, g_strerror (saved));
          return FALSE;
        }
      data += n;
      length -= n;
    }
  return TRUE;
}

gboolean
lk_safetensors_write (const char                *path,
                      const LkSafetensorsEntry  *entries,
                      gsize                      n_entries,
                      GHashTable                *metadata,
                      GError                   **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GString) header = NULL;
  g_autofree char *tmp_path = NULL;
  g_autofree gsize *sizes = g_new0 (gsize, n_entries + 1);
  guint64 offset = 0, header_length_le;
  int fd;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (entries != NULL || n_entries == 0, FALSE);

  json_builder_begin_object (builder);
  if (metadata != NULL && g_hash_table_size (metadata) > 0)
    {
      GHashTableIter iter;
      gpointer key, value;

      json_builder_set_member_name (builder, "__metadata__");
      json_builder_begin_object (builder);
      g_hash_table_iter_init (&iter, metadata);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          json_builder_set_member_name (builder, key);
          json_builder_add_string_value (builder, value);
        }
      json_builder_end_object (builder);
    }
  for (gsize i = 0; i < n_entries; i++)
    {
      const LkSafetensorsEntry *e = &entries[i];
      gint64 numel;

      if (e->name == NULL || g_str_equal (e->name, "__metadata__") ||
          !g_hash_table_add (seen, (char *) e->name) || e->dtype >= LK_WEIGHT_N_DTYPES ||
          e->ndim > LK_WEIGHT_MAX_DIMS || (e->ndim > 0 && e->shape == NULL) ||
          !lk_weights_shape_numel (e->ndim, e->shape, &numel))
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED,
                       "%s: entry %" G_GSIZE_FORMAT " (“%s”) has a bad or duplicate name, dtype or "
                       "shape", path, i, e->name ? e->name : "(null)");
          return FALSE;
        }
      sizes[i] = numel * lk_weight_dtype_size (e->dtype);
      if (sizes[i] > 0 && e->data == NULL)
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED,
                       "%s: tensor “%s” has no data", path, e->name);
          return FALSE;
        }
      json_builder_set_member_name (builder, e->name);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "dtype");
      json_builder_add_string_value (builder, lk_weight_dtype_name (e->dtype));
      json_builder_set_member_name (builder, "shape");
      json_builder_begin_array (builder);
      for (guint d = 0; d < e->ndim; d++)
        json_builder_add_int_value (builder, e->shape[d]);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "data_offsets");
      json_builder_begin_array (builder);
      json_builder_add_int_value (builder, offset);
      json_builder_add_int_value (builder, offset + sizes[i]);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      offset += sizes[i];
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  generator = json_generator_new ();
  json_generator_set_root (generator, root);
  header = g_string_new (NULL);
  json_generator_to_gstring (generator, header);
  /* The data section starts 8-byte aligned, as the reference writer does: pad with spaces. */
  while (header->len % 8 != 0)
    g_string_append_c (header, ' ');
  header_length_le = GUINT64_TO_LE ((guint64) header->len);

  tmp_path = g_strconcat (path, ".tmp-XXXXXX", NULL);
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED, "%s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (!write_all (fd, (const guint8 *) &header_length_le, 8, path, error) ||
      !write_all (fd, (const guint8 *) header->str, header->len, path, error))
    goto fail;
  for (gsize i = 0; i < n_entries; i++)
    if (!write_all (fd, entries[i].data, sizes[i], path, error))
      goto fail;
  if (fsync (fd) != 0)
    {
      int saved = errno;

      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED, "%s: %s", path, g_strerror (saved));
      goto fail;
    }
  if (close (fd) != 0)
    {
      int saved = errno;

      fd = -1;
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED, "%s: %s", path, g_strerror (saved));
      goto fail;
    }
  fd = -1;
  if (g_rename (tmp_path, path) != 0)
    {
      int saved = errno;

      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED, "%s: %s", path, g_strerror (saved));
      goto fail;
    }
  return TRUE;

fail:
  if (fd >= 0)
    close (fd);
  g_unlink (tmp_path);
  return FALSE;
}
