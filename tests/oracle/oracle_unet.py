# Torch oracle for the SD1.x UNet (LDM's openaimodel.UNetModel), built by hand in fp32: no ldm or
# diffusers package, attention written out (torch 1.13 has no scaled_dot_product_attention).
# Weights come from the safetensors file params.path under model.diffusion_model.*, read lazily
# through a memory map and converted exactly from their stored dtype when a layer first uses
# them, so the ~860M parameters never sit in memory as f32 all at once.
# Inputs: x.bin [batch, in_channels, height, width], t.bin [batch], context.bin
# [batch, context_len, context_dim], and optionally res0.bin … res12.bin, ControlNet residuals
# added to the 12 skip connections and the middle block's output. Output: eps [batch,
# out_channels, height, width]. The building blocks (UNet) are imported by oracle_controlnet.py.
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
    """Tensors under prefix."""

    def __init__(self, path, prefix=PREFIX):
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            self.header = json.loads(f.read(length))
        self.data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length)
        self.prefix = prefix

    def __contains__(self, name):
        return self.prefix + name in self.header

    def __getitem__(self, name):
        entry = self.header[self.prefix + name]
        start, end = entry["data_offsets"]
        array = np.frombuffer(self.data[start:end], dtype=DTYPES[entry["dtype"]])
        return torch.from_numpy(array.astype(np.float32).reshape(entry["shape"]))


HEADS = 8
MULT = [1, 2, 4, 4]
ATTENTION_LEVELS = {0, 1, 2}


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class UNet:
    """LDM's UNetModel layers over the weights w, with cross-attention on context."""

    def __init__(self, w, context):
        self.w = w
        self.context = context

    def group_norm(self, h, name, eps, silu):
        w = self.w
        h = F.group_norm(h, 32, w[name + ".weight"], w[name + ".bias"], eps)
        return F.silu(h) if silu else h

    def conv(self, h, name, stride=1):
        kernel = self.w[name + ".weight"]
        return F.conv2d(h, kernel, self.w[name + ".bias"], stride=stride,
                        padding=kernel.shape[-1] // 2)

    def linear(self, h, name, bias=True):
        y = h @ self.w[name + ".weight"].t()
        return y + self.w[name + ".bias"] if bias else y

    def res_block(self, h, p, emb):
        r = self.conv(self.group_norm(h, p + "in_layers.0", 1e-5, True), p + "in_layers.2")
        r = r + self.linear(F.silu(emb), p + "emb_layers.1")[:, :, None, None]
        r = self.conv(self.group_norm(r, p + "out_layers.0", 1e-5, True), p + "out_layers.3")
        skip = self.conv(h, p + "skip_connection") if p + "skip_connection.weight" in self.w else h
        return skip + r

    def attention(self, h, source, p):
        q = self.linear(h, p + "to_q", False)
        k, v = self.linear(source, p + "to_k", False), self.linear(source, p + "to_v", False)
        b, n, c = q.shape
        d = c // HEADS

        def heads(t):
            return t.reshape(b, t.shape[1], HEADS, d).permute(0, 2, 1, 3)

        scores = heads(q) @ heads(k).transpose(-1, -2) * d ** -0.5
        o = (torch.softmax(scores, dim=-1) @ heads(v)).permute(0, 2, 1, 3).reshape(b, n, c)
        return self.linear(o, p + "to_out.0")

    def layer_norm(self, h, name):
        return F.layer_norm(h, (h.shape[-1],), self.w[name + ".weight"], self.w[name + ".bias"],
                            1e-5)

    def spatial_transformer(self, h, p):
        b, c, hh, ww = h.shape
        t = self.conv(self.group_norm(h, p + "norm", 1e-6, False), p + "proj_in")
        t = t.reshape(b, c, hh * ww).transpose(1, 2)
        tb = p + "transformer_blocks.0."
        n = self.layer_norm(t, tb + "norm1")
        t = t + self.attention(n, n, tb + "attn1.")
        t = t + self.attention(self.layer_norm(t, tb + "norm2"), self.context, tb + "attn2.")
        value, gate = self.linear(self.layer_norm(t, tb + "norm3"),
                                  tb + "ff.net.0.proj").chunk(2, dim=-1)
        t = t + self.linear(value * F.gelu(gate), tb + "ff.net.2")
        t = t.transpose(1, 2).reshape(b, c, hh, ww)
        return self.conv(t, p + "proj_out") + h

    def time_embed(self, timesteps):
        model_channels = self.w["input_blocks.0.0.weight"].shape[0]
        emb = self.linear(timestep_embedding(timesteps, model_channels), "time_embed.0")
        return self.linear(F.silu(emb), "time_embed.2")

    def encoder(self, x, emb, hint=None):
        """conv_in (+ hint), input blocks, middle block: (middle output, skips)."""
        h = self.conv(x, "input_blocks.0.0")
        if hint is not None:
            h = h + hint
        skips = [h]
        index = 1
        for level, _ in enumerate(MULT):
            for _ in range(2):
                h = self.res_block(h, f"input_blocks.{index}.0.", emb)
                if level in ATTENTION_LEVELS:
                    h = self.spatial_transformer(h, f"input_blocks.{index}.1.")
                skips.append(h)
                index += 1
            if level != len(MULT) - 1:
                h = self.conv(h, f"input_blocks.{index}.0.op", stride=2)
                skips.append(h)
                index += 1
        h = self.res_block(h, "middle_block.0.", emb)
        h = self.spatial_transformer(h, "middle_block.1.")
        h = self.res_block(h, "middle_block.2.", emb)
        return h, skips

    def decoder(self, h, skips, emb, residuals=None):
        """residuals: 12 down + 1 middle, added as ControlledUnetModel adds them."""
        if residuals is not None:
            residuals = list(residuals)
            h = h + residuals.pop()
        index = 0
        for level in reversed(range(len(MULT))):
            for r in range(3):
                skip = skips.pop()
                if residuals is not None:
                    skip = skip + residuals.pop()
                h = self.res_block(torch.cat([h, skip], dim=1), f"output_blocks.{index}.0.", emb)
                sub = 1
                if level in ATTENTION_LEVELS:
                    h = self.spatial_transformer(h, f"output_blocks.{index}.{sub}.")
                    sub += 1
                if level != 0 and r == 2:
                    h = F.interpolate(h, scale_factor=2, mode="nearest")
                    h = self.conv(h, f"output_blocks.{index}.{sub}.conv")
                index += 1
        assert not skips
        return self.conv(self.group_norm(h, "out.0", 1e-5, True), "out.2")


def residual_shapes(model_channels, batch, height, width):
    """Shapes of the 12 skip connections and the middle block's output."""
    shapes = [(batch, model_channels, height, width)]
    h, w = height, width
    for level, mult in enumerate(MULT):
        shapes += [(batch, mult * model_channels, h, w)] * 2
        if level != len(MULT) - 1:
            h, w = h // 2, w // 2
            shapes.append((batch, mult * model_channels, h, w))
    return shapes + [(batch, MULT[-1] * model_channels, h, w)]


def main():
    job = Job()
    w = LazyWeights(job["path"])
    batch, height, width = job["batch"], job["height"], job["width"]
    model_channels, in_channels = w["input_blocks.0.0.weight"].shape[:2]
    context_dim = w["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].shape[1]
    x = job.tensor("x", (batch, in_channels, height, width))
    timesteps = job.tensor("t", (batch,))
    context = job.tensor("context", (batch, job["context_len"], context_dim))
    residuals = None
    if job.has("res0"):
        shapes = residual_shapes(model_channels, batch, height, width)
        residuals = [job.tensor(f"res{i}", shape) for i, shape in enumerate(shapes)]

    unet = UNet(w, context)
    emb = unet.time_embed(timesteps)
    h, skips = unet.encoder(x, emb)
    job.save(unet.decoder(h, skips, emb, residuals))


if __name__ == "__main__":
    main()
