// lk-backward.glsl: derivatives of the activations, shared by the backward kernels.

float lk_sigmoid (float x)
{
  return 1.0 / (1.0 + exp (-x));
}

// d/dx x·σ(x) = σ(x) · (1 + x · (1 − σ(x)))
float lk_silu_grad (float x)
{
  float s = lk_sigmoid (x);
  return s * (1.0 + x * (1.0 - s));
}

// d/dx x·Φ(x) = Φ(x) + x·φ(x), erf form as torch's default GELU.
float lk_gelu_grad (float x)
{
  const float INV_SQRT_2PI = 0.39894228040143268;
  return 0.5 * (1.0 + lk_erf (x * LK_SQRT1_2)) + x * INV_SQRT_2PI * exp (-0.5 * x * x);
}

// CLIP's x·σ(1.702x): σ(1.702x) + 1.702·x·σ(1.702x)·(1 − σ(1.702x)).
float lk_quick_gelu_grad (float x)
{
  float s = lk_sigmoid (1.702 * x);
  return s + 1.702 * x * s * (1.0 - s);
}
