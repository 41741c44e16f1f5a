# Torch oracle for SD1.x ControlNets (lllyasviel's cldm.ControlNet), built by hand in fp32 on the
# UNet oracle's layers (oracle_unet.UNet), plus sd-webui-controlnet's way of combining units.
# Params: nets (comma-separated safetensors paths, LDM names under control_model.), batch,
# height, width (latent), context_len, x_channels; per net (comma-separated): weights, modes
# (balanced / prompt / control), hint_batch (1 or batch); cond (0/1 per batch entry); groups
# (optional counts: the units are summed in consecutive groups of these sizes instead of all
# together); unet_path (optional).
# Inputs: x [batch, x_channels, height, width] (a net takes its leading channels, as A1111 gives
# an inpainting UNet's latent to a 4-channel ControlNet), t, context, hint0 … (one per net).
# Output: each group's 13 summed residuals, flattened and concatenated; with unet_path, the
# UNet's noise prediction with the (last group's) residuals added instead.
# With to_pth instead, the safetensors file path is re-saved by torch.save (output: its tensor
# count).
import torch
import torch.nn.functional as F

from lk_oracle import Job
from oracle_unet import LazyWeights, UNet, residual_shapes

class ControlNet(UNet):
    def residuals(self, x, timesteps, hint):
        emb = self.time_embed(timesteps)
        g = hint
        for i in range(8):
            g = self.conv(g, f"input_hint_block.{2 * i}", stride=2 if i in (2, 4, 6) else 1)
            if i < 7:
                g = F.silu(g)
        h, skips = self.encoder(x, emb, g)
        outs = [self.conv(s, f"zero_convs.{i}.0") for i, s in enumerate(skips)]
        return outs + [self.conv(h, "middle_block_out.0")]


def unit_scales(weight, mode):
    # sd-webui-controlnet: soft injection ("prompt" and "control") weighs residual i of 13 by
    # 0.825 ** (12 - i); "control" also multiplies the unconditional batch entries by 0.
    if mode == "balanced":
        return [weight] * 13
    return [weight * 0.825 ** float(12 - i) for i in range(13)]


def save_pth(job):
    # The same tensors as a torch.save()d state dict, as lllyasviel's v1.1 .pth files are.
    w = LazyWeights(job["path"], prefix="")
    state = {name: w[name].half() for name in w.header if name != "__metadata__"}
    torch.save(state, job["to_pth"])
    job.save(torch.tensor([float(len(state))]))


def main():
    job = Job()
    if job.get("to_pth"):
        save_pth(job)
        return
    nets = job["nets"].split(",")
    weights = [float(v) for v in job["weights"].split(",")]
    modes = job["modes"].split(",")
    cond = torch.tensor([float(v) for v in job["cond"].split(",")])
    batch, height, width = job["batch"], job["height"], job["width"]
    x_full = job.tensor("x", (batch, job["x_channels"], height, width))

    # Units of the same net run as one batch: the weights are read once.
    outputs = [None] * len(nets)
    for path in dict.fromkeys(nets):
        units = [n for n, p in enumerate(nets) if p == path]
        w = LazyWeights(path, prefix="control_model.")
        model_channels, in_channels = w["input_blocks.0.0.weight"].shape[:2]
        context_dim = w["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].shape[1]
        x = x_full[:, :in_channels].repeat(len(units), 1, 1, 1)
        t = job.tensor("t", (batch,)).repeat(len(units))
        context = job.tensor("context", (batch, job["context_len"], context_dim))
        hints = []
        for n in units:
            hint_batch = int(job["hint_batch"].split(",")[n])
            hint = job.tensor(f"hint{n}", (hint_batch, 3, 8 * height, 8 * width))
            hints.append(hint.expand(batch, -1, -1, -1))
        outs = ControlNet(w, context.repeat(len(units), 1, 1)).residuals(x, t, torch.cat(hints))
        for k, n in enumerate(units):
            outputs[n] = [o[k * batch:(k + 1) * batch] for o in outs]

    # groups: how many consecutive units each summed output takes (default: all in one).
    groups = [int(g) for g in job.get("groups", str(len(nets))).split(",")]
    totals, n = [], 0
    for size in groups:
        total = None
        for outs in outputs[n:n + size]:
            scales = unit_scales(weights[n], modes[n])
            outs = [o * s for o, s in zip(outs, scales)]
            if modes[n] == "control":
                outs = [o * cond[:, None, None, None] for o in outs]
            total = outs if total is None else [a + b for a, b in zip(total, outs)]
            n += 1
        totals.append(total)
    total = totals[-1]

    if job.get("unet_path"):
        w = LazyWeights(job["unet_path"])
        context_dim = w["input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"].shape[1]
        t = job.tensor("t", (batch,))
        context = job.tensor("context", (batch, job["context_len"], context_dim))
        unet = UNet(w, context)
        emb = unet.time_embed(t)
        h, skips = unet.encoder(x_full, emb)
        assert [tuple(r.shape) for r in total] == residual_shapes(
            h.shape[1] // 4, batch, height, width)
        job.save(unet.decoder(h, skips, emb, total))
    else:
        job.save(torch.cat([o.reshape(-1) for total in totals for o in total]))


if __name__ == "__main__":
    main()
