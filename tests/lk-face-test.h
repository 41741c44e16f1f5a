/* lk-face-test.h: what the face tests share: data lookup, photos, the TF.js oracle
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "image/lk-image.h"

G_BEGIN_DECLS

/* ../shared/@sub (LIKENESS_TEST_DATA may name ../shared or ../shared/testdata); NULL after
 * g_test_skip() naming what is missing. */
char    *lk_test_shared_path (const char   *sub);
/* ../shared/testdata/@name as RGB; NULL after g_test_skip() when it is missing. */
LkImage *lk_test_load_photo  (const char   *name);
/* Runs the graph model @model on @input (shape "N,H,W,C") under TF.js (node + @tensorflow/tfjs
 * from tests/oracle/js/node_modules, pure-JS CPU backend) and returns the named outputs of
 * @sizes values each, concatenated; NULL after g_test_skip() naming what is missing. */
float   *lk_test_run_tfjs    (const char   *model,
                              const float  *input,
                              gsize         n_input,
                              const char   *shape,
                              const char  **outputs,
                              guint         n_outputs,
                              const gsize  *sizes);

/* Runs tests/oracle/js/@script under node with @args, in which "@IN" stands for a file holding
 * the @n_input floats of @input and "@OUT" for the file the script writes; returns its
 * @n_output floats, or NULL after g_test_skip() naming what is missing. */
float   *lk_test_run_node    (const char         *script,
                              const char * const *args,
                              const float        *input,
                              gsize               n_input,
                              gsize               n_output);
/* face-api's network @kind ("landmarks", "descriptor") with the weights of @manifest on a
 * @size² RGB patch, as face-api composes it in TF.js (tests/oracle/js/run-faceapi.mjs). */
float   *lk_test_run_faceapi (const char         *kind,
                              const char         *manifest,
                              const float        *pixels,
                              guint               size,
                              gsize               n_output);

G_END_DECLS
