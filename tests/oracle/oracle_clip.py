# Torch oracle for the CLIP ViT-L/14 text encoder, built by hand in fp32 (no transformers
# package): token + position embeddings, pre-LN blocks with causal self-attention and QuickGELU
# MLPs, final layer norm. Weights come from the safetensors file params.path under the canonical
# LDM names, converted exactly from their stored dtype. ids.bin holds batch × context token ids
# (as f32), weights.bin the A1111 per-token weights. Output, concatenated: clip skip 1, clip
# skip 2, clip skip 1 with the prompt weights applied as A1111 does.
import json
import math
import struct

import numpy as np
import torch

from lk_oracle import Job

PREFIX = "cond_stage_model.transformer.text_model."
DTYPES = {"F16": np.float16, "F32": np.float32, "BF16": None}


def read_safetensors(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or not name.startswith(PREFIX):
            continue
        start, end = entry["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=DTYPES[entry["dtype"]])
        tensors[name[len(PREFIX):]] = torch.from_numpy(array.astype(np.float32).reshape(entry["shape"]))
    return tensors


job = Job()
w = read_safetensors(job["path"])
batch, context = job["batch"], job["context"]
ids = job.tensor("ids", (batch, context)).to(torch.int64)
token_weights = job.tensor("weights", (batch, context))
width = w["embeddings.token_embedding.weight"].shape[1]
heads = width // 64
n_layers = 0
while f"encoder.layers.{n_layers}.layer_norm1.weight" in w:
    n_layers += 1


def layer_norm(x, name):
    return torch.nn.functional.layer_norm(x, (width,), w[name + ".weight"], w[name + ".bias"], 1e-5)


def linear(x, name):
    return x @ w[name + ".weight"].t() + w[name + ".bias"]


mask = torch.full((context, context), float("-inf")).triu(1)


def block(x, i):
    p = f"encoder.layers.{i}."
    h = layer_norm(x, p + "layer_norm1")

    def split(t):
        return t.reshape(batch, context, heads, 64).permute(0, 2, 1, 3)

    q = split(linear(h, p + "self_attn.q_proj"))
    k = split(linear(h, p + "self_attn.k_proj"))
    v = split(linear(h, p + "self_attn.v_proj"))
    scores = q @ k.transpose(-1, -2) / math.sqrt(64) + mask
    a = (torch.softmax(scores, dim=-1) @ v).permute(0, 2, 1, 3).reshape(batch, context, width)
    x = x + linear(a, p + "self_attn.out_proj")
    h = linear(layer_norm(x, p + "layer_norm2"), p + "mlp.fc1")
    h = h * torch.sigmoid(1.702 * h)
    return x + linear(h, p + "mlp.fc2")


x = w["embeddings.token_embedding.weight"][ids] + w["embeddings.position_embedding.weight"][:context]
hidden = [x]
for i in range(n_layers):
    hidden.append(block(hidden[-1], i))
skip1 = layer_norm(hidden[n_layers], "final_layer_norm")
skip2 = layer_norm(hidden[n_layers - 1], "final_layer_norm")

# A1111 (sd_hijack_clip.py): scale by the weights, then restore the original mean.
weighted = []
for b in range(batch):
    z = skip1[b:b + 1]
    original_mean = z.mean()
    z = z * token_weights[b].reshape(1, context, 1)
    weighted.append(z * (original_mean / z.mean()))
job.save(torch.cat([skip1.reshape(-1), skip2.reshape(-1), torch.cat(weighted).reshape(-1)]))
