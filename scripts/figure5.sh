#!/usr/bin/env bash
# The paper's Figure 5 on FlexiBERT: evolution, random search and evolution without RPS on the
# same search set (seed 1), with the three convergence curves overlaid in $OUT-norps/convergence.svg.
#
#   scripts/figure5.sh              reduced scale: 50 search archs, population 40, 300 iterations,
#                                   100 held-out; about 10 minutes per run on 2 cores
#   SCALE=full scripts/figure5.sh   the paper's settings with 100 search archs: population 80,
#                                   1000 iterations, all 400 others held out; 20-30 minutes per run
#
# The search set's inputs are cached after the first run, so the second and third gather nothing.
# Each run is skipped when its summary.json exists, so running the script again resumes it.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-../shared/data/benchmarks/flexibert/BERT_benchmark.json}
SEED=${SEED:-1}
if [ "${SCALE:-reduced}" = full ]; then
  COMMON=(--bench "$B" --search-archs 100 --seed "$SEED")
  OUT=${OUT:-runs/fig5-full}
else
  COMMON=(--bench "$B" --search-archs 50 --iterations 300 --population 40 --heldout-archs 100 --seed "$SEED")
  OUT=${OUT:-runs/fig5}
fi
cargo build --release
L=./target/release/lpzero
run() { # run DIR FLAGS...: one evolve run, unless it already finished
  local dir=$1; shift
  [ -e "$dir/summary.json" ] || $L evolve "${COMMON[@]}" "$@" --out "$dir"
}
run "$OUT-evo"
run "$OUT-random" --random-search
run "$OUT-norps" --no-rps --compare "$OUT-evo" --compare "$OUT-random"
# Best search-set rho after 0/10/25/50/100/250/500/1000 offspring, and the held-out rho of the best.
printf '%-7s' mode; for i in 0 10 25 50 100 250 500 1000; do printf ' %7s' "$i"; done; printf ' %9s\n' held-out
for mode in evo random norps; do
  d="$OUT-$mode"
  printf '%-7s' "$mode"
  for i in 0 10 25 50 100 250 500 1000; do
    v=$(jq -r "select(.iteration == $i) | .best" "$d/history.jsonl")
    if [ -n "$v" ]; then printf ' %7.3f' "$v"; else printf ' %7s' -; fi
  done
  printf ' %9.3f\n' "$(jq -r '.heldout[] | select(.name == "evolved") | .spearman' "$d/summary.json")"
done
