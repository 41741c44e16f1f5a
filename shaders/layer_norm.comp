#version 450
#extension GL_GOOGLE_include_directive : require
// Layer norm over the last dimension: one workgroup per row, mean then variance around it (two
// passes over the row, which stays in cache), then y = (x − mean) · rstd · gamma + beta.
#include "lk-common.glsl"
#define LK_REDUCE_SUBGROUP_ID 3
#include "lk-reduce.glsl"
#include "lk-vec4.glsl"

layout(constant_id = 4) const bool X_F16 = false;
layout(constant_id = 5) const bool GAMMA_F16 = false;
layout(constant_id = 6) const bool BETA_F16 = false;
layout(constant_id = 7) const bool Y_F16 = false;
layout(constant_id = 8) const bool AFFINE = true;
layout(constant_id = 9) const bool VEC4 = false;  // dim and both bases are multiples of 4

LK_TENSOR_IN(0, x)
LK_TENSOR_IN(1, gamma)
LK_TENSOR_IN(2, beta)
LK_TENSOR_OUT(3, y)
LK_TENSOR_IN4(0, x)
LK_TENSOR_IN4(1, gamma)
LK_TENSOR_IN4(2, beta)
LK_TENSOR_OUT4(3, y)

layout(push_constant) uniform Push
{
  uint rows;
  uint dim;
  uint x_base;  // elements between the binding's start and the first row
  uint y_base;
  float eps;
  uint rows_per_group;  // CPU drivers pay per workgroup: several rows each there
} p;

void normalize_row (uint row)
{
  uint lid = gl_LocalInvocationID.x;
  uint xi = p.x_base + row * p.dim;
  uint yi = p.y_base + row * p.dim;

  float sum = 0.0;
  if (VEC4)
    for (uint i = lid; i < p.dim / 4; i += gl_WorkGroupSize.x)
      sum += lk_sum4 (LK_LOAD4 (x, X_F16, xi / 4 + i));
  else
    for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
      sum += LK_LOAD (x, X_F16, xi + i);
  float mean = lk_workgroup_sum (sum) / float (p.dim);

  float m2 = 0.0;
  if (VEC4)
    for (uint i = lid; i < p.dim / 4; i += gl_WorkGroupSize.x)
      {
        vec4 d = LK_LOAD4 (x, X_F16, xi / 4 + i) - mean;
        m2 += lk_sum4 (d * d);
      }
  else
    for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
      {
        float d = LK_LOAD (x, X_F16, xi + i) - mean;
        m2 += d * d;
      }
  float rstd = inversesqrt (lk_workgroup_sum (m2) / float (p.dim) + p.eps);

  if (VEC4)
    for (uint i = lid; i < p.dim / 4; i += gl_WorkGroupSize.x)
      {
        vec4 v = (LK_LOAD4 (x, X_F16, xi / 4 + i) - mean) * rstd;
        if (AFFINE)
          v = v * LK_LOAD4 (gamma, GAMMA_F16, i) + LK_LOAD4 (beta, BETA_F16, i);
        LK_STORE4 (y, Y_F16, yi / 4 + i, v);
      }
  else
    for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
      {
        float v = (LK_LOAD (x, X_F16, xi + i) - mean) * rstd;
        if (AFFINE)
          v = v * LK_LOAD (gamma, GAMMA_F16, i) + LK_LOAD (beta, BETA_F16, i);
        LK_STORE (y, Y_F16, yi + i, v);
      }
}

void main ()
{
  uint first_row = lk_workgroup_index_1d () * p.rows_per_group;
  uint end_row = min (first_row + p.rows_per_group, p.rows);
  // Whole workgroups leave or stay, so the barriers in the reductions stay uniform.
  for (uint row = first_row; row < end_row; row++)
    normalize_row (row);
}
