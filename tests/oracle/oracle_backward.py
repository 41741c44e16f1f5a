# Torch oracle for the backward ops and AdamW, in fp32 with autograd. One run computes `cases`
# cases; case i reads its parameters with the suffix i, and the outputs (the gradients in the
# order listed per op) are concatenated, so torch is imported once.
#   layer_norm: dx, dgamma, dbeta          group_norm (+silu): dx, dgamma, dbeta
#   silu, gelu, quick_gelu: dx             geglu: dx
#   gemm (a [batch, m, k] or transposed, b [batch_b, k, n] or transposed, bias [n]): da, db, dbias
#   conv2d (x [n, cin, h, w], w [cout, cin, k, k], padding (k - 1) / 2): dx, dw, dbias
#   attention (q [b, nq, heads * d], k and v [b, nk, heads * d]): dq, dk, dv
#   upsample (x of shape "n,c,h,w"): dx            concat (a [n, ca, h, w], b [n, cb, h, w]): da, db
#   mul (a, b broadcast, shapes "2,3,4" strings): da, db
#   lora (x [rows, in] or [n, in, h, w] when conv): y, dx, dA, dB
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

    def dims(name):
        return tuple(int(v) for v in param(name).split(","))

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
    elif op == "conv2d":
        n, cin, h, w, cout, k = (param(name) for name in ("n", "cin", "h", "w", "cout", "k"))
        x, weight = leaf(tensor("x", (n, cin, h, w))), leaf(tensor("w", (cout, cin, k, k)))
        bias = leaf(torch.zeros(cout))
        with torch.enable_grad():
            y = F.conv2d(x, weight, bias, stride=param("stride"), padding=(k - 1) // 2)
            y.backward(tensor("dy", tuple(y.shape)))
        outputs += [x.grad, weight.grad, bias.grad]
    elif op == "attention":
        b, nq, nk, heads, d = (param(name) for name in ("b", "nq", "nk", "heads", "d"))
        q = leaf(tensor("q", (b, nq, heads * d)))
        k, v = leaf(tensor("k", (b, nk, heads * d))), leaf(tensor("v", (b, nk, heads * d)))
        with torch.enable_grad():
            def split(t):
                return t.reshape(b, t.shape[1], heads, d).transpose(1, 2)
            scores = split(q) @ split(k).transpose(-1, -2) * d ** -0.5
            if param("causal"):
                scores = scores.masked_fill(torch.ones(nq, nk).tril() == 0, float("-inf"))
            o = (scores.softmax(-1) @ split(v)).transpose(1, 2).reshape(b, nq, heads * d)
            o.backward(tensor("do", (b, nq, heads * d)))
        outputs += [q.grad, k.grad, v.grad]
    elif op == "upsample":
        shape = dims("shape")
        x = leaf(tensor("x", shape))
        with torch.enable_grad():
            y = F.interpolate(x, scale_factor=2.0, mode="nearest")
            y.backward(tensor("dy", tuple(y.shape)))
        outputs.append(x.grad)
    elif op == "concat":
        a, b = leaf(tensor("a", dims("a_shape"))), leaf(tensor("b", dims("b_shape")))
        with torch.enable_grad():
            y = torch.cat([a, b], dim=1)
            y.backward(tensor("dy", tuple(y.shape)))
        outputs += [a.grad, b.grad]
    elif op == "mul":
        a, b = leaf(tensor("a", dims("a_shape"))), leaf(tensor("b", dims("b_shape")))
        with torch.enable_grad():
            y = a * b
            y.backward(tensor("dy", tuple(y.shape)))
        outputs += [a.grad, b.grad]
    elif op == "lora":
        # kohya's LoRAModule: org_forward(x) + lora_up(lora_down(x)) * multiplier * scale.
        rows, n, hw = param("rows"), param("n"), param("hw")
        fin, fout, rank, conv = param("in"), param("out"), param("rank"), param("conv")
        w, b = tensor("w", (fout, fin)), tensor("b", (fout,))
        down, up = leaf(tensor("down", (rank, fin))), leaf(tensor("up", (fout, rank)))
        if conv:
            x = leaf(tensor("x", (n, fin, hw)))
        else:
            x = leaf(tensor("x", (rows, fin)))
        with torch.enable_grad():
            if conv:
                x4 = x.reshape(n, fin, hw, 1)
                base = F.conv2d(x4, w.reshape(fout, fin, 1, 1), b)
                lora = F.conv2d(F.conv2d(x4, down.reshape(rank, fin, 1, 1)), up.reshape(fout, rank, 1, 1))
                y = (base + lora * param("scale")).reshape(n, fout, hw)
            else:
                y = F.linear(x, w, b) + F.linear(F.linear(x, down), up) * param("scale")
            y.backward(tensor("dy", tuple(y.shape)))
        outputs += [y.detach(), x.grad, down.grad, up.grad]
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
