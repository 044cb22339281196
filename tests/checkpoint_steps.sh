#!/bin/bash
# A checkpoint's step must agree with its /history (5, -5, 1e15 or 12.7 would repeat steps, run
# negative ones or pass for a finished model); -restart auto past -steps is refused without a
# change; the method attribute is checked; /history is covered by the checksum; a file of the
# previous format version is refused naming both versions. Each: one line, exit 2, no run
# directory written or changed.
. "$DT_SRCDIR/tests/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import h5py, numpy' 2>/dev/null || fail "$PY cannot import h5py and numpy (tools/setup.sh --tests installs them)"
data=$(beam_archive beam -seed 1)
opts="-options_file $DT_SRCDIR/inputs/beam-nashae.opts -data $data -latents 2 -hidden 16 -reg_hidden 8 -progress_every 0"
run="$TMP/run"
dt 2 train $opts -run_dir "$run" -steps 40 -checkpoint_every 10 2>"$TMP/err" || { cat "$TMP/err"; fail "train"; }
good="$run/ckpt-00000020.h5"

mkdir -p "$TMP/bad"
"$PY" - "$good" "$TMP/bad" <<'PY' || fail "crafting the checkpoints with h5py"
import sys, shutil, h5py, numpy as np
good, out = sys.argv[1], sys.argv[2]
def craft(name, change):
    path = "%s/%s.h5" % (out, name)
    shutil.copy(good, path)
    with h5py.File(path, "r+") as f:
        change(f)
def attr(key, value):
    def change(f):
        del f.attrs[key]
        f.attrs[key] = value
    return change
def flip(dset, byte):
    def change(f):
        a = f[dset][...]
        a.view(np.uint8).reshape(-1)[byte] ^= 0x10
        f[dset][...] = a
    return change
craft("step_5", attr("step", np.int64(5)))
craft("step_minus5", attr("step", np.int64(-5)))
craft("step_1e15", attr("step", np.int64(10**15)))
craft("step_12.7", attr("step", 12.7))
craft("history_flipped", flip("history", 8 * 6 * 3 + 8 + 5))  # the loss of step 4
craft("format_2", attr("format_version", np.int64(2)))
craft("method_unknown", attr("method", "vae"))
craft("method_number", attr("method", np.array([1.5, 2.5])))
PY

# refused WHAT WANT NP ARGS...: exit 2, exactly one error line, matching WANT, no crash
refused() {
  local what=$1 want=$2 np=$3
  shift 3
  if [ "$np" -eq 0 ]; then
    timeout 60 "$DT_BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  else
    timeout 60 "$MPIEXEC" -n "$np" --oversubscribe "$DT_BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  fi
  local code=$?
  [ "$code" -eq 2 ] || { cat "$TMP/err"; fail "$what: exit code $code, want 2"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$what: not exactly one error line"; }
  grep 'disentangle: error:' "$TMP/err" | grep -q -- "$want" || { cat "$TMP/err"; fail "$what: the line does not say '$want'"; }
  ! grep -q -i 'PETSC ERROR\|segmentation\|on signal\|sanitizer' "$TMP/err" || { cat "$TMP/err"; fail "$what: a crash or traceback"; }
  echo "ok: $what: $(grep 'disentangle: error:' "$TMP/err" | sed 's/^disentangle: error: //')"
}

# the step: against /history, under inspect, train -restart FILE, -restart auto and eval -model
b="$TMP/bad"
for c in "step_5|attribute step is 5, but /history records steps up to 20 (20 rows); expected step 20" \
  "step_minus5|attribute step is -5; expected a whole number >= 0" \
  "step_1e15|attribute step is 1000000000000000, but /history records steps up to 20" \
  "step_12.7|attribute step is a float; expected one integer" \
  "history_flipped|checksum mismatch" \
  "format_2|format version 2; this program reads 3" \
  "method_unknown|attribute method is 'vae', not a method this program knows" \
  "method_number|attribute method is an array of 2 floats; expected one string"; do
  name=${c%%|*} want=${c#*|}
  f="$b/$name.h5"
  refused "$name: inspect" "checkpoint '$f': $want" 0 inspect "$f"
  # one rank without mpiexec: the 2-rank reads are crafted_checkpoints.sh's
  refused "$name: train -restart FILE" "checkpoint '$f': $want" 0 train $opts -run_dir "$TMP/r-$name" -steps 60 -restart "$f"
  [ ! -e "$TMP/r-$name" ] || fail "$name: a refused restart left a run directory"
  refused "$name: eval -model" "checkpoint '$f': $want" 0 eval -run_dir "$run" -model "$f" -metric_train 100 -metric_eval 100
  case $name in step_5 | step_1e15)
    # -restart auto: reported and skipped as damaged, no other checkpoint: the file stays as it was
    mkdir -p "$TMP/auto-$name" && cp "$f" "$TMP/auto-$name/ckpt-00000099.h5"
    refused "$name: -restart auto" "" 0 train $opts -run_dir "$TMP/auto-$name" -steps 60 -restart auto
    grep -q "skipping it: checkpoint '$TMP/auto-$name/ckpt-00000099.h5': .*step" "$TMP/err" ||
      { cat "$TMP/err"; fail "$name: -restart auto did not name the file and its step"; }
    cmp -s "$f" "$TMP/auto-$name/ckpt-00000099.h5" || fail "$name: -restart auto changed the file"
    ;;
  esac
done

# a restart of another method than -method names both
refused "restart with another -method" "does not match this run: -method is 'nashae' there (its attribute method) and 'ae' here" 0 \
  train $opts -method ae -run_dir "$TMP/other-method" -steps 60 -restart "$good"
[ ! -e "$TMP/other-method" ] || fail "restart with another -method left a run directory"

# -restart auto on a finished step-40 run with -steps 30: refused, nothing in the directory changes
before=$(cd "$run" && find . -type f -exec md5sum {} + | sort)
refused "-restart auto past -steps" "already passed -steps 30: the checkpoint it goes on from is at step 40" 2 \
  train $opts -run_dir "$run" -steps 30 -restart auto
after=$(cd "$run" && find . -type f -exec md5sum {} + | sort)
[ "$before" = "$after" ] || fail "-restart auto past -steps changed the run directory"
refused "-restart FILE past -steps" "already passed -steps 15" 0 \
  train $opts -run_dir "$TMP/past" -steps 15 -restart "$good"
[ ! -e "$TMP/past" ] || fail "-restart FILE past -steps left a run directory"

# and the run is still good: it goes on to 50 steps from model.h5, its history steps 1..50 once each
dt 2 train $opts -run_dir "$run" -steps 50 -restart auto 2>"$TMP/err" || { cat "$TMP/err"; fail "going on to 50 steps"; }
[ "$(csv_column "$run/history.csv" step | tr '\n' ' ')" = "$(seq -s ' ' 1 50) " ] || fail "history.csv is not steps 1..50"
"$DT_BIN" inspect "$run/model.h5" >/dev/null || fail "inspect refused the continued model"
pass "checkpoint steps, method, checksum over /history and format version are checked"
