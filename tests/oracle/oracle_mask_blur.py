#!/usr/bin/env python3
# OpenCV oracle for the inpainting mask blur, as A1111 (modules/processing.py) does it: an 8-bit
# mask blurred along x by cv2.GaussianBlur with a (2·int(2.5σ + 0.5) + 1, 1) kernel and σ, then
# along y with the transposed kernel. Input "mask" as f32 (height, width); params width, height,
# sigma. Output as f32.
import json
import os
import sys

import cv2
import numpy as np

folder = sys.argv[1]
with open(os.path.join(folder, "params.json")) as f:
    params = json.load(f)
w, h, sigma = params["width"], params["height"], params["sigma"]
mask = np.fromfile(os.path.join(folder, "mask.bin"), dtype="<f4").reshape(h, w)
mask = np.ascontiguousarray(mask.round().clip(0, 255).astype(np.uint8))
size = 2 * int(2.5 * sigma + 0.5) + 1
mask = cv2.GaussianBlur(mask, (size, 1), sigma)
mask = cv2.GaussianBlur(mask, (1, size), sigma)
mask.astype("<f4").tofile(os.path.join(folder, "out.bin"))
