#!/bin/bash
# `report` draws a run from its directory's files alone (history.csv, latents.h5, metrics.json):
#  - before `eval` there is no latents.h5: one line saying to run eval first, exit 2;
#  - eval writes latents.h5 (h5py reads what it promises: the latents, their ranges, the factors
#    and their names, the sample shape, the normalisation, traversals from -base);
#  - the report needs no model (model.h5 moved away) and is the same bytes twice;
#  - history.csv is read by column NAME: another method's columns are drawn, a column that
#    goes negative gets its own linear panel; a bad history.csv is one line, exit 2;
#  - crafted latents.h5 files (wrong class, rank, shape, missing parts, not HDF5) are one
#    line naming the file and the dataset, exit 2, never a crash;
#  - image samples (a small dSprites archive, 5 training steps): the traversals are one PNG
#    whose pixels are latents.h5's traversals clamped to [0, 1], tiles in the report's row
#    order (active latents first).
. "$DT_SRCDIR/tests/lib.sh"
: "${DSPRITES:?DSPRITES: path of tools/dsprites}"
PY=/usr/bin/python3 # Debian's, which has h5py and numpy
data=$(beam_archive beam -seed 1)
fast="-metric_train 300 -metric_eval 200"

# expect_error WHAT CODE TEXT CMD...: CMD exits CODE with exactly one error line holding TEXT, no traceback
expect_error() {
  local what=$1 want=$2 text=$3
  shift 3
  "$@" >"$TMP/out" 2>"$TMP/err"
  local code=$?
  [ "$code" -eq "$want" ] || { cat "$TMP/err"; fail "$what: exit code $code, want $want"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$what: not exactly one error line"; }
  grep 'disentangle: error:' "$TMP/err" | grep -q -F -- "$text" || fail "$what: message lacks '$text': $(cat "$TMP/err")"
  ! grep -q -i 'traceback\|PETSC ERROR\|signal' "$TMP/err" || fail "$what: a traceback instead of one line"
  echo "ok: $what -> $(grep 'disentangle: error:' "$TMP/err")"
}

run="$TMP/run"
dt 2 train -data "$data" -run_dir "$run" -steps 40 -progress_every 0 2>"$TMP/err" || { cat "$TMP/err"; fail "train"; }
expect_error "report before eval" 2 "'$run/latents.h5' not found: run \`disentangle eval -run_dir $run\` first" \
  dt 2 report -run_dir "$run"
expect_error "report -model is gone (eval has it)" 2 "unknown option -model" dt 2 report -run_dir "$run" -model x.h5
expect_error "report -base is gone (eval has it)" 2 "unknown option -base" dt 2 report -run_dir "$run" -base 3

# ---- what eval writes
dt 2 eval -run_dir "$run" $fast >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "eval"; }
cp "$run/latents.h5" "$TMP/base0.h5"
dt 2 eval -run_dir "$run" $fast -base 7 >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "eval -base 7"; }
"$PY" - "$run/latents.h5" "$TMP/base0.h5" "$data" <<'EOF' || fail "latents.h5 contents (above)"
import sys, h5py, numpy as np
f, g, a = (h5py.File(p, "r") for p in sys.argv[1:4])
z = f["z"][()]
bad = []
def want(cond, what):
    if not cond: bad.append(what)
want(z.shape == (360, 4) and f["z"].dtype == np.float64, "z is [360][4] float64")
want(np.array_equal(f["zmin"][()], z.min(0)) and np.array_equal(f["zmax"][()], z.max(0)), "zmin/zmax are z's range")
want(np.array_equal(f["factors"][()], a["factors"][()]), "factors are the archive's")
names = [n.decode() if isinstance(n, bytes) else n for n in f["factors"].attrs["names"]]
want(len(names) == 2 and all(names), "two factor names: %s" % names)
want(list(f.attrs["sample_dims"]) == [1000], "sample_dims is [1000]")
want(f["traversals"].shape == (4, 7, 1000) and f["traversals"].dtype == np.float32, "traversals are [4][7][1000] float32")
want(f.attrs["base"] == 7 and g.attrs["base"] == 0, "base is 7 (and 0 by default)")
want(not np.array_equal(f["traversals"][()], g["traversals"][()]), "-base 7 changes the traversals")
want(np.array_equal(f["z"][()], g["z"][()]), "-base leaves the latents alone")
want(f.attrs["step"] == 40 and f.attrs["seed"] == 1, "step 40, seed 1")
for k in ("method", "title"):
    v = f.attrs[k]
    want((v.decode() if isinstance(v, bytes) else v).startswith("nashae"), "%s starts with nashae" % k)
want(0 < f.attrs["data_std"] and np.isfinite(f.attrs["data_mean"]), "data_mean, data_std")
# the traversal of latent j at its sweep step s has latent j at zmin + s/6 (zmax - zmin): a
# latent's traversals differ along its row exactly when its range is not zero
t = f["traversals"][()]
for j in range(4):
    moves = np.abs(t[j] - t[j][0]).max() > 0
    want(moves == (f["zmax"][j] > f["zmin"][j]), "traversal of z%d moves iff its range is not zero" % j)
if bad:
    sys.exit("latents.h5: " + "; ".join(bad))
EOF
echo "ok: latents.h5 holds the latents, ranges, factors and names, sample shape, traversals from -base"

# ---- drawn without the model, the same bytes twice
mv "$run/model.h5" "$TMP/model.away"
dt 2 report -run_dir "$run" 2>"$TMP/err" || { cat "$TMP/err"; fail "report without the model"; }
cp "$run/report.html" "$TMP/first.html"
dt 1 report -run_dir "$run" 2>/dev/null || fail "report on 1 rank"
cmp -s "$run/report.html" "$TMP/first.html" || fail "the report differs between two runs"
grep -q '<h1>nashae, 4 latents, seed 1, step 40</h1>' "$run/report.html" || fail "title from latents.h5"
grep -q '>adv (linear)<' "$run/report.html" || fail "NashAE's adv has no linear panel"
echo "ok: report from the files alone (model.h5 moved away), the same bytes on 2 and 1 ranks"

# ---- history.csv by column name
cp "$run/history.csv" "$TMP/history.orig"
awk -F, 'NR == 1 { print "step,loss,rec,kl,tc,beta,samples_per_s"; next }
  { tc = (NR % 3 == 0) ? -0.01 : 0.02; print $1 "," $2 "," $3 "," 0.5 / NR "," tc ",4," $6 }' "$TMP/history.orig" >"$run/history.csv"
dt 2 report -run_dir "$run" 2>"$TMP/err" || { cat "$TMP/err"; fail "report of a VAE-like history"; }
for want in '>kl  last ' '>beta  last 4<' '>tc (linear)<' '<b>tc</b>'; do
  grep -q -F "$want" "$run/report.html" || fail "VAE-like history: no '$want' in the loss figure"
done
! grep -q '>adv\|>pred  last' "$run/report.html" || fail "VAE-like history: columns it does not have are drawn"
grep -q 'step 40: loss [^,]*, rec [^,]*, kl ' "$run/report.html" || fail "summary names the first loss columns"
echo "ok: history.csv by name: kl and beta on the log axis, tc (negative) on its own linear panel"
rm "$run/history.csv"
dt 2 report -run_dir "$run" 2>/dev/null || fail "report without history.csv"
grep -q 'No loss history was given.' "$run/report.html" || fail "no note for a missing history.csv"
printf 'iter,loss,rec\n1,0.5,0.4\n' >"$run/history.csv"
expect_error "history.csv without step" 2 "'$run/history.csv': the header has no column 'step'" dt 2 report -run_dir "$run"
printf 'step,loss,rec\n1,0.5,0.4\n2,0.5\n3,0.4,0.3\n' >"$run/history.csv"
expect_error "history.csv short row" 2 "'$run/history.csv' line 3: 2 fields; expected 3" dt 2 report -run_dir "$run"
printf 'step,loss,rec\n1,0.5,0.4\n2,0.5,abc\n' >"$run/history.csv"
expect_error "history.csv not a number" 2 "'$run/history.csv' line 3, column 'rec': 'abc' is not a number" \
  dt 2 report -run_dir "$run"
printf 'step,loss,rec\n1,0.5,0.4\n2,0.4,0.3\n3,0.3' >"$run/history.csv" # killed while writing the last line
dt 2 report -run_dir "$run" 2>/dev/null || fail "a history.csv whose last line is cut short"
cp "$TMP/history.orig" "$run/history.csv"

# ---- crafted latents.h5: one line naming the file and the dataset, exit 2
good="$TMP/good.h5"
cp "$run/latents.h5" "$good"
craft() { # craft NAME PYTHON: a copy of the good file changed by PYTHON (f: the h5py.File)
  cp "$good" "$TMP/$1.h5"
  "$PY" -c "import h5py, numpy as np
f = h5py.File('$TMP/$1.h5', 'r+')
$2" || fail "h5py could not craft $1"
  cp "$TMP/$1.h5" "$run/latents.h5"
}
L="$run/latents.h5"
craft z_int 'del f["z"]; f["z"] = np.zeros((360, 4), dtype=np.int32)'
expect_error "crafted: /z of integers" 2 "'$L': dataset /z is an integer of 4 bytes; expected float64 [n][m]" dt 2 report -run_dir "$run"
craft z_1d 'del f["z"]; f["z"] = np.zeros(360)'
expect_error "crafted: /z 1-D" 2 "'$L': dataset /z has 1 dimensions; expected float64 [n][m]" dt 2 report -run_dir "$run"
craft z_group 'del f["z"]; f.create_group("z")'
expect_error "crafted: /z a group" 2 "'$L': /z is not a dataset" dt 2 report -run_dir "$run"
craft z_one 'del f["z"]; f["z"] = np.zeros((1, 4))'
expect_error "crafted: /z of one sample" 2 "'$L': dataset /z is [1][4]; expected at least 2 samples" dt 2 report -run_dir "$run"
craft zmin_len 'del f["zmin"]; f["zmin"] = np.zeros(3)'
expect_error "crafted: /zmin too short" 2 "'$L': dataset /zmin has 3 values; expected 4" dt 2 report -run_dir "$run"
craft trav_shape 'del f["traversals"]; f["traversals"] = np.zeros((4, 7, 999), dtype=np.float32)'
expect_error "crafted: /traversals of the wrong length" 2 "'$L': dataset /traversals is [4][7][999]; expected [4][1..1000][1000]" \
  dt 2 report -run_dir "$run"
craft trav_missing 'del f["traversals"]'
expect_error "crafted: no /traversals" 2 "'$L': no dataset /traversals" dt 2 report -run_dir "$run"
craft factors_rows 'del f["factors"]; f["factors"] = np.zeros((359, 2))'
expect_error "crafted: /factors rows" 2 "'$L': dataset /factors is [359][2]; expected [360][1..64]" dt 2 report -run_dir "$run"
craft names_int 'f["factors"].attrs["names"] = np.array([1, 2])'
expect_error "crafted: names not strings" 2 "'$L': attribute names on /factors is an integer" dt 2 report -run_dir "$run"
craft names_count 'f["factors"].attrs["names"] = ["a", "b", "c"]'
expect_error "crafted: three names for two factors" 2 "'$L': attribute names on /factors has 3 strings" dt 2 report -run_dir "$run"
craft dims_huge 'f.attrs["sample_dims"] = np.array([1, 1 << 40, 1 << 40], dtype=np.int64)'
expect_error "crafted: huge sample_dims" 2 "'$L': attribute sample_dims on / holds 1099511627776" dt 2 report -run_dir "$run"
craft dims_two 'f.attrs["sample_dims"] = np.array([10, 100], dtype=np.int64)'
expect_error "crafted: sample_dims of 2 values" 2 "'$L': attribute sample_dims on / has 2 values" dt 2 report -run_dir "$run"
craft base_far 'f.attrs["base"] = np.int64(360)'
expect_error "crafted: base outside the data" 2 "'$L': attribute base on / is 360; expected a sample index below 360" \
  dt 2 report -run_dir "$run"
craft title_int 'f.attrs["title"] = np.int64(3)'
expect_error "crafted: title an integer" 2 "'$L': attribute title on / is an integer of 8 bytes; expected one string" \
  dt 2 report -run_dir "$run"
craft threshold_missing 'del f.attrs["active_threshold"]'
expect_error "crafted: no active_threshold" 2 "'$L': attribute active_threshold on / is missing" dt 2 report -run_dir "$run"
craft version 'f.attrs["version"] = np.int32(99)'
expect_error "crafted: another version" 2 "'$L' has version 99; expected 1" dt 2 report -run_dir "$run"
echo "this is not HDF5" >"$L"
expect_error "crafted: not HDF5" 2 "'$L' is not an HDF5 file" dt 2 report -run_dir "$run"
head -c 3000 "$good" >"$L"
expect_error "crafted: truncated" 2 "$L" dt 2 report -run_dir "$run"
cp "$good" "$L"
dt 2 report -run_dir "$run" 2>/dev/null || fail "the good latents.h5 again"
echo "ok: crafted latents.h5 files are refused with one line naming the file and dataset"

# ---- image samples: a small dSprites archive, the default (mlp) architecture
"$DSPRITES" -out "$TMP/ds.h5" -n 64 >/dev/null || fail "dsprites -n 64"
ds="$TMP/ds"
dt 2 train -data "$TMP/ds.h5" -run_dir "$ds" -steps 5 -batch 32 -progress_every 0 2>"$TMP/err" || { cat "$TMP/err"; fail "train on dSprites"; }
dt 2 eval -run_dir "$ds" -metric_train 100 -metric_eval 100 >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "eval on dSprites"; }
mv "$ds/model.h5" "$TMP/ds-model.away"
dt 2 report -run_dir "$ds" 2>"$TMP/err" || { cat "$TMP/err"; fail "report on dSprites"; }
page="$ds/report.html"
size=$(wc -c <"$page")
[ "$size" -lt 512000 ] || fail "the dSprites report is $size bytes (>= 512000)"
[ "$(grep -c '<image id="traversal-grid"' "$page")" -eq 1 ] || fail "no image grid in the dSprites report"
grep -q 'decoded grey-scale image (64&#215;64)' "$page" || fail "the caption does not describe the 64x64 images"
grep -o 'data:image/png;base64,[A-Za-z0-9+/=]*' "$page" | cut -d, -f2 | base64 -d >"$TMP/ds-grid.png"
pngtopnm "$TMP/ds-grid.png" | pnmtopnm -plain >"$TMP/ds-grid.pgm" || fail "the dSprites PNG does not decode"
"$PY" - "$ds/latents.h5" "$TMP/ds-grid.pgm" <<'EOF' || fail "the dSprites PNG is not latents.h5's traversals (above)"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
tok = open(sys.argv[2]).read().split()
assert tok[0] == "P2", tok[0]
w, h = int(tok[1]), int(tok[2])
png = np.array(tok[4:], dtype=int).reshape(h, w)
t = f["traversals"][()]
m, steps = t.shape[0], t.shape[1]
assert list(f.attrs["sample_dims"]) == [1, 64, 64] and steps == 7, (f.attrs["sample_dims"], steps)
assert (w, h) == (7 * 65 - 1, m * 65 - 1), ("PNG size", w, h)
rng = f["zmax"][()] - f["zmin"][()]
active = rng > f.attrs["active_threshold"]
order = [j for j in range(m) if active[j]] + [j for j in range(m) if not active[j]]
worst = 0
for row, j in enumerate(order):
    for s in range(7):
        want = np.rint(np.clip(t[j, s].reshape(64, 64), 0, 1) * 255)
        got = png[row * 65:row * 65 + 64, s * 65:s * 65 + 64]
        worst = max(worst, np.abs(got - want).max())
assert worst <= 1, "a tile differs from the clamped traversal by %d grey levels" % worst
assert (png[64, :] == 128).all() and (png[:, 64] == 128).all(), "gaps are not mid grey"
print("dSprites grid: %d x %d PNG, %d latents (%d active), every tile = clamped traversal" % (w, h, m, active.sum()))
EOF
pass "report from files: latents.h5, history by name, crafted files refused, dSprites image traversals"
