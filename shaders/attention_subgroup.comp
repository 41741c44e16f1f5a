#version 450
#extension GL_GOOGLE_include_directive : require
// Fused multi-head attention for devices whose workgroup is one subgroup and whose memory
// loads are expensive per instruction (lavapipe runs each load lane by lane). Same maths as
// attention.comp — running maximum, running sum and accumulator per query row, f32 — but
// shaped differently: each of the subgroup's invocations owns one query row and, per tile,
// loads one key row and one value row with wide loads; the rows reach the other invocations
// through subgroup shuffles, which are register permutes there. A tile is one key per
// invocation.
//
// Needs HEAD_DIM a multiple of 8 and every row starting at a multiple of 8 elements of its
// binding (the C side checks, and otherwise uses attention.comp).
#include "lk-common.glsl"
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_shuffle : enable

layout(constant_id = 3) const uint HEAD_DIM = 64;
layout(constant_id = 4) const uint ROWS = 2;  // query rows per invocation
layout(constant_id = 5) const bool Q_F16 = false;
layout(constant_id = 6) const bool K_F16 = false;
layout(constant_id = 7) const bool V_F16 = false;
layout(constant_id = 8) const bool O_F16 = false;
layout(constant_id = 9) const bool CAUSAL = false;  // row i sees keys 0…i

const uint LANES = gl_WorkGroupSize.x;  // the subgroup size, set by the C side
const uint CHUNKS = HEAD_DIM / 4;       // vec4s per row
const uint PAIRS = HEAD_DIM / 8;        // 8-element groups per row

// Rows are read 8 elements at a time: two vec4 of f32 or one uvec4 of packed f16.
#define LK_TENSOR_WIDE(b, name, access) \
  layout(std430, set = 0, binding = b) access buffer name##_v4_block { vec4 name##_v4[]; }; \
  layout(std430, set = 0, binding = b) access buffer name##_u4_block { uvec4 name##_u4[]; };

LK_TENSOR_WIDE(0, q, readonly)
LK_TENSOR_WIDE(1, k, readonly)
LK_TENSOR_WIDE(2, v, readonly)
LK_TENSOR_WIDE(3, o, writeonly)

#define LK_LOAD8(name, is_f16, e, a, b) \
  do { \
    if (is_f16) \
      { \
        uvec4 u_ = name##_u4[(e) / 8]; \
        a = vec4 (unpackHalf2x16 (u_.x), unpackHalf2x16 (u_.y)); \
        b = vec4 (unpackHalf2x16 (u_.z), unpackHalf2x16 (u_.w)); \
      } \
    else \
      { \
        a = name##_v4[(e) / 4]; \
        b = name##_v4[(e) / 4 + 1]; \
      } \
  } while (false)

layout(push_constant) uniform Push
{
  uint nq;
  uint rows;
  uint nk;
  uint hd;
  uint q_base;
  uint k_base;
  uint v_base;
  uint o_base;
  float scale;  // softmax scale · log2(e)
  uint row0;    // the first row of this dispatch within its batch, for the causal mask
} p;

const float MASKED = -1.0e30;

// One 8-element group of a key or value row as the lanes hold it: f16 stays packed until after
// the shuffle, which halves the shuffles.
#define LK_LOAD_GROUP(name, is_f16, e, packed, a, b) \
  do { \
    if (is_f16) \
      packed = name##_u4[(e) / 8]; \
    else \
      { \
        a = name##_v4[(e) / 4]; \
        b = name##_v4[(e) / 4 + 1]; \
      } \
  } while (false)

#define LK_SHUFFLE_GROUP(is_f16, packed, a, b, lane_, out_a, out_b) \
  do { \
    if (is_f16) \
      { \
        uvec4 u_ = subgroupShuffle (packed, lane_); \
        out_a = vec4 (unpackHalf2x16 (u_.x), unpackHalf2x16 (u_.y)); \
        out_b = vec4 (unpackHalf2x16 (u_.z), unpackHalf2x16 (u_.w)); \
      } \
    else \
      { \
        out_a = subgroupShuffle (a, lane_); \
        out_b = subgroupShuffle (b, lane_); \
      } \
  } while (false)

void main ()
{
  uint lane = gl_LocalInvocationID.x;
  uint row0 = gl_WorkGroupID.x * LANES * ROWS + lane;  // rows row0 + r · LANES
  uint head = gl_WorkGroupID.y;
  uint batch = gl_WorkGroupID.z;

  vec4 qv[ROWS * CHUNKS];
  vec4 acc[ROWS * CHUNKS];
  float m[ROWS];
  float l[ROWS];
  [[unroll]] for (uint r = 0; r < ROWS; r++)
    {
      uint qe = p.q_base + (batch * p.nq + min (row0 + r * LANES, p.rows - 1)) * p.hd + head * HEAD_DIM;
      [[unroll]] for (uint c = 0; c < CHUNKS; c += 2)
        {
          vec4 a, b;
          LK_LOAD8 (q, Q_F16, qe + 4 * c, a, b);
          qv[r * CHUNKS + c] = a * p.scale;
          qv[r * CHUNKS + c + 1] = b * p.scale;
          acc[r * CHUNKS + c] = vec4 (0.0);
          acc[r * CHUNKS + c + 1] = vec4 (0.0);
        }
      m[r] = MASKED;
      l[r] = 0.0;
    }

  uint k_row0 = p.k_base + batch * p.nk * p.hd + head * HEAD_DIM;
  uint v_row0 = p.v_base + batch * p.nk * p.hd + head * HEAD_DIM;

  // Causal: tiles past the workgroup's last row are skipped. Key 0 is in the first tile and
  // visible to every row, so no row's maximum stays MASKED once a tile is done.
  uint key_end = p.nk;
  if (CAUSAL)
    key_end = min (p.nk, p.row0 + min ((gl_WorkGroupID.x + 1) * LANES * ROWS, p.rows));

  for (uint j0 = 0; j0 < key_end; j0 += LANES)
    {
      uint j = min (j0 + lane, p.nk - 1);  // tail lanes read a real row; its score is masked
      uvec4 kp[PAIRS];
      vec4 kr[CHUNKS];
      [[unroll]] for (uint g = 0; g < PAIRS; g++)
        LK_LOAD_GROUP (k, K_F16, k_row0 + j * p.hd + 8 * g, kp[g], kr[2 * g], kr[2 * g + 1]);

      float s[ROWS * LANES];
      [[unroll]] for (uint jj = 0; jj < LANES; jj++)
        {
          vec4 d4[ROWS];
          [[unroll]] for (uint r = 0; r < ROWS; r++)
            d4[r] = vec4 (0.0);
          [[unroll]] for (uint g = 0; g < PAIRS; g++)
            {
              vec4 ka, kb;
              LK_SHUFFLE_GROUP (K_F16, kp[g], kr[2 * g], kr[2 * g + 1], jj, ka, kb);
              [[unroll]] for (uint r = 0; r < ROWS; r++)
                {
                  d4[r] = fma (qv[r * CHUNKS + 2 * g], ka, d4[r]);
                  d4[r] = fma (qv[r * CHUNKS + 2 * g + 1], kb, d4[r]);
                }
            }
          [[unroll]] for (uint r = 0; r < ROWS; r++)
            s[r * LANES + jj] = j0 + jj < p.nk && (!CAUSAL || j0 + jj <= p.row0 + row0 + r * LANES)
                                  ? (d4[r].x + d4[r].y) + (d4[r].z + d4[r].w) : MASKED;
        }

      float alpha[ROWS];
      [[unroll]] for (uint r = 0; r < ROWS; r++)
        {
          float tile_max = m[r];
          [[unroll]] for (uint jj = 0; jj < LANES; jj++)
            tile_max = max (tile_max, s[r * LANES + jj]);
          alpha[r] = exp2 (m[r] - tile_max);
          m[r] = tile_max;
          float sum = 0.0;
          [[unroll]] for (uint jj = 0; jj < LANES; jj++)
            {
              s[r * LANES + jj] = exp2 (s[r * LANES + jj] - tile_max);
              sum += s[r * LANES + jj];
            }
          l[r] = l[r] * alpha[r] + sum;
        }

      uvec4 vp[PAIRS];
      vec4 vr[CHUNKS];
      [[unroll]] for (uint g = 0; g < PAIRS; g++)
        LK_LOAD_GROUP (v, V_F16, v_row0 + j * p.hd + 8 * g, vp[g], vr[2 * g], vr[2 * g + 1]);
      [[unroll]] for (uint g = 0; g < PAIRS; g++)
        {
          vec4 a[ROWS], b[ROWS];
          [[unroll]] for (uint r = 0; r < ROWS; r++)
            {
              a[r] = acc[r * CHUNKS + 2 * g] * alpha[r];
              b[r] = acc[r * CHUNKS + 2 * g + 1] * alpha[r];
            }
          [[unroll]] for (uint jj = 0; jj < LANES; jj++)
            {
              vec4 va, vb;
              LK_SHUFFLE_GROUP (V_F16, vp[g], vr[2 * g], vr[2 * g + 1], jj, va, vb);
              [[unroll]] for (uint r = 0; r < ROWS; r++)
                {
                  a[r] = fma (vec4 (s[r * LANES + jj]), va, a[r]);
                  b[r] = fma (vec4 (s[r * LANES + jj]), vb, b[r]);
                }
            }
          [[unroll]] for (uint r = 0; r < ROWS; r++)
            {
              acc[r * CHUNKS + 2 * g] = a[r];
              acc[r * CHUNKS + 2 * g + 1] = b[r];
            }
        }
    }

  [[unroll]] for (uint r = 0; r < ROWS; r++)
    {
      uint row = row0 + r * LANES;
      if (row >= p.rows)
        break;
      float inv = 1.0 / l[r];
      uint oe = p.o_base + (batch * p.nq + row) * p.hd + head * HEAD_DIM;
      [[unroll]] for (uint c = 0; c < CHUNKS; c += 2)
        {
          vec4 a = acc[r * CHUNKS + c] * inv, b = acc[r * CHUNKS + c + 1] * inv;
          if (O_F16)
            o_u4[(oe + 4 * c) / 8] = uvec4 (packHalf2x16 (a.xy), packHalf2x16 (a.zw),
                                            packHalf2x16 (b.xy), packHalf2x16 (b.zw));
          else
            {
              o_v4[(oe + 4 * c) / 4] = a;
              o_v4[(oe + 4 * c) / 4 + 1] = b;
            }
        }
    }
}
