#version 450
#extension GL_GOOGLE_include_directive : require
// conv2d NCHW as an implicit GEMM, no im2col buffer: y[b][co, p] = Σ_k w[co, k] · x_col[k, p]
// with k = (ci, ky, kx) and p = (oy, ox); x_col is gathered from x on the fly, zero outside.
//
// Register-tiled as gemm.comp: each invocation owns TM output channels × TN pixels; the SG
// lanes of a subgroup share their TN pixels, each gathering TN / SG of them per k and handing
// them to the others by subgroupBroadcast (f16 inputs still packed, two to a word). Weights are
// contiguous along k; W_VEC reads them eight at a time when the rows are aligned.
#include "lk-common.glsl"
#include "lk-matmul.glsl"

layout(constant_id = 3) const uint TM = 4;
layout(constant_id = 4) const uint TN = 32;
layout(constant_id = 5) const uint SG = 8;
layout(constant_id = 6) const bool W_F16 = false;  // the row operand, as A in gemm.comp
layout(constant_id = 7) const bool X_F16 = false;
layout(constant_id = 8) const bool Y_F16 = false;
layout(constant_id = 9) const bool BIAS_F16 = false;
layout(constant_id = 10) const bool HAS_BIAS = false;
layout(constant_id = 11) const bool W_VEC = false;
layout(constant_id = 12) const uint KS = 3;  // kernel size
layout(constant_id = 13) const uint STRIDE = 1;
layout(constant_id = 14) const uint PAD = 1;

const uint LANES = SG > 0 ? SG : 1;
const uint NB = TN / LANES;
const uint KK = KS * KS;

LK_TENSOR_IN(0, x)
LK_TENSOR_IN_VEC8(1, w)
LK_TENSOR_IN(2, bias)
LK_TENSOR_OUT(3, y)

layout(push_constant) uniform Push
{
  uint cin, h, w, cout, ho, wo;
  uint x_off, x_sb;
  uint w_off;
  uint y_off, y_sb;
  uint bias_off;
} p;

struct Pixel
{
  uint base;  // x index of tap (0, 0) of channel 0; may wrap below zero
  uint taps;  // bit t: tap t lies inside the image (none for pixels past the edge)
};

// x_col[k, pixel] for k = (ci, tap): zero in the padding and past K.
float gather (Pixel px, uint ci, uint tap)
{
  uint ky = KS == 3 ? (tap * 11) >> 5 : 0;  // tap / 3 for tap < 9
  uint kx = tap - ky * KS;
  bool inside = ((px.taps >> tap) & 1) != 0 && ci < p.cin;
  uint i = px.base + ci * p.h * p.w + ky * p.w + kx;
  float v = LK_LOAD (x, X_F16, inside ? i : p.x_off);
  return inside ? v : 0.0;
}

LkVec8 load_w8 (uint base, uint k, uint k_total)
{
  if (W_VEC)
    return LK_LOAD8 (w, W_F16, base + k);
  // Past K, x_col reads as zero; w reads element 0 so as to stay in bounds.
  LkVec8 v;
  [[unroll]] for (uint t = 0; t < 4; t++)
    {
      v.lo[t] = LK_LOAD (w, W_F16, base + (k + t < k_total ? k + t : 0));
      v.hi[t] = LK_LOAD (w, W_F16, base + (k + 4 + t < k_total ? k + 4 + t : 0));
    }
  return v;
}

void main ()
{
  uint batch = gl_WorkGroupID.z;
  uint lane = SG > 0 ? gl_SubgroupInvocationID : 0;
  uint n_pix = p.ho * p.wo;
  uint k_total = p.cin * KK;
  // Workgroup x walks the pixel tiles: consecutive workgroups share weight rows.
  uint row_group = gl_WorkGroupID.y;
  uint col_group = gl_WorkGroupID.x;
  uint co0;
  if (SG > 0)
    co0 = (row_group * gl_NumSubgroups + gl_SubgroupID) * SG * TM + lane * TM;
  else
    co0 = (row_group * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * TM;
  uint pix0 = col_group * TN;

  uint w_base[TM];
  [[unroll]] for (uint i = 0; i < TM; i++)
    w_base[i] = p.w_off + min (co0 + i, p.cout - 1) * k_total;
  Pixel px[NB];
  [[unroll]] for (uint j = 0; j < NB; j++)
    {
      uint pix = pix0 + lane + j * LANES;
      uint oy = pix / p.wo;
      uint ox = pix - oy * p.wo;
      uint iy = oy * STRIDE - PAD;  // may wrap below zero, as may ix
      uint ix = ox * STRIDE - PAD;
      px[j].base = p.x_off + batch * p.x_sb + iy * p.w + ix;
      px[j].taps = 0;
      [[unroll]] for (uint ky = 0; ky < KS; ky++)
        [[unroll]] for (uint kx = 0; kx < KS; kx++)
          if (pix < n_pix && iy + ky < p.h && ix + kx < p.w)
            px[j].taps |= 1u << (ky * KS + kx);
    }

  float acc[TM][TN];
  [[unroll]] for (uint i = 0; i < TM; i++)
    [[unroll]] for (uint j = 0; j < TN; j++)
      acc[i][j] = 0.0;

  // k = ci0 · KK + tap0 walks on by 8 per step without dividing.
  uint ci0 = 0, tap0 = 0;
  for (uint k = 0; k < k_total; k += 8)
    {
      LkVec8 wv[TM];
      [[unroll]] for (uint i = 0; i < TM; i++)
        wv[i] = load_w8 (w_base[i], k, k_total);
      [[unroll]] for (uint j = 0; j < NB; j++)
        {
          float xs8[8];
          [[unroll]] for (uint t = 0; t < 8; t++)
            {
              uint tap = KK > 1 ? tap0 + t : 0;
              uint ci = KK > 1 ? ci0 : ci0 + t;
              if (KK > 1 && tap >= KK)  // 8 < KK: at most one wrap
                {
                  tap -= KK;
                  ci++;
                }
              xs8[t] = gather (px[j], ci, tap);
            }
          LkVec8 xv = LkVec8 (vec4 (xs8[0], xs8[1], xs8[2], xs8[3]),
                              vec4 (xs8[4], xs8[5], xs8[6], xs8[7]));
          // f16 inputs are exact in f16: they cross lanes packed.
          uvec4 packed = uvec4 (packHalf2x16 (xv.lo.xy), packHalf2x16 (xv.lo.zw),
                                packHalf2x16 (xv.hi.xy), packHalf2x16 (xv.hi.zw));
          [[unroll]] for (uint s = 0; s < LANES; s++)
            {
              LkVec8 xs;
              if (SG == 0)
                xs = xv;
              else if (X_F16)
                xs = lk_unpack8 (subgroupBroadcast (packed, s));
              else
                xs = LkVec8 (subgroupBroadcast (xv.lo, s), subgroupBroadcast (xv.hi, s));
              [[unroll]] for (uint i = 0; i < TM; i++)
                acc[i][j * LANES + s] = lk_fma8 (wv[i], xs, acc[i][j * LANES + s]);
            }
        }
      if (KK > 1)
        {
          tap0 += 8;
          if (tap0 >= KK)
            {
              tap0 -= KK;
              ci0++;
            }
        }
      else
        ci0 += 8;
    }

  // acc[.][j * LANES + s] belongs to pixel pix0 + s + j * LANES = pix0 + its column index.
  [[unroll]] for (uint i = 0; i < TM; i++)
    {
      uint co = co0 + i;
      if (co >= p.cout)
        continue;
      float bias_v = HAS_BIAS ? LK_LOAD (bias, BIAS_F16, p.bias_off + co) : 0.0;
      [[unroll]] for (uint j = 0; j < TN; j++)
        {
          uint pix = pix0 + j;
          if (pix < n_pix)
            LK_STORE (y, Y_F16, p.y_off + batch * p.y_sb + co * n_pix + pix, acc[i][j] + bias_v);
        }
    }
}
