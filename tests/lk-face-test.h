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

G_END_DECLS
