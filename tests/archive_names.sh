#!/bin/bash
# The `names` attribute of /factors in every string form that h5py, h5dump/the C API, PyTables and
# MATLAB write: ASCII and UTF-8, variable and fixed length (NUL- or space-padded), scalar, 1-D or
# 2-D, one comma-separated string or one name per element. Each archive must be accepted by
# train and eval, and its names read exactly (checked through the archives-must-agree rule, whose
# message prints them). h5py.Empty and an empty string mean "no names": factor0, factor1, ...
. "$DT_SRCDIR/tests/lib.sh"
PY=/usr/bin/python3 # Debian's h5py lives there, not in a pyenv python3 that may come first on PATH
"$PY" -c 'import h5py, numpy' 2>/dev/null || fail "$PY cannot import h5py and numpy (tools/setup.sh --tests installs them)"

# archive FILE FORM: /data [64, 32] float32, /factors [64, 3], `names` written as FORM
"$PY" - "$TMP" <<'PY' || fail "writing the archives with h5py"
import sys, h5py, numpy as np
tmp = sys.argv[1]
rng = np.random.default_rng(1)
data = rng.standard_normal((64, 32)).astype(np.float32)
factors = rng.random((64, 3))
names = ["alpha", "beta", "gamma"]
utf = ["énergie", "phase", "größe"]

def fixed(value, cset, pad=h5py.h5t.STR_NULLPAD):
    """A fixed-length string type the way the C API (h5dump), PyTables or MATLAB make one."""
    t = h5py.h5t.C_S1.copy()
    t.set_size(max(1, max(len(v) for v in value)))
    t.set_cset(cset)
    t.set_strpad(pad)
    return t

def raw_attr(obj, tid, shape, values):
    """Write an attribute through the low-level API: full control of type and dataspace."""
    space = h5py.h5s.create(h5py.h5s.SCALAR) if shape == () else h5py.h5s.create_simple(shape)
    a = h5py.h5a.create(obj.id, b"names", tid, space)
    size = tid.get_size()
    buf = np.array([v.ljust(size, b" " if tid.get_strpad() == h5py.h5t.STR_SPACEPAD else b"\0") for v in values],
                   dtype="S%d" % size).reshape(shape)
    a.write(buf, mtype=tid)

def write(name, how):
    with h5py.File("%s/%s.h5" % (tmp, name), "w") as f:
        f["data"] = data
        d = f.create_dataset("factors", data=factors)
        how(d)

b = lambda xs: [x.encode() for x in xs]
write("py_str", lambda d: d.attrs.__setitem__("names", "alpha,beta,gamma"))                # vlen UTF-8 scalar
write("py_list", lambda d: d.attrs.__setitem__("names", names))                            # vlen UTF-8 [3]
write("py_spaces", lambda d: d.attrs.__setitem__("names", " alpha, beta ,gamma "))         # blanks around names
write("py_utf8", lambda d: d.attrs.__setitem__("names", utf))                              # non-ASCII, vlen UTF-8
write("py_vlen_ascii", lambda d: d.attrs.create("names", b(names), dtype=h5py.string_dtype("ascii")))
write("py_vlen_ascii_scalar", lambda d: d.attrs.create("names", b"alpha,beta,gamma", dtype=h5py.string_dtype("ascii")))
write("py_fixed_utf8", lambda d: d.attrs.create("names", b(utf), dtype=h5py.string_dtype("utf-8", 20)))
write("py_fixed_utf8_scalar", lambda d: d.attrs.create("names", "alpha,beta,gamma".encode(), dtype=h5py.string_dtype("utf-8", 16)))
write("np_bytes", lambda d: d.attrs.__setitem__("names", np.bytes_("alpha,beta,gamma")))  # fixed ASCII scalar
write("np_bytes_array", lambda d: d.attrs.__setitem__("names", np.array(b(names))))        # fixed ASCII [3], PyTables too
write("py_2d", lambda d: d.attrs.__setitem__("names", np.array([names], dtype=h5py.string_dtype())))                # [1, 3], MATLAB cell array
write("c_nullterm", lambda d: raw_attr(d, fixed([b"alpha,beta,gamma\0"], h5py.h5t.CSET_ASCII, h5py.h5t.STR_NULLTERM),
                                       (), [b"alpha,beta,gamma"]))                         # what the C API / beamgen write
write("matlab_spacepad", lambda d: raw_attr(d, fixed([b"alpha,beta,gamma   "], h5py.h5t.CSET_ASCII, h5py.h5t.STR_SPACEPAD),
                                            (), [b"alpha,beta,gamma"]))                    # Fortran/MATLAB blank padding
write("spacepad_array", lambda d: raw_attr(d, fixed([b"gamma  "], h5py.h5t.CSET_UTF8, h5py.h5t.STR_SPACEPAD),
                                           (3,), b(names)))
write("ref_utf8", lambda d: raw_attr(d, fixed(["énergie,phase,größe".encode()], h5py.h5t.CSET_ASCII, h5py.h5t.STR_NULLPAD),
                                     (), ["énergie,phase,größe".encode()]))
write("wrong", lambda d: d.attrs.__setitem__("names", "zz0,zz1,zz2"))
write("empty", lambda d: d.attrs.__setitem__("names", h5py.Empty("S10")))
write("empty_vlen", lambda d: d.attrs.__setitem__("names", h5py.Empty(h5py.string_dtype())))
write("empty_string", lambda d: d.attrs.__setitem__("names", ""))
write("none", lambda d: None)
write("not_string", lambda d: d.attrs.__setitem__("names", np.arange(3)))
PY

small="-steps 2 -batch 8 -latents 2 -hidden 8 -reg_hidden 4 -progress_every 0"
n=0
# accepted FORM EXPECTED-NAMES: train takes FORM on its own, and beside an archive whose names are
# EXPECTED-NAMES in the plain C form (they must agree); beside one named zz0,zz1,zz2 the refusal
# quotes FORM's names as read.
accepted() {
  local form=$1 want=$2 ref=$3
  n=$((n + 1))
  dt 2 train -data "$TMP/$form.h5" -run_dir "$TMP/run-$n-a" $small >/dev/null 2>"$TMP/err" ||
    { cat "$TMP/err"; fail "$form: train refused it"; }
  cp "$TMP/$ref.h5" "$TMP/$ref-copy.h5" # a copy: the same archive listed twice is refused
  dt 2 train -data "$TMP/$form.h5,$TMP/$ref-copy.h5" -run_dir "$TMP/run-$n-b" $small >/dev/null 2>"$TMP/err" ||
    { cat "$TMP/err"; fail "$form: its names do not read as '$want'"; }
  dt 1 train -data "$TMP/wrong.h5,$TMP/$form.h5" -run_dir "$TMP/run-$n-c" $small >/dev/null 2>"$TMP/err"
  local code=$?
  [ "$code" -eq 2 ] && grep -q -F "/factors names '$want' differ from 'zz0,zz1,zz2'" "$TMP/err" ||
    { cat "$TMP/err"; fail "$form: exit $code; the names are not quoted as '$want'"; }
  echo "ok: $form -> $want"
}
for form in py_str py_list py_spaces py_vlen_ascii py_vlen_ascii_scalar py_fixed_utf8_scalar np_bytes np_bytes_array py_2d \
  c_nullterm matlab_spacepad spacepad_array; do
  accepted "$form" alpha,beta,gamma c_nullterm
done
for form in py_utf8 py_fixed_utf8; do accepted "$form" "énergie,phase,größe" ref_utf8; done
for form in empty empty_vlen empty_string none; do accepted "$form" factor0,factor1,factor2 none; done

# eval on an h5py-written archive, with a model trained on another form
dt 2 train -data "$TMP/py_list.h5" -run_dir "$TMP/evalrun" $small -steps 20 >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "train"; }
for form in np_bytes_array py_utf8; do
  dt 2 eval -run_dir "$TMP/evalrun" -data "$TMP/$form.h5" -metric_train 64 -metric_eval 32 >/dev/null 2>"$TMP/err" ||
    { cat "$TMP/err"; fail "eval -data $form.h5 refused"; }
  grep -q '"mig"' "$TMP/evalrun/metrics.json" || fail "eval on $form.h5: no supervised metrics"
done
echo "ok: eval reads h5py-written archives"

# a number is not a list of names: one line, exit 2
dt 2 train -data "$TMP/not_string.h5" -run_dir "$TMP/run-ns" $small >/dev/null 2>"$TMP/err"
code=$?
[ "$code" -eq 2 ] && [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] &&
  grep -q "attribute names on /factors is not a string" "$TMP/err" || { cat "$TMP/err"; fail "integer names: exit $code"; }
pass "every string form of /factors names is read"
