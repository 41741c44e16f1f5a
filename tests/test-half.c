/* test-half.c: host f16 conversions against exhaustive round trips and known values
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-half.h"

static void
test_half_round_trip (void)
{
  /* Every finite f16 survives f16 → f32 → f16 exactly. */
  for (guint32 h = 0; h < 0x10000; h++)
    {
      float f = lk_half_to_float (h);

      if (isnan (f))
        {
          g_assert_true (((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff) != 0);
          g_assert_true (isnan (lk_half_to_float (lk_float_to_half (f))));
          continue;
        }
      g_assert_cmphex (lk_float_to_half (f), ==, h);
    }
}

static void
test_half_known_values (void)
{
  g_assert_cmphex (lk_float_to_half (1.0f), ==, 0x3c00);
  g_assert_cmphex (lk_float_to_half (-2.0f), ==, 0xc000);
  g_assert_cmphex (lk_float_to_half (65504.0f), ==, 0x7bff);
  g_assert_cmphex (lk_float_to_half (65520.0f), ==, 0x7c00);  /* rounds to infinity */
  g_assert_cmphex (lk_float_to_half (1e-8f), ==, 0x0000);
  g_assert_cmphex (lk_float_to_half (5.9604645e-8f), ==, 0x0001);  /* smallest subnormal */
  /* Ties go to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10. */
  g_assert_cmphex (lk_float_to_half (1.0f + 1.0f / 2048), ==, 0x3c00);
  g_assert_cmphex (lk_float_to_half (1.0f + 3.0f / 2048), ==, 0x3c02);
  g_assert_cmpfloat (lk_half_to_float (0x3555), ==, 0.333251953125f);
  g_assert_true (isinf (lk_half_to_float (0xfc00)) && lk_half_to_float (0xfc00) < 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/half/round-trip", test_half_round_trip);
  g_test_add_func ("/half/known-values", test_half_known_values);
  return g_test_run ();
}
