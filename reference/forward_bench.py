"""transformers' side of bench/models.ts: forward, and forward plus backward, of a full-size checkpoint on the GPU, in
float32 (TF32 off, as factlab computes) and in bfloat16, with the peak GPU memory of each.

    python3 reference/forward_bench.py mamba|pythia DIR --batches 1,32,256 --backward 1,32 --tokens 16 --out OUT.json

If DIR holds no config.json, a random-weight model (make_full_size.full_size_model) is written there first, so that
factlab then loads the very checkpoint timed here. Without the mamba_ssm kernels (not installed on the GPU machine)
transformers' Mamba runs its PyTorch path. Each figure is the median of 10 runs after a warm-up of at least two runs
and three seconds (a shorter warm-up timed the first runs while clocks and caches settled, and the same pass read 102 to
159 ms from one run to the next); a batch that runs out of memory is recorded as such.
"""
import argparse
import json
import os
import statistics
import time

import torch
from transformers import AutoModelForCausalLM

from make_full_size import full_size_model


WARM_UP_SECONDS = 3.0
RUNS = 10


def timed(fn):
    """Median milliseconds of RUNS runs after the warm-up, and the peak memory allocated during them (bytes)."""
    start, warm = time.perf_counter(), 0
    while warm < 2 or time.perf_counter() - start < WARM_UP_SECONDS:
        fn()
        torch.cuda.synchronize()
        warm += 1
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1000)
    return {"ms": round(statistics.median(times), 2), "peak_bytes": torch.cuda.max_memory_allocated()}


def measure(model, ids, backward):
    def forward():
        with torch.no_grad():
            model(ids).logits

    def forward_backward():
        logits = model(ids).logits
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1))
        loss.backward()
        model.zero_grad(set_to_none=True)

    try:
        return timed(forward_backward if backward else forward)
    except torch.cuda.OutOfMemoryError:
        model.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
        return {"ms": None, "peak_bytes": None, "error": "out of memory"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("arch", choices=["mamba", "pythia"])
    ap.add_argument("dir")
    ap.add_argument("--batches", default="1,32,256")
    ap.add_argument("--backward", default="1,32")
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if not os.path.exists(os.path.join(a.dir, "config.json")):
        full_size_model(a.arch).save_pretrained(a.dir, safe_serialization=True)
        torch.cuda.empty_cache()
    model = AutoModelForCausalLM.from_pretrained(a.dir, torch_dtype=torch.float32).cuda().eval()
    vocab = model.config.vocab_size
    rows = []
    for dtype in [torch.float32, torch.bfloat16]:
        model = model.to(dtype)
        for kind, batches in [("forward", a.batches), ("forward+backward", a.backward)]:
            for b in [int(x) for x in batches.split(",") if x]:
                ids = torch.randint(1, vocab, (b, a.tokens), generator=torch.Generator().manual_seed(b)).cuda()
                rows.append({"dtype": str(dtype).replace("torch.", ""), "kind": kind, "batch": b, **measure(model, ids, kind != "forward")})
                print(json.dumps(rows[-1]), flush=True)
    json.dump({"torch": torch.__version__, "transformers": __import__("transformers").__version__, "device": torch.cuda.get_device_name(),
               "parameters": sum(p.numel() for p in model.parameters()), "tokens": a.tokens, "rows": rows}, open(a.out, "w"))


if __name__ == "__main__":
    main()
