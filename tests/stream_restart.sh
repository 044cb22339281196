#!/bin/bash
# Restart with the streamed reader and -sampler epoch (issue 12): the data cursor is in every
# checkpoint (epoch, sample in epoch, archive size); going on mid-epoch on the same rank count
# is bit-identical to a run that never stopped; on another rank count (2 -> 1, 1 -> 2) it stays
# within the 1-vs-2-rank tolerance of tests/restart.sh; a checkpoint whose cursor is for other
# archives is refused.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
stream="-sampler epoch -sampler_chunk 16 -sampler_window 4 -io_buffer_mb 8"
train() { # NP DIR ARGS...
  local np=$1 dir=$2
  shift 2
  dt "$np" train -options_file "$DT_SRCDIR/inputs/beam-nashae.opts" -data "$data" -run_dir "$dir" -progress_every 0 $stream "$@" \
    2>>"$TMP/log" || { tail -20 "$TMP/log"; fail "train $np $dir $*"; }
}
attr() { h5dump -a "/$2" "$1" | sed -n 's/^ *(0): *//p'; }

for np in 1 2; do
  whole="$TMP/whole-$np" split="$TMP/split-$np"
  train "$np" "$whole" -steps 120
  train "$np" "$split" -steps 60 -checkpoint_every 25 -checkpoint_keep 1
  ck="$split/ckpt-00000050.h5"
  [ -f "$ck" ] || fail "no checkpoint at step 50: $(ls "$split")"
  # 50 batches of 100 in an archive of 360: epoch 13, sample 320 (mid-epoch)
  [ "$(attr "$ck" cursor_epoch)" = 13 ] && [ "$(attr "$ck" cursor_sample)" = 320 ] && [ "$(attr "$ck" data_samples)" = 360 ] ||
    fail "cursor in $ck: epoch $(attr "$ck" cursor_epoch) sample $(attr "$ck" cursor_sample) of $(attr "$ck" data_samples)"
  rm "$split/model.h5"
  train "$np" "$split" -steps 120 -restart auto
  grep -q "restarted from '$ck' at step 50" "$TMP/log" || fail "$np rank(s): did not restart at 50"
  "$H5DIFF" "$whole/model.h5" "$split/model.h5" /params /params || fail "$np rank(s): parameters differ after restart"
  "$H5DIFF" "$whole/model.h5" "$split/model.h5" /optim /optim || fail "$np rank(s): Adam state differs after restart"
  cmp -s <(history_losses "$whole/history.csv") <(history_losses "$split/history.csv") ||
    fail "$np rank(s): history rows differ after restart"
  echo "ok: streamed epoch sampler on $np rank(s): restart mid-epoch (epoch 13, sample 320) is bit-identical"
done
compare_histories "$TMP/whole-1/history.csv" "$TMP/whole-2/history.csv" 10 1 1e-5 "loss rec adv pred" ||
  fail "streamed epoch sampler: 1 and 2 ranks differ in the first 10 steps"
echo "ok: 1 and 2 ranks see the same global batches"

for pair in "2 1" "1 2"; do
  set -- $pair
  dir="$TMP/from-$1-to-$2"
  train "$1" "$dir" -steps 60 -checkpoint_every 50
  rm "$dir/model.h5"
  train "$2" "$dir" -steps 120 -restart auto
  grep -q "written by $1 rank(s), now $2" "$TMP/log" || fail "$1 -> $2 ranks: no restart message"
  "$MODELDIFF" "$TMP/whole-$2/model.h5" "$dir/model.h5" -tol 6e-2 -nets encoder,decoder >/dev/null ||
    fail "$1 -> $2 ranks: the restarted streamed run left the 1-vs-2-rank tolerance"
  echo "ok: streamed epoch sampler, $1 -> $2 ranks mid-epoch goes on within the 1-vs-2-rank tolerance"
done

other=$(beam_archive other -seed 2 -duty_count 100)
dt 2 train -options_file "$DT_SRCDIR/inputs/beam-nashae.opts" -data "$data,$other" -run_dir "$TMP/x" $stream -steps 120 \
  -restart "$TMP/split-2/ckpt-00000050.h5" 2>"$TMP/err" >/dev/null
code=$?
[ $code -eq 2 ] && grep -q "its data cursor (epoch 13, sample 320) is in archives of 360 samples, and -data now holds 660" "$TMP/err" ||
  fail "a cursor for other archives: exit $code, $(cat "$TMP/err")"
echo "ok: $(grep error "$TMP/err")"
pass "streamed epoch sampling restarts exactly, across rank counts within tolerance"
