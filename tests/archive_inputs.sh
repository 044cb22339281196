#!/bin/bash
# Archives as digitisers and h5py write them: int16, uint16 and float16 samples are read (held as
# stored, converted per batch) and give the same training as float32 holding the same values;
# declared sizes that overflow or cannot fit in memory, NaN normalisation attributes and an
# archive listed twice are refused with one line, exit 2, before any large allocation.
. "$DT_SRCDIR/tests/lib.sh"
PY=/usr/bin/python3

# the same integer-valued waveforms in five dtypes
$PY - "$TMP" <<'PYEOF' || fail "writing the archives with h5py"
import sys, h5py, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(3)
t = np.arange(200)
x = np.stack([np.round(600 * np.sin(t / (5 + i % 7)) * (1 + (i % 3))) for i in range(120)])
fac = np.stack([np.arange(120) % 7, np.arange(120) % 3], axis=1).astype("f8")
for name, dt in [("f32", "f4"), ("i16", "i2"), ("u16", "u2"), ("f16", "f2"), ("f64", "f8")]:
    v = x + (2000 if name == "u16" else 0)   # unsigned: shift into range
    with h5py.File(f"{d}/{name}.h5", "w") as f:
        f.create_dataset("data", data=v.astype(dt), chunks=(16, 200), compression="gzip", shuffle=True)
        f.create_dataset("factors", data=fac)
        f["factors"].attrs["names"] = ["period", "gain"]
    if name == "u16":
        with h5py.File(f"{d}/f32shift.h5", "w") as f:
            f.create_dataset("data", data=v.astype("f4"))
            f.create_dataset("factors", data=fac)
            f["factors"].attrs["names"] = ["period", "gain"]
# huge declared sizes: chunked, nothing written, so the files are small
with h5py.File(f"{d}/huge.h5", "w") as f:
    f.create_dataset("data", shape=(2000000000, 1000), dtype="f4", chunks=(1, 1000))
with h5py.File(f"{d}/overflow.h5", "w") as f:
    f.create_dataset("data", shape=(10, 2**31, 2**31, 1), dtype="u1", chunks=(1, 1, 1024, 1))
with h5py.File(f"{d}/nanattr.h5", "w") as f:
    f.create_dataset("data", data=x.astype("f4"))
    f["data"].attrs["mean"] = float("nan")
    f["data"].attrs["std"] = 1.0
PYEOF

train() { # train NAME DATA: 30 steps of ae on 2 ranks
  dt 2 train -method ae -data "$2" -run_dir "$TMP/$1" -steps 30 -batch 20 -latents 2 -hidden 16 -progress_every 0 \
    >/dev/null 2>"$TMP/$1.err" || fail "training on $2: $(cat "$TMP/$1.err")"
}
train f32 "$TMP/f32.h5"
for t in i16 f16 f64; do
  train $t "$TMP/$t.h5"
  cmp <(cut -d, -f1-3 "$TMP/f32/history.csv") <(cut -d, -f1-3 "$TMP/$t/history.csv") ||
    fail "$t samples train differently from float32 samples of the same values"
done
train u16 "$TMP/u16.h5"
train f32shift "$TMP/f32shift.h5"
cmp <(cut -d, -f1-3 "$TMP/f32shift/history.csv") <(cut -d, -f1-3 "$TMP/u16/history.csv") ||
  fail "uint16 samples train differently from float32 samples of the same values"
echo "ok: int16, uint16, float16 and float64 archives (gzip + shuffle, chunked) train exactly as float32"

refuse() { # refuse WHAT TEXT DATA
  dt 2 train -data "$3" -run_dir "$TMP/refused" -steps 2 >/dev/null 2>"$TMP/err"
  local code=$?
  [ $code -eq 2 ] || { cat "$TMP/err"; fail "$1: exit $code, want 2"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$1: not one error line"; }
  grep -q -F -- "$2" "$TMP/err" || fail "$1: message lacks '$2': $(cat "$TMP/err")"
  ! grep -q -i 'traceback\|PETSC ERROR' "$TMP/err" || fail "$1: a traceback"
  [ ! -e "$TMP/refused" ] || fail "$1: a run directory was left"
  echo "ok: $1 -> $(grep 'disentangle: error:' "$TMP/err")"
}
refuse "a [2e9, 1000] dataset that cannot fit" "GB are available" "$TMP/huge.h5"
refuse "a sample size that overflows" "one sample would hold more than" "$TMP/overflow.h5"
refuse "a NaN mean attribute" "attribute mean on /data is nan" "$TMP/nanattr.h5"
refuse "the same archive twice" "is listed twice (entries 1 and 2)" "$TMP/f32.h5,$TMP/../$(basename "$TMP")/f32.h5"
# HDF5 1.10 itself dies (SIGSEGV) parsing this damaged header (a fuzzer's find): the file is named,
# the run is not lost (src/io/h5guard.c)
segv="$DT_SRCDIR/tests/fuzz/regress/archive/hdf5-attr-segv.h5"
refuse "a file the HDF5 library crashes on, second in the list" \
  "archive '$segv': the HDF5 library " "$TMP/f32.h5,$segv"
grep -q -F "on object '/': the file is damaged" "$TMP/err" || fail "the object is not named: $(cat "$TMP/err")"
# this one stops HDF5's walk of the file's links at the root (CI's fuzz_archive find): the objects
# after it, which the reader opens by name, are still checked
walk="$DT_SRCDIR/tests/fuzz/regress/archive/hdf5-attr-segv-walk-stops.h5"
refuse "a file whose damaged root stops the walk of its objects" "archive '$walk': the HDF5 library " "$walk"
grep -q -F "on object '/': the file is damaged" "$TMP/err" || fail "the object is not named: $(cat "$TMP/err")"
dt 1 train -data "$TMP/f32.h5" -run_dir "$TMP/restarted" -steps 2 -restart "$segv" >/dev/null 2>"$TMP/err"
code=$?
[ $code -eq 2 ] && grep -q -F "checkpoint '$segv': the HDF5 library " "$TMP/err" && grep -q -F "on object '/'" "$TMP/err" ||
  fail "restart from a checkpoint HDF5 crashes on: exit $code, $(cat "$TMP/err")"
echo "ok: -restart from it -> $(grep 'disentangle: error:' "$TMP/err")"
# A checker that stops making progress (HDF5 going round in circles in a damaged file cannot be
# made on demand: a script stands in for it) is stopped, and the file refused, naming the object
cat >"$TMP/stalls" <<'EOF2'
#!/bin/sh
echo ready; cat >/dev/null; printf '0\t/data\n'; exec sleep 600
EOF2
chmod +x "$TMP/stalls"
DISENTANGLE_H5CHECK="$TMP/stalls" DISENTANGLE_H5CHECK_TIMEOUT=2 refuse "a file the checker stalls on" \
  "archive '$TMP/f32.h5': the HDF5 library makes no progress for 2 s on object '/data'" "$TMP/f32.h5"
pass "digitiser dtypes read; impossible sizes, NaN attributes, duplicates, files HDF5 crashes on refused"
