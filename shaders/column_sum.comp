#version 450
#extension GL_GOOGLE_include_directive : require
// y[chunk, col] = Σ x[base + r · row_stride + col] over the chunk's rows: one invocation per
// column walks its rows in order, so a column sum is deterministic. Run in stages (chunks of
// rows, then the chunks) it gives bias gradients and the per-channel sums of the norms.
#include "lk-common.glsl"

layout(constant_id = 3) const bool X_F16 = false;
layout(constant_id = 4) const bool Y_F16 = false;

LK_TENSOR_IN(0, x)
LK_TENSOR_OUT(1, y)

layout(push_constant) uniform Push
{
  uint rows;
  uint cols;
  uint row_stride;
  uint x_base;
  uint rows_per_chunk;
} p;

void main ()
{
  uint col = gl_GlobalInvocationID.x;
  uint chunk = gl_WorkGroupID.y;
  if (col >= p.cols)
    return;

  uint first = chunk * p.rows_per_chunk;
  uint end = min (first + p.rows_per_chunk, p.rows);
  float sum = 0.0;
  for (uint r = first; r < end; r++)
    sum += LK_LOAD (x, X_F16, p.x_base + r * p.row_stride + col);
  LK_STORE (y, Y_F16, chunk * p.cols + col, sum);
}
