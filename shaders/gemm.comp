#version 450
#extension GL_GOOGLE_include_directive : require
// C[b] = alpha · A[b] · B[b] + bias, register-tiled, f32 accumulation.
//
// Each invocation owns TM rows × TN columns of C. With SG > 0 the SG lanes of a subgroup share
// their TN columns: lane l loads columns l, l + SG, … of B and subgroupBroadcast hands every
// column to every lane, so a subgroup loads each B value once rather than SG times; f16 values
// cross lanes still packed, two to a word. With SG = 0 (devices whose subgroup size may vary)
// every invocation loads its own columns.
// A and B are addressed through strides, so either may be transposed; A_VEC / B_VEC say the
// operand is contiguous and aligned along k (and K a multiple of 8): eight elements per load.
// Otherwise elements are loaded one by one, and those past K read as zero.
#include "lk-common.glsl"
#include "lk-matmul.glsl"

layout(constant_id = 3) const uint TM = 4;
layout(constant_id = 4) const uint TN = 32;
layout(constant_id = 5) const uint SG = 8;
layout(constant_id = 6) const bool A_F16 = false;
layout(constant_id = 7) const bool B_F16 = false;
layout(constant_id = 8) const bool C_F16 = false;
layout(constant_id = 9) const bool BIAS_F16 = false;
layout(constant_id = 10) const bool HAS_BIAS = false;
layout(constant_id = 11) const bool A_VEC = false;
layout(constant_id = 12) const bool B_VEC = false;

const uint LANES = SG > 0 ? SG : 1;
const uint NB = TN / LANES;  // B columns each lane loads per k
const bool B_PACKED = B_VEC && B_F16;

LK_TENSOR_IN_VEC8(0, a)
LK_TENSOR_IN_VEC8(1, b)
LK_TENSOR_IN(2, bias)
LK_TENSOR_OUT(3, c)

layout(push_constant) uniform Push
{
  uint m, n, k;
  uint a_off, a_sm, a_sk, a_sb;  // element offset and strides along m, k, batch
  uint b_off, b_sk, b_sn, b_sb;
  uint c_off, c_sb;              // C rows are n apart
  uint bias_off;
  float alpha;
} p;

LkVec8 load_a8 (uint base, uint k)
{
  if (A_VEC)
    return LK_LOAD8 (a, A_F16, base + k);
  LkVec8 v;
  [[unroll]] for (uint t = 0; t < 4; t++)
    {
      v.lo[t] = k + t < p.k ? LK_LOAD (a, A_F16, base + (k + t) * p.a_sk) : 0.0;
      v.hi[t] = k + 4 + t < p.k ? LK_LOAD (a, A_F16, base + (k + 4 + t) * p.a_sk) : 0.0;
    }
  return v;
}

LkVec8 load_b8 (uint base, uint k)
{
  if (B_VEC)
    return LK_LOAD8 (b, B_F16, base + k);
  // Past K, A reads as zero; B reads element 0 so as to stay finite and in bounds.
  LkVec8 v;
  [[unroll]] for (uint t = 0; t < 4; t++)
    {
      v.lo[t] = LK_LOAD (b, B_F16, base + (k + t < p.k ? k + t : 0) * p.b_sk);
      v.hi[t] = LK_LOAD (b, B_F16, base + (k + 4 + t < p.k ? k + 4 + t : 0) * p.b_sk);
    }
  return v;
}

void main ()
{
  uint batch = gl_WorkGroupID.z;
  uint lane = SG > 0 ? gl_SubgroupInvocationID : 0;
  // Workgroup x walks the column tiles: consecutive workgroups share rows of A.
  uint row_group = gl_WorkGroupID.y;
  uint col_group = gl_WorkGroupID.x;
  uint row0;
  if (SG > 0)
    row0 = (row_group * gl_NumSubgroups + gl_SubgroupID) * SG * TM + lane * TM;
  else
    row0 = (row_group * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * TM;
  uint col0 = col_group * TN;

  // Rows and columns past the edge read the last valid one; their results are not stored.
  uint a_base[TM];
  [[unroll]] for (uint i = 0; i < TM; i++)
    a_base[i] = p.a_off + batch * p.a_sb + min (row0 + i, p.m - 1) * p.a_sm;
  uint b_base[NB];
  [[unroll]] for (uint j = 0; j < NB; j++)
    b_base[j] = p.b_off + batch * p.b_sb + min (col0 + lane + j * LANES, p.n - 1) * p.b_sn;

  float acc[TM][TN];
  [[unroll]] for (uint i = 0; i < TM; i++)
    [[unroll]] for (uint j = 0; j < TN; j++)
      acc[i][j] = 0.0;

  for (uint k = 0; k < p.k; k += 8)
    {
      LkVec8 av[TM];
      [[unroll]] for (uint i = 0; i < TM; i++)
        av[i] = load_a8 (a_base[i], k);
      [[unroll]] for (uint j = 0; j < NB; j++)
        {
          uvec4 packed;
          LkVec8 bv;
          if (B_PACKED)
            packed = b_h8[(b_base[j] + k) >> 3];
          else
            bv = load_b8 (b_base[j], k);
          [[unroll]] for (uint s = 0; s < LANES; s++)
            {
              LkVec8 bs;
              if (SG == 0)
                bs = B_PACKED ? lk_unpack8 (packed) : bv;
              else if (B_PACKED)
                bs = lk_unpack8 (subgroupBroadcast (packed, s));
              else
                bs = LkVec8 (subgroupBroadcast (bv.lo, s), subgroupBroadcast (bv.hi, s));
              [[unroll]] for (uint i = 0; i < TM; i++)
                acc[i][j * LANES + s] = lk_fma8 (av[i], bs, acc[i][j * LANES + s]);
            }
        }
    }

  // acc[.][j * LANES + s] came from lane s's column col0 + s + j * LANES = col0 + its index.
  [[unroll]] for (uint j = 0; j < TN; j++)
    {
      uint col = col0 + j;
      if (col >= p.n)
        continue;
      float bias_v = HAS_BIAS ? LK_LOAD (bias, BIAS_F16, p.bias_off + col) : 0.0;
      [[unroll]] for (uint i = 0; i < TM; i++)
        {
          uint row = row0 + i;
          if (row < p.m)
            LK_STORE (c, C_F16, p.c_off + batch * p.c_sb + row * p.n + col,
                      p.alpha * acc[i][j] + bias_v);
        }
    }
}
