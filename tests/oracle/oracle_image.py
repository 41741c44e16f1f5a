#!/usr/bin/env python3
# OpenCV oracle for the control-image preprocessors: the input "image" is an RGB uint8 image sent
# as f32 (height, width, 3); params: op, width, height and the op's own. Output as f32.
#   canny:  cv2.Canny(img, low, high) on the 3-channel image, as EasyPhoto calls it
#   mosaic: EasyPhoto's colour image: cv2.resize to (w // block, h // block) INTER_CUBIC, then
#           back to (w, h) INTER_NEAREST
#   easyphoto_color: EasyPhoto's colour unit: resize_image (img, 1024) (short side to 1024, sides
#           rounded to multiples of 64, LANCZOS4 up / AREA down), the mosaic of block there, then
#           INTER_CUBIC back to (w, h)
#   just_resize: sd-webui-controlnet's high_quality_resize to (out_width, out_height) for maps
#           that are not black-and-white: INTER_NEAREST for 3 to 199 colours, INTER_AREA for
#           fewer pixels, INTER_CUBIC otherwise
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
else:
    out = cv2.resize(img, (params["out_width"], params["out_height"]), interpolation=interpolation[op])
out.astype("<f4").tofile(os.path.join(folder, "out.bin"))
