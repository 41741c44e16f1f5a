# Torch oracle for LoRA training of the SD1.x UNet: oracle_unet.UNet with a LoRA pair beside each
# named layer, ε̂ = UNet(x_t, t, context), loss = mean((ε̂ − target)²), autograd to the LoRA.
# Inputs: x.bin [batch, in_channels, height, width], t.bin [batch], context.bin, target.bin
# (as x), lora.bin (per layer, in the order of params.names: A [r, in] then B [out, r]).
# Output: the gradients in the same layout, then, when params.lr is set, A and B after
# clip_grad_norm_(1.0) and one torch.optim.AdamW step (β 0.9 / 0.999, eps 1e-8, weight decay
# 1e-2), then the loss.
import torch
import torch.nn.functional as F

from lk_oracle import Job
from oracle_unet import LazyWeights, UNet


class LoraUNet(UNet):
    """LDM's UNet with y += (α / r) · B A x on the layers of self.lora (name → (A, B))."""

    def __init__(self, w, context, lora, scale):
        super().__init__(w, context)
        self.lora = lora
        self.scale = scale

    def linear(self, h, name, bias=True):
        y = super().linear(h, name, bias)
        if name in self.lora:
            a, b = self.lora[name]
            y = y + (h @ a.t()) @ b.t() * self.scale
        return y

    def conv(self, h, name, stride=1):
        y = super().conv(h, name, stride)
        if name in self.lora:
            a, b = self.lora[name]
            y = y + F.conv2d(F.conv2d(h, a[:, :, None, None]), b[:, :, None, None]) * self.scale
        return y


def main():
    job = Job()
    w = LazyWeights(job["path"])
    batch, height, width = job["batch"], job["height"], job["width"]
    in_channels = w["input_blocks.0.0.weight"].shape[1]
    context_dim = w["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].shape[1]
    rank = job["rank"]
    names = job["names"].split(",")

    x = job.tensor("x", (batch, in_channels, height, width))
    timesteps = job.tensor("t", (batch,))
    context = job.tensor("context", (batch, job["context_len"], context_dim))
    target = job.tensor("target", (batch, 4, height, width))
    shapes = []
    for name in names:
        out_features, in_features = w[name + ".weight"].shape[:2]
        shapes += [(rank, in_features), (out_features, rank)]
    total = sum(a * b for a, b in shapes)
    flat = job.tensor("lora", (total,))
    params, offset = [], 0
    for a, b in shapes:
        params.append(flat[offset:offset + a * b].reshape(a, b).clone().requires_grad_(True))
        offset += a * b
    lora = {name: (params[2 * i], params[2 * i + 1]) for i, name in enumerate(names)}

    with torch.enable_grad():
        unet = LoraUNet(w, context, lora, job["alpha"] / rank)
        emb = unet.time_embed(timesteps)
        h, skips = unet.encoder(x, emb)
        eps = unet.decoder(h, skips, emb)
        loss = torch.mean((eps - target) ** 2)
        loss.backward()
    out = [p.grad.reshape(-1).clone() for p in params]
    if job.get("lr") is not None:
        with torch.enable_grad():
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer = torch.optim.AdamW(params, lr=job["lr"], betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=1e-2)
            optimizer.step()
        out += [p.detach().reshape(-1) for p in params]
    out.append(loss.detach().reshape(1))
    job.save(torch.cat(out))


if __name__ == "__main__":
    main()
