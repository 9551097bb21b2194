#!/usr/bin/env bash
# The paper's Figure 5 at the paper's scale (population 80, 1000 iterations) on the built-in
# demo benchmark (builtin:tiny, 32 search / 32 held-out architectures), over several seeds:
# evolution, random search, and evolution without RPS, each seed's three curves overlaid in
# runs/fig5-tiny/s<seed>-norps/convergence.svg. Prints the best search-set rho after
# 0/10/50/100/250/500/1000 offspring and the held-out rho of the best, per run, then the mean
# per mode. About 20 s per run once builtin:tiny is built (the first run builds it, ~5 min).
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"1 2 3 4 5"}
OUT=${OUT:-runs/fig5-tiny}
cargo build --release
L=./target/release/lpzero
mkdir -p "$OUT"
for s in $SEEDS; do
  C=(--bench builtin:tiny --seed "$s" --format json)
  $L evolve "${C[@]}" --out "$OUT/s$s-evo" > /dev/null
  $L evolve "${C[@]}" --random-search --out "$OUT/s$s-random" > /dev/null
  $L evolve "${C[@]}" --no-rps --compare "$OUT/s$s-evo" --compare "$OUT/s$s-random" --out "$OUT/s$s-norps" > /dev/null
done
printf '%-6s %-7s %7s %7s %7s %7s %7s %7s %7s %9s\n' seed mode 0 10 50 100 250 500 1000 held-out
for mode in evo random norps; do
  for s in $SEEDS; do
    d="$OUT/s$s-$mode"
    at() { jq -r "select(.iteration == $1) | .best" "$d/history.jsonl"; }
    held=$(jq -r '.heldout[] | select(.name == "evolved") | .spearman' "$d/summary.json")
    printf '%-6s %-7s %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f %9.3f\n' "$s" "$mode" \
      "$(at 0)" "$(at 10)" "$(at 50)" "$(at 100)" "$(at 250)" "$(at 500)" "$(at 1000)" "$held"
  done
done
