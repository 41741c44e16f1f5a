#version 450
#extension GL_GOOGLE_include_directive : require
// Constant padding of a 4-D tensor, one invocation per output element.
#include "lk-common.glsl"

LK_TENSOR_IN(0, x)
LK_TENSOR_OUT(1, y)

layout(push_constant) uniform Push
{
  uint total;
  uint xs[4];   // x's shape
  uint ys[4];   // y's shape
  uint before[4];
  float value;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.total)
    return;

  uint t = i;
  uint src = 0;
  uint scale = 1;
  bool inside = true;
  for (int d = 3; d >= 0; d--)
    {
      uint o = t % p.ys[d];
      t /= p.ys[d];
      int s = int (o) - int (p.before[d]);
      inside = inside && s >= 0 && s < int (p.xs[d]);
      src += uint (max (s, 0)) * scale;
      scale *= p.xs[d];
    }
  y_f32[i] = inside ? x_f32[src] : p.value;
}
