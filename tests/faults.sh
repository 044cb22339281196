#!/bin/bash
# Faults: kill -9 of one rank mid-run, and kill -9 of the whole job while checkpoints are being
# written. The job fails, no checkpoint that `-restart auto` would load is ever damaged, and the
# restart ends bit-identical to a run that never failed.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
STEPS=1500
args() { echo -options_file "$DT_SRCDIR/inputs/beam-nashae.opts" -data "$data" -steps $STEPS -progress_every 0; }
dt 2 train $(args) -run_dir "$TMP/whole" 2>/dev/null || fail "uninterrupted run"

# run_until DIR ROWS ARGS...: start a 2-rank run, return once it has added ROWS rows to history.csv
run_until() {
  local dir=$1 rows=$2
  shift 2
  [ -f "$dir/history.csv" ] && rows=$((rows + $(wc -l <"$dir/history.csv")))
  "$MPIEXEC" -n 2 --oversubscribe "$DT_BIN" train $(args) -run_dir "$dir" "$@" 2>>"$dir.err" &
  launcher=$!
  for _ in $(seq 400); do
    [ -f "$dir/history.csv" ] && [ "$(wc -l <"$dir/history.csv")" -gt "$rows" ] && return 0
    sleep 0.05
  done
  fail "the run in $dir did not get going"
}

every_checkpoint_valid() {
  for ck in "$1"/ckpt-*.h5; do
    [ -e "$ck" ] || continue
    "$DT_BIN" inspect "$ck" >/dev/null 2>&1 || fail "$ck: a published checkpoint is damaged"
  done
}

restart_exact() {
  dt 2 train $(args) -run_dir "$1" -restart auto 2>>"$1.err" || { tail "$1.err"; fail "$1: restart failed"; }
  "$H5DIFF" "$TMP/whole/model.h5" "$1/model.h5" /params /params || fail "$1: restart differs from the uninterrupted run"
}

# One rank killed: the job fails; -restart auto resumes from the last complete checkpoint.
dir="$TMP/rank"
run_until "$dir" 450 -checkpoint_every 100
kill -9 "$(pgrep -P "$launcher" | head -1)"
wait "$launcher" && fail "the job survived the loss of a rank"
every_checkpoint_valid "$dir"
restart_exact "$dir"
grep -q "restarted from '$dir/ckpt-0000" "$dir.err" || fail "did not resume from a checkpoint"
echo "ok: kill -9 of one rank: job failed, resumed from $(grep -o "ckpt-[0-9]*.h5' at step [0-9]*" "$dir.err" | tail -1)"

# The whole job killed while it checkpoints every step: published checkpoints are never damaged.
dir="$TMP/write"
torn=0
for delay in 0 0.013 0.029 0.047 0.071 0.089 0.103 0.127; do
  run_until "$dir" 30 -checkpoint_every 1 -checkpoint_keep 2 -restart auto
  sleep "$delay"
  kill -9 $(pgrep -P "$launcher") "$launcher" 2>/dev/null
  wait "$launcher" 2>/dev/null
  ls "$dir"/*.tmp >/dev/null 2>&1 && torn=$((torn + 1)) # killed in the middle of a write
  every_checkpoint_valid "$dir"
  rm -f "$dir"/*.tmp
done
restart_exact "$dir"
echo "ok: 8 kills during per-step checkpointing ($torn of them mid-write): every published checkpoint valid, restart exact"
pass "faults: no damaged checkpoint is ever published, restarts are exact"
