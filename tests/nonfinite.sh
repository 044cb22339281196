#!/bin/bash
# Training that goes non-finite (issue 16, item 8), for real, on 1 and 2 ranks:
#  - -on_nan stop (the default): the first non-finite loss stops the run with a line naming the
#    step and the term, exit 4; nothing is written from that state: the last good checkpoint is
#    intact and no later one exists; every JSON file is valid;
#  - -on_nan skip_batch: the batch's update is undone exactly (parameters, Adam state, NashAE's
#    regressors), the skips are counted in the log and summary.json, and more than -on_nan_max
#    of them stop the run as above.
. "$DT_SRCDIR/tests/lib.sh"
clean=$(beam_archive beam -seed 1)
# the same archive with one huge value: every batch that draws sample 7 overflows float32
spike="$TMP/spike.h5"
cp "$clean" "$spike"
/usr/bin/python3 -c 'import h5py, sys
with h5py.File(sys.argv[1], "r+") as f: f["data"][7, 500] = 3e38' "$spike" || fail "cannot write the spiked archive"
common="-progress_every 0 -latents 3 -hidden 40,20"

all_json_valid() {
  for f in "$1"/*.json; do
    [ -e "$f" ] || continue
    json_strict "$f" || fail "$f is not valid JSON"
  done
}

for np in 1 2; do
  # --- a fresh run that is non-finite at once: -data_std 1e-300 puts Inf into every input
  d="$TMP/tiny$np"
  dt $np train -data "$clean" -data_std 1e-300 -run_dir "$d" -steps 30 -checkpoint_every 5 $common 2>"$d.err"
  code=$?
  [ "$code" -eq 4 ] || { cat "$d.err"; fail "$np rank(s), -data_std 1e-300: exit $code, want 4"; }
  grep -q "non-finite loss at step 1: rec = inf" "$d.err" || { cat "$d.err"; fail "$np rank(s): no line naming step 1 and the term rec"; }
  ! ls "$d"/ckpt-*.h5 "$d"/model.h5 "$d"/summary.json >/dev/null 2>&1 || fail "$np rank(s): files written from a non-finite state: $(ls "$d")"
  [ "$(wc -l <"$d/history.csv")" -eq 1 ] || fail "$np rank(s): history.csv holds a row of a step that was not taken"
  all_json_valid "$d"
  echo "ok: $np rank(s): -data_std 1e-300 stops at step 1 naming rec, exit 4, nothing written"

  # --- a good run goes on with data that overflows: stop at the first bad batch, keep the rest
  d="$TMP/goon$np"
  dt $np train -data "$clean" -run_dir "$d" -steps 10 -checkpoint_every 5 $common 2>"$d.err" || fail "$np rank(s): clean run"
  before=$(md5sum "$d"/*.h5 "$d"/summary.json)
  dt $np train -data "$spike" -run_dir "$d" -restart auto -steps 60 -checkpoint_every 1 -checkpoint_keep 100 $common 2>>"$d.err"
  code=$?
  [ "$code" -eq 4 ] || { cat "$d.err"; fail "$np rank(s), spiked data: exit $code, want 4"; }
  bad=$(sed -n 's/.*non-finite loss at step \([0-9]*\): rec = inf.*stopped (exit 4).*/\1/p' "$d.err")
  [ -n "$bad" ] || { cat "$d.err"; fail "$np rank(s): no line naming the step and the term"; }
  [ "$bad" -gt 10 ] || fail "$np rank(s): stopped at step $bad, before the restart point"
  cmp -s <(echo "$before") <(md5sum "$d"/ckpt-00000005.h5 "$d"/model.h5 "$d"/summary.json) ||
    fail "$np rank(s): the files of the finished part changed"
  newest=$(ls "$d"/ckpt-*.h5 | tail -1)
  want=$(printf "%s/ckpt-%08d.h5" "$d" $((bad - 1)))
  if [ "$bad" -gt 11 ]; then
    [ "$newest" = "$want" ] || fail "$np rank(s): stopped at step $bad, newest checkpoint $newest, want $want"
  fi
  "$DT_BIN" inspect "$newest" >/dev/null || fail "$np rank(s): the last good checkpoint $newest does not inspect"
  [ "$(tail -n +2 "$d/history.csv" | wc -l)" -eq $((bad - 1)) ] || fail "$np rank(s): history.csv does not end at step $((bad - 1))"
  all_json_valid "$d"
  echo "ok: $np rank(s): stopped at step $bad, checkpoints up to step $((bad - 1)) kept and valid, none later"

  # --- skip_batch: the skipped update is undone exactly. Every batch of -data_std 1e-300 is
  # skipped, so the state must stay bit for bit that of the model it started from.
  d="$TMP/undo$np"
  dt $np train -data "$clean" -run_dir "$d" -steps 10 $common 2>"$d.err" || fail "$np rank(s): clean run"
  cp "$d/model.h5" "$TMP/start$np.h5"
  dt $np train -data "$clean" -data_std 1e-300 -run_dir "$d" -restart auto -steps 16 -on_nan skip_batch -on_nan_max 6 $common \
    2>>"$d.err" || { cat "$d.err"; fail "$np rank(s): skip_batch run failed"; }
  [ "$(grep -c "batch skipped" "$d.err")" -eq 6 ] || fail "$np rank(s): want 6 'batch skipped' lines"
  [ "$(json_value "$d/summary.json" skipped_batches)" = 6 ] || fail "$np rank(s): summary.json skipped_batches is not 6"
  "$H5DIFF" "$TMP/start$np.h5" "$d/model.h5" /params /params || fail "$np rank(s): parameters changed by skipped batches"
  "$H5DIFF" "$TMP/start$np.h5" "$d/model.h5" /optim /optim || fail "$np rank(s): optimizer state changed by skipped batches"
  all_json_valid "$d"
  echo "ok: $np rank(s): 6 skipped batches leave parameters and Adam state (NashAE regressors included) untouched"

  # --- skip_batch on sporadic overflow: the run ends, the skips are counted; beyond -on_nan_max it stops
  d="$TMP/skip$np"
  dt $np train -data "$spike" -run_dir "$d" -steps 40 -on_nan skip_batch -on_nan_max 40 $common 2>"$d.err" ||
    { cat "$d.err"; fail "$np rank(s): sporadic skip run failed"; }
  n=$(grep -c "batch skipped" "$d.err")
  [ "$n" -gt 0 ] && [ "$n" -lt 40 ] || fail "$np rank(s): $n batches skipped; want some, not all"
  [ "$(json_value "$d/summary.json" skipped_batches)" = "$n" ] || fail "$np rank(s): summary.json skipped_batches is not $n"
  all_json_valid "$d"
  grep -o "at step [0-9]*" "$d.err" >"$TMP/skipped$np"
  d="$TMP/over$np"
  dt $np train -data "$spike" -run_dir "$d" -steps 40 -on_nan skip_batch -on_nan_max 2 $common 2>"$d.err"
  code=$?
  [ "$code" -eq 4 ] && grep -q "more batches would be skipped than -on_nan_max allows" "$d.err" ||
    { cat "$d.err"; fail "$np rank(s): a third skip with -on_nan_max 2: exit $code, want 4 and the reason"; }
  [ ! -e "$d/model.h5" ] && [ ! -e "$d/summary.json" ] || fail "$np rank(s): model/summary written after too many skips"
  echo "ok: $np rank(s): $n sporadic skips counted; a third skip over -on_nan_max 2 stops with exit 4"
done
cmp -s "$TMP/skipped1" "$TMP/skipped2" || fail "1 and 2 ranks skipped different batches"
echo "ok: 1 and 2 ranks skip the same batches"
pass "non-finite training stops or skips as asked, nothing written from a non-finite state"
