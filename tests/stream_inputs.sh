#!/bin/bash
# Many archives as users have them (issue 12): thousands of small h5py files of different lengths
# (chunked, gzip + shuffle, variable-length UTF-8 factor names) given as a directory, a glob or
# a manifest train the same run, in memory and streamed; bad records are found as they are
# read (-on_bad_record fail: one line naming file and sample; skip: named in the log, counted in
# summary.json); a chunk that cannot be decoded is found during the run and named; beamgen
# writes long windows into many chunked, compressed files.
. "$DT_SRCDIR/tests/lib.sh"
PY=/usr/bin/python3

$PY - "$TMP" <<'PYEOF' || fail "writing the archives with h5py"
import os, sys, h5py, numpy as np
d = sys.argv[1]
os.makedirs(f"{d}/many")
rng = np.random.default_rng(4)
names = np.array(["période", "gain"], dtype=h5py.string_dtype("utf-8"))
first = 0
for k in range(2000):
    n = 1 + k % 5                       # files of 1 to 5 samples
    i = np.arange(first, first + n)
    x = np.sin(0.05 * i[:, None] * (1 + np.arange(32)[None, :] % 4)).astype("f4")
    with h5py.File(f"{d}/many/w{k:05d}.h5", "w") as f:
        f.create_dataset("data", data=x, chunks=(1, 32), compression="gzip", shuffle=True)
        f.create_dataset("factors", data=np.stack([i % 7, i % 3], axis=1).astype("f8"))
        f["factors"].attrs["names"] = names
    first += n
with open(f"{d}/list.txt", "w") as m:
    m.write("# every archive, relative to this file\n")
    for k in range(2000):
        m.write(f"many/w{k:05d}.h5\n")
# bad records: NaN in two samples of two files; a file whose second chunk cannot be decoded
os.makedirs(f"{d}/bad")
for k in range(6):
    x = np.cos(0.1 * np.arange(10 * k, 10 * k + 10)[:, None] + np.arange(32)[None, :]).astype("f4")
    if k == 1: x[3, 7] = np.nan
    if k == 4: x[9, 0] = np.inf
    with h5py.File(f"{d}/bad/b{k}.h5", "w") as f:
        ds = f.create_dataset("data", data=x, chunks=(2, 32), compression="gzip", shuffle=True)
        ds.attrs["mean"] = 0.0
        ds.attrs["std"] = 0.7
import shutil
shutil.copytree(f"{d}/bad", f"{d}/broken")
for k in (1, 4):   # the broken copy has no NaN, but b2.h5 has a damaged chunk
    with h5py.File(f"{d}/broken/b{k}.h5", "r+") as f:
        f["data"][...] = np.nan_to_num(f["data"][...], nan=0.0, posinf=0.0)
with h5py.File(f"{d}/broken/b2.h5", "r") as f:
    info = f["data"].id.get_chunk_info(1)
with open(f"{d}/broken/b2.h5", "r+b") as f:
    f.seek(info.byte_offset)
    f.write(b"\xff" * info.size)
PYEOF

small="-method ae -steps 20 -batch 40 -latents 2 -hidden 16 -progress_every 0"
train() { # train NAME NP ARGS...
  local name=$1 np=$2
  shift 2
  dt "$np" train $small -run_dir "$TMP/$name" "$@" >/dev/null 2>"$TMP/$name.err" || { cat "$TMP/$name.err"; fail "$name: train $*"; }
}
start=$(date +%s.%N)
train dir 2 -data "$TMP/many/"
secs=$(echo "$(date +%s.%N) - $start" | bc)
echo "ok: 2000 files as a directory: $(grep -o '[0-9]* samples' "$TMP/dir.err" | head -1) in ${secs}s (set-up, 20 steps, summary)"
[ "$(json_number "$TMP/dir/summary.json" skipped_records)" = 0 ] || fail "records skipped in good archives"
train glob 2 -data "$TMP/many/w*.h5"
train manifest 2 -data "@$TMP/list.txt"
train streamed 2 -data "@$TMP/list.txt" -io_buffer_mb 4
train epoch1 1 -data "$TMP/many/" -io_buffer_mb 4 -sampler epoch -sampler_chunk 8
train epoch2 2 -data "$TMP/many/" -io_buffer_mb 4 -sampler epoch -sampler_chunk 8
for t in glob manifest streamed; do
  cmp -s <(history_losses "$TMP/dir/history.csv") <(history_losses "$TMP/$t/history.csv") ||
    fail "$t: not the same run as the directory in memory"
done
echo "ok: directory, glob, manifest and streamed (4 MB buffer) train the same run, bit for bit"
compare_histories "$TMP/epoch1/history.csv" "$TMP/epoch2/history.csv" 10 1 1e-5 "loss rec" ||
  fail "-sampler epoch streamed: 1 and 2 ranks differ"
echo "ok: -sampler epoch, streamed: 1 and 2 ranks see the same global batches"

refuse() { # refuse WHAT CODE TEXT ARGS...
  local what=$1 want=$2 text=$3
  shift 3
  dt 2 train $small -run_dir "$TMP/refused" "$@" >/dev/null 2>"$TMP/err"
  local code=$?
  [ $code -eq "$want" ] || { cat "$TMP/err"; fail "$what: exit $code, want $want"; }
  [ "$(grep -c 'disentangle: error:' "$TMP/err")" -eq 1 ] || { cat "$TMP/err"; fail "$what: not one error line"; }
  grep -q -F -- "$text" "$TMP/err" || fail "$what: message lacks '$text': $(cat "$TMP/err")"
  ! grep -q -i 'traceback\|PETSC ERROR' "$TMP/err" || fail "$what: a traceback"
  echo "ok: $what -> $(grep 'disentangle: error:' "$TMP/err")"
  rm -rf "$TMP/refused"
}
mkdir "$TMP/empty"
refuse "a directory without archives" 2 "holds no *.h5" -data "$TMP/empty/"
refuse "a glob matching nothing" 2 "matches no file" -data "$TMP/many/z*.h5"
refuse "a missing manifest" 2 "manifest '$TMP/none.txt'" -data "@$TMP/none.txt"
refuse "an archive in the manifest and again" 2 "is listed twice (entries 1 and 2001)" -data "@$TMP/list.txt,$TMP/many/w00000.h5"
# streamed, the first bad record read is the one named (which one depends on the epoch's order)
refuse "a bad record, streamed, -on_bad_record fail" 2 "/data sample" -data "$TMP/bad/" -io_buffer_mb 2 -sampler epoch -batch 20
grep -q -E "b1.h5': /data sample 3 \(global sample 13\) holds NaN at value 7|b4.h5': /data sample 9 \(global sample 49\) holds Inf at value 0" \
  "$TMP/err" || fail "streamed bad record: not named: $(cat "$TMP/err")"
refuse "a NaN record, in memory" 2 "b1.h5': /data sample 3 (global sample 13) holds NaN at value 7" -data "$TMP/bad/"
refuse "an undecodable chunk, streamed" 3 "b2.h5': cannot read /data" -data "$TMP/broken/" -io_buffer_mb 2 -sampler epoch -batch 20

for mode in "-io_buffer_mb 2" ""; do
  rm -rf "$TMP/skip"
  dt 2 train $small -batch 20 -run_dir "$TMP/skip" -data "$TMP/bad/" -sampler epoch -on_bad_record skip $mode \
    >/dev/null 2>"$TMP/skip.err" || { cat "$TMP/skip.err"; fail "skip ($mode): training failed"; }
  [ "$(json_number "$TMP/skip/summary.json" skipped_records)" = 2 ] ||
    fail "skip ($mode): skipped_records $(json_number "$TMP/skip/summary.json" skipped_records), want 2"
  grep -q "skipped bad record.*b1.h5': /data sample 3 (global sample 13) holds NaN" "$TMP/skip.err" &&
    grep -q "skipped bad record.*b4.h5': /data sample 9 (global sample 49) holds Inf" "$TMP/skip.err" ||
    fail "skip ($mode): the bad records are not named in the log: $(cat "$TMP/skip.err")"
  echo "ok: -on_bad_record skip ${mode:-in memory}: 2 records skipped, named, counted"
done
rm -rf "$TMP/skip"
dt 2 train $small -batch 20 -run_dir "$TMP/skip" -data "$TMP/broken/" -io_buffer_mb 2 -sampler epoch -on_bad_record skip \
  >/dev/null 2>"$TMP/skip.err" || { cat "$TMP/skip.err"; fail "skip: a damaged chunk stopped the run"; }
[ "$(json_number "$TMP/skip/summary.json" skipped_files)" = 1 ] && grep -q "b2.h5': cannot read /data.*skipped" "$TMP/skip.err" ||
  fail "a damaged chunk with skip: not reported by name or not counted: $(cat "$TMP/skip.err")"
echo "ok: a file found unreadable during the run is named and skipped"

# beamgen: long windows, many files of different lengths, chunked and compressed
"$BEAMGEN" -out "$TMP/beams" -files 4 -length 25000 -duty_count 6 -freqs 10,20 -chunk_rows 2 -gzip 4 >/dev/null ||
  fail "beamgen -files 4 -length 25000"
[ "$(ls "$TMP/beams" | wc -l)" = 4 ] || fail "beamgen -files 4: $(ls "$TMP/beams")"
h5dump -H -p "$TMP/beams/part-00001.h5" >"$TMP/h5dump" || fail "h5dump"
grep -q "CHUNKED ( 2, 25000 )" "$TMP/h5dump" && grep -q "DEFLATE { LEVEL 4 }" "$TMP/h5dump" && grep -q SHUFFLE "$TMP/h5dump" ||
  fail "beamgen parts not chunked/compressed: $(cat "$TMP/h5dump")"
sizes=$(for f in "$TMP"/beams/*.h5; do h5dump -H "$f" | sed -n 's/.*DATASPACE  SIMPLE { ( \([0-9]*\), 25000 ).*/\1/p' | head -1; done | tr '\n' ' ')
[ "$sizes" = "1 4 5 2 " ] || fail "beamgen parts of 12 waveforms: $sizes samples; want 1 4 5 2 (weights 1:2:3:1)"
train beams 2 -data "$TMP/beams/" -io_buffer_mb 8 -batch 4 -steps 3
echo "ok: beamgen -files 4 -length 25000 -chunk_rows 2 -gzip 4 (parts of $sizes samples) trains streamed"
pass "directories, globs, manifests, thousands of files; bad records found as read; beamgen parts"
