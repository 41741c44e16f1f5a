// lk-matmul.glsl: what the GEMM and convolution kernels share.
//
// Both kernels step k by 8. Besides the f32 and f16 element views of lk-common.glsl, an operand
// read eight elements at a time has a vec4 view (f32, two loads) and a uvec4 view (eight packed
// f16, one load) on the same binding: on lavapipe every buffer load is a loop over the lanes,
// so fewer, wider loads are what counts.

#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require

#define LK_TENSOR_IN_VEC8(b, name) \
  LK_TENSOR_IN(b, name) \
  layout(std430, set = 0, binding = b) readonly buffer name##_v4_block { vec4 name##_v4[]; }; \
  layout(std430, set = 0, binding = b) readonly buffer name##_h8_block { uvec4 name##_h8[]; };

// Eight consecutive values of k, as two vec4.
struct LkVec8
{
  vec4 lo, hi;
};

LkVec8 lk_unpack8 (uvec4 h)
{
  return LkVec8 (vec4 (unpackHalf2x16 (h.x), unpackHalf2x16 (h.y)),
                 vec4 (unpackHalf2x16 (h.z), unpackHalf2x16 (h.w)));
}

// Elements i .. i + 7 with i a multiple of 8.
#define LK_LOAD8(name, is_f16, i) \
  ((is_f16) ? lk_unpack8 (name##_h8[(i) >> 3]) \
            : LkVec8 (name##_v4[(i) >> 2], name##_v4[((i) >> 2) + 1]))

// acc + a · b over eight k, as a chain of fused multiply-adds.
float lk_fma8 (LkVec8 a, LkVec8 b, float acc)
{
  acc = fma (a.lo.x, b.lo.x, acc);
  acc = fma (a.lo.y, b.lo.y, acc);
  acc = fma (a.lo.z, b.lo.z, acc);
  acc = fma (a.lo.w, b.lo.w, acc);
  acc = fma (a.hi.x, b.hi.x, acc);
  acc = fma (a.hi.y, b.hi.y, acc);
  acc = fma (a.hi.z, b.hi.z, acc);
  return fma (a.hi.w, b.hi.w, acc);
}
