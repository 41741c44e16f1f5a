#!/usr/bin/env python3
# Oracle for lk-rng: Philox4x32-10 written from the SC'11 paper's description with Python's
# unbounded integers, and the Box-Muller normals of A1111's "NV" source written with numpy.
#   mode "philox": input counters.bin holds n × 6 words (counter 0-3, key 0-1) as exact f32
#                  halves (lo16, hi16) of each word; out is n × 4 words, again as 16-bit halves.
#   mode "normal": params n and cases, "seed_lo:seed_hi:offset" items separated by commas;
#                  out is n normals per case.
import numpy as np
import torch

from lk_oracle import Job

MASK = 0xFFFFFFFF


def philox4x32(counter, key, rounds=10):
    c = list(counter)
    k = list(key)
    for r in range(rounds):
        if r:
            k = [(k[0] + 0x9E3779B9) & MASK, (k[1] + 0xBB67AE85) & MASK]
        p0 = 0xD2511F53 * c[0]
        p1 = 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & MASK, (p0 >> 32) ^ c[3] ^ k[1], p0 & MASK]
    return c


def normals(seed, offset, n):
    key = [seed & MASK, seed >> 32]
    words = np.array([philox4x32([offset & MASK, offset >> 32, i & MASK, i >> 32], key)[:2]
                      for i in range(n)], dtype=np.float64)
    step = float(np.float32(2.3283064e-10))
    step_2pi = float(np.float32(2.3283064e-10 * 6.2831855))
    u = words[:, 0] * step + step / 2
    v = words[:, 1] * step_2pi + step_2pi / 2
    return np.sqrt(-2.0 * np.log(u)) * np.sin(v)


job = Job()
if job["mode"] == "philox":
    n = job["n"]
    halves = job.tensor("counters", (n, 6, 2)).numpy().astype(np.int64)
    words = halves[:, :, 0] | (halves[:, :, 1] << 16)
    out = []
    for row in words:
        for w in philox4x32([int(x) for x in row[:4]], [int(x) for x in row[4:]]):
            out += [w & 0xFFFF, w >> 16]
    job.save(torch.tensor(out, dtype=torch.float64))
else:
    out = []
    for case in job["cases"].split(","):
        seed_lo, seed_hi, offset = (int(v) for v in case.split(":"))
        out.append(normals(seed_lo | (seed_hi << 32), offset, job["n"]))
    job.save(torch.from_numpy(np.concatenate(out)))
