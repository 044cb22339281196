#!/bin/bash
# A run directory holds one run. -restart auto refuses valid checkpoints of another model (here:
# trained on another sample length) instead of starting over them; a new run is refused where
# another run's files are; the keep-last-K rule deletes only this run's checkpoints and
# -restart auto goes on with the directory's own run; a second run on a locked directory is
# refused; every file a run writes carries its run id. Nothing of another run changes.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
short=$(beam_archive short -seed 1 -length 500)
small="-options_file $DT_SRCDIR/inputs/beam-nashae.opts -latents 2 -hidden 16 -reg_hidden 8 -progress_every 0"
sums() { (cd "$1" && md5sum history.csv summary.json model.h5 run.json ckpt-*.h5 2>/dev/null); }

# refused WHAT TEXT NP ARGS...: exit 2, exactly one error line, containing TEXT
refused() {
  local what=$1 text=$2 np=$3
  shift 3
  timeout 120 "$MPIEXEC" -n "$np" --oversubscribe "$DT_BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  local code=$?
  [ "$code" -eq 2 ] || { cat "$TMP/err"; fail "$what: exit code $code, want 2"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$what: not exactly one error line"; }
  grep -q -F -- "$text" "$TMP/err" || { cat "$TMP/err"; fail "$what: the error does not say '$text'"; }
  echo "ok: $what -> $(grep 'disentangle: error:' "$TMP/err")"
}

# 1. A finished run, then -restart auto with data of another sample length: refused by name.
run="$TMP/finished"
dt 2 train $small -data "$data" -run_dir "$run" -steps 30 -checkpoint_every 10 2>"$TMP/err" || { cat "$TMP/err"; fail "train"; }
before=$(sums "$run")
refused "-restart auto, another sample length" \
  "checkpoint '$run/model.h5' does not match this run: /params/encoder/dense0.weight is [16, 1000] there and [16, 500] here" \
  2 train $small -data "$short" -run_dir "$run" -steps 60 -restart auto
! grep -q "starting at step 0\|skipping it" "$TMP/err" || fail "a valid checkpoint of another model was taken for a damaged one"
[ "$(sums "$run")" = "$before" ] || fail "the refused run changed the finished run's files"

# 2. A new run in that directory: refused, naming the files and how to go on or start afresh.
refused "a new run in a used directory" "holds another run's files (" 2 train $small -data "$data" -run_dir "$run" -steps 5
grep -q "history.csv" "$TMP/err" && grep -q "model.h5" "$TMP/err" && grep -q -- "-restart auto" "$TMP/err" &&
  grep -q -- "-run_dir" "$TMP/err" || fail "the refusal does not name the files and the options"
[ "$(sums "$run")" = "$before" ] || fail "the refused new run changed the old run's files"
[ -f "$run/run.json" ] || fail "no run.json"

# 3. Every file of a run carries its id, and a restart goes on under the same id.
id=$(sed -n 's/^ *"run_id": "\([0-9a-f]*\)".*/\1/p' "$run/run.json")
[ "${#id}" -eq 32 ] || fail "run.json: no 32-digit run_id"
h5id() { h5dump -a /run_id "$1" | sed -n 's/^ *(0): "\([0-9a-f]*\)".*/\1/p'; }
[ "$(h5id "$run/model.h5")" = "$id" ] && [ "$(h5id "$run/ckpt-00000020.h5")" = "$id" ] &&
  grep -q "\"run_id\": \"$id\"" "$run/summary.json" || fail "a file of run $id does not carry its id"
dt 2 train $small -data "$data" -run_dir "$run" -steps 40 -restart auto 2>"$TMP/err" || { cat "$TMP/err"; fail "restart"; }
[ "$(h5id "$run/model.h5")" = "$id" ] && grep -q "\"run_id\": \"$id\"" "$run/summary.json" ||
  fail "-restart auto did not go on under the checkpoint's run id"
echo "ok: run $id: its id is in run.json, summary.json and every checkpoint, also after -restart auto"

# 4. Another run's checkpoint in the directory (a newer step): never deleted by keep-last-K, never
#    taken by -restart auto, which goes on with the directory's own run.
other="$TMP/other"
dt 1 train $small -data "$data" -run_dir "$other" -steps 50 -checkpoint_every 45 2>/dev/null || fail "train the other run"
cp "$other/ckpt-00000045.h5" "$run/"
foreign=$(md5sum <"$run/ckpt-00000045.h5")
dt 2 train $small -data "$data" -run_dir "$run" -steps 44 -restart auto -checkpoint_every 1 -checkpoint_keep 1 \
  2>"$TMP/err" || { cat "$TMP/err"; fail "restart next to another run's checkpoint"; }
grep -q "restarted from '$run/model.h5' at step 40" "$TMP/err" || { cat "$TMP/err"; fail "-restart auto took another run's checkpoint"; }
[ "$(md5sum <"$run/ckpt-00000045.h5")" = "$foreign" ] || fail "another run's checkpoint was deleted or changed"
[ -f "$run/ckpt-00000043.h5" ] && [ ! -e "$run/ckpt-00000042.h5" ] && [ ! -e "$run/ckpt-00000020.h5" ] ||
  fail "keep-last-1 did not keep exactly this run's newest checkpoint: $(ls "$run")"
echo "ok: keep-last-K removes only this run's checkpoints; another run's newer one stays and is not used"

# 5. -restart FILE of another run into this directory: refused.
refused "a checkpoint of another run into this directory" "belongs to run $id" \
  2 train $small -data "$data" -run_dir "$run" -steps 60 -restart "$other/ckpt-00000045.h5"

# 6. Two runs at once on one directory: the second is refused while the first holds the lock.
busy="$TMP/busy"
"$MPIEXEC" -n 2 --oversubscribe "$DT_BIN" train $small -data "$data" -run_dir "$busy" -steps 1000000 2>"$TMP/busy.err" &
launcher=$!
for _ in $(seq 400); do
  [ -f "$busy/history.csv" ] && [ "$(wc -l <"$busy/history.csv")" -gt 3 ] && break
  sleep 0.05
done
[ -f "$busy/history.csv" ] || fail "the first run did not get going"
refused "a second run (-restart auto) on a directory in use" "is in use by another run (pid" \
  2 train $small -data "$data" -run_dir "$busy" -steps 50 -restart auto
refused "a second, new run on a directory in use" "is in use by another run" 1 train $small -data "$data" -run_dir "$busy" -steps 50
touch "$busy/STOP"
wait "$launcher"
code=$?
[ "$code" -eq 75 ] || { cat "$TMP/busy.err"; fail "the first run was disturbed: exit $code"; }
ck=$(ls "$busy"/ckpt-*.h5)
"$DT_BIN" inspect "$ck" >/dev/null || fail "the first run's checkpoint is damaged"
steps=$(($(wc -l <"$busy/history.csv") + 5))
dt 2 train $small -data "$data" -run_dir "$busy" -steps "$steps" -restart auto 2>"$TMP/err" ||
  { cat "$TMP/err"; fail "the lock outlived its run"; }
echo "ok: the lock keeps a second run out while the first runs, and goes with it"
pass "one run per run directory: nothing of another run is overwritten, deleted or continued by mistake"
