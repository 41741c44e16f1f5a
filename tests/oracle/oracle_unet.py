# Torch oracle for the SD1.x UNet (LDM's openaimodel.UNetModel), built by hand in fp32: no ldm or
# diffusers package, attention written out (torch 1.13 has no scaled_dot_product_attention).
# Weights come from the safetensors file params.path under model.diffusion_model.*, read lazily
# through a memory map and converted exactly from their stored dtype when a layer first uses
# them, so the ~860M parameters never sit in memory as f32 all at once.
# Inputs: x.bin [batch, in_channels, height, width], t.bin [batch], context.bin
# [batch, context_len, context_dim]. Output: eps [batch, out_channels, height, width].
import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

from lk_oracle import Job

PREFIX = "model.diffusion_model."
DTYPES = {"F16": np.float16, "F32": np.float32}


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
batch, height, width = job["batch"], job["height"], job["width"]
model_channels, in_channels = w["input_blocks.0.0.weight"].shape[:2]
context_dim = w["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].shape[1]
x = job.tensor("x", (batch, in_channels, height, width))
timesteps = job.tensor("t", (batch,))
context = job.tensor("context", (batch, job["context_len"], context_dim))

HEADS = 8
MULT = [1, 2, 4, 4]
ATTENTION_LEVELS = {0, 1, 2}


def group_norm(h, name, eps, silu):
    h = F.group_norm(h, 32, w[name + ".weight"], w[name + ".bias"], eps)
    return F.silu(h) if silu else h


def conv(h, name, stride=1):
    kernel = w[name + ".weight"]
    return F.conv2d(h, kernel, w[name + ".bias"], stride=stride, padding=kernel.shape[-1] // 2)


def linear(h, name, bias=True):
    y = h @ w[name + ".weight"].t()
    return y + w[name + ".bias"] if bias else y


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def res_block(h, p, emb):
    r = conv(group_norm(h, p + "in_layers.0", 1e-5, True), p + "in_layers.2")
    r = r + linear(F.silu(emb), p + "emb_layers.1")[:, :, None, None]
    r = conv(group_norm(r, p + "out_layers.0", 1e-5, True), p + "out_layers.3")
    skip = conv(h, p + "skip_connection") if p + "skip_connection.weight" in w else h
    return skip + r


def attention(h, source, p):
    q = linear(h, p + "to_q", False)
    k, v = linear(source, p + "to_k", False), linear(source, p + "to_v", False)
    b, n, c = q.shape
    d = c // HEADS

    def heads(t):
        return t.reshape(b, t.shape[1], HEADS, d).permute(0, 2, 1, 3)

    scores = heads(q) @ heads(k).transpose(-1, -2) * d ** -0.5
    o = (torch.softmax(scores, dim=-1) @ heads(v)).permute(0, 2, 1, 3).reshape(b, n, c)
    return linear(o, p + "to_out.0")


def layer_norm(h, name):
    return F.layer_norm(h, (h.shape[-1],), w[name + ".weight"], w[name + ".bias"], 1e-5)


def spatial_transformer(h, p):
    b, c, hh, ww = h.shape
    t = conv(group_norm(h, p + "norm", 1e-6, False), p + "proj_in")
    t = t.reshape(b, c, hh * ww).transpose(1, 2)
    tb = p + "transformer_blocks.0."
    n = layer_norm(t, tb + "norm1")
    t = t + attention(n, n, tb + "attn1.")
    t = t + attention(layer_norm(t, tb + "norm2"), context, tb + "attn2.")
    value, gate = linear(layer_norm(t, tb + "norm3"), tb + "ff.net.0.proj").chunk(2, dim=-1)
    t = t + linear(value * F.gelu(gate), tb + "ff.net.2")
    t = t.transpose(1, 2).reshape(b, c, hh, ww)
    return conv(t, p + "proj_out") + h


emb = linear(timestep_embedding(timesteps, model_channels), "time_embed.0")
emb = linear(F.silu(emb), "time_embed.2")

h = conv(x, "input_blocks.0.0")
skips = [h]
index = 1
for level, mult in enumerate(MULT):
    for _ in range(2):
        h = res_block(h, f"input_blocks.{index}.0.", emb)
        if level in ATTENTION_LEVELS:
            h = spatial_transformer(h, f"input_blocks.{index}.1.")
        skips.append(h)
        index += 1
    if level != len(MULT) - 1:
        h = conv(h, f"input_blocks.{index}.0.op", stride=2)
        skips.append(h)
        index += 1

h = res_block(h, "middle_block.0.", emb)
h = spatial_transformer(h, "middle_block.1.")
h = res_block(h, "middle_block.2.", emb)

index = 0
for level in reversed(range(len(MULT))):
    for r in range(3):
        h = res_block(torch.cat([h, skips.pop()], dim=1), f"output_blocks.{index}.0.", emb)
        sub = 1
        if level in ATTENTION_LEVELS:
            h = spatial_transformer(h, f"output_blocks.{index}.{sub}.")
            sub += 1
        if level != 0 and r == 2:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = conv(h, f"output_blocks.{index}.{sub}.conv")
        index += 1
assert not skips

eps = conv(group_norm(h, "out.0", 1e-5, True), "out.2")
job.save(eps)
