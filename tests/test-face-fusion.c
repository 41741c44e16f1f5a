/* test-face-fusion.c: EasyPhoto-style face fusion on synthetic faces and a real photo
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include "lk-face-fusion.h"
#include "lk-image-color.h"
#include "lk-image-filter.h"
#include "lk-image-warp.h"
#include "lk-test-util.h"

/* A face drawn in its own coordinates; the images are drawn through a similarity. */
typedef struct
{
  double  cx, cy, rx, ry;          /* face oval */
  LkPoint eyes[2];
  double  eye_radius;
  LkPoint mouth;                   /* lips: an ellipse */
  double  mouth_rx, mouth_ry;
  guint8  skin[3], eye[3], lip[3], background[3];
} Face;

static const Face canonical = {
  128, 136, 70, 90,
  { { 100, 115 }, { 156, 115 } }, 13,
  { 128, 185 }, 28, 10,
  { 200, 150, 130 }, { 40, 60, 120 }, { 180, 50, 70 }, { 90, 110, 90 },
};

static gboolean
in_ellipse (double x,
            double y,
            double cx,
            double cy,
            double rx,
            double ry)
{
  return (x - cx) * (x - cx) / (rx * rx) + (y - cy) * (y - cy) / (ry * ry) < 1;
}

/* The face's colour at face coordinates (x, y), with texture so statistics have spread. */
static void
face_colour (const Face *face,
             double      x,
             double      y,
             guint8     *rgb)
{
  const guint8 *base = face->background;
  double texture = 12 * sin (x / 5.0) * cos (y / 7.0);

  if (in_ellipse (x, y, face->cx, face->cy, face->rx, face->ry))
    base = face->skin;
  for (int i = 0; i < 2; i++)
    if (hypot (x - face->eyes[i].x, y - face->eyes[i].y) < face->eye_radius)
      base = face->eye;
  if (in_ellipse (x, y, face->mouth.x, face->mouth.y, face->mouth_rx, face->mouth_ry))
    base = face->lip;
  if (base == face->background)
    texture = 30 * ((((int) x / 8) + ((int) y / 8)) % 2);   /* a checker, far from any face */
  for (int c = 0; c < 3; c++)
    rgb[c] = CLAMP ((int) lrint (base[c] + texture), 0, 255);
}

/* The face drawn through @to_image (face coordinates → pixels). */
static LkImage *
draw_face (const Face     *face,
           const LkAffine *to_image,
           guint           width,
           guint           height)
{
  LkImage *image = lk_image_new (width, height, 3);
  LkAffine to_face;

  g_assert_true (lk_affine_invert (to_image, &to_face));
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        LkPoint p = lk_affine_apply (&to_face, (LkPoint) { x, y });

        face_colour (face, p.x, p.y, lk_image_pixel (image, x, y));
      }
  return image;
}

static void
face_points (const Face     *face,
             const LkAffine *to_image,
             LkPoint        *points)
{
  const LkPoint canonical_points[5] = {
    face->eyes[0], face->eyes[1], { face->cx, face->cy + 14 },
    { face->mouth.x - face->mouth_rx, face->mouth.y },
    { face->mouth.x + face->mouth_rx, face->mouth.y },
  };

  for (int i = 0; i < 5; i++)
    points[i] = lk_affine_apply (to_image, canonical_points[i]);
}

typedef struct
{
  LkImage *oval, *skin, *eyes, *lips;
} Masks;

static void
masks_clear (Masks *masks)
{
  g_clear_pointer (&masks->oval, lk_image_free);
  g_clear_pointer (&masks->skin, lk_image_free);
  g_clear_pointer (&masks->eyes, lk_image_free);
  g_clear_pointer (&masks->lips, lk_image_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Masks, masks_clear)

/* Region masks of a face drawn with the identity (what FaceMesh would give). */
static void
face_masks (const Face *face,
            guint       width,
            guint       height,
            Masks      *masks)
{
  masks->oval = lk_image_new (width, height, 1);
  masks->skin = lk_image_new (width, height, 1);
  masks->eyes = lk_image_new (width, height, 1);
  masks->lips = lk_image_new (width, height, 1);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        gboolean oval = in_ellipse (x, y, face->cx, face->cy, face->rx, face->ry);
        gboolean eye = hypot (x - face->eyes[0].x, y - face->eyes[0].y) < face->eye_radius ||
                       hypot (x - face->eyes[1].x, y - face->eyes[1].y) < face->eye_radius;
        gboolean lip = in_ellipse (x, y, face->mouth.x, face->mouth.y, face->mouth_rx,
                                   face->mouth_ry);

        lk_image_pixel (masks->oval, x, y)[0] = oval ? 255 : 0;
        lk_image_pixel (masks->eyes, x, y)[0] = eye ? 255 : 0;
        lk_image_pixel (masks->lips, x, y)[0] = lip ? 255 : 0;
        lk_image_pixel (masks->skin, x, y)[0] = oval && !eye && !lip ? 255 : 0;
      }
}

static LkFaceRegions
regions_of (const Masks *masks)
{
  return (LkFaceRegions) { .skin = masks->skin, .eyes = masks->eyes, .lips = masks->lips,
                           .oval = masks->oval };
}

static void
assert_unchanged_outside (const LkImage *out,
                          const LkImage *target,
                          const LkImage *oval)
{
  gsize n = 0;

  for (guint y = 0; y < target->height; y++)
    for (guint x = 0; x < target->width; x++)
      if (lk_image_pixel (oval, x, y)[0] == 0)
        {
          g_assert_cmpmem (lk_image_pixel (out, x, y), target->channels,
                           lk_image_pixel (target, x, y), target->channels);
          n++;
        }
  g_assert_cmpuint (n, >, 0);
}

static void
mean_colour (const LkImage *image,
             const LkImage *mask,
             double        *mean)
{
  double std[3];

  g_assert_true (lk_image_mean_std (image, mask, mean, std));
}

static void
test_synthetic (void)
{
  const LkAffine identity = { { 1, 0, 0, 0, 1, 0 } };
  /* the reference: the same layout rotated, larger, shifted, with green eyes and darker skin */
  const double angle = 0.25, scale = 1.3;
  const LkAffine pose = { { scale * cos (angle), -scale * sin (angle), 10,
                            scale * sin (angle), scale * cos (angle), -60 } };
  Face other = canonical;
  g_auto(Masks) masks = { 0 };
  g_autoptr(LkImage) target = draw_face (&canonical, &identity, 256, 256);
  g_autoptr(LkImage) reference = NULL;
  g_autoptr(LkImage) fused = NULL;
  g_autoptr(LkImage) plain = NULL;
  g_autoptr(LkImage) weights = NULL;
  g_autoptr(GError) error = NULL;
  LkPoint target_points[5], reference_points[5];
  LkFaceRegions regions;
  LkFaceFusionParams params;
  double target_skin[3], fused_skin[3], plain_skin[3], reference_skin[3];
  const guint8 *eye, *lip;

  other.eye[0] = 40;
  other.eye[1] = 170;
  other.eye[2] = 50;
  other.skin[0] = 150;
  other.skin[1] = 105;
  other.skin[2] = 90;
  reference = draw_face (&other, &pose, 320, 300);
  face_points (&canonical, &identity, target_points);
  face_points (&other, &pose, reference_points);
  face_masks (&canonical, 256, 256, &masks);
  regions = regions_of (&masks);

  fused = lk_face_fuse (reference, reference_points, target, target_points, 5, &regions, NULL,
                        &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fused->width, ==, 256);
  g_assert_cmpuint (fused->channels, ==, 3);

  /* outside the face oval the target is untouched */
  assert_unchanged_outside (fused, target, masks.oval);

  /* the weights: eyes 1, lips 0, skin 0.6, nothing outside the oval */
  weights = lk_face_fusion_weights (&regions, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lk_image_pixel (weights, 100, 115)[0], ==, 255);
  g_assert_cmpuint (lk_image_pixel (weights, 128, 185)[0], ==, 0);
  g_assert_cmpuint (lk_image_pixel (weights, 100, 150)[0], ==, 153);
  for (guint y = 0; y < 256; y++)
    for (guint x = 0; x < 256; x++)
      if (lk_image_pixel (masks.oval, x, y)[0] == 0)
        g_assert_cmpuint (lk_image_pixel (weights, x, y)[0], ==, 0);

  /* inside the eyes: the reference's green eyes, warped to the right place */
  for (int i = 0; i < 2; i++)
    {
      eye = lk_image_pixel (fused, canonical.eyes[i].x, canonical.eyes[i].y);
      g_test_message ("eye %d: target %u %u %u, fused %u %u %u", i,
                      lk_image_pixel (target, canonical.eyes[i].x, canonical.eyes[i].y)[0],
                      lk_image_pixel (target, canonical.eyes[i].x, canonical.eyes[i].y)[1],
                      lk_image_pixel (target, canonical.eyes[i].x, canonical.eyes[i].y)[2],
                      eye[0], eye[1], eye[2]);
      /* green, where the target's eyes are blue: colour matching lightens it with the skin */
      g_assert_cmpint (eye[1], >, eye[0] + 30);
      g_assert_cmpint (eye[1], >, eye[2] + 30);
    }
  /* the lips keep the target's mouth, byte for byte at its centre */
  lip = lk_image_pixel (fused, canonical.mouth.x, canonical.mouth.y);
  g_assert_cmpmem (lip, 3, lk_image_pixel (target, canonical.mouth.x, canonical.mouth.y), 3);

  /* colour matching keeps the target's skin tone; without it the darker reference shows */
  mean_colour (target, masks.skin, target_skin);
  mean_colour (fused, masks.skin, fused_skin);
  lk_face_fusion_params_init (&params);
  params.color_match = FALSE;
  plain = lk_face_fuse (reference, reference_points, target, target_points, 5, &regions, &params,
                        &error);
  g_assert_no_error (error);
  mean_colour (plain, masks.skin, plain_skin);
  for (int c = 0; c < 3; c++)
    reference_skin[c] = other.skin[c];
  g_test_message ("skin mean: target %.1f %.1f %.1f, fused %.1f %.1f %.1f, without colour "
                  "matching %.1f %.1f %.1f", target_skin[0], target_skin[1], target_skin[2],
                  fused_skin[0], fused_skin[1], fused_skin[2], plain_skin[0], plain_skin[1],
                  plain_skin[2]);
  for (int c = 0; c < 3; c++)
    {
      g_assert_cmpfloat (fabs (fused_skin[c] - target_skin[c]), <, 4);
      /* the plain blend moves the skin most of 0.6 of the way to the reference */
      g_assert_cmpfloat (fabs (plain_skin[c] - target_skin[c]), >,
                         0.35 * fabs (reference_skin[c] - target_skin[c]));
    }
}

static void
test_errors (void)
{
  g_autoptr(LkImage) target = lk_image_new (64, 64, 3);
  g_autoptr(LkImage) reference = lk_image_new (64, 64, 3);
  g_autoptr(LkImage) small = lk_image_new (32, 32, 1);
  g_autoptr(LkImage) oval = lk_image_new (64, 64, 1);
  g_autoptr(LkImage) gray = lk_image_new (64, 64, 1);
  const LkPoint points[2] = { { 10, 10 }, { 30, 12 } };
  const LkPoint same[2] = { { 10, 10 }, { 10, 10 } };
  LkFaceRegions regions = { .oval = oval };
  LkFaceRegions wrong = { .oval = oval, .eyes = small };
  LkFaceRegions none = { 0 };
  g_autoptr(GError) error = NULL;

  /* an empty oval, a mask of the wrong size, no oval, degenerate points, a gray image */
  g_assert_null (lk_face_fuse (reference, points, target, points, 2, &regions, NULL, &error));
  g_assert_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_EMPTY);
  g_clear_error (&error);
  memset (oval->data, 255, 64 * 64);
  g_assert_null (lk_face_fuse (reference, points, target, points, 2, &wrong, NULL, &error));
  g_assert_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "eyes"));
  g_clear_error (&error);
  g_assert_null (lk_face_fuse (reference, points, target, points, 2, &none, NULL, &error));
  g_assert_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_EMPTY);
  g_clear_error (&error);
  g_assert_null (lk_face_fuse (reference, same, target, points, 2, &regions, NULL, &error));
  g_assert_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_assert_null (lk_face_fuse (gray, points, target, points, 2, &regions, NULL, &error));
  g_assert_error (error, LK_IMAGE_ERROR, LK_IMAGE_ERROR_UNSUPPORTED);
}

/* astronaut.png's face, placed by hand: eye centres, nose tip, mouth corners. */
static const LkPoint astronaut_points[5] = {
  { 205, 101 }, { 246, 104 }, { 225, 126 }, { 203, 141 }, { 242, 142 },
};

static LkImage *
ellipse_mask (guint  width,
              guint  height,
              double cx,
              double cy,
              double rx,
              double ry)
{
  LkImage *mask = lk_image_new (width, height, 1);

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      if (in_ellipse (x, y, cx, cy, rx, ry))
        lk_image_pixel (mask, x, y)[0] = 255;
  return mask;
}

/* The photo fused with a rotated, enlarged, colour-cast copy of itself gives the photo back:
 * the warp lands the face on itself and the colour transfer undoes the cast. */
static void
test_photo_self_fusion (void)
{
  const char *dir = g_getenv ("LIKENESS_TEST_DATA");
  g_autofree char *shared = NULL;
  g_autofree char *path = NULL;
  g_autoptr(LkImage) target = NULL;
  g_autoptr(LkImage) reference = NULL;
  g_autoptr(LkImage) fused = NULL;
  g_auto(Masks) masks = { 0 };
  g_autoptr(LkImage) eye2 = NULL;
  g_autoptr(LkImage) core = NULL;
  g_autoptr(GError) error = NULL;
  const double angle = -0.2, scale = 1.2;
  const LkAffine pose = { { scale * cos (angle), -scale * sin (angle), -40,
                            scale * sin (angle), scale * cos (angle), 70 } };
  LkPoint reference_points[5];
  LkFaceRegions regions;
  double diff_fused = 0, diff_reference = 0;
  gsize n = 0;
  gint64 start;

  if (dir == NULL && g_getenv ("LIKENESS_SOURCE_DIR") != NULL)
    dir = shared = g_build_filename (g_getenv ("LIKENESS_SOURCE_DIR"), "..", "shared", "testdata",
                                     NULL);
  path = dir ? g_build_filename (dir, "astronaut.png", NULL) : NULL;
  if (path == NULL || !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("astronaut.png not found (set LIKENESS_TEST_DATA)");
      return;
    }
  target = lk_image_load (path, 3, &error);
  g_assert_no_error (error);

  reference = lk_image_warp_affine (target, &pose, 560, 600, LK_BORDER_REPLICATE, 0);
  for (gsize i = 0; i < reference->stride * reference->height; i += 3)
    {
      reference->data[i] = reference->data[i] * 8 / 10;
      reference->data[i + 2] = MIN (reference->data[i + 2] + 25, 255);
    }
  for (int i = 0; i < 5; i++)
    reference_points[i] = lk_affine_apply (&pose, astronaut_points[i]);

  masks.oval = ellipse_mask (512, 512, 226, 130, 42, 52);
  masks.eyes = ellipse_mask (512, 512, 205, 101, 8, 5);
  eye2 = ellipse_mask (512, 512, 246, 104, 8, 5);
  masks.lips = ellipse_mask (512, 512, 223, 143, 21, 8);
  masks.skin = lk_image_copy (masks.oval);
  for (gsize i = 0; i < 512 * 512; i++)
    {
      masks.eyes->data[i] |= eye2->data[i];
      if (masks.eyes->data[i] || masks.lips->data[i])
        masks.skin->data[i] = 0;
    }
  regions = regions_of (&masks);

  start = g_get_monotonic_time ();
  fused = lk_face_fuse (reference, reference_points, target, astronaut_points, 5, &regions, NULL,
                        &error);
  g_test_message ("fusion on 512×512: %.1f ms", (g_get_monotonic_time () - start) / 1000.0);
  g_assert_no_error (error);
  assert_unchanged_outside (fused, target, masks.oval);

  /* inside the face (where the reference counts), the fused face is the photo's own */
  core = lk_image_erode (masks.oval, LK_MORPH_ELLIPSE, 21, 21, 1);
  {
    g_autoptr(LkImage) back = NULL;
    LkAffine inverse;

    g_assert_true (lk_affine_invert (&pose, &inverse));
    back = lk_image_warp_affine (reference, &inverse, 512, 512, LK_BORDER_REPLICATE, 0);
    for (guint y = 0; y < 512; y++)
      for (guint x = 0; x < 512; x++)
        if (lk_image_pixel (core, x, y)[0])
          for (int c = 0; c < 3; c++, n++)
            {
              diff_fused += ABS (lk_image_pixel (fused, x, y)[c] -
                                 lk_image_pixel (target, x, y)[c]);
              diff_reference += ABS (lk_image_pixel (back, x, y)[c] -
                                     lk_image_pixel (target, x, y)[c]);
            }
  }
  g_test_message ("astronaut self-fusion: mean |fused − photo| %.2f, mean |cast reference − "
                  "photo| %.2f over the face", diff_fused / n, diff_reference / n);
  g_assert_cmpfloat (diff_fused / n, <, 4.0);
  g_assert_cmpfloat (diff_reference / n, >, 10.0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/face-fusion/synthetic", test_synthetic);
  g_test_add_func ("/face-fusion/errors", test_errors);
  g_test_add_func ("/face-fusion/photo-self-fusion", test_photo_self_fusion);
  return g_test_run ();
}
