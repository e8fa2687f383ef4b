"""Checks a tokenizer.json written by `factlab train-tokenizer` against the Rust `tokenizers` library and transformers.

  node dist/scripts/tokenizer-fixture.js TOKENIZER OUT.json      # factlab's ids for a few thousand texts
  python3 reference/check_tokenizer.py TOKENIZER.json OUT.json [--train-corpus CORPUS.txt [--min-frequency 2]]

1. tokenizers.Tokenizer.from_file and transformers.PreTrainedTokenizerFast(tokenizer_file=...) give the same ids
   as factlab for every text, and decode them back to the same string as factlab (no clean-up of spaces).
2. If a tokenizer_config.json is beside the file, AutoTokenizer.from_pretrained loads the folder, with end of
   text at id 0.
3. With --train-corpus (a UTF-8 file that factlab read as one text: `factlab train-tokenizer CORPUS.txt ...`),
   the Rust BpeTrainer, set up the same way, learns the same merges and vocabulary from it.

Prints one line per check and PASS or FAIL at the end; exits 1 on any failure.
"""
import argparse
import json
import os
import sys
import unicodedata

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

parser = argparse.ArgumentParser()
parser.add_argument("tokenizer")
parser.add_argument("fixture")
parser.add_argument("--train-corpus")
parser.add_argument("--min-frequency", type=int, default=2)
args = parser.parse_args()

failures = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}", flush=True)
    if not ok:
        failures.append(name)


def first_mismatches(label, cases, got_fn, want_key, limit=3):
    bad = []
    for c in cases:
        got = got_fn(c)
        if got != c[want_key]:
            bad.append(c)
    detail = "; ".join(f"{c['text'][:60]!r}: factlab {c[want_key] if want_key != 'ids' else c['ids'][:12]} vs {got_fn(c) if want_key != 'ids' else got_fn(c)[:12]}" for c in bad[:limit])
    check(f"{label} ({len(cases) - len(bad)}/{len(cases)} agree)", not bad, detail)


fixture = json.load(open(args.fixture, encoding="utf-8"))
cases = fixture["cases"]
own = json.load(open(args.tokenizer, encoding="utf-8"))
print(f"{args.tokenizer}: {len(own['model']['vocab'])} tokens, {len(own['model']['merges'])} merges; {len(cases)} texts from {args.fixture}")

rust = Tokenizer.from_file(args.tokenizer)
first_mismatches("tokenizers: encode ids", cases, lambda c: rust.encode(c["text"]).ids, "ids")
first_mismatches("tokenizers: decode", cases, lambda c: rust.decode(c["ids"], skip_special_tokens=False), "decoded")

fast = PreTrainedTokenizerFast(tokenizer_file=args.tokenizer, clean_up_tokenization_spaces=False)
first_mismatches("transformers PreTrainedTokenizerFast: encode ids", cases, lambda c: fast(c["text"], add_special_tokens=True)["input_ids"], "ids")
first_mismatches("transformers PreTrainedTokenizerFast: decode", cases,
                 lambda c: fast.decode(c["ids"], skip_special_tokens=False, clean_up_tokenization_spaces=False), "decoded")
# An NFC normalizer changes non-NFC text on the way in; without one, every text must come back exactly.
nfc = bool(own.get("normalizer"))
round_trip = [c for c in cases if c["decoded"] != c["text"] and not (nfc and unicodedata.normalize("NFC", c["text"]) != c["text"])]
check("factlab: decode(encode(text)) == text", not round_trip, "; ".join(repr(c["text"][:60]) for c in round_trip[:3]))
check("end of text is id 0", rust.token_to_id("<|endoftext|>") == 0 and fixture["eosId"] == 0)

folder = os.path.dirname(os.path.abspath(args.tokenizer))
if os.path.exists(os.path.join(folder, "tokenizer_config.json")):
    auto = AutoTokenizer.from_pretrained(folder)
    check(f"AutoTokenizer.from_pretrained ({type(auto).__name__}): eos_token_id 0", auto.eos_token_id == 0, f"eos_token_id {auto.eos_token_id}")
    first_mismatches("AutoTokenizer: encode ids", cases, lambda c: auto(c["text"])["input_ids"], "ids")
    first_mismatches("AutoTokenizer: decode", cases, lambda c: auto.decode(c["ids"]), "decoded")

if args.train_corpus:
    text = open(args.train_corpus, encoding="utf-8").read()
    specials = [t["content"] for t in own["added_tokens"] if t.get("special")]
    hf = Tokenizer(models.BPE())
    if nfc:
        hf.normalizer = normalizers.NFC()
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=len(own["model"]["vocab"]), min_frequency=args.min_frequency, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    hf.train_from_iterator([text], trainer)
    learned = json.loads(hf.to_str())["model"]
    merges = [" ".join(m) if isinstance(m, list) else m for m in learned["merges"]]
    diff = next((i for i, (a, b) in enumerate(zip(merges, own["model"]["merges"])) if a != b), None)
    check(f"BpeTrainer on {args.train_corpus}: same {len(merges)} merges in the same order",
          diff is None and len(merges) == len(own["model"]["merges"]),
          f"first difference at merge {diff}: tokenizers {merges[diff] if diff is not None else ''!r} vs factlab "
          f"{own['model']['merges'][diff] if diff is not None else ''!r}; counts {len(merges)} vs {len(own['model']['merges'])}")
    check("BpeTrainer: same vocabulary and ids", learned["vocab"] == own["model"]["vocab"])

print(f"{'PASS' if not failures else 'FAIL'}: {len(failures)} of the checks failed" + (f" ({', '.join(failures)})" if failures else ""))
sys.exit(1 if failures else 0)
