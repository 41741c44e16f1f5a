/* lk-test-fd.h: the central finite-difference check the backward tests share
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "lk-test-util.h"

/* The loss as a function of inputs the check perturbs in place, evaluated in double. */
typedef double (*LkTestLoss) (gconstpointer data);

/* Steps input[i] by ±step (in f32) for each i and compares (L₊ − L₋) / (the step actually
 * taken) with grad, within rel_bound in relative L2. */
static inline void
lk_test_check_by_fd (const char    *what,
                     LkTestLoss     loss,
                     gconstpointer  data,
                     float         *input,
                     gsize          n,
                     const float   *grad,
                     float          step,
                     double         rel_bound)
{
  g_autofree float *fd = g_new (float, n);
  g_autofree char *label = g_strconcat (what, " vs finite differences", NULL);

  for (gsize i = 0; i < n; i++)
    {
      float saved = input[i];
      float up = saved + step, down = saved - step;
      double l_up, l_down;

      input[i] = up;
      l_up = loss (data);
      input[i] = down;
      l_down = loss (data);
      input[i] = saved;
      fd[i] = (l_up - l_down) / ((double) up - down);
    }
  lk_test_assert_close (label, grad, fd, n, rel_bound, 0);
}
