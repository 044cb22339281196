#!/bin/bash
# Grouped archives (/groups, -sampler grouped) as h5py and the generators write them: bad /groups
# and grouped options are refused with one exact line, exit 2; a grouped run is the same on 1
# and 2 ranks (to rounding) and after a restart (bit for bit), and says what it drew from in summary.json; beamgen
# -groups_per_freq and dsprites -group_factor write groups whose samples share that factor.
. "$DT_SRCDIR/tests/lib.sh"
PY=/usr/bin/python3
: "${DSPRITES:?DSPRITES: path of tools/dsprites}"

$PY - "$TMP" <<'PYEOF' || fail "writing the archives with h5py"
import sys, h5py, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(5)
x = rng.normal(size=(60, 32)).astype("f4")
g = np.repeat(np.arange(12) * 10 - 30, 5)            # 12 groups of 5, negative ids too
rng.shuffle(g)
def write(name, groups=None):
    with h5py.File(f"{d}/{name}.h5", "w") as f:
        f["data"] = x
        if groups is not None: f["groups"] = groups
write("good", g)                                     # h5py: int64
write("int16", g.astype("i2"))
write("floatg", g.astype("f8"))
write("short", g[:59])
write("none")
PYEOF

refuse() { # refuse WHAT LINE ARGS...: exit 2 and exactly the one error line LINE
  local what=$1 line=$2
  shift 2
  dt 2 train -method ae -steps 2 -latents 2 -hidden 8 -run_dir "$TMP/refused" "$@" >/dev/null 2>"$TMP/err"
  local code=$?
  [ $code -eq 2 ] || { cat "$TMP/err"; fail "$what: exit $code, want 2"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$what: not one error line"; }
  [ "$(grep 'disentangle: error:' "$TMP/err")" = "disentangle: error: $line" ] ||
    fail "$what: got '$(grep 'disentangle: error:' "$TMP/err")', want 'disentangle: error: $line'"
  [ ! -e "$TMP/refused/summary.json" ] || fail "$what: summary.json written despite the error"
}
refuse "float /groups" \
  "archive '$TMP/floatg.h5': dataset /groups has type float64; expected integer group ids: int64 (or int8..int32, uint8..uint32)" \
  -data "$TMP/floatg.h5"
refuse "short /groups" \
  "archive '$TMP/short.h5': dataset /groups has shape [59] but /data has 60 samples; expected [60], one group id a sample" \
  -data "$TMP/short.h5"
refuse "missing /groups" \
  "archive '$TMP/none.h5': no dataset /groups; -sampler grouped needs the samples' group ids there (int64 [N])" \
  -data "$TMP/none.h5" -sampler grouped -batch 10 -group_size 5
refuse "/groups in one file of two" \
  "archive '$TMP/none.h5' has no /groups but '$TMP/good.h5' has; either every archive has /groups or none" \
  -data "$TMP/good.h5,$TMP/none.h5"
refuse "batch not whole groups" \
  "option -batch: 12 is not a multiple of -group_size 5; a batch is whole groups of -group_size samples" \
  -data "$TMP/good.h5" -sampler grouped -batch 12 -group_size 5
refuse "too few groups" \
  "archive '$TMP/good.h5': dataset /groups has 12 groups, 0 of them held out (-holdout_groups 0), which leaves 12 for training; a batch needs 13 (-batch 26 / -group_size 2)" \
  -data "$TMP/good.h5" -sampler grouped -batch 26 -group_size 2
refuse "grouped with skipped records" \
  "option -on_bad_record: skip cannot go with -sampler grouped (a skipped sample's stand-in would be of another group); give -on_bad_record fail" \
  -data "$TMP/good.h5" -sampler grouped -batch 10 -group_size 5 -on_bad_record skip
echo "ok: bad /groups and grouped options refused with one exact line, exit 2"

grouped() { # grouped NP NAME [options]: ae on good.h5, batches of 4 groups of 3 (sizes 1, 2, 1 rows on 3 ranks...)
  local np=$1 name=$2
  shift 2
  dt "$np" train -method ae -data "$TMP/good.h5" -sampler grouped -group_size 3 -batch 12 -holdout_groups 0.25 \
    -latents 2 -hidden 8 -progress_every 0 -run_dir "$TMP/$name" "$@" >"$TMP/log" 2>&1 || { cat "$TMP/log"; fail "grouped run $name"; }
}
grouped 1 one -steps 40
grouped 2 two -steps 40
same_rows() { cmp -s <(history_losses "$1") <(history_losses "$2"); }
# the same batches (tests/mpi_groups compares their indices); the sums differ in order only
compare_histories "$TMP/one/history.csv" "$TMP/two/history.csv" 5 1 1e-5 "loss rec" || fail "a grouped run differs on 1 and 2 ranks"
grouped 2 split -steps 20 -checkpoint_every 10
grouped 2 split -steps 40 -restart auto
grep -q "restarted from" "$TMP/log" || fail "the grouped run did not restart"
same_rows "$TMP/two/history.csv" "$TMP/split/history.csv" || fail "a grouped run restarted at step 20 differs from one that was not"
s="$TMP/one/summary.json"
[ "$(json_value "$s" sampler)" = '"grouped"' ] && [ "$(json_value "$s" group_size)" = 3 ] &&
  [ "$(json_value "$s" groups)" = 12 ] || fail "summary.json does not say what the grouped batches were: $(cat "$s")"
held=$(json_value "$s" groups_held_out)
[ "$held" -ge 0 ] && [ "$held" -le 8 ] || fail "summary.json: groups_held_out '$held'"
dt 1 train -method ae -data "$TMP/int16.h5" -sampler grouped -group_size 3 -batch 12 -holdout_groups 0.25 -latents 2 \
  -hidden 8 -progress_every 0 -steps 40 -run_dir "$TMP/int16" >/dev/null 2>&1 || fail "int16 /groups refused"
same_rows "$TMP/one/history.csv" "$TMP/int16/history.csv" || fail "int16 /groups train differently from the same int64 ids"
echo "ok: a grouped run is the same on 1 and 2 ranks, after a restart, and with int16 ids; summary.json says so ($held held out)"

# the generators: groups share the factor, the other factors vary within them
"$BEAMGEN" -out "$TMP/beam.h5" -freqs 10,13,16,19 -duty_count 12 -length 100 -amplitude_spread 0.2 -groups_per_freq 3 \
  >/dev/null || fail "beamgen -groups_per_freq"
"$BEAMGEN" -out "$TMP/parts" -files 4 -freqs 10,13,16,19 -duty_count 12 -length 100 -amplitude_spread 0.2 -groups_per_freq 3 \
  >/dev/null || fail "beamgen -files -groups_per_freq"
"$DSPRITES" -out "$TMP/dsp.h5" -n 3000 -positions 8 -orientations 10 -group_factor scale -groups_per_value 4 >/dev/null ||
  fail "dsprites -group_factor"
$PY - "$TMP" <<'PYEOF' || fail "the generators' groups do not share their factor"
import sys, glob, h5py, numpy as np
d = sys.argv[1]
def check(path, factor, ngroups):
    with h5py.File(path) as f:
        g, fac = f["groups"][:], f["factors"][:]
        names = [n.decode() if isinstance(n, bytes) else n for n in (f["factors"].attrs["names"].decode()
                 if isinstance(f["factors"].attrs["names"], bytes) else f["factors"].attrs["names"]).split(",")]
        assert f["groups"].dtype == np.int64, f["groups"].dtype
        shared = f["groups"].attrs["factor"]
        assert (shared.decode() if isinstance(shared, bytes) else shared) == factor, shared
    k = names.index(factor)
    assert len(np.unique(g)) == ngroups, (path, len(np.unique(g)), ngroups)
    for gid in np.unique(g):
        rows = fac[g == gid]
        assert len(np.unique(rows[:, k])) == 1, f"{path}: group {gid} has {factor} values {np.unique(rows[:, k])}"
        assert all(len(np.unique(rows[:, j])) > 1 for j in range(fac.shape[1]) if j != k), \
            f"{path}: group {gid}: a factor other than {factor} is constant"
    return g
g = check(f"{d}/beam.h5", "frequency", 4 * 3)
parts = sorted(glob.glob(f"{d}/parts/part-*.h5"))
assert len(parts) == 4
assert np.array_equal(np.concatenate([h5py.File(p)["groups"][:] for p in parts]), g), "-files parts: ids not global"
check(f"{d}/dsp.h5", "scale", 6 * 4)
PYEOF
dt 2 train -method ae -data "$TMP/parts/" -sampler grouped -group_size 4 -batch 8 -steps 5 -latents 2 -hidden 8 \
  -progress_every 0 -run_dir "$TMP/parts_run" >/dev/null 2>&1 || fail "a grouped run on beamgen's parts"
"$DSPRITES" -out "$TMP/x.h5" -group_factor colour 2>"$TMP/err" >/dev/null
[ $? -eq 2 ] && grep -q -F "option -group_factor: 'colour' is not valid; expected one of shape, scale, orientation, pos_x, pos_y" "$TMP/err" ||
  fail "dsprites -group_factor colour: $(cat "$TMP/err")"
"$BEAMGEN" -out "$TMP/x.h5" -duty_count 4 -groups_per_freq 5 2>"$TMP/err" >/dev/null
[ $? -eq 2 ] && grep -q -F "option -groups_per_freq: '5' is not valid; expected at most -duty_count = 4" "$TMP/err" ||
  fail "beamgen -groups_per_freq 5 -duty_count 4: $(cat "$TMP/err")"
echo "ok: beamgen -groups_per_freq and dsprites -group_factor write groups sharing their factor (ids global over -files)"
