#!/bin/bash
# Checkpoints crafted with h5py: attributes stored as arrays where scalars belong (step, seed,
# checksum, options, format_version, epoch, run_id, Adam's t), of another class, a /history
# declared [1e10, 6] with no data behind it, datasets of too high a rank, a huge /params tensor.
# inspect, train -restart FILE, train -restart auto and eval -model must each refuse them with one
# line and exit 2: no crash, no hang, no traceback, no attempt at a huge allocation.
. "$DT_SRCDIR/tests/lib.sh"
PY=/usr/bin/python3 # Debian's h5py lives there, not in a pyenv python3 that may come first on PATH
"$PY" -c 'import h5py, numpy' 2>/dev/null || fail "$PY cannot import h5py and numpy (tools/setup.sh --tests installs them)"
data=$(beam_archive beam -seed 1)
opts="-options_file $DT_SRCDIR/inputs/beam-nashae.opts -data $data -latents 2 -hidden 16 -reg_hidden 8 -progress_every 0"
dt 2 train $opts -run_dir "$TMP/good" -steps 10 -checkpoint_every 5 2>"$TMP/err" || { cat "$TMP/err"; fail "train"; }
good="$TMP/good/ckpt-00000005.h5"
"$DT_BIN" inspect "$good" >/dev/null || fail "inspect refused the good checkpoint"

mkdir -p "$TMP/bad"
"$PY" - "$good" "$TMP/bad" <<'PY' || fail "crafting the checkpoints with h5py"
import sys, shutil, h5py, numpy as np
good, out = sys.argv[1], sys.argv[2]

def craft(name, change):
    path = "%s/%s.h5" % (out, name)
    shutil.copy(good, path)
    with h5py.File(path, "r+") as f:
        change(f)

def attr(obj_path, key, value):
    def change(f):
        obj = f[obj_path]
        del obj.attrs[key]
        obj.attrs[key] = value
    return change

def replace(dset, **kw):
    def change(f):
        del f[dset]
        f.create_dataset(dset, **kw)
    return change

craft("step_array", attr("/", "step", np.arange(1000, dtype=np.int64)))
craft("seed_array", attr("/", "seed", np.arange(1000, dtype=np.uint64)))
craft("checksum_array", attr("/", "checksum", np.arange(1000, dtype=np.uint32)))
craft("version_array", attr("/", "format_version", np.ones(1000, dtype=np.int64)))
craft("epoch_array", attr("/", "epoch", np.ones(1000)))
craft("options_array", attr("/", "options", np.array([b"-latents 2\n" * 90] * 40)))
craft("options_vlen_array", attr("/", "options", ["-latents 2\n"] * 1000))
craft("options_number", attr("/", "options", 7))
craft("step_string", attr("/", "step", "5"))
craft("step_empty", attr("/", "step", h5py.Empty("i8")))
craft("run_id_array", attr("/", "run_id", np.array([b"0123456789abcdef0123456789abcdef"] * 100)))
craft("run_id_garbage", attr("/", "run_id", "not a run id; $(rm -rf /)"))
craft("adam_t_array", attr("/optim/encoder", "t", np.arange(1000, dtype=np.int64)))
craft("history_huge", replace("history", shape=(10**10, 6), dtype="f8", chunks=(1024, 6)))
craft("history_rank3", replace("history", data=np.zeros((5, 6, 40))))
craft("history_strings", replace("history", data=np.array([[b"x"] * 6] * 5)))
craft("tensor_rank3", replace("params/encoder/dense0.weight", data=np.zeros((16, 1000, 3), dtype="f4")))
craft("tensor_huge", replace("params/encoder/dense0.weight", shape=(10**9, 10**4), dtype="f4", chunks=(64, 64)))
PY

# refused WHAT NP ARGS...: the program (on NP ranks; 0: without mpiexec) exits 2 with one error
# line, no crash, within 60 s
refused() {
  local what=$1 np=$2
  shift 2
  if [ "$np" -eq 0 ]; then
    timeout 60 "$DT_BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  else
    timeout 60 "$MPIEXEC" -n "$np" --oversubscribe "$DT_BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  fi
  local code=$?
  [ "$code" -eq 2 ] || { cat "$TMP/err"; fail "$what: exit code $code, want 2"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$what: not exactly one error line"; }
  ! grep -q -i 'PETSC ERROR\|segmentation\|on signal\|double free\|sanitizer\|MPI_ABORT' "$TMP/err" ||
    { cat "$TMP/err"; fail "$what: a crash or traceback"; }
}

for f in "$TMP"/bad/*.h5; do
  name=$(basename "$f" .h5)
  refused "$name: inspect" 0 inspect "$f"
  said=$(grep 'disentangle: error:' "$TMP/err")
  refused "$name: train -restart FILE" 2 train $opts -run_dir "$TMP/run-$name" -steps 20 -restart "$f"
  [ ! -e "$TMP/run-$name" ] || fail "$name: train -restart FILE left a run directory"
  refused "$name: eval -model" 2 eval -run_dir "$TMP/good" -model "$f" -metric_train 100 -metric_eval 100
  # -restart auto skips it as damaged, finds nothing else, and will not start over the file
  mkdir -p "$TMP/auto-$name" && cp "$f" "$TMP/auto-$name/ckpt-00000099.h5"
  refused "$name: train -restart auto" 2 train $opts -run_dir "$TMP/auto-$name" -steps 20 -restart auto
  # (a tensor of another shape is a valid checkpoint of another model: refused by name, not skipped)
  grep -q "skipping it: checkpoint '$TMP/auto-$name/ckpt-00000099.h5'\|error: checkpoint '$TMP/auto-$name/ckpt-00000099.h5' does not match" "$TMP/err" ||
    { cat "$TMP/err"; fail "$name: -restart auto did not report the file it skipped"; }
  cmp -s "$f" "$TMP/auto-$name/ckpt-00000099.h5" || fail "$name: -restart auto changed the file"
  echo "ok: $name: ${said#disentangle: error: }"
done

# model.h5 with a crafted step: -restart auto lists it without reading past the attribute
for name in step_array step_string; do
  mkdir -p "$TMP/model-$name" && cp "$TMP/bad/$name.h5" "$TMP/model-$name/model.h5"
  refused "model.h5 $name: -restart auto" 2 train $opts -run_dir "$TMP/model-$name" -steps 20 -restart auto
  grep -q "holds another run's files (model.h5)" "$TMP/err" || { cat "$TMP/err"; fail "model.h5 $name: wrong refusal"; }
done
echo "ok: a model.h5 whose step is crafted is not used and not overwritten"
pass "crafted checkpoints are refused with one line, exit 2, no crash"
