#!/usr/bin/env python3
# OpenCV oracle for the control-image preprocessors: the input "image" is an RGB uint8 image sent
# as f32 (height, width, 3); params: op, width, height and the op's own. Output as f32.
#   canny:  cv2.Canny(img, low, high) on the 3-channel image, as EasyPhoto calls it
#   mosaic: EasyPhoto's colour image: cv2.resize to (w // block, h // block) INTER_CUBIC, then
#           back to (w, h) INTER_NEAREST
#   easyphoto_color: EasyPhoto's colour unit: resize_image (img, 1024) (short side to 1024, sides
#           rounded to multiples of 64, LANCZOS4 up / AREA down), the mosaic of block there, then
#           INTER_CUBIC back to (w, h)
#   just_resize: sd-webui-controlnet's high_quality_resize to (out_width, out_height):
#           INTER_NEAREST for 3 to 199 colours, INTER_AREA for fewer pixels, INTER_CUBIC
#           otherwise; a black-and-white map is re-binarised after (Otsu, and for one-pixel lines
#           NMS before and hit-or-miss thinning after it), written here from cv2's primitives
#   cubic / nearest / area / lanczos4: cv2.resize to (out_width, out_height)
import json
import os
import sys

import cv2
import numpy as np

folder = sys.argv[1]
with open(os.path.join(folder, "params.json")) as f:
    params = json.load(f)
w, h = params["width"], params["height"]
img = np.fromfile(os.path.join(folder, "image.bin"), dtype="<f4").reshape(h, w, 3)
img = np.ascontiguousarray(img.round().clip(0, 255).astype(np.uint8))
op = params["op"]
interpolation = {"cubic": cv2.INTER_CUBIC, "nearest": cv2.INTER_NEAREST, "area": cv2.INTER_AREA,
                 "lanczos4": cv2.INTER_LANCZOS4}

if op == "canny":
    out = cv2.Canny(img, params["low"], params["high"])
elif op == "mosaic":
    block = params["block"]
    small = cv2.resize(img, (max(w // block, 1), max(h // block, 1)), interpolation=cv2.INTER_CUBIC)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
elif op == "easyphoto_color":
    block = params["block"]
    k = 1024.0 / min(float(h), float(w))
    big_h, big_w = int(np.round(h * k / 64.0)) * 64, int(np.round(w * k / 64.0)) * 64
    big = cv2.resize(img, (big_w, big_h),
                     interpolation=cv2.INTER_LANCZOS4 if k > 1 else cv2.INTER_AREA)
    small = cv2.resize(big, (big_w // block, big_h // block), interpolation=cv2.INTER_CUBIC)
    mosaic = cv2.resize(small, (big_w, big_h), interpolation=cv2.INTER_NEAREST)
    out = cv2.resize(mosaic, (w, h), interpolation=cv2.INTER_CUBIC)
elif op == "just_resize":
    size = (params["out_width"], params["out_height"])
    colours = len(np.unique(img.reshape(-1, 3), axis=0))
    if 2 < colours < 200:
        how = cv2.INTER_NEAREST
    elif size[0] * size[1] < w * h:
        how = cv2.INTER_AREA
    else:
        how = cv2.INTER_CUBIC
    out = cv2.resize(img, size, interpolation=how) if size != (w, h) else img
    bw = colours == 2 and img.min() < 16 and img.max() > 240
    if bw and size != (w, h):
        box = np.ones((3, 3), np.uint8)
        opened = cv2.dilate(cv2.erode(img, box), box)
        thin_lines = 2 * np.count_nonzero(opened < img) > np.count_nonzero(img > 127)
        gray = out.astype(np.float32).mean(axis=2).clip(0, 255).astype(np.uint8)
        if thin_lines:
            kept = np.zeros_like(gray)
            for line in ([[0, 0, 0], [1, 1, 1], [0, 0, 0]], [[0, 1, 0], [0, 1, 0], [0, 1, 0]],
                         [[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 0, 1], [0, 1, 0], [1, 0, 0]]):
                peak = cv2.dilate(gray, np.array(line, np.uint8)) == gray
                kept[peak] = gray[peak]
            _, gray = cv2.threshold(kept, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)

            def sweep(image, bases):
                turns = [np.rot90(np.array(b, np.int32), k) for k in range(4) for b in bases]
                changed = False
                for turn in turns:
                    hit = cv2.morphologyEx(image, cv2.MORPH_HITMISS, turn) > 127
                    changed |= bool(hit.any())
                    image[hit] = 0
                return changed

            for _ in range(32):
                if not sweep(gray, ([[-1, -1, -1], [0, 1, 0], [1, 1, 1]],
                                    [[0, -1, -1], [1, 1, -1], [0, 1, 0]])):
                    break
            if size[0] * size[1] > w * h:
                sweep(gray, ([[-1, -1, -1], [-1, 1, -1], [0, 0, -1]],
                             [[-1, -1, -1], [-1, 1, -1], [-1, 0, 0]]))
        else:
            _, gray = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        out = np.stack([gray] * 3, axis=2)
else:
    out = cv2.resize(img, (params["out_width"], params["out_height"]), interpolation=interpolation[op])
out.astype("<f4").tofile(os.path.join(folder, "out.bin"))
