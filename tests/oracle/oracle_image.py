#!/usr/bin/env python3
# OpenCV oracle for the control-image preprocessors: the input "image" is an RGB uint8 image sent
# as f32 (height, width, 3); params: op, width, height and the op's own. Output as f32.
#   canny:  cv2.Canny(img, low, high) on the 3-channel image, as EasyPhoto calls it
#   mosaic: EasyPhoto's colour image: cv2.resize to (w // block, h // block) INTER_CUBIC, then
#           back to (w, h) INTER_NEAREST
#   cubic / nearest / area: cv2.resize to (out_width, out_height)
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
interpolation = {"cubic": cv2.INTER_CUBIC, "nearest": cv2.INTER_NEAREST, "area": cv2.INTER_AREA}

if op == "canny":
    out = cv2.Canny(img, params["low"], params["high"])
elif op == "mosaic":
    block = params["block"]
    small = cv2.resize(img, (max(w // block, 1), max(h // block, 1)), interpolation=cv2.INTER_CUBIC)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
else:
    out = cv2.resize(img, (params["out_width"], params["out_height"]), interpolation=interpolation[op])
out.astype("<f4").tofile(os.path.join(folder, "out.bin"))
