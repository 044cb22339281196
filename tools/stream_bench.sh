#!/bin/bash
# Streamed against in-memory training (issue 12): samples/s on 1 and 2 ranks, peak RSS against
# -io_buffer_mb, and the time the steps waited for the prefetch thread (-log_view event
# ArchiveWait). Prints a table; the archive is written once with beamgen into WORK.
#
#   tools/stream_bench.sh [BUILD_DIR] [WORK_DIR]
#   SIZE_GB=4 LENGTH=10000 FILES=64 STEPS=200 BATCH=64 BUFFERS="16 64 256" tools/stream_bench.sh
#
# The page cache serves a file read twice: for cold reads drop it between runs (as root:
# sync; echo 3 > /proc/sys/vm/drop_caches), or make SIZE_GB larger than the machine's memory.
set -eu
build=$(cd "${1:-build}" && pwd)
work=${2:-/tmp/stream-bench}
: "${SIZE_GB:=2}" "${LENGTH:=10000}" "${FILES:=32}" "${STEPS:=200}" "${BATCH:=64}" "${BUFFERS:=16 64 256}"
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$work"
# N = freqs x duty_count waveforms of LENGTH float32 values
n=$(awk -v g="$SIZE_GB" -v l="$LENGTH" 'BEGIN { printf "%d", g * 1e9 / (4 * l) }')
duty=$(( (n + 2) / 3 ))
data="$work/beams-$SIZE_GB-$LENGTH-$FILES"
[ -d "$data" ] || "$build/tools/beamgen" -out "$data" -files "$FILES" -length "$LENGTH" -duty_count "$duty" -chunk_rows 16 >/dev/null
gb=$(du -sb "$data" | awk '{ printf "%.2f", $1 / 1e9 }')
common="-method ae -latents 4 -hidden 64 -batch $BATCH -steps $STEPS -progress_every 0 -sampler epoch -sampler_chunk 16 -log_view"
value() { sed -n "s/^ *\"$2\": *\([-0-9.eE+]*\),*$/\1/p" "$1/summary.json"; }
wait_s() { awk '$1 == "ArchiveWait" { print $4; exit }' "$1"; }
echo "archive: $(ls "$data" | wc -l) files, $((3 * duty)) waveforms x $LENGTH float32, $gb GB; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %5s %9s %11s %12s %10s\n' reader ranks buffer_MB samples/s peak_RSS_MB wait_s
run() { # NAME NP BUFFER
  local dir="$work/run-$1-$2-$3"
  rm -rf "$dir"
  mpiexec -n "$2" --oversubscribe "$build/src/disentangle" train $common -data "$data/" -run_dir "$dir" -io_buffer_mb "$3" \
    >"$dir.log" 2>&1 || { tail -5 "$dir.log"; return 1; }
  printf '%-10s %5s %9s %11.0f %12.0f %10s\n' "$1" "$2" "$3" "$(value "$dir" samples_per_s)" "$(value "$dir" peak_rss_mb)" \
    "$(wait_s "$dir.log")"
}
for np in 1 2; do
  run memory "$np" 0
  for b in $BUFFERS; do run streamed "$np" "$b"; done
done
