#!/bin/bash
# The fuzzers' regression cases (issue 17): every input that once crashed or tripped a sanitizer
# in a reader (tests/fuzz/regress/TARGET/*) goes through the same harness again, built into this
# program (tests/fuzz/replay_TARGET), and must come back within 120 s and 1.5 GB of address space
# (a crafted 40 KB checkpoint once took 4 GB; not under the sanitizers, whose shadow memory needs more).
# The limit is soft: disentangle-h5check, which the readers start and which is built with
# AddressSanitizer, gets the hard one (src/io/h5guard.c), so the cases go through it too.
. "$DT_SRCDIR/tests/lib.sh"
n=0
limit=""
[ -z "${ASAN_OPTIONS:-}" ] && limit="prlimit --as=$((1536 << 20)):unlimited"
for target in options json ckpt archive; do
  replay="$(dirname "$DT_BIN")/../tests/fuzz/replay_$target"
  [ -x "$replay" ] || fail "no $replay (make check builds it)"
  cases=$(find "$DT_SRCDIR/tests/fuzz/regress/$target" -type f ! -name README 2>/dev/null | sort)
  [ -n "$cases" ] || continue
  # shellcheck disable=SC2086
  timeout -k 5 120 $limit "$replay" $cases >"$TMP/out" 2>&1 || { tail -30 "$TMP/out"; fail "$target: a regression case fails again"; }
  n=$((n + $(echo "$cases" | wc -l)))
  echo "ok: $target: $(echo "$cases" | wc -l) cases"
done
[ "$n" -gt 0 ] || fail "no regression cases found under $DT_SRCDIR/tests/fuzz/regress"
pass "$n fuzzing regression cases"
