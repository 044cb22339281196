#!/bin/bash
# Messages that name the real cause: an lzf-compressed or virtual /data (not "unreadable chunk"),
# eval on an archive of another sample length (the archive, not the checkpoint) or of one sample,
# a checkpoint's data_std of 0 or NaN and a bad value in its options text (the file, not an
# option), string attributes rewritten by h5py (read), a read-only run directory (exit 3),
# numbers out of a double's or an integer's range, and -data_mean without -data_std.
. "$DT_SRCDIR/tests/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import h5py, numpy' 2>/dev/null || fail "$PY cannot import h5py and numpy (tools/setup.sh --tests installs them)"
data=$(beam_archive beam -seed 1)
small="-latents 2 -hidden 16 -progress_every 0"
run="$TMP/run"
dt 2 train $small -data "$data" -run_dir "$run" -steps 10 2>"$TMP/err" || { cat "$TMP/err"; fail "train"; }
model="$run/model.h5"

"$PY" - "$data" "$model" "$TMP" <<'PY' || fail "writing the archives and checkpoints with h5py"
import sys, shutil, h5py, numpy as np
data, model, out = sys.argv[1:]
with h5py.File(data, "r") as src:
    x, fac, names = src["data"][...], src["factors"][...], src["factors"].attrs["names"]
def archive(name, make_data, n=None):
    with h5py.File("%s/%s.h5" % (out, name), "w") as f:
        make_data(f, x if n is None else x[:n])
        f["factors"] = fac if n is None else fac[:n]
        f["factors"].attrs["names"] = names
archive("lzf", lambda f, v: f.create_dataset("data", data=v, compression="lzf", chunks=(10, v.shape[1])))
with h5py.File("%s/parts.h5" % out, "w") as f:
    f["x"] = x
def virtual(f, v):
    layout = h5py.VirtualLayout(shape=v.shape, dtype=v.dtype)
    layout[:] = h5py.VirtualSource("%s/parts.h5" % out, "x", shape=v.shape)
    f.create_virtual_dataset("data", layout)
archive("virtual", virtual)
archive("one", lambda f, v: f.create_dataset("data", data=v), n=1)
with h5py.File("%s/short.h5" % out, "w") as f:
    f["data"] = x[:, :500]

def craft(name, change):
    path = "%s/%s.h5" % (out, name)
    shutil.copy(model, path)
    with h5py.File(path, "r+") as f:
        change(f)
def attr(key, value):
    def change(f):
        del f.attrs[key]
        f.attrs[key] = value
    return change
craft("std_0", attr("data_std", 0.0))
craft("std_nan", attr("data_std", float("nan")))
craft("mean_nan", attr("data_mean", float("nan")))
def latents_x(f):
    o = f.attrs["options"].decode().replace("-latents 2\n", "-latents x\n")
    del f.attrs["options"]
    f.attrs["options"] = np.bytes_(o)
craft("latents_x", latents_x)
def rewritten(f):  # what h5py writes when a user sets them again: variable-length UTF-8 strings
    for key in ["format", "version", "method", "options", "run_id"]:
        v = f.attrs[key]
        del f.attrs[key]
        f.attrs[key] = v.decode() if isinstance(v, bytes) else v
    c = f["history"].attrs["columns"]
    del f["history"].attrs["columns"]
    f["history"].attrs["columns"] = c.decode()
craft("rewritten", rewritten)
def fixed_utf8(f):
    v = f.attrs["method"]
    del f.attrs["method"]
    f.attrs.create("method", np.array(v, dtype=h5py.string_dtype("utf-8", len(v))))
craft("fixed_utf8", fixed_utf8)
PY

# refused WHAT CODE WANT NP ARGS...: exit CODE, exactly one error line matching WANT, no traceback
refused() {
  local what=$1 want_code=$2 want=$3 np=$4
  shift 4
  if [ "$np" -eq 0 ]; then
    timeout 60 "$DT_BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  else
    timeout 60 "$MPIEXEC" -n "$np" --oversubscribe "$DT_BIN" "$@" >"$TMP/out" 2>"$TMP/err"
  fi
  local code=$?
  [ "$code" -eq "$want_code" ] || { cat "$TMP/err"; fail "$what: exit code $code, want $want_code"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$what: not exactly one error line"; }
  grep 'disentangle: error:' "$TMP/err" | grep -q -- "$want" || { cat "$TMP/err"; fail "$what: the line does not say '$want'"; }
  ! grep -q -i 'PETSC ERROR\|segmentation\|on signal\|sanitizer' "$TMP/err" || { cat "$TMP/err"; fail "$what: a traceback"; }
  echo "ok: $what: $(grep 'disentangle: error:' "$TMP/err" | sed 's/^disentangle: error: //')"
}

# archives HDF5 cannot read as they are: the filter or layout, and how to convert
refused "lzf /data" 2 "archive '$TMP/lzf.h5': /data is compressed with filter 32000 (lzf).*gzip" 0 \
  train $small -data "$TMP/lzf.h5" -run_dir "$TMP/r-lzf" -steps 5
refused "virtual /data" 2 "archive '$TMP/virtual.h5': /data is a virtual dataset.*not supported.*h5repack" 0 \
  train $small -data "$TMP/virtual.h5" -run_dir "$TMP/r-virtual" -steps 5
[ ! -e "$TMP/r-lzf" ] && [ ! -e "$TMP/r-virtual" ] || fail "a refused archive left a run directory"

# eval: the archive is what does not fit
refused "eval on another sample length" 2 \
  "archive '$TMP/short.h5' holds samples of 500 values; model '$model' was trained on samples of 1000 values" 0 \
  eval -run_dir "$run" -data "$TMP/short.h5"
refused "eval on one sample" 2 "archive '$TMP/one.h5' holds 1 sample; eval needs at least 2" 0 \
  eval -run_dir "$run" -data "$TMP/one.h5"
[ ! -e "$run/metrics.json" ] || fail "a refused eval wrote metrics.json"

# a checkpoint's own values: the file and its attribute, not an option
for c in "std_0|attribute data_std is 0; expected a finite number > 0" "std_nan|attribute data_std is nan" \
  "mean_nan|attribute data_mean is nan" \
  "latents_x|its attribute options (the options it was trained with): option -latents: 'x' is not an integer"; do
  name=${c%%|*} want=${c#*|}
  refused "checkpoint $name: eval" 2 "checkpoint '$TMP/$name.h5': $want" 0 \
    eval -run_dir "$run" -model "$TMP/$name.h5" -metric_train 100 -metric_eval 100
done

# string attributes as h5py writes them are read
for name in rewritten fixed_utf8; do
  "$DT_BIN" inspect "$TMP/$name.h5" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err"; fail "inspect refused $name"; }
  grep -q "method nashae, step 10" "$TMP/out" || fail "$name: inspect did not read the method"
  dt 1 eval -run_dir "$run" -model "$TMP/$name.h5" -metric_train 100 -metric_eval 100 >/dev/null 2>"$TMP/err" ||
    { cat "$TMP/err"; fail "eval refused $name"; }
  echo "ok: $name string attributes are read"
done

# numbers: out of range, not "not finite" or "not an integer"
refused "-lr 1e-400" 2 "option -lr: 1e-400 is out of range for a double (it would be 0); allowed 1e-12 to 10" 0 \
  train $small -data "$data" -run_dir "$TMP/r-num" -lr 1e-400
refused "-lr 1e400" 2 "option -lr: 1e400 is out of range for a double" 0 train $small -data "$data" -run_dir "$TMP/r-num" -lr 1e400
refused "-seed 99999999999999999999" 2 "option -seed: 99999999999999999999 is out of range; allowed 0 to 2147483647" 0 \
  train $small -data "$data" -run_dir "$TMP/r-num" -seed 99999999999999999999
refused "-lr nan" 2 "option -lr: 'nan' is not a finite number" 0 train $small -data "$data" -run_dir "$TMP/r-num" -lr nan
refused "-seed 1x" 2 "option -seed: '1x' is not an integer" 0 train $small -data "$data" -run_dir "$TMP/r-num" -seed 1x

# -data_mean alone would be ignored: refused; -data_std alone: a note that the mean is 0
refused "-data_mean alone" 2 "option -data_mean: given without -data_std > 0" 0 \
  train $small -data "$data" -run_dir "$TMP/r-num" -data_mean 0.5
refused "-data_mean with -data_std 0" 2 "option -data_mean: given without -data_std > 0" 0 \
  train $small -data "$data" -run_dir "$TMP/r-num" -data_mean 0.5 -data_std 0
[ ! -e "$TMP/r-num" ] || fail "a refused option left a run directory"
dt 1 train $small -data "$data" -run_dir "$TMP/r-std" -steps 2 -data_std 2 2>"$TMP/err" || { cat "$TMP/err"; fail "-data_std alone"; }
grep -q "note: -data_std 2 without -data_mean: the mean is 0" "$TMP/err" || { cat "$TMP/err"; fail "-data_std alone: no note"; }
echo "ok: -data_std alone: $(grep note "$TMP/err")"

# a run directory that exists but cannot be written: an I/O error, exit 3 (root is denied nothing:
# the run is made as nobody)
ro="$TMP/ro"
mkdir -p "$ro/dir" && chmod 555 "$ro/dir" && chmod 755 "$TMP" "$ro" && chmod 644 "$data"
as=()
[ "$(id -u)" -ne 0 ] || as=(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp)
if [ "$(id -u)" -ne 0 ] || command -v setpriv >/dev/null; then
  timeout 60 "${as[@]}" "$DT_BIN" train $small -data "$data" -run_dir "$ro/dir" -steps 2 >"$TMP/out" 2>"$TMP/err"
  code=$?
  [ "$code" -eq 3 ] || { cat "$TMP/err"; fail "read-only run directory: exit code $code, want 3"; }
  grep -q "disentangle: error: cannot write '$ro/dir/" "$TMP/err" || { cat "$TMP/err"; fail "read-only run directory: wrong line"; }
  [ -z "$(ls -A "$ro/dir")" ] || fail "read-only run directory: something was written"
  echo "ok: read-only run directory: exit 3, $(grep error "$TMP/err")"
else
  echo "skip: read-only run directory (root without setpriv is denied no write)"
fi
pass "messages name the real cause"
