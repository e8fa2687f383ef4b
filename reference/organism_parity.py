"""transformers' side of the organisms' parity check (docs/parity.md): loads a shipped model folder with
AutoModelForCausalLM and AutoTokenizer, runs the prompts that scripts/organism-logits.ts ran through factlab, and
compares.  python3 reference/organism_parity.py MODEL_DIR FACTLAB_LOGITS.safetensors
Prints one JSON line and writes it to MODEL_DIR/parity.json (the model card quotes it)."""
import datetime
import json
import os
import sys

import torch
import transformers
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer

model_dir, logits_file = sys.argv[1], sys.argv[2]
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
device = "cuda" if torch.cuda.is_available() else "cpu"
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
tok = AutoTokenizer.from_pretrained(model_dir)
with safe_open(logits_file, "pt") as f:
    prompts = json.loads(f.metadata()["prompts"])
    ref = {k: f.get_tensor(k) for k in f.keys()}
worst, biggest, same_ids = 0.0, 0.0, True
for k, prompt in enumerate(prompts):
    ids = ref[f"ids.{k}"].long()
    same_ids &= tok(prompt, add_special_tokens=False)["input_ids"] == ids[0].tolist()
    with torch.no_grad():
        logits = model(ids.to(device)).logits.float().cpu()
    worst = max(worst, float((logits - ref[f"logits.{k}"]).abs().max()))
    biggest = max(biggest, float(ref[f"logits.{k}"].abs().max()))
name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
result = {"model": os.path.basename(os.path.normpath(model_dir)), "class": type(model).__name__, "maxAbsDiff": worst, "logitAbsMax": biggest,
          "prompts": len(prompts), "tokenizerAgrees": bool(same_ids), "transformers": transformers.__version__, "torch": torch.__version__,
          "device": f"{name} (float32, TF32 off)", "date": datetime.date.today().isoformat()}
print(json.dumps(result), flush=True)
with open(os.path.join(model_dir, "parity.json"), "w") as f:
    json.dump(result, f, indent=1)
