#version 450
#extension GL_GOOGLE_include_directive : require
// GEGLU backward: y = h · gelu(g) with x = [h | g] along the last dimension, so
// dx[:, :H] = dy · gelu(g) and dx[:, H:] = dy · h · gelu'(g).
#include "lk-common.glsl"
#include "lk-backward.glsl"

layout(constant_id = 3) const bool X_F16 = false;
layout(constant_id = 4) const bool DY_F16 = false;
layout(constant_id = 5) const bool DX_F16 = false;

LK_TENSOR_IN(0, x)
LK_TENSOR_IN(1, dy)
LK_TENSOR_OUT(2, dx)

layout(push_constant) uniform Push
{
  uint n;  // rows · H
  uint h;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  uint r = i / p.h;
  uint c = i - r * p.h;
  uint hi = r * 2u * p.h + c;
  float hidden = LK_LOAD (x, X_F16, hi);
  float gate = LK_LOAD (x, X_F16, hi + p.h);
  float d = LK_LOAD (dy, DY_F16, i);
  LK_STORE (dx, DX_F16, hi, d * lk_gelu (gate));
  LK_STORE (dx, DX_F16, hi + p.h, d * hidden * lk_gelu_grad (gate));
}
