#version 450
#extension GL_GOOGLE_include_directive : require
// Group norm, pass 1: each workgroup takes one chunk of one (n, group) block (contiguous in
// NCHW) and writes the chunk's mean and sum of squared deviations around it. Pass 2 merges the
// chunks with Chan's formula, so no E[x²] − E[x]² cancellation happens anywhere.
#include "lk-common.glsl"
#define LK_REDUCE_SUBGROUP_ID 3
#include "lk-reduce.glsl"
#include "lk-vec4.glsl"

layout(constant_id = 4) const bool X_F16 = false;
layout(constant_id = 5) const bool VEC4 = false;  // block size, chunk and base multiples of 4

LK_TENSOR_IN(0, x)
LK_TENSOR_IN4(0, x)
layout(std430, set = 0, binding = 1) writeonly buffer partials_block { vec2 partials[]; };

layout(push_constant) uniform Push
{
  uint group_elems;  // (C / groups) · spatial
  uint chunk;        // elements per workgroup
  uint n_chunks;
  uint x_base;
  uint partial_base; // first (n, group) block of this dispatch, in blocks
} p;

void main ()
{
  uint c = gl_WorkGroupID.x;
  uint block = gl_WorkGroupID.y;
  uint lid = gl_LocalInvocationID.x;
  uint first = c * p.chunk;
  uint count = min (p.chunk, p.group_elems - first);
  uint xi = p.x_base + block * p.group_elems + first;

  float sum = 0.0;
  if (VEC4)
    for (uint i = lid; i < count / 4; i += gl_WorkGroupSize.x)
      sum += lk_sum4 (LK_LOAD4 (x, X_F16, xi / 4 + i));
  else
    for (uint i = lid; i < count; i += gl_WorkGroupSize.x)
      sum += LK_LOAD (x, X_F16, xi + i);
  float mean = lk_workgroup_sum (sum) / float (count);

  float m2 = 0.0;
  if (VEC4)
    for (uint i = lid; i < count / 4; i += gl_WorkGroupSize.x)
      {
        vec4 d = LK_LOAD4 (x, X_F16, xi / 4 + i) - mean;
        m2 += lk_sum4 (d * d);
      }
  else
    for (uint i = lid; i < count; i += gl_WorkGroupSize.x)
      {
        float d = LK_LOAD (x, X_F16, xi + i) - mean;
        m2 += d * d;
      }
  m2 = lk_workgroup_sum (m2);

  if (lid == 0)
    partials[(p.partial_base + block) * p.n_chunks + c] = vec2 (mean, m2);
}
