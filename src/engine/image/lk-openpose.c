/* lk-openpose.c: OpenPose control images
 *
 * Copyright 2026 The Likeness authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "lk-openpose"

#include "config.h"

#include <math.h>
#include <string.h>

#include "lk-openpose.h"

#define STICK_WIDTH   4
#define BODY_RADIUS   4
#define FACE_RADIUS   3
#define LIMB_OPACITY  0.6f

/* OpenCV's fixed point for polygon edges. */
#define XY_SHIFT 16
#define XY_ONE   (G_GINT64_CONSTANT (1) << XY_SHIFT)

/* Keypoint pairs (1-based, as the annotator lists them) of the limbs drawn, in order. */
static const guint8 limbs[LK_OPENPOSE_LIMBS][2] = {
  { 2, 3 }, { 2, 6 }, { 3, 4 }, { 4, 5 }, { 6, 7 }, { 7, 8 }, { 2, 9 }, { 9, 10 }, { 10, 11 },
  { 2, 12 }, { 12, 13 }, { 13, 14 }, { 2, 1 }, { 1, 15 }, { 15, 17 }, { 1, 16 }, { 16, 18 },
};

/* A hue wheel in 18 steps from red, as the annotator's colour list runs. */
static const guint8 colors[LK_OPENPOSE_BODY_POINTS][3] = {
  { 255, 0, 0 }, { 255, 85, 0 }, { 255, 170, 0 }, { 255, 255, 0 }, { 170, 255, 0 },
  { 85, 255, 0 }, { 0, 255, 0 }, { 0, 255, 85 }, { 0, 255, 170 }, { 0, 255, 255 },
  { 0, 170, 255 }, { 0, 85, 255 }, { 0, 0, 255 }, { 85, 0, 255 }, { 170, 0, 255 },
  { 255, 0, 255 }, { 255, 0, 170 }, { 255, 0, 85 },
};

void
lk_openpose_color (guint  index,
                   guint8 rgb[3])
{
  g_return_if_fail (index < LK_OPENPOSE_BODY_POINTS);
  memcpy (rgb, colors[index], 3);
}

typedef struct
{
  guint8 *rgb;
  guint8 *mask;  /* a polygon's pixels, before they are blended in */
  gint    width, height;
} Canvas;

typedef struct
{
  gint64 x, y;
} Point;

/* @color NULL: into the mask. */
static void
put (Canvas       *canvas,
     gint          x,
     gint          y,
     const guint8 *color)
{
  gsize i = (gsize) y * canvas->width + x;

  if (color == NULL)
    canvas->mask[i] = 1;
  else
    memcpy (canvas->rgb + 3 * i, color, 3);
}

static void
hline (Canvas       *canvas,
       gint          y,
       gint          x1,
       gint          x2,
       const guint8 *color)
{
  for (gint x = x1; x <= x2; x++)
    put (canvas, x, y, color);
}

/* OpenCV's filled Circle() (thickness −1, 8-connected, no sub-pixel shift): the midpoint circle
 * walk, each step filling the four spans it reaches, clipped to the image. */
static void
fill_circle (Canvas       *canvas,
             gint          cx,
             gint          cy,
             gint          radius,
             const guint8 *color)
{
  gint w = canvas->width, h = canvas->height;
  gint err = 0, dx = radius, dy = 0, plus = 1, minus = (radius << 1) - 1;

  while (dx >= dy)
    {
      gint spans[4][3] = {
        { cy - dy, cx - dx, cx + dx }, { cy + dy, cx - dx, cx + dx },
        { cy - dx, cx - dy, cx + dy }, { cy + dx, cx - dy, cx + dy },
      };
      gint mask;

      if (cx - dx < w && cx + dx >= 0 && cy - dx < h && cy + dx >= 0)
        for (guint s = 0; s < 4; s++)
          {
            gint y = spans[s][0], x1 = MAX (spans[s][1], 0), x2 = MIN (spans[s][2], w - 1);

            /* The inner spans are skipped as a pair when entirely outside, as OpenCV does. */
            if (s >= 2 && (spans[s][1] >= w || spans[s][2] < 0))
              continue;
            if (y >= 0 && y < h)
              hline (canvas, y, x1, x2, color);
          }
      dy++;
      err += plus;
      plus += 2;
      mask = (err <= 0) - 1;
      err -= minus & mask;
      dx += mask;
      minus -= mask & 2;
    }
}

/* OpenCV's clipLine() on a width × height image; FALSE when nothing is left. */
static gboolean
clip_line (gint64  width,
           gint64  height,
           Point  *p1,
           Point  *p2)
{
  gint64 right = width - 1, bottom = height - 1;
  gint c1, c2;

#define OUTCODE(p) (((p)->x < 0) + ((p)->x > right) * 2 + ((p)->y < 0) * 4 + ((p)->y > bottom) * 8)
  c1 = OUTCODE (p1);
  c2 = OUTCODE (p2);
  if ((c1 & c2) == 0 && (c1 | c2) != 0)
    {
      gint64 a;

      if (c1 & 12)
        {
          a = c1 < 8 ? 0 : bottom;
          p1->x += (a - p1->y) * (p2->x - p1->x) / (p2->y - p1->y);
          p1->y = a;
          c1 = (p1->x < 0) + (p1->x > right) * 2;
        }
      if (c2 & 12)
        {
          a = c2 < 8 ? 0 : bottom;
          p2->x += (a - p2->y) * (p2->x - p1->x) / (p2->y - p1->y);
          p2->y = a;
          c2 = (p2->x < 0) + (p2->x > right) * 2;
        }
      if ((c1 & c2) == 0 && (c1 | c2) != 0)
        {
          if (c1)
            {
              a = c1 == 1 ? 0 : right;
              p1->y += (a - p1->x) * (p2->y - p1->y) / (p2->x - p1->x);
              p1->x = a;
              c1 = 0;
            }
          if (c2)
            {
              a = c2 == 1 ? 0 : right;
              p2->y += (a - p2->x) * (p2->y - p1->y) / (p2->x - p1->x);
              p2->x = a;
              c2 = 0;
            }
        }
    }
#undef OUTCODE
  return (c1 | c2) == 0;
}

/* OpenCV's 8-connected Line(): Bresenham from the left end point, error term as LineIterator
 * keeps it. */
static void
line_8 (Canvas *canvas,
        Point   p1,
        Point   p2)
{
  gint64 dx, dy, err, major_x, major_y, minor_x, minor_y, count;
  gint64 x, y;

  if ((p1.x < 0 || p1.x >= canvas->width || p2.x < 0 || p2.x >= canvas->width ||
       p1.y < 0 || p1.y >= canvas->height || p2.y < 0 || p2.y >= canvas->height) &&
      !clip_line (canvas->width, canvas->height, &p1, &p2))
    return;

  dx = p2.x - p1.x;
  dy = p2.y - p1.y;
  if (dx < 0)
    {
      Point t = p1;

      p1 = p2;
      p2 = t;
      dx = -dx;
      dy = -dy;
    }
  x = p1.x;
  y = p1.y;
  if (dy > dx || -dy > dx)
    {
      major_x = 0, major_y = dy < 0 ? -1 : 1;
      minor_x = 1, minor_y = 0;
      dy = ABS (dy);
      err = dy - (dx + dx);
      count = dy + 1;
      for (gint64 i = 0; i < count; i++)
        {
          gboolean step_minor = err < 0;

          put (canvas, x, y, NULL);
          err += -(dx + dx) + (step_minor ? dy + dy : 0);
          x += major_x + (step_minor ? minor_x : 0);
          y += major_y + (step_minor ? minor_y : 0);
        }
    }
  else
    {
      major_x = 1, major_y = 0;
      minor_x = 0, minor_y = dy < 0 ? -1 : 1;
      dy = ABS (dy);
      err = dx - (dy + dy);
      count = dx + 1;
      for (gint64 i = 0; i < count; i++)
        {
          gboolean step_minor = err < 0;

          put (canvas, x, y, NULL);
          err += -(dy + dy) + (step_minor ? dx + dx : 0);
          x += major_x + (step_minor ? minor_x : 0);
          y += major_y + (step_minor ? minor_y : 0);
        }
    }
}

/* OpenCV's FillConvexPoly() for integer vertices and 8-connected edges: the outline first, then
 * spans between a left and a right edge walked down from the top vertex in 16.16 fixed point. */
static void
fill_convex_poly (Canvas      *canvas,
                  const Point *v,
                  gint         n)
{
  struct
  {
    gint   idx, di;
    gint64 x, dx;
    gint64 ye;
  } edge[2];
  gint64 xmin, xmax, ymin, ymax, y;
  gint imin = 0, edges = n;
  const gint64 delta1 = XY_ONE >> 1, delta2 = XY_ONE >> 1;
  Point p0 = v[n - 1];

  xmin = xmax = v[0].x;
  ymin = ymax = v[0].y;
  for (gint i = 0; i < n; i++)
    {
      if (v[i].y < ymin)
        {
          ymin = v[i].y;
          imin = i;
        }
      ymax = MAX (ymax, v[i].y);
      xmax = MAX (xmax, v[i].x);
      xmin = MIN (xmin, v[i].x);
      line_8 (canvas, p0, v[i]);
      p0 = v[i];
    }
  if (n < 3 || xmax < 0 || ymax < 0 || xmin >= canvas->width || ymin >= canvas->height)
    return;

  ymax = MIN (ymax, canvas->height - 1);
  edge[0].idx = edge[1].idx = imin;
  edge[0].ye = edge[1].ye = y = ymin;
  edge[0].di = 1;
  edge[1].di = n - 1;
  edge[0].x = edge[1].x = -XY_ONE;
  edge[0].dx = edge[1].dx = 0;

  do
    {
      for (gint i = 0; i < 2; i++)
        if (y >= edge[i].ye)
          {
            gint idx0 = edge[i].idx, di = edge[i].di;
            gint idx = idx0 + di;

            if (idx >= n)
              idx -= n;
            for (; edges-- > 0;)
              {
                gint64 ty = v[idx].y;

                if (ty > y)
                  {
                    gint64 xs = v[idx0].x << XY_SHIFT, xe = v[idx].x << XY_SHIFT;

                    edge[i].ye = ty;
                    edge[i].dx = ((xe - xs) * 2 + (ty - y)) / (2 * (ty - y));
                    edge[i].x = xs;
                    edge[i].idx = idx;
                    break;
                  }
                idx0 = idx;
                idx += di;
                if (idx >= n)
                  idx -= n;
              }
          }
      if (edges < 0)
        break;
      if (y >= 0)
        {
          gint left = edge[0].x > edge[1].x ? 1 : 0, right = 1 - left;
          gint64 x1 = (edge[left].x + delta1) >> XY_SHIFT;
          gint64 x2 = (edge[right].x + delta2) >> XY_SHIFT;

          if (x2 >= 0 && x1 < canvas->width)
            hline (canvas, y, MAX (x1, 0), MIN (x2, canvas->width - 1), NULL);
        }
      edge[0].x += edge[0].dx;
      edge[1].x += edge[1].dx;
    }
  while (++y <= ymax);
}

/* OpenCV's sine table: sin of whole degrees 0..450 to 7 decimals, as float. */
static float
sin_degrees (gint degrees)
{
  return (float) (rint (sin (degrees * G_PI / 180.0) * 1e7) / 1e7);
}

/* OpenCV's ellipse2Poly() for a whole ellipse at 1° steps, rounded to pixels, consecutive
 * duplicates dropped. Returns the number of points written to @pts (at most 361). */
static gint
ellipse_to_poly (gint   cx,
                 gint   cy,
                 gint   axis_x,
                 gint   axis_y,
                 gint   angle,
                 Point *pts)
{
  double alpha, beta;
  gint n = 0;

  while (angle < 0)
    angle += 360;
  while (angle > 360)
    angle -= 360;
  alpha = sin_degrees (450 - angle);
  beta = sin_degrees (angle);
  for (gint a = 0; a <= 360; a++)
    {
      double x = axis_x * (double) sin_degrees (450 - a);
      double y = axis_y * (double) sin_degrees (a);
      Point p = { (gint64) rint (cx + x * alpha - y * beta), (gint64) rint (cy + x * beta + y * alpha) };

      if (n == 0 || p.x != pts[n - 1].x || p.y != pts[n - 1].y)
        pts[n++] = p;
    }
  if (n == 1)
    {
      pts[0] = pts[1] = (Point) { cx, cy };
      n = 2;
    }
  return n;
}

static gboolean
point_present (const LkPosePoint *p)
{
  return p->x >= 0 && p->y >= 0;
}

/* One limb's ellipse into the mask (cleared first). */
static void
limb_mask (Canvas            *canvas,
           const LkPosePoint *a,
           const LkPosePoint *b)
{
  Point pts[362];
  double ya = a->x * (double) canvas->width, yb = b->x * (double) canvas->width;
  double xa = a->y * (double) canvas->height, xb = b->y * (double) canvas->height;
  double mean_x = (xa + xb) / 2, mean_y = (ya + yb) / 2;
  double length = sqrt ((xa - xb) * (xa - xb) + (ya - yb) * (ya - yb));
  double angle = atan2 (xa - xb, ya - yb) * 180.0 / G_PI;
  gint n;

  n = ellipse_to_poly ((gint) mean_y, (gint) mean_x, (gint) (length / 2), STICK_WIDTH,
                       (gint) angle, pts);
  memset (canvas->mask, 0, (gsize) canvas->width * canvas->height);
  fill_convex_poly (canvas, pts, n);
}

/* The limb's pixels 40 % what was there and 60 % the colour, rounded as addWeighted rounds
 * (everything else is left as it was); or, for the WebUI, the colour itself. */
static void
draw_limb (Canvas            *canvas,
           const LkPosePoint *a,
           const LkPosePoint *b,
           const guint8      *color,
           gboolean           blend)
{
  gsize size = (gsize) canvas->width * canvas->height;

  limb_mask (canvas, a, b);
  for (gsize i = 0; i < size; i++)
    if (canvas->mask[i])
      for (guint c = 0; c < 3; c++)
        {
          guint8 *v = &canvas->rgb[3 * i + c];

          if (blend)
            *v = (guint8) CLAMP (rintf ((float) *v * (1.0f - LIMB_OPACITY) +
                                        (float) color[c] * LIMB_OPACITY), 0, 255);
          else
            *v = color[c];
        }
}

static void
draw_body_points (Canvas       *canvas,
                  const LkPose *pose,
                  guint         i)
{
  const LkPosePoint *k = &pose->body[i];

  if (point_present (k))
    fill_circle (canvas, (gint) (k->x * (double) canvas->width),
                 (gint) (k->y * (double) canvas->height), BODY_RADIUS, colors[i]);
}

static void
draw_limbs (Canvas       *canvas,
            const LkPose *pose,
            guint         i,
            gboolean      blend)
{
  const LkPosePoint *a = &pose->body[limbs[i][0] - 1];
  const LkPosePoint *b = &pose->body[limbs[i][1] - 1];

  if (point_present (a) && point_present (b))
    draw_limb (canvas, a, b, colors[i], blend);
}

/* The annotator draws a landmark at x, y ≥ 0; the WebUI at x, y > 0.01 (whole pixels, so ≥ 1). */
static void
draw_face (Canvas       *canvas,
           const LkPose *pose,
           gint          min)
{
  static const guint8 white[3] = { 255, 255, 255 };

  for (guint i = 0; pose->face != NULL && i < pose->n_face; i++)
    {
      gint x = (gint) (pose->face[i].x * (double) canvas->width);
      gint y = (gint) (pose->face[i].y * (double) canvas->height);

      if (x >= min && y >= min)
        fill_circle (canvas, x, y, FACE_RADIUS, white);
    }
}

guint8 *
lk_openpose_draw (const LkPose    *poses,
                  guint            n_poses,
                  guint            width,
                  guint            height,
                  LkOpenposeStyle  style)
{
  Canvas canvas;

  g_return_val_if_fail (poses != NULL || n_poses == 0, NULL);
  g_return_val_if_fail (width > 0 && height > 0 && width <= G_MAXINT / 4 && height <= G_MAXINT / 4,
                        NULL);
  g_return_val_if_fail (style == LK_OPENPOSE_STYLE_CONTROLNET || style == LK_OPENPOSE_STYLE_WEBUI,
                        NULL);

  canvas.width = width;
  canvas.height = height;
  canvas.rgb = g_malloc0 ((gsize) width * height * 3);
  canvas.mask = g_malloc ((gsize) width * height);

  if (style == LK_OPENPOSE_STYLE_CONTROLNET)
    {
      for (guint i = 0; i < LK_OPENPOSE_BODY_POINTS; i++)
        for (guint p = 0; p < n_poses; p++)
          draw_body_points (&canvas, &poses[p], i);
      for (guint i = 0; i < LK_OPENPOSE_LIMBS; i++)
        for (guint p = 0; p < n_poses; p++)
          draw_limbs (&canvas, &poses[p], i, TRUE);
      for (guint p = 0; p < n_poses; p++)
        draw_face (&canvas, &poses[p], 0);
    }
  else
    for (guint p = 0; p < n_poses; p++)
      {
        for (guint i = 0; i < LK_OPENPOSE_LIMBS; i++)
          draw_limbs (&canvas, &poses[p], i, FALSE);
        /* numpy's (canvas * 0.6).astype (uint8): in double, truncated. */
        for (gsize i = 0; i < (gsize) width * height * 3; i++)
          canvas.rgb[i] = (guint8) (canvas.rgb[i] * 0.6);
        for (guint i = 0; i < LK_OPENPOSE_BODY_POINTS; i++)
          draw_body_points (&canvas, &poses[p], i);
        draw_face (&canvas, &poses[p], 1);
      }
  g_free (canvas.mask);
  return canvas.rgb;
}
