/* lk-test-util.h: what every test binary shares
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "lk-ops.h"

G_BEGIN_DECLS

/* The process-wide context with validation on, or NULL after g_test_skip() when there is no
 * usable Vulkan device. */
LkContext *lk_test_context             (void);
/* A stream on the shared context; NULL (and skipped) without a device. */
LkStream  *lk_test_stream              (void);
/* A separate context, validation on, whose storage bindings are at most @range bytes: small
 * tensors then take the paths that split work over several bindings. NULL (and skipped)
 * without a device. */
LkContext *lk_test_context_with_binding_range (guint64 range);
/* Writes a file without fsync, for tests that write thousands of variants. */
void       lk_test_write_quickly       (const char   *path,
                                        const char   *contents,
                                        gsize         length);
/* Fails the test if the validation layer said anything since the context was made. */
void       lk_test_check_validation    (void);

void       lk_test_fill_random         (float        *data,
                                        gsize         n,
                                        float         lo,
                                        float         hi,
                                        guint32       seed);
float     *lk_test_random              (gsize         n,
                                        float         lo,
                                        float         hi,
                                        guint32       seed);

typedef struct
{
  double   rel_l2;     /* ‖out − ref‖ / ‖ref‖ */
  double   max_abs;
  gsize    n_nan;
} LkTestDiff;

LkTestDiff lk_test_diff                (const float  *out,
                                        const float  *ref,
                                        gsize         n);
/* Asserts no NaN and ‖out − ref‖/‖ref‖ ≤ rel_bound (and, when abs_bound > 0, every element
 * within abs_bound); prints the figures under --verbose. */
void       lk_test_assert_close        (const char   *what,
                                        const float  *out,
                                        const float  *ref,
                                        gsize         n,
                                        double        rel_bound,
                                        double        abs_bound);

/* Uploads host data into a new tensor. */
LkTensor  *lk_test_tensor_from         (LkStream     *stream,
                                        LkDType       dtype,
                                        guint         ndim,
                                        const gint64 *shape,
                                        const float  *data);
/* A new tensor filled with NaN so an op that skips elements is caught. */
LkTensor  *lk_test_tensor_poisoned     (LkStream     *stream,
                                        LkDType       dtype,
                                        guint         ndim,
                                        const gint64 *shape);
float     *lk_test_download            (LkStream     *stream,
                                        LkTensor     *t);

/* The torch oracle. Inputs go to a temporary directory as raw little-endian f32 files named
 * NAME.bin plus params.json; tests/oracle/SCRIPT reads them and writes out.bin. Returns NULL and
 * skips when /usr/bin/python3 has no torch. */
typedef struct _LkOracle LkOracle;

LkOracle  *lk_oracle_new               (const char   *script);
void       lk_oracle_add_input         (LkOracle     *self,
                                        const char   *name,
                                        const float  *data,
                                        gsize         n);
void       lk_oracle_set_param_int     (LkOracle     *self,
                                        const char   *name,
                                        gint64        value);
void       lk_oracle_set_param_double  (LkOracle     *self,
                                        const char   *name,
                                        double        value);
void       lk_oracle_set_param_string  (LkOracle     *self,
                                        const char   *name,
                                        const char   *value);
/* Runs the script; returns the n floats of out.bin, or NULL after g_test_skip(). */
float     *lk_oracle_run               (LkOracle     *self,
                                        gsize         n);
void       lk_oracle_free              (LkOracle     *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LkOracle, lk_oracle_free)

G_END_DECLS
