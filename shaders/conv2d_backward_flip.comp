#version 450
#extension GL_GOOGLE_include_directive : require
// The weights of conv2d's input gradient: wt[ci, co, t] = w[co, ci, KK − 1 − t], i.e. the
// kernel transposed between its channel axes and rotated by 180°, so that the input gradient of
// a "same"-padded convolution is again a forward conv2d (of dy, or of dy spread out by the
// stride) and runs through conv2d.comp.
#include "lk-common.glsl"

layout(constant_id = 3) const bool W_F16 = false;
layout(constant_id = 4) const bool WT_F16 = false;

LK_TENSOR_IN(0, w)
LK_TENSOR_OUT(1, wt)

layout(push_constant) uniform Push
{
  uint n;
  uint cin;
  uint cout;
  uint kk;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  uint t = i % p.kk;
  uint r = i / p.kk;
  uint co = r % p.cout;
  uint ci = r / p.cout;
  LK_STORE (wt, WT_F16, i, LK_LOAD (w, W_F16, (co * p.cin + ci) * p.kk + p.kk - 1u - t));
}
