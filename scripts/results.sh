#!/usr/bin/env bash
# The paper's four experiments on the two model organisms, as docs/results.md shows them: each step is one factlab
# command (the same ones docs/results.md lists under its figures), then the figures the page shows are copied to
# docs/results/. Every step caches per item in OUT, so an interrupted run, run again, goes on where it stopped.
#   bash scripts/results.sh [OUT]            OUT defaults to runs/results
# Environment: MAMBA, NEOX (model folders), SHARED (the shared data), LIMIT (facts for tracing and knockout),
# CASES (CounterFact cases for the ROME sweep), STATS_TOKENS (tokens for ROME's key statistics), RELATIONS (LRE
# relations), TRIALS (LRE train/test splits), MAX_TESTS (LRE test samples per split at most; default all), STEPS (which
# steps: trace,knockout,lre,rome).
set -euo pipefail
OUT=${1:-runs/results}
MAMBA=${MAMBA:-models/mamba-organism}; NEOX=${NEOX:-models/neox-organism}; SHARED=${SHARED:-../shared/data}
LIMIT=${LIMIT:-100}; CASES=${CASES:-10}; STATS_TOKENS=${STATS_TOKENS:-30000}; TRIALS=${TRIALS:-1}; STEPS=${STEPS:-trace,knockout,lre,rome}
RELATIONS=${RELATIONS:-person_native_language,landmark_on_continent,country_capital_city,city_in_country,company_hq,person_occupation}
F=(node dist/src/cli/main.js)
has() { [[ ",$STEPS," == *",$1,"* ]]; }
# JOBS=parallel (a machine with many cores) runs every model's steps as processes of their own: tracing and knockout
# with 2 threads, each LRE relation and each ROME layer with 1; one more `factlab lre` and `rome-sweep` per model then
# gather what those left in their caches (in the same --out) and draw the figures.
JOBS=${JOBS:-serial}
pids=()
bg() { local log=$1 threads=$2; shift 2; if [ "$JOBS" = parallel ]; then mkdir -p "$OUT/logs"; FACTLAB_THREADS=$threads "$@" > "$OUT/logs/$log.log" 2>&1 & pids+=($!); else "$@"; fi; }
layers() { node -e "console.log(JSON.parse(require('fs').readFileSync('$1/config.json','utf8')).num_hidden_layers)"; }
# Windows scale with depth: the paper's 10 of 64 layers is about a sixth; the organisms have 8 (Mamba) and 4 (GPT-NeoX).
for pair in "mamba:$MAMBA" "neox:$NEOX"; do
  name=${pair%%:*}; dir=${pair#*:}; n=$(layers "$dir"); w=$(( n >= 12 ? n / 6 : 2 ))
  has trace && bg "$name-trace" 2 "${F[@]}" trace -m "$dir" -o "$OUT/$name/trace" -d "$SHARED/known/known_1000.json" --limit "$LIMIT" --window "$w"
  has knockout && bg "$name-knockout" 2 "${F[@]}" knockout -m "$dir" -o "$OUT/$name/knockout" -d "$SHARED/known/known_1000.json" --limit "$LIMIT" --window "$w" --path-blocking --corpus enwiki:15
  if has lre && [ "$JOBS" = parallel ]; then for r in ${RELATIONS//,/ }; do bg "$name-lre-$r" 1 "${F[@]}" lre -m "$dir" -r "$r" --trials "$TRIALS" ${MAX_TESTS:+--max-tests "$MAX_TESTS"} -o "$OUT/$name/lre"; done; fi
  rome=(rome-sweep -m "$dir" --cases "$CASES" --split edit --corpus enwiki:15 --max-tokens "$STATS_TOKENS" -o "$OUT/$name/rome")
  if has rome && [ "$JOBS" = parallel ]; then for l in $(seq 0 $((n - 1))); do bg "$name-rome-$l" 1 "${F[@]}" "${rome[@]}" -l "$l"; done; fi
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ "$failed" = 0 ] || { echo "a step failed: see $OUT/logs/" >&2; exit 1; }
for pair in "mamba:$MAMBA" "neox:$NEOX"; do
  name=${pair%%:*}; dir=${pair#*:}
  has lre && "${F[@]}" lre -m "$dir" -r ${RELATIONS//,/ } --trials "$TRIALS" ${MAX_TESTS:+--max-tests "$MAX_TESTS"} -o "$OUT/$name/lre"
  has rome && "${F[@]}" rome-sweep -m "$dir" --cases "$CASES" --split edit --corpus enwiki:15 --max-tokens "$STATS_TOKENS" -o "$OUT/$name/rome"
done
has lre && "${F[@]}" lre-compare --run Mamba="$OUT/mamba/lre/lre.json" --run GPT-NeoX="$OUT/neox/lre/lre.json" -o "$OUT/lre-compare"
mkdir -p docs/results
for f in "$OUT"/*/trace/figures/aie-*.png "$OUT"/*/knockout/figures/*.png "$OUT"/*/rome/*.png "$OUT"/lre-compare/*.png; do
  [ -e "$f" ] || continue
  rel=${f#"$OUT"/}; cp "$f" "docs/results/${rel//\//-}"
done
echo "figures in docs/results/"
