#version 450
#extension GL_GOOGLE_include_directive : require
// Embedding lookup: y[r, c] = table[ids[r], c]. The ids are whole numbers stored as f32; one
// outside [0, V) reads row V − 1, so a bad id never reads outside the table.
#include "lk-common.glsl"

layout(constant_id = 3) const bool TABLE_F16 = true;
layout(constant_id = 4) const bool Y_F16 = false;

LK_TENSOR_IN(0, table)
layout(std430, set = 0, binding = 1) readonly buffer ids_block { float ids[]; };
LK_TENSOR_OUT(2, y)

layout(push_constant) uniform Push
{
  uint n;      // elements of y
  uint dim;    // D
  uint vocab;  // V
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  uint r = i / p.dim;
  float id = ids[r];
  uint row = id >= 0.0 && id < float (p.vocab) ? uint (id) : p.vocab - 1;
  LK_STORE (y, Y_F16, i, LK_LOAD (table, TABLE_F16, row * p.dim + i % p.dim));
}
