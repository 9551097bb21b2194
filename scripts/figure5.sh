#!/usr/bin/env bash
# The paper's Figure 5 at reduced scale: evolution, random search and evolution without RPS on
# the same FlexiBERT search set (seed 1), with the three convergence curves overlaid in
# runs/fig5-norps/convergence.svg. About 10 minutes per run on 2 cores once the search set is cached.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-../shared/data/benchmarks/flexibert/BERT_benchmark.json}
COMMON=(--bench "$B" --search-archs 50 --iterations 300 --population 40 --heldout-archs 100 --seed 1)
cargo build --release
./target/release/lpzero evolve "${COMMON[@]}" --out runs/fig5-evo
./target/release/lpzero evolve "${COMMON[@]}" --random-search --out runs/fig5-random
./target/release/lpzero evolve "${COMMON[@]}" --no-rps --compare runs/fig5-evo --compare runs/fig5-random --out runs/fig5-norps
