#!/bin/bash
# Streamed against in-memory training (issue 12): samples/s on 1 and 2 ranks, peak RSS against
# -io_buffer_mb, and the time the steps waited for the prefetch thread (-log_view event
# ArchiveWait). Prints a table; the archive is written once with beamgen into WORK.
#
#   tools/stream_bench.sh [BUILD_DIR] [WORK_DIR]
#   SIZE_GB=4 LENGTH=10000 FILES=64 STEPS=200 BATCH=64 BUFFERS="16 64 256" BINDS="core none" REPEAT=3 \
#     tools/stream_bench.sh
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
echo "binding: core = each rank bound to one core (Open MPI's default for 2 ranks or fewer), which the"
echo "prefetch thread shares; none = unbound (1 rank: the reader thread gets the other core)"
run() { # NAME NP BINDING BUFFER: one run; appends "NAME NP BINDING BUFFER samples/s peak_RSS wait_s" to $results
  local dir="$work/run-$1-$2-$3-$4"
  rm -rf "$dir"
  mpiexec -n "$2" --oversubscribe --bind-to "$3" "$build/src/disentangle" train $common -data "$data/" -run_dir "$dir" \
    -io_buffer_mb "$4" >"$dir.log" 2>&1 || { tail -5 "$dir.log"; return 1; }
  echo "$1 $2 $3 $4 $(value "$dir" samples_per_s) $(value "$dir" peak_rss_mb) $(wait_s "$dir.log")" >>"$results"
}
# REPEAT rounds, each running every configuration once, so that a slow spell of a shared machine
# touches all of them alike; the table gives each configuration's median
results=$(mktemp)
for _ in $(seq "${REPEAT:-1}"); do
  for np in 1 2; do
    for bind in ${BINDS:-core none}; do
      run memory "$np" "$bind" 0
      for b in $BUFFERS; do run streamed "$np" "$bind" "$b"; done
    done
  done
done
printf '%-10s %5s %7s %9s %11s %9s %12s %10s\n' reader ranks binding buffer_MB samples/s of_memory peak_RSS_MB wait_s
sort -s -k2,2n -k3,3 -k4,4n "$results" | awk '
  function median(list,   n, v, i, j, t) { n = split(list, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
  { key = $1 " " $2 " " $3 " " $4; if (!(key in rate)) order[++k] = key
    rate[key] = rate[key] " " $5; rss[key] = rss[key] " " $6; wait[key] = wait[key] " " ($7 == "" ? 0 : $7) }
  END { for (i = 1; i <= k; i++) { split(order[i], f, " "); r = median(rate[order[i]])
      if (f[1] == "memory") base = r
      printf "%-10s %5s %7s %9s %11.0f %8.1f%% %12.0f %10s\n", f[1], f[2], f[3], f[4], r, 100 * r / base,
        median(rss[order[i]]), f[1] == "memory" ? "" : sprintf("%.3f", median(wait[order[i]])) } }'
rm -f "$results"
