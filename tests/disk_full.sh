#!/bin/bash
# Disk full while writing a checkpoint: a small tmpfs as the run directory. The run stops with
# one clear line and exit code 3; the previous checkpoint stays valid and loadable.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
mkdir -p "$TMP/small"
if ! mount -t tmpfs -o size=8m tmpfs "$TMP/small" 2>"$TMP/mount.err"; then
  echo "SKIP: cannot mount a tmpfs here ($(cat "$TMP/mount.err")); the disk-full case is NOT tested"
  exit 77
fi
trap 'umount "$TMP/small" 2>/dev/null; rm -rf "$TMP"' EXIT
run="$TMP/small/run"
# a checkpoint is ~5.4 MB: the one at step 20 fits in 8 MB, the one at step 40 cannot
dt 2 train -options_file "$DT_SRCDIR/inputs/beam-nashae.opts" -data "$data" -run_dir "$run" -steps 100 \
  -checkpoint_every 20 -progress_every 0 2>"$TMP/err"
code=$?
cat "$TMP/err"
[ "$code" -eq 3 ] || fail "exit code $code, want 3"
[ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] && grep -q "no room for checkpoint.*ckpt-00000040.h5" "$TMP/err" ||
  fail "not one clear line about the full disk"
! grep -q "PETSC ERROR" "$TMP/err" || fail "a traceback instead of one line"
[ ! -e "$run/ckpt-00000040.h5" ] && ! ls "$run"/*.tmp >/dev/null 2>&1 || fail "a partial checkpoint was left: $(ls "$run")"
"$DT_BIN" inspect "$run/ckpt-00000020.h5" >/dev/null || fail "the previous checkpoint is damaged"
cp "$run/ckpt-00000020.h5" "$TMP/ck.h5"
dt 1 train -options_file "$DT_SRCDIR/inputs/beam-nashae.opts" -data "$data" -run_dir "$TMP/again" -steps 30 \
  -restart "$TMP/ck.h5" -progress_every 0 2>/dev/null || fail "the previous checkpoint does not load"
echo "ok: no room before the write: one line, exit 3, previous checkpoint intact and loadable"

# The disk fills DURING the write (the room check before it passed): the checkpoint's temporary
# name is a symlink onto a 3 MB tmpfs, so the ~5.4 MB file runs out of space part way through.
# On 1 and 2 ranks: every rank learns of it, closes what it opened, the partial file goes, exit 3
# with one line; no crash at exit (was: a segfault on 1 rank), no hang (was: on 2 ranks).
mkdir -p "$TMP/tiny"
mount -t tmpfs -o size=3m tmpfs "$TMP/tiny" || fail "cannot mount a second tmpfs"
trap 'umount "$TMP/small" 2>/dev/null; umount "$TMP/tiny" 2>/dev/null; rm -rf "$TMP"' EXIT
for np in 1 2; do
  run="$TMP/during-$np"
  mkdir -p "$run"
  rm -f "$TMP/tiny/partial"
  ln -s "$TMP/tiny/partial" "$run/ckpt-00000040.h5.tmp"
  timeout 120 "$MPIEXEC" -n "$np" --oversubscribe "$DT_BIN" train -options_file "$DT_SRCDIR/inputs/beam-nashae.opts" \
    -data "$data" -run_dir "$run" -steps 100 -checkpoint_every 20 -progress_every 0 >"$TMP/out" 2>"$TMP/err"
  code=$?
  [ "$code" -ne 124 ] || fail "$np rank(s): hung after the failed write"
  ! grep -q -i "segmentation\|on signal\|PETSC ERROR\|MPI_ABORT" "$TMP/err" || { cat "$TMP/err"; fail "$np rank(s): a crash"; }
  [ "$code" -eq 3 ] || { cat "$TMP/err"; fail "$np rank(s): exit code $code, want 3"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] &&
    grep -q "error: writing checkpoint '$run/ckpt-00000040.h5' failed (disk full?)" "$TMP/err" ||
    { cat "$TMP/err"; fail "$np rank(s): not one line about the failed write"; }
  [ -s "$TMP/tiny/partial" ] || fail "$np rank(s): the write did not reach the small disk (test broken?)"
  [ ! -e "$run/ckpt-00000040.h5" ] && ! ls -a "$run" | grep -q '\.tmp$' || fail "$np rank(s): a partial file was left: $(ls "$run")"
  "$DT_BIN" inspect "$run/ckpt-00000020.h5" >/dev/null || fail "$np rank(s): the previous checkpoint is damaged"
  echo "ok: $np rank(s): disk full during the write: exit 3, one line, no crash or hang, no .tmp left, ckpt 20 intact"
done
pass "disk full: one line, exit 3, previous checkpoint intact and loadable"
