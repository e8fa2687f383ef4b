"""The paper's causal-tracing procedure in PyTorch, as a speed and correctness yardstick for `factlab trace`.

romba (the paper's code) runs every experiment on mamba-minimal, a plain PyTorch Mamba whose selective scan is a
Python loop over positions, and traces with one forward pass per (site, token, layer): the batch [clean, corrupted]
goes through the model with the corrupted row's activation at that token replaced by the clean row's, in one
layer (the residual stream) or a window of layers (s, g, o), and p(answer) is read at the corrupted row's last
token (romba src/tracing.py trace_with_patch, trace_important_states, trace_important_window). This script does
exactly that, with the model written out below in mamba-minimal's way and a hook at each of the paper's sites.

    python3 reference/trace_reference.py --spec SPEC.json --out RESULT.json [--device cuda]

SPEC.json (written by bench/trace.ts) gives the config, the token ids of each fact's two rows, the sites and the
window, and either a safetensors file with the weights (then the matrices can be compared with factlab's) or a
seed for random weights (timing only, for models too large to hand over). RESULT.json has the time per fact, the
number of forward passes, and each fact's matrices.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

from mamba_minimal import MambaMinimalBase, load_safetensors, random_params

class MambaMinimal(MambaMinimalBase):
    """mamba-minimal's forward (romba's MambaBlockForwardPatcher) with a hook at h (residual), s, g and o."""

    def forward(self, ids, hook):
        c, P = self.cfg, self.p
        D, N, R, L = c["d_inner"], c["d_state"], c["dt_rank"], ids.shape[1]
        h = P["backbone.embeddings.weight"][ids]
        for l in range(c["n_layer"]):
            q = f"backbone.layers.{l}.mixer."
            u = self.rmsnorm(h, P[f"backbone.layers.{l}.norm.weight"])
            xz = u @ P[q + "in_proj.weight"].T
            x, z = xz[..., :D], xz[..., D:]
            xc = F.conv1d(x.transpose(1, 2), P[q + "conv1d.weight"], P.get(q + "conv1d.bias"), padding=c["d_conv"] - 1, groups=D)[..., :L].transpose(1, 2)
            xa = F.silu(xc)
            dt, B, C = (xa @ P[q + "x_proj.weight"].T).split([R, N, N], dim=-1)
            delta = F.softplus(dt @ P[q + "dt_proj.weight"].T + P[q + "dt_proj.bias"])
            s = hook("s", l, self.scan(xa, delta, -torch.exp(P[q + "A_log"]), B, C, P[q + "D"]))
            g = hook("g", l, F.silu(z))
            o = hook("o", l, (s * g) @ P[q + "out_proj.weight"].T)
            h = hook("residual", l, h + o)
        return self.rmsnorm(h[:, -1], P["backbone.norm_f.weight"]) @ self.head.T


class OutOfTime(Exception):
    pass


def trace_fact(model, ids, sites, window, n_layer, deadline=None, sync=lambda: None):
    """One forward of [clean, corrupted] per (site, token, layer), the corrupted row restored from the clean row.
    With a deadline (time.perf_counter() value) it stops at the first forward that ends after it and says how many
    of the fact's forwards it made, so that a fact too slow to finish can still be timed per forward."""
    total = 1 + len(sites) * ids.shape[1] * n_layer
    with torch.no_grad():
        probs = torch.softmax(model.forward(ids, lambda k, l, x: x), -1)
        answer = int(probs[0].argmax())
        high, low = float(probs[0, answer]), float(probs[1, answer])
        scores, forwards = {}, 1
        for site in sites:
            w = 1 if site == "residual" else window
            m = [[0.0] * n_layer for _ in range(ids.shape[1])]
            for t in range(ids.shape[1]):
                for L in range(n_layer):
                    layers = set(range(max(0, L - w // 2), min(n_layer, L - w // 2 + w)))

                    def hook(kind, l, x):
                        if kind != site or l not in layers:
                            return x
                        x = x.clone()
                        x[1, t] = x[0, t]
                        return x

                    m[t][L] = float(torch.softmax(model.forward(ids, hook), -1)[1, answer])
                    forwards += 1
                    if deadline is not None and time.perf_counter() > deadline:
                        sync()
                        return {"answer": answer, "high": high, "low": low, "scores": None, "forwards": forwards, "forwards_total": total}
            scores[site] = m
    return {"answer": answer, "high": high, "low": low, "scores": scores, "forwards": forwards, "forwards_total": total}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--max-seconds", type=float, default=0, help="stop a fact after this long and project its time from the forwards made (0: no limit)")
    a = ap.parse_args()
    spec = json.load(open(a.spec))
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = spec["config"]
    params = load_safetensors(spec["weights"]) if spec.get("weights") else random_params(cfg, spec.get("seed", 0))
    model = MambaMinimal(cfg, params, a.device)
    del params
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)
    facts, times = [], []
    for k, rows in enumerate(spec["facts"]):
        ids = torch.tensor(rows, dtype=torch.long, device=a.device)
        if k == 0:  # warm-up: the first forward pays for allocation and kernel selection
            with torch.no_grad():
                model.forward(ids, lambda kind, l, x: x)
        sync()
        t0 = time.perf_counter()
        r = trace_fact(model, ids, spec["sites"], spec["window"], cfg["n_layer"], t0 + a.max_seconds if a.max_seconds else None, sync)
        sync()
        # A fact stopped at the deadline is timed per forward and projected to all of its forwards.
        times.append((time.perf_counter() - t0) * r["forwards_total"] / r["forwards"])
        facts.append(r)
    json.dump({
        "impl": "mamba-minimal forward, one forward pass per (site, token, layer), as romba traces",
        "torch": torch.__version__, "device": torch.cuda.get_device_name() if a.device.startswith("cuda") else f"cpu, {torch.get_num_threads()} threads",
        "seconds_per_fact": times, "projected": any(f["scores"] is None for f in facts), "facts": facts,
    }, open(a.out, "w"))


if __name__ == "__main__":
    main()
