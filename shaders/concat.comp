#version 450
#extension GL_GOOGLE_include_directive : require
// NCHW channel concatenation: y [N, Ca + Cb, S] from a [N, Ca, S] and b [N, Cb, S].
#include "lk-common.glsl"

layout(constant_id = 3) const bool A_F16 = false;
layout(constant_id = 4) const bool B_F16 = false;
layout(constant_id = 5) const bool Y_F16 = false;

LK_TENSOR_IN(0, a)
LK_TENSOR_IN(1, b)
LK_TENSOR_OUT(2, y)

layout(push_constant) uniform Push
{
  uint n;
  uint inner;
  uint ca;
  uint cb;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  uint s = i % p.inner;
  uint t = i / p.inner;
  uint c = t % (p.ca + p.cb);
  uint batch = t / (p.ca + p.cb);
  float v;
  if (c < p.ca)
    v = LK_LOAD (a, A_F16, (batch * p.ca + c) * p.inner + s);
  else
    v = LK_LOAD (b, B_F16, (batch * p.cb + c - p.ca) * p.inner + s);
  LK_STORE (y, Y_F16, i, v);
}
