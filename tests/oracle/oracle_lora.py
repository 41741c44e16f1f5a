#!/usr/bin/env python3
# LoRA merge oracle in fp32: W' = W + Σ_i strength_i · (alpha_i / rank_i) · up_i · down_i, the
# factors flattened as kohya's networks/lora.py merges them (conv: down [r, in, kh, kw] and
# up [out, r, 1, 1] → up[:, :, 0, 0] @ down.flatten(1), reshaped to W's shape).
# params: shape (W's), n_loras, rank_i, alpha_i, strength_i; inputs w, down_i, up_i.
import torch

from lk_oracle import Job

job = Job()
shape = [int(d) for d in job["shape"].split(",") if int(d) > 0]
w = job.tensor("w", shape)
out, k = shape[0], w.numel() // shape[0]
for i in range(job["n_loras"]):
    rank, alpha, strength = job[f"rank{i}"], job[f"alpha{i}"], job[f"strength{i}"]
    down = job.tensor(f"down{i}", (rank, k))
    up = job.tensor(f"up{i}", (out, rank))
    w = w + (strength * alpha / rank) * (up @ down).reshape(shape)
job.save(w)
