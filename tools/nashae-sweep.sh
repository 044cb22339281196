#!/bin/bash
# The NashAE step over batch sizes and latent counts: `disentangle bench` for every pair, one
# table of ms per step and where it goes, written to docs/nashae-sweep.md (or $OUT).
#
#   bash tools/nashae-sweep.sh [BUILD_DIR]          # default build/; data/beam.h5 made if missing
#   BATCHES="32 100" LATENTS="4" NP=2 OUT=/tmp/s.md bash tools/nashae-sweep.sh
#   OPENBLAS_CORETYPE=SkylakeX bash tools/nashae-sweep.sh   # another OpenBLAS kernel set
#
# Every point runs train's own loop (bench times run_train_steps) after 21 warm-up steps; the
# phases are rank 0's exclusive wall-clock times per step. A busy machine inflates wall-clock
# times; the CPU column (this process's CPU time per step) is the steadier figure then, and the
# load average is written with the table.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
BATCHES=${BATCHES:-"32 100 256 1024"}
LATENTS=${LATENTS:-"4 10 32"}
NP=${NP:-1}
OUT=${OUT:-$here/docs/nashae-sweep.md}
bin=$build/src/disentangle
[ -x "$bin" ] || { echo "nashae-sweep: no $bin; build first (see README)" >&2; exit 2; }
# the built-in archive's generator with more duty cycles: 1200 samples, so batch 1024 fits
# (the built-in data/beam.h5 has 360); a step's time does not depend on the values
data=$build/data/beam-sweep.h5
[ -f "$data" ] || "$build/tools/beamgen" -out "$data" -seed 1 -duty_count 400 >/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mpiexec=${MPIEXEC:-mpiexec}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=""
core=""
for b in $BATCHES; do
  for m in $LATENTS; do
    steps=$(( 30000 / b )); [ "$steps" -lt 30 ] && steps=30
    log=$(mktemp)
    if ! $mpiexec -n "$NP" --oversubscribe "$bin" bench -options_file "$here/inputs/beam-nashae.opts" -data "$data" \
        -batch "$b" -latents "$m" -steps "$steps" >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"; echo "nashae-sweep: bench failed at batch $b, $m latents" >&2; exit 1
    fi
    line=$(grep '^bench: ' "$log"); rm -f "$log"
    v() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
    core=$(v core)
    row=$(awk -v b="$b" -v m="$m" -v s="$(v step_ms)" -v c="$(v cpu_ms)" -v f="$(v floor_ms)" -v cf="$(v cpu_floor_ms)" \
      -v e="$(v encoder_ms)" -v r="$(v regressors_ms)" -v d="$(v decoder_ms)" -v a="$(v adversary_ms)" \
      -v o="$(v adam_ms)" -v x="$(v allreduce_ms)" -v t="$(v other_ms)" 'BEGIN {
        printf "| %d | %d | %.3f | %.3f | %.3f | %.2f | %.2f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |", b, m, s, c, f, s / f, c / cf, e, r, d, a, o, x, t }')
    echo "$row"
    rows+="$row"$'\n'
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$(dirname "$OUT")"
{
  echo "# NashAE step: batch and latent sweep"
  echo
  echo "Written by \`tools/nashae-sweep.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'),"
  echo "$(nproc) cores, $NP rank(s), OpenBLAS core $core (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}), 1 BLAS thread."
  echo "Load average (1, 5, 15 min) before: $load_before; after: $load_after. On a machine with other work the"
  echo "wall-clock columns are inflated; CPU ms (this process's CPU time per step) is the steadier figure."
  echo
  echo "Options: \`inputs/beam-nashae.opts\` (hidden 200,80,40; regressors 40,40; K = 5) with \`-batch B -latents m\`, on"
  echo "\`beamgen -seed 1 -duty_count 400\` (1200 beam waveforms of 1000 values: the built-in archive's generator, more samples)."
  echo "Phases are rank 0's exclusive wall-clock ms per step: encoder and decoder forward + backward;"
  echo "regressors = the K regressor updates (forward + backward); adversary = the regressors' forward on the"
  echo "slice and the adversarial gradient back to z; Adam = every optimizer update; allreduce = every collective"
  echo "of the step; other = the rest (batch reading, loss terms, sigmoid head, finite checks, history.csv)."
  echo "Floor = the step's sgemm calls, each shape timed alone (\`disentangle bench\`); CPU step/floor = the same"
  echo "ratio in this process's CPU time (step and shapes), the one to read on a busy machine."
  echo
  echo "| batch | m | step ms | CPU ms | floor ms | step/floor | CPU step/floor | encoder | regressors | decoder | adversary | Adam | allreduce | other |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf "%s" "$rows"
} >"$OUT"
echo "nashae-sweep: table in $OUT"
