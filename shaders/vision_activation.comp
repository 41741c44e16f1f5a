#version 450
#extension GL_GOOGLE_include_directive : require
// y = act (x) elementwise; PReLU's alpha is per channel, the last dimension.
#include "lk-common.glsl"
#include "lk-vision.glsl"

layout(constant_id = 3) const uint ACT = 0;  // LkVisionAct

LK_TENSOR_IN(0, x)
LK_TENSOR_IN(1, alpha)
LK_TENSOR_OUT(2, y)

layout(push_constant) uniform Push
{
  uint n;
  uint channels;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;
  y_f32[i] = lk_vision_act (ACT, x_f32[i], ACT == 3 ? alpha_f32[i % p.channels] : 0.0);
}
