#version 450
#extension GL_GOOGLE_include_directive : require
// TensorFlow's ResizeBilinear on NHWC, with its align_corners and half_pixel_centers rules.
#include "lk-common.glsl"

layout(constant_id = 3) const bool HALF_PIXEL = false;

LK_TENSOR_IN(0, x)
LK_TENSOR_OUT(1, y)

layout(push_constant) uniform Push
{
  uint total;
  uint h, w, c;
  uint ho, wo;
  float scale_y, scale_x;  // (in − 1) / (out − 1) with align_corners, else in / out
} p;

void source (uint o, float scale, uint size, out uint lo, out uint hi, out float frac)
{
  float s = HALF_PIXEL ? (float (o) + 0.5) * scale - 0.5 : float (o) * scale;
  float f = floor (s);
  lo = uint (max (f, 0.0));
  hi = uint (min (HALF_PIXEL ? ceil (s) : f + 1.0, float (size - 1)));
  lo = min (lo, size - 1);
  frac = s - f;
}

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
  uint y0, y1, x0, x1;
  float fy, fx;
  source (oy, p.scale_y, p.h, y0, y1, fy);
  source (ox, p.scale_x, p.w, x0, x1, fx);

  uint row0 = (n * p.h + y0) * p.w;
  uint row1 = (n * p.h + y1) * p.w;
  float tl = x_f32[(row0 + x0) * p.c + c];
  float tr = x_f32[(row0 + x1) * p.c + c];
  float bl = x_f32[(row1 + x0) * p.c + c];
  float br = x_f32[(row1 + x1) * p.c + c];
  float top = tl + (tr - tl) * fx;
  float bottom = bl + (br - bl) * fx;
  y_f32[i] = top + (bottom - top) * fy;
}
