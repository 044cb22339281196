#!/bin/bash
# NashAE against the plain autoencoder on procedural dSprites with the published conv net
# (inputs/dsprites-{nashae,ae}.opts): train, eval, and one table row per run with the active
# latents and the supervised metrics. Usage (from build/):
#   tools/dsprites_study.sh [SEEDS=3] [STEPS=4000] [OUT_DIR=runs/dsprites-study] [IMAGES=100000]
# Each run takes one rank (OPENBLAS_NUM_THREADS=1); about 0.1 s a step on one core here.
set -euo pipefail
seeds=${1:-3} steps=${2:-4000} out=${3:-runs/dsprites-study} images=${4:-100000}
src=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$out"
data="$out/dsprites-$images.h5"
[ -f "$data" ] || tools/dsprites -out "$data" -n "$images" -seed 1 >/dev/null
metrics="active_latents betavae_score factorvae_score mig dci_disentanglement dci_completeness dci_informativeness sap modularity"
value() { /usr/bin/python3 -c 'import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("n/a" if v is None else "%.4g" % v)' "$1" "$2"; }
{
  printf "%-7s %4s %9s" method seed final_rec
  for k in $metrics; do printf " %s" "$k"; done
  echo
  for method in nashae ae; do
    for seed in $(seq 1 "$seeds"); do
      dir="$out/$method-$seed"
      if [ ! -f "$dir/metrics.json" ]; then
        rm -rf "$dir"
        mpiexec -n 1 src/disentangle train -options_file "$src/inputs/dsprites-$method.opts" -data "$data" \
          -run_dir "$dir" -seed "$seed" -steps "$steps" -progress_every 500 2>"$out/$method-$seed.log"
        mpiexec -n 1 src/disentangle eval -run_dir "$dir" -seed "$seed" >"$dir/eval.txt" 2>>"$out/$method-$seed.log"
      fi
      printf "%-7s %4d %9s" "$method" "$seed" "$(value "$dir/summary.json" final_rec)"
      for k in $metrics; do printf " %s" "$(value "$dir/metrics.json" "$k")"; done
      echo
    done
  done
} | tee "$out.txt"
