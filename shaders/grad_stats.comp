#version 450
#extension GL_GOOGLE_include_directive : require
// Pass 1 of the gradient statistics: each workgroup writes (Σ x², number of NaN/inf elements)
// of its slice of one tensor; a column sum over all slices of all tensors finishes them. The
// count tests exponent bits, which no fast-math assumption can fold away.
#include "lk-common.glsl"
#define LK_REDUCE_SUBGROUP_ID 3
#include "lk-reduce.glsl"

layout(constant_id = 4) const bool X_F16 = false;

LK_TENSOR_IN(0, x)
layout(std430, set = 0, binding = 1) writeonly buffer partials_block { vec2 partials[]; };

layout(push_constant) uniform Push
{
  uint n;
  uint per_group;
  uint partial_base;
} p;

void main ()
{
  uint wg = lk_workgroup_index_1d ();
  uint lid = gl_LocalInvocationID.x;
  uint first = wg * p.per_group;
  uint end = min (first + p.per_group, p.n);

  float sum = 0.0, bad = 0.0;
  for (uint i = first + lid; i < end; i += gl_WorkGroupSize.x)
    {
      float v = LK_LOAD (x, X_F16, i);
      if ((floatBitsToUint (v) & 0x7f800000u) == 0x7f800000u)
        bad += 1.0;
      else
        sum += v * v;
    }
  sum = lk_workgroup_sum (sum);
  bad = lk_workgroup_sum (bad);
  if (lid == 0)
    partials[p.partial_base + wg] = vec2 (sum, bad);
}
