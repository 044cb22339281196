#!/bin/bash
# How many latents stay active over seeds: NashAE against the plain autoencoder on the default
# archive (2 ranks). Usage: tools/seed_study.sh [SEEDS] [OUT_DIR]   (run from build/)
set -euo pipefail
seeds=${1:-10}
out=${2:-runs/seed-study}
src=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
[ -f data/beam.h5 ] || make -s data/beam.h5
mkdir -p "$out"
printf "%-7s %5s %7s %10s  %s\n" method seed active final_rec latent_ranges
for method in nashae ae; do
  for seed in $(seq 1 "$seeds"); do
    dir="$out/$method-$seed"
    mpiexec -n 2 --oversubscribe src/disentangle train -options_file "$src/inputs/beam-$method.opts" \
      -data data/beam.h5 -run_dir "$dir" -seed "$seed" -progress_every 0 2>/dev/null
    # compact JSON of one member; null (a non-finite value) as nan so that printf takes it
    value() { python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print("nan" if v is None else json.dumps(v, separators=(",", ":")))' "$dir/summary.json" "$1"; }
    printf "%-7s %5d %7s %10.5f  %s\n" "$method" "$seed" "$(value active_latents)" "$(value final_rec)" "$(value latent_ranges)"
  done
done | tee "$out.txt"
for method in nashae ae; do
  awk -v m="$method" '$1 == m { n++; c[$3]++ } END { printf "%s: %d seeds;", m, n; for (k in c) printf " %d with %s active", c[k], k; print "" }' "$out.txt"
done
