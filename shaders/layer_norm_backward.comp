#version 450
#extension GL_GOOGLE_include_directive : require
// Layer norm backward over the last dimension, one workgroup per row (or a few): the row's
// mean and rstd are recomputed from x (two passes, as the forward kernel), then with
// g = dy · gamma and x̂ = (x − mean) · rstd
//   dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)).
// dy · x̂ goes to a scratch row for dgamma, which a column sum finishes (dbeta is Σ dy).
#include "lk-common.glsl"
#define LK_REDUCE_SUBGROUP_ID 3
#include "lk-reduce.glsl"

layout(constant_id = 4) const bool X_F16 = false;
layout(constant_id = 5) const bool GAMMA_F16 = false;
layout(constant_id = 6) const bool DY_F16 = false;
layout(constant_id = 7) const bool DX_F16 = false;
layout(constant_id = 8) const bool AFFINE = true;
layout(constant_id = 9) const bool DGAMMA = true;  // write dy · x̂ for dgamma

LK_TENSOR_IN(0, x)
LK_TENSOR_IN(1, gamma)
LK_TENSOR_IN(2, dy)
LK_TENSOR_OUT(3, dx)
layout(std430, set = 0, binding = 4) writeonly buffer dy_xhat_block { float dy_xhat[]; };

layout(push_constant) uniform Push
{
  uint rows;
  uint dim;
  float eps;
  uint rows_per_group;
} p;

void backward_row (uint row)
{
  uint lid = gl_LocalInvocationID.x;
  uint base = row * p.dim;

  float sum = 0.0;
  for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
    sum += LK_LOAD (x, X_F16, base + i);
  float mean = lk_workgroup_sum (sum) / float (p.dim);

  float m2 = 0.0;
  for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
    {
      float d = LK_LOAD (x, X_F16, base + i) - mean;
      m2 += d * d;
    }
  float rstd = inversesqrt (lk_workgroup_sum (m2) / float (p.dim) + p.eps);

  float sum_g = 0.0, sum_gx = 0.0;
  for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
    {
      float xhat = (LK_LOAD (x, X_F16, base + i) - mean) * rstd;
      float d = LK_LOAD (dy, DY_F16, base + i);
      float g = AFFINE ? d * LK_LOAD (gamma, GAMMA_F16, i) : d;
      sum_g += g;
      sum_gx += g * xhat;
      if (DGAMMA)
        dy_xhat[base + i] = d * xhat;
    }
  float mean_g = lk_workgroup_sum (sum_g) / float (p.dim);
  float mean_gx = lk_workgroup_sum (sum_gx) / float (p.dim);

  for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
    {
      float xhat = (LK_LOAD (x, X_F16, base + i) - mean) * rstd;
      float d = LK_LOAD (dy, DY_F16, base + i);
      float g = AFFINE ? d * LK_LOAD (gamma, GAMMA_F16, i) : d;
      LK_STORE (dx, DX_F16, base + i, rstd * (g - mean_g - xhat * mean_gx));
    }
}

void main ()
{
  uint first_row = lk_workgroup_index_1d () * p.rows_per_group;
  uint end_row = min (first_row + p.rows_per_group, p.rows);
  // Whole workgroups leave or stay, so the barriers in the reductions stay uniform.
  for (uint row = first_row; row < end_row; row++)
    backward_row (row);
}
