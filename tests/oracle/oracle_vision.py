#!/usr/bin/env python3
# Vision-op oracle: TensorFlow's NHWC semantics rebuilt from torch primitives, to check the CPU
# references where they are subtle. Tensors arrive NHWC (filters HWIO) as the C side holds them.
# One run checks a batch: n_cases, then case I's params and inputs prefixed "cI_": op (conv,
# depthwise, transpose, maxpool, avgpool, pad, resize, depth_to_space), the shapes as xs0..3 /
# ws0..3 / ys0..3, stride, dilation, pad_top, pad_left, act with optional bias and alpha, kh, kw,
# mode, block.
import torch
import torch.nn.functional as F

from lk_oracle import Job


class Case:
    """Case i of a batch: its parameters and inputs carry the prefix "cI_"."""

    def __init__(self, job, index):
        self.job = job
        self.prefix = "c%d_" % index

    def __getitem__(self, name):
        return self.job[self.prefix + name]

    def tensor(self, name, shape):
        return self.job.tensor(self.prefix + name, shape)

    def has(self, name):
        return self.job.has(self.prefix + name)


def nchw(t):
    return t.permute(0, 3, 1, 2)


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def trailing_pad(size_in, size_out, k, stride, dilation, before):
    # What the window needs after the input to produce size_out outputs.
    return max(0, (size_out - 1) * stride + (k - 1) * dilation + 1 - size_in - before)


def bias_and_act(job, y, channels):
    # The fused epilogue, on NCHW y: bias, then LkVisionAct (relu, relu6, prelu, sigmoid).
    if job.has("bias"):
        y = y + job.tensor("bias", (channels,)).double().reshape(1, -1, 1, 1)
    act = job["act"]
    if act == 1:
        y = F.relu(y)
    elif act == 2:
        y = y.clamp(0, 6)
    elif act == 3:
        y = F.prelu(y, job.tensor("alpha", (channels,)).double())
    elif act == 4:
        y = torch.sigmoid(y)
    return y


def run_case(job):
    op = job["op"]

    def shape(prefix):
        return tuple(job[prefix + str(d)] for d in range(4))

    if op in ("conv", "depthwise"):
        xs, ws, ys = shape("xs"), shape("ws"), shape("ys")
        x, w = job.tensor("x", xs), job.tensor("w", ws)
        s, d, pt, pl = job["stride"], job["dilation"], job["pad_top"], job["pad_left"]
        pb = trailing_pad(xs[1], ys[1], ws[0], s, d, pt)
        pr = trailing_pad(xs[2], ys[2], ws[1], s, d, pl)
        xp = F.pad(nchw(x), (pl, pr, pt, pb))
        if op == "conv":
            weight = w.permute(3, 2, 0, 1)                         # HWIO → OIHW
            y = F.conv2d(xp, weight, stride=s, dilation=d)
        else:
            c, m = ws[2], ws[3]
            weight = w.permute(2, 3, 0, 1).reshape(c * m, 1, ws[0], ws[1])
            y = F.conv2d(xp, weight, stride=s, dilation=d, groups=c)
        y = y[:, :, :ys[1], :ys[2]].double()
        return nhwc(bias_and_act(job, y, ys[3]))
    elif op == "transpose":
        # Conv2DBackpropInput is the gradient of a strided conv with respect to its input: autograd.
        xs, ws, ys = shape("xs"), shape("ws"), shape("ys")
        grad, w = job.tensor("x", xs), job.tensor("w", ws)
        s, d, pt, pl = job["stride"], job["dilation"], job["pad_top"], job["pad_left"]
        pb = trailing_pad(ys[1], xs[1], ws[0], s, d, pt)
        pr = trailing_pad(ys[2], xs[2], ws[1], s, d, pl)
        with torch.enable_grad():
            inp = torch.zeros(ys[0], ys[3], ys[1], ys[2], dtype=torch.float64, requires_grad=True)
            out = F.conv2d(F.pad(inp, (pl, pr, pt, pb)), w.permute(3, 2, 0, 1).double(), stride=s,
                           dilation=d)
            out = out[:, :, :xs[1], :xs[2]]
            out.backward(nchw(grad).double())
        return nhwc(bias_and_act(job, inp.grad, ys[3]))
    elif op in ("maxpool", "avgpool"):
        xs, ys = shape("xs"), shape("ys")
        x = nchw(job.tensor("x", xs)).double()
        kh, kw, s, pt, pl = job["kh"], job["kw"], job["stride"], job["pad_top"], job["pad_left"]
        pb = trailing_pad(xs[1], ys[1], kh, s, 1, pt)
        pr = trailing_pad(xs[2], ys[2], kw, s, 1, pl)
        if op == "maxpool":
            y = F.max_pool2d(F.pad(x, (pl, pr, pt, pb), value=float("-inf")), (kh, kw), s)
        else:
            # TF averages over the window's elements inside the image only.
            total = F.avg_pool2d(F.pad(x, (pl, pr, pt, pb)), (kh, kw), s) * kh * kw
            count = F.avg_pool2d(F.pad(torch.ones_like(x), (pl, pr, pt, pb)), (kh, kw), s) * kh * kw
            y = total / count
        return nhwc(y[:, :, :ys[1], :ys[2]])
    elif op == "pad":
        xs = shape("xs")
        x = job.tensor("x", xs)
        pads = []
        for dim in (3, 2, 1, 0):
            pads += [job["before%d" % dim], job["after%d" % dim]]
        return F.pad(x, pads, value=job["value"])
    elif op == "resize":
        xs, ys = shape("xs"), shape("ys")
        x = nchw(job.tensor("x", xs)).double()
        mode = job["mode"]
        if mode == "half":
            y = F.interpolate(x, size=(ys[1], ys[2]), mode="bilinear", align_corners=False)
        elif mode == "align":
            y = F.interpolate(x, size=(ys[1], ys[2]), mode="bilinear", align_corners=True)
        else:
            # TF's legacy rule samples at o · in / out: grid_sample with corners aligned reads pixel
            # (g + 1) / 2 · (in − 1), so g is chosen to land there; the border clamps as TF does.
            gy = torch.arange(ys[1], dtype=torch.float64) * xs[1] / ys[1]
            gx = torch.arange(ys[2], dtype=torch.float64) * xs[2] / ys[2]
            gy = gy / (xs[1] - 1) * 2 - 1
            gx = gx / (xs[2] - 1) * 2 - 1
            grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None]
            grid = grid.expand(xs[0], -1, -1, -1)
            y = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)
        return nhwc(y)
    elif op == "depth_to_space":
        xs = shape("xs")
        x = job.tensor("x", xs)
        b = job["block"]
        c = xs[3] // (b * b)
        # TF's DCR order puts the block offset before the channel; torch's pixel_shuffle wants the
        # channel first (CRD), so regroup the channels, then shuffle.
        crd = x.reshape(xs[0], xs[1], xs[2], b * b, c).transpose(3, 4).reshape(xs)
        return nhwc(F.pixel_shuffle(nchw(crd), b))
    else:
        raise SystemExit("unknown op " + op)


job = Job()
outputs = [run_case(Case(job, i)).to(torch.float32).contiguous().reshape(-1)
           for i in range(job["n_cases"])]
job.save(torch.cat(outputs))
