# Torch oracle for multi-head attention, by hand in fp32 (torch 1.13 has no
# scaled_dot_product_attention): softmax(q kᵀ / √D) v per head. One run computes `cases` cases;
# case i reads batch{i}, q{i}, ... and the outputs are concatenated in order.
import math

import torch

from lk_oracle import Job

job = Job()
outputs = []
for i in range(job["cases"]):
    b, n_q, n_k = job[f"batch{i}"], job[f"n_q{i}"], job[f"n_k{i}"]
    heads, d = job[f"heads{i}"], job[f"head_dim{i}"]

    def split_heads(name, n):
        t = job.tensor(f"{name}{i}", (b, n, heads * d))
        return t.reshape(b, n, heads, d).permute(0, 2, 1, 3)

    q, k, v = split_heads("q", n_q), split_heads("k", n_k), split_heads("v", n_k)
    weights = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d), dim=-1)
    o = torch.matmul(weights, v).permute(0, 2, 1, 3).reshape(b, n_q, heads * d)
    outputs.append(o.reshape(-1))
job.save(torch.cat(outputs))
