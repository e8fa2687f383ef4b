"""Loads models saved by factlab (scripts/write-saved-models.ts) with transformers and compares the logits with
factlab's.  python3 reference/check_saved.py DIR  — prints one JSON line per model."""
import json
import os
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

root = sys.argv[1]
for name in sorted(os.listdir(root)):
    d = os.path.join(root, name)
    ref = load_file(os.path.join(d, "factlab-logits.safetensors"))
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(ref["input_ids"].long()).logits
    print(json.dumps({"model": name, "class": type(model).__name__, "max_abs_diff": float((logits - ref["logits"]).abs().max()),
                      "logit_abs_max": float(ref["logits"].abs().max())}), flush=True)
