#version 450
#extension GL_GOOGLE_include_directive : require
// dy of a strided convolution spread onto the input's grid: d[plane, y, x] = dy[plane, y/s, x/s]
// where s divides both, zero elsewhere. A stride-1 conv2d of d with the flipped weights is then
// the input gradient (the transposed convolution).
#include "lk-common.glsl"

layout(constant_id = 3) const bool DY_F16 = false;
layout(constant_id = 4) const bool D_F16 = false;

LK_TENSOR_IN(0, dy)
LK_TENSOR_OUT(1, d)

layout(push_constant) uniform Push
{
  uint n;       // elements of d in this dispatch
  uint h, w;    // d's plane
  uint ho, wo;  // dy's plane
  uint stride;
  uint dy_off, d_off;
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
  uint oy = y / p.stride, ox = x / p.stride;
  bool hit = oy * p.stride == y && ox * p.stride == x && oy < p.ho && ox < p.wo;
  uint src = p.dy_off + (plane * p.ho + (hit ? oy : 0u)) * p.wo + (hit ? ox : 0u);
  float v = LK_LOAD (dy, DY_F16, src);
  LK_STORE (d, D_F16, p.d_off + i, hit ? v : 0.0);
}
