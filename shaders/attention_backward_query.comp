#version 450
#extension GL_GOOGLE_include_directive : require
// Attention backward, the query side: one invocation per (query row, head, batch). With
// P = softmax(s · q kᵀ), dP = dO vᵀ and Dᵢ = Σ dOᵢ · Oᵢ (= Σⱼ Pᵢⱼ dPᵢⱼ):
//   dqᵢ = s · Σⱼ Pᵢⱼ (dPᵢⱼ − Dᵢ) kⱼ.
// A first sweep over the keys finds the row's log-sum-exp with an online maximum; the second
// recomputes each Pᵢⱼ from it, so no score matrix is ever stored. The log-sum-exp and Dᵢ go to
// stats for the key side (attention_backward_key.comp).
#include "lk-common.glsl"

layout(constant_id = 3) const uint D = 64;  // head dim, a multiple of 4
layout(constant_id = 4) const bool Q_F16 = false;
layout(constant_id = 5) const bool K_F16 = false;
layout(constant_id = 6) const bool V_F16 = false;
layout(constant_id = 7) const bool O_F16 = false;
layout(constant_id = 8) const bool DO_F16 = false;
layout(constant_id = 9) const bool DQ_F16 = false;
layout(constant_id = 10) const bool CAUSAL = false;

LK_TENSOR_IN(0, q)
LK_TENSOR_IN(1, k)
LK_TENSOR_IN(2, v)
LK_TENSOR_IN(3, o)
LK_TENSOR_IN(4, dout)
LK_TENSOR_OUT(5, dq)
layout(std430, set = 0, binding = 6) writeonly buffer stats_block { float stats[]; };

layout(push_constant) uniform Push
{
  uint nq, nk, hd, heads;
  float scale;
} p;

const uint D4 = D / 4;
// Up to head dim 80 the query's own row (q and dO) stays in registers beside the accumulator;
// above, it is read again per key (an L1 hit): three rows of 160 take LLVM a minute to
// allocate, and spill anyway.
const bool ROW_IN_REGISTERS = D <= 80;
const uint RD4 = ROW_IN_REGISTERS ? D4 : 1;

#define LOAD4(name, is_f16, i) \
  vec4 (LK_LOAD (name, is_f16, i), LK_LOAD (name, is_f16, (i) + 1), \
        LK_LOAD (name, is_f16, (i) + 2), LK_LOAD (name, is_f16, (i) + 3))
#define Q4(d) (ROW_IN_REGISTERS ? qv[d] : LOAD4 (q, Q_F16, qi + 4 * (d)) * p.scale)
#define G4(d) (ROW_IN_REGISTERS ? gv[d] : LOAD4 (dout, DO_F16, qi + 4 * (d)))

void main ()
{
  uint row = gl_GlobalInvocationID.x;
  uint head = gl_WorkGroupID.y;
  uint b = gl_WorkGroupID.z;
  if (row >= p.nq)
    return;

  uint qi = (b * p.nq + row) * p.hd + head * D;
  uint kv0 = b * p.nk * p.hd + head * D;
  uint n_keys = CAUSAL ? min (p.nk, row + 1) : p.nk;
  // Rows in registers four lanes at a time: unrolled over D / 4, which compiles in a fraction
  // of the time a scalar unroll over D takes on LLVM-based drivers.
  vec4 qv[RD4], gv[RD4], acc[D4];
  float di = 0.0;
  [[unroll]] for (uint d = 0; d < D4; d++)
    {
      if (ROW_IN_REGISTERS)
        {
          qv[d] = LOAD4 (q, Q_F16, qi + 4 * d) * p.scale;
          gv[d] = LOAD4 (dout, DO_F16, qi + 4 * d);
        }
      di += dot (LOAD4 (dout, DO_F16, qi + 4 * d), LOAD4 (o, O_F16, qi + 4 * d));
      acc[d] = vec4 (0.0);
    }

  float m = -1.0 / 0.0, l = 0.0;
  for (uint j = 0; j < n_keys; j++)
    {
      uint kj = kv0 + j * p.hd;
      float s = 0.0;
      [[unroll]] for (uint d = 0; d < D4; d++)
        s += dot (Q4 (d), LOAD4 (k, K_F16, kj + 4 * d));
      if (s > m)
        {
          l = l * exp (m - s) + 1.0;
          m = s;
        }
      else
        l += exp (s - m);
    }
  float lse = m + log (l);

  for (uint j = 0; j < n_keys; j++)
    {
      uint kj = kv0 + j * p.hd;
      float s = 0.0, dp = 0.0;
      [[unroll]] for (uint d = 0; d < D4; d++)
        {
          s += dot (Q4 (d), LOAD4 (k, K_F16, kj + 4 * d));
          dp += dot (G4 (d), LOAD4 (v, V_F16, kj + 4 * d));
        }
      float ds = exp (s - lse) * (dp - di);
      [[unroll]] for (uint d = 0; d < D4; d++)
        acc[d] += ds * LOAD4 (k, K_F16, kj + 4 * d);
    }

  [[unroll]] for (uint d = 0; d < D4; d++)
    [[unroll]] for (uint t = 0; t < 4; t++)
      LK_STORE (dq, DQ_F16, qi + 4 * d + t, acc[d][t] * p.scale);
  uint si = (b * p.heads + head) * p.nq + row;
  stats[2 * si] = lse;
  stats[2 * si + 1] = di;
}
