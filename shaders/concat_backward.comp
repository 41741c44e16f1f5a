#version 450
#extension GL_GOOGLE_include_directive : require
// Of a channel concat: dx [N, C, S] = dy [N, C_total, S] channels c0 … c0 + C − 1.
#include "lk-common.glsl"

layout(constant_id = 3) const bool DY_F16 = false;
layout(constant_id = 4) const bool DX_F16 = false;

LK_TENSOR_IN(0, dy)
LK_TENSOR_OUT(1, dx)

layout(push_constant) uniform Push
{
  uint n;        // elements of dx
  uint per_image;  // C · S
  uint image_stride;  // C_total · S
  uint first;    // c0 · S
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  uint image = i / p.per_image;
  uint rest = i - image * p.per_image;
  LK_STORE (dx, DX_F16, i, LK_LOAD (dy, DY_F16, image * p.image_stride + p.first + rest));
}
