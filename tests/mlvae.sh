#!/bin/bash
# ML-VAE end to end on a grouped beam archive (beamgen -groups_per_freq: a group's waveforms
# share the gate frequency; inputs/beam-mlvae.opts: 2 content + 2 style latents, groups of 4):
#  - 1 and 2 ranks train the same model: a group's rows may sit on both ranks (the batch is cut
#    by rows, not by groups), its evidence and its gradient are summed over ranks, so the runs
#    differ only in float summation order (the tolerances of tests/strkm.sh);
#  - a restart from a checkpoint is bit-identical to a run that never stopped;
#  - eval: the factor the groups share (frequency) is predicted from the content latents with
#    accuracy >= 0.9 and better than from the style latents, on rows of training groups disjoint
#    from the classifier's, AND on the groups held out of training (-holdout_groups 0.2: measured
#    content 1.0, style 0.64-0.73, chance 0.26-0.29 at 600 steps); the held-out groups'
#    reconstruction error is within 1.5x of the training groups' (measured 1.03x);
#  - metrics.json is the same, to the last digit, from 1 and from 2 ranks;
#  - latents.h5 /swap: 6 samples of distinct groups, content and style swapped; changing either
#    changes the decoded waveform; the report draws the 36 cells.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive grouped -seed 1 -groups_per_freq 20)
train() { # NP DIR ARGS...
  local np=$1 dir=$2
  shift 2
  dt "$np" train -options_file "$DT_SRCDIR/inputs/beam-mlvae.opts" -data "$data" -run_dir "$dir" -progress_every 0 \
    -holdout_groups 0.2 "$@" 2>>"$TMP/log" || { tail -20 "$TMP/log"; fail "train on $np rank(s): $dir $*"; }
}

for np in 1 2; do train "$np" "$TMP/ml-$np" -steps 600; done
head -1 "$TMP/ml-1/history.csv" | grep -q '^step,loss,rec,kl_style,kl_content,' || fail "history columns: $(head -1 "$TMP/ml-1/history.csv")"
compare_histories "$TMP/ml-1/history.csv" "$TMP/ml-2/history.csv" 10 1 1e-5 "loss rec kl_style kl_content" ||
  fail "mlvae 1 vs 2 ranks: the first 10 steps differ"
compare_histories "$TMP/ml-1/history.csv" "$TMP/ml-2/history.csv" 600 50 2e-2 "loss rec kl_style kl_content" ||
  fail "mlvae 1 vs 2 ranks: the loss curves differ"
[ "$(json_number "$TMP/ml-1/summary.json" groups)" = 60 ] || fail "summary.json: groups is not 60"
held=$(json_number "$TMP/ml-1/summary.json" groups_held_out)
[ "$held" -ge 1 ] && [ "$held" -le 30 ] || fail "summary.json: groups_held_out $held; expected a share near 0.2 of 60"

split="$TMP/ml-split"
rm -rf "$split"
train 2 "$split" -steps 300 -checkpoint_every 250 -checkpoint_keep 1
rm "$split/model.h5"
train 2 "$split" -steps 600 -restart auto
"$H5DIFF" "$TMP/ml-2/model.h5" "$split/model.h5" /params /params || fail "parameters differ after the restart"
"$H5DIFF" "$TMP/ml-2/model.h5" "$split/model.h5" /optim /optim || fail "optimizer state differs after the restart"
cmp -s <(history_losses "$TMP/ml-2/history.csv") <(history_losses "$split/history.csv") || fail "history rows differ after the restart"
echo "ok: 300 + restart at 250 + 350 steps == 600 steps, bit for bit"

run="$TMP/ml-2"
dt 2 eval -run_dir "$run" -metric_train 1000 -metric_eval 500 >"$TMP/table" 2>"$TMP/err" || { cat "$TMP/err"; fail "eval"; }
m="$run/metrics.json"
grep 'group' "$TMP/err"
cp "$m" "$TMP/metrics-2.json"
dt 1 eval -run_dir "$run" -metric_train 1000 -metric_eval 500 >/dev/null 2>"$TMP/err" || { cat "$TMP/err"; fail "eval on 1 rank"; }
cmp -s "$m" "$TMP/metrics-2.json" || fail "metrics.json differs between 1 and 2 ranks: $(diff "$m" "$TMP/metrics-2.json" | head -4)"
[ "$(json_number "$m" group_factor)" = 0 ] || fail "the shared factor found is $(json_number "$m" group_factor); frequency is 0"
[ "$(json_number "$m" group_content_latents)" = 2 ] || fail "group_content_latents is not 2"
awk -v c="$(json_number "$m" group_content_accuracy)" -v s="$(json_number "$m" group_style_accuracy)" \
  -v ch="$(json_number "$m" group_content_accuracy_heldout)" -v sh="$(json_number "$m" group_style_accuracy_heldout)" \
  -v chance="$(json_number "$m" group_chance)" 'BEGIN { exit !(c >= 0.9 && c > s && ch >= 0.9 && ch > sh && chance < 0.5) }' ||
  fail "the shared factor is not found in the content latents: $(grep '"group_' "$m" | tr -d '\n ')"
awk -v t="$(json_number "$m" group_rec_mse_train)" -v h="$(json_number "$m" group_rec_mse_heldout)" \
  'BEGIN { exit !(t > 0 && h > 0 && h < 1.5 * t) }' || fail "held-out groups reconstruct worse than 1.5x the training groups"
[ "$(json_number "$m" group_heldout_samples)" -gt 0 ] || fail "no held-out samples in metrics.json"

/usr/bin/python3 - "$run/latents.h5" "$data" <<'PY' || fail "latents.h5 /swap"
import sys, h5py, numpy as np
e, a = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
s, rows = e["swap"][...], e["swap_rows"][...].astype(int)
assert s.shape == (6, 6, 1000), s.shape
assert e.attrs["swap_content"] == 2
g = a["groups"][...][rows]
assert len(set(g)) == 6, ("swap samples not from distinct groups", g)
d = lambda x, y: float(np.abs(x - y).mean())
# a row keeps the content, a column the style: both halves of the latent change the output
assert min(d(s[i, j], s[i, k]) for i in range(6) for j in range(6) for k in range(j)) > 0, "style changes nothing"
assert min(d(s[i, j], s[k, j]) for j in range(6) for i in range(6) for k in range(i)) > 0, "content changes nothing"
print("ok: /swap 6 x 6 from groups", list(g))
PY
dt 1 report -run_dir "$run" 2>"$TMP/err" || { cat "$TMP/err"; fail "report"; }
page="$run/report.html"
grep -q '<h2>Content and style swapped</h2>' "$page" && [ "$(sed -n '/^<svg id="fig-swap"/,/^<\/svg>/p' "$page" | grep -c 'class="wv"')" -eq 36 ] ||
  fail "the report does not draw the 36 swapped waveforms"

# options that cannot work: one line, exit 2
dt 1 train -options_file "$DT_SRCDIR/inputs/beam-mlvae.opts" -data "$data" -run_dir "$TMP/bad" -steps 2 -batch 102 2>"$TMP/err"
[ $? -eq 2 ] && grep -q -- "-group_size" "$TMP/err" || fail "-batch 102 with -group_size 4: $(cat "$TMP/err")"
plain=$(beam_archive plain -seed 1)
dt 1 train -options_file "$DT_SRCDIR/inputs/beam-mlvae.opts" -data "$plain" -run_dir "$TMP/bad2" -steps 2 2>"$TMP/err"
[ $? -eq 2 ] && grep -q "/groups" "$TMP/err" || fail "an archive without /groups: $(cat "$TMP/err")"
pass "mlvae: 1 and 2 ranks agree; restart bit for bit; the shared factor is in the content latents, held-out groups too; swap figure"
