#!/bin/bash
# Stop requests outside the training loop (issue 16, item 7): SIGTERM or SIGINT during set-up
# ends the run at the next safe point with one line, exit 75 and nothing written (not even the
# run directory); during the final evaluation, after model.h5 is written, the run stops at once
# (exit 75, no summary.json) and -restart auto finishes it. On 2 ranks: all of them agree.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
# 2000,2000 hidden units: 12 M parameters, whose initialisation takes seconds and is announced
big="-data $data -hidden 2000,2000 -latents 3 -progress_every 1"

# start NP SIG DIR WAIT_FOR: a run in the background; once its log shows WAIT_FOR, SIG to its ranks
start_and_signal() {
  local np=$1 sig=$2 dir=$3 pattern=$4
  shift 4
  timeout -k 10 120 "$MPIEXEC" -n "$np" --oversubscribe "$DT_BIN" train $big -run_dir "$dir" "$@" 2>"$dir.err" &
  launcher=$!
  for _ in $(seq 600); do
    grep -q "$pattern" "$dir.err" && break
    sleep 0.1
  done
  grep -q "$pattern" "$dir.err" || { cat "$dir.err"; fail "$dir: never printed '$pattern'"; }
  # the ranks (mpiexec's children under timeout), not mpiexec, which would end the job itself
  pkill "-$sig" -P "$(pgrep -P "$launcher")"
  wait "$launcher"
  code=$?
}

for run in "1 INT" "2 TERM"; do
  read -r np sig <<<"$run"
  {
    d="$TMP/setup-$np-$sig"
    start_and_signal $np $sig "$d" "initialising 12.* parameters"
    [ "$code" -eq 75 ] || { cat "$d.err"; fail "SIG$sig during set-up on $np rank(s): exit $code, want 75"; }
    grep -q "stopped by SIG$sig during set-up, before the first step; nothing written" "$d.err" ||
      { cat "$d.err"; fail "SIG$sig during set-up on $np rank(s): no stop line"; }
    [ "$(grep -c "stopped by" "$d.err")" -eq 1 ] || fail "SIG$sig during set-up on $np rank(s): not one line"
    [ ! -e "$d" ] || fail "SIG$sig during set-up on $np rank(s): the run directory was created: $(ls -A "$d")"
    echo "ok: SIG$sig during set-up on $np rank(s): one line, exit 75, no run directory"
  }
done

# The final evaluation: the signal comes with the last step's progress line; model.h5 is written
# before the survey starts, so the stop loses nothing.
d="$TMP/final"
start_and_signal 2 TERM "$d" "step 3/3" -steps 3
[ "$code" -eq 75 ] || { cat "$d.err"; fail "SIGTERM in the final evaluation: exit $code, want 75"; }
grep -q "stopped by SIGTERM during the final evaluation: .*model.h5 (step 3) is written, summary.json is not" "$d.err" ||
  { cat "$d.err"; fail "SIGTERM in the final evaluation: no stop line"; }
"$DT_BIN" inspect "$d/model.h5" >/dev/null || fail "the model written before the stop does not inspect"
[ ! -e "$d/summary.json" ] || fail "a summary.json was written by a stopped evaluation"
dt 2 train $big -run_dir "$d" -steps 3 -restart auto 2>>"$d.err" || { cat "$d.err"; fail "-restart auto after the stop"; }
json_strict "$d/summary.json" || fail "summary.json after the restart is not valid JSON"
[ "$(json_value "$d/summary.json" steps)" = 3 ] || fail "summary.json after the restart"
echo "ok: SIGTERM in the final evaluation: model.h5 kept, exit 75; -restart auto writes the summary"
pass "stop requests outside the training loop end the run at once, losing nothing"
