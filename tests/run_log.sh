#!/bin/bash
# The run log (issue 17): train prints one line at start with the version, the git revision the
# program was built from, the command, the rank count, MPI/HDF5/PETSc/OpenBLAS versions (with
# OpenBLAS's core type) and every option; the same line is the run_log attribute of every
# checkpoint and of model.h5, the run_log member of summary.json, and what inspect shows. A
# format-3 file without it (written before it existed) stays readable; one whose run_log is not
# a string is refused with one line.
. "$DT_SRCDIR/tests/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import h5py, numpy' 2>/dev/null || fail "$PY cannot import h5py and numpy (tools/setup.sh --tests installs them)"
data=$(beam_archive beam -seed 1)
opts="-data $data -latents 2 -hidden 16 -nashae_reg_hidden 8 -progress_every 0 -seed 3"
dt 2 train $opts -run_dir "$TMP/r" -steps 7 -checkpoint_every 3 2>"$TMP/err" || { cat "$TMP/err"; fail "train"; }
line=$(sed -n 's/^disentangle: \(disentangle .*\)$/\1/p' "$TMP/err" | head -1)
[ -n "$line" ] && [ "$(head -1 "$TMP/err")" = "disentangle: $line" ] || { cat "$TMP/err"; fail "no run log as the first line"; }
echo "run log: $line"
version=$(sed -n 's/^AC_INIT(\[disentangle\],\[\([^]]*\)\].*/\1/p' "$DT_SRCDIR/configure.ac")
rev='[0-9a-f]{7,40}(-dirty)?'
[ -f "$DT_SRCDIR/REVISION" ] && rev=$(tr -cd 'A-Za-z0-9._+-' <"$DT_SRCDIR/REVISION")
echo "$line" | grep -Eq "^disentangle $version \(git $rev\) train on 2 ranks; " || fail "version, revision or ranks missing"
echo "$line" | grep -Eq '; Open MPI v[0-9.]+, HDF5 [0-9]+\.[0-9]+\.[0-9]+, PETSc [0-9]+\.[0-9]+\.[0-9]+, OpenBLAS [0-9.]+ \(core [A-Za-z0-9_]+\); ' ||
  fail "library versions missing or malformed"
for o in "-seed 3" "-steps 7" "-latents 2" "-nashae_reg_hidden 8" "-checkpoint_every 3" "-data $data"; do
  echo "$line" | grep -qF -- " $o " || fail "option '$o' not in the run log"
done
# the revision is the tree's when there is git (a tarball has no .git)
if git -C "$DT_SRCDIR" rev-parse HEAD >/dev/null 2>&1 && [ ! -f "$DT_SRCDIR/REVISION" ]; then
  head=$(git -C "$DT_SRCDIR" rev-parse --short=12 HEAD)
  echo "$line" | grep -q "(git $head" || fail "revision is not the tree's HEAD $head"
fi

attr() { "$PY" -c 'import h5py, sys
v = h5py.File(sys.argv[1], "r").attrs.get("run_log")
print(v.decode() if isinstance(v, bytes) else v)' "$1"; }
for f in "$TMP/r/ckpt-00000003.h5" "$TMP/r/ckpt-00000006.h5" "$TMP/r/model.h5"; do
  [ "$(attr "$f")" = "$line" ] || fail "$(basename "$f"): run_log attribute '$(attr "$f")' is not the run log"
done
[ "$(json_value "$TMP/r/summary.json" run_log)" = "$("$PY" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$line")" ] ||
  fail "summary.json run_log is not the run log"
"$DT_BIN" inspect "$TMP/r/model.h5" >"$TMP/inspect" || fail "inspect model.h5"
grep -qxF "run log: $line" "$TMP/inspect" || { cat "$TMP/inspect"; fail "inspect does not show the run log"; }

# a continued run records its own invocation: 1 rank, -restart auto
dt 1 train $opts -run_dir "$TMP/r" -steps 9 -restart auto 2>"$TMP/err2" || { cat "$TMP/err2"; fail "restart"; }
attr "$TMP/r/model.h5" | grep -q "train on 1 rank; .* -restart auto " || fail "model.h5 after restart: $(attr "$TMP/r/model.h5")"

# a format-3 file without run_log (older writers) is still read; one with a number there is refused
cp "$TMP/r/ckpt-00000006.h5" "$TMP/old.h5"
cp "$TMP/r/ckpt-00000006.h5" "$TMP/bad.h5"
"$PY" - "$TMP/old.h5" "$TMP/bad.h5" <<'PY' || fail "editing with h5py"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f: del f.attrs["run_log"]
with h5py.File(sys.argv[2], "r+") as f:
    del f.attrs["run_log"]; f.attrs["run_log"] = np.int64(7)
PY
"$DT_BIN" inspect "$TMP/old.h5" >"$TMP/inspect" || fail "inspect refused a checkpoint without run_log"
grep -q "^run log: none" "$TMP/inspect" || fail "inspect of a file without run_log: $(grep 'run log' "$TMP/inspect")"
dt 1 train $opts -run_dir "$TMP/r2" -steps 8 -restart "$TMP/old.h5" 2>"$TMP/err" || { cat "$TMP/err"; fail "restart from a file without run_log"; }
"$DT_BIN" inspect "$TMP/bad.h5" >/dev/null 2>"$TMP/err"
code=$?
[ "$code" -eq 2 ] && [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] && grep -q "attribute run_log is an integer; expected one string" "$TMP/err" ||
  { cat "$TMP/err"; fail "a numeric run_log: exit $code"; }
pass "run log printed, in checkpoints, model.h5, summary.json and inspect"
