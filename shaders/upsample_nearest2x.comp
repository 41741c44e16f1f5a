#version 450
#extension GL_GOOGLE_include_directive : require
// Nearest-neighbour ×2: x [N·C, H, W] → y [N·C, 2H, 2W].
#include "lk-common.glsl"

layout(constant_id = 3) const bool X_F16 = false;
layout(constant_id = 4) const bool Y_F16 = false;

LK_TENSOR_IN(0, x)
LK_TENSOR_OUT(1, y)

layout(push_constant) uniform Push
{
  uint n;
  uint h;
  uint w;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  uint ow = 2u * p.w;
  uint ox = i % ow;
  uint t = i / ow;
  uint oy = t % (2u * p.h);
  uint plane = t / (2u * p.h);
  LK_STORE (y, Y_F16, i, LK_LOAD (x, X_F16, (plane * p.h + oy / 2u) * p.w + ox / 2u));
}
