#!/bin/bash
# Bounded memory (issue 12): on an archive of 96 MB (12 beamgen files, windows of 8000 samples)
# a streamed run with -io_buffer_mb 16 peaks (summary.json peak_rss_mb: getrusage's maximum
# resident set, the largest of the ranks) far below the same run holding the archive in memory,
# within the buffer and a fixed allowance of what the program needs besides the data; so does
# eval of that model, streamed, with the same results; a buffer that cannot hold two batches is
# refused.
. "$DT_SRCDIR/tests/lib.sh"
"$BEAMGEN" -out "$TMP/big" -files 12 -length 8000 -duty_count 1000 -chunk_rows 8 >/dev/null || fail "beamgen"
small="-method ae -steps 30 -batch 20 -latents 2 -hidden 16 -progress_every 0 -sampler epoch -sampler_chunk 8"
for run in "memory 0" "streamed 16"; do
  set -- $run
  dt 1 train $small -data "$TMP/big/" -run_dir "$TMP/$1" -io_buffer_mb "$2" >/dev/null 2>"$TMP/$1.err" ||
    { cat "$TMP/$1.err"; fail "$1 run"; }
done
mem=$(json_number "$TMP/memory/summary.json" peak_rss_mb)
str=$(json_number "$TMP/streamed/summary.json" peak_rss_mb)
echo "peak RSS: in memory $mem MB, streamed (-io_buffer_mb 16) $str MB, archive 96 MB"
# the in-memory run less its 96 MB of samples is what the program needs besides the data; the
# streamed run may add the buffer and 25 MB (prefetch thread, open files, HDF5's own state)
awk -v m="$mem" -v s="$str" 'BEGIN { exit !(s <= m - 96 + 16 + 25) }' ||
  fail "streamed peak $str MB exceeds the in-memory run's $mem MB - 96 MB of samples + 16 MB buffer + 25 MB"
cmp -s <(history_losses "$TMP/memory/history.csv") <(history_losses "$TMP/streamed/history.csv") ||
  fail "the streamed run differs from the in-memory run"
echo "ok: streamed peak RSS $str MB vs $mem MB in memory, the same history"
# eval streams too (-io_buffer_mb of its own): the model evaluated in memory and streamed gives
# the same metrics.json and latents.h5, and the streamed eval's peak obeys the same bound
for ev in "memory 0" "streamed 16"; do
  set -- $ev
  dt 1 eval -run_dir "$TMP/memory" -io_buffer_mb "$2" -metric_train 300 -metric_eval 200 >/dev/null 2>"$TMP/eval-$1.err" ||
    { cat "$TMP/eval-$1.err"; fail "eval, $1"; }
  mv "$TMP/memory/metrics.json" "$TMP/metrics-$1.json" && mv "$TMP/memory/latents.h5" "$TMP/latents-$1.h5" ||
    fail "eval ($1) wrote no metrics.json or latents.h5"
done
cmp -s "$TMP/metrics-memory.json" "$TMP/metrics-streamed.json" || fail "eval: streamed metrics differ from in memory"
h5diff "$TMP/latents-memory.h5" "$TMP/latents-streamed.h5" >/dev/null || fail "eval: streamed latents differ from in memory"
peak() { sed -n 's/.*peak memory \([0-9]*\) MB per rank.*/\1/p' "$TMP/eval-$1.err"; }
emem=$(peak memory) estr=$(peak streamed)
[ -n "$emem" ] && [ -n "$estr" ] || fail "eval did not report its peak memory: $(cat "$TMP/eval-streamed.err")"
awk -v m="$emem" -v s="$estr" 'BEGIN { exit !(s <= m - 96 + 16 + 25) }' ||
  fail "streamed eval peak $estr MB exceeds the in-memory eval's $emem MB - 96 MB of samples + 16 MB buffer + 25 MB"
echo "ok: eval streamed: peak $estr MB vs $emem MB in memory, the same metrics.json and latents.h5"
dt 2 train $small -batch 40 -data "$TMP/big/" -run_dir "$TMP/refused" -io_buffer_mb 1 >/dev/null 2>"$TMP/err"
code=$?
[ $code -eq 2 ] && grep -q "option -io_buffer_mb: 1 MB cannot hold two batches of 20 samples of 8000 values" "$TMP/err" ||
  fail "a 1 MB buffer: exit $code, $(cat "$TMP/err")"
echo "ok: $(grep error "$TMP/err")"
pass "a streamed run's memory is bounded by -io_buffer_mb, not by the archive"
