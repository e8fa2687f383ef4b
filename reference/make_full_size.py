"""Writes a random-weight Mamba-2.8b or Pythia-2.8b checkpoint with transformers, plus its logits on fixed ids.

    python3 reference/make_full_size.py mamba|pythia OUT_DIR [raw]

Mamba is initialised with rescale_prenorm_residual=True (out_proj scaled by 1/sqrt(layers), as mamba_ssm initialises
real models) unless "raw" is given: transformers' default leaves it unscaled, and the residual stream of a random
64-layer model then grows to ~6e5, where float32 rounding alone moves the logits by ~0.3 (transformers' own GPU and
CPU results differ that much).

The model is built on the GPU in float32 (TF32 off), timed over a few forward passes and saved with save_pretrained.
reference.safetensors holds input_ids [2, 16] and the logits of that same in-memory model on the GPU in float32
(`logits`), on the CPU in float32 (`logits_cpu`) and on the CPU in float64 (`logits_cpu64`): float64 is the yardstick
against which both float32 implementations are measured. (The references come from the model in memory, not from
reloading the directory: transformers re-applies rescale_prenorm_residual when it loads a Mamba checkpoint, so its
reload is not the model it saved.) bench/parity-full.ts then loads the directory with factlab and compares.
"""
import json
import sys
import time

import torch
from safetensors.torch import save_file
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, MambaConfig, MambaForCausalLM

def full_size_model(arch, raw=False):
    """A random-weight Mamba-2.8b or Pythia-2.8b, built on the GPU in float32 (forward_bench.py uses it too)."""
    torch.manual_seed(0)
    if arch == "mamba":
        config = MambaConfig(vocab_size=50280, hidden_size=2560, num_hidden_layers=64, state_size=16, expand=2, conv_kernel=4,
                             use_conv_bias=True, use_bias=False, layer_norm_epsilon=1e-5,
                             rescale_prenorm_residual=not raw)
        cls = MambaForCausalLM
    else:
        config = GPTNeoXConfig(vocab_size=50304, hidden_size=2560, num_hidden_layers=32, num_attention_heads=32,
                               intermediate_size=10240, rotary_pct=0.25, rotary_emb_base=10000, use_parallel_residual=True,
                               layer_norm_eps=1e-5, max_position_embeddings=2048, tie_word_embeddings=False, hidden_act="gelu")
        cls = GPTNeoXForCausalLM
    with torch.device("cuda"):
        return cls(config).float().eval()


def main():
    arch, out = sys.argv[1], sys.argv[2]
    raw = len(sys.argv) > 3 and sys.argv[3] == "raw"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = full_size_model(arch, raw)
    ids = torch.randint(1, 50000, (2, 16), generator=torch.Generator().manual_seed(1))
    times = []
    with torch.no_grad():
        for _ in range(4):
            torch.cuda.synchronize()
            t0 = time.time()
            logits = model(ids.cuda()).logits
            torch.cuda.synchronize()
            times.append(time.time() - t0)
    t0 = time.time()
    model.save_pretrained(out, safe_serialization=True)
    save_s = time.time() - t0
    with torch.no_grad():
        model = model.cpu()
        logits_cpu = model(ids).logits.float()
        logits_cpu64 = model.double()(ids).logits
    gpu64 = logits.double().cpu()
    save_file({"input_ids": ids.to(torch.int32), "logits": logits.float().cpu().contiguous(), "logits_cpu": logits_cpu.contiguous(),
               "logits_cpu64": logits_cpu64.contiguous()}, f"{out}/reference.safetensors")
    info = {"arch": arch, "init": "raw" if raw else "rescaled", "parameters": sum(p.numel() for p in model.parameters()), "torch_forward_ms": [round(t * 1000, 1) for t in times],
            "save_s": round(save_s, 1), "logit_abs_max": float(logits.abs().max()),
            "torch_gpu_fp32_vs_fp64": float((gpu64 - logits_cpu64).abs().max()), "torch_cpu_fp32_vs_fp64": float((logits_cpu.double() - logits_cpu64).abs().max()), "torch": torch.__version__,
            "transformers": __import__("transformers").__version__, "device": torch.cuda.get_device_name()}
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
