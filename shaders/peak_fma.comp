#version 450
#extension GL_GOOGLE_include_directive : require
// The device's arithmetic peak: independent FMA chains in registers, one store at the end so
// nothing is optimised away. Each invocation does 8 chains × ITERATIONS × 4 lanes FMAs.
#include "lk-common.glsl"

layout(constant_id = 3) const uint ITERATIONS = 1024;

LK_TENSOR_OUT(0, y)

layout(push_constant) uniform Push
{
  float a;
  float b;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  vec4 c0 = vec4 (float (i)), c1 = c0 + 1.0, c2 = c0 + 2.0, c3 = c0 + 3.0;
  vec4 c4 = c0 + 4.0, c5 = c0 + 5.0, c6 = c0 + 6.0, c7 = c0 + 7.0;
  for (uint k = 0u; k < ITERATIONS; k++)
    {
      c0 = fma (c0, vec4 (p.a), vec4 (p.b));
      c1 = fma (c1, vec4 (p.a), vec4 (p.b));
      c2 = fma (c2, vec4 (p.a), vec4 (p.b));
      c3 = fma (c3, vec4 (p.a), vec4 (p.b));
      c4 = fma (c4, vec4 (p.a), vec4 (p.b));
      c5 = fma (c5, vec4 (p.a), vec4 (p.b));
      c6 = fma (c6, vec4 (p.a), vec4 (p.b));
      c7 = fma (c7, vec4 (p.a), vec4 (p.b));
    }
  vec4 s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7;
  y_f32[i] = s.x + s.y + s.z + s.w;
}
