/* lk-ref-conv.c: CPU reference of conv2d, accumulating in double
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-ref.h"

void
lk_ref_conv2d (const float *x,
               const float *w,
               const float *bias,
               float       *y,
               gsize        batch,
               gsize        c_in,
               gsize        h,
               gsize        width,
               gsize        c_out,
               gsize        kernel,
               guint        stride,
               guint        padding)
{
  gsize ho = (h + 2 * padding - kernel) / stride + 1;
  gsize wo = (width + 2 * padding - kernel) / stride + 1;

  for (gsize bi = 0; bi < batch; bi++)
    for (gsize co = 0; co < c_out; co++)
      for (gsize oy = 0; oy < ho; oy++)
        for (gsize ox = 0; ox < wo; ox++)
          {
            double sum = bias != NULL ? bias[co] : 0;

            for (gsize ci = 0; ci < c_in; ci++)
              for (gsize ky = 0; ky < kernel; ky++)
                for (gsize kx = 0; kx < kernel; kx++)
                  {
                    gint64 iy = (gint64) (oy * stride + ky) - padding;
                    gint64 ix = (gint64) (ox * stride + kx) - padding;

                    if (iy < 0 || ix < 0 || iy >= (gint64) h || ix >= (gint64) width)
                      continue;
                    sum += (double) x[((bi * c_in + ci) * h + iy) * width + ix] *
                           w[((co * c_in + ci) * kernel + ky) * kernel + kx];
                  }
            y[((bi * c_out + co) * ho + oy) * wo + ox] = sum;
          }
}
