#!/bin/bash
# tools/dsprites: the archive's layout (h5ls/h5dump), the images (binary, non-empty, the right
# area, translated copies across positions, the symmetries the header promises, the rotation
# direction), subsets drawn from the grid, determinism, and bad options.
. "$DT_SRCDIR/tests/lib.sh"
: "${DSPRITES:?DSPRITES: path of tools/dsprites}"
PY=/usr/bin/python3 # Debian's, which has h5py and numpy

# 3 shapes x 2 scales x 4 orientations x 5^2 positions = 600 images; 5 positions put the centres
# 10 px apart, so images that differ only in position must be exact translated copies.
grid="-scales 2 -orientations 4 -positions 5"
"$DSPRITES" -out "$TMP/a.h5" $grid >"$TMP/out" || fail "dsprites $grid: $(cat "$TMP/out")"
grep -q "wrote 600 of 600 images" "$TMP/out" || fail "unexpected summary: $(cat "$TMP/out")"

h5ls "$TMP/a.h5/data" | grep -q "Dataset {600, 1, 64, 64}" || fail "/data is not [600, 1, 64, 64]: $(h5ls "$TMP/a.h5/data")"
h5ls "$TMP/a.h5/factors" | grep -q "Dataset {600, 5}" || fail "/factors is not [600, 5]"
h5dump -H -p -d /data "$TMP/a.h5" >"$TMP/data.txt"
grep -q "H5T_STD_U8LE" "$TMP/data.txt" || fail "/data is not uint8"
grep -q "CHUNKED ( 32, 1, 64, 64 )" "$TMP/data.txt" || fail "/data is not chunked along N"
h5dump -H -d /factors "$TMP/a.h5" | grep -q "H5T_IEEE_F64LE" || fail "/factors is not float64"
h5dump -a /factors/names "$TMP/a.h5" | grep -q '"shape,scale,orientation,pos_x,pos_y"' ||
  fail "the names attribute of /factors is wrong: $(h5dump -a /factors/names "$TMP/a.h5")"
pass "layout: /data uint8 [600, 1, 64, 64] chunked (32, 1, 64, 64), /factors float64 [600, 5] with names"

"$DSPRITES" -out "$TMP/b.h5" $grid >/dev/null || fail "second run"
$H5DIFF "$TMP/a.h5" "$TMP/b.h5" /data /data >/dev/null && $H5DIFF "$TMP/a.h5" "$TMP/b.h5" /factors /factors >/dev/null ||
  fail "the same options gave different archives"
"$DSPRITES" -out "$TMP/s7.h5" $grid -n 50 -seed 7 >/dev/null || fail "-n 50 -seed 7"
"$DSPRITES" -out "$TMP/s7b.h5" $grid -n 50 -seed 7 >/dev/null || fail "-n 50 -seed 7 again"
"$DSPRITES" -out "$TMP/s8.h5" $grid -n 50 -seed 8 >/dev/null || fail "-n 50 -seed 8"
$H5DIFF "$TMP/s7.h5" "$TMP/s7b.h5" /data /data >/dev/null || fail "-n 50 -seed 7 twice: different /data"
$H5DIFF "$TMP/s7.h5" "$TMP/s8.h5" /factors /factors >/dev/null && fail "seeds 7 and 8 drew the same subset"
pass "deterministic: same options, identical /data and /factors; another seed, another subset"
"$DSPRITES" -out "$TMP/c.h5" -scales 2 -orientations 40 -positions 7 -n 3000 -seed 3 >/dev/null || fail "area archive"

"$PY" - "$TMP/a.h5" "$TMP/c.h5" "$TMP/s7.h5" "$TMP/s8.h5" <<'EOF' || fail "image checks (above)"
import itertools, math, sys
import h5py, numpy as np

bad = []
def check(ok, what):
    print(("PASS " if ok else "FAIL ") + what)
    if not ok: bad.append(what)

f = h5py.File(sys.argv[1], "r")
x, fac = f["/data"][:, 0], f["/factors"][:]
shapes, scales, orients, pos = [1.0, 2.0, 3.0], [0.5, 1.0], [2 * math.pi * j / 4 for j in range(4)], [j / 4 for j in range(5)]
want = np.array(list(itertools.product(shapes, scales, orients, pos, pos)))
check(fac.shape == want.shape and np.allclose(fac, want, rtol=0, atol=1e-12), "factors list the grid, pos_y fastest")
check(set(np.unique(x)) <= {0, 1}, "pixels are 0 or 1")
counts = x.reshape(len(x), -1).sum(1)
check(counts.min() > 0, "no image is empty (smallest has %d pixels)" % counts.min())

def img(sh, sc, o, px, py):
    i = int(np.flatnonzero((fac[:, 0] == sh) & (fac[:, 1] == sc) & (fac[:, 2] == orients[o]) & (fac[:, 3] == pos[px]) & (fac[:, 4] == pos[py]))[0])
    return x[i]

# translation: position step j moves the shape by 10 j px (x right along columns, y down rows)
worst = 0
for sh, sc, o in itertools.product((1, 2, 3), scales, range(4)):
    a = img(sh, sc, o, 0, 0)
    for px, py in itertools.product(range(5), range(5)):
        b = img(sh, sc, o, px, py)
        dx, dy = 10 * px, 10 * py
        same = b.sum() == a.sum() and np.array_equal(b[dy:, dx:], a[:64 - dy, :64 - dx])
        worst += not same
check(worst == 0, "images differing only in position are translated copies (%d of 600 are not)" % worst)

# symmetries: square every pi/2, ellipse every pi, heart mirror-symmetric but not under pi
sq = [img(1, 1.0, o, 2, 2) for o in range(4)]
check(all(np.array_equal(sq[0], s) for s in sq), "the square repeats every pi/2")
el = [img(2, 1.0, o, 2, 2) for o in range(4)]
check(np.array_equal(el[0], el[2]) and not np.array_equal(el[0], el[1]), "the ellipse repeats every pi, not every pi/2")
he = [img(3, 1.0, o, 2, 2) for o in range(4)]
check(not np.array_equal(he[0], he[2]), "the heart differs from itself turned by pi")
check(np.array_equal(he[0], he[0][:, ::-1]), "the upright heart is mirror-symmetric about its centre column")
# upright: lobes on top, the point below (more pixels in the upper half of its rows)
rows = np.flatnonzero(he[0].any(1))
mid = (rows[0] + rows[-1] + 1) // 2
check(he[0][:mid].sum() > he[0][mid:].sum(), "the heart at orientation 0 has its lobes up")
# counter-clockwise: orientation pi/2 is the upright heart turned a quarter left (np.rot90);
# rounding of cos(pi/2) may move a pixel or two on the outline
d = int((he[1] != np.rot90(he[0])).sum())
check(d <= 2, "orientation pi/2 turns the heart counter-clockwise (%d pixels differ from rot90)" % d)

# the area of each shape at scale s is s^2 times: square (sqrt2 R)^2, ellipse pi R^2 / 2,
# heart 3.6595 R^2 / 1.3^2 (the implicit curve's area, shrunk by 1.3), R = 12 px. A shape cut
# by the image border, or a wrong size, misses by far more than the pixel grid's error, which
# averages out over 40 orientations and positions off the pixel grid (7 positions: 6.67 px apart).
g = h5py.File(sys.argv[2], "r")
cx, cf = g["/data"][:, 0], g["/factors"][:]
counts = cx.reshape(len(cx), -1).sum(1)
area = {1: 2 * 144, 2: math.pi * 144 / 2, 3: 3.6595 * 144 / 1.69}
for sh in (1, 2, 3):
    for sc in scales:
        m = (cf[:, 0] == sh) & (cf[:, 1] == sc)
        a = area[sh] * sc * sc
        lo, hi = counts[m].min() / a, counts[m].max() / a
        check(m.sum() > 100 and lo > 0.8 and hi < 1.2 and abs(counts[m].mean() / a - 1) < 0.03,
              "shape %d scale %.1f: %d..%d pixels, mean %.1f, area %.1f (%d images)" % (sh, sc, counts[m].min(), counts[m].max(), counts[m].mean(), a, m.sum()))

# subsets: distinct grid rows in grid order, each image identical to the grid's
for path in sys.argv[3:]:
    g = h5py.File(path, "r")
    sx, sf = g["/data"][:, 0], g["/factors"][:]
    idx = [int(np.flatnonzero((want == row).all(1))[0]) for row in sf]
    check(len(sx) == 50 and all(b > a for a, b in zip(idx, idx[1:])), "%s: 50 distinct grid images in grid order" % path.split("/")[-1])
    check(all(np.array_equal(sx[k], x[i]) for k, i in enumerate(idx)), "%s: every image equals the grid's image for its factors" % path.split("/")[-1])
sys.exit(1 if bad else 0)
EOF

# the default grid is dSprites' 3 x 6 x 40 x 32 x 32; a subset of it has the factor values of that grid
"$DSPRITES" -out "$TMP/full.h5" -n 200 -seed 5 >"$TMP/out" || fail "-n 200 of the full grid"
grep -q "wrote 200 of 737280 images" "$TMP/out" || fail "the default grid is not 737,280 images: $(cat "$TMP/out")"
"$PY" - "$TMP/full.h5" <<'EOF' || fail "factor values of the full grid"
import math, sys
import h5py, numpy as np
f = h5py.File(sys.argv[1], "r")["/factors"][:]
def on(col, values):
    return bool(np.all(np.min(np.abs(col[:, None] - np.array(values)[None, :]), 1) < 1e-12))
ok = on(f[:, 0], [1, 2, 3]) and on(f[:, 1], np.linspace(0.5, 1, 6)) and \
     on(f[:, 2], [2 * math.pi * j / 40 for j in range(40)]) and on(f[:, 3], np.linspace(0, 1, 32)) and on(f[:, 4], np.linspace(0, 1, 32))
print("PASS" if ok else "FAIL", "200 of the full grid: shape in {1,2,3}, 6 scales 0.5..1, 40 orientations 2 pi j/40, 32 positions 0..1")
sys.exit(0 if ok else 1)
EOF

# bad options: one line naming the option, exit 2
expect_bad() {
  local want=$1
  shift
  "$DSPRITES" "$@" >"$TMP/o" 2>"$TMP/e" && fail "dsprites $* succeeded"
  rc=$?
  [ "$rc" = 2 ] || fail "dsprites $*: exit $rc, want 2"
  [ "$(wc -l <"$TMP/e")" = 1 ] && grep -q -- "$want" "$TMP/e" || fail "dsprites $*: message '$(cat "$TMP/e")' should name $want"
}
expect_bad "-shapes" -out "$TMP/x.h5" -shapes 4
expect_bad "-n" -out "$TMP/x.h5" $grid -n 601
expect_bad "-out" -n 5
expect_bad "-bogus" -out "$TMP/x.h5" -bogus 1
[ -e "$TMP/x.h5" ] && fail "a refused run left a file"
pass "bad options: one line naming the option, exit 2, no file"
