#!/bin/bash
# St-RKM end to end on the beam MLP (inputs/beam-strkm.opts):
#  - 1, 2 and 3 ranks run the same training: the features are centred over the GLOBAL batch
#    (its mean and the centring's gradient are sums over ranks) and U gets the summed gradient,
#    so step 1 differs only in float summation order; the losses agree to 1e-5 of each column's
#    mean magnitude over 10 steps and, as means over 25 steps, to 1e-2 over 200, and the final
#    nets to the 1-vs-2-rank tolerance of tests/parallel_consistency.sh (6e-2 relative L2;
#    measured 8e-3), U to 1e-5 (measured 9e-7);
#  - U stays on the Stiefel manifold: ||U^T U - I||_F (history column ortho) below 1e-5 over
#    10^4 steps of Cayley Adam at a learning rate 100 times the published one (a small net, so
#    that it takes seconds);
#  - a run restarted from a checkpoint is bit-identical to one that never stopped: U, its
#    Cayley Adam state (m, v, t) and the running feature mean are in the checkpoint by name;
#  - eval encodes with the head (U^T (phi - mean)) and decodes traversals through U h, and
#    draws generated samples (latents from the Gaussian fitted to the encoded data) that the
#    report shows;
#  - options that cannot work are refused with one line and exit 2.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
train() { # NP DIR ARGS...
  local np=$1 dir=$2
  shift 2
  dt "$np" train -options_file "$DT_SRCDIR/inputs/beam-strkm.opts" -data "$data" -run_dir "$dir" -progress_every 0 "$@" \
    2>>"$TMP/log" || { tail -20 "$TMP/log"; fail "train on $np rank(s): $dir $*"; }
}

for np in 1 2 3; do train "$np" "$TMP/sk-$np" -steps 200; done
head -1 "$TMP/sk-1/history.csv" | grep -q '^step,loss,rec,pca,ortho,' || fail "history columns: $(head -1 "$TMP/sk-1/history.csv")"
for np in 2 3; do
  echo "strkm: 1 rank vs $np ranks"
  compare_histories "$TMP/sk-1/history.csv" "$TMP/sk-$np/history.csv" 10 1 1e-5 "loss rec pca" ||
    fail "strkm 1 vs $np ranks: the first 10 steps differ"
  compare_histories "$TMP/sk-1/history.csv" "$TMP/sk-$np/history.csv" 200 25 1e-2 "loss rec pca" ||
    fail "strkm 1 vs $np ranks: the loss curves differ"
  "$MODELDIFF" "$TMP/sk-1/model.h5" "$TMP/sk-$np/model.h5" -tol 6e-2 -nets encoder,decoder ||
    fail "strkm 1 vs $np ranks: final encoder/decoder differ by more than 6e-2 relative"
  "$MODELDIFF" "$TMP/sk-1/model.h5" "$TMP/sk-$np/model.h5" -tol 1e-5 -nets stiefel >/dev/null ||
    fail "strkm 1 vs $np ranks: U differs by more than 1e-5 relative (measured 9e-7)"
done
# it learns: the loss and the PCA error fall
awk -F, 'NR == 2 { l = $2; p = $4 } NR > 1 { ll = $2; lp = $4 } END { exit !(ll < l / 4 && lp < p / 4) }' "$TMP/sk-1/history.csv" ||
  fail "strkm does not learn: $(sed -n '2p;$p' "$TMP/sk-1/history.csv")"

long="$TMP/sk-long"
train 1 "$long" -steps 10000 -hidden 20 -batch 10 -strkm_features 10 -strkm_lr_stiefel 1e-2
worst=$(awk -F, 'NR > 1 && $5 > m { m = $5 } END { printf "%.3g", m }' "$long/history.csv")
awk -v w="$worst" 'BEGIN { exit !(w > 0 && w < 1e-5) }' || fail "||U^T U - I||_F reached $worst within 10^4 steps"
[ "$(wc -l <"$long/history.csv")" -eq 10001 ] || fail "the long run has $(wc -l <"$long/history.csv") history lines"
echo "ok: 10^4 steps, ||U^T U - I||_F at most $worst"

split="$TMP/sk-split"
for np in 1 2; do
  rm -rf "$split"
  train "$np" "$split" -steps 60 -checkpoint_every 25 -checkpoint_keep 1
  rm "$split/model.h5"
  train "$np" "$split" -steps 200 -restart auto
  grep -q "restarted from '$split/ckpt-00000050.h5' at step 50" "$TMP/log" || fail "did not restart at step 50"
  for obj in /params/stiefel/U /optim/stiefel/U.m /optim/stiefel/U.v /params/stiefel_stats/feature_mean; do
    "$H5DIFF" "$TMP/sk-$np/model.h5" "$split/model.h5" "$obj" "$obj" >/dev/null || fail "no $obj, or it differs after the restart"
  done
  "$H5DIFF" "$TMP/sk-$np/model.h5" "$split/model.h5" /params /params || fail "$np rank(s): parameters differ after the restart"
  "$H5DIFF" "$TMP/sk-$np/model.h5" "$split/model.h5" /optim /optim || fail "$np rank(s): optimizer state differs after the restart"
  cmp -s <(history_losses "$TMP/sk-$np/history.csv") <(history_losses "$split/history.csv") ||
    fail "$np rank(s): history rows differ after the restart"
  echo "ok: strkm on $np rank(s): 60 + restart at 50 + 150 steps == 200 steps, bit for bit"
done

dt 2 eval -run_dir "$TMP/sk-2" -metric_train 1000 -metric_eval 500 >"$TMP/table" 2>"$TMP/err" || { cat "$TMP/err"; fail "eval"; }
[ -f "$TMP/sk-2/latents.h5" ] && grep -q '"mig"' "$TMP/sk-2/metrics.json" || fail "eval wrote no latents.h5/metrics.json"
# generation by sampling the latent: 8 decoded draws in latents.h5 and in the report
h5ls "$TMP/sk-2/latents.h5/generated" | grep -q '{8, 1000}' || fail "latents.h5 has no /generated [8, 1000]"
dt 1 report -run_dir "$TMP/sk-2" 2>"$TMP/err" || { cat "$TMP/err"; fail "report"; }
page="$TMP/sk-2/report.html"
grep -q '<h2>Generated samples</h2>' "$page" && [ "$(sed -n '/^<svg id="fig-generated"/,/^<\/svg>/p' "$page" | grep -c 'class="wv"')" -eq 8 ] ||
  fail "the report does not draw the 8 generated waveforms"
dt 1 eval -run_dir "$TMP/sk-2" -layer decoder.dense0 -metric_train 100 -metric_eval 100 >/dev/null 2>"$TMP/err" ||
  { cat "$TMP/err"; fail "eval -layer decoder.dense0"; }

for bad in "-latents 60:-strkm_features" "-strkm_variant splitloss:-strkm_variant" "-strkm_lr_stiefel 0:-strkm_lr_stiefel"; do
  args=${bad%%:*} name=${bad##*:}
  dt 1 train -options_file "$DT_SRCDIR/inputs/beam-strkm.opts" -data "$data" -run_dir "$TMP/bad" -steps 2 $args 2>"$TMP/err"
  rc=$?
  [ $rc -eq 2 ] && grep -q -- "$name" "$TMP/err" || fail "$args: exit $rc, $(cat "$TMP/err")"
done
pass "strkm: 1, 2 and 3 ranks agree; U orthonormal to 1e-5 over 10^4 steps; restart bit for bit; eval"
