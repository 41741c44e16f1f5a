#version 450
#extension GL_GOOGLE_include_directive : require
// Group norm, pass 2: each workgroup merges the partial statistics of its (n, group) block
// (Chan et al.: M2 = Σ M2ᵢ + Σ nᵢ (meanᵢ − mean)²), then normalises its chunk and applies the
// per-channel gamma and beta, optionally followed by SiLU.
#include "lk-common.glsl"
#define LK_REDUCE_SUBGROUP_ID 3
#include "lk-reduce.glsl"
#include "lk-vec4.glsl"

layout(constant_id = 4) const bool X_F16 = false;
layout(constant_id = 5) const bool GAMMA_F16 = false;
layout(constant_id = 6) const bool BETA_F16 = false;
layout(constant_id = 7) const bool Y_F16 = false;
layout(constant_id = 8) const bool AFFINE = true;
layout(constant_id = 9) const bool SILU = false;
layout(constant_id = 10) const bool VEC4 = false;  // block, chunk, spatial, bases multiples of 4

LK_TENSOR_IN(0, x)
layout(std430, set = 0, binding = 1) readonly buffer partials_block { vec2 partials[]; };
LK_TENSOR_IN(2, gamma)
LK_TENSOR_IN(3, beta)
LK_TENSOR_OUT(4, y)
LK_TENSOR_IN4(0, x)
LK_TENSOR_OUT4(4, y)

layout(push_constant) uniform Push
{
  uint group_elems;
  uint chunk;
  uint n_chunks;
  uint x_base;
  uint partial_base;
  uint y_base;
  uint spatial;
  uint groups;
  uint channels_per_group;
  float eps;
} p;

void main ()
{
  uint c = gl_WorkGroupID.x;
  uint block = gl_WorkGroupID.y;
  uint lid = gl_LocalInvocationID.x;
  uint pi = (p.partial_base + block) * p.n_chunks;

  // Chunk i holds min(chunk, group_elems − i · chunk) elements.
  float sum = 0.0;
  for (uint i = lid; i < p.n_chunks; i += gl_WorkGroupSize.x)
    sum += partials[pi + i].x * float (min (p.chunk, p.group_elems - i * p.chunk));
  float mean = lk_workgroup_sum (sum) / float (p.group_elems);

  float m2 = 0.0;
  for (uint i = lid; i < p.n_chunks; i += gl_WorkGroupSize.x)
    {
      vec2 s = partials[pi + i];
      float d = s.x - mean;
      m2 += s.y + d * d * float (min (p.chunk, p.group_elems - i * p.chunk));
    }
  float rstd = inversesqrt (lk_workgroup_sum (m2) / float (p.group_elems) + p.eps);

  uint first = c * p.chunk;
  uint count = min (p.chunk, p.group_elems - first);
  uint xi = p.x_base + block * p.group_elems + first;
  uint yi = p.y_base + block * p.group_elems + first;
  uint channel0 = ((p.partial_base + block) % p.groups) * p.channels_per_group;

  if (VEC4)
    for (uint i = lid; i < count / 4; i += gl_WorkGroupSize.x)
      {
        vec4 v = (LK_LOAD4 (x, X_F16, xi / 4 + i) - mean) * rstd;
        if (AFFINE)
          {
            uint ch = channel0 + (first + 4 * i) / p.spatial;  // the four share a channel
            v = v * LK_LOAD (gamma, GAMMA_F16, ch) + LK_LOAD (beta, BETA_F16, ch);
          }
        if (SILU)
          v = v / (1.0 + exp (-v));
        LK_STORE4 (y, Y_F16, yi / 4 + i, v);
      }
  else
    for (uint i = lid; i < count; i += gl_WorkGroupSize.x)
      {
        float v = (LK_LOAD (x, X_F16, xi + i) - mean) * rstd;
        if (AFFINE)
          {
            uint ch = channel0 + (first + i) / p.spatial;
            v = v * LK_LOAD (gamma, GAMMA_F16, ch) + LK_LOAD (beta, BETA_F16, ch);
          }
        if (SILU)
          v = lk_silu (v);
        LK_STORE (y, Y_F16, yi + i, v);
      }
}
