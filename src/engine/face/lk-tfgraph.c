/* lk-tfgraph.c: a TensorFlow GraphDef executor over the NHWC vision ops
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-tfgraph"

#include "config.h"

#include "lk-tfgraph.h"

G_DEFINE_QUARK (lk-tfgraph-error-quark, lk_tfgraph_error)

typedef enum
{
  OP_PLACEHOLDER,
  OP_CONST,
  OP_IDENTITY,
  OP_CONV,
  OP_DEPTHWISE,
  OP_CONV_TRANSPOSE,
  OP_ADD,
  OP_MUL,
  OP_ADDN,
  OP_ACTIVATION,
  OP_MAXPOOL,
  OP_AVGPOOL,
  OP_PAD,
  OP_RESHAPE,
  OP_RESIZE,
  OP_DEPTH_TO_SPACE,
  OP_CONCAT,
} OpKind;

static const struct
{
  const char *name;
  OpKind      kind;
  LkVisionAct act;
} op_table[] = {
  { "Placeholder", OP_PLACEHOLDER },
  { "Const", OP_CONST },
  { "Identity", OP_IDENTITY },
  { "Conv2D", OP_CONV },
  { "_FusedConv2D", OP_CONV },
  { "DepthwiseConv2dNative", OP_DEPTHWISE },
  { "FusedDepthwiseConv2dNative", OP_DEPTHWISE },
  { "Conv2DBackpropInput", OP_CONV_TRANSPOSE },
  { "Add", OP_ADD },
  { "AddV2", OP_ADD },
  { "BiasAdd", OP_ADD },
  { "Mul", OP_MUL },
  { "AddN", OP_ADDN },
  { "Relu", OP_ACTIVATION, LK_VISION_ACT_RELU },
  { "Relu6", OP_ACTIVATION, LK_VISION_ACT_RELU6 },
  { "Sigmoid", OP_ACTIVATION, LK_VISION_ACT_SIGMOID },
  { "Prelu", OP_ACTIVATION, LK_VISION_ACT_PRELU },
  { "MaxPool", OP_MAXPOOL },
  { "AvgPool", OP_AVGPOOL },
  { "Pad", OP_PAD },
  { "PadV2", OP_PAD },
  { "Reshape", OP_RESHAPE },
  { "ResizeBilinear", OP_RESIZE },
  { "DepthToSpace", OP_DEPTH_TO_SPACE },
  { "ConcatV2", OP_CONCAT },
};

typedef struct
{
  char            *name;
  char            *op;
  OpKind           kind;
  guint            n_inputs;
  guint           *inputs;       /* node indices */
  /* attributes */
  LkVisionPadMode  pad_mode;
  gint64           explicit_pads[4][2];
  guint            strides[2], dilations[2], ksize[2];
  LkVisionAct      act;
  gboolean         has_bias;
  gboolean         align_corners, half_pixel;
  guint            block;
  guint            placeholder_ndim;
  gint64           placeholder_shape[LK_MAX_DIMS];
  /* constants: int32 ones stay on the host, float ones live on the device */
  gint64           n_ints;
  gint64          *ints;
  LkTensor        *device;
} Node;

struct _LkTfGraph
{
  LkContext  *context;      /* owned */
  LkArena    *arena;
  GPtrArray  *nodes;        /* Node*, in topological order */
  GHashTable *by_name;      /* name → index + 1 */
  guint       placeholder;  /* index, or G_MAXUINT */
};

static void
node_free (gpointer data)
{
  Node *node = data;

  g_free (node->name);
  g_free (node->op);
  g_free (node->inputs);
  g_free (node->ints);
  g_clear_pointer (&node->device, lk_tensor_unref);
  g_free (node);
}

void
lk_tfgraph_free (LkTfGraph *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->nodes, g_ptr_array_unref);
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->arena, lk_arena_unref);
  g_clear_object (&self->context);
  g_free (self);
}

static gboolean
node_error (GError     **error,
            gint         code,
            const Node  *node,
            const char  *format,
            ...) G_GNUC_PRINTF (4, 5);

static gboolean
node_error (GError     **error,
            gint         code,
            const Node  *node,
            const char  *format,
            ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, LK_TFGRAPH_ERROR, code, "node “%s” (%s): %s", node->name, node->op,
               message);
  return FALSE;
}

/* Members of the types we expect, or NULL: a malformed graph is an error for the caller to
 * report, never a critical from json-glib. */
static JsonObject *
member_object (JsonObject *obj,
               const char *key)
{
  JsonNode *node = obj ? json_object_get_member (obj, key) : NULL;

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
member_array (JsonObject *obj,
              const char *key)
{
  JsonNode *node = obj ? json_object_get_member (obj, key) : NULL;

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

/* attr[key] as {"list": {"i": ["1", "2", …]}}: up to @max integers; returns the count or −1. */
static gint
attr_int_list (JsonObject  *attr,
               const char  *key,
               gint64      *out,
               guint        max)
{
  JsonObject *list = member_object (member_object (attr, key), "list");
  JsonArray *items;
  guint n;

  if (list == NULL)
    return -1;
  if (!json_object_has_member (list, "i"))
    return 0;
  if ((items = member_array (list, "i")) == NULL || (n = json_array_get_length (items)) > max)
    return -1;
  for (guint i = 0; i < n; i++)
    {
      JsonNode *item = json_array_get_element (items, i);
      const char *text;
      char *end;

      if (JSON_NODE_HOLDS_VALUE (item) && json_node_get_value_type (item) == G_TYPE_INT64)
        {
          out[i] = json_node_get_int (item);
          continue;
        }
      if ((text = lk_tfjs_json_string (item)) == NULL)
        return -1;
      out[i] = g_ascii_strtoll (text, &end, 10);
      if (end == text || *end != '\0')
        return -1;
    }
  return n;
}

/* GraphDef strings are base64 in JSON. */
static char *
decode_base64 (const char *b64)
{
  gsize len;
  guchar *raw = g_base64_decode (b64, &len);

  raw = g_realloc (raw, len + 1);
  raw[len] = '\0';
  return (char *) raw;
}

/* attr[key] as {"s": base64}: the decoded string, or NULL. */
static char *
attr_string (JsonObject *attr,
             const char *key)
{
  JsonObject *value = member_object (attr, key);
  const char *b64 = value ? lk_tfjs_json_string (json_object_get_member (value, "s")) : NULL;

  return b64 ? decode_base64 (b64) : NULL;
}

/* attr[key] as {"list": {"s": [base64, …]}}: the decoded strings, or NULL. */
static char **
attr_string_list (JsonObject *attr,
                  const char *key)
{
  JsonObject *list = member_object (member_object (attr, key), "list");
  JsonArray *items = member_array (list, "s");
  GPtrArray *out;

  if (list == NULL)
    return NULL;
  out = g_ptr_array_new ();
  for (guint i = 0; items != NULL && i < json_array_get_length (items); i++)
    {
      const char *b64 = lk_tfjs_json_string (json_array_get_element (items, i));

      if (b64 != NULL)
        g_ptr_array_add (out, decode_base64 (b64));
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

static gboolean
attr_bool (JsonObject *attr,
           const char *key)
{
  JsonObject *value = member_object (attr, key);
  JsonNode *node = value ? json_object_get_member (value, "b") : NULL;

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node);
}

static gboolean
parse_window (Node        *node,
              JsonObject  *attr,
              gboolean     pool,
              GError     **error)
{
  gint64 v[8];
  g_autofree char *padding = attr_string (attr, "padding");
  g_autofree char *format = attr_string (attr, "data_format");
  gint n;

  if (format != NULL && !g_str_equal (format, "NHWC"))
    return node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                       "data_format “%s”; only NHWC is supported", format);
  n = attr_int_list (attr, "strides", v, 4);
  if (n != 4 || v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1)
    return node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                       "strides must be [1, sh, sw, 1] with sh, sw ≥ 1");
  node->strides[0] = v[1];
  node->strides[1] = v[2];
  node->dilations[0] = node->dilations[1] = 1;
  n = attr_int_list (attr, "dilations", v, 4);
  if (n == 4)
    {
      if (v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1)
        return node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                           "dilations must be [1, dh, dw, 1]");
      node->dilations[0] = v[1];
      node->dilations[1] = v[2];
    }
  if (pool)
    {
      n = attr_int_list (attr, "ksize", v, 4);
      if (n != 4 || v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1)
        return node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                           "ksize must be [1, kh, kw, 1]");
      node->ksize[0] = v[1];
      node->ksize[1] = v[2];
    }
  if (padding == NULL || g_str_equal (padding, "VALID"))
    node->pad_mode = LK_VISION_PAD_VALID;
  else if (g_str_equal (padding, "SAME"))
    node->pad_mode = LK_VISION_PAD_SAME;
  else if (g_str_equal (padding, "EXPLICIT"))
    {
      node->pad_mode = LK_VISION_PAD_EXPLICIT;
      n = attr_int_list (attr, "explicit_paddings", v, 8);
      if (n != 8)
        return node_error (error, LK_TFGRAPH_ERROR_INVALID, node,
                           "EXPLICIT padding needs 8 explicit_paddings");
      for (guint d = 0; d < 4; d++)
        {
          node->explicit_pads[d][0] = v[2 * d];
          node->explicit_pads[d][1] = v[2 * d + 1];
        }
    }
  else
    return node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node, "padding “%s”", padding);
  return TRUE;
}

static gboolean
parse_fused (Node        *node,
             JsonObject  *attr,
             GError     **error)
{
  g_auto(GStrv) fused = attr_string_list (attr, "fused_ops");
  guint n = fused ? g_strv_length (fused) : 0;

  node->act = LK_VISION_ACT_NONE;
  node->has_bias = FALSE;
  if (n == 0)
    return TRUE;
  if (!g_str_equal (fused[0], "BiasAdd") || n > 2)
    return node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                       "fused_ops must be BiasAdd optionally followed by one activation");
  node->has_bias = TRUE;
  if (n == 2)
    {
      if (g_str_equal (fused[1], "Relu"))
        node->act = LK_VISION_ACT_RELU;
      else if (g_str_equal (fused[1], "Relu6"))
        node->act = LK_VISION_ACT_RELU6;
      else if (g_str_equal (fused[1], "Prelu"))
        node->act = LK_VISION_ACT_PRELU;
      else if (g_str_equal (fused[1], "Sigmoid"))
        node->act = LK_VISION_ACT_SIGMOID;
      else
        return node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node, "fused activation “%s”",
                           fused[1]);
    }
  return TRUE;
}

/* Inputs expected per kind: minimum and maximum (G_MAXUINT: any). */
static void
input_range (const Node *node,
             guint      *lo,
             guint      *hi)
{
  switch (node->kind)
    {
    case OP_PLACEHOLDER:
    case OP_CONST:
      *lo = *hi = 0;
      return;
    case OP_IDENTITY:
      *lo = *hi = 1;
      return;
    case OP_CONV:
    case OP_DEPTHWISE:
      *lo = 2 + node->has_bias + (node->act == LK_VISION_ACT_PRELU);
      *hi = *lo;
      return;
    case OP_CONV_TRANSPOSE:
      *lo = *hi = 3;
      return;
    case OP_ACTIVATION:
      *lo = *hi = node->act == LK_VISION_ACT_PRELU ? 2 : 1;
      return;
    case OP_ADD:
    case OP_MUL:
    case OP_RESHAPE:
    case OP_RESIZE:
      *lo = *hi = 2;
      return;
    case OP_PAD:
      *lo = 2;
      *hi = 3;
      return;
    case OP_ADDN:
      *lo = 1;
      *hi = G_MAXUINT;
      return;
    case OP_CONCAT:
      *lo = 3;
      *hi = G_MAXUINT;
      return;
    case OP_MAXPOOL:
    case OP_AVGPOOL:
    case OP_DEPTH_TO_SPACE:
    default:
      *lo = *hi = 1;
      return;
    }
}

static Node *
graph_node (LkTfGraph *self,
            guint      index)
{
  return g_ptr_array_index (self->nodes, index);
}

static gboolean
upload_const (LkTfGraph           *self,
              LkStream            *stream,
              Node                *node,
              const LkTfjsTensor  *t,
              GError             **error)
{
  gint64 shape[LK_MAX_DIMS];
  guint ndim = t->ndim;

  if (t->is_int)
    {
      node->n_ints = t->numel;
      node->ints = g_new (gint64, MAX (t->numel, 1));
      for (gint64 i = 0; i < t->numel; i++)
        node->ints[i] = (gint64) t->data[i];
      return TRUE;
    }
  /* Scalars become [1]; filters are 4-D at most. */
  if (ndim > LK_MAX_DIMS)
    return node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                       "a constant of %u dimensions", ndim);
  for (guint d = 0; d < ndim; d++)
    shape[d] = t->shape[d];
  if (ndim == 0)
    {
      ndim = 1;
      shape[0] = 1;
    }
  node->device = lk_tensor_new (self->context, LK_DTYPE_F32, ndim, shape, error);
  if (node->device == NULL)
    return FALSE;
  return lk_tensor_upload_f32 (node->device, stream, t->data, error);
}

LkTfGraph *
lk_tfgraph_new (LkContext    *context,
                LkTfjsModel  *model,
                GError      **error)
{
  g_autoptr(LkTfGraph) self = NULL;
  g_autoptr(LkStream) stream = NULL;
  g_autoptr(GPtrArray) parsed = NULL;
  g_autoptr(GHashTable) index = NULL;
  g_autofree guint8 *state = NULL;
  g_autofree guint *order = NULL;
  JsonObject *topology;
  JsonArray *json_nodes;
  guint n, n_order = 0;

  g_return_val_if_fail (context != NULL && model != NULL, NULL);
  topology = lk_tfjs_model_get_topology (model);
  if (lk_tfjs_model_get_format (model) != LK_TFJS_GRAPH_MODEL || topology == NULL)
    {
      g_set_error (error, LK_TFGRAPH_ERROR, LK_TFGRAPH_ERROR_INVALID,
                   "%s: not a TF.js graph model", lk_tfjs_model_get_path (model));
      return NULL;
    }
  json_nodes = json_object_get_array_member (topology, "node");
  n = json_array_get_length (json_nodes);

  self = g_new0 (LkTfGraph, 1);
  self->context = g_object_ref (context);
  self->arena = lk_arena_new (context);
  self->placeholder = G_MAXUINT;
  parsed = g_ptr_array_new_with_free_func (node_free);
  index = g_hash_table_new (g_str_hash, g_str_equal);

  /* Parse every node and its attributes. */
  for (guint i = 0; i < n; i++)
    {
      JsonNode *jn = json_array_get_element (json_nodes, i);
      JsonObject *obj, *attr = NULL;
      const char *name, *op;
      Node *node;
      gboolean known = FALSE;

      if (!JSON_NODE_HOLDS_OBJECT (jn) ||
          (name = lk_tfjs_json_string (json_object_get_member (obj = json_node_get_object (jn),
                                                               "name"))) == NULL ||
          (op = lk_tfjs_json_string (json_object_get_member (obj, "op"))) == NULL)
        {
          g_set_error (error, LK_TFGRAPH_ERROR, LK_TFGRAPH_ERROR_INVALID,
                       "%s: graph node %u has no name or op", lk_tfjs_model_get_path (model), i);
          return NULL;
        }
      node = g_new0 (Node, 1);
      node->name = g_strdup (name);
      node->op = g_strdup (op);
      g_ptr_array_add (parsed, node);
      if (g_hash_table_contains (index, node->name))
        {
          node_error (error, LK_TFGRAPH_ERROR_INVALID, node, "the name is used twice");
          return NULL;
        }
      g_hash_table_insert (index, node->name, GUINT_TO_POINTER (i + 1));
      for (guint k = 0; k < G_N_ELEMENTS (op_table); k++)
        if (g_str_equal (op, op_table[k].name))
          {
            node->kind = op_table[k].kind;
            node->act = op_table[k].act;
            known = TRUE;
          }
      if (!known)
        {
          node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                      "this op is not supported by the graph executor");
          return NULL;
        }
      attr = member_object (obj, "attr");

      switch (node->kind)
        {
        case OP_CONV:
        case OP_DEPTHWISE:
          if (!parse_window (node, attr, FALSE, error) || !parse_fused (node, attr, error))
            return NULL;
          break;
        case OP_CONV_TRANSPOSE:
          if (!parse_window (node, attr, FALSE, error))
            return NULL;
          break;
        case OP_MAXPOOL:
        case OP_AVGPOOL:
          if (!parse_window (node, attr, TRUE, error))
            return NULL;
          break;
        case OP_RESIZE:
          node->align_corners = attr_bool (attr, "align_corners");
          node->half_pixel = attr_bool (attr, "half_pixel_centers");
          break;
        case OP_DEPTH_TO_SPACE:
          {
            g_autofree char *format = attr_string (attr, "data_format");
            JsonObject *bs = member_object (attr, "block_size");
            const char *text = bs ? lk_tfjs_json_string (json_object_get_member (bs, "i")) : NULL;

            node->block = text ? g_ascii_strtoull (text, NULL, 10) : 0;
            if (node->block < 1 || node->block > 64 ||
                (format != NULL && !g_str_equal (format, "NHWC")))
              {
                node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                            "needs an NHWC block_size between 1 and 64");
                return NULL;
              }
          }
          break;
        case OP_PLACEHOLDER:
          {
            JsonArray *dims = member_array (member_object (member_object (attr, "shape"), "shape"),
                                            "dim");

            if (self->placeholder != G_MAXUINT)
              {
                node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                            "a second input; graphs with one input only are supported");
                return NULL;
              }
            self->placeholder = i;
            if (dims == NULL || json_array_get_length (dims) > LK_MAX_DIMS)
              {
                node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                            "the input needs a known shape of at most 4 dimensions");
                return NULL;
              }
            node->placeholder_ndim = json_array_get_length (dims);
            for (guint d = 0; d < node->placeholder_ndim; d++)
              {
                JsonNode *dim = json_array_get_element (dims, d);
                const char *size = JSON_NODE_HOLDS_OBJECT (dim) ?
                                   lk_tfjs_json_string (json_object_get_member (json_node_get_object (dim),
                                                                      "size")) : NULL;

                node->placeholder_shape[d] = size ? g_ascii_strtoll (size, NULL, 10) : -1;
              }
          }
          break;
        default:
          break;
        }
    }

  /* Resolve inputs ("name", "name:0"; "^name" is a control edge and ignored). */
  for (guint i = 0; i < n; i++)
    {
      Node *node = g_ptr_array_index (parsed, i);
      JsonObject *obj = json_array_get_object_element (json_nodes, i);
      JsonArray *inputs = member_array (obj, "input");
      guint lo, hi, count = inputs ? json_array_get_length (inputs) : 0;

      node->inputs = g_new0 (guint, MAX (count, 1));
      for (guint k = 0; k < count; k++)
        {
          const char *ref = lk_tfjs_json_string (json_array_get_element (inputs, k));
          g_autofree char *base = NULL;
          char *colon;
          gpointer found;

          if (ref == NULL)
            {
              node_error (error, LK_TFGRAPH_ERROR_INVALID, node, "input %u is not a string", k);
              return NULL;
            }
          if (ref[0] == '^')
            continue;
          base = g_strdup (ref);
          colon = strrchr (base, ':');
          if (colon != NULL)
            {
              if (strcmp (colon, ":0") != 0)
                {
                  node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                              "input “%s”: only first outputs of nodes are supported", ref);
                  return NULL;
                }
              *colon = '\0';
            }
          found = g_hash_table_lookup (index, base);
          if (found == NULL)
            {
              node_error (error, LK_TFGRAPH_ERROR_INVALID, node, "input “%s” is not in the graph",
                          ref);
              return NULL;
            }
          node->inputs[node->n_inputs++] = GPOINTER_TO_UINT (found) - 1;
        }
      input_range (node, &lo, &hi);
      if (node->n_inputs < lo || node->n_inputs > hi)
        {
          node_error (error, LK_TFGRAPH_ERROR_INVALID, node, "%u inputs, expected %u%s",
                      node->n_inputs, lo, hi == lo ? "" : " or more");
          return NULL;
        }
    }
  if (self->placeholder == G_MAXUINT)
    {
      g_set_error (error, LK_TFGRAPH_ERROR, LK_TFGRAPH_ERROR_INVALID,
                   "%s: the graph has no Placeholder input", lk_tfjs_model_get_path (model));
      return NULL;
    }

  /* Topological order by iterative depth-first search; a node met again while open is a cycle. */
  state = g_new0 (guint8, n);
  order = g_new (guint, n);
  for (guint root = 0; root < n; root++)
    {
      g_autoptr(GArray) stack = g_array_new (FALSE, FALSE, sizeof (guint64));
      guint64 top = (guint64) root << 32;

      if (state[root] != 0)
        continue;
      g_array_append_val (stack, top);
      state[root] = 1;
      while (stack->len > 0)
        {
          guint64 *entry = &g_array_index (stack, guint64, stack->len - 1);
          guint at = *entry >> 32, next = *entry & 0xffffffff;
          Node *node = g_ptr_array_index (parsed, at);

          if (next < node->n_inputs)
            {
              guint child = node->inputs[next];

              *entry += 1;
              if (state[child] == 1)
                {
                  node_error (error, LK_TFGRAPH_ERROR_INVALID, node, "the graph has a cycle");
                  return NULL;
                }
              if (state[child] == 0)
                {
                  guint64 push = (guint64) child << 32;

                  state[child] = 1;
                  g_array_append_val (stack, push);
                }
              continue;
            }
          state[at] = 2;
          order[n_order++] = at;
          g_array_set_size (stack, stack->len - 1);
        }
    }

  /* Nodes in topological order; inputs renumbered. */
  {
    g_autofree guint *position = g_new (guint, n);

    self->nodes = g_ptr_array_new_with_free_func (node_free);
    self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
    for (guint k = 0; k < n; k++)
      position[order[k]] = k;
    for (guint k = 0; k < n; k++)
      {
        Node *node = g_ptr_array_index (parsed, order[k]);

        for (guint j = 0; j < node->n_inputs; j++)
          node->inputs[j] = position[node->inputs[j]];
        g_ptr_array_add (self->nodes, node);
        g_hash_table_insert (self->by_name, node->name, GUINT_TO_POINTER (k + 1));
      }
    self->placeholder = position[self->placeholder];
    g_ptr_array_set_free_func (parsed, NULL);
  }

  /* Constants: weights from the manifest under the node's name. */
  stream = lk_stream_new (context, error);
  if (stream == NULL)
    return NULL;
  for (guint k = 0; k < n; k++)
    {
      Node *node = graph_node (self, k);
      const LkTfjsTensor *t;
      g_autoptr(GError) local = NULL;

      if (node->kind != OP_CONST)
        continue;
      t = lk_tfjs_model_get_tensor (model, node->name, &local);
      if (t == NULL)
        {
          node_error (error, LK_TFGRAPH_ERROR_INVALID, node, "%s", local->message);
          return NULL;
        }
      if (!upload_const (self, stream, node, t, error))
        return NULL;
    }
  if (!lk_stream_finish (stream, error))
    return NULL;
  return g_steal_pointer (&self);
}

LkTfGraph *
lk_tfgraph_load (LkContext   *context,
                 const char  *path,
                 gint64       height,
                 gint64       width,
                 gint64       channels,
                 const char  *what,
                 GError     **error)
{
  g_autoptr(LkTfjsModel) model = lk_tfjs_model_load (path, error);
  g_autoptr(LkTfGraph) self = NULL;
  gint64 shape[LK_MAX_DIMS];
  guint ndim;

  if (model == NULL)
    return NULL;
  self = lk_tfgraph_new (context, model, error);
  if (self == NULL)
    return NULL;
  ndim = lk_tfgraph_get_input_shape (self, shape);
  if (ndim != 4 || shape[0] > 1 || shape[1] != height || shape[2] != width ||
      shape[3] != channels)
    {
      g_set_error (error, LK_TFGRAPH_ERROR, LK_TFGRAPH_ERROR_SHAPE,
                   "%s: not %s: its input is not [1, %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                   ", %" G_GINT64_FORMAT "]", path, what, height, width, channels);
      return NULL;
    }
  return g_steal_pointer (&self);
}

guint
lk_tfgraph_get_input_shape (LkTfGraph *self,
                            gint64    *shape)
{
  Node *node = graph_node (self, self->placeholder);

  memcpy (shape, node->placeholder_shape, node->placeholder_ndim * sizeof (gint64));
  return node->placeholder_ndim;
}

guint
lk_tfgraph_get_n_nodes (LkTfGraph *self)
{
  return self->nodes->len;
}

/* ---- running ---- */

typedef struct
{
  LkTfGraph  *graph;
  LkStream   *stream;
  LkTensor  **values;
} Run;

static LkTensor *
new_tensor (Run           *run,
            guint          ndim,
            const gint64  *shape,
            GError       **error)
{
  return lk_arena_tensor (run->graph->arena, LK_DTYPE_F32, ndim, shape, error);
}

static LkTensor *
input_value (Run         *run,
             const Node  *node,
             guint        k,
             GError     **error)
{
  LkTensor *t = run->values[node->inputs[k]];

  if (t == NULL)
    node_error (error, LK_TFGRAPH_ERROR_INVALID, node,
                "input %u (“%s”) is not a float tensor", k,
                graph_node (run->graph, node->inputs[k])->name);
  return t;
}

static const gint64 *
input_ints (Run         *run,
            const Node  *node,
            guint        k,
            gint64       count,
            GError     **error)
{
  const Node *src = graph_node (run->graph, node->inputs[k]);

  if (src->kind != OP_CONST || src->ints == NULL || (count >= 0 && src->n_ints != count))
    {
      node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                  "input %u (“%s”) must be an int32 constant of %" G_GINT64_FORMAT " values", k,
                  src->name, count);
      return NULL;
    }
  return src->ints;
}

/* A 1-D view of a per-channel parameter ([C], [1, 1, C], …). */
static LkTensor *
flat_view (LkTensor *t)
{
  gint64 n = lk_tensor_numel (t);

  return lk_tensor_view (t, 1, &n, 0);
}

static LkTensor *
run_conv (Run         *run,
          const Node  *node,
          GError     **error)
{
  LkTensor *x = input_value (run, node, 0, error);
  LkTensor *w = x ? input_value (run, node, 1, error) : NULL;
  g_autoptr(LkTensor) bias = NULL, alpha = NULL, y = NULL;
  LkVisionWindow win = { 0 };
  gint64 shape[4], before, after;
  guint next = 2;
  gboolean ok;

  if (w == NULL)
    return NULL;
  if (x->ndim != 4 || w->ndim != 4)
    {
      node_error (error, LK_TFGRAPH_ERROR_SHAPE, node, "expects 4-D input and filter");
      return NULL;
    }
  if (node->has_bias)
    {
      LkTensor *b = input_value (run, node, next++, error);

      if (b == NULL)
        return NULL;
      bias = flat_view (b);
    }
  if (node->act == LK_VISION_ACT_PRELU)
    {
      LkTensor *a = input_value (run, node, next++, error);

      if (a == NULL)
        return NULL;
      alpha = flat_view (a);
    }
  win.stride_h = node->strides[0];
  win.stride_w = node->strides[1];
  win.dilation_h = node->dilations[0];
  win.dilation_w = node->dilations[1];
  shape[0] = x->shape[0];
  shape[3] = node->kind == OP_CONV ? w->shape[3] : w->shape[2] * w->shape[3];
  for (guint axis = 0; axis < 2; axis++)
    {
      before = node->explicit_pads[1 + axis][0];
      after = node->explicit_pads[1 + axis][1];
      if (!lk_vision_out_size (node->pad_mode, x->shape[1 + axis], w->shape[axis],
                               node->strides[axis], node->dilations[axis], &before, &after,
                               &shape[1 + axis]))
        {
          node_error (error, LK_TFGRAPH_ERROR_SHAPE, node, "the filter does not fit the input");
          return NULL;
        }
      if (axis == 0)
        win.pad_top = before;
      else
        win.pad_left = before;
    }
  y = new_tensor (run, 4, shape, error);
  if (y == NULL)
    return NULL;
  if (node->kind == OP_CONV)
    ok = lk_op_vision_conv2d (run->stream, x, w, bias, alpha, node->act, y, &win, error);
  else
    ok = lk_op_vision_depthwise (run->stream, x, w, bias, alpha, node->act, y, &win, error);
  if (!ok)
    {
      g_prefix_error (error, "node “%s”: ", node->name);
      return NULL;
    }
  return g_steal_pointer (&y);
}

static LkTensor *
run_conv_transpose (Run         *run,
                    const Node  *node,
                    GError     **error)
{
  const gint64 *sizes = input_ints (run, node, 0, 4, error);
  LkTensor *w = sizes ? input_value (run, node, 1, error) : NULL;
  LkTensor *x = w ? input_value (run, node, 2, error) : NULL;
  g_autoptr(LkTensor) y = NULL;
  LkVisionWindow win = { 0 };

  if (x == NULL)
    return NULL;
  if (x->ndim != 4 || w->ndim != 4 || sizes[0] != x->shape[0] || sizes[3] != w->shape[2])
    {
      node_error (error, LK_TFGRAPH_ERROR_SHAPE, node,
                  "input_sizes, filter and out_backprop do not agree");
      return NULL;
    }
  win.stride_h = node->strides[0];
  win.stride_w = node->strides[1];
  win.dilation_h = node->dilations[0];
  win.dilation_w = node->dilations[1];
  for (guint axis = 0; axis < 2; axis++)
    {
      gint64 before = node->explicit_pads[1 + axis][0];
      gint64 after = node->explicit_pads[1 + axis][1];
      gint64 out;

      /* The forward conv maps input_sizes to x's size; its padding is ours. */
      if (!lk_vision_out_size (node->pad_mode, sizes[1 + axis], w->shape[axis],
                               node->strides[axis], node->dilations[axis], &before, &after, &out) ||
          out != x->shape[1 + axis])
        {
          node_error (error, LK_TFGRAPH_ERROR_SHAPE, node,
                      "input_sizes do not map onto the gradient's size");
          return NULL;
        }
      if (axis == 0)
        win.pad_top = before;
      else
        win.pad_left = before;
    }
  y = new_tensor (run, 4, sizes, error);
  if (y == NULL ||
      !lk_op_vision_conv2d_transpose (run->stream, x, w, NULL, NULL, LK_VISION_ACT_NONE, y, &win,
                                      error))
    {
      g_prefix_error (error, "node “%s”: ", node->name);
      return NULL;
    }
  return g_steal_pointer (&y);
}

static LkTensor *
run_binary (Run         *run,
            const Node  *node,
            LkBinaryOp   op,
            LkTensor    *a,
            LkTensor    *b,
            GError     **error)
{
  gint64 shape[LK_MAX_DIMS];
  guint ndim = MAX (a->ndim, b->ndim);
  g_autoptr(LkTensor) y = NULL;

  for (guint d = 0; d < ndim; d++)
    {
      gint64 da = d + a->ndim >= ndim ? a->shape[d + a->ndim - ndim] : 1;
      gint64 db = d + b->ndim >= ndim ? b->shape[d + b->ndim - ndim] : 1;

      if (da != db && da != 1 && db != 1)
        {
          node_error (error, LK_TFGRAPH_ERROR_SHAPE, node, "operands do not broadcast");
          return NULL;
        }
      shape[d] = da == 1 ? db : da;
    }
  y = new_tensor (run, ndim, shape, error);
  if (y == NULL || !lk_op_binary (run->stream, op, a, b, y, error))
    {
      g_prefix_error (error, "node “%s”: ", node->name);
      return NULL;
    }
  return g_steal_pointer (&y);
}

static LkTensor *
run_node (Run         *run,
          const Node  *node,
          LkTensor    *input,
          GError     **error)
{
  switch (node->kind)
    {
    case OP_PLACEHOLDER:
      return lk_tensor_ref (input);
    case OP_CONST:
      return node->device ? lk_tensor_ref (node->device) : NULL;
    case OP_IDENTITY:
      {
        LkTensor *x = run->values[node->inputs[0]];

        if (x == NULL)
          {
            node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node, "Identity of an int constant");
            return NULL;
          }
        return lk_tensor_ref (x);
      }
    case OP_CONV:
    case OP_DEPTHWISE:
      return run_conv (run, node, error);
    case OP_CONV_TRANSPOSE:
      return run_conv_transpose (run, node, error);
    case OP_ADD:
    case OP_MUL:
      {
        LkTensor *a = input_value (run, node, 0, error);
        LkTensor *b = a ? input_value (run, node, 1, error) : NULL;

        if (b == NULL)
          return NULL;
        return run_binary (run, node, node->kind == OP_ADD ? LK_BINARY_ADD : LK_BINARY_MUL, a, b,
                           error);
      }
    case OP_ADDN:
      {
        g_autoptr(LkTensor) sum = NULL;

        for (guint k = 0; k < node->n_inputs; k++)
          {
            LkTensor *v = input_value (run, node, k, error);

            if (v == NULL)
              return NULL;
            if (sum == NULL)
              sum = lk_tensor_ref (v);
            else
              {
                LkTensor *next = run_binary (run, node, LK_BINARY_ADD, sum, v, error);

                if (next == NULL)
                  return NULL;
                lk_tensor_unref (sum);
                sum = next;
              }
          }
        return g_steal_pointer (&sum);
      }
    case OP_ACTIVATION:
      {
        LkTensor *x = input_value (run, node, 0, error);
        g_autoptr(LkTensor) alpha = NULL, y = NULL;

        if (x == NULL)
          return NULL;
        if (node->act == LK_VISION_ACT_PRELU)
          {
            LkTensor *a = input_value (run, node, 1, error);

            if (a == NULL)
              return NULL;
            alpha = flat_view (a);
          }
        y = new_tensor (run, x->ndim, x->shape, error);
        if (y == NULL || !lk_op_vision_activation (run->stream, node->act, x, alpha, y, error))
          {
            g_prefix_error (error, "node “%s”: ", node->name);
            return NULL;
          }
        return g_steal_pointer (&y);
      }
    case OP_MAXPOOL:
    case OP_AVGPOOL:
      {
        LkTensor *x = input_value (run, node, 0, error);
        g_autoptr(LkTensor) y = NULL;
        LkVisionWindow win = { node->strides[0], node->strides[1], 1, 1, 0, 0 };
        gint64 shape[4];

        if (x == NULL)
          return NULL;
        if (x->ndim != 4)
          {
            node_error (error, LK_TFGRAPH_ERROR_SHAPE, node, "expects a 4-D input");
            return NULL;
          }
        shape[0] = x->shape[0];
        shape[3] = x->shape[3];
        for (guint axis = 0; axis < 2; axis++)
          {
            gint64 before = node->explicit_pads[1 + axis][0];
            gint64 after = node->explicit_pads[1 + axis][1];

            if (!lk_vision_out_size (node->pad_mode, x->shape[1 + axis], node->ksize[axis],
                                     node->strides[axis], 1, &before, &after, &shape[1 + axis]))
              {
                node_error (error, LK_TFGRAPH_ERROR_SHAPE, node, "the window does not fit");
                return NULL;
              }
            if (axis == 0)
              win.pad_top = before;
            else
              win.pad_left = before;
          }
        y = new_tensor (run, 4, shape, error);
        if (y == NULL ||
            !lk_op_vision_pool (run->stream, node->kind == OP_MAXPOOL ? LK_VISION_POOL_MAX :
                                LK_VISION_POOL_AVG, x, y, node->ksize[0], node->ksize[1], &win,
                                error))
          {
            g_prefix_error (error, "node “%s”: ", node->name);
            return NULL;
          }
        return g_steal_pointer (&y);
      }
    case OP_PAD:
      {
        LkTensor *x = input_value (run, node, 0, error);
        const gint64 *p = x ? input_ints (run, node, 1, 2 * (gint64) x->ndim, error) : NULL;
        g_autoptr(LkTensor) y = NULL;
        gint64 pads[4][2], shape[4];
        float value = 0;

        if (p == NULL)
          return NULL;
        if (x->ndim != 4)
          {
            node_error (error, LK_TFGRAPH_ERROR_SHAPE, node, "expects a 4-D input");
            return NULL;
          }
        if (node->n_inputs == 3)
          {
            LkTensor *v = input_value (run, node, 2, error);

            if (v == NULL)
              return NULL;
            if (lk_tensor_numel (v) != 1 || !lk_tensor_download_f32 (v, run->stream, &value, error))
              {
                node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                            "the padding value must be a scalar constant");
                return NULL;
              }
          }
        for (guint d = 0; d < 4; d++)
          {
            pads[d][0] = p[2 * d];
            pads[d][1] = p[2 * d + 1];
            shape[d] = x->shape[d] + pads[d][0] + pads[d][1];
          }
        y = new_tensor (run, 4, shape, error);
        if (y == NULL || !lk_op_vision_pad (run->stream, x, (const gint64 (*)[2]) pads, value, y,
                                            error))
          {
            g_prefix_error (error, "node “%s”: ", node->name);
            return NULL;
          }
        return g_steal_pointer (&y);
      }
    case OP_RESHAPE:
      {
        LkTensor *x = input_value (run, node, 0, error);
        const Node *src = graph_node (run->graph, node->inputs[1]);
        const gint64 *dims = x ? input_ints (run, node, 1, -1, error) : NULL;
        gint64 shape[LK_MAX_DIMS], known = 1;
        gint free_dim = -1;

        if (dims == NULL)
          return NULL;
        if (src->n_ints < 1 || src->n_ints > LK_MAX_DIMS)
          {
            node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node, "reshape to %" G_GINT64_FORMAT
                        " dimensions", src->n_ints);
            return NULL;
          }
        for (gint64 d = 0; d < src->n_ints; d++)
          {
            shape[d] = dims[d];
            if (dims[d] == -1 && free_dim < 0)
              free_dim = d;
            else if (dims[d] < 0)
              {
                node_error (error, LK_TFGRAPH_ERROR_INVALID, node, "bad target shape");
                return NULL;
              }
            else
              known *= dims[d];
          }
        if (free_dim >= 0 && known > 0)
          shape[free_dim] = lk_tensor_numel (x) / known;
        if ((free_dim >= 0 ? known * shape[free_dim] : known) != lk_tensor_numel (x))
          {
            node_error (error, LK_TFGRAPH_ERROR_SHAPE, node, "the target shape does not hold "
                        "%" G_GINT64_FORMAT " elements", lk_tensor_numel (x));
            return NULL;
          }
        return lk_tensor_view (x, src->n_ints, shape, 0);
      }
    case OP_RESIZE:
      {
        LkTensor *x = input_value (run, node, 0, error);
        const gint64 *size = x ? input_ints (run, node, 1, 2, error) : NULL;
        g_autoptr(LkTensor) y = NULL;
        gint64 shape[4];

        if (size == NULL)
          return NULL;
        if (x->ndim != 4 || size[0] < 1 || size[1] < 1)
          {
            node_error (error, LK_TFGRAPH_ERROR_SHAPE, node, "expects a 4-D input and a size");
            return NULL;
          }
        shape[0] = x->shape[0];
        shape[1] = size[0];
        shape[2] = size[1];
        shape[3] = x->shape[3];
        y = new_tensor (run, 4, shape, error);
        if (y == NULL ||
            !lk_op_vision_resize_bilinear (run->stream, x, y, node->align_corners,
                                           node->half_pixel, error))
          {
            g_prefix_error (error, "node “%s”: ", node->name);
            return NULL;
          }
        return g_steal_pointer (&y);
      }
    case OP_DEPTH_TO_SPACE:
      {
        LkTensor *x = input_value (run, node, 0, error);
        g_autoptr(LkTensor) y = NULL;
        gint64 shape[4];

        if (x == NULL)
          return NULL;
        if (x->ndim != 4 || x->shape[3] % (node->block * node->block) != 0)
          {
            node_error (error, LK_TFGRAPH_ERROR_SHAPE, node,
                        "expects a 4-D input whose channels divide by block²");
            return NULL;
          }
        shape[0] = x->shape[0];
        shape[1] = x->shape[1] * node->block;
        shape[2] = x->shape[2] * node->block;
        shape[3] = x->shape[3] / (node->block * node->block);
        y = new_tensor (run, 4, shape, error);
        if (y == NULL || !lk_op_vision_depth_to_space (run->stream, x, node->block, y, error))
          {
            g_prefix_error (error, "node “%s”: ", node->name);
            return NULL;
          }
        return g_steal_pointer (&y);
      }
    case OP_CONCAT:
      {
        const gint64 *axis = input_ints (run, node, node->n_inputs - 1, 1, error);
        g_autoptr(LkTensor) acc = NULL;

        if (axis == NULL)
          return NULL;
        for (guint k = 0; k + 1 < node->n_inputs; k++)
          {
            LkTensor *v = input_value (run, node, k, error);
            g_autoptr(LkTensor) y = NULL;
            gint64 shape[LK_MAX_DIMS];

            if (v == NULL)
              return NULL;
            if (*axis != -1 && *axis != (gint64) v->ndim - 1)
              {
                node_error (error, LK_TFGRAPH_ERROR_UNSUPPORTED, node,
                            "concatenation along axis %" G_GINT64_FORMAT "; only the last axis "
                            "is supported", *axis);
                return NULL;
              }
            if (acc == NULL)
              {
                acc = lk_tensor_ref (v);
                continue;
              }
            memcpy (shape, acc->shape, sizeof shape);
            shape[acc->ndim - 1] += v->shape[v->ndim - 1];
            y = new_tensor (run, acc->ndim, shape, error);
            if (y == NULL || !lk_op_vision_concat (run->stream, acc, v, y, error))
              {
                g_prefix_error (error, "node “%s”: ", node->name);
                return NULL;
              }
            g_clear_pointer (&acc, lk_tensor_unref);
            acc = g_steal_pointer (&y);
          }
        return g_steal_pointer (&acc);
      }
    default:
      g_assert_not_reached ();
    }
}

gboolean
lk_tfgraph_run (LkTfGraph   *self,
                LkStream    *stream,
                LkTensor    *input,
                guint        n_outputs,
                const char **outputs,
                LkTensor   **results,
                GError     **error)
{
  guint n = self->nodes->len;
  g_autofree guint *wanted = g_new (guint, MAX (n_outputs, 1));
  g_autofree gboolean *needed = g_new0 (gboolean, n);
  g_autofree guint *uses = g_new0 (guint, n);
  g_autofree LkTensor **values = g_new0 (LkTensor *, n);
  const Node *placeholder = graph_node (self, self->placeholder);
  Run run = { self, stream, values };
  gboolean ok = TRUE;

  g_return_val_if_fail (self != NULL && stream != NULL && input != NULL, FALSE);

  if (input->dtype != LK_DTYPE_F32 || input->ndim != placeholder->placeholder_ndim)
    ok = FALSE;
  for (guint d = 0; ok && d < input->ndim; d++)
    ok = placeholder->placeholder_shape[d] < 0 ||
         placeholder->placeholder_shape[d] == input->shape[d];
  if (!ok)
    {
      g_autofree char *desc = lk_tensor_describe (input);

      return node_error (error, LK_TFGRAPH_ERROR_SHAPE, placeholder,
                         "the input %s does not match the graph's input shape", desc);
    }

  for (guint i = 0; i < n_outputs; i++)
    {
      g_autofree char *base = g_strdup (outputs[i]);
      char *colon = strrchr (base, ':');
      gpointer found;

      if (colon != NULL && g_str_equal (colon, ":0"))
        *colon = '\0';
      found = g_hash_table_lookup (self->by_name, base);
      if (found == NULL)
        {
          g_set_error (error, LK_TFGRAPH_ERROR, LK_TFGRAPH_ERROR_INVALID,
                       "the graph has no node named “%s”", outputs[i]);
          return FALSE;
        }
      wanted[i] = GPOINTER_TO_UINT (found) - 1;
      needed[wanted[i]] = TRUE;
    }
  /* Nodes are in topological order: walking backwards marks every ancestor of an output. */
  for (guint k = n; k-- > 0;)
    if (needed[k])
      {
        const Node *node = graph_node (self, k);

        for (guint j = 0; j < node->n_inputs; j++)
          {
            needed[node->inputs[j]] = TRUE;
            uses[node->inputs[j]]++;
          }
      }
  for (guint i = 0; i < n_outputs; i++)
    uses[wanted[i]]++;

  for (guint k = 0; k < n && ok; k++)
    {
      const Node *node = graph_node (self, k);

      if (!needed[k])
        continue;
      values[k] = run_node (&run, node, input, error);
      if (values[k] == NULL && !(node->kind == OP_CONST && node->ints != NULL))
        {
          if (error == NULL || *error == NULL)
            node_error (error, LK_TFGRAPH_ERROR_INVALID, node, "produced no tensor");
          ok = FALSE;
          break;
        }
      /* Intermediates go back to the arena once their last consumer is recorded. */
      for (guint j = 0; j < node->n_inputs; j++)
        {
          guint src = node->inputs[j];

          if (uses[src] > 0 && --uses[src] == 0)
            g_clear_pointer (&values[src], lk_tensor_unref);
        }
    }
  for (guint i = 0; i < n_outputs && ok; i++)
    {
      if (values[wanted[i]] == NULL)
        {
          ok = node_error (error, LK_TFGRAPH_ERROR_INVALID, graph_node (self, wanted[i]),
                           "is not a float tensor");
          break;
        }
      results[i] = lk_tensor_ref (values[wanted[i]]);
    }
  if (!ok)
    for (guint i = 0; i < n_outputs; i++)
      results[i] = NULL;
  for (guint k = 0; k < n; k++)
    g_clear_pointer (&values[k], lk_tensor_unref);
  return ok;
}

gboolean
lk_tfgraph_run_host (LkTfGraph     *self,
                     LkStream      *stream,
                     const float   *input,
                     guint          ndim,
                     const gint64  *shape,
                     guint          n_outputs,
                     const char   **outputs,
                     float        **results,
                     gint64        *result_numel,
                     GError       **error)
{
  g_autoptr(LkTensor) x = NULL;
  g_autofree LkTensor **out = g_new0 (LkTensor *, MAX (n_outputs, 1));
  gboolean ok;

  x = lk_arena_tensor (self->arena, LK_DTYPE_F32, ndim, shape, error);
  if (x == NULL || !lk_tensor_upload_f32 (x, stream, input, error))
    return FALSE;
  ok = lk_tfgraph_run (self, stream, x, n_outputs, outputs, out, error);
  for (guint i = 0; i < n_outputs; i++)
    results[i] = NULL;
  for (guint i = 0; i < n_outputs && ok; i++)
    {
      gint64 numel = lk_tensor_numel (out[i]);

      results[i] = g_new (float, MAX (numel, 1));
      if (result_numel != NULL)
        result_numel[i] = numel;
      ok = lk_tensor_download_f32 (out[i], stream, results[i], error);
    }
  for (guint i = 0; i < n_outputs; i++)
    {
      g_clear_pointer (&out[i], lk_tensor_unref);
      if (!ok)
        g_clear_pointer (&results[i], g_free);
    }
  return ok;
}
