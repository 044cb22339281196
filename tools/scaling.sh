#!/bin/bash
# The scaling study of docs/scaling.md: measure this machine's MPI (alpha, beta, gamma), the
# step's compute per row, and 1-, 2- and 3-rank step times (weak and strong, gradient overlap on
# and off), then print the model's predictions at 64, 512 and 4096 ranks next to what was
# measured. Usage (from build/):
#   tools/scaling.sh [OUT_DIR=runs/scaling] [REPEATS=3]
# Every figure is the fastest of REPEATS runs (a loaded machine only ever makes a run slower);
# the load average is printed with them. Ranks beyond the cores are oversubscribed
# (--oversubscribe); the model is told how many cores there are.
set -euo pipefail
out=${1:-runs/scaling} repeats=${2:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
cores=$(nproc)
bucket_kb=256
mkdir -p "$out"
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load average at start: $(load) on $cores cores"

# ---- MPI: ping-pong and allreduce sweeps -----------------------------------------------------
for np in 2 3; do
  mpiexec -n "$np" --oversubscribe tools/mpibench -max_mb 16 -min_seconds 0.2 >"$out/mpibench-$np.txt"
done
cat "$out/mpibench-2.txt"
read -r alpha beta < <(awk '$1 == "fit" { print $3, $5 }' "$out/mpibench-2.txt")
# gamma (the reduction's arithmetic per byte) from the 2-rank allreduce of 4 MB:
# T = 2 alpha + n beta + n gamma / 2 (recursive halving + doubling on a power of two)
gamma=$(awk -v a="$alpha" -v b="$beta" '$1 == "allreduce" && $3 == 4194304 { g = 2 * ($4 - 2 * a - $3 * b) / $3; print (g > 0 ? g : 0) }' "$out/mpibench-2.txt")

# ---- data ------------------------------------------------------------------------------------
[ -f "$out/beam.h5" ] || tools/beamgen -out "$out/beam.h5" -seed 1 >/dev/null
[ -f "$out/dsprites.h5" ] || tools/dsprites -out "$out/dsprites.h5" -n 2000 -seed 1 >/dev/null

# step NP OPTS_NAME DATA BATCH STEPS OVERLAP [extra...]: the fastest ms_per_step of REPEATS runs
step() {
  local np=$1 opts=$2 data=$3 batch=$4 steps=$5 overlap=$6 best=
  shift 6
  for r in $(seq "$repeats"); do
    local dir="$out/run-$opts-$np-$batch-$overlap-$r"
    rm -rf "$dir"
    mpiexec -n "$np" --oversubscribe src/disentangle train -options_file "$src/inputs/$opts.opts" -data "$data" \
      -run_dir "$dir" -batch "$batch" -steps "$steps" -progress_every 0 -grad_bucket_kb $bucket_kb \
      -grad_overlap "$overlap" "$@" >"$dir.log" 2>&1 || { tail "$dir.log"; exit 1; }
    local ms
    ms=$(sed -n 's/^ *"ms_per_step": *\([0-9.e+-]*\),*$/\1/p' "$dir/summary.json")
    best=$(awk -v a="${best:-1e30}" -v b="$ms" 'BEGIN { print (b < a ? b : a) }')
    rm -rf "$dir"
  done
  echo "$best"
}

# backward's share of a 1-rank step's time, from -log_view
bwd_share() { # OPTS DATA BATCH STEPS
  local dir="$out/logview-$1"
  rm -rf "$dir"
  mpiexec -n 1 src/disentangle train -options_file "$src/inputs/$1.opts" -data "$2" -run_dir "$dir" -batch "$3" \
    -steps "$4" -progress_every 0 -log_view >"$dir.log" 2>&1
  rm -rf "$dir"
  awk '$1 == "Backward" { b = $4 } $2 == "Train:" { t = $3 } END { printf "%.3f\n", b / t }' "$dir.log"
}

# NET OPTS DATA B_SMALL B_LARGE STEPS WEAK_ROWS STRONG_BATCH RANKS...: the JSON of one net (the
# model's own strong-scaling batch is 8192: 2 rows a rank at 4096 ranks)
measure() {
  local net=$1 opts=$2 data=$3 b1=$4 b2=$5 steps=$6 weak=$7 strong=$8
  shift 8
  local t1 t2 c t0 bf
  t1=$(step 1 "$opts" "$data" "$b1" "$steps" true)
  t2=$(step 1 "$opts" "$data" "$b2" "$steps" true)
  c=$(awk -v a="$t1" -v b="$t2" -v x="$b1" -v y="$b2" 'BEGIN { print (b - a) / (y - x) }')
  t0=$(awk -v a="$t1" -v c="$c" -v x="$b1" 'BEGIN { t = a - c * x; print (t > 0 ? t : 0) }')
  bf=$(bwd_share "$opts" "$data" "$b2" "$steps")
  echo "$net: 1 rank: $t1 ms at batch $b1, $t2 ms at batch $b2 -> $t0 ms + $c ms/row; backward $bf of the step (load $(load))" >&2
  local rows=""
  for kind in weak strong; do
    for np in "$@"; do
      for ov in false true; do
        local batch=$strong ms
        [ "$kind" = weak ] && batch=$((weak * np))
        ms=$(step "$np" "$opts" "$data" "$batch" "$steps" "$ov")
        echo "$net $kind $np ranks batch $batch overlap $ov: $ms ms/step (load $(load))" >&2
        rows="$rows${rows:+,}{\"kind\": \"$kind\", \"ranks\": $np, \"rows\": $((batch / np)), \"overlap\": $([ $ov = true ] && echo true || echo false), \"ms\": $ms}"
      done
    done
  done
  echo "\"t0_ms\": $t0, \"c_ms\": $c, \"bwd_frac\": $bf, \"weak_rows\": $weak, \"strong_batch\": $((strong * 4096 / 300 > 0 ? 8192 : 8192)), \"measured\": [$rows]"
}

beam=$(measure beam_mlp beam-nashae "$out/beam.h5" 50 300 200 100 300 1 2 3)
conv=$(measure dsprites_conv dsprites-nashae "$out/dsprites.h5" 16 64 20 32 96 1 2 3)

cat >"$out/measured.json" <<EOF
{"alpha_us": $alpha, "beta_us_per_byte": $beta, "gamma_us_per_byte": $gamma, "bucket_kb": $bucket_kb, "cores": $cores,
 "load": "$(load)",
 "nets": {
  "beam_mlp": {$beam, "latents": 4, "nashae": true, "reg_params": 1881, "reg_iters": 5, "nstats": 14},
  "dsprites_conv": {$conv, "latents": 10, "nashae": true, "reg_params": 2121, "reg_iters": 5, "nstats": 32}
 }}
EOF
/usr/bin/python3 "$src/tools/scaling_model.py" "$out/measured.json" | tee "$out/scaling.txt"
echo "load average at end: $(load)"
