# Torch oracle for LoRA training of the CLIP text encoder: the encoder built by hand in fp32 (as
# oracle_clip.py: pre-LN blocks, causal self-attention written out, QuickGELU), with a LoRA pair
# y += (α / r) · (x Aᵀ) Bᵀ beside each named Linear, autograd to the LoRA.
# Inputs: ids.bin [batch, context] (token ids as f32), d_out.bin (the gradient of the loss with
# respect to the output [batch, context, width]: loss = Σ d_out · output), lora.bin (per layer,
# in the order of params.names: A [r, in] then B [out, r]).
# Output: the encoder's output, the LoRA gradients in lora.bin's layout, then, when params.lr is
# set, A and B after clip_grad_norm_(1.0) and one torch.optim.AdamW step (β 0.9 / 0.999,
# eps 1e-8, weight decay 1e-2). LoraClip is imported by oracle_unet_train.py for joint training.
import math

import torch

from lk_oracle import Job
from oracle_unet import LazyWeights

PREFIX = "cond_stage_model.transformer.text_model."


class LoraClip:
    """CLIP's text transformer over the weights w, with LoRA pairs lora (name → (A, B))."""

    def __init__(self, w, lora, scale):
        self.w = w
        self.lora = lora
        self.scale = scale
        self.width = w["embeddings.token_embedding.weight"].shape[1]
        self.n_layers = 0
        while f"encoder.layers.{self.n_layers}.layer_norm1.weight" in w:
            self.n_layers += 1

    def layer_norm(self, x, name):
        w = self.w
        return torch.nn.functional.layer_norm(x, (self.width,), w[name + ".weight"],
                                              w[name + ".bias"], 1e-5)

    def linear(self, x, name):
        y = x @ self.w[name + ".weight"].t() + self.w[name + ".bias"]
        if name in self.lora:
            a, b = self.lora[name]
            y = y + (x @ a.t()) @ b.t() * self.scale
        return y

    def block(self, x, i):
        batch, context, width = x.shape
        heads = width // 64
        p = f"encoder.layers.{i}."
        h = self.layer_norm(x, p + "layer_norm1")

        def split(t):
            return t.reshape(batch, context, heads, 64).permute(0, 2, 1, 3)

        q = split(self.linear(h, p + "self_attn.q_proj"))
        k = split(self.linear(h, p + "self_attn.k_proj"))
        v = split(self.linear(h, p + "self_attn.v_proj"))
        mask = torch.full((context, context), float("-inf")).triu(1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(64) + mask
        a = (torch.softmax(scores, dim=-1) @ v).permute(0, 2, 1, 3).reshape(batch, context, width)
        x = x + self.linear(a, p + "self_attn.out_proj")
        h = self.linear(self.layer_norm(x, p + "layer_norm2"), p + "mlp.fc1")
        h = h * torch.sigmoid(1.702 * h)
        return x + self.linear(h, p + "mlp.fc2")

    def forward(self, ids, clip_skip=1):
        w = self.w
        context = ids.shape[1]
        x = (w["embeddings.token_embedding.weight"][ids] +
             w["embeddings.position_embedding.weight"][:context])
        for i in range(self.n_layers - clip_skip + 1):
            x = self.block(x, i)
        return self.layer_norm(x, "final_layer_norm")


def lora_params(w, names, rank, flat):
    """The LoRA pairs of names from the flat layout (A [r, in] then B [out, r] per layer)."""
    params, offset = [], 0
    for name in names:
        out_features, in_features = w[name + ".weight"].shape[:2]
        for shape in ((rank, in_features), (out_features, rank)):
            n = shape[0] * shape[1]
            params.append(flat[offset:offset + n].reshape(shape).clone().requires_grad_(True))
            offset += n
    if offset != flat.numel():
        raise SystemExit(f"lora.bin holds {flat.numel()} values where the layers take {offset}")
    return params, {name: (params[2 * i], params[2 * i + 1]) for i, name in enumerate(names)}


def lora_size(w, names, rank):
    return sum(rank * (w[n + ".weight"].shape[0] + w[n + ".weight"].shape[1]) for n in names)


def main():
    job = Job()
    w = LazyWeights(job["path"], PREFIX)
    batch, context, rank = job["batch"], job["context"], job["rank"]
    names = job["names"].split(",")
    ids = job.tensor("ids", (batch, context)).to(torch.int64)
    flat = job.tensor("lora", (lora_size(w, names, rank),))
    params, lora = lora_params(w, names, rank, flat)

    with torch.enable_grad():
        clip = LoraClip(w, lora, job["alpha"] / rank)
        out = clip.forward(ids, job.get("clip_skip", 1))
        d_out = job.tensor("d_out", tuple(out.shape))
        (out * d_out).sum().backward()
    result = [out.detach().reshape(-1)]
    result += [p.grad.reshape(-1).clone() for p in params]
    if job.get("lr") is not None:
        with torch.enable_grad():
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer = torch.optim.AdamW(params, lr=job["lr"], betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=1e-2)
            optimizer.step()
        result += [p.detach().reshape(-1) for p in params]
    job.save(torch.cat(result))


if __name__ == "__main__":
    main()
