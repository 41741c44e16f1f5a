#version 450
#extension GL_GOOGLE_include_directive : require
// Softmax over the last dimension of x · scale: one workgroup per row; the row maximum is
// subtracted before exp so large scores cannot overflow.
#include "lk-common.glsl"
#define LK_REDUCE_SUBGROUP_ID 3
#include "lk-reduce.glsl"
#include "lk-vec4.glsl"

layout(constant_id = 4) const bool X_F16 = false;
layout(constant_id = 5) const bool Y_F16 = false;
layout(constant_id = 6) const bool VEC4 = false;  // dim and both bases are multiples of 4

LK_TENSOR_IN(0, x)
LK_TENSOR_OUT(1, y)
LK_TENSOR_IN4(0, x)
LK_TENSOR_OUT4(1, y)

layout(push_constant) uniform Push
{
  uint rows;
  uint dim;
  uint x_base;
  uint y_base;
  float scale;
  uint rows_per_group;  // CPU drivers pay per workgroup: several rows each there
} p;

void softmax_row (uint row)
{
  uint lid = gl_LocalInvocationID.x;
  uint xi = p.x_base + row * p.dim;
  uint yi = p.y_base + row * p.dim;

  float m = -3.402823466e38;
  if (VEC4)
    for (uint i = lid; i < p.dim / 4; i += gl_WorkGroupSize.x)
      {
        vec4 v = LK_LOAD4 (x, X_F16, xi / 4 + i) * p.scale;
        m = max (m, max (max (v.x, v.y), max (v.z, v.w)));
      }
  else
    for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
      m = max (m, LK_LOAD (x, X_F16, xi + i) * p.scale);
  m = lk_workgroup_max (m);

  float sum = 0.0;
  if (VEC4)
    for (uint i = lid; i < p.dim / 4; i += gl_WorkGroupSize.x)
      sum += lk_sum4 (exp (LK_LOAD4 (x, X_F16, xi / 4 + i) * p.scale - m));
  else
    for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
      sum += exp (LK_LOAD (x, X_F16, xi + i) * p.scale - m);
  float inv = 1.0 / lk_workgroup_sum (sum);

  if (VEC4)
    for (uint i = lid; i < p.dim / 4; i += gl_WorkGroupSize.x)
      LK_STORE4 (y, Y_F16, yi / 4 + i, exp (LK_LOAD4 (x, X_F16, xi / 4 + i) * p.scale - m) * inv);
  else
    for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
      LK_STORE (y, Y_F16, yi + i, exp (LK_LOAD (x, X_F16, xi + i) * p.scale - m) * inv);
}

void main ()
{
  uint first_row = lk_workgroup_index_1d () * p.rows_per_group;
  uint end_row = min (first_row + p.rows_per_group, p.rows);
  // Whole workgroups leave or stay, so the barriers in the reductions stay uniform.
  for (uint row = first_row; row < end_row; row++)
    softmax_row (row);
}
