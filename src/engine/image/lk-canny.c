/* lk-canny.c: Canny edges, OpenCV-compatible
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The same integer arithmetic as cv::Canny with aperture 3 and the L1 norm, so the edge maps
 * agree pixel for pixel: int16 Sobel with a replicated border (BORDER_REPLICATE, as cv::Canny passes to Sobel), the tangent test in 15-bit fixed
 * point, and the asymmetric comparisons (> on one side, >= on the other) that decide which of
 * two equal neighbours survives.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lk-canny.h"

#define CANNY_SHIFT 15
/* tan(22.5°) in CANNY_SHIFT fixed point */
#define TG22        13573

enum
{
  MAP_CANDIDATE = 0,  /* above low: an edge if connected to a strong one */
  MAP_NONE      = 1,
  MAP_EDGE      = 2,
};

static inline int
clampi (int v,
        int lo,
        int hi)
{
  return v < lo ? lo : v > hi ? hi : v;
}

/* Row y's Sobel derivatives of all channels, and per pixel those of the channel with the largest
 * |dx| + |dy| (the first one on ties); mag has a zero column on each side. */
static void
gradient_row (const guint8 *rgb,
              guint         width,
              guint         height,
              gsize         stride,
              int           y,
              short        *dx,
              short        *dy,
              int          *mag)
{
  const guint8 *up = rgb + clampi (y - 1, 0, height - 1) * stride;
  const guint8 *mid = rgb + y * stride;
  const guint8 *down = rgb + clampi (y + 1, 0, height - 1) * stride;

  mag[-1] = mag[width] = 0;
  for (int x = 0; x < (int) width; x++)
    {
      int l = 3 * clampi (x - 1, 0, width - 1), c = 3 * x, r = 3 * clampi (x + 1, 0, width - 1);
      int best = -1;

      for (int k = 0; k < 3; k++)
        {
          int gx = (up[r + k] - up[l + k]) + 2 * (mid[r + k] - mid[l + k]) + (down[r + k] - down[l + k]);
          int gy = (down[l + k] + 2 * down[c + k] + down[r + k]) - (up[l + k] + 2 * up[c + k] + up[r + k]);
          int m = abs (gx) + abs (gy);

          if (m > best)
            {
              best = m;
              dx[x] = gx;
              dy[x] = gy;
            }
        }
      mag[x] = best;
    }
}

void
lk_canny_rgb (const guint8 *rgb,
              guint         width,
              guint         height,
              gsize         stride,
              double        low_threshold,
              double        high_threshold,
              guint8       *edges)
{
  gsize mapstep = width + 2;
  g_autofree guint8 *map = NULL;
  g_autofree int *mag_buf = NULL;
  g_autofree short *dx = NULL, *dy = NULL;
  g_autoptr(GArray) stack = NULL;
  int *rows[3];
  int low, high;

  g_return_if_fail (rgb != NULL && edges != NULL);
  g_return_if_fail (width > 0 && height > 0 && stride >= (gsize) width * 3);

  if (low_threshold > high_threshold)
    {
      double t = low_threshold;
      low_threshold = high_threshold;
      high_threshold = t;
    }
  low = (int) floor (low_threshold);
  high = (int) floor (high_threshold);

  map = g_malloc (mapstep * (height + 2));
  memset (map, MAP_NONE, mapstep * (height + 2));
  mag_buf = g_new0 (int, 3 * mapstep);
  dx = g_new (short, width);
  dy = g_new (short, width);
  stack = g_array_new (FALSE, FALSE, sizeof (guint8 *));

  /* rows[0] the row above (zeros above the image), rows[1] this one, rows[2] the one below */
  for (int i = 0; i < 3; i++)
    rows[i] = mag_buf + i * mapstep + 1;
  gradient_row (rgb, width, height, stride, 0, dx, dy, rows[2]);

  for (int y = 0; y < (int) height; y++)
    {
      int *prev = rows[0], *cur, *next;
      g_autofree short *cdx = NULL, *cdy = NULL;
      guint8 *pmap = map + (y + 1) * mapstep + 1;
      gboolean prev_flag = FALSE;

      rows[0] = rows[1];
      rows[1] = rows[2];
      rows[2] = prev;
      cur = rows[1];
      next = rows[2];
      /* dx, dy hold this row's derivatives; compute the next row's magnitudes into a copy. */
      cdx = g_memdup2 (dx, width * sizeof (short));
      cdy = g_memdup2 (dy, width * sizeof (short));
      if (y + 1 < (int) height)
        gradient_row (rgb, width, height, stride, y + 1, dx, dy, next);
      else
        memset (next - 1, 0, mapstep * sizeof (int));
      prev = rows[0];

      for (int x = 0; x < (int) width; x++)
        {
          int m = cur[x];
          gboolean is_max = FALSE;

          if (m > low)
            {
              int xs = cdx[x], ys = cdy[x];
              int ax = abs (xs);
              int ay = abs (ys) << CANNY_SHIFT;
              int tg22x = ax * TG22;

              if (ay < tg22x)
                is_max = m > cur[x - 1] && m >= cur[x + 1];
              else
                {
                  int tg67x = tg22x + (ax << (CANNY_SHIFT + 1));

                  if (ay > tg67x)
                    is_max = m > prev[x] && m >= next[x];
                  else
                    {
                      int s = (xs ^ ys) < 0 ? -1 : 1;

                      is_max = m > prev[x - s] && m > next[x + s];
                    }
                }
            }
          if (is_max)
            {
              if (m > high && !prev_flag && pmap[x - (gssize) mapstep] != MAP_EDGE)
                {
                  guint8 *p = pmap + x;

                  *p = MAP_EDGE;
                  g_array_append_val (stack, p);
                  prev_flag = TRUE;
                }
              else
                pmap[x] = MAP_CANDIDATE;
              continue;
            }
          prev_flag = FALSE;
          pmap[x] = MAP_NONE;
        }
    }

  /* Hysteresis: grow the strong edges through candidates, 8-connected. */
  while (stack->len > 0)
    {
      guint8 *p = g_array_index (stack, guint8 *, stack->len - 1);
      static const int offsets[8][2] = {
        { -1, -1 }, { 0, -1 }, { 1, -1 }, { -1, 0 }, { 1, 0 }, { -1, 1 }, { 0, 1 }, { 1, 1 },
      };

      g_array_set_size (stack, stack->len - 1);
      for (int k = 0; k < 8; k++)
        {
          guint8 *q = p + offsets[k][0] + offsets[k][1] * (gssize) mapstep;

          if (*q == MAP_CANDIDATE)
            {
              *q = MAP_EDGE;
              g_array_append_val (stack, q);
            }
        }
    }

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      edges[y * width + x] = map[(y + 1) * mapstep + x + 1] == MAP_EDGE ? 255 : 0;
}
