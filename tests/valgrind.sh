#!/bin/bash
# The MPI tests under valgrind memcheck (issue 17): every rank of each tests/mpi_* program runs
# under valgrind with tests/valgrind.supp (the MPI and HDF5 libraries' own errors only); any
# other error or definite leak fails the test (exit 9).
#   tests/valgrind.sh BUILD_DIR [RANKS] [TEST...]      RANKS: "1 2" by default (3 is oversubscribed:
#                                                       too slow under valgrind on 2 cores)
# Last line: "valgrind: N passed, M failed".
set -uo pipefail
build=$(cd "$1" && pwd)
ranks=${2:-1 2}
shift $(($# >= 2 ? 2 : $#))
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$build" || exit 1
tests=${*:-$(make -s print-tests | tr ' ' '\n' | grep '^tests/mpi_')}
export DT_TEST_RANKS="$ranks"
export DT_TEST_WRAPPER="valgrind -q --error-exitcode=9 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=40 --suppressions=$src/tests/valgrind.supp"
make -s check -j1 TESTS="$tests" >/dev/null 2>&1
pass=0 fail=0
for t in $tests; do
  if grep -q '^:test-result: PASS' "$t.trs" 2>/dev/null; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "---- $t.log"; grep -B2 -A30 '^==[0-9]*== [A-Z]' "$t.log" | head -60
  fi
done
echo "valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
