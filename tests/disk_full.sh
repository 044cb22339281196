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
pass "disk full: one line, exit 3, previous checkpoint intact and loadable"
