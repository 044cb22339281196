#!/bin/bash
# The main job end to end on 2 ranks: the outputs exist, have the promised layout, and the
# loss goes down.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
run="$TMP/run"
dt 2 train -options_file "$DT_SRCDIR/inputs/beam-nashae.opts" -data "$data" -run_dir "$run" -steps 300 \
  -progress_every 100 2>"$TMP/stderr" || { cat "$TMP/stderr"; fail "train exited $?"; }
cat "$TMP/stderr"

[ -f "$run/history.csv" ] && [ -f "$run/summary.json" ] && [ -f "$run/model.h5" ] || fail "missing outputs in $run"
[ ! -e "$run/model.h5.tmp" ] || fail "temporary model file left behind"
head -1 "$run/history.csv" | grep -q '^step,loss,rec,adv,pred,samples_per_s$' || fail "history.csv header: $(head -1 "$run/history.csv")"
rows=$(($(wc -l <"$run/history.csv") - 1))
[ "$rows" -eq 300 ] || fail "history.csv has $rows rows, want 300"

grep -q 'step 100/300 .*samples/s .*ETA' "$TMP/stderr" || fail "no progress line with step, samples/s and ETA"
[ "$(grep -c 'step [0-9]*/300' "$TMP/stderr")" -eq 3 ] || fail "want 3 progress lines (every 100 steps)"

for key in active_latents final_rec ms_per_step ranks steps seed; do
  [ -n "$(json_number "$run/summary.json" "$key")" ] || fail "summary.json lacks number $key"
done
json_strict "$run/summary.json" || fail "summary.json is not valid JSON"
ranges=$(json_value "$run/summary.json" latent_ranges)
[ "$(echo "$ranges" | grep -c '^[-0-9.eE+]*$')" -eq 4 ] && [ "$(echo "$ranges" | wc -l)" -eq 4 ] ||
  fail "latent_ranges is not 4 numbers: $ranges"
[ "$(json_number "$run/summary.json" ranks)" = 2 ] || fail "summary.json ranks != 2"
[ "$(json_number "$run/summary.json" steps)" = 300 ] || fail "summary.json steps != 300"

first=$(csv_column "$run/history.csv" rec | head -20 | awk '{ s += $1 } END { print s / NR }')
last=$(csv_column "$run/history.csv" rec | tail -20 | awk '{ s += $1 } END { print s / NR }')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.5 * a) }' || fail "reconstruction did not halve: $first -> $last"

h5dump -H "$run/model.h5" >"$TMP/layout" || fail "h5dump cannot read model.h5"
grep -q 'DATASET "dense0.weight"' "$TMP/layout" || fail "no dense0.weight in model.h5"
grep -q 'GROUP "regressor3"' "$TMP/layout" || fail "no regressor3 in model.h5"
h5dump -d /params/encoder/dense0.weight -H "$run/model.h5" | grep -q '( 200, 1000 )' || fail "encoder dense0.weight is not [200, 1000]"
h5dump -a /method "$run/model.h5" | grep -q '"nashae"' || fail "model.h5 method attribute"
pass "train: outputs, layout, progress and a falling loss (rec $first -> $last)"
