/* lk-ref-gemm.c: CPU reference of GEMM, accumulating in double
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "lk-ref.h"

void
lk_ref_gemm (const float         *a,
             const float         *b,
             const float         *bias,
             float               *c,
             gsize                batch,
             gsize                batch_b,
             gsize                m,
             gsize                n,
             gsize                k,
             const LkGemmOptions *options)
{
  LkGemmOptions o = options ? *options : LK_GEMM_OPTIONS_DEFAULT;

  g_return_if_fail (batch_b == 1 || batch_b == batch);

  for (gsize bi = 0; bi < batch; bi++)
    {
      const float *ab = a + bi * m * k;
      const float *bb = b + (batch_b == 1 ? 0 : bi * k * n);
      float *cb = c + bi * m * n;

      for (gsize i = 0; i < m; i++)
        for (gsize j = 0; j < n; j++)
          {
            double sum = 0;

            for (gsize l = 0; l < k; l++)
              {
                double av = o.transpose_a ? ab[l * m + i] : ab[i * k + l];
                double bv = o.transpose_b ? bb[j * k + l] : bb[l * n + j];

                sum += av * bv;
              }
            sum *= o.alpha;
            if (bias != NULL)
              sum += bias[j];
            cb[i * n + j] = sum;
          }
    }
}
