#!/bin/bash
# Input paths that name a FIFO, a device or a directory (issue 16, item 7): HDF5 would block
# forever opening a FIFO (and no signal ended the wait). Each is refused up front with one line
# naming the path and what was expected, exit 2, on 1 and 2 ranks, and quickly (a hang is the
# failure this test exists for: every call has a 30 s limit).
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
mkfifo "$TMP/fifo" "$TMP/fifo.h5"
mkdir "$TMP/dir.h5"
export DT_TIMEOUT=30

# refuse WHAT TEXT NP ARGS...: exit 2, one error line holding TEXT, within the time limit
refuse() {
  local what=$1 text=$2 np=$3
  shift 3
  dt "$np" "$@" >"$TMP/out" 2>"$TMP/err"
  local code=$?
  [ "$code" -ne 124 ] && [ "$code" -ne 137 ] || fail "$what: hung (stopped after $DT_TIMEOUT s)"
  [ "$code" -eq 2 ] || { cat "$TMP/err"; fail "$what: exit $code, want 2"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$what: not one error line"; }
  grep 'disentangle: error:' "$TMP/err" | grep -q -F -- "$text" || fail "$what: message lacks '$text': $(cat "$TMP/err")"
  echo "ok: $what -> $(grep 'disentangle: error:' "$TMP/err")"
}

dt 1 train -data "$data" -run_dir "$TMP/run" -steps 5 -progress_every 0 -checkpoint_every 2 2>/dev/null || fail "training a model"
for np in 1 2; do
  refuse "$np rank(s): -data FIFO" "archive '$TMP/fifo': is a FIFO (named pipe); expected a regular HDF5 file" $np \
    train -data "$TMP/fifo" -run_dir "$TMP/r$np"
  refuse "$np rank(s): -data FIFO after a good archive" "archive '$TMP/fifo.h5': is a FIFO" $np \
    train -data "$data,$TMP/fifo.h5" -run_dir "$TMP/r$np"
  refuse "$np rank(s): -data /dev/null" "archive '/dev/null': is a character device; expected a regular HDF5 file" $np \
    train -data /dev/null -run_dir "$TMP/r$np"
  refuse "$np rank(s): -data a directory" "archive '$TMP/dir.h5': is a directory; expected a regular HDF5 file" $np \
    train -data "$TMP/dir.h5" -run_dir "$TMP/r$np"
  [ ! -e "$TMP/r$np" ] || fail "$np rank(s): a refused run left a run directory"
  refuse "$np rank(s): -restart FIFO" "checkpoint '$TMP/fifo.h5': is a FIFO (named pipe); expected a regular HDF5 file" $np \
    train -data "$data" -run_dir "$TMP/r$np" -restart "$TMP/fifo.h5"
  refuse "$np rank(s): eval -model FIFO" "checkpoint '$TMP/fifo.h5': is a FIFO" $np eval -run_dir "$TMP/run" -model "$TMP/fifo.h5"
  refuse "$np rank(s): eval -data FIFO" "archive '$TMP/fifo': is a FIFO" $np eval -run_dir "$TMP/run" -data "$TMP/fifo"
done
refuse "inspect FIFO" "checkpoint '$TMP/fifo.h5': is a FIFO" 1 inspect "$TMP/fifo.h5"
refuse "inspect a directory" "checkpoint '$TMP/dir.h5': is a directory" 1 inspect "$TMP/dir.h5"

# -restart auto looks at every ckpt-*.h5 of the run directory: a FIFO among them is passed over
mkfifo "$TMP/run/ckpt-00000009.h5"
dt 2 train -data "$data" -run_dir "$TMP/run" -steps 5 -progress_every 0 -restart auto 2>"$TMP/err" ||
  { cat "$TMP/err"; fail "-restart auto with a FIFO among the checkpoints"; }
echo "ok: -restart auto passes over a FIFO named like a checkpoint"
rm "$TMP/run/ckpt-00000009.h5"

# the JSON files a command reads
mkdir -p "$TMP/agg" && mkfifo "$TMP/agg/metrics.json"
refuse "aggregate, metrics.json a FIFO" "cannot read '$TMP/agg/metrics.json': it is not a regular file" 1 aggregate "$TMP/agg"
pass "FIFOs, devices and directories given as input files are refused at once"
