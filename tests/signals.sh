#!/bin/bash
# Stop requests: SIGUSR1 to mpiexec (which passes it to every rank), SIGTERM to the ranks
# themselves, a STOP file, and a second signal while the checkpoint is being written. Each time
# the run finishes its step, writes one valid checkpoint, exits 75, and a restart from it ends
# bit-identical to a run that never stopped.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
STEPS=2500
args() { echo -options_file "$DT_SRCDIR/inputs/beam-nashae.opts" -data "$data" -steps $STEPS -progress_every 0; }

dt 2 train $(args) -run_dir "$TMP/whole" 2>/dev/null || fail "uninterrupted run"

# start_run DIR: a 2-rank run in the background; waits until it has done 200 steps
start_run() {
  "$MPIEXEC" -n 2 --oversubscribe "$DT_BIN" train $(args) -run_dir "$1" 2>"$1.err" &
  launcher=$!
  for _ in $(seq 300); do
    [ -f "$1/history.csv" ] && [ "$(wc -l <"$1/history.csv")" -gt 200 ] && return 0
    sleep 0.1
  done
  fail "the run in $1 did not start"
}

# finish_and_check DIR: the stopped run exited 75 with a valid checkpoint; restarting it gives the
# uninterrupted result bit for bit
finish_and_check() {
  wait "$launcher"
  local code=$?
  [ "$code" -eq 75 ] || { cat "$1.err"; fail "$1: exit code $code, want 75"; }
  local ck
  ck=$(ls "$1"/ckpt-*.h5 2>/dev/null | tail -1)
  [ -n "$ck" ] || fail "$1: no checkpoint written"
  ! ls "$1"/*.tmp >/dev/null 2>&1 || fail "$1: a temporary file was left behind"
  [ ! -e "$1/STOP" ] || fail "$1: the STOP file was not removed"
  "$DT_BIN" inspect "$ck" >/dev/null || fail "$1: the checkpoint is not valid"
  grep -q "stop requested.*checkpoint .* written at step" "$1.err" || fail "$1: no stop message"
  dt 2 train $(args) -run_dir "$1" -restart auto 2>>"$1.err" || fail "$1: restart failed"
  "$H5DIFF" "$TMP/whole/model.h5" "$1/model.h5" /params /params || fail "$1: restarted run differs from the uninterrupted one"
  cmp -s <(cut -d, -f1-5 "$TMP/whole/history.csv") <(cut -d, -f1-5 "$1/history.csv") || fail "$1: history differs"
  echo "ok: $2: stopped at $(basename "$ck"), exit 75, restart bit-identical"
}

start_run "$TMP/usr1"
kill -USR1 "$launcher"
finish_and_check "$TMP/usr1" "SIGUSR1 to mpiexec"

start_run "$TMP/term"
pkill -TERM -P "$launcher" # the ranks are mpiexec's children; mpiexec itself would end the job on SIGTERM
finish_and_check "$TMP/term" "SIGTERM to both ranks"

start_run "$TMP/file"
touch "$TMP/file/STOP"
finish_and_check "$TMP/file" "STOP file"

# Signals in quick succession, the later ones arriving while the checkpoint is written.
start_run "$TMP/twice"
for _ in 1 2 3 4 5; do kill -USR1 "$launcher" 2>/dev/null; sleep 0.01; done
finish_and_check "$TMP/twice" "five SIGUSR1 in 50 ms"
# A request that came before the ranks started (SLURM may signal that early): the run ends in
# set-up, before its first step, writes nothing, and removes the STOP file it answered.
mkdir -p "$TMP/early" && touch "$TMP/early/STOP"
dt 2 train $(args) -run_dir "$TMP/early" 2>"$TMP/early.err"
code=$?
[ "$code" -eq 75 ] && [ -z "$(ls -A "$TMP/early")" ] && grep -q "stopped by the file .*STOP during set-up.*nothing written" "$TMP/early.err" ||
  fail "STOP before the start: exit $code, $(ls -A "$TMP/early"), $(cat "$TMP/early.err")"
echo "ok: a STOP file there before the start ends the run in set-up, nothing written, exit 75"
pass "stop requests end in a valid checkpoint and an exact restart"
