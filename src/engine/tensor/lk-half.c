/* lk-half.c: IEEE 754 binary16 conversions on the host (round to nearest even)
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "lk-half.h"

guint16
lk_float_to_half (float f)
{
  guint32 x, sign, mant;
  gint32 exp;

  memcpy (&x, &f, 4);
  sign = (x >> 16) & 0x8000;
  exp = (gint32) ((x >> 23) & 0xff) - 127 + 15;
  mant = x & 0x7fffff;

  if (((x >> 23) & 0xff) == 0xff)  /* inf or NaN; keep NaN a NaN */
    return sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0);
  if (exp >= 31)
    return sign | 0x7c00;
  if (exp <= 0)
    {
      guint32 shift, half_bit, rest;

      if (exp < -10)
        return sign;
      mant |= 0x800000;
      shift = 14 - exp;
      half_bit = 1u << (shift - 1);
      rest = mant & ((1u << shift) - 1);
      mant >>= shift;
      if (rest > half_bit || (rest == half_bit && (mant & 1)))
        mant++;
      return sign | mant;
    }
  {
    guint32 h = sign | ((guint32) exp << 10) | (mant >> 13);
    guint32 rest = mant & 0x1fff;

    /* A carry out of the mantissa correctly bumps the exponent, up to infinity. */
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
      h++;
    return h;
  }
}

float
lk_half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exp = (h >> 10) & 0x1f;
  guint32 mant = h & 0x3ff;
  guint32 x;
  float f;

  if (exp == 0x1f)
    x = sign | 0x7f800000 | (mant << 13);
  else if (exp == 0)
    {
      if (mant == 0)
        x = sign;
      else
        {
          exp = 127 - 15 + 1;
          while (!(mant & 0x400))
            {
              mant <<= 1;
              exp--;
            }
          x = sign | (exp << 23) | ((mant & 0x3ff) << 13);
        }
    }
  else
    x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  memcpy (&f, &x, 4);
  return f;
}

void
lk_floats_to_halves (const float *src,
                     guint16     *dst,
                     gsize        n)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = lk_float_to_half (src[i]);
}

void
lk_halves_to_floats (const guint16 *src,
                     float         *dst,
                     gsize          n)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = lk_half_to_float (src[i]);
}

void
lk_round_to_half (float *values,
                  gsize  n)
{
  for (gsize i = 0; i < n; i++)
    values[i] = lk_half_to_float (lk_float_to_half (values[i]));
}

#define LEVEL_BITS 12

guint16 *
lk_halves_uniform (gsize    n,
                   float    center,
                   float    amplitude,
                   guint64 *state)
{
  guint16 *halves = g_new (guint16, MAX (n, 1));
  guint16 levels[1 << LEVEL_BITS];
  guint64 x = *state;

  for (guint i = 0; i < G_N_ELEMENTS (levels); i++)
    {
      float unit = (i + 0.5f) * (2.0f / G_N_ELEMENTS (levels)) - 1.0f;

      levels[i] = lk_float_to_half (center + amplitude * unit);
    }
  for (gsize i = 0; i < n;)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      for (guint k = 0; k < 64 / LEVEL_BITS && i < n; k++, i++)
        halves[i] = levels[(x >> (k * LEVEL_BITS)) & ((1 << LEVEL_BITS) - 1)];
    }
  *state = x;
  return halves;
}
