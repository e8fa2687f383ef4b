#!/usr/bin/env bash
# Trains the two model organisms at once, on the GPU machine, within a time budget (docs/organisms.md):
#   bash scripts/train-organisms.sh MINUTES [DATA] [RUNS]
# Both runs share one schedule. The step count is what the slower architecture (Mamba) does in MINUTES while both
# train side by side, measured first by 48 steps of each run at once; it is printed, and run.json records it, so a
# run can be repeated exactly with `factlab train ... --steps N`. The runs go on in the background (setsid), each
# checkpointing every 250 steps; poll them with `tail RUNS/*.log`, or resume one with the same command and --resume.
set -euo pipefail
MIN=${1:?minutes}; DATA=${2:-.cache/organisms-data}; RUNS=${3:-runs}
COMMON=(--preset "${PRESET:-organism}" -d "$DATA" --batch-size "${BATCH:-128}" --seq-len "${SEQ:-128}" --lr 3e-3 --warmup 200 --min-lr-ratio 0.1 --weight-decay 0.1 --clip 1 --seed 0 --backend "${BACKEND:-webgpu}" --checkpoint-every 250)
mkdir -p "$RUNS"
rm -rf "$RUNS"/calibrate-*
for a in mamba gptneox; do node dist/src/cli/main.js train -a $a "${COMMON[@]}" --steps 100000 --stop-after 48 -o "$RUNS/calibrate-$a" > "$RUNS/calibrate-$a.log" 2>&1 & done
wait
STEPS=$(node -e '
const fs = require("fs");
const rate = (a) => { const l = fs.readFileSync(`${process.argv[1]}/calibrate-${a}/train-log.jsonl`, "utf8").trim().split("\n").map(JSON.parse); return (l[47].seconds - l[15].seconds) / 32; };
const s = Math.max(rate("mamba"), rate("gptneox"));
console.error(`seconds per step, both training at once: mamba ${rate("mamba").toFixed(3)}, gptneox ${rate("gptneox").toFixed(3)}`);
console.log(Math.max(100, Math.floor((process.argv[2] * 60) / s / 100) * 100));' "$RUNS" "$MIN")
echo "steps: $STEPS"
for a in mamba gptneox; do
  setsid nohup node dist/src/cli/main.js train -a $a "${COMMON[@]}" --steps "$STEPS" -o "$RUNS/$a" --max-minutes "$(node -e "console.log(+process.argv[1] + 4)" "$MIN")" > "$RUNS/$a.log" 2>&1 < /dev/null &
done
echo "started: $RUNS/mamba, $RUNS/gptneox"
