/* lk-tfjs.h: TensorFlow.js models: weights manifests, graph models and layers models
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Three JSON shapes share one weights format: face-api's `*-weights_manifest.json` (a bare array
 * of weight groups), graph models (`modelTopology.node[]`, a TensorFlow GraphDef, beside
 * `weightsManifest`) and layers models (a Keras `model_config` beside `weightsManifest`). Each
 * group names its shard files, read back to back; every weight is float32 or int32, optionally
 * quantised to uint8/uint16 (q × scale + min) or float16. Everything is checked before any tensor
 * is handed out: JSON shape, dtypes, shapes, and the shards' total size against the manifest to
 * the byte. Tensors come out as f32 host arrays (int32 values are exact below 2²⁴).
 */
#pragma once

#include <json-glib/json-glib.h>

#include "lk-weights.h"

G_BEGIN_DECLS

#define LK_TFJS_MAX_DIMS 8

typedef enum
{
  LK_TFJS_WEIGHTS_MANIFEST,  /* face-api: weights only, the architecture lives in code */
  LK_TFJS_GRAPH_MODEL,
  LK_TFJS_LAYERS_MODEL,
} LkTfjsFormat;

typedef struct
{
  const char  *name;        /* owned by the model */
  gboolean     is_int;      /* int32 in the file */
  guint        ndim;
  gint64       shape[LK_TFJS_MAX_DIMS];
  gint64       numel;
  const float *data;        /* owned by the model, numel values */
} LkTfjsTensor;

typedef struct _LkTfjsModel LkTfjsModel;

/* Loads @path: a graph or layers model.json, or a bare weights manifest; shard paths are relative
 * to its directory. Errors are LK_IO_ERROR naming the file and the weight or field at fault. */
LkTfjsModel        *lk_tfjs_model_load         (const char          *path,
                                                GError             **error);
void                lk_tfjs_model_free         (LkTfjsModel         *self);
LkTfjsFormat        lk_tfjs_model_get_format   (LkTfjsModel         *self);
const char         *lk_tfjs_model_get_path     (LkTfjsModel         *self);
/* NULL with LK_IO_ERROR_NOT_FOUND naming @name and the file when there is no such weight. */
const LkTfjsTensor *lk_tfjs_model_get_tensor   (LkTfjsModel         *self,
                                                const char          *name,
                                                GError             **error);
/* As get_tensor, also checking the shape (@ndim dims; a −1 entry matches any size). */
const LkTfjsTensor *lk_tfjs_model_get_shaped   (LkTfjsModel         *self,
                                                const char          *name,
                                                guint                ndim,
                                                const gint64        *shape,
                                                GError             **error);
guint               lk_tfjs_model_get_n_tensors (LkTfjsModel        *self);
/* In manifest order. */
const LkTfjsTensor *lk_tfjs_model_get_nth      (LkTfjsModel         *self,
                                                guint                index);
/* `modelTopology`: the GraphDef object (with `node`) of a graph model, the Keras object (with
 * `model_config`) of a layers model; NULL for a bare manifest. Owned by the model. */
JsonObject         *lk_tfjs_model_get_topology (LkTfjsModel         *self);
/* The graph model's `signature` (or `userDefinedMetadata.signature`), or NULL. */
JsonObject         *lk_tfjs_model_get_signature (LkTfjsModel        *self);

/* @node's string if it holds one, else NULL: malformed JSON is the reader's error to report,
 * never a critical from json-glib. */
const char         *lk_tfjs_json_string        (JsonNode            *node);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkTfjsModel, lk_tfjs_model_free)

G_END_DECLS
