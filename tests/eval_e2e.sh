#!/bin/bash
# eval, report and aggregate on real trained models: every metric key present and in range (both
# latent sets, the split, the capture matrix), the same numbers on 1, 2 and 3 ranks (the scores
# are dealt over the ranks), ScaLAPACK and LAPACK agreeing on a hidden layer's
# spectrum, an archive without /factors, the report page (from the run's files, model.h5 moved
# away), and the seed table.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
opts="$DT_SRCDIR/inputs/beam-nashae.opts"
dt 2 train -options_file "$opts" -data "$data" -run_dir "$TMP/run" -steps 1500 -progress_every 0 2>/dev/null || fail "train"
fast="-metric_train 2000 -metric_eval 1000"

for np in 1 2 3; do
  dt "$np" eval -run_dir "$TMP/run" $fast >"$TMP/table-$np" 2>"$TMP/err" || { cat "$TMP/err"; fail "eval on $np ranks"; }
  cp "$TMP/run/metrics.json" "$TMP/metrics-$np.json"
done
cat "$TMP/table-2"
scores="betavae_score betavae_nashae_protocol factorvae_score mig modularity modularity_normalised explicitness
  dci_disentanglement dci_completeness dci_informativeness sap"
for key in active_latents mapc cvr tdv ud90 gaussian_tc eigenvalue_0 range_0 variance_0 $scores \
  $(for s in $scores; do echo "${s}_active"; done) split_train_samples split_test_samples active_latent_0 \
  factor_continuous_0 eta2_0_0 eta2_3_1 captured_0 captured_by_1 captured_factors; do
  grep -q "^  \"$key\": " "$TMP/metrics-1.json" || fail "metrics.json lacks $key"
done
for key in $scores $(for s in $scores; do echo "${s}_active"; done) mapc tdv eta2_0_0 eta2_3_1; do
  v=$(json_number "$TMP/metrics-1.json" "$key")
  awk -v v="$v" 'BEGIN { exit !(v >= 0 && v <= 1) }' || fail "$key = $v is outside [0, 1]"
done
# the split: disjoint parts of the 360 rows (1/3 held out); the beam archive's duty cycle (120
# values) is continuous, its frequency (3) discrete
ntr=$(json_number "$TMP/metrics-1.json" split_train_samples) nte=$(json_number "$TMP/metrics-1.json" split_test_samples)
[ "$ntr" = 240 ] && [ "$nte" = 120 ] || fail "split sizes $ntr + $nte, want 240 + 120"
[ "$(json_number "$TMP/metrics-1.json" factor_continuous_0)" = 0 ] && [ "$(json_number "$TMP/metrics-1.json" factor_continuous_1)" = 1 ] ||
  fail "factor kinds: frequency should be discrete, duty cycle continuous"
# the active-latent flags agree with the count, the capture count with its flags
act=0 cap=0
for j in 0 1 2 3; do act=$((act + $(json_number "$TMP/metrics-1.json" "active_latent_$j"))); done
for f in 0 1; do cap=$((cap + $(json_number "$TMP/metrics-1.json" "captured_$f"))); done
[ "$act" = "$(json_number "$TMP/metrics-1.json" active_latents)" ] || fail "active_latent_J sum $act != active_latents"
[ "$cap" = "$(json_number "$TMP/metrics-1.json" captured_factors)" ] || fail "captured_K sum $cap != captured_factors"
grep -q "^factor capture" "$TMP/table-1" && grep -q "^clean " "$TMP/table-1" || fail "the eval table lacks the capture matrix"
[ "$(json_number "$TMP/metrics-1.json" active_latents)" = "$(json_number "$TMP/run/summary.json" active_latents)" ] ||
  fail "eval and train disagree on the active latents"
# The same numbers, to the last digit, on any rank count: samples are encoded in fixed chunks
# whatever the split, and every rank computes the latent statistics over all latents.
for np in 2 3; do
  cmp "$TMP/metrics-1.json" "$TMP/metrics-$np.json" || fail "eval on $np ranks differs from 1 rank"
done
echo "ok: all metrics present, in range, identical on 1, 2 and 3 ranks"

# Factor kinds from the archive (beamgen writes them; here h5py rewrites the attribute as a list
# of variable-length UTF-8 strings, saying the opposite), overridden by -factor_kinds
cp "$data" "$TMP/kinds.h5"
/usr/bin/python3 -c "import h5py, sys; h5py.File(sys.argv[1], 'r+')['factors'].attrs['kinds'] = ['continuous', 'discrete']" \
  "$TMP/kinds.h5" || fail "h5py"
dt 2 eval -run_dir "$TMP/run" -data "$TMP/kinds.h5" $fast >/dev/null 2>"$TMP/err" || fail "eval with kinds: $(cat "$TMP/err")"
[ "$(json_number "$TMP/run/metrics.json" factor_continuous_0)" = 1 ] && [ "$(json_number "$TMP/run/metrics.json" factor_continuous_1)" = 0 ] ||
  fail "the archive's /factors kinds (continuous, discrete) were not followed"
dt 2 eval -run_dir "$TMP/run" -data "$TMP/kinds.h5" -factor_kinds auto,auto $fast >/dev/null 2>"$TMP/err" || fail "eval -factor_kinds"
[ "$(json_number "$TMP/run/metrics.json" factor_continuous_0)" = 0 ] && [ "$(json_number "$TMP/run/metrics.json" factor_continuous_1)" = 1 ] ||
  fail "-factor_kinds auto,auto did not override the archive's kinds"
/usr/bin/python3 -c "import h5py, sys; h5py.File(sys.argv[1], 'r+')['factors'].attrs['kinds'] = 'discrete,ordinal'" "$TMP/kinds.h5"
dt 2 eval -run_dir "$TMP/run" -data "$TMP/kinds.h5" $fast >/dev/null 2>"$TMP/err"
[ $? -eq 2 ] && grep -q "attribute kinds on /factors lists 'discrete,ordinal'; expected 2 of discrete, continuous or auto" "$TMP/err" ||
  fail "a bad kinds attribute: $(cat "$TMP/err")"
echo "ok: /factors attribute kinds followed, -factor_kinds overrides it, a bad one refused"

# A hidden layer's spectrum: ScaLAPACK on 2 ranks (forced by -eig_distributed_min 100) vs LAPACK on 1.
dt 1 eval -run_dir "$TMP/run" -layer encoder.dense0 -metric_train 100 -metric_eval 100 >/dev/null 2>&1 || fail "eval -layer"
cp "$TMP/run/metrics.json" "$TMP/layer-1.json"
dt 2 eval -run_dir "$TMP/run" -layer encoder.dense0 -eig_distributed_min 100 -metric_train 100 -metric_eval 100 \
  >/dev/null 2>&1 || fail "eval -layer on ScaLAPACK"
[ "$(json_number "$TMP/layer-1.json" layer_units)" = 200 ] || fail "layer_units is not 200"
top=$(json_number "$TMP/layer-1.json" layer_eigenvalue_0)
for i in 0 1 2 50 199; do
  a=$(json_number "$TMP/layer-1.json" "layer_eigenvalue_$i") b=$(json_number "$TMP/run/metrics.json" "layer_eigenvalue_$i")
  awk -v a="$a" -v b="$b" -v t="$top" 'BEGIN { d = a - b; d = d < 0 ? -d : d; exit !(d <= 1e-9 * t) }' ||
    fail "layer eigenvalue $i: LAPACK $a, ScaLAPACK $b"
done
for key in layer_ud90 layer_tdv layer_mapc; do grep -q "\"$key\"" "$TMP/layer-1.json" || fail "no $key"; done
echo "ok: -layer encoder.dense0: ScaLAPACK (2 ranks) and LAPACK eigenvalues agree to 1e-9 of the largest"

# An archive without ground truth: the unsupervised part only.
h5copy -i "$data" -o "$TMP/nofactors.h5" -s /data -d /data || fail "h5copy"
dt 2 eval -run_dir "$TMP/run" -data "$TMP/nofactors.h5" >/dev/null 2>"$TMP/err" || fail "eval without factors: $(cat "$TMP/err")"
grep -q "has no /factors" "$TMP/err" || fail "no note about the missing factors"
grep -q '"mapc"' "$TMP/run/metrics.json" && ! grep -q '"mig"' "$TMP/run/metrics.json" || fail "unsupervised-only metrics.json wrong"
echo "ok: an archive without /factors gets the unsupervised metrics only"

# The report.
dt 2 eval -run_dir "$TMP/run" $fast >/dev/null 2>&1 || fail "eval again"
[ -f "$TMP/run/latents.h5" ] && [ ! -e "$TMP/run/latents.h5.tmp" ] || fail "eval wrote no latents.h5"
# The report is drawn from the run directory's files alone: without the model it still works.
mv "$TMP/run/model.h5" "$TMP/model.away"
dt 2 report -run_dir "$TMP/run" 2>"$TMP/err" || { cat "$TMP/err"; fail "report without model.h5"; }
mv "$TMP/model.away" "$TMP/run/model.h5"
page="$TMP/run/report.html"
[ -f "$page" ] || fail "no report.html"
[ "$(grep -c '<svg' "$page")" -ge 4 ] || fail "report has fewer than 4 figures"
for title in "Loss curves" "Latent traversals" "Latents vs. factors" "Latent correlations" "Factor capture" "Metrics"; do
  grep -qi "$title" "$page" || fail "report lacks the section '$title'"
done
grep -q "mig" "$page" || fail "report lacks the metric table"
[ "$(grep -c 'id="eta2-' "$page")" = 8 ] || fail "the capture heat map has not 4 x 2 cells"
! grep -q -E 'http:|https:|<script|<link' "$page" || fail "report refers to something outside itself"
echo "ok: report.html ($(wc -c <"$page") bytes) with all sections, drawn with model.h5 moved away"

# Seeds: three runs of each method, one table.
for method in nashae ae; do
  for seed in 1 2 3; do
    d="$TMP/seeds/$method-$seed"
    dt 2 train -options_file "$DT_SRCDIR/inputs/beam-$method.opts" -data "$data" -run_dir "$d" -seed "$seed" -steps 300 \
      -progress_every 0 2>/dev/null || fail "train $method $seed"
    dt 2 eval -run_dir "$d" -metric_train 500 -metric_eval 300 >/dev/null 2>&1 || fail "eval $method $seed"
  done
done
"$DT_BIN" aggregate "$TMP"/seeds/* -csv "$TMP/seeds.csv" >"$TMP/agg" || fail "aggregate"
grep -q "^nashae *mig *3 " "$TMP/agg" && grep -q "^ae *mig *3 " "$TMP/agg" || fail "aggregate table: $(head "$TMP/agg")"
# columns: method,metric,n,median,q1,q3,min,max; a metric that can be null (an infinite TC) may have n < 3
awk -F, 'NR > 1 { e = 1e-12; if (!($7 <= $5 + e && $5 <= $4 + e && $4 <= $6 + e && $6 <= $8 + e) || $3 < 1 || $3 > 3) bad = 1
                  if ($2 == "mig" && $3 != 3) bad = 1 }
  END { exit bad }' "$TMP/seeds.csv" || fail "aggregate CSV: min <= q1 <= median <= q3 <= max violated"
grep -A6 "^factors captured cleanly" "$TMP/agg" | grep -q "^nashae *1 *[0-3] *3$" || fail "aggregate: no capture count: $(tail "$TMP/agg")"
echo "ok: aggregate over 3 seeds x 2 methods: $(($(wc -l <"$TMP/seeds.csv") - 1)) rows, capture counts"
pass "eval, report, aggregate"
