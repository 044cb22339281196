#!/bin/bash
# A file that goes bad while a streamed run is reading it (issue 12): cut to half its size in
# place, as a failed copy or a rewrite leaves it. HDF5 reads the missing part of a plain file back
# as zeros without an error, and fails to decode a compressed one: both must be found. With
# -on_bad_record fail the run stops with one line naming the file (exit 3); with skip it goes on
# without the file, names it in the log and counts it in summary.json, and ends normally. The
# buffer keeps all four files open, so the file is never reopened (where HDF5 itself would see
# the cut): a plain file's cut is found only by the reader's size check after each read.
. "$DT_SRCDIR/tests/lib.sh"
small="-method ae -latents 2 -hidden 16 -batch 20 -sampler epoch -sampler_chunk 8 -io_buffer_mb 8 -progress_every 50"

# train_and_cut DIR CASE OPTIONS...: start a run in the background, and once it has made progress
# cut DIR's part-00002.h5 to half; waits for the run and leaves its exit code in $code
train_and_cut() {
  local data=$1 name=$2
  shift 2
  dt 2 train $small -data "$data/" -run_dir "$TMP/$name" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  local pid=$!
  for _ in $(seq 600); do # the first progress line: the files are open and being read
    grep -q "^disentangle: step [0-9]" "$TMP/$name.err" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  kill -0 $pid 2>/dev/null || { cat "$TMP/$name.err"; fail "$name: the run ended before the file could be cut"; }
  local part="$data/part-00002.h5"
  truncate -s $(($(stat -c %s "$part") / 2)) "$part"
  wait $pid
  code=$?
}

for kind in plain gzip; do
  gz=0
  [ $kind = gzip ] && gz=4
  for mode in fail skip; do
    data="$TMP/$kind-$mode"
    "$BEAMGEN" -out "$data" -files 4 -length 512 -duty_count 200 -chunk_rows 8 -gzip $gz >/dev/null || fail "beamgen"
    steps=100000
    [ $mode = skip ] && steps=6000 # long enough to be cut while running, short enough to end
    train_and_cut "$data" "$kind-$mode" -steps $steps -on_bad_record $mode
    if [ $kind = plain ]; then
      grep -q "part-00002.h5': the file shrank from [0-9]* to [0-9]* bytes while open" "$TMP/$kind-$mode.err" ||
        fail "plain file cut mid-run, $mode: not found by its size: $(grep -v "^disentangle: step" "$TMP/$kind-$mode.err" | head -8)"
    fi
    if [ $mode = fail ]; then
      [ $code -eq 3 ] && grep -q "error: archive '$data/part-00002.h5': .*during the run" "$TMP/$kind-$mode.err" ||
        fail "$kind file cut mid-run, -on_bad_record fail: exit $code, $(grep -v "^disentangle: step" "$TMP/$kind-$mode.err" | head -8)"
      echo "ok: $kind, fail: $(grep error "$TMP/$kind-$mode.err" | head -1)"
    else
      [ $code -eq 0 ] || { tail -5 "$TMP/$kind-$mode.err"; fail "$kind file cut mid-run, -on_bad_record skip: exit $code"; }
      [ "$(json_number "$TMP/$kind-$mode/summary.json" skipped_files)" = 1 ] &&
        grep -q "archive '$data/part-00002.h5': .*during the run: its [0-9]* samples are skipped" "$TMP/$kind-$mode.err" ||
        fail "$kind file cut mid-run, skip: not named or not counted: $(cat "$TMP/$kind-$mode.err")"
      echo "ok: $kind, skip: $(grep "samples are skipped" "$TMP/$kind-$mode.err" | head -1)"
    fi
  done
done
pass "a file cut short during a streamed run is found (plain and compressed), named, and fatal or skipped"
