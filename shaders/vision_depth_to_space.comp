#version 450
#extension GL_GOOGLE_include_directive : require
// TensorFlow's DepthToSpace, NHWC, DCR order: y[n, h·b + i, w·b + j, c] = x[n, h, w, (i·b + j)·C + c].
#include "lk-common.glsl"

LK_TENSOR_IN(0, x)
LK_TENSOR_OUT(1, y)

layout(push_constant) uniform Push
{
  uint total;
  uint h, w, c;  // y's channels
  uint block;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.total)
    return;

  uint c = i % p.c;
  uint t = i / p.c;
  uint ox = t % (p.w * p.block);
  t /= p.w * p.block;
  uint oy = t % (p.h * p.block);
  uint n = t / (p.h * p.block);
  uint ix = ox / p.block, j = ox % p.block;
  uint iy = oy / p.block, k = oy % p.block;
  y_f32[i] = x_f32[((n * p.h + iy) * p.w + ix) * p.c * p.block * p.block +
                   (k * p.block + j) * p.c + c];
}
