#!/bin/bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (issue 17), in its own build
# (./configure --enable-sanitizers). A sanitizer report fails the test it happens in.
#   tests/sanitizers.sh ASAN_BUILD_DIR [SHARD NSHARDS]
# SHARD/NSHARDS: the unit and MPI tests always, and every NSHARDS-th of the script tests from
# SHARD on (0-based), so that CI stays within its time: over NSHARDS consecutive shards the whole
# suite runs sanitized. Last line: "sanitizers: N passed, M failed".
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
build=$(cd "$1" && pwd)
shard=${2:-0}
nshards=${3:-1}
cd "$build" || exit 1
[ -f Makefile ] || "$src/configure" --quiet --enable-sanitizers || { echo "sanitizers: configure failed"; exit 1; }
make -s -j"$(nproc)" >/dev/null || { echo "sanitizers: build failed"; exit 1; }
# leaks are valgrind's part (tests/valgrind.sh): Open MPI and PETSc keep memory until exit, which
# LeakSanitizer would report at the end of every program
# HDF5's own over-reads on damaged headers (the fuzzers' archive cases) are suppressed: tests/fuzz/asan.supp
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0:suppressions=$src/tests/fuzz/asan.supp
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# ASan makes a training step 3-5x slower: each program run gets 900 s instead of 300 (lib.sh
# dt), and slurm.sh's reference run, which must outlast the job's time limit (~35 s), takes
# 5000 steps instead of 20000
export DT_TIMEOUT=${DT_TIMEOUT:-900} SLURM_TEST_STEPS=${SLURM_TEST_STEPS:-5000}
all=$(make -s print-tests)
tests="" i=0
for t in $all; do
  case "$t" in
    *.sh) [ $((i % nshards)) -eq "$shard" ] && tests="$tests $t"; i=$((i + 1)) ;;
    *) tests="$tests $t" ;;
  esac
done
echo "sanitizers: shard $shard of $nshards:$tests"
rm -f tests/*.trs tests/*.log tests/fuzz/*.log
make -s check -j1 TESTS="$tests" >/dev/null 2>&1
pass=0 fail=0
for t in $tests; do
  r=${t%.sh} # automake names a script test's results tests/NAME.trs and .log, without the .sh
  if grep -q '^:test-result: PASS' "$r.trs" 2>/dev/null; then pass=$((pass + 1)); else
    fail=$((fail + 1))
    echo "---- $r.log"
    grep -m1 -B2 -A25 'ERROR: AddressSanitizer\|runtime error:' "$r.log" || tail -30 "$r.log"
  fi
done
echo "sanitizers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
