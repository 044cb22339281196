#!/bin/bash
# Experiment 2 of issue 10: XOR by 2 hidden layers of 4 logistic units and a logistic output,
# without L_Sigma and with L_Sigma lambda = 0.2 on both hidden layers (the paper's setting:
# 2 active units in layer 1, 1 in layer 2), SEEDS seeds each (tools/xor_lsigma).
# Usage (from build/): tools/lsigma_xor.sh [-seeds 10] [-steps 20000] [-out runs/lsigma-xor]
# Writes DIR/lambda-0.txt, lambda-0.2.txt (per seed), *.json, xor-lambda-*.svg (covariances and
# spectra per seed) and table.md.
set -euo pipefail
seeds=10 steps=20000 out=runs/lsigma-xor
while [ $# -gt 0 ]; do
  case "$1" in
    -seeds) seeds=$2 ;;
    -steps) steps=$2 ;;
    -out) out=$2 ;;
    *) echo "lsigma_xor: unknown option $1 (allowed: -seeds -steps -out)" >&2; exit 2 ;;
  esac
  shift 2
done
src=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$out"
for lambda in 0 0.2; do
  ${XOR_LSIGMA:-tools/xor_lsigma} -lambda "$lambda" -seeds "$seeds" -steps "$steps" -json "$out/lambda-$lambda.json" | tee "$out/lambda-$lambda.txt"
done
/usr/bin/python3 "$src/tools/xor_plot.py" "$out" "$out/lambda-0.json" "$out/lambda-0.2.json"
