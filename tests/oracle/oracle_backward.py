# Torch oracle for the backward ops and AdamW, in fp32 with autograd. One run computes `cases`
# cases; case i reads its parameters with the suffix i, and the outputs (the gradients in the
# order listed per op) are concatenated, so torch is imported once.
#   layer_norm: dx, dgamma, dbeta          group_norm (+silu): dx, dgamma, dbeta
#   silu, gelu, quick_gelu: dx             geglu: dx
#   gemm (a [batch, m, k] or transposed, b [batch_b, k, n] or transposed, bias [n]): da, db, dbias
#   adamw: param after each of `steps` steps on grads g0, g1, …, then m and v
import torch
import torch.nn.functional as F

from lk_oracle import Job

job = Job()
outputs = []


def leaf(t):
    return t.clone().requires_grad_(True)


for i in range(job["cases"]):
    def param(name):
        return job[f"{name}{i}"]

    def tensor(name, shape):
        return job.tensor(f"{name}{i}", shape)

    op = param("op")
    if op == "layer_norm":
        rows, dim = param("rows"), param("dim")
        x, gamma, beta = leaf(tensor("x", (rows, dim))), leaf(tensor("gamma", (dim,))), leaf(tensor("beta", (dim,)))
        with torch.enable_grad():
            y = F.layer_norm(x, (dim,), gamma, beta, eps=param("eps"))
            y.backward(tensor("dy", (rows, dim)))
        outputs += [x.grad, gamma.grad, beta.grad]
    elif op == "group_norm":
        n, c, s = param("n"), param("c"), param("spatial")
        x, gamma, beta = leaf(tensor("x", (n, c, s))), leaf(tensor("gamma", (c,))), leaf(tensor("beta", (c,)))
        with torch.enable_grad():
            y = F.group_norm(x, param("groups"), gamma, beta, eps=param("eps"))
            if param("silu"):
                y = F.silu(y)
            y.backward(tensor("dy", (n, c, s)))
        outputs += [x.grad, gamma.grad, beta.grad]
    elif op in ("silu", "gelu", "quick_gelu"):
        x = leaf(tensor("x", (param("n"),)))
        with torch.enable_grad():
            if op == "silu":
                y = F.silu(x)
            elif op == "gelu":
                y = F.gelu(x)
            else:
                y = x * torch.sigmoid(1.702 * x)
            y.backward(tensor("dy", (param("n"),)))
        outputs.append(x.grad)
    elif op == "geglu":
        rows, h = param("rows"), param("h")
        x = leaf(tensor("x", (rows, 2 * h)))
        with torch.enable_grad():
            hidden, gate = x.chunk(2, dim=-1)
            y = hidden * F.gelu(gate)
            y.backward(tensor("dy", (rows, h)))
        outputs.append(x.grad)
    elif op == "gemm":
        batch, batch_b, m, n, k = (param(name) for name in ("batch", "batch_b", "m", "n", "k"))
        ta, tb = param("transpose_a"), param("transpose_b")
        a = leaf(tensor("a", (batch, k, m) if ta else (batch, m, k)))
        b = leaf(tensor("b", (batch_b, n, k) if tb else (batch_b, k, n)))
        bias = leaf(tensor("bias", (n,)))
        with torch.enable_grad():
            opa = a.transpose(1, 2) if ta else a
            opb = b.transpose(1, 2) if tb else b
            c = param("alpha") * torch.matmul(opa, opb) + bias
            c.backward(tensor("dc", (batch, m, n)))
        outputs += [a.grad, b.grad, bias.grad]
    elif op == "adamw":
        n = param("n")
        p = torch.nn.Parameter(tensor("param", (n,)))
        opt = torch.optim.AdamW([p], lr=param("lr"), betas=(0.9, 0.999), eps=1e-8,
                                weight_decay=param("weight_decay"))
        for step in range(param("steps")):
            p.grad = tensor(f"g{step}_", (n,))
            opt.step()
            outputs.append(p.detach().clone())
        state = opt.state[p]
        outputs += [state["exp_avg"], state["exp_avg_sq"]]
    else:
        raise SystemExit("unknown op " + op)
job.save(torch.cat([o.reshape(-1) for o in outputs]))
