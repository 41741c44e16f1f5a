// lk-common.glsl: what every Likeness kernel shares.
//
// Workgroup sizes are specialization constants 0, 1, 2. A tensor binding is declared twice, as
// f32 and as f16, on the same binding; a specialization constant says which view the op uses,
// so one SPIR-V module serves every dtype combination.

#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : enable

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

#define LK_TENSOR_IN(b, name) \
  layout(std430, set = 0, binding = b) readonly buffer name##_f32_block { float name##_f32[]; }; \
  layout(std430, set = 0, binding = b) readonly buffer name##_f16_block { float16_t name##_f16[]; };

#define LK_TENSOR_OUT(b, name) \
  layout(std430, set = 0, binding = b) writeonly buffer name##_f32_block { float name##_f32[]; }; \
  layout(std430, set = 0, binding = b) writeonly buffer name##_f16_block { float16_t name##_f16[]; };

#define LK_LOAD(name, is_f16, i) ((is_f16) ? float(name##_f16[i]) : name##_f32[i])
#define LK_STORE(name, is_f16, i, v) \
  do { if (is_f16) name##_f16[i] = float16_t(v); else name##_f32[i] = (v); } while (false)

// Flattened invocation index of a 1-D grid split over x and y.
uint lk_global_index_1d ()
{
  return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x +
         gl_LocalInvocationID.x;
}

const float LK_SQRT1_2 = 0.70710678118654752;

// erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26), so GELU matches torch's erf form.
float lk_erf (float x)
{
  float s = sign (x);
  float a = abs (x);
  float t = 1.0 / (1.0 + 0.3275911 * a);
  float y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t +
                   0.254829592) * t * exp (-a * a);
  return s * y;
}

float lk_gelu (float x)
{
  return 0.5 * x * (1.0 + lk_erf (x * LK_SQRT1_2));
}

float lk_silu (float x)
{
  return x / (1.0 + exp (-x));
}
