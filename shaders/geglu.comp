#version 450
#extension GL_GOOGLE_include_directive : require
// x [rows, 2H] → y [rows, H] = x[:, :H] · gelu(x[:, H:]), as diffusers' GEGLU.
#include "lk-common.glsl"

layout(constant_id = 3) const bool X_F16 = false;
layout(constant_id = 4) const bool Y_F16 = false;

LK_TENSOR_IN(0, x)
LK_TENSOR_OUT(1, y)

layout(push_constant) uniform Push
{
  uint h;
} p;

// A 2-D grid, columns on x and rows on y: no integer division per element.
void main ()
{
  uint c = gl_GlobalInvocationID.x;
  uint r = gl_WorkGroupID.y;
  if (c >= p.h)
    return;

  uint i = r * p.h + c;
  float hidden = LK_LOAD (x, X_F16, r * 2u * p.h + c);
  float gate = LK_LOAD (x, X_F16, r * 2u * p.h + p.h + c);
  LK_STORE (y, Y_F16, i, hidden * lk_gelu (gate));
}
