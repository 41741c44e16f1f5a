#version 450
#extension GL_GOOGLE_include_directive : require
// The device's memory bandwidth: a vec4 copy.
#include "lk-common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Src { vec4 src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Push
{
  uint n;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i < p.n)
    dst[i] = src[i];
}
