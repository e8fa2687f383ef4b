"""mamba-minimal (the plain PyTorch Mamba that romba, the paper's code, runs on), in the parts the reference scripts
share: reading safetensors, factlab's random initialisation, RMSNorm and the selective scan as a Python loop."""
import json
import math
import struct

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=DTYPES[info["dtype"]]) if b > a else torch.zeros(0)
        out[name] = t.reshape(info["shape"]).float()
    return out


def random_params(cfg, seed):
    """Random weights with factlab's scales (src/models/random.ts), for timing when the weights are not handed over."""
    g = torch.Generator().manual_seed(seed)
    d, D, N, R, V, K = cfg["d_model"], cfg["d_inner"], cfg["d_state"], cfg["dt_rank"], cfg["vocab_size"], cfg["d_conv"]
    p = {"backbone.embeddings.weight": torch.randn(V, d, generator=g), "backbone.norm_f.weight": torch.ones(d)}
    if not cfg.get("tie_embeddings", True):
        p["lm_head.weight"] = torch.randn(V, d, generator=g) / math.sqrt(d)
    for l in range(cfg["n_layer"]):
        q = f"backbone.layers.{l}."
        p[q + "norm.weight"] = torch.ones(d)
        p[q + "mixer.in_proj.weight"] = torch.randn(2 * D, d, generator=g) / math.sqrt(d)
        p[q + "mixer.conv1d.weight"] = torch.randn(D, 1, K, generator=g) / math.sqrt(K)
        p[q + "mixer.conv1d.bias"] = torch.randn(D, generator=g) * 0.05
        p[q + "mixer.x_proj.weight"] = torch.randn(R + 2 * N, D, generator=g) / math.sqrt(D)
        p[q + "mixer.dt_proj.weight"] = torch.randn(D, R, generator=g) / math.sqrt(R)
        p[q + "mixer.dt_proj.bias"] = torch.log(torch.expm1(0.001 + 0.05 * torch.rand(D, generator=g)))
        p[q + "mixer.A_log"] = torch.log(torch.arange(1, N + 1).float()).repeat(D, 1)
        p[q + "mixer.D"] = torch.ones(D)
        p[q + "mixer.out_proj.weight"] = torch.randn(d, D, generator=g) / math.sqrt(D)
    return p


class MambaMinimalBase:
    """mamba-minimal's parts that the references share; each subclass writes the forward pass it needs hooks in."""

    def __init__(self, cfg, params, device):
        self.cfg = cfg
        self.p = {k: v.to(device) for k, v in params.items()}
        self.head = self.p.get("lm_head.weight", self.p["backbone.embeddings.weight"])

    def rmsnorm(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg["eps"]) * w

    def scan(self, u, delta, A, B, C, Dskip):
        # mamba-minimal's selective_scan: a loop over positions, as the paper's runs had.
        dA = torch.exp(torch.einsum("bld,dn->bldn", delta, A))
        dBu = torch.einsum("bld,bln,bld->bldn", delta, B, u)
        x = torch.zeros(u.shape[0], u.shape[2], A.shape[1], device=u.device)
        ys = []
        for i in range(u.shape[1]):
            x = dA[:, i] * x + dBu[:, i]
            ys.append(torch.einsum("bdn,bn->bd", x, C[:, i]))
        return torch.stack(ys, dim=1) + u * Dskip
