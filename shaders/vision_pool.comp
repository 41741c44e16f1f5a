#version 450
#extension GL_GOOGLE_include_directive : require
// NHWC max or average pooling; padding never counts (TensorFlow's SAME pools average only
// the elements inside the image).
#include "lk-common.glsl"

layout(constant_id = 3) const bool AVG = false;

LK_TENSOR_IN(0, x)
LK_TENSOR_OUT(1, y)

layout(push_constant) uniform Push
{
  uint total;
  uint h, w, c;
  uint ho, wo;
  uint kh, kw;
  uint sh, sw;
  int pt, pl;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.total)
    return;

  uint c = i % p.c;
  uint t = i / p.c;
  uint ox = t % p.wo;
  t /= p.wo;
  uint oy = t % p.ho;
  uint n = t / p.ho;
  int y0 = int (oy * p.sh) - p.pt;
  int x0 = int (ox * p.sw) - p.pl;
  int y1 = min (y0 + int (p.kh), int (p.h));
  int x1 = min (x0 + int (p.kw), int (p.w));
  y0 = max (y0, 0);
  x0 = max (x0, 0);

  float acc = AVG ? 0.0 : -3.402823466e38;
  for (int iy = y0; iy < y1; iy++)
    for (int ix = x0; ix < x1; ix++)
      {
        float v = x_f32[((n * p.h + uint (iy)) * p.w + uint (ix)) * p.c + c];
        acc = AVG ? acc + v : max (acc, v);
      }
  if (AVG)
    acc /= float (max ((y1 - y0) * (x1 - x0), 1));
  y_f32[i] = acc;
}
