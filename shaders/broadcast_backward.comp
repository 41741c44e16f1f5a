#version 450
#extension GL_GOOGLE_include_directive : require
// The gradient of a broadcast operand: dx[i] = Σ dy over every position the forward op read
// x[i] for. Shapes are right-aligned to four dimensions; one invocation per dx element walks
// the broadcast positions in order (deterministic, no atomics).
#include "lk-common.glsl"

layout(constant_id = 3) const bool DY_F16 = false;
layout(constant_id = 4) const bool DX_F16 = false;

LK_TENSOR_IN(0, dy)
LK_TENSOR_OUT(1, dx)

layout(push_constant) uniform Push
{
  uint n;       // elements of dx
  uint count;   // dy elements per dx element
  uint pad0, pad1;
  uvec4 ys;     // dy's shape
  uvec4 xs;     // dx's shape, 1 where broadcast
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  // dx's own index per dimension, outermost first.
  uint idx[4];
  uint rest = i;
  for (int d = 3; d >= 0; d--)
    {
      idx[d] = rest % p.xs[d];
      rest /= p.xs[d];
    }

  float sum = 0.0;
  for (uint t = 0; t < p.count; t++)
    {
      // t walks the broadcast dimensions, innermost fastest, as dy's layout does.
      uint r = t, src = 0, stride = 1;
      for (int d = 3; d >= 0; d--)
        {
          uint pos = idx[d];
          if (p.xs[d] == 1u)
            {
              pos = r % p.ys[d];
              r /= p.ys[d];
            }
          src += pos * stride;
          stride *= p.ys[d];
        }
      sum += LK_LOAD (dy, DY_F16, src);
    }
  LK_STORE (dx, DX_F16, i, sum);
}
