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
  uint n;
  uint h;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  uint r = i / p.h;
  uint c = i - r * p.h;
  float hidden = LK_LOAD (x, X_F16, r * 2u * p.h + c);
  float gate = LK_LOAD (x, X_F16, r * 2u * p.h + p.h + c);
  LK_STORE (y, Y_F16, i, hidden * lk_gelu (gate));
}
