# Torch oracle for LoRA training of the SD1.x UNet: oracle_unet.UNet with a LoRA pair beside each
# named layer, ε̂ = UNet(x_t, t, context), loss = mean((ε̂ − target)²), autograd to the LoRA.
# Inputs: x.bin [batch, in_channels, height, width], t.bin [batch], context.bin, target.bin
# (as x), lora.bin (per layer, in the order of params.names: A [r, in] then B [out, r]); the
# gradients are of params.weight (default 1) times the loss. With params.te_path, the context is
# instead the text encoder of that file (oracle_clip_train's LoraClip) on ids.bin
# [batch, n_chunks · 77], its n_chunks encodings side by side, with a LoRA on params.te_names
# from te_lora.bin (the same layout).
# Output: the UNet's LoRA gradients in lora.bin's layout, then the text encoder's (te_path);
# then, with params.context_grad, dL/d(context); then, when params.lr is set, every A and B after
# one clip_grad_norm_(1.0) over all of them and one torch.optim.AdamW step (β 0.9 / 0.999,
# eps 1e-8, weight decay 1e-2; the text encoder's at params.te_lr); then the loss.
import torch
import torch.nn.functional as F

from lk_oracle import Job
from oracle_clip_train import PREFIX as TE_PREFIX, LoraClip, lora_params, lora_size
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
    rank = job["rank"]
    scale = job["alpha"] / rank
    names = job["names"].split(",")

    x = job.tensor("x", (batch, in_channels, height, width))
    timesteps = job.tensor("t", (batch,))
    target = job.tensor("target", (batch, 4, height, width))
    params, lora = lora_params(w, names, rank, job.tensor("lora", (lora_size(w, names, rank),)))
    te_params = []

    with torch.enable_grad():
        if job.get("te_path") is not None:
            te_w = LazyWeights(job["te_path"], TE_PREFIX)
            te_names = job["te_names"].split(",")
            te_flat = job.tensor("te_lora", (lora_size(te_w, te_names, rank),))
            te_params, te_lora = lora_params(te_w, te_names, rank, te_flat)
            n_chunks = job.get("n_chunks", 1)
            ids = job.tensor("ids", (batch * n_chunks, job["context_len"] // n_chunks))
            clip = LoraClip(te_w, te_lora, scale)
            encoded = clip.forward(ids.to(torch.int64), job.get("clip_skip", 1))
            context = encoded.reshape(batch, job["context_len"], -1)
        else:
            context_dim = w["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].shape[1]
            context = job.tensor("context", (batch, job["context_len"], context_dim))
            if job.get("context_grad"):
                context.requires_grad_(True)
        if job.get("context_grad"):
            context.retain_grad()
        unet = LoraUNet(w, context, lora, scale)
        emb = unet.time_embed(timesteps)
        h, skips = unet.encoder(x, emb)
        eps = unet.decoder(h, skips, emb)
        loss = torch.mean((eps - target) ** 2)
        (job.get("weight", 1.0) * loss).backward()
    out = [p.grad.reshape(-1).clone() for p in params + te_params]
    if job.get("context_grad"):
        out.append(context.grad.reshape(-1).clone())
    if job.get("lr") is not None:
        groups = [{"params": params, "lr": job["lr"]}]
        if te_params:
            groups.append({"params": te_params, "lr": job["te_lr"]})
        with torch.enable_grad():
            torch.nn.utils.clip_grad_norm_(params + te_params, 1.0)
            optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=1e-2)
            optimizer.step()
        out += [p.detach().reshape(-1) for p in params + te_params]
    out.append(loss.detach().reshape(1))
    job.save(torch.cat(out))


if __name__ == "__main__":
    main()
