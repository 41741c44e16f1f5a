#version 450
#extension GL_GOOGLE_include_directive : require
// Attention backward, the key side: one invocation per (key row, head, batch) sweeps the
// queries that see it, recomputing Pᵢⱼ = exp(s · qᵢ · kⱼ − lseᵢ) from the log-sum-exp the query
// side stored:
//   dvⱼ = Σᵢ Pᵢⱼ dOᵢ,   dkⱼ = s · Σᵢ Pᵢⱼ (dOᵢ · vⱼ − Dᵢ) qᵢ.
// Every output has one owner, so the sums need no atomics and are deterministic.
#include "lk-common.glsl"

layout(constant_id = 3) const uint D = 64;  // a multiple of 4
layout(constant_id = 4) const bool Q_F16 = false;
layout(constant_id = 5) const bool K_F16 = false;
layout(constant_id = 6) const bool V_F16 = false;
layout(constant_id = 7) const bool DO_F16 = false;
layout(constant_id = 8) const bool DK_F16 = false;
layout(constant_id = 9) const bool DV_F16 = false;
layout(constant_id = 10) const bool CAUSAL = false;

LK_TENSOR_IN(0, q)
LK_TENSOR_IN(1, k)
LK_TENSOR_IN(2, v)
LK_TENSOR_IN(3, dout)
layout(std430, set = 0, binding = 4) readonly buffer stats_block { float stats[]; };
LK_TENSOR_OUT(5, dk)
LK_TENSOR_OUT(6, dv)

layout(push_constant) uniform Push
{
  uint nq, nk, hd, heads;
  float scale;
} p;

const uint D4 = D / 4;
// Up to head dim 80 the key's own rows (k and v) stay in registers beside the accumulators;
// above, they are read again per query (an L1 hit), as four rows of 160 take LLVM a minute
// to allocate, and spill anyway.
const bool ROW_IN_REGISTERS = D <= 80;
const uint RD4 = ROW_IN_REGISTERS ? D4 : 1;

#define LOAD4(name, is_f16, i) \
  vec4 (LK_LOAD (name, is_f16, i), LK_LOAD (name, is_f16, (i) + 1), \
        LK_LOAD (name, is_f16, (i) + 2), LK_LOAD (name, is_f16, (i) + 3))
#define K4(d) (ROW_IN_REGISTERS ? kv[d] : LOAD4 (k, K_F16, kj + 4 * (d)) * p.scale)
#define V4(d) (ROW_IN_REGISTERS ? vv[d] : LOAD4 (v, V_F16, kj + 4 * (d)))

void main ()
{
  uint col = gl_GlobalInvocationID.x;
  uint head = gl_WorkGroupID.y;
  uint b = gl_WorkGroupID.z;
  if (col >= p.nk)
    return;

  uint kj = (b * p.nk + col) * p.hd + head * D;
  uint q0 = b * p.nq * p.hd + head * D;
  uint s0 = (b * p.heads + head) * p.nq;
  vec4 kv[RD4], vv[RD4], gk[D4], gvv[D4];
  [[unroll]] for (uint d = 0; d < D4; d++)
    {
      if (ROW_IN_REGISTERS)
        {
          kv[d] = LOAD4 (k, K_F16, kj + 4 * d) * p.scale;
          vv[d] = LOAD4 (v, V_F16, kj + 4 * d);
        }
      gk[d] = vec4 (0.0);
      gvv[d] = vec4 (0.0);
    }

  for (uint i = CAUSAL ? col : 0; i < p.nq; i++)
    {
      uint qi = q0 + i * p.hd;
      float s = 0.0, dp = 0.0;
      [[unroll]] for (uint d = 0; d < D4; d++)
        {
          s += dot (LOAD4 (q, Q_F16, qi + 4 * d), K4 (d));
          dp += dot (LOAD4 (dout, DO_F16, qi + 4 * d), V4 (d));
        }
      float pij = exp (s - stats[2 * (s0 + i)]);
      float ds = pij * (dp - stats[2 * (s0 + i) + 1]);
      [[unroll]] for (uint d = 0; d < D4; d++)
        {
          gvv[d] += pij * LOAD4 (dout, DO_F16, qi + 4 * d);
          gk[d] += ds * LOAD4 (q, Q_F16, qi + 4 * d);
        }
    }

  [[unroll]] for (uint d = 0; d < D4; d++)
    [[unroll]] for (uint t = 0; t < 4; t++)
      {
        LK_STORE (dk, DK_F16, kj + 4 * d + t, gk[d][t] * p.scale);
        LK_STORE (dv, DV_F16, kj + 4 * d + t, gvv[d][t]);
      }
}
