// lk-vision.glsl: the activations the vision kernels fuse (LkVisionAct order).

float lk_vision_act (uint act, float v, float alpha)
{
  if (act == 1)
    return max (v, 0.0);
  if (act == 2)
    return clamp (v, 0.0, 6.0);
  if (act == 3)
    return v < 0.0 ? alpha * v : v;
  if (act == 4)
    return 1.0 / (1.0 + exp (-v));
  return v;
}
