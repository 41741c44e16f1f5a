#!/usr/bin/env python3
# OpenCV oracle for the classical image operations of the face toolkit (lk-image-*.c). Inputs are
# uint8 images sent as f32 (height, width, channels) files; params: op and the op's own.
#   similarity:  cv2.estimateAffinePartial2D (src, dst) with every point an inlier (RANSAC with a
#                huge threshold, then its Levenberg-Marquardt refinement = least squares) -> 6
#   warp:        cv2.warpAffine (image, M, (out_width, out_height), INTER_LINEAR, border, value)
#   resize:      cv2.resize (image, (out_width, out_height), interpolation: linear (default),
#                cubic, area or nearest)
#   rgb2lab / lab2rgb: cv2.cvtColor on uint8
#   transfer:    EasyPhoto's color_transfer (LAB mean/std rounded to 2 decimals, scale, clip,
#                convertScaleAbs, back to RGB) with statistics over the non-zero pixels of the
#                optional masks, then mixed with the source by blend / 255, rounded
#   erode / dilate: cv2.erode / cv2.dilate with getStructuringElement (shape, (kw, kh))
#   gaussian:    cv2.GaussianBlur (image, (kw, kh), sigma_x, sigma_y)
#   bilateral:   cv2.bilateralFilter (image, d, sigma_color, sigma_space)
#   seamless:    cv2.seamlessClone (source, destination, mask, centre, NORMAL_CLONE) with the
#                centre chosen so that the source lands where it already is
# op "batch" runs the JSON list in the string param "cases" (each a dict of op and params,
# naming images sent beside) and writes their outputs one after the other: one python start
# for many cases.
import json
import os
import sys

import cv2
import numpy as np

folder = sys.argv[1]
with open(os.path.join(folder, "params.json")) as f:
    params = json.load(f)


# An image by role ("image", "source", …); in a batch case the role names the file sent.
def image(case, role, channels=None):
    name = case.get(role, role)
    h, w = params[name + "_height"], params[name + "_width"]
    c = params.get(name + "_channels", 3) if channels is None else channels
    data = np.fromfile(os.path.join(folder, name + ".bin"), dtype="<f4")
    img = data.reshape(h, w, c).round().clip(0, 255).astype(np.uint8)
    return np.ascontiguousarray(img[:, :, 0] if c == 1 else img)


def has(case, role):
    name = case.get(role, role)
    return os.path.exists(os.path.join(folder, name + ".bin"))


def masked_mean_std(lab, mask):
    mean, std = cv2.meanStdDev(lab, mask=mask)
    return np.around(mean.ravel(), 2), np.around(std.ravel(), 2)


def run(op, case):
    if op == "similarity":
        n = case["n"]
        src, dst = (np.fromfile(os.path.join(folder, name + ".bin"), dtype="<f4")
                    .reshape(n, 2).astype(np.float64) for name in ("src", "dst"))
        m, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                                 ransacReprojThreshold=1e9, refineIters=100)
        assert inliers.all()
        out = m.ravel()
    elif op == "warp":
        img = image(case, "image")
        m = np.array([case["m%d" % i] for i in range(6)], dtype=np.float64).reshape(2, 3)
        borders = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE}
        border = borders[case["border"]]
        value = case["border_value"]
        out = cv2.warpAffine(img, m, (case["out_width"], case["out_height"]),
                             flags=cv2.INTER_LINEAR, borderMode=border,
                             borderValue=(value, value, value, value))
    elif op == "resize":
        interpolation = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
                         "area": cv2.INTER_AREA, "nearest": cv2.INTER_NEAREST}
        out = cv2.resize(image(case, "image"), (case["out_width"], case["out_height"]),
                         interpolation=interpolation[case.get("interpolation", "linear")])
    elif op == "rgb2lab":
        out = cv2.cvtColor(image(case, "image"), cv2.COLOR_RGB2LAB)
    elif op == "lab2rgb":
        out = cv2.cvtColor(image(case, "image"), cv2.COLOR_LAB2RGB)
    elif op == "transfer":
        source = image(case, "source")
        reference = image(case, "reference")
        source_mask = image(case, "source_mask", 1) if has(case, "source_mask") else None
        reference_mask = (image(case, "reference_mask", 1)
                          if has(case, "reference_mask") else None)
        s_lab = cv2.cvtColor(source, cv2.COLOR_RGB2LAB)
        r_lab = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB)
        s_mean, s_std = masked_mean_std(s_lab, source_mask)
        r_mean, r_std = masked_mean_std(r_lab, reference_mask)
        moved = (s_lab - s_mean) * (r_std / s_std) + r_mean
        moved = np.clip(moved, 0, 255)
        transferred = cv2.cvtColor(cv2.convertScaleAbs(moved), cv2.COLOR_LAB2RGB).astype(np.int64)
        if has(case, "blend"):
            w = image(case, "blend", 1).astype(np.int64)[:, :, None]
            out = (transferred * w + source.astype(np.int64) * (255 - w) + 127) // 255
        else:
            out = transferred
    elif op in ("erode", "dilate"):
        shape = {"rect": cv2.MORPH_RECT, "ellipse": cv2.MORPH_ELLIPSE}[case["shape"]]
        kernel = cv2.getStructuringElement(shape, (case["kw"], case["kh"]))
        fn = cv2.erode if op == "erode" else cv2.dilate
        out = fn(image(case, "image"), kernel, iterations=case["iterations"])
    elif op == "gaussian":
        out = cv2.GaussianBlur(image(case, "image"), (case["kw"], case["kh"]),
                               case["sigma_x"], sigmaY=case["sigma_y"])
    elif op == "bilateral":
        out = cv2.bilateralFilter(image(case, "image"), case["d"], case["sigma_color"],
                                  case["sigma_space"])
    elif op == "seamless":
        source = image(case, "source")
        destination = image(case, "destination")
        mask = image(case, "mask", 1)
        inner = np.zeros_like(mask)
        inner[1:-1, 1:-1] = mask[1:-1, 1:-1]
        x, y, w, h = cv2.boundingRect(inner)
        out = cv2.seamlessClone(source, destination, mask, (x + w // 2, y + h // 2),
                                cv2.NORMAL_CLONE)
    else:
        raise SystemExit("unknown op " + op)
    return np.asarray(out)


if params["op"] == "batch":
    outs = [run(case["op"], dict(params, **case)) for case in json.loads(params["cases"])]
    out = np.concatenate([o.astype(np.float64).ravel() for o in outs])
else:
    out = run(params["op"], params)
np.asarray(out).astype("<f4").tofile(os.path.join(folder, "out.bin"))
