#version 450
#extension GL_GOOGLE_include_directive : require
// Fused multi-head attention, flash style: each query row keeps its running maximum m, its
// running sum l and its output accumulator in registers while key/value tiles stream past, so
// no Nq × Nk matrix exists anywhere. Statistics and accumulation are f32.
//
// A row is served by THREADS adjacent invocations, each holding HEAD_DIM / THREADS of its
// dimensions (d = i · THREADS + t); their partial dot products meet through subgroup shuffles.
// The workgroup covers gl_WorkGroupSize.x / THREADS rows of one head of one batch. With
// SHARED_KEYS > 1, key and value tiles are staged in shared memory (GPUs); without, every
// invocation reads them straight from the buffer (CPU drivers, for head dims that
// attention_subgroup.comp does not take).
#include "lk-common.glsl"
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_shuffle : enable

layout(constant_id = 3) const uint HEAD_DIM = 64;
layout(constant_id = 4) const uint THREADS = 1;      // invocations per query row, a power of 2
layout(constant_id = 5) const uint KEYS = 16;        // keys per tile
layout(constant_id = 6) const uint SHARED_KEYS = 1;  // KEYS when tiles are staged, else 1
layout(constant_id = 7) const bool Q_F16 = false;
layout(constant_id = 8) const bool K_F16 = false;
layout(constant_id = 9) const bool V_F16 = false;
layout(constant_id = 10) const bool O_F16 = false;
layout(constant_id = 11) const bool CAUSAL = false;  // row i sees keys 0…i

const uint DIMS = HEAD_DIM / THREADS;  // per invocation
const bool STAGED = SHARED_KEYS > 1;

LK_TENSOR_IN(0, q)
LK_TENSOR_IN(1, k)
LK_TENSOR_IN(2, v)
LK_TENSOR_OUT(3, o)

layout(push_constant) uniform Push
{
  uint nq;        // query rows per batch in the tensor: the batch stride of q and o
  uint rows;      // query rows of this dispatch, from the binding's first row
  uint nk;
  uint hd;        // heads · HEAD_DIM: the row stride
  uint q_base;    // elements between each binding's start and its first row
  uint k_base;
  uint v_base;
  uint o_base;
  float scale;    // softmax scale · log2(e): scores are kept in base 2
  uint row0;      // the first row of this dispatch within its batch, for the causal mask
} p;

shared float k_tile[SHARED_KEYS * HEAD_DIM];
shared float v_tile[SHARED_KEYS * HEAD_DIM];

// A masked score: exp2 of it minus any real maximum is 0, and it never wins a max.
const float MASKED = -1.0e30;

void main ()
{
  uint lid = gl_LocalInvocationID.x;
  uint t = lid % THREADS;
  uint row = gl_WorkGroupID.x * (gl_WorkGroupSize.x / THREADS) + lid / THREADS;
  uint head = gl_WorkGroupID.y;
  uint batch = gl_WorkGroupID.z;
  bool in_range = row < p.rows;
  uint head_off = head * HEAD_DIM + t;
  uint kv_row0 = batch * p.nk;

  float qr[DIMS];
  float acc[DIMS];
  uint qi = p.q_base + (batch * p.nq + min (row, p.rows - 1)) * p.hd + head_off;
  [[unroll]] for (uint i = 0; i < DIMS; i++)
    {
      qr[i] = LK_LOAD (q, Q_F16, qi + i * THREADS) * p.scale;
      acc[i] = 0.0;
    }

  float m = MASKED;
  float l = 0.0;

  // Causal: no row of the workgroup sees past its last row's key, so later tiles are skipped
  // (a bound uniform over the workgroup, as the staging barriers need). Key 0 is in the first
  // tile and visible to every row, so no row's maximum stays MASKED once a tile is done.
  uint key_end = p.nk;
  if (CAUSAL)
    {
      uint last = min ((gl_WorkGroupID.x + 1) * (gl_WorkGroupSize.x / THREADS), p.rows) - 1;
      key_end = min (p.nk, p.row0 + last + 1);
    }
  uint causal_row = p.row0 + min (row, p.rows - 1);

  for (uint j0 = 0; j0 < key_end; j0 += KEYS)
    {
      if (STAGED)
        {
          barrier ();
          for (uint e = lid; e < KEYS * HEAD_DIM; e += gl_WorkGroupSize.x)
            {
              uint j = min (j0 + e / HEAD_DIM, p.nk - 1);
              uint src = (kv_row0 + j) * p.hd + head * HEAD_DIM + e % HEAD_DIM;
              k_tile[e] = LK_LOAD (k, K_F16, p.k_base + src);
              v_tile[e] = LK_LOAD (v, V_F16, p.v_base + src);
            }
          barrier ();
        }

      float s[KEYS];
      float tile_max = m;
      [[unroll]] for (uint jj = 0; jj < KEYS; jj++)
        {
          uint j = min (j0 + jj, p.nk - 1);  // tail keys read a real row and are masked
          uint ki = p.k_base + (kv_row0 + j) * p.hd + head_off;
          float dot = 0.0;
          [[unroll]] for (uint i = 0; i < DIMS; i++)
            {
              float kv = STAGED ? k_tile[jj * HEAD_DIM + i * THREADS + t] : LK_LOAD (k, K_F16, ki + i * THREADS);
              dot += qr[i] * kv;
            }
          [[unroll]] for (uint w = 1; w < THREADS; w <<= 1)
            dot += subgroupShuffleXor (dot, w);
          s[jj] = j0 + jj < p.nk && (!CAUSAL || j0 + jj <= causal_row) ? dot : MASKED;
          tile_max = max (tile_max, s[jj]);
        }

      float alpha = exp2 (m - tile_max);
      m = tile_max;
      l *= alpha;
      [[unroll]] for (uint jj = 0; jj < KEYS; jj++)
        {
          s[jj] = exp2 (s[jj] - m);
          l += s[jj];
        }

      [[unroll]] for (uint i = 0; i < DIMS; i++)
        {
          float a = acc[i] * alpha;
          [[unroll]] for (uint jj = 0; jj < KEYS; jj++)
            {
              uint j = min (j0 + jj, p.nk - 1);
              float vv = STAGED ? v_tile[jj * HEAD_DIM + i * THREADS + t]
                                : LK_LOAD (v, V_F16, p.v_base + (kv_row0 + j) * p.hd + head_off + i * THREADS);
              a += s[jj] * vv;
            }
          acc[i] = a;
        }
    }

  if (!in_range)
    return;
  float inv = 1.0 / l;
  uint oi = p.o_base + (batch * p.nq + row) * p.hd + head_off;
  [[unroll]] for (uint i = 0; i < DIMS; i++)
    LK_STORE (o, O_F16, oi + i * THREADS, acc[i] * inv);
}
