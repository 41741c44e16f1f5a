/* lk-oracle-cases.h: several cases in one oracle run; case i's parameters and inputs carry the
 * suffix i (x0, x1, …), so torch is imported once per test rather than once per case
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-test-util.h"

static inline void
lk_oracle_case_int (LkOracle   *oracle,
                    guint       index,
                    const char *name,
                    gint64      value)
{
  g_autofree char *key = g_strdup_printf ("%s%u", name, index);

  lk_oracle_set_param_int (oracle, key, value);
}

static inline void
lk_oracle_case_double (LkOracle   *oracle,
                       guint       index,
                       const char *name,
                       double      value)
{
  g_autofree char *key = g_strdup_printf ("%s%u", name, index);

  lk_oracle_set_param_double (oracle, key, value);
}

static inline void
lk_oracle_case_string (LkOracle   *oracle,
                       guint       index,
                       const char *name,
                       const char *value)
{
  g_autofree char *key = g_strdup_printf ("%s%u", name, index);

  lk_oracle_set_param_string (oracle, key, value);
}

static inline void
lk_oracle_case_input (LkOracle    *oracle,
                      guint        index,
                      const char  *name,
                      const float *data,
                      gsize        n)
{
  g_autofree char *key = g_strdup_printf ("%s%u", name, index);

  lk_oracle_add_input (oracle, key, data, n);
}
