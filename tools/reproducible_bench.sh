#!/bin/bash
# The cost of -reproducible (docs/reproducible.md): ms/step of train with and without it, per
# method, on the beam MLP (the inputs/beam-*.opts settings, batch 100), from summary.json.
#   tools/reproducible_bench.sh [BUILD_DIR] [STEPS] [RANKS] [CHUNK]
# Prints one line per method: default ms/step, -reproducible ms/step, the ratio. Each run is
# repeated REPEAT times (default 3) and the fastest kept (the machine may be shared). mlvae runs
# on a grouped archive (beamgen -groups_per_freq 20) with chunks of MLVAE_CHUNK rows (default 20:
# a chunk must be whole groups of its -group_size 4).
set -eu
build=${1:-build}
steps=${2:-300}
ranks=${3:-1}
chunk=${4:-10}
repeat=${REPEAT:-3}
methods=${METHODS:-"ae nashae betavae factorvae"}
src=$(cd "$(dirname "$0")/.." && pwd)
dt=$build/src/disentangle
tmp=$(mktemp -d /tmp/repro-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1
"$build/tools/beamgen" -out "$tmp/beam.h5" -seed 1 >/dev/null
case " $methods " in *" mlvae "*) "$build/tools/beamgen" -out "$tmp/grouped.h5" -seed 1 -groups_per_freq 20 >/dev/null ;; esac

ms_per_step() {
  /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["ms_per_step"])' "$1/summary.json"
}

best() { # fastest of $repeat runs: train ARGS...
  local b=""
  for r in $(seq "$repeat"); do
    rm -rf "$tmp/run"
    mpiexec --oversubscribe -n "$ranks" "$dt" train "$@" -run_dir "$tmp/run" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
    local t
    t=$(ms_per_step "$tmp/run")
    b=$(awk -v a="$b" -v t="$t" 'BEGIN { print (a == "" || t < a) ? t : a }')
  done
  echo "$b"
}

echo "# $(uptime)"
echo "# $ranks rank(s), $steps steps, -reproducible_chunk $chunk, best of $repeat"
printf "%-12s %14s %18s %8s\n" method default_ms reproducible_ms ratio
for m in $methods; do
  data=$tmp/beam.h5 c=$chunk
  [ "$m" = mlvae ] && data=$tmp/grouped.h5 c=${MLVAE_CHUNK:-20}
  common=(-options_file "$src/inputs/beam-$m.opts" -data "$data" -steps "$steps" -progress_every 0 -checkpoint_minutes 0)
  d=$(best "${common[@]}")
  r=$(best "${common[@]}" -reproducible -reproducible_chunk "$c")
  printf "%-12s %14.3f %18.3f %8.2f\n" "$m" "$d" "$r" "$(awk -v d="$d" -v r="$r" 'BEGIN { print r / d }')"
done
