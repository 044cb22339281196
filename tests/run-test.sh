#!/bin/bash
# Test driver for the C test programs: unit_* run on one rank, mpi_* on 1, 2 and 3 ranks
# (3 ranks on 2 cores is oversubscribed on purpose: it makes the batch split uneven).
prog="$1"
shift
case "$(basename "$prog")" in
  mpi_*) ranks="${DT_TEST_RANKS:-1 2 3}" ;;
  *) ranks=1 ;;
esac
for np in $ranks; do
  echo "== $(basename "$prog") on $np rank(s)"
  # DT_TEST_WRAPPER: a command each rank runs the program under (valgrind, in CI; tests/valgrind.sh)
  # shellcheck disable=SC2086
  if ! ${MPIEXEC:-mpiexec} -n "$np" --oversubscribe ${DT_TEST_WRAPPER:-} "$prog" "$@"; then
    echo "FAIL: $(basename "$prog") on $np rank(s)"
    exit 1
  fi
done
