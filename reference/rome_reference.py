"""ROME on Mamba in PyTorch, as ROME and romba compute it: a speed and correctness yardstick for factlab's ROME.

The model is mamba-minimal (romba runs every experiment on it: a plain PyTorch Mamba whose scan is a Python loop
over positions). Two timed parts, as bench/rome.ts times factlab:

- the key statistics C = E[k kᵀ] of out_proj's input at one layer over the given batches of token ids (right-padded,
  padding excluded), summed in float64 (ROME's layer_stats with runningstats.SecondMoment);
- one edit of W_o (statistics excluded): k* = mean key at the subject's last token over the context templates,
  u = C⁻¹k*/‖C⁻¹k*‖ (torch.linalg.solve), v* by ROME's compute_v (Adam on δ added to out_proj's output, NLL +
  kl_factor·KL(now‖init) + v_weight_decay·‖δ‖/‖v_init‖², clamp, early stops), r = (v* − v_cur)/(k_cur·u).

    python3 reference/rome_reference.py --spec SPEC.json --out RESULT.json [--device cuda] [--threads N]

SPEC.json (written by bench/rome.ts) holds the config, the weights (a safetensors file, or a seed for random
weights when the model is too large to hand over: timing only), the layer, the hyper-parameters and every token
id both sides use, so that the two implementations see identical inputs. RESULT.json has the times, u, r and the
v* steps.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

from mamba_minimal import MambaMinimalBase, load_safetensors, random_params

class Mamba(MambaMinimalBase):
    """mamba-minimal's forward, with out_proj's input captured and a δ added to out_proj's output at one layer."""

    def forward(self, ids, layer, add=None, logits=True):
        """add = (delta, mask[B,T,1]) adds δ at out_proj's output; returns (logits or None, out_proj input at layer)."""
        c, p = self.cfg, self.p
        D, N, R = c["d_inner"], c["d_state"], c["dt_rank"]
        h = p["backbone.embeddings.weight"][ids]
        key = None
        for l in range(c["n_layer"]):
            q = f"backbone.layers.{l}.mixer."
            u = self.rmsnorm(h, p[f"backbone.layers.{l}.norm.weight"])
            xz = u @ p[q + "in_proj.weight"].T
            x, z = xz[..., :D], xz[..., D:]
            T = x.shape[1]
            x = F.conv1d(x.transpose(1, 2), p[q + "conv1d.weight"], p[q + "conv1d.bias"], padding=c["d_conv"] - 1, groups=D)[..., :T].transpose(1, 2)
            x = F.silu(x)
            dbl = x @ p[q + "x_proj.weight"].T
            dt, B, C = dbl[..., :R], dbl[..., R:R + N], dbl[..., R + N:]
            delta = F.softplus(dt @ p[q + "dt_proj.weight"].T + p[q + "dt_proj.bias"])
            y = self.scan(x, delta, -torch.exp(p[q + "A_log"]), B, C, p[q + "D"])
            gated = y * F.silu(z)
            o = gated @ p[q + "out_proj.weight"].T
            if l == layer:
                key = gated
                if add is not None:
                    o = o + add[1] * add[0]
            h = h + o
        return (self.rmsnorm(h, p["backbone.norm_f.weight"]) @ self.head.T if logits else None), key


def padded(rows, device):
    T = max(len(r) for r in rows)
    return torch.tensor([r + [0] * (T - len(r)) for r in rows], device=device), T


def statistics(m, layer, batches, device):
    """ROME's layer_stats: Σ kkᵀ over every real token, in float64, divided by the count."""
    dim = m.cfg["d_inner"]
    total = torch.zeros(dim, dim, dtype=torch.float64, device=device)
    count = 0
    with torch.no_grad():
        for docs in batches:
            ids, T = padded(docs, device)
            _, k = m.forward(ids, layer)
            mask = torch.tensor([[1] * len(d) + [0] * (T - len(d)) for d in docs], device=device, dtype=torch.bool)
            kk = k[mask].double()
            total += kk.T @ kk
            count += kk.shape[0]
    return total / count, count


def rome_edit(m, layer, C, e, hp, device):
    """compute_u, compute_v and the right vector, as ROME's rome_main.py and compute_v.py."""
    with torch.no_grad():
        ids, _ = padded(e["context_rows"], device)
        _, k = m.forward(ids, layer)
        kstar = torch.stack([k[i, j] for i, j in enumerate(e["context_last"])]).mean(0).double()
    u = torch.linalg.solve(C, kstar) if C is not None else kstar
    u = (u / u.norm()).float()

    rows = e["rewrite_rows"] + [e["kl_ids"]]
    ids, T = padded(rows, device)
    last = e["rewrite_last"] + [e["kl_last"]]
    mask = torch.zeros(len(rows), T, 1, device=device)
    for b, j in enumerate(last):
        mask[b, j] = 1
    tgt = torch.tensor(e["target"], device=device)
    n = len(e["rewrite_rows"])
    D = m.cfg["d_model"]
    delta = torch.zeros(D, device=device, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=hp["vLr"])
    kl_init, v_init = None, None
    steps = []
    for it in range(hp["vNumGradSteps"]):
        opt.zero_grad()
        logits, _ = m.forward(ids, layer, add=(delta, mask))
        lp = torch.log_softmax(logits, -1)
        if kl_init is None:
            kl_init = lp[n, e["kl_last"]].detach().clone()
            with torch.no_grad():
                # v_init: out_proj's output at prompt 0's subject, without δ.
                k0 = m.forward(ids[:1], layer)[1][0, e["rewrite_last"][0]]
                v_init = k0 @ m.p[f"backbone.layers.{layer}.mixer.out_proj.weight"].T
        per_tok = torch.stack([-lp[b, e["prompt_len"][b] - 1 + j, t] for b in range(n) for j, t in enumerate(tgt)]).reshape(n, len(tgt))
        nll_each = per_tok.sum(1) / len(tgt)
        nll = nll_each.mean()
        kl = hp["klFactor"] * F.kl_div(kl_init[None], lp[n, e["kl_last"]][None], log_target=True, reduction="batchmean")
        wd = hp["vWeightDecay"] * (torch.norm(delta) / torch.norm(v_init) ** 2)
        loss = nll + kl + wd
        prob = torch.exp(-nll_each).mean().item()
        steps.append({"loss": loss.item(), "nll": nll.item(), "kl": kl.item() / hp["klFactor"], "meanProb": prob, "deltaNorm": delta.norm().item()})
        if loss.item() < hp["stopLoss"] or it == hp["vNumGradSteps"] - 1 or (it > hp["stopAfter"] and prob > hp["stopProb"]):
            break
        loss.backward()
        opt.step()
        max_norm = hp["clampNormFactor"] * v_init.norm()
        if delta.norm() > max_norm:
            with torch.no_grad():
                delta[...] = delta * max_norm / delta.norm()
    vstar = v_init + delta.detach()
    with torch.no_grad():
        ids1, _ = padded([e["bare_ids"]], device)
        _, k1 = m.forward(ids1, layer)
        kcur = k1[0, e["bare_last"]]
        vcur = kcur @ m.p[f"backbone.layers.{layer}.mixer.out_proj.weight"].T
    r = (vstar - vcur) / torch.dot(kcur, u)
    return u, r, steps


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    spec = json.load(open(a.spec))
    cfg, layer, hp = spec["config"], spec["layer"], spec["hparams"]
    params = load_safetensors(spec["weights"]) if spec.get("weights") else random_params(cfg, spec["seed"])
    m = Mamba(cfg, params, a.device)
    sync(a.device)
    t0 = time.perf_counter()
    C, count = statistics(m, layer, spec["stats_batches"], a.device)
    sync(a.device)
    t1 = time.perf_counter()
    u, r, steps = rome_edit(m, layer, C, spec["edit"], hp, a.device)
    sync(a.device)
    t2 = time.perf_counter()
    json.dump({
        "statsSeconds": t1 - t0, "statsTokens": count, "editSeconds": t2 - t1, "vSteps": steps,
        "u": u.cpu().tolist(), "r": r.cpu().tolist(), "device": a.device, "torch": torch.__version__, "threads": torch.get_num_threads(),
    }, open(a.out, "w"))


if __name__ == "__main__":
    main()
