#!/bin/bash
# `disentangle bench` runs train's own loop and accounts for its time: the machine-readable line
# is there with a positive step time, the phases add up to the step (they partition the same
# interval), a NashAE step spends time in its regressors and adversary, the BLAS core is named,
# and the scratch run directory is gone afterwards. On 1 and 2 ranks.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
mkdir -p "$TMP/tmpdir"
for np in 1 2; do
  TMPDIR="$TMP/tmpdir" dt "$np" bench -data "$data" -batch 16 -steps 30 >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "bench on $np ranks"; }
  line=$(grep '^bench: ' "$TMP/out") || { cat "$TMP/out"; fail "bench on $np ranks: no 'bench:' line"; }
  v() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  [ "$(v ranks)" = "$np" ] || fail "bench: ranks=$(v ranks), expected $np"
  awk -v s="$(v step_ms)" -v c="$(v cpu_ms)" -v f="$(v floor_ms)" 'BEGIN { exit !(s > 0 && c > 0 && f > 0) }' ||
    fail "bench on $np ranks: step, CPU or floor time not positive: $line"
  sum=$(awk -v l="$line" 'BEGIN { n = split(l, w, " "); for (i = 1; i <= n; i++) if (w[i] ~ /^[a-z]+_ms=/ && w[i] !~ /^(step|cpu|floor|cpu_floor)_ms=/) { split(w[i], kv, "="); t += kv[2] } print t }')
  awk -v s="$(v step_ms)" -v p="$sum" 'BEGIN { d = s - p; if (d < 0) d = -d; exit !(d <= 0.1 * s) }' ||
    fail "bench on $np ranks: the phases add up to $sum ms, the step is $(v step_ms) ms"
  awk -v r="$(v regressors_ms)" -v a="$(v adversary_ms)" -v e="$(v encoder_ms)" 'BEGIN { exit !(r > 0 && a > 0 && e > 0) }' ||
    fail "bench on $np ranks: no time in the encoder, regressors or adversary: $line"
  [ -n "$(v core)" ] && grep -q '^BLAS ' "$TMP/out" || fail "bench on $np ranks: the BLAS core is not named"
  [ -z "$(ls -A "$TMP/tmpdir")" ] || fail "bench on $np ranks: left $(ls "$TMP/tmpdir") behind"
done
pass "bench times train's loop, its phases add up, the BLAS core is named, nothing is left behind"
