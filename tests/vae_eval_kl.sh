#!/bin/bash
# Per-latent KL of a Gaussian-head method, in eval and the report:
#  - eval of a short betavae run writes kl_0..kl_{m-1}, kl_total (their sum) and kl_active_latents
#    (those above -kl_threshold) to metrics.json, the same on 1 and 2 ranks, and /kl (with its
#    threshold) to latents.h5, equal to metrics.json's;
#  - the last training step's kl (a batch mean) is close to eval's kl_total (the archive mean);
#  - -kl_threshold moves the count (1e6 nats: none);
#  - the report draws the bar chart (fig-kl, one bar per latent) from the run directory alone;
#  - a deterministic head (ae) has no kl_ keys and no chart, and a latents.h5 without /kl (an
#    older file) still draws.
. "$DT_SRCDIR/tests/lib.sh"
PY=/usr/bin/python3
data=$(beam_archive beam -seed 1)
fast="-metric_train 300 -metric_eval 200"
m=5
run="$TMP/bvae"
dt 1 train -data "$data" -method betavae -rec_loss gaussian -latents $m -run_dir "$run" -steps 150 -progress_every 0 \
  2>"$TMP/err" || { cat "$TMP/err"; fail "train betavae"; }
for np in 1 2; do
  dt "$np" eval -run_dir "$run" $fast >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "eval on $np ranks"; }
  cp "$run/metrics.json" "$TMP/metrics-$np.json"
done
cmp "$TMP/metrics-1.json" "$TMP/metrics-2.json" || fail "eval's metrics differ between 1 and 2 ranks"
json_strict "$run/metrics.json" || fail "metrics.json is not valid JSON"
for j in $(seq 0 $((m - 1))); do
  [ -n "$(json_number "$run/metrics.json" kl_$j)" ] || fail "metrics.json has no kl_$j"
done
[ -z "$(json_number "$run/metrics.json" kl_$m)" ] || fail "metrics.json has kl_$m for $m latents"
$PY - "$run" "$(csv_column "$run/history.csv" kl | tail -1)" <<'PYEOF' || fail "KL in metrics.json, latents.h5 and history disagree"
import json, sys, h5py, numpy as np
run, kl_hist = sys.argv[1], float(sys.argv[2])
met = json.load(open(run + "/metrics.json"))
f = h5py.File(run + "/latents.h5", "r")
kl = f["kl"][:]
m = f["z"].shape[1]
assert kl.shape == (m,), kl.shape
assert abs(f["kl"].attrs["threshold"] - 0.01) < 1e-15
per = np.array([met["kl_%d" % j] for j in range(m)])
assert np.allclose(per, kl, rtol=1e-8), (per, kl)
assert (kl >= 0).all(), kl
assert abs(met["kl_total"] - kl.sum()) <= 1e-7 * kl.sum(), (met["kl_total"], kl.sum())
assert met["kl_active_latents"] == int((kl > 0.01).sum())
# a batch of 64 against the whole archive, with the model one step apart: within 10 %
assert abs(kl_hist - met["kl_total"]) < 0.1 * met["kl_total"], (kl_hist, met["kl_total"])
print("  kl per latent", np.round(kl, 3), "total", round(met["kl_total"], 3), "last step's", kl_hist)
PYEOF
dt 1 eval -run_dir "$TMP/bvae" $fast -kl_threshold 1e6 >/dev/null 2>&1 || fail "eval -kl_threshold 1e6"
[ "$(json_number "$run/metrics.json" kl_active_latents)" = 0 ] || fail "kl_active_latents is not 0 above every KL"
dt 1 eval -run_dir "$TMP/bvae" $fast >/dev/null 2>&1 || fail "eval again"

rm "$run/model.h5" # the report draws from the run directory's files alone
dt 1 report -run_dir "$run" >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "report"; }
grep -q '<svg id="fig-kl"' "$run/report.html" || fail "the report has no KL chart"
[ "$(grep -c '<rect id="kl-[0-9]*"' "$run/report.html")" -eq $m ] || fail "the KL chart has not $m bars"
active=$(json_number "$run/metrics.json" kl_active_latents)
grep -q "<b>$active of $m</b> latents are above it" "$run/report.html" || fail "the KL caption does not count $active of $m"

# an older latents.h5 (no /kl): read and drawn without the chart
$PY -c 'import h5py, sys; f = h5py.File(sys.argv[1], "a"); del f["kl"]' "$run/latents.h5" || fail "h5py"
dt 1 report -run_dir "$run" >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "report of a latents.h5 without /kl"; }
! grep -q 'fig-kl' "$run/report.html" || fail "a KL chart without /kl"

# a deterministic head: nothing of the KL
dt 1 train -data "$data" -method ae -latents 3 -run_dir "$TMP/ae" -steps 20 -progress_every 0 2>/dev/null || fail "train ae"
dt 1 eval -run_dir "$TMP/ae" $fast >/dev/null 2>&1 || fail "eval ae"
! grep -q '"kl_' "$TMP/ae/metrics.json" || fail "ae's metrics.json has kl_ keys"
$PY -c 'import h5py, sys; sys.exit("kl" in h5py.File(sys.argv[1], "r"))' "$TMP/ae/latents.h5" || fail "ae's latents.h5 has /kl"
dt 1 report -run_dir "$TMP/ae" >/dev/null 2>&1 || fail "report ae"
! grep -q 'fig-kl' "$TMP/ae/report.html" || fail "ae's report has a KL chart"
pass "per-latent KL in eval, latents.h5 and the report"
