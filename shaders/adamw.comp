#version 450
#extension GL_GOOGLE_include_directive : require
// One AdamW step, as torch.optim.AdamW (decoupled weight decay, bias correction with step t):
//   g = grad · grad_scale · clip,  m = β1 m + (1 − β1) g,  v = β2 v + (1 − β2) g²,
//   param = param · (1 − lr · wd) − lr / (1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps).
// With the gradient statistics bound, clip = min(1, max_norm / (‖g · grad_scale‖ + 1e-6)) as
// torch.nn.utils.clip_grad_norm_, and a step whose gradients hold NaN/inf changes nothing.
#include "lk-common.glsl"

layout(constant_id = 3) const bool GRAD_F16 = false;
layout(constant_id = 4) const bool HAS_STATS = false;

layout(std430, set = 0, binding = 0) buffer param_block { float param[]; };
LK_TENSOR_IN(1, grad)
layout(std430, set = 0, binding = 2) buffer m_block { float m[]; };
layout(std430, set = 0, binding = 3) buffer v_block { float v[]; };
layout(std430, set = 0, binding = 4) readonly buffer stats_block { float stats[]; };

layout(push_constant) uniform Push
{
  uint n;
  float decay;            // 1 − lr · wd
  float step_size;        // lr / (1 − β1ᵗ)
  float bias_correction2_sqrt;
  float eps;
  float beta1;
  float beta2;
  float one_minus_beta1;  // from the host in double: 1 − 0.999f in f32 is off by 5e-5
  float one_minus_beta2;
  float grad_scale;       // 1 / loss scale
  float max_norm;         // ≤ 0: no clipping
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.n)
    return;

  float scale = p.grad_scale;
  if (HAS_STATS)
    {
      if (stats[1] != 0.0)
        return;
      if (p.max_norm > 0.0)
        {
          float norm = sqrt (stats[0]) * p.grad_scale;
          scale *= min (1.0, p.max_norm / (norm + 1e-6));
        }
    }

  float g = LK_LOAD (grad, GRAD_F16, i) * scale;
  float mi = p.beta1 * m[i] + p.one_minus_beta1 * g;
  float vi = p.beta2 * v[i] + p.one_minus_beta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = param[i] * p.decay - p.step_size * mi / (sqrt (vi) / p.bias_correction2_sqrt + p.eps);
}
