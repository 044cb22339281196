#!/bin/bash
# eval's time on a dSprites-size archive on 1 and 2 ranks: a generated dSprites subset of N images
# (737280 = all of them), a NashAE conv model trained a few steps (the scores' cost does not
# depend on how good it is), then eval on 1 and 2 ranks with the default 10000/5000 points.
# Prints the wall time of each eval, its supervised part, and whether metrics.json is the same.
# Usage: tools/eval_bench.sh [N] [OUT_DIR]   (run from build/)
set -euo pipefail
n=${1:-100000}
out=${2:-runs/eval-bench}
src=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$out"
data="$out/dsprites-$n.h5"
[ -f "$data" ] || tools/dsprites -out "$data" -n "$n" -seed 1 >/dev/null
run="$out/run-$n"
[ -f "$run/model.h5" ] || mpiexec -n 2 --oversubscribe src/disentangle train -options_file "$src/inputs/dsprites-nashae.opts" \
  -data "$data" -run_dir "$run" -steps 20 -progress_every 0 2>/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-6s %10s %14s\n" ranks eval_s supervised_s
for np in 1 2; do
  t0=$(date +%s.%N)
  mpiexec -n "$np" --oversubscribe src/disentangle eval -run_dir "$run" "${@:3}" >"$out/table-$np.txt" 2>"$out/err-$np.txt"
  t1=$(date +%s.%N)
  cp "$run/metrics.json" "$out/metrics-$np.json"
  sup=$(sed -n 's/.*supervised scores took \([0-9.]*\) s.*/\1/p' "$out/err-$np.txt")
  printf "%-6s %10.1f %14s\n" "$np" "$(echo "$t1 - $t0" | bc)" "${sup:-?}"
done
cmp -s "$out/metrics-1.json" "$out/metrics-2.json" && echo "metrics.json identical on 1 and 2 ranks" ||
  echo "metrics.json DIFFERS between 1 and 2 ranks"
