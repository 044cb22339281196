#!/bin/bash
# 2-rank weak scaling of the beam MLP (docs/scaling.md): interleaved rounds of 1 rank at batch
# 100 and 2 ranks at batch 200, with -grad_reduce mpi and node, ms/step from summary.json.
#   tools/weak_pair.sh [BUILD_DIR] [ROUNDS] [STEPS]
# Prints each round, then the medians and the weak efficiency (1-rank ms / 2-rank ms). Open
# MPI's shared-memory single copy (CMA) is turned off as docs/scaling.md advises for this VM;
# MECH=cma keeps Open MPI's default. Run it on a quiet machine: nothing else may be running.
set -euo pipefail
build=${1:-build}
rounds=${2:-7}
steps=${3:-2000}
src=$(cd "$(dirname "$0")/.." && pwd)
dt=$build/src/disentangle
tmp=$(mktemp -d /tmp/weak-pair.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1
[ "${MECH:-none}" = cma ] || export OMPI_MCA_btl_vader_single_copy_mechanism=none
"$build/tools/beamgen" -out "$tmp/beam.h5" -seed 1 >/dev/null

run() { # NP BATCH REDUCE: prints ms/step
  rm -rf "$tmp/run"
  mpiexec -n "$1" "$dt" train -options_file "$src/inputs/beam-nashae.opts" -data "$tmp/beam.h5" -run_dir "$tmp/run" \
    -batch "$2" -steps "$steps" -progress_every 0 -grad_reduce "$3" >"$tmp/out" 2>&1 || { grep -m3 "error" "$tmp/out" >&2 || tail -5 "$tmp/out" >&2; exit 1; }
  /usr/bin/python3 -c 'import json, sys; print("%.3f" % json.load(open(sys.argv[1]))["ms_per_step"])' "$tmp/run/summary.json"
}

echo "round  1 rank  2 ranks mpi  2 ranks node  (ms/step)"
for r in $(seq "$rounds"); do # a failed run stops the tool (set -e), its output on stderr
  one=$(run 1 100 mpi)
  mpi=$(run 2 200 mpi)
  node=$(run 2 200 node)
  echo "$r $one $mpi $node"
done | tee "$tmp/rounds"
/usr/bin/python3 - "$tmp/rounds" <<'PY'
import statistics, sys
rows = [list(map(float, l.split()[1:])) for l in open(sys.argv[1])]
one, mpi, node = (statistics.median(c) for c in zip(*rows))
print(f"medians: 1 rank {one:.3f}, 2 ranks mpi {mpi:.3f} ({100 * one / mpi:.1f} % weak efficiency), "
      f"node {node:.3f} ({100 * one / node:.1f} %)")
PY
