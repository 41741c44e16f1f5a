/* lk-image-color.c: LAB conversion and colour transfer
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>

#include "lk-image-color.h"

/* OpenCV's integer RGB→LAB: gamma-corrected values with 3 extra bits, a 12-bit XYZ matrix, a
 * cube-root table with 15 fractional bits indexed by the 11-bit XYZ values. */
#define GAMMA_SHIFT    3
#define LAB_SHIFT      12
#define LAB_SHIFT2     (LAB_SHIFT + GAMMA_SHIFT)
#define CBRT_TAB_SIZE  (256 * 3 / 2 * (1 << GAMMA_SHIFT))

static const double srgb_to_xyz[9] = {
  0.412453, 0.357580, 0.180423,
  0.212671, 0.715160, 0.072169,
  0.019334, 0.119193, 0.950227,
};
static const double xyz_to_srgb[9] = {
  3.240479, -1.53715, -0.498535,
  -0.969256, 1.875991, 0.041556,
  0.055648, -0.204043, 1.057311,
};
static const double d65_white[3] = { 0.950456, 1.0, 1.088754 };

typedef struct
{
  guint16 gamma[256];
  guint16 cbrt[CBRT_TAB_SIZE];
  int     coeffs[9];
} LabTables;

static double
srgb_to_linear (double v)
{
  return v <= 0.04045 ? v / 12.92 : pow ((v + 0.055) / 1.055, 2.4);
}

static double
linear_to_srgb (double v)
{
  return v <= 0.0031308 ? 12.92 * v : 1.055 * pow (v, 1.0 / 2.4) - 0.055;
}

static const LabTables *
lab_tables (void)
{
  static LabTables tables;
  static gsize initialized;

  if (g_once_init_enter (&initialized))
    {
      for (int i = 0; i < 256; i++)
        tables.gamma[i] = (guint16) lrint (255.0 * (1 << GAMMA_SHIFT) * srgb_to_linear (i / 255.0));
      for (int i = 0; i < CBRT_TAB_SIZE; i++)
        {
          double x = i / (255.0 * (1 << GAMMA_SHIFT));
          double f = x < 0.008856 ? x * 7.787 + 16.0 / 116.0 : cbrt (x);

          tables.cbrt[i] = (guint16) lrint ((1 << LAB_SHIFT2) * f);
        }
      for (int i = 0; i < 9; i++)
        tables.coeffs[i] = (int) lrint ((1 << LAB_SHIFT) * srgb_to_xyz[i] / d65_white[i / 3]);
      g_once_init_leave (&initialized, 1);
    }
  return &tables;
}

static inline guint8
saturate_u8 (int v)
{
  return (guint8) CLAMP (v, 0, 255);
}

#define DESCALE(x, n) (((x) + (1 << ((n) - 1))) >> (n))

LkImage *
lk_image_rgb_to_lab (const LkImage *rgb)
{
  const LabTables *t = lab_tables ();
  const int *c = t->coeffs;
  const int l_scale = (116 * 255 + 50) / 100;
  const int l_shift = -((16 * 255 * (1 << LAB_SHIFT2) + 50) / 100);
  LkImage *lab;

  g_return_val_if_fail (rgb != NULL && rgb->channels >= 3, NULL);

  lab = lk_image_new (rgb->width, rgb->height, 3);
  for (guint y = 0; y < rgb->height; y++)
    {
      const guint8 *s = rgb->data + y * rgb->stride;
      guint8 *d = lab->data + y * lab->stride;

      for (guint x = 0; x < rgb->width; x++, s += rgb->channels, d += 3)
        {
          int r = t->gamma[s[0]], g = t->gamma[s[1]], b = t->gamma[s[2]];
          int fx = t->cbrt[DESCALE (r * c[0] + g * c[1] + b * c[2], LAB_SHIFT)];
          int fy = t->cbrt[DESCALE (r * c[3] + g * c[4] + b * c[5], LAB_SHIFT)];
          int fz = t->cbrt[DESCALE (r * c[6] + g * c[7] + b * c[8], LAB_SHIFT)];

          d[0] = saturate_u8 (DESCALE (l_scale * fy + l_shift, LAB_SHIFT2));
          d[1] = saturate_u8 (DESCALE (500 * (fx - fy) + 128 * (1 << LAB_SHIFT2), LAB_SHIFT2));
          d[2] = saturate_u8 (DESCALE (200 * (fy - fz) + 128 * (1 << LAB_SHIFT2), LAB_SHIFT2));
        }
    }
  return lab;
}

/* OpenCV's integer LAB→RGB: L looks up Y and f(Y) with 14 fractional bits; a and b shift f(Y)
 * by fixed-point approximations of a / 500 and b / 200; a table inverts f for X and Z; a 12-bit
 * matrix (scaled by the white point) gives linear RGB with 12 bits, and a 4096-entry table
 * applies the sRGB gamma. The tables are built in single precision, as OpenCV's softfloat. */
#define INV_BASE_SHIFT   14
#define INV_BASE         (1 << INV_BASE_SHIFT)
#define INV_GAMMA_SHIFT  12
#define INV_GAMMA_SIZE   (1 << INV_GAMMA_SHIFT)
#define INV_SHIFT        (LAB_SHIFT + INV_BASE_SHIFT - INV_GAMMA_SHIFT)
#define AB_TAB_MIN       (-8145)
#define AB_TAB_SIZE      (INV_BASE * 9 / 4)

typedef struct
{
  guint16 y[256];                  /* Y of each L, × 2^14 */
  guint16 fy[256];                 /* f(Y) of each L, × 2^14 */
  int     xz[AB_TAB_SIZE];         /* f⁻¹ for X and Z, indexed from AB_TAB_MIN */
  guint16 gamma[INV_GAMMA_SIZE];   /* linear (12 bits) → sRGB byte */
  int     coeffs[9];
} LabInverseTables;

static const LabInverseTables *
lab_inverse_tables (void)
{
  static LabInverseTables tables;
  static gsize initialized;

  if (g_once_init_enter (&initialized))
    {
      for (int i = 0; i < 256; i++)
        {
          if (i <= 20)
            {
              /* the linear segment: L · 100 / 255 / 903.3 and 7.787 Y + 16 / 116 */
              tables.y[i] = (guint16) lrintf ((float) (i * INV_BASE * 20 * 9) /
                                              (float) (17 * 29 * 29 * 29));
              tables.fy[i] = (guint16) lrintf ((float) INV_BASE *
                                               (16.0f / 116.0f +
                                                (float) (i * 5) / (float) (3 * 17 * 29)));
            }
          else
            {
              float fy = (float) (i * 100 * INV_BASE) / (float) (255 * 116) +
                         (float) (16 * INV_BASE) / 116.0f;

              tables.fy[i] = (guint16) lrintf (fy);
              tables.y[i] = (guint16) lrintf (fy * fy * fy / (float) (INV_BASE * INV_BASE));
            }
        }
      for (int i = AB_TAB_MIN; i < AB_TAB_SIZE + AB_TAB_MIN; i++)
        {
          /* below 6/29 (3390 / 2^14) f is linear; above it the cube, in integers */
          if (i <= 3390)
            tables.xz[i - AB_TAB_MIN] = i * 108 / 841 - INV_BASE * 16 / 116 * 108 / 841;
          else
            tables.xz[i - AB_TAB_MIN] = i * i / INV_BASE * i / INV_BASE;
        }
      for (int i = 0; i < INV_GAMMA_SIZE; i++)
        {
          float x = (1.0f / INV_GAMMA_SIZE) * i;

          tables.gamma[i] = (guint16) lrintf (255.0f * (float) linear_to_srgb (x));
        }
      for (int k = 0; k < 3; k++)
        for (int i = 0; i < 3; i++)
          tables.coeffs[3 * k + i] = (int) lrint ((1 << LAB_SHIFT) * xyz_to_srgb[3 * k + i] *
                                                  d65_white[i]);
      g_once_init_leave (&initialized, 1);
    }
  return &tables;
}

LkImage *
lk_image_lab_to_rgb (const LkImage *lab)
{
  const LabInverseTables *t = lab_inverse_tables ();
  const int *c = t->coeffs;
  LkImage *rgb;

  g_return_val_if_fail (lab != NULL && lab->channels == 3, NULL);

  rgb = lk_image_new (lab->width, lab->height, 3);
  for (guint y = 0; y < lab->height; y++)
    {
      const guint8 *s = lab->data + y * lab->stride;
      guint8 *d = rgb->data + y * rgb->stride;

      for (guint x = 0; x < lab->width; x++, s += 3, d += 3)
        {
          int fy = t->fy[s[0]], yy = t->y[s[0]];
          /* a · 2^14 / 500 and b · 2^14 / 200, approximated as OpenCV does */
          int a_div = ((5 * s[1] * 53687 + (1 << 7)) >> 13) - 128 * INV_BASE / 500;
          int b_div = ((s[2] * 41943 + (1 << 4)) >> 9) - 128 * INV_BASE / 200 + 1;
          int xx = t->xz[fy + a_div - AB_TAB_MIN];
          int zz = t->xz[fy - b_div - AB_TAB_MIN];

          for (int k = 0; k < 3; k++)
            {
              int v = DESCALE (c[3 * k] * xx + c[3 * k + 1] * yy + c[3 * k + 2] * zz, INV_SHIFT);

              d[k] = saturate_u8 (t->gamma[CLAMP (v, 0, INV_GAMMA_SIZE - 1)]);
            }
        }
    }
  return rgb;
}

gboolean
lk_image_mean_std (const LkImage *image,
                   const LkImage *mask,
                   double        *mean,
                   double        *std)
{
  const guint cn = image->channels;
  double sum[4] = { 0 }, sum2[4] = { 0 };
  guint64 n = 0;

  g_return_val_if_fail (mask == NULL || (mask->channels == 1 && mask->width == image->width &&
                                         mask->height == image->height), FALSE);

  for (guint y = 0; y < image->height; y++)
    {
      const guint8 *s = image->data + y * image->stride;
      const guint8 *m = mask ? mask->data + y * mask->stride : NULL;

      for (guint x = 0; x < image->width; x++, s += cn)
        {
          if (m != NULL && m[x] == 0)
            continue;
          n++;
          for (guint c = 0; c < cn; c++)
            {
              sum[c] += s[c];
              sum2[c] += (double) s[c] * s[c];
            }
        }
    }
  if (n == 0)
    return FALSE;
  for (guint c = 0; c < cn; c++)
    {
      mean[c] = sum[c] / n;
      std[c] = sqrt (MAX (sum2[c] / n - mean[c] * mean[c], 0.0));
    }
  return TRUE;
}

static gboolean
check_mask (const LkImage  *mask,
            const LkImage  *image,
            const char     *what,
            GError        **error)
{
  if (mask == NULL || (mask->channels == 1 && mask->width == image->width &&
                       mask->height == image->height))
    return TRUE;
  g_set_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED,
               "colour transfer: the %s is %u × %u × %u; a %u × %u one-channel mask is needed",
               what, mask->width, mask->height, mask->channels, image->width, image->height);
  return FALSE;
}

LkImage *
lk_image_color_transfer (const LkImage  *source,
                         const LkImage  *reference,
                         const LkImage  *source_mask,
                         const LkImage  *reference_mask,
                         const LkImage  *blend_mask,
                         GError        **error)
{
  return lk_image_color_transfer_limited (source, reference, source_mask, reference_mask,
                                          blend_mask, 0, error);
}

LkImage *
lk_image_color_transfer_limited (const LkImage  *source,
                                 const LkImage  *reference,
                                 const LkImage  *source_mask,
                                 const LkImage  *reference_mask,
                                 const LkImage  *blend_mask,
                                 double          max_scale,
                                 GError        **error)
{
  g_autoptr(LkImage) source_lab = NULL;
  g_autoptr(LkImage) reference_lab = NULL;
  g_autoptr(LkImage) transferred = NULL;
  double s_mean[3], s_std[3], r_mean[3], r_std[3], scale[3];
  LkImage *out;

  g_return_val_if_fail (source != NULL && source->channels >= 3, NULL);
  g_return_val_if_fail (reference != NULL && reference->channels >= 3, NULL);

  if (!check_mask (source_mask, source, "source mask", error) ||
      !check_mask (reference_mask, reference, "reference mask", error) ||
      !check_mask (blend_mask, source, "blend mask", error))
    return NULL;
  source_lab = lk_image_rgb_to_lab (source);
  reference_lab = lk_image_rgb_to_lab (reference);
  if (!lk_image_mean_std (source_lab, source_mask, s_mean, s_std) ||
      !lk_image_mean_std (reference_lab, reference_mask, r_mean, r_std))
    {
      g_set_error_literal (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_EMPTY,
                           "colour transfer: a statistics mask selects no pixel");
      return NULL;
    }
  for (int c = 0; c < 3; c++)
    {
      /* EasyPhoto rounds the statistics to 2 decimals (np.around) */
      s_mean[c] = nearbyint (s_mean[c] * 100) / 100;
      s_std[c] = nearbyint (s_std[c] * 100) / 100;
      r_mean[c] = nearbyint (r_mean[c] * 100) / 100;
      r_std[c] = nearbyint (r_std[c] * 100) / 100;
      /* a flat source channel has nothing to stretch: move its mean only */
      scale[c] = s_std[c] > 0 ? r_std[c] / s_std[c] : 1.0;
      if (max_scale > 0)
        scale[c] = CLAMP (scale[c], 1.0 / max_scale, max_scale);
    }
  for (guint y = 0; y < source_lab->height; y++)
    {
      guint8 *p = source_lab->data + y * source_lab->stride;

      for (guint x = 0; x < source_lab->width * 3; x++)
        {
          int c = x % 3;
          double v = (p[x] - s_mean[c]) * scale[c] + r_mean[c];

          p[x] = (guint8) lrint (CLAMP (v, 0.0, 255.0));
        }
    }
  transferred = lk_image_lab_to_rgb (source_lab);

  out = lk_image_copy (source);
  for (guint y = 0; y < out->height; y++)
    {
      guint8 *d = out->data + y * out->stride;
      const guint8 *t = transferred->data + y * transferred->stride;
      const guint8 *m = blend_mask ? blend_mask->data + y * blend_mask->stride : NULL;

      for (guint x = 0; x < out->width; x++, d += out->channels, t += 3)
        {
          int w = m ? m[x] : 255;

          for (int c = 0; c < 3; c++)
            d[c] = (guint8) ((t[c] * w + d[c] * (255 - w) + 127) / 255);
        }
    }
  return out;
}
