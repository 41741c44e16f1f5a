// lk-vec4.glsl: four-element views of tensor bindings, for kernels whose rows are whole vec4s.
// One load of four elements costs lavapipe about what one element costs, as it loads lane by
// lane; GPUs like the wider transactions too. Indices are in units of four elements.

#define LK_TENSOR_IN4(b, name) \
  layout(std430, set = 0, binding = b) readonly buffer name##_v4_block { vec4 name##_v4[]; }; \
  layout(std430, set = 0, binding = b) readonly buffer name##_h4_block { f16vec4 name##_h4[]; };

#define LK_TENSOR_OUT4(b, name) \
  layout(std430, set = 0, binding = b) writeonly buffer name##_v4_block { vec4 name##_v4[]; }; \
  layout(std430, set = 0, binding = b) writeonly buffer name##_h4_block { f16vec4 name##_h4[]; };

#define LK_LOAD4(name, is_f16, i) ((is_f16) ? vec4 (name##_h4[i]) : name##_v4[i])
#define LK_STORE4(name, is_f16, i, v) \
  do { if (is_f16) name##_h4[i] = f16vec4 (v); else name##_v4[i] = (v); } while (false)

float lk_sum4 (vec4 v)
{
  return (v.x + v.y) + (v.z + v.w);
}
