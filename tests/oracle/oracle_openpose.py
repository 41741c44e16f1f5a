# Oracle for OpenPose control images: the drawing rules of ControlNet 1.1's annotator
# (annotator/openpose/util.py: draw_bodypose, draw_facepose; style "controlnet") and of
# sd-webui-controlnet's preprocessor (style "webui") written again with python3-opencv, the same
# cv2 calls on the same keypoints. Params: style, width, height, n_poses, n_face (0: none).
# Inputs: body [n_poses, 18, 2] in image fractions (negative: missing), face [n_poses, n_face,
# 2]. Output: the RGB canvas [height, width, 3] as floats.
import math

import cv2
import numpy as np
import torch

from lk_oracle import Job

LIMBS = [[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12],
         [12, 13], [13, 14], [2, 1], [1, 15], [15, 17], [1, 16], [16, 18]]
COLORS = [[255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0],
          [0, 255, 0], [0, 255, 85], [0, 255, 170], [0, 255, 255], [0, 170, 255], [0, 85, 255],
          [0, 0, 255], [85, 0, 255], [170, 0, 255], [255, 0, 255], [255, 0, 170], [255, 0, 85]]


def limb_polygon(pa, pb, width, height):
    ys = np.array([pa[0], pb[0]]) * float(width)
    xs = np.array([pa[1], pb[1]]) * float(height)
    mx, my = np.mean(xs), np.mean(ys)
    length = ((xs[0] - xs[1]) ** 2 + (ys[0] - ys[1]) ** 2) ** 0.5
    angle = math.degrees(math.atan2(xs[0] - xs[1], ys[0] - ys[1]))
    return cv2.ellipse2Poly((int(my), int(mx)), (int(length / 2), 4), int(angle), 0, 360, 1)


def present(p):
    return p[0] >= 0 and p[1] >= 0


def draw_point(canvas, point, i, width, height):
    if present(point):
        x, y = point
        cv2.circle(canvas, (int(x * width), int(y * height)), 4, COLORS[i], thickness=-1)


def draw_face(canvas, face, width, height, webui):
    for x, y in face:
        x, y = int(x * width), int(y * height)
        # The annotator: x >= 0 and y >= 0; the WebUI: x > eps and y > eps, eps = 0.01.
        if (x > 0.01 and y > 0.01) if webui else (x >= 0 and y >= 0):
            cv2.circle(canvas, (x, y), 3, (255, 255, 255), thickness=-1)


def main():
    job = Job()
    width, height, n_poses, n_face = job["width"], job["height"], job["n_poses"], job["n_face"]
    body = job.tensor("body", (n_poses, 18, 2)).double().numpy()
    face = job.tensor("face", (n_poses, n_face, 2)).double().numpy() if n_face else None
    canvas = np.zeros((height, width, 3), dtype=np.uint8)

    if job["style"] == "controlnet":
        for i in range(18):
            for n in range(n_poses):
                draw_point(canvas, body[n, i], i, width, height)
        for i, (a, b) in enumerate(LIMBS):
            for n in range(n_poses):
                if not (present(body[n, a - 1]) and present(body[n, b - 1])):
                    continue
                cur = canvas.copy()
                cv2.fillConvexPoly(cur, limb_polygon(body[n, a - 1], body[n, b - 1], width, height),
                                   COLORS[i])
                canvas = cv2.addWeighted(canvas, 0.4, cur, 0.6, 0)
        for n in range(n_poses):
            if face is not None:
                draw_face(canvas, face[n], width, height, False)
    else:
        # sd-webui-controlnet: person by person; faces only above 0.01 (eps), in whole pixels.
        for n in range(n_poses):
            for i, (a, b) in enumerate(LIMBS):
                if present(body[n, a - 1]) and present(body[n, b - 1]):
                    cv2.fillConvexPoly(canvas, limb_polygon(body[n, a - 1], body[n, b - 1], width,
                                                            height), COLORS[i])
            canvas = (canvas * 0.6).astype(np.uint8)
            for i in range(18):
                draw_point(canvas, body[n, i], i, width, height)
            if face is not None:
                draw_face(canvas, face[n], width, height, True)
    job.save(torch.from_numpy(canvas.astype(np.float32)))


if __name__ == "__main__":
    main()
