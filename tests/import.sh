#!/bin/bash
# tools/import (issue 17): folders of .npy, .npz (stored and deflated, -key) files with labels in
# their names, and CSV, each written with numpy, imported, read back with h5py and compared
# (values, labels, factor names, mean/std of the stored values, chunking), then trained on.
# Bad files: exit 2, one line naming the file, and no output left behind.
. "$DT_SRCDIR/tests/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import h5py, numpy' 2>/dev/null || fail "$PY cannot import h5py and numpy (tools/setup.sh --tests installs them)"
: "${IMPORT:?IMPORT: path of tools/import}"
cd "$TMP" || fail "cd $TMP"
"$PY" - <<'PY' || fail "writing the inputs with numpy"
import numpy as np, os
rng = np.random.default_rng(7)
for d in ("npy", "npz", "npzc", "img", "bad"): os.makedirs(d)
rows, labels = [], []
for duty in (0.2, 0.35, 0.5, 0.65):
    for freq in (10, 15, 20):
        x = (np.sin(np.linspace(0, freq, 200)) * duty + 0.05 * rng.normal(size=200)).astype(np.float32)
        name = "%.3f_%d" % (duty, freq)
        np.save("npy/%s.npy" % name, x)
        np.savez("npz/%s.npz" % name, x)                                   # one member: arr_0
        np.savez_compressed("npzc/run7_%s.npz" % name, wave=x.astype(np.float64), t=np.arange(3))
        np.save("img/%s.npy" % name, (rng.random((8, 8)) < duty).astype(np.uint8))
        rows.append(x); labels.append((duty, freq))
open("npy/README.txt", "w").write("not a sample\n")
with open("w.csv", "w") as f:
    f.write("duty,freq," + ",".join("v%d" % i for i in range(200)) + "\n")
    for (d, q), x in zip(labels, rows): f.write("%r,%r," % (d, q) + ",".join(repr(float(v)) for v in x) + "\n")
np.save("expect.npy", np.array(rows)); np.save("labels.npy", np.array(labels, dtype=np.float64))
PY

check() { # check ARCHIVE KIND: compare with what numpy wrote
  "$PY" - "$@" <<'PY'
import sys, h5py, numpy as np
path, kind = sys.argv[1], sys.argv[2]
f = h5py.File(path, "r")
d = f["data"]
x = d[()]
names = f["factors"].attrs["names"]
names = names.decode() if isinstance(names, bytes) else names
want = np.load("expect.npy")
lab = np.load("labels.npy")
if kind == "img":
    assert x.shape == (12, 1, 8, 8), x.shape
else:
    assert x.shape == (12, 200) and x.dtype == np.float32, (x.shape, x.dtype)
    assert np.array_equal(x, want), "values differ"
assert d.chunks is not None and d.chunks[0] >= 1, "not chunked"
assert np.array_equal(f["factors"][()], lab), ("labels differ", f["factors"][()])
assert names == "duty,freq", names
s = x.astype(np.float64)
assert abs(d.attrs["mean"] - s.mean()) < 1e-9 and abs(d.attrs["std"] - s.std()) < 1e-9, (d.attrs["mean"], s.mean(), d.attrs["std"], s.std())
print("ok: %s: %s %s chunks %s, factors %s, mean %.6g std %.6g" % (kind, x.shape, x.dtype, d.chunks, names, d.attrs["mean"], d.attrs["std"]))
PY
}

"$IMPORT" -in npy -out npy.h5 -pattern '{duty}_{freq}.npy' -progress 0 >out 2>err || { cat err; fail "import npy"; }
grep -q "import: 12 of 12 files (100%)" err || fail "no progress lines: $(cat err)"
grep -q "1 files in 'npy' are not .npy/.npz" err || fail "the skipped file is not counted"
check npy.h5 npy || fail "npy round trip"
"$IMPORT" -in npz -out npz.h5 -pattern '{duty}_{freq}' -chunk_rows 5 >out 2>&1 || { cat out; fail "import npz"; }
check npz.h5 npz || fail "npz round trip"
"$IMPORT" -in npzc -out npzc.h5 -pattern 'run{*}_{duty}_{freq}.npz' -key wave -gzip 4 >out 2>&1 || { cat out; fail "import npz (deflated)"; }
check npzc.h5 npzc || fail "compressed npz round trip (float64 -> float32)"
"$IMPORT" -in img -out img.h5 -pattern '{duty}_{freq}' >out 2>&1 || { cat out; fail "import images"; }
check img.h5 img || fail "image round trip"
"$IMPORT" -in w.csv -out csv.h5 -factor_columns 2 >out 2>&1 || { cat out; fail "import csv"; }
check csv.h5 csv || fail "csv round trip"
# -kinds: the factor kinds eval follows, as /factors attribute kinds
"$IMPORT" -in w.csv -out csvk.h5 -factor_columns 2 -kinds continuous,discrete >out 2>&1 || { cat out; fail "import -kinds"; }
k=$("$PY" -c "import h5py, sys; a = h5py.File(sys.argv[1])['factors'].attrs['kinds']; print(a.decode() if isinstance(a, bytes) else a)" csvk.h5)
[ "$k" = "continuous,discrete" ] || fail "import -kinds wrote '$k'"
"$IMPORT" -in w.csv -out csvbad.h5 -factor_columns 2 -kinds continuous >out 2>&1
[ $? -eq 2 ] && grep -q "option -kinds: 1 kinds for 2 labels" out && [ ! -e csvbad.h5 ] && [ ! -e csvbad.h5.tmp ] ||
  { cat out; fail "a -kinds list of the wrong length"; }
"$H5DIFF" -d 0 npy.h5 csv.h5 /data /data >/dev/null || fail "npy and csv give different /data"

# train on them: a few steps each (the images with the conv-free MLP on 64 values)
for a in npy npzc csv; do
  dt 2 train -data "$a.h5" -run_dir "run-$a" -steps 5 -batch 12 -latents 2 -hidden 16 -nashae_reg_hidden 8 -progress_every 0 2>err ||
    { cat err; fail "train on the $a import"; }
  [ "$(json_value "run-$a/summary.json" steps)" = 5 ] || fail "train on $a: no summary"
done
dt 1 train -data img.h5 -run_dir run-img -steps 3 -batch 12 -latents 2 -hidden 16 -method ae -rec_loss bernoulli -progress_every 0 2>err ||
  { cat err; fail "train on the image import"; }
dt 1 eval -run_dir run-npy -metric_train 20 -metric_eval 10 >/dev/null 2>err || { cat err; fail "eval on the npy import (factors)"; }
echo "ok: trained on each import"

# bad files: one line naming the file, exit 2, nothing written
"$PY" - <<'PY'
import numpy as np, os
def case(name, files):
    os.makedirs("bad/" + name)
    for fn, data in files.items():
        if isinstance(data, bytes): open("bad/%s/%s" % (name, fn), "wb").write(data)
        else: np.save("bad/%s/%s" % (name, fn), data)
x = np.ones(10, np.float32)
full = open("npy/0.200_10.npy", "rb").read()
case("truncated", {"0.1_1.npy": x, "0.2_1.npy": full[:-40]})
case("notnpy", {"0.1_1.npy": x, "0.2_1.npy": b"hello world, not an array"})
case("name", {"0.1_1.npy": x, "0.2_x.npy": x})
case("shape", {"0.1_1.npy": x, "0.2_1.npy": np.ones(11, np.float32)})
case("nan", {"0.1_1.npy": x, "0.2_1.npy": np.where(np.arange(10) == 1, np.nan, 1).astype(np.float32)})
case("bigendian", {"0.1_1.npy": x.astype(">f4")})
case("fourd", {"0.1_1.npy": np.ones((2, 2, 2, 2), np.float32)})
case("npz2", {"0.1_1.npz": b""})
np.savez("bad/npz2/0.1_1.npz", a=x, b=x)
open("bad/ragged.csv", "w").write("1,2,3\n4,5\n")
open("bad/cell.csv", "w").write("a,b,c\n1,2,3\n4,x,6\n")
PY
refuse() { # refuse WHAT EXPECTED-TEXT IMPORT-ARGS...
  local what=$1 want=$2
  shift 2
  rm -f bad.h5 bad.h5.tmp
  "$IMPORT" "$@" -out bad.h5 >out 2>err
  local code=$?
  [ "$code" -eq 2 ] || { cat out err; fail "$what: exit $code, want 2"; }
  [ "$(wc -l <err)" -eq 1 ] && grep -q "^import: error: .*$want" err || { cat err; fail "$what: not one line saying '$want'"; }
  [ ! -e bad.h5 ] && [ ! -e bad.h5.tmp ] || fail "$what: output left behind"
  echo "ok: $what -> $(cat err)"
}
refuse "truncated npy" "0.2_1.npy': truncated" -in bad/truncated -pattern '{a}_{b}'
refuse "not an npy" "0.2_1.npy': not an .npy array" -in bad/notnpy -pattern '{a}_{b}'
refuse "name not matching" "0.2_x.npy': the file name does not match" -in bad/name -pattern '{a}_{b}'
refuse "another shape" "0.2_1.npy': a sample of shape \[11\]" -in bad/shape -pattern '{a}_{b}'
refuse "NaN" "0.2_1.npy': value 1 is nan" -in bad/nan
refuse "big-endian" "values of type '>f4'" -in bad/bigendian
refuse "4-D array" "an array of 4 dimensions" -in bad/fourd
refuse "npz of two arrays" "an .npz of 2 arrays (a, b); pick one with -key" -in bad/npz2
refuse "missing npz key" "no array 'c' in this .npz" -in bad/npz2 -key c
refuse "ragged csv" "ragged.csv' line 2: fewer cells" -in bad/ragged.csv
refuse "bad csv cell" "cell.csv' line 3 column 2: 'x' is not a finite number" -in bad/cell.csv -factor_columns 1
refuse "bad pattern" "option -pattern: two fields next to each other" -in npy -pattern '{a}{b}'
refuse "no input" "option -in: 'nothere'" -in nothere
pass "import: npy, npz, CSV round trips; bad files refused with one line"
