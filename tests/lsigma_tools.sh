#!/bin/bash
# The L_Sigma experiments' tools: tools/lingauss writes the paper's x = Omega z archive (shapes,
# factors, deterministic from its seeds, bad options exit 2), and tools/xor_lsigma reproduces the
# paper's XOR finding on 3 seeds: with L_Sigma lambda = 0.2 on both hidden layers of 4 logistic
# units, 2 units of layer 1 and 1 of layer 2 stay active (10 of 10 seeds measured), without it
# all 4 of each; XOR solved either way.
. "$DT_SRCDIR/tests/lib.sh"
tools=$(dirname "$DT_BIN")/../tools
"$tools/lingauss" -out "$TMP/a.h5" -n 500 -dim 12 -omega_seed 3 >/dev/null || fail "lingauss"
"$tools/lingauss" -out "$TMP/b.h5" -n 500 -dim 12 -omega_seed 3 >/dev/null || fail "lingauss again"
"$tools/lingauss" -out "$TMP/c.h5" -n 500 -dim 12 -omega_seed 4 >/dev/null || fail "lingauss, other Omega"
/usr/bin/python3 - "$TMP" <<'PY' || fail "lingauss archives"
import sys, h5py, numpy as np
t = sys.argv[1]
a, b, c = (h5py.File(f"{t}/{n}.h5", "r") for n in "abc")
assert a["/data"].shape == (500, 12) and a["/factors"].shape == (500, 4), "shapes"
assert np.array_equal(a["/data"][...], b["/data"][...]), "not deterministic"
assert not np.allclose(a["/data"][...], c["/data"][...]), "-omega_seed changes nothing"
x, z, om = a["/data"][...], a["/factors"][...], a["/omega"][...]
assert np.allclose(x, z @ om.T, atol=1e-12), "x is not Omega z"
v = z.var(axis=0)
assert np.all(np.abs(v / np.array([4, 3, 2, 1]) - 1) < 0.2), f"factor variances {v}"
print("lingauss: x = Omega z, factor variances", np.round(v, 2))
PY
"$tools/lingauss" -out "$TMP/d.h5" -dim 2 >"$TMP/out" 2>&1
[ $? = 2 ] && grep -q "option -dim" "$TMP/out" || fail "lingauss -dim below the factors: $(cat "$TMP/out")"
[ ! -e "$TMP/d.h5" ] || fail "lingauss wrote an archive after a bad option"

for lambda in 0.2 0; do
  timeout 120 "$MPIEXEC" -n 1 "$tools/xor_lsigma" -lambda $lambda -seeds 3 >"$TMP/xor-$lambda" || fail "xor_lsigma -lambda $lambda"
  cat "$TMP/xor-$lambda"
done
# columns: seed loss acc units1 dims1 units2 dims2 ...
awk 'NR > 2 { n++; if ($3 == 1 && $4 == 2 && $6 == 1) ok++ } END { exit !(n == 3 && ok == 3) }' "$TMP/xor-0.2" ||
  fail "XOR with L_Sigma 0.2: not 2 + 1 active units with accuracy 1 on every seed"
awk 'NR > 2 { n++; if ($3 == 1 && $4 == 4 && $6 == 4) ok++ } END { exit !(n == 3 && ok == 3) }' "$TMP/xor-0" ||
  fail "XOR without L_Sigma: not 4 + 4 active units with accuracy 1 on every seed"
pass "lingauss archives; XOR with L_Sigma keeps 2 + 1 units, without it 4 + 4"
