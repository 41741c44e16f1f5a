#!/usr/bin/env python3
# conv2d oracle: torch.nn.functional.conv2d in fp32.
# params: batch, c_in, h, w, c_out, kernel, stride, padding; inputs x, w and optional bias.
import torch

from lk_oracle import Job

job = Job()
x = job.tensor("x", (job["batch"], job["c_in"], job["h"], job["w"]))
w = job.tensor("w", (job["c_out"], job["c_in"], job["kernel"], job["kernel"]))
bias = job.tensor("bias", (job["c_out"],)) if job.has("bias") else None
job.save(torch.nn.functional.conv2d(x, w, bias, stride=job["stride"], padding=job["padding"]))
