#version 450
#extension GL_GOOGLE_include_directive : require
// Sinusoidal timestep embedding: t [B] → y [B, dim]. Frequencies max_period^(−k/half), k < half;
// [cos | sin] when FLIP (SD1.5), [sin | cos] otherwise; an odd last column is zero.
#include "lk-common.glsl"

layout(constant_id = 3) const bool T_F16 = false;
layout(constant_id = 4) const bool Y_F16 = false;

LK_TENSOR_IN(0, t)
LK_TENSOR_OUT(1, y)

layout(push_constant) uniform Push
{
  uint n;
  uint dim;
  float log_max_period;
  uint flip;
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  uint row = i / p.dim;
  uint j = i - row * p.dim;
  uint half_dim = p.dim / 2u;
  float v = 0.0;
  if (j < 2u * half_dim)
    {
      uint k = j < half_dim ? j : j - half_dim;
      float freq = exp (-p.log_max_period * float (k) / float (half_dim));
      // Reduce first: GPU sin and cos lose accuracy on large arguments (t reaches 999).
      float arg = mod (LK_LOAD (t, T_F16, row) * freq, 6.28318530717958648);
      bool first = j < half_dim;
      v = (first == (p.flip != 0u)) ? cos (arg) : sin (arg);
    }
  LK_STORE (y, Y_F16, i, v);
}
