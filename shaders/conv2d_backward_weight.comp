#version 450
#extension GL_GOOGLE_include_directive : require
// conv2d's weight and bias gradients: dw[co, k] = Σ_b Σ_p dy[b, co, p] · x_col[b, k, p] with
// k = (ci, ky, kx) and x_col gathered from x as conv2d.comp does (zero in the padding). With a
// bias, column Cin·KS² is a column of ones: dbias[co] = Σ_b Σ_p dy[b, co, p].
//
// Each invocation owns TM channels × TN columns and sums its pixels in a fixed order, so the
// result is deterministic without atomics. ACCUMULATE adds to what dw and dbias hold: the op
// splits a batch too large for one binding into dispatches of whole images.
#include "lk-common.glsl"

layout(constant_id = 3) const uint TM = 4;
layout(constant_id = 4) const uint TN = 8;
layout(constant_id = 5) const bool X_F16 = false;
layout(constant_id = 6) const bool DY_F16 = false;
layout(constant_id = 7) const bool DW_F16 = false;
layout(constant_id = 8) const bool DB_F16 = false;
layout(constant_id = 9) const uint KS = 3;
layout(constant_id = 10) const uint STRIDE = 1;
layout(constant_id = 11) const uint PAD = 1;
layout(constant_id = 12) const bool HAS_BIAS = false;
layout(constant_id = 13) const bool ACCUMULATE = false;

const uint KK = KS * KS;

LK_TENSOR_IN(0, x)
LK_TENSOR_IN(1, dy)
layout(std430, set = 0, binding = 2) buffer dw_f32_block { float dw_f32[]; };
layout(std430, set = 0, binding = 2) buffer dw_f16_block { float16_t dw_f16[]; };
layout(std430, set = 0, binding = 3) buffer db_f32_block { float db_f32[]; };
layout(std430, set = 0, binding = 3) buffer db_f16_block { float16_t db_f16[]; };

layout(push_constant) uniform Push
{
  uint cin, h, w, cout, ho, wo;
  uint batch;
  uint x_off, dy_off, dw_off, db_off;
  uint col_begin;  // k_total when only the bias gradient is wanted
} p;

void main ()
{
  uint k_total = p.cin * KK;
  uint n_cols = k_total + (HAS_BIAS ? 1u : 0u);
  uint col0 = p.col_begin + gl_GlobalInvocationID.x * TN;
  uint co0 = gl_GlobalInvocationID.y * TM;
  if (col0 >= n_cols || co0 >= p.cout)
    return;

  // Per column: the x offset of its channel plane, its tap, and whether it is the ones column.
  uint plane[TN];
  uint ky[TN], kx[TN];
  bool ones[TN];
  bool real[TN];
  [[unroll]] for (uint j = 0; j < TN; j++)
    {
      uint col = min (col0 + j, n_cols - 1);
      uint ci = col / KK;
      uint tap = col - ci * KK;
      ones[j] = HAS_BIAS && col == k_total;
      real[j] = !ones[j];
      ci = min (ci, p.cin - 1);
      plane[j] = ci * p.h * p.w;
      ky[j] = tap / KS;
      kx[j] = tap - ky[j] * KS;
    }
  uint dy_row[TM];
  [[unroll]] for (uint i = 0; i < TM; i++)
    dy_row[i] = min (co0 + i, p.cout - 1) * p.ho * p.wo;

  float acc[TM][TN];
  [[unroll]] for (uint i = 0; i < TM; i++)
    [[unroll]] for (uint j = 0; j < TN; j++)
      acc[i][j] = 0.0;

  uint n_pix = p.ho * p.wo;
  for (uint b = 0; b < p.batch; b++)
    {
      uint x_base = p.x_off + b * p.cin * p.h * p.w;
      uint dy_base = p.dy_off + b * p.cout * n_pix;
      for (uint oy = 0; oy < p.ho; oy++)
        {
          uint iy0 = oy * STRIDE - PAD;  // may wrap below zero; the bound check catches it
          for (uint ox = 0; ox < p.wo; ox++)
            {
              uint ix0 = ox * STRIDE - PAD;
              uint pix = oy * p.wo + ox;
              float d[TM];
              [[unroll]] for (uint i = 0; i < TM; i++)
                d[i] = LK_LOAD (dy, DY_F16, dy_base + dy_row[i] + pix);
              [[unroll]] for (uint j = 0; j < TN; j++)
                {
                  uint iy = iy0 + ky[j], ix = ix0 + kx[j];
                  bool inside = real[j] && iy < p.h && ix < p.w;
                  float v = LK_LOAD (x, X_F16, inside ? x_base + plane[j] + iy * p.w + ix : p.x_off);
                  v = ones[j] ? 1.0 : (inside ? v : 0.0);
                  [[unroll]] for (uint i = 0; i < TM; i++)
                    acc[i][j] = fma (d[i], v, acc[i][j]);
                }
            }
        }
    }

  [[unroll]] for (uint i = 0; i < TM; i++)
    {
      uint co = co0 + i;
      if (co >= p.cout)
        continue;
      [[unroll]] for (uint j = 0; j < TN; j++)
        {
          uint col = col0 + j;
          if (col >= n_cols)
            continue;
          if (col < k_total)
            {
              uint o = p.dw_off + co * k_total + col;
              float prev = ACCUMULATE ? LK_LOAD (dw, DW_F16, o) : 0.0;
              LK_STORE (dw, DW_F16, o, prev + acc[i][j]);
            }
          else
            {
              uint o = p.db_off + co;
              float prev = ACCUMULATE ? LK_LOAD (db, DB_F16, o) : 0.0;
              LK_STORE (db, DB_F16, o, prev + acc[i][j]);
            }
        }
    }
}
