#!/bin/bash
# The JSON files a run writes (summary.json, metrics.json) are valid JSON, also when a value is
# not finite (written as null); the readers (report, aggregate) refuse a corrupt file with one
# line and exit 2; a file that cannot be written is one line and exit 3.
# Valid means: Python's json module reads it with NaN/Infinity refused (it accepts them by default).
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
fast="-metric_train 300 -metric_eval 200"

# expect_error WHAT CODE TEXT CMD...: CMD exits CODE with exactly one error line holding TEXT, no traceback
expect_error() {
  local what=$1 want=$2 text=$3
  shift 3
  "$@" >"$TMP/out" 2>"$TMP/err"
  local code=$?
  [ "$code" -eq "$want" ] || { cat "$TMP/err"; fail "$what: exit code $code, want $want"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$what: not exactly one error line"; }
  grep 'disentangle: error:' "$TMP/err" | grep -q -F -- "$text" || fail "$what: message lacks '$text': $(cat "$TMP/err")"
  ! grep -q -i 'traceback\|PETSC ERROR' "$TMP/err" || fail "$what: a traceback instead of one line"
  echo "ok: $what -> $(grep 'disentangle: error:' "$TMP/err")"
}

# (a) an ordinary run: both files valid, with the keys the report and the tests read
run="$TMP/run"
dt 2 train -data "$data" -run_dir "$run" -steps 40 -progress_every 0 2>"$TMP/err" || { cat "$TMP/err"; fail "train"; }
dt 2 eval -run_dir "$run" $fast >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "eval"; }
for f in summary metrics; do
  json_strict "$run/$f.json" || fail "$f.json is not valid JSON"
  [ ! -e "$run/$f.json.tmp" ] || fail "$f.json.tmp left behind"
done
[ "$(json_value "$run/summary.json" method)" = '"nashae"' ] || fail "summary.json method"
[ "$(json_value "$run/summary.json" latent_ranges | wc -l)" -eq 4 ] || fail "summary.json latent_ranges is not 4 values"
[ "$(json_value "$run/metrics.json" step)" = 40 ] || fail "metrics.json step is not 40"
[ "$(json_number "$run/summary.json" steps)" = 40 ] || fail "summary.json is not one member a line"
! grep -q null "$run/summary.json" || fail "a null in the summary of a healthy run"
echo "ok: a healthy run writes valid summary.json and metrics.json"

# (b) non-finite values. -data_std 1e-300 scales the inputs to ~1e300: the loss overflows at once,
# and the run stops there (exit 4) without writing a summary of a non-finite state.
nan="$TMP/nan"
dt 2 train -data "$data" -run_dir "$nan" -steps 20 -progress_every 0 -data_std 1e-300 2>"$TMP/err"
code=$?
[ "$code" -eq 4 ] && grep -q "non-finite loss at step 1" "$TMP/err" || { cat "$TMP/err"; fail "-data_std 1e-300: exit $code, want 4"; }
[ ! -e "$nan/summary.json" ] || fail "a run stopped on a non-finite loss wrote summary.json"
echo "ok: a diverged run stops at once, exit 4, and writes no summary.json"
# A run that skips the non-finite batches ends; its survey over the whole archive (which holds a
# value that overflows float32) is not finite: null in a valid summary.json.
cp "$data" "$TMP/spike.h5"
/usr/bin/python3 -c 'import h5py, sys
with h5py.File(sys.argv[1], "r+") as f: f["data"][7, 500] = 3e38' "$TMP/spike.h5" || fail "h5py could not write the spiked archive"
dt 2 train -data "$TMP/spike.h5" -run_dir "$TMP/skip" -steps 20 -progress_every 0 -on_nan skip_batch -on_nan_max 20 2>"$TMP/err" ||
  { cat "$TMP/err"; fail "the skip_batch run failed"; }
json_strict "$TMP/skip/summary.json" || { cat "$TMP/skip/summary.json"; fail "summary.json with a non-finite value is not valid JSON"; }
[ "$(json_value "$TMP/skip/summary.json" final_rec)" = null ] || fail "final_rec over an overflowing archive is not null"
[ "$(json_value "$TMP/skip/summary.json" skipped_batches)" -gt 0 ] || fail "summary.json counts no skipped batches"
echo "ok: a run with skipped non-finite batches writes valid summary.json, the non-finite survey as null"

# Samples that are all the same make the latent covariance singular: the Gaussian TC is infinite.
/usr/bin/python3 -c 'import h5py, numpy, sys
with h5py.File(sys.argv[1], "w") as f: f["data"] = numpy.ones((60, 1000), dtype=numpy.float32)' "$TMP/const.h5" ||
  fail "h5py could not write the constant archive"
dt 2 eval -run_dir "$run" -data "$TMP/const.h5" >"$TMP/table" 2>"$TMP/err" || { cat "$TMP/err"; fail "eval on constant data"; }
json_strict "$run/metrics.json" || fail "metrics.json with a non-finite value is not valid JSON"
[ "$(json_value "$run/metrics.json" gaussian_tc)" = null ] || fail "gaussian_tc of constant data is not null"
grep -q '^gaussian_tc  *n/a$' "$TMP/table" || fail "eval's table does not show the null as n/a"
dt 2 report -run_dir "$run" >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "report with a null metric"; }
grep -q '<td>gaussian_tc</td><td class="v">n/a</td>' "$run/report.html" || fail "report does not show the null metric as n/a"
"$DT_BIN" aggregate "$run" -csv "$TMP/agg.csv" >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "aggregate with a null metric"; }
grep -q '^nashae,mapc,1,' "$TMP/agg.csv" && ! grep -q ',gaussian_tc,' "$TMP/agg.csv" ||
  fail "aggregate: a null must be left out, the numbers kept: $(cat "$TMP/agg.csv")"
echo "ok: a non-finite metric is null in metrics.json, n/a in eval, report; left out by aggregate"

# (c) corrupt input: one line naming the file, exit 2
good_metrics=$(cat "$run/metrics.json")
head -c 150 "$run/metrics.json" >"$run/metrics.json.cut" && mv "$run/metrics.json.cut" "$run/metrics.json"
expect_error "report, truncated metrics.json" 2 "$run/metrics.json' is not valid JSON: line" dt 2 report -run_dir "$run"
expect_error "aggregate, truncated metrics.json" 2 "$run/metrics.json' is not valid JSON: line" "$DT_BIN" aggregate "$run"
printf '{"method": "nashae", "mapc": nan}\n' >"$run/metrics.json"
expect_error "aggregate, bare nan" 2 "line 1, column" "$DT_BIN" aggregate "$run"
printf '{"method": "nashae", "mapc": "0.5"}\n' >"$run/metrics.json"
expect_error "aggregate, a string for a number" 2 '"mapc" is a string; expected a number' "$DT_BIN" aggregate "$run"
expect_error "report, a string for a number" 2 '"mapc" is a string; expected a number' dt 2 report -run_dir "$run"
printf '[1, 2]\n' >"$run/metrics.json"
expect_error "aggregate, not an object" 2 "expected a JSON object" "$DT_BIN" aggregate "$run"
printf '{"mapc": 0.5}\n' >"$run/metrics.json"
expect_error "aggregate, no method" 2 'has no "method"' "$DT_BIN" aggregate "$run"
echo "$good_metrics" >"$run/metrics.json"
expect_error "aggregate, -csv without a value" 2 "option -csv needs a value" "$DT_BIN" aggregate "$run" -csv
expect_error "aggregate, unknown option" 2 "unknown option -cvs" "$DT_BIN" aggregate "$run" -cvs "$TMP/x.csv"
expect_error "aggregate, no metrics.json" 2 "run \`disentangle eval -run_dir $TMP/nan\` first" "$DT_BIN" aggregate "$nan"

# an output that cannot be written: one line naming it, exit 3, nothing half-written
mkdir "$run/metrics.json.tmp"
expect_error "eval, metrics.json not writable" 3 "cannot write '$run/metrics.json'" dt 2 eval -run_dir "$run" $fast
[ "$(cat "$run/metrics.json")" = "$good_metrics" ] || fail "the old metrics.json was changed by a failed write"
pass "summary.json and metrics.json: valid JSON, non-finite as null, corrupt input refused"
