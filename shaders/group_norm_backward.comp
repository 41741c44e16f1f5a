#version 450
#extension GL_GOOGLE_include_directive : require
// Group norm (+ SiLU) backward, one workgroup per (n, group) block, NCHW. The block's mean and
// rstd are recomputed from x (two passes); with x̂ = (x − mean) · rstd, z = x̂ · γ + β and
// dz = dy · silu'(z) (or dy), for each channel c of the group
//   s1[c] = Σ dz,  s2[c] = Σ dz · x̂        (over the channel's spatial positions)
// go to partials [N, 2, C] (a column sum over N gives dbeta and dgamma), and
//   dx = rstd · (γ dz − Σ_c γ s1 / m − x̂ · Σ_c γ s2 / m),   m = elements per block.
#include "lk-common.glsl"
#define LK_REDUCE_SUBGROUP_ID 3
#include "lk-reduce.glsl"
#include "lk-backward.glsl"

layout(constant_id = 4) const bool X_F16 = false;
layout(constant_id = 5) const bool GAMMA_F16 = false;
layout(constant_id = 6) const bool BETA_F16 = false;
layout(constant_id = 7) const bool DY_F16 = false;
layout(constant_id = 8) const bool DX_F16 = false;
layout(constant_id = 9) const bool AFFINE = true;
layout(constant_id = 10) const bool SILU = false;

LK_TENSOR_IN(0, x)
LK_TENSOR_IN(1, gamma)
LK_TENSOR_IN(2, beta)
LK_TENSOR_IN(3, dy)
LK_TENSOR_OUT(4, dx)
layout(std430, set = 0, binding = 5) writeonly buffer partials_block { float partials[]; };

layout(push_constant) uniform Push
{
  uint group_elems;
  uint spatial;
  uint groups;
  uint channels_per_group;
  float eps;
} p;

float grad_z (uint i, float xhat, float g, float b)
{
  float d = LK_LOAD (dy, DY_F16, i);
  return SILU ? d * lk_silu_grad (xhat * g + b) : d;
}

void main ()
{
  uint block = lk_workgroup_index_1d ();
  uint lid = gl_LocalInvocationID.x;
  uint base = block * p.group_elems;
  uint n = block / p.groups;
  uint channels = p.groups * p.channels_per_group;
  uint channel0 = (block % p.groups) * p.channels_per_group;

  float sum = 0.0;
  for (uint i = lid; i < p.group_elems; i += gl_WorkGroupSize.x)
    sum += LK_LOAD (x, X_F16, base + i);
  float mean = lk_workgroup_sum (sum) / float (p.group_elems);

  float m2 = 0.0;
  for (uint i = lid; i < p.group_elems; i += gl_WorkGroupSize.x)
    {
      float d = LK_LOAD (x, X_F16, base + i) - mean;
      m2 += d * d;
    }
  float rstd = inversesqrt (lk_workgroup_sum (m2) / float (p.group_elems) + p.eps);

  float total_g = 0.0, total_gx = 0.0;
  for (uint c = 0; c < p.channels_per_group; c++)
    {
      uint ch = channel0 + c;
      uint cbase = base + c * p.spatial;
      float g = AFFINE ? LK_LOAD (gamma, GAMMA_F16, ch) : 1.0;
      float b = AFFINE ? LK_LOAD (beta, BETA_F16, ch) : 0.0;
      float s1 = 0.0, s2 = 0.0;
      for (uint s = lid; s < p.spatial; s += gl_WorkGroupSize.x)
        {
          float xhat = (LK_LOAD (x, X_F16, cbase + s) - mean) * rstd;
          float dz = grad_z (cbase + s, xhat, g, b);
          s1 += dz;
          s2 += dz * xhat;
        }
      s1 = lk_workgroup_sum (s1);
      s2 = lk_workgroup_sum (s2);
      if (lid == 0)
        {
          partials[(n * 2u) * channels + ch] = s1;
          partials[(n * 2u + 1u) * channels + ch] = s2;
        }
      total_g += g * s1;
      total_gx += g * s2;
    }
  float mean_g = total_g / float (p.group_elems);
  float mean_gx = total_gx / float (p.group_elems);

  for (uint c = 0; c < p.channels_per_group; c++)
    {
      uint ch = channel0 + c;
      uint cbase = base + c * p.spatial;
      float g = AFFINE ? LK_LOAD (gamma, GAMMA_F16, ch) : 1.0;
      float b = AFFINE ? LK_LOAD (beta, BETA_F16, ch) : 0.0;
      for (uint s = lid; s < p.spatial; s += gl_WorkGroupSize.x)
        {
          float xhat = (LK_LOAD (x, X_F16, cbase + s) - mean) * rstd;
          float dz = grad_z (cbase + s, xhat, g, b);
          LK_STORE (dx, DX_F16, cbase + s, rstd * (g * dz - mean_g - xhat * mean_gx));
        }
    }
}
