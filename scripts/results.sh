#!/usr/bin/env bash
# The paper's four experiments on the two model organisms, as docs/results.md shows them: each step is one factlab
# command (the same ones docs/results.md lists under its figures), then the figures the page shows are copied to
# docs/results/. Every step caches per item in OUT, so an interrupted run, run again, goes on where it stopped.
#   bash scripts/results.sh [OUT]            OUT defaults to runs/results
# Environment: MAMBA, NEOX (model folders), SHARED (the shared data), LIMIT (facts for tracing and knockout),
# CASES (CounterFact cases for the ROME sweep), STATS_TOKENS (tokens for ROME's key statistics), RELATIONS (LRE
# relations), TRIALS (LRE train/test splits), STEPS (which steps: trace,knockout,lre,rome).
set -euo pipefail
OUT=${1:-runs/results}
MAMBA=${MAMBA:-models/mamba-organism}; NEOX=${NEOX:-models/neox-organism}; SHARED=${SHARED:-../shared/data}
LIMIT=${LIMIT:-100}; CASES=${CASES:-10}; STATS_TOKENS=${STATS_TOKENS:-30000}; TRIALS=${TRIALS:-1}; STEPS=${STEPS:-trace,knockout,lre,rome}
RELATIONS=${RELATIONS:-person_native_language,landmark_on_continent,country_capital_city,city_in_country,company_hq,person_occupation}
F=(node dist/src/cli/main.js)
# Windows scale with depth: the paper's 10 of 64 layers is about a sixth; the organisms have 8 (Mamba) and 4 (GPT-NeoX).
window() { local n; n=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$1/config.json','utf8')).num_hidden_layers)"); echo $(( n >= 12 ? n / 6 : 2 )); }
has() { [[ ",$STEPS," == *",$1,"* ]]; }
for pair in "mamba:$MAMBA" "neox:$NEOX"; do
  name=${pair%%:*}; dir=${pair#*:}; w=$(window "$dir")
  has trace && "${F[@]}" trace -m "$dir" -o "$OUT/$name/trace" -d "$SHARED/known/known_1000.json" --limit "$LIMIT" --window "$w"
  has knockout && "${F[@]}" knockout -m "$dir" -o "$OUT/$name/knockout" -d "$SHARED/known/known_1000.json" --limit "$LIMIT" --window "$w" --path-blocking --corpus enwiki:15
  has lre && "${F[@]}" lre -m "$dir" -r ${RELATIONS//,/ } --trials "$TRIALS" -o "$OUT/$name/lre"
  has rome && "${F[@]}" rome-sweep -m "$dir" --cases "$CASES" --split edit --corpus enwiki:15 --max-tokens "$STATS_TOKENS" -o "$OUT/$name/rome"
done
has lre && "${F[@]}" lre-compare --run Mamba="$OUT/mamba/lre/lre.json" --run GPT-NeoX="$OUT/neox/lre/lre.json" -o "$OUT/lre-compare"
mkdir -p docs/results
for f in "$OUT"/*/trace/figures/aie-*.png "$OUT"/*/knockout/figures/*.png "$OUT"/*/rome/*.png "$OUT"/lre-compare/*.png; do
  [ -e "$f" ] || continue
  rel=${f#"$OUT"/}; cp "$f" "docs/results/${rel//\//-}"
done
echo "figures in docs/results/"
