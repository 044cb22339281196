#!/bin/bash
# Build if needed and run the whole test suite; ends with one line "make check: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --tests || exit 1
cd build
make -s check -j1 "$@"
status=$?
pass=$(cat tests/*.trs 2>/dev/null | grep -c '^:test-result: PASS')
fail=$(cat tests/*.trs 2>/dev/null | grep -c -E '^:test-result: (FAIL|ERROR|XPASS)')
skip=$(cat tests/*.trs 2>/dev/null | grep -c '^:test-result: SKIP')
if [ "$status" -ne 0 ]; then
  for log in tests/*.log; do
    grep -q -E '^(FAIL|ERROR)' "${log%.log}.trs" 2>/dev/null && { echo "---- $log"; tail -40 "$log"; }
  done
  [ "$fail" -eq 0 ] && fail=1
fi
echo "make check: $pass passed, $fail failed${skip:+, $skip skipped}" | sed 's/, 0 skipped//'
[ "$status" -eq 0 ]
