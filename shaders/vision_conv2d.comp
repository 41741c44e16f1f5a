#version 450
#extension GL_GOOGLE_include_directive : require
// NHWC convolutions with fused bias and activation: conv2d (w HWIO), depthwise (w [kh, kw, C, M])
// and TensorFlow's Conv2DBackpropInput (w [kh, kw, Cout, Cin] of the forward conv whose input
// gradient we compute). Each invocation computes CO consecutive output channels of one pixel:
// the pixel's index arithmetic and (for conv2d) each input value serve CO outputs; consecutive
// invocations take consecutive channel groups, so weight reads stay coalesced.
#include "lk-common.glsl"
#include "lk-vision.glsl"

layout(constant_id = 3) const uint MODE = 0;  // 0 conv2d, 1 depthwise, 2 transposed
layout(constant_id = 4) const uint ACT = 0;   // LkVisionAct
layout(constant_id = 5) const bool HAS_BIAS = false;

const uint CO = 4;  // output channels per invocation

LK_TENSOR_IN(0, x)
LK_TENSOR_IN(1, w)
LK_TENSOR_IN(2, bias)
LK_TENSOR_IN(3, alpha)
LK_TENSOR_OUT(4, y)

layout(push_constant) uniform Push
{
  uint total;
  uint h, w, cin;
  uint ho, wo, cout;
  uint kh, kw;
  uint sh, sw;
  uint dh, dw;
  int pt, pl;
  uint mult;  // depthwise channel multiplier
  uint groups;  // ⌈cout / CO⌉
} p;

void main ()
{
  uint i = lk_global_index_1d ();
  if (i >= p.total)
    return;

  uint g = i % p.groups;
  uint t = i / p.groups;
  uint ox = t % p.wo;
  t /= p.wo;
  uint oy = t % p.ho;
  uint n = t / p.ho;
  uint co0 = g * CO;
  uint nco = min (CO, p.cout - co0);
  float acc[CO];
  [[unroll]] for (uint j = 0; j < CO; j++)
    acc[j] = 0.0;

  if (MODE == 0)
    {
      for (uint ky = 0; ky < p.kh; ky++)
        {
          int iy = int (oy * p.sh + ky * p.dh) - p.pt;
          if (iy < 0 || iy >= int (p.h))
            continue;
          for (uint kx = 0; kx < p.kw; kx++)
            {
              int ix = int (ox * p.sw + kx * p.dw) - p.pl;
              if (ix < 0 || ix >= int (p.w))
                continue;
              uint xb = ((n * p.h + uint (iy)) * p.w + uint (ix)) * p.cin;
              uint wb = (ky * p.kw + kx) * p.cin * p.cout + co0;
              for (uint ci = 0; ci < p.cin; ci++)
                {
                  float xv = x_f32[xb + ci];
                  uint wr = wb + ci * p.cout;
                  [[unroll]] for (uint j = 0; j < CO; j++)
                    if (j < nco)
                      acc[j] += xv * w_f32[wr + j];
                }
            }
        }
    }
  else if (MODE == 1)
    {
      for (uint ky = 0; ky < p.kh; ky++)
        {
          int iy = int (oy * p.sh + ky * p.dh) - p.pt;
          if (iy < 0 || iy >= int (p.h))
            continue;
          for (uint kx = 0; kx < p.kw; kx++)
            {
              int ix = int (ox * p.sw + kx * p.dw) - p.pl;
              if (ix < 0 || ix >= int (p.w))
                continue;
              uint xb = ((n * p.h + uint (iy)) * p.w + uint (ix)) * p.cin;
              uint wb = (ky * p.kw + kx) * p.cout + co0;
              [[unroll]] for (uint j = 0; j < CO; j++)
                if (j < nco)
                  acc[j] += x_f32[xb + (co0 + j) / p.mult] * w_f32[wb + j];
            }
        }
    }
  else
    {
      // y (oy, ox) received x (iy, ix) through tap (ky, kx) when oy = iy · sh − pt + ky · dh.
      for (uint ky = 0; ky < p.kh; ky++)
        {
          int ny = int (oy) + p.pt - int (ky * p.dh);
          if (ny < 0 || ny % int (p.sh) != 0 || ny / int (p.sh) >= int (p.h))
            continue;
          uint iy = uint (ny) / p.sh;
          for (uint kx = 0; kx < p.kw; kx++)
            {
              int nx = int (ox) + p.pl - int (kx * p.dw);
              if (nx < 0 || nx % int (p.sw) != 0 || nx / int (p.sw) >= int (p.w))
                continue;
              uint ix = uint (nx) / p.sw;
              uint xb = ((n * p.h + iy) * p.w + ix) * p.cin;
              uint wb = ((ky * p.kw + kx) * p.cout + co0) * p.cin;
              for (uint ci = 0; ci < p.cin; ci++)
                {
                  float xv = x_f32[xb + ci];
                  [[unroll]] for (uint j = 0; j < CO; j++)
                    if (j < nco)
                      acc[j] += xv * w_f32[wb + j * p.cin + ci];
                }
            }
        }
    }

  uint yb = ((n * p.ho + oy) * p.wo + ox) * p.cout + co0;
  [[unroll]] for (uint j = 0; j < CO; j++)
    if (j < nco)
      {
        float v = acc[j] + (HAS_BIAS ? bias_f32[co0 + j] : 0.0);
        y_f32[yb + j] = lk_vision_act (ACT, v, ACT == 3 ? alpha_f32[co0 + j] : 0.0);
      }
}
