/* lk-tfjs.c: TensorFlow.js weights manifests, graph models and layers models
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-tfjs"

#include "config.h"

#include <math.h>

#include "lk-tfjs.h"

#include "tensor/lk-half.h"

/* Far above any face model (the largest here is 6 MB); a hostile manifest cannot make us
 * allocate more. */
#define MAX_GROUP_BYTES (1024ull * 1024 * 1024)

struct _LkTfjsModel
{
  char          *path;
  LkTfjsFormat   format;
  JsonParser    *parser;
  JsonObject    *topology;   /* borrowed from parser */
  JsonObject    *signature;  /* borrowed from parser */
  GPtrArray     *tensors;    /* LkTfjsTensor*, owned with their name and data */
  GHashTable    *by_name;    /* borrowed */
};

const char *
lk_tfjs_json_string (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING ? json_node_get_string (node) : NULL;
}

static void
tensor_free (gpointer data)
{
  LkTfjsTensor *t = data;

  g_free ((char *) t->name);
  g_free ((float *) t->data);
  g_free (t);
}

void
lk_tfjs_model_free (LkTfjsModel *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->tensors, g_ptr_array_unref);
  g_clear_object (&self->parser);
  g_free (self->path);
  g_free (self);
}

typedef enum
{
  STORE_F32,
  STORE_I32,
  STORE_U8,
  STORE_U16,
  STORE_F16,
} StoreKind;

static gsize
store_size (StoreKind kind)
{
  switch (kind)
    {
    case STORE_F32:
    case STORE_I32:
      return 4;
    case STORE_U16:
    case STORE_F16:
      return 2;
    case STORE_U8:
      return 1;
    default:
      g_assert_not_reached ();
    }
}

/* One weight as the manifest describes it, validated. */
typedef struct
{
  char      *name;
  gboolean   is_int;
  StoreKind  kind;
  double     scale, min;
  guint      ndim;
  gint64     shape[LK_TFJS_MAX_DIMS];
  gint64     numel;
} WeightSpec;

static gboolean
parse_spec (JsonNode    *node,
            const char  *path,
            guint        index,
            WeightSpec  *spec,
            GError     **error)
{
  JsonObject *obj, *quant;
  JsonArray *shape;
  const char *name, *dtype;

  memset (spec, 0, sizeof *spec);
  if (!JSON_NODE_HOLDS_OBJECT (node))
    goto corrupt;
  obj = json_node_get_object (node);
  name = lk_tfjs_json_string (json_object_get_member (obj, "name"));
  dtype = lk_tfjs_json_string (json_object_get_member (obj, "dtype"));
  if (name == NULL || dtype == NULL || !json_object_has_member (obj, "shape") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (obj, "shape")))
    goto corrupt;
  spec->name = g_strdup (name);
  shape = json_object_get_array_member (obj, "shape");
  if (json_array_get_length (shape) > LK_TFJS_MAX_DIMS)
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_UNSUPPORTED,
                   "%s: weight “%s” has %u dimensions, at most %d are supported", path, name,
                   json_array_get_length (shape), LK_TFJS_MAX_DIMS);
      return FALSE;
    }
  spec->ndim = json_array_get_length (shape);
  spec->numel = 1;
  for (guint d = 0; d < spec->ndim; d++)
    {
      JsonNode *dim = json_array_get_element (shape, d);
      gint64 size;

      if (!JSON_NODE_HOLDS_VALUE (dim) || json_node_get_value_type (dim) != G_TYPE_INT64 ||
          (size = json_node_get_int (dim)) < 0 || size > G_MAXINT32)
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                       "%s: weight “%s” has a bad shape (dimension %u)", path, name, d);
          return FALSE;
        }
      spec->shape[d] = size;
      spec->numel *= size;
      if (spec->numel > (gint64) MAX_GROUP_BYTES)
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                       "%s: weight “%s” is implausibly large", path, name);
          return FALSE;
        }
    }

  if (g_str_equal (dtype, "float32"))
    spec->kind = STORE_F32;
  else if (g_str_equal (dtype, "int32"))
    {
      spec->kind = STORE_I32;
      spec->is_int = TRUE;
    }
  else
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_UNSUPPORTED,
                   "%s: weight “%s” has dtype “%s”; only float32 and int32 are supported",
                   path, name, dtype);
      return FALSE;
    }

  if (!json_object_has_member (obj, "quantization"))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (json_object_get_member (obj, "quantization")))
    goto corrupt;
  quant = json_object_get_object_member (obj, "quantization");
  dtype = lk_tfjs_json_string (json_object_get_member (quant, "dtype"));
  if (dtype == NULL)
    goto corrupt;
  if (g_str_equal (dtype, "float16") && !spec->is_int)
    spec->kind = STORE_F16;
  else if (g_str_equal (dtype, "uint8") || g_str_equal (dtype, "uint16"))
    {
      JsonNode *scale = json_object_get_member (quant, "scale");
      JsonNode *min = json_object_get_member (quant, "min");

      if (scale == NULL || min == NULL || !JSON_NODE_HOLDS_VALUE (scale) ||
          !JSON_NODE_HOLDS_VALUE (min) ||
          json_node_get_value_type (scale) == G_TYPE_STRING ||
          json_node_get_value_type (min) == G_TYPE_STRING)
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                       "%s: weight “%s” is quantised to %s without a numeric scale and min",
                       path, name, dtype);
          return FALSE;
        }
      spec->scale = json_node_get_double (scale);
      spec->min = json_node_get_double (min);
      if (!isfinite (spec->scale) || !isfinite (spec->min))
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                       "%s: weight “%s” has a non-finite quantisation scale or min", path, name);
          return FALSE;
        }
      spec->kind = dtype[4] == '8' ? STORE_U8 : STORE_U16;
    }
  else
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_UNSUPPORTED,
                   "%s: weight “%s” (%s) is quantised as “%s”; supported are uint8, uint16 and "
                   "float16 (float32 only)", path, name, spec->is_int ? "int32" : "float32",
                   dtype);
      return FALSE;
    }
  return TRUE;

corrupt:
  g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
               "%s: weight %u of the manifest is not an object with name, shape and dtype",
               path, index);
  return FALSE;
}

static void
dequantise (const WeightSpec *spec,
            const guint8     *src,
            float            *dst)
{
  for (gint64 i = 0; i < spec->numel; i++)
    switch (spec->kind)
      {
      case STORE_F32:
        {
          guint32 bits;

          memcpy (&bits, src + 4 * i, 4);
          bits = GUINT32_FROM_LE (bits);
          memcpy (&dst[i], &bits, 4);
        }
        break;
      case STORE_I32:
        {
          guint32 bits;

          memcpy (&bits, src + 4 * i, 4);
          dst[i] = (gint32) GUINT32_FROM_LE (bits);
        }
        break;
      case STORE_F16:
        {
          guint16 bits;

          memcpy (&bits, src + 2 * i, 2);
          dst[i] = lk_half_to_float (GUINT16_FROM_LE (bits));
        }
        break;
      case STORE_U16:
        {
          guint16 bits;

          memcpy (&bits, src + 2 * i, 2);
          dst[i] = GUINT16_FROM_LE (bits) * spec->scale + spec->min;
        }
        break;
      case STORE_U8:
        dst[i] = src[i] * spec->scale + spec->min;
        break;
      default:
        g_assert_not_reached ();
      }
}

/* Reads one group's shards back to back into a buffer of exactly @expected bytes. */
static guint8 *
read_group (const char  *path,
            const char  *dir,
            JsonArray   *paths,
            guint        group,
            guint64      expected,
            GError     **error)
{
  g_autofree guint8 *data = NULL;
  g_autofree char *last = NULL;
  guint64 filled = 0;

  if (expected > MAX_GROUP_BYTES)
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                   "%s: weight group %u lists %" G_GUINT64_FORMAT " bytes, more than supported",
                   path, group, expected);
      return NULL;
    }
  data = g_malloc (MAX (expected, 1));
  for (guint s = 0; s < json_array_get_length (paths); s++)
    {
      const char *name = lk_tfjs_json_string (json_array_get_element (paths, s));
      g_autofree char *shard = NULL;
      g_autofree char *contents = NULL;
      g_autoptr(GError) local = NULL;
      gsize length;

      if (name == NULL || *name == '\0' || g_path_is_absolute (name) || strstr (name, "..") != NULL)
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                       "%s: weight group %u: shard path %u is not a plain relative file name",
                       path, group, s);
          return NULL;
        }
      shard = g_build_filename (dir, name, NULL);
      if (!g_file_get_contents (shard, &contents, &length, &local))
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_FAILED,
                       "%s: weight shard %s is missing or unreadable: %s", path, shard,
                       local->message);
          return NULL;
        }
      if (filled + length > expected)
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                       "%s: weight shard %s is too long: group %u holds %" G_GUINT64_FORMAT
                       " bytes of weights, its shards at least %" G_GUINT64_FORMAT,
                       path, shard, group, expected, filled + length);
          return NULL;
        }
      memcpy (data + filled, contents, length);
      filled += length;
      g_free (last);
      last = g_steal_pointer (&shard);
    }
  if (filled != expected)
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                   "%s: weight shard %s is short: group %u needs %" G_GUINT64_FORMAT
                   " bytes, its shards hold %" G_GUINT64_FORMAT,
                   path, last ? last : "(none listed)", group, expected, filled);
      return NULL;
    }
  return g_steal_pointer (&data);
}

static gboolean
load_manifest (LkTfjsModel  *self,
               JsonArray    *groups,
               GError      **error)
{
  g_autofree char *dir = g_path_get_dirname (self->path);

  for (guint g = 0; g < json_array_get_length (groups); g++)
    {
      JsonNode *node = json_array_get_element (groups, g);
      JsonObject *group;
      JsonArray *paths, *weights;
      g_autofree WeightSpec *specs = NULL;
      g_autofree guint8 *data = NULL;
      guint n;
      guint64 total = 0, offset = 0;
      gboolean ok = TRUE;

      if (!JSON_NODE_HOLDS_OBJECT (node) ||
          !json_object_has_member (group = json_node_get_object (node), "paths") ||
          !json_object_has_member (group, "weights") ||
          !JSON_NODE_HOLDS_ARRAY (json_object_get_member (group, "paths")) ||
          !JSON_NODE_HOLDS_ARRAY (json_object_get_member (group, "weights")))
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                       "%s: weight group %u is not an object with “paths” and “weights” arrays",
                       self->path, g);
          return FALSE;
        }
      paths = json_object_get_array_member (group, "paths");
      weights = json_object_get_array_member (group, "weights");
      n = json_array_get_length (weights);
      specs = g_new0 (WeightSpec, n);
      for (guint i = 0; i < n && ok; i++)
        {
          ok = parse_spec (json_array_get_element (weights, i), self->path, i, &specs[i], error);
          if (ok)
            total += (guint64) specs[i].numel * store_size (specs[i].kind);
          if (ok && total > MAX_GROUP_BYTES)
            {
              g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                           "%s: weight group %u is implausibly large", self->path, g);
              ok = FALSE;
            }
          for (guint j = 0; ok && j < i; j++)
            if (g_str_equal (specs[j].name, specs[i].name))
              {
                g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                             "%s: weight “%s” is listed twice", self->path, specs[i].name);
                ok = FALSE;
              }
          if (ok && g_hash_table_contains (self->by_name, specs[i].name))
            {
              g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                           "%s: weight “%s” is listed twice", self->path, specs[i].name);
              ok = FALSE;
            }
        }
      if (ok)
        ok = (data = read_group (self->path, dir, paths, g, total, error)) != NULL;
      for (guint i = 0; i < n; i++)
        {
          LkTfjsTensor *t;
          float *values;

          if (!ok)
            {
              g_free (specs[i].name);
              continue;
            }
          values = g_new (float, MAX (specs[i].numel, 1));
          dequantise (&specs[i], data + offset, values);
          offset += (guint64) specs[i].numel * store_size (specs[i].kind);
          t = g_new0 (LkTfjsTensor, 1);
          t->name = specs[i].name;
          t->is_int = specs[i].is_int;
          t->ndim = specs[i].ndim;
          memcpy (t->shape, specs[i].shape, sizeof t->shape);
          t->numel = specs[i].numel;
          t->data = values;
          g_ptr_array_add (self->tensors, t);
          g_hash_table_insert (self->by_name, (char *) t->name, t);
        }
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

LkTfjsModel *
lk_tfjs_model_load (const char  *path,
                    GError     **error)
{
  g_autoptr(LkTfjsModel) self = g_new0 (LkTfjsModel, 1);
  g_autoptr(GError) local = NULL;
  JsonNode *root;
  JsonArray *manifest;

  g_return_val_if_fail (path != NULL, NULL);

  self->path = g_strdup (path);
  self->tensors = g_ptr_array_new_with_free_func (tensor_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->parser = json_parser_new_immutable ();
  if (!json_parser_load_from_mapped_file (self->parser, path, &local))
    {
      /* json-glib's parse errors already start with the file name. */
      g_set_error (error, LK_IO_ERROR,
                   local->domain == G_FILE_ERROR ? LK_IO_ERROR_FAILED : LK_IO_ERROR_CORRUPT,
                   "%s%s%s", g_str_has_prefix (local->message, path) ? "" : path,
                   g_str_has_prefix (local->message, path) ? "" : ": ", local->message);
      return NULL;
    }
  root = json_parser_get_root (self->parser);

  if (root != NULL && JSON_NODE_HOLDS_ARRAY (root))
    {
      self->format = LK_TFJS_WEIGHTS_MANIFEST;
      manifest = json_node_get_array (root);
    }
  else if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonObject *obj = json_node_get_object (root);
      JsonNode *topology = json_object_get_member (obj, "modelTopology");
      JsonNode *wm = json_object_get_member (obj, "weightsManifest");
      const char *format = lk_tfjs_json_string (json_object_get_member (obj, "format"));

      if (topology == NULL || !JSON_NODE_HOLDS_OBJECT (topology) || wm == NULL ||
          !JSON_NODE_HOLDS_ARRAY (wm))
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                       "%s: not a TF.js model: expected “modelTopology” and “weightsManifest”",
                       path);
          return NULL;
        }
      self->topology = json_node_get_object (topology);
      manifest = json_node_get_array (wm);
      if (json_object_has_member (self->topology, "node") &&
          JSON_NODE_HOLDS_ARRAY (json_object_get_member (self->topology, "node")) &&
          (format == NULL || g_str_equal (format, "graph-model")))
        self->format = LK_TFJS_GRAPH_MODEL;
      else if (json_object_has_member (self->topology, "model_config") &&
               JSON_NODE_HOLDS_OBJECT (json_object_get_member (self->topology, "model_config")) &&
               (format == NULL || g_str_equal (format, "layers-model")))
        self->format = LK_TFJS_LAYERS_MODEL;
      else
        {
          g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                       "%s: “modelTopology” is neither a graph (node[]) nor a Keras model "
                       "(model_config) of format “%s”", path, format ? format : "(none)");
          return NULL;
        }
      if (json_object_has_member (obj, "signature") &&
          JSON_NODE_HOLDS_OBJECT (json_object_get_member (obj, "signature")))
        self->signature = json_object_get_object_member (obj, "signature");
      else if (json_object_has_member (obj, "userDefinedMetadata") &&
               JSON_NODE_HOLDS_OBJECT (json_object_get_member (obj, "userDefinedMetadata")))
        {
          JsonObject *meta = json_object_get_object_member (obj, "userDefinedMetadata");

          if (json_object_has_member (meta, "signature") &&
              JSON_NODE_HOLDS_OBJECT (json_object_get_member (meta, "signature")))
            self->signature = json_object_get_object_member (meta, "signature");
        }
    }
  else
    {
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                   "%s: not a TF.js model or weights manifest (JSON root is not an array or object)",
                   path);
      return NULL;
    }

  if (!load_manifest (self, manifest, error))
    return NULL;
  return g_steal_pointer (&self);
}

LkTfjsFormat
lk_tfjs_model_get_format (LkTfjsModel *self)
{
  return self->format;
}

const char *
lk_tfjs_model_get_path (LkTfjsModel *self)
{
  return self->path;
}

const LkTfjsTensor *
lk_tfjs_model_get_tensor (LkTfjsModel  *self,
                          const char   *name,
                          GError      **error)
{
  const LkTfjsTensor *t = g_hash_table_lookup (self->by_name, name);

  if (t == NULL)
    g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_NOT_FOUND, "%s: no weight named “%s”",
                 self->path, name);
  return t;
}

const LkTfjsTensor *
lk_tfjs_model_get_shaped (LkTfjsModel   *self,
                          const char    *name,
                          guint          ndim,
                          const gint64  *shape,
                          GError       **error)
{
  const LkTfjsTensor *t = lk_tfjs_model_get_tensor (self, name, error);
  gboolean ok;

  if (t == NULL)
    return NULL;
  ok = t->ndim == ndim;
  for (guint d = 0; ok && d < ndim; d++)
    ok = shape[d] < 0 || shape[d] == t->shape[d];
  if (!ok)
    {
      GString *want = g_string_new ("[");
      GString *got = g_string_new ("[");

      for (guint d = 0; d < ndim; d++)
        g_string_append_printf (want, d ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, shape[d]);
      for (guint d = 0; d < t->ndim; d++)
        g_string_append_printf (got, d ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, t->shape[d]);
      g_set_error (error, LK_IO_ERROR, LK_IO_ERROR_CORRUPT,
                   "%s: weight “%s” has shape %s], expected %s] (−1: any)", self->path, name,
                   got->str, want->str);
      g_string_free (want, TRUE);
      g_string_free (got, TRUE);
      return NULL;
    }
  return t;
}

guint
lk_tfjs_model_get_n_tensors (LkTfjsModel *self)
{
  return self->tensors->len;
}

const LkTfjsTensor *
lk_tfjs_model_get_nth (LkTfjsModel *self,
                       guint        index)
{
  g_return_val_if_fail (index < self->tensors->len, NULL);
  return g_ptr_array_index (self->tensors, index);
}

JsonObject *
lk_tfjs_model_get_topology (LkTfjsModel *self)
{
  return self->topology;
}

JsonObject *
lk_tfjs_model_get_signature (LkTfjsModel *self)
{
  return self->signature;
}
