#!/usr/bin/env python3
# GEMM oracle: c = alpha · op(a) · op(b) + bias in fp32, as torch.matmul / torch.nn.functional.linear.
# params: batch, batch_b, m, n, k, transpose_a, transpose_b, alpha; inputs a, b and optional bias.
import torch

from lk_oracle import Job

job = Job()
batch, batch_b, m, n, k = (job[name] for name in ("batch", "batch_b", "m", "n", "k"))
a = job.tensor("a", (batch, k, m) if job["transpose_a"] else (batch, m, k))
b = job.tensor("b", (batch_b, n, k) if job["transpose_b"] else (batch_b, k, n))
bias = job.tensor("bias", (n,)) if job.has("bias") else None
if job["transpose_a"]:
    a = a.transpose(1, 2)
if batch_b == 1 and job["transpose_b"] and job["alpha"] == 1.0:
    # The Linear layer case: weights [N, K] shared by every batch.
    c = torch.nn.functional.linear(a, b[0], bias)
else:
    if job["transpose_b"]:
        b = b.transpose(1, 2)
    c = job["alpha"] * torch.matmul(a, b)
    if bias is not None:
        c = c + bias
job.save(c)
