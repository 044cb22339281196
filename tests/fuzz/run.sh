#!/bin/bash
# The fuzzers for a bounded time each (CI): tests/fuzz/run.sh FUZZ_BUILD_DIR SECONDS [TARGET...]
# Each starts from the seed corpus (seeds.sh, from the program build's tools) and prints its
# executions per second; a crash, sanitizer report, timeout (30 s) or 4 GB resident leaves its
# input in FUZZ_BUILD_DIR/fuzz-out/ and fails the run: keep it in tests/fuzz/regress/TARGET/ once
# the reader is fixed. FUZZ_SEED (optional): libFuzzer's seed, so that a CI run can be repeated
# exactly. Last line: "fuzz: N passed, M failed" (targets without and with a finding).
set -uo pipefail
fb=$(cd "$1" && pwd)
secs=$2
shift 2
targets=${*:-options json ckpt archive}
src=$(cd "$(dirname "$0")/../.." && pwd)
out="$fb/fuzz-out"
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
# leaks: off; Open MPI and PETSc keep allocations for the process's life, which LeakSanitizer
# would report at every exit (the replay in make check under --enable-sanitizers looks for ours)
# HDF5's own over-reads on damaged headers are suppressed, documented in asan.supp
# a checker that hangs on an input is stopped well inside libFuzzer's 30 s (src/io/h5guard.c)
export DISENTANGLE_H5CHECK_TIMEOUT=10
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=4096:suppressions=$src/tests/fuzz/asan.supp UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
[ -d "$out/seeds" ] || bash "$src/tests/fuzz/seeds.sh" "$fb" "$out/seeds" >/dev/null || { echo "fuzz: cannot make the seeds"; exit 1; }
crashes=0 failed=0
for t in $targets; do
  corpus="$out/corpus-$t"
  mkdir -p "$corpus"
  # findings: libFuzzer's crash-, timeout-, oom- and leak- artifacts (not slow-unit- notes)
  findings() { ls "$out" | grep -c "^crash-$t-\(crash\|timeout\|oom\|leak\)-"; }
  before=$(findings)
  # libFuzzer stops at a corpus directory that does not exist; git keeps no empty regress/TARGET
  dirs=("$corpus" "$out/seeds/$t")
  [ -d "$src/tests/fuzz/regress/$t" ] && dirs+=("$src/tests/fuzz/regress/$t")
  # 30 s, 4 GB resident: a damaged checkpoint makes HDF5 ask for a 16 GB metadata block it never
  # fills (regress/ckpt/hdf5-huge-metadata-block.h5). The plain program refuses the file in 3 s
  # with 46 MB resident (the block is never touched, and make check replays it within 120 s and
  # 1.5 GB); here ASan refuses requests over 4 GB (max_allocation_size_mb above), which HDF5
  # takes as a failed read, instead of spending 11 s poisoning the block's shadow.
  # The readers of HDF5 files (ckpt, archive) start disentangle-h5check on every input
  # (src/io/h5guard.c, ~50 ms): they run three times as long
  t_secs=$secs
  case $t in ckpt | archive) t_secs=$((3 * secs)) ;; esac
  "$fb/tests/fuzz/fuzz_$t" "${dirs[@]}" -max_total_time="$t_secs" -timeout=30 \
    ${FUZZ_SEED:+-seed=$FUZZ_SEED} -rss_limit_mb=4096 -malloc_limit_mb=20480 -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/crash-$t-" \
    >"$out/$t.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$t.log")
  cov=$(grep -o 'cov: [0-9]*' "$out/$t.log" | tail -1)
  found=$(($(findings) - before))
  [ "$rc" -ne 0 ] && [ "$found" -eq 0 ] && found=1
  crashes=$((crashes + found)) failed=$((failed + (found > 0)))
  echo "fuzz $t: ${runs:-0} inputs in ${t_secs}s, ${speed:-0} exec/s, ${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l), $found crash(es)"
  [ "$found" -gt 0 ] && { grep -m1 -A12 'ERROR\|==ERROR\|runtime error\|deadly signal' "$out/$t.log"; ls "$out" | grep "^crash-$t-"; }
done
n=$(echo $targets | wc -w)
echo "fuzz: $((n - failed)) passed, $failed failed ($n targets, $crashes crashes)"
[ "$crashes" -eq 0 ]
