#version 450
#extension GL_GOOGLE_include_directive : require
// dx = dy · f'(x) for the activations of SD1.5 and CLIP, elementwise; f is recomputed from x,
// so the forward pass saves only its input.
#include "lk-common.glsl"
#include "lk-backward.glsl"

layout(constant_id = 3) const uint OP = 0;  // LkActivation
layout(constant_id = 4) const bool X_F16 = false;
layout(constant_id = 5) const bool DY_F16 = false;
layout(constant_id = 6) const bool DX_F16 = false;

LK_TENSOR_IN(0, x)
LK_TENSOR_IN(1, dy)
LK_TENSOR_OUT(2, dx)

layout(push_constant) uniform Push
{
  uint n;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  float v = LK_LOAD (x, X_F16, i);
  float d;
  if (OP == 0)
    d = lk_silu_grad (v);
  else if (OP == 1)
    d = lk_gelu_grad (v);
  else
    d = lk_quick_gelu_grad (v);
  LK_STORE (dx, DX_F16, i, LK_LOAD (dy, DY_F16, i) * d);
}
