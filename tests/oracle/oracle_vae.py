# Torch oracle for SD1.x's autoencoder (LDM's AutoencoderKL with its Encoder and Decoder), built
# by hand in fp32: no ldm or diffusers package. Weights come from the safetensors file
# params.path under first_stage_model.*, read through a memory map and converted exactly from
# their stored dtype when a layer uses them.
# params.mode "encode": input x.bin [batch, 3, height, width] → the posterior's mean times
# 0.18215 [batch, 4, height/8, width/8]. params.mode "decode": input x.bin [batch, 4, height,
# width] → the image [batch, 3, 8·height, 8·width], unclamped.
import json
import struct

import numpy as np
import torch
import torch.nn.functional as F

from lk_oracle import Job

PREFIX = "first_stage_model."
DTYPES = {"F16": np.float16, "F32": np.float32}
SCALE = 0.18215
LEVELS = 4


class LazyWeights:
    def __init__(self, path):
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            self.header = json.loads(f.read(length))
        self.data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length)

    def __contains__(self, name):
        return PREFIX + name in self.header

    def __getitem__(self, name):
        entry = self.header[PREFIX + name]
        start, end = entry["data_offsets"]
        array = np.frombuffer(self.data[start:end], dtype=DTYPES[entry["dtype"]])
        return torch.from_numpy(array.astype(np.float32).reshape(entry["shape"]))


job = Job()
w = LazyWeights(job["path"])
mode, batch, height, width = job["mode"], job["batch"], job["height"], job["width"]


def norm(h, name, silu):
    h = F.group_norm(h, 32, w[name + ".weight"], w[name + ".bias"], 1e-6)
    return F.silu(h) if silu else h


def conv(h, name, stride=1, padding=None):
    kernel = w[name + ".weight"]
    if padding is None:
        padding = kernel.shape[-1] // 2
    return F.conv2d(h, kernel, w[name + ".bias"], stride=stride, padding=padding)


def res_block(x, p):
    h = conv(norm(x, p + "norm1", True), p + "conv1")
    h = conv(norm(h, p + "norm2", True), p + "conv2")
    skip = conv(x, p + "nin_shortcut") if p + "nin_shortcut.weight" in w else x
    return skip + h


def attn_block(x, p):
    h = norm(x, p + "norm", False)
    q, k, v = conv(h, p + "q"), conv(h, p + "k"), conv(h, p + "v")
    b, c, hh, ww = q.shape
    q = q.reshape(b, c, hh * ww).permute(0, 2, 1)
    k = k.reshape(b, c, hh * ww)
    weights = torch.softmax(torch.bmm(q, k) * c ** -0.5, dim=2)
    v = v.reshape(b, c, hh * ww)
    h = torch.bmm(v, weights.permute(0, 2, 1)).reshape(b, c, hh, ww)
    return x + conv(h, p + "proj_out")


def mid(h, p):
    h = res_block(h, p + "mid.block_1.")
    h = attn_block(h, p + "mid.attn_1.")
    return res_block(h, p + "mid.block_2.")


def encode(x):
    h = conv(x, "encoder.conv_in")
    for level in range(LEVELS):
        for r in range(2):
            h = res_block(h, f"encoder.down.{level}.block.{r}.")
        if level != LEVELS - 1:
            h = F.pad(h, (0, 1, 0, 1), mode="constant", value=0)
            h = conv(h, f"encoder.down.{level}.downsample.conv", stride=2, padding=0)
    h = mid(h, "encoder.")
    h = conv(norm(h, "encoder.norm_out", True), "encoder.conv_out")
    moments = conv(h, "quant_conv")
    mean, _logvar = torch.chunk(moments, 2, dim=1)
    return mean * SCALE


def decode(z):
    h = conv(z / SCALE, "post_quant_conv")
    h = conv(h, "decoder.conv_in")
    h = mid(h, "decoder.")
    for level in reversed(range(LEVELS)):
        for r in range(3):
            h = res_block(h, f"decoder.up.{level}.block.{r}.")
        if level != 0:
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = conv(h, f"decoder.up.{level}.upsample.conv")
    return conv(norm(h, "decoder.norm_out", True), "decoder.conv_out")


if mode == "encode":
    job.save(encode(job.tensor("x", (batch, 3, height, width))))
else:
    job.save(decode(job.tensor("x", (batch, 4, height, width))))
