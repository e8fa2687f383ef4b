"""Writes the reference fixtures factlab's model tests compare against.

Run on a machine with PyTorch and transformers (the GPU machine has transformers 5.17):
    python3 reference/make_fixtures.py OUT_DIR
Builds small random-weight MambaForCausalLM and GPTNeoXForCausalLM models, saves them with save_pretrained (plus one
in state-spaces' pytorch_model.bin layout, one in bfloat16 and one sharded), runs them in float32 on the CPU on fixed
token ids (batch 3, with and without left padding) and saves logits and intermediate activations with
safetensors. Every parameter is perturbed away from its initial value so that each one matters.
"""
import inspect
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, MambaConfig, MambaForCausalLM

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
torch.set_grad_enabled(False)


def perturb(model, seed):
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        noise = torch.randn(p.shape, generator=g) * 0.1
        p.data = (p.data.float() + noise).to(p.dtype)


def token_batches(vocab, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (3, 7), generator=g)
    mask = torch.ones(3, 7, dtype=torch.long)
    padded = ids.clone()
    pmask = mask.clone()
    for row, pad in ((1, 2), (2, 4)):  # left padding with the pad id 0, as romba's batches have
        padded[row, :pad] = 0
        pmask[row, :pad] = 0
    return {"plain": (ids, mask), "left_padded": (padded, pmask)}


class Recorder:
    def __init__(self):
        self.store = {}
        self.handles = []

    def hook(self, module, name, what="output"):
        def fn(mod, args, out):
            value = args[0] if what == "input" else out
            if isinstance(value, tuple):  # attention modules return (output, weights); layers return a tensor
                value = value[0]
            self.store.setdefault(name, []).append(value.detach().float().clone())
        self.handles.append(module.register_forward_hook(fn))

    def take(self, prefix):
        out = {}
        for name, values in self.store.items():
            for i, v in enumerate(values):
                key = f"{prefix}.{name}" if len(values) == 1 else f"{prefix}.{name}.call{i}"
                out[key] = v.contiguous()
        self.store = {}
        return out


def mamba_hooks(model, rec):
    for i, layer in enumerate(model.backbone.layers):
        m = layer.mixer
        rec.hook(layer, f"layers.{i}.output")
        rec.hook(m.in_proj, f"layers.{i}.in_proj.output")
        # conv1d, its SiLU and dt_proj are applied functionally in transformers 5, so module hooks on them never
        # fire; x_proj's input is the SiLU of the convolution (zeroed at padded positions).
        rec.hook(m.x_proj, f"layers.{i}.x_proj.input", what="input")
        rec.hook(m.x_proj, f"layers.{i}.x_proj.output")
        rec.hook(m.out_proj, f"layers.{i}.out_proj.input", what="input")
        rec.hook(m.out_proj, f"layers.{i}.out_proj.output")


def neox_hooks(model, rec):
    for i, layer in enumerate(model.gpt_neox.layers):
        rec.hook(layer, f"layers.{i}.output")
        rec.hook(layer.attention, f"layers.{i}.attention.output")
        rec.hook(layer.mlp, f"layers.{i}.mlp.output")
        rec.hook(layer.mlp.dense_4h_to_h, f"layers.{i}.mlp.dense_4h_to_h.input", what="input")


def run_cases(model, vocab, seed, hooks, attentions):
    rec = Recorder()
    hooks(model, rec)
    tensors = {}
    for case, (ids, mask) in token_batches(vocab, seed).items():
        kwargs = {"output_attentions": True} if attentions else {}
        out = model(input_ids=ids, attention_mask=mask, **kwargs)
        tensors[f"{case}.input_ids"] = ids.to(torch.int32)
        tensors[f"{case}.attention_mask"] = mask.to(torch.int32)
        tensors[f"{case}.logits"] = out.logits.float().contiguous()
        if attentions:
            for i, a in enumerate(out.attentions):
                tensors[f"{case}.layers.{i}.attention.probs"] = a.float().contiguous()
        tensors.update(rec.take(case))
        if not attentions:  # Mamba: also without any mask, which is what romba runs
            out = model(input_ids=ids)
            tensors[f"{case}.nomask.logits"] = out.logits.float().contiguous()
            rec.take("discard")
    for h in rec.handles:
        h.remove()
    return tensors


def save_case(name, model, tensors, **save_kwargs):
    d = os.path.join(OUT, name)
    model.save_pretrained(d, safe_serialization=True, **save_kwargs)
    save_file(tensors, os.path.join(d, "reference.safetensors"))
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, {len(tensors)} reference tensors", flush=True)
    return d


def mamba(name, seed, **cfg):
    torch.manual_seed(seed)
    config = MambaConfig(**cfg)
    model = MambaForCausalLM(config).float().eval()
    perturb(model, seed)
    tensors = run_cases(model, config.vocab_size, seed, mamba_hooks, attentions=False)
    return model, save_case(name, model, tensors)


def neox(name, seed, save_kwargs=None, **cfg):
    torch.manual_seed(seed)
    config = GPTNeoXConfig(**cfg)
    config._attn_implementation = "eager"  # the eager path returns attention probabilities
    model = GPTNeoXForCausalLM(config).float().eval()
    perturb(model, seed)
    tensors = run_cases(model, config.vocab_size, seed, neox_hooks, attentions=True)
    return model, save_case(name, model, tensors, **(save_kwargs or {}))


common_mamba = dict(state_size=16, expand=2, conv_kernel=4, use_conv_bias=True, use_bias=False, layer_norm_epsilon=1e-5)
tiny, tiny_dir = mamba("mamba-tiny", 1, vocab_size=512, hidden_size=64, num_hidden_layers=2, **common_mamba)
mamba("mamba-dtrank", 2, vocab_size=520, hidden_size=128, num_hidden_layers=3, time_step_rank=5,
      **{**common_mamba, "state_size": 8})

# The same mamba-tiny in state-spaces' layout: pytorch_model.bin (zip + pickle), backbone.embedding, and the config
# spelling of mamba_ssm, with a vocabulary that pad_vocab_size_multiple rounds up to 512.
ss_dir = os.path.join(OUT, "mamba-tiny-state-spaces")
os.makedirs(ss_dir, exist_ok=True)
sd = {k.replace("backbone.embeddings.", "backbone.embedding."): v for k, v in tiny.state_dict().items()}
sd["lm_head.weight"] = sd["backbone.embedding.weight"]  # tied: one storage shared by two names, as in the originals
torch.save(sd, os.path.join(ss_dir, "pytorch_model.bin"))
with open(os.path.join(ss_dir, "config.json"), "w") as f:
    json.dump({"d_model": 64, "n_layer": 2, "vocab_size": 509, "ssm_cfg": {}, "rms_norm": True, "residual_in_fp32": True,
               "fused_add_norm": True, "pad_vocab_size_multiple": 8}, f, indent=2)

# mamba-tiny stored in bfloat16: the reference is the float32 model built from the rounded weights.
bf = MambaForCausalLM(tiny.config)
bf.load_state_dict(tiny.state_dict())
bf = bf.to(torch.bfloat16).float().eval()
tensors = run_cases(bf, 512, 1, mamba_hooks, attentions=False)
bf_dir = os.path.join(OUT, "mamba-tiny-bf16")
bf.to(torch.bfloat16).save_pretrained(bf_dir, safe_serialization=True)
save_file({k: v for k, v in tensors.items() if k.endswith("logits") or k.endswith("input_ids") or k.endswith("attention_mask")},
          os.path.join(bf_dir, "reference.safetensors"))
print("mamba-tiny-bf16 saved", flush=True)

common_neox = dict(rotary_emb_base=10000, layer_norm_eps=1e-5, hidden_act="gelu", tie_word_embeddings=False,
                   max_position_embeddings=64, attention_dropout=0.0, hidden_dropout=0.0)
neox("pythia-parallel", 3, vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
     intermediate_size=256, rotary_pct=0.25, use_parallel_residual=True, **common_neox)
neox("pythia-sequential", 4, save_kwargs={"max_shard_size": "200KB"}, vocab_size=544, hidden_size=96,
     num_hidden_layers=3, num_attention_heads=4, intermediate_size=384, rotary_pct=0.5, use_parallel_residual=False,
     **common_neox)

# The installed reference code, to read what "as transformers computes it" means for padding and hooks.
import transformers.models.gpt_neox.modeling_gpt_neox as neox_mod
import transformers.models.mamba.modeling_mamba as mamba_mod
with open(os.path.join(OUT, "transformers-source.txt"), "w") as f:
    f.write(f"transformers {__import__('transformers').__version__}, torch {torch.__version__}\n\n")
    for mod in (mamba_mod, neox_mod):
        f.write(inspect.getsource(mod) + "\n\n")
print("done", flush=True)
