#!/usr/bin/env python3
# Oracle for the elementwise ops: params.op names the torch function applied to x.bin.
import torch.nn.functional as F

from lk_oracle import Job

job = Job()
x = job.tensor("x", (job["n"],))
ops = {
    "gelu": lambda t: F.gelu(t),  # erf form, torch's default
    "silu": F.silu,
    "geglu": None,
}
if job["op"] == "geglu":
    rows, h = job["rows"], job["h"]
    hidden, gate = x.reshape(rows, 2 * h).chunk(2, dim=-1)
    job.save(hidden * F.gelu(gate))
else:
    job.save(ops[job["op"]](x))
