/* lk-tfgraph.h: runs a TF.js graph model's GraphDef on the NHWC vision ops
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The op kinds BlazeFace, FaceMesh and selfie segmentation use (and a few close relatives):
 * Placeholder, Const, Identity, Conv2D / _FusedConv2D (BiasAdd + Relu, Relu6 or Prelu),
 * DepthwiseConv2dNative / FusedDepthwiseConv2dNative, Conv2DBackpropInput, Add / AddV2 / AddN,
 * Mul, Relu, Relu6, Sigmoid, Prelu, MaxPool, AvgPool, Pad / PadV2, Reshape, ResizeBilinear,
 * DepthToSpace and ConcatV2 on the last axis. Anything else is refused when the graph is built,
 * naming the node. Float constants go to the device once, when the graph is built.
 */
#pragma once

#include "lk-ops-vision.h"
#include "lk-tfjs.h"

G_BEGIN_DECLS

#define LK_TFGRAPH_ERROR (lk_tfgraph_error_quark ())

typedef enum
{
  LK_TFGRAPH_ERROR_UNSUPPORTED,  /* an op or attribute we do not run */
  LK_TFGRAPH_ERROR_INVALID,      /* a malformed graph: missing input, bad attribute, cycle */
  LK_TFGRAPH_ERROR_SHAPE,        /* shapes that do not fit together */
} LkTfGraphError;

GQuark lk_tfgraph_error_quark (void);

typedef struct _LkTfGraph LkTfGraph;

/* @model must be a graph model; the graph keeps what it needs, @model may be freed after. */
LkTfGraph  *lk_tfgraph_new            (LkContext      *context,
                                       LkTfjsModel    *model,
                                       GError        **error);
/* Loads the graph model at @path and checks its input is [N, @height, @width, @channels]
 * (N 1 or free); @what names the network in the error otherwise. */
LkTfGraph  *lk_tfgraph_load           (LkContext      *context,
                                       const char     *path,
                                       gint64          height,
                                       gint64          width,
                                       gint64          channels,
                                       const char     *what,
                                       GError        **error);
void        lk_tfgraph_free           (LkTfGraph      *self);
/* The Placeholder's shape; −1 for a free dimension. */
guint       lk_tfgraph_get_input_shape (LkTfGraph     *self,
                                       gint64         *shape);
guint       lk_tfgraph_get_n_nodes    (LkTfGraph      *self);
/* Records the graph on @stream with @input (f32, NHWC) as the Placeholder and returns new
 * references to the tensors of the nodes named in @outputs (“Identity” or “Identity:0”). */
gboolean    lk_tfgraph_run            (LkTfGraph      *self,
                                       LkStream       *stream,
                                       LkTensor       *input,
                                       guint           n_outputs,
                                       const char    **outputs,
                                       LkTensor      **results,
                                       GError        **error);
/* lk_tfgraph_run from host data to host data: results[i] is a new f32 array of
 * result_numel[i] values (NULL for result_numel skips the counts). */
gboolean    lk_tfgraph_run_host       (LkTfGraph      *self,
                                       LkStream       *stream,
                                       const float    *input,
                                       guint           ndim,
                                       const gint64   *shape,
                                       guint           n_outputs,
                                       const char    **outputs,
                                       float         **results,
                                       gint64         *result_numel,
                                       GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkTfGraph, lk_tfgraph_free)

G_END_DECLS
