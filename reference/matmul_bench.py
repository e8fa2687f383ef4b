"""float32 matmul throughput in PyTorch, the reference for bench/matmul.ts.

  python3 reference/matmul_bench.py --shapes 2048x2048x2048:nt,... --out OUT.json

Each shape is MxKxN with a layout suffix: nn (A·B), nt (A·Bᵀ, a linear layer's weight) or tn (Aᵀ·B, a weight's gradient). TF32 is off, so the
figures are true float32 (the precision factlab computes in); bfloat16 is timed too, for scale.
"""
import argparse, json, time
import torch

p = argparse.ArgumentParser()
p.add_argument('--shapes', required=True)
p.add_argument('--out', required=True)
p.add_argument('--reps', type=int, default=50)
a = p.parse_args()
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
rows = []
for spec in a.shapes.split(','):
    dims, layout = spec.split(':')[:2]  # a third part (bf16: factlab's B in 16 bits) changes nothing here
    m, k, n = map(int, dims.split('x'))
    for dtype in (torch.float32, torch.bfloat16):
        g = torch.Generator(device=dev).manual_seed(0)
        x = torch.randn(k, m, device=dev, dtype=dtype, generator=g) if layout == 'tn' else torch.randn(m, k, device=dev, dtype=dtype, generator=g)
        w = torch.randn(n, k, device=dev, dtype=dtype, generator=g) if layout == 'nt' else torch.randn(k, n, device=dev, dtype=dtype, generator=g)
        f = {'nt': lambda: x @ w.T, 'nn': lambda: x @ w, 'tn': lambda: x.T @ w}[layout]
        for _ in range(5): f()
        if dev == 'cuda': torch.cuda.synchronize()
        best = float('inf')
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(a.reps): f()
            if dev == 'cuda': torch.cuda.synchronize()
            best = min(best, (time.perf_counter() - t0) / a.reps)
        rows.append({'shape': spec, 'dtype': str(dtype).replace('torch.', ''), 'ms': best * 1e3, 'tflops': 2 * m * k * n / best / 1e12})
        print(json.dumps(rows[-1]), flush=True)
name = torch.cuda.get_device_name() if dev == 'cuda' else 'cpu'
json.dump({'torch': torch.__version__, 'device': name, 'rows': rows}, open(a.out, 'w'))
