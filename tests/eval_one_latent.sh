#!/bin/bash
# A model with ONE latent: eval finishes (it used to stop with "out of memory" from SAP), SAP,
# which needs two latents, is null, and the other scores are there.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
dt 2 train -data "$data" -latents 1 -steps 20 -run_dir "$TMP/one" -progress_every 0 >/dev/null 2>"$TMP/err" ||
  fail "training a 1-latent model: $(cat "$TMP/err")"
dt 2 eval -run_dir "$TMP/one" >"$TMP/out" 2>"$TMP/err" || fail "eval of a 1-latent model: $(cat "$TMP/err")"
json_strict "$TMP/one/metrics.json" || fail "metrics.json is not valid JSON"
[ "$(json_value "$TMP/one/metrics.json" sap)" = null ] || fail "SAP of one latent is not null"
mig=$(json_value "$TMP/one/metrics.json" mig)
[ "$mig" != null ] && [ -n "$mig" ] || fail "MIG missing for a 1-latent model"
pass "eval of a 1-latent model: SAP null, the rest computed"
