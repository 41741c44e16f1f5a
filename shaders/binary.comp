#version 450
#extension GL_GOOGLE_include_directive : require
// y = a ∘ b with broadcasting. The output is walked in flat order from `base`; each operand has
// strides over the 4-D output coordinates (0 where it is broadcast) and an element offset that
// is subtracted when the operand is bound from the chunk's start rather than whole.
#include "lk-common.glsl"

layout(constant_id = 3) const uint OP = 0;  // LkBinaryOp
layout(constant_id = 4) const bool A_F16 = false;
layout(constant_id = 5) const bool B_F16 = false;
layout(constant_id = 6) const bool Y_F16 = false;
// Both operands as large as the output and bound from the chunk's start: no index arithmetic
// (integer division does not vectorise on CPU drivers such as lavapipe).
layout(constant_id = 7) const bool SAME_SHAPE = false;

LK_TENSOR_IN(0, a)
LK_TENSOR_IN(1, b)
LK_TENSOR_OUT(2, y)

layout(push_constant) uniform Push
{
  uvec4 shape;
  uvec4 a_strides;
  uvec4 b_strides;
  uint n;
  uint base;
  uint a_base;
  uint b_base;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  if (SAME_SHAPE)
    {
      float sa = LK_LOAD (a, A_F16, i);
      float sb = LK_LOAD (b, B_F16, i);
      float sv = OP == 0 ? sa + sb : OP == 1 ? sa - sb : OP == 2 ? sa * sb : sa / sb;
      LK_STORE (y, Y_F16, i, sv);
      return;
    }

  uint g = p.base + i;
  uvec4 c;
  c.w = g % p.shape.w;
  g /= p.shape.w;
  c.z = g % p.shape.z;
  g /= p.shape.z;
  c.y = g % p.shape.y;
  c.x = g / p.shape.y;

  uint ia = c.x * p.a_strides.x + c.y * p.a_strides.y + c.z * p.a_strides.z + c.w * p.a_strides.w - p.a_base;
  uint ib = c.x * p.b_strides.x + c.y * p.b_strides.y + c.z * p.b_strides.z + c.w * p.b_strides.w - p.b_base;
  float va = LK_LOAD (a, A_F16, ia);
  float vb = LK_LOAD (b, B_F16, ib);
  float v;
  if (OP == 0)
    v = va + vb;
  else if (OP == 1)
    v = va - vb;
  else if (OP == 2)
    v = va * vb;
  else
    v = va / vb;
  LK_STORE (y, Y_F16, i, v);
}
