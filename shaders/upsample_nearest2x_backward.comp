#version 450
#extension GL_GOOGLE_include_directive : require
// Of nearest-neighbour ×2: dy [N·C, 2H, 2W] → dx [N·C, H, W], each the sum of the 2 × 2 block
// its value was copied to.
#include "lk-common.glsl"

layout(constant_id = 3) const bool DY_F16 = false;
layout(constant_id = 4) const bool DX_F16 = false;

LK_TENSOR_IN(0, dy)
LK_TENSOR_OUT(1, dx)

layout(push_constant) uniform Push
{
  uint n;  // elements of dx
  uint h;
  uint w;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  uint x = i % p.w;
  uint t = i / p.w;
  uint y = t % p.h;
  uint plane = t / p.h;
  uint top = (plane * 2u * p.h + 2u * y) * 2u * p.w + 2u * x;
  uint bottom = top + 2u * p.w;
  float sum = (LK_LOAD (dy, DY_F16, top) + LK_LOAD (dy, DY_F16, top + 1u)) +
              (LK_LOAD (dy, DY_F16, bottom) + LK_LOAD (dy, DY_F16, bottom + 1u));
  LK_STORE (dx, DX_F16, i, sum);
}
