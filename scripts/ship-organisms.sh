#!/usr/bin/env bash
# Ships the two organisms trained by scripts/train-organisms.sh: bfloat16 model folders with their evaluation and
# model card (factlab ship), then the parity check with transformers (factlab's logits, then
# reference/organism_parity.py, which writes parity.json), and the cards again with the parity figures.
#   bash scripts/ship-organisms.sh [DATA] [RUNS]     (on the GPU machine: python3 with transformers is needed)
set -euo pipefail
DATA=${1:-.cache/organisms-data}; RUNS=${2:-.cache/runs}
# The training command, as run.json records its schedule.
TRAIN=$(node -e 'const s = require(process.argv[1]).recipe.schedule; console.log(`--preset organism -d ${process.argv[2]} --steps ${s.steps} --batch-size ${s.batchSize} --seq-len ${s.seqLen} --lr ${s.lr} --warmup ${s.warmupSteps} --min-lr-ratio ${s.minLrRatio} --weight-decay ${s.weightDecay} --clip ${s.clipNorm} --seed ${s.seed} --backend webgpu`)' "$PWD/$RUNS/mamba/run.json" "$DATA")
for pair in mamba:mamba-organism:neox-organism gptneox:neox-organism:mamba-organism; do
  IFS=: read -r arch name sibling <<< "$pair"
  node dist/src/cli/main.js ship -r "$RUNS/$arch" -d "$DATA" -o "models/$name" --sibling "$sibling" --backend webgpu --command \
    "factlab fact-statements -o .cache/statements.txt" \
    "factlab train-tokenizer .cache/statements.txt --enwiki 2 --vocab-size 8192 -o .cache/tokenizer-8k" \
    "factlab prepare-data -t .cache/tokenizer-8k/tokenizer.json -o $DATA --corpus enwiki:0,1" \
    "factlab train -a $arch $TRAIN -o $RUNS/$arch   (both models at once, on one H100)" \
    "factlab ship -r $RUNS/$arch -d $DATA -o models/$name --sibling $sibling" &
done
wait
node dist/scripts/organism-logits.js .cache/parity models/mamba-organism models/neox-organism
for name in mamba-organism neox-organism; do
  python3 reference/organism_parity.py "models/$name" ".cache/parity/$name.safetensors"
  node dist/src/cli/main.js ship -r "$RUNS" -d "$DATA" -o "models/$name" --card-only
done
# On the GPU machine the folders come back as one tar file each.
if [ -n "${OUT:-}" ]; then for name in mamba-organism neox-organism; do tar -cf "$OUT/$name.tar" -C models "$name"; done; fi
