# Torch oracle for group norm (+ SiLU), layer norm and softmax, in fp32. One run computes
# `cases` cases; case i reads its parameters with the suffix i (op0, x0, ...) and the outputs
# are concatenated in order, so torch is imported once.
import torch
import torch.nn.functional as F

from lk_oracle import Job

job = Job()
outputs = []
for i in range(job["cases"]):
    def param(name):
        return job[f"{name}{i}"]

    def tensor(name, shape):
        return job.tensor(f"{name}{i}", shape)

    op = param("op")
    if op == "group_norm":
        c = param("c")
        x = tensor("x", (param("n"), c, param("h"), param("w")))
        y = F.group_norm(x, param("groups"), tensor("gamma", (c,)), tensor("beta", (c,)),
                         eps=param("eps"))
        if param("silu"):
            y = F.silu(y)
    elif op == "layer_norm":
        dim = param("dim")
        x = tensor("x", (param("rows"), dim))
        y = F.layer_norm(x, (dim,), tensor("gamma", (dim,)), tensor("beta", (dim,)),
                         eps=param("eps"))
    elif op == "softmax":
        x = tensor("x", (param("rows"), param("dim")))
        y = torch.softmax(x * param("scale"), dim=-1)
    else:
        raise SystemExit("unknown op " + op)
    outputs.append(y.reshape(-1))
job.save(torch.cat(outputs))
