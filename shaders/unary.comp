#version 450
#extension GL_GOOGLE_include_directive : require
// y = f(x) · alpha + beta, elementwise; also the f16 ↔ f32 cast (f = identity).
#include "lk-common.glsl"

layout(constant_id = 3) const uint OP = 0;  // LkUnaryOp
layout(constant_id = 4) const bool X_F16 = false;
layout(constant_id = 5) const bool Y_F16 = false;

LK_TENSOR_IN(0, x)
LK_TENSOR_OUT(1, y)

layout(push_constant) uniform Push
{
  uint n;
  float alpha;
  float beta;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  float v = LK_LOAD (x, X_F16, i);
  if (OP == 1)
    v = lk_silu (v);
  else if (OP == 2)
    v = lk_gelu (v);
  else if (OP == 3)
    v = 1.0 / (1.0 + exp (-v));
  else if (OP == 4)
    v = tanh (v);
  else if (OP == 5)
    v = v / (1.0 + exp (-1.702 * v));  // QuickGELU
  LK_STORE (y, Y_F16, i, v * p.alpha + p.beta);
}
