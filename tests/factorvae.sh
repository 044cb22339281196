#!/bin/bash
# FactorVAE end to end with the published discriminator (six layers of 1000) on the beam MLP:
#  - 1, 2 and 3 ranks run the same training: the noise is keyed by (seed, step, global row), the
#    permutations of the discriminator's batch by (seed, step, latent), and the discriminator is
#    trained data-parallel on the global batch; step 1 differs only in float summation order, so
#    the losses agree to 1e-5 of each column's mean magnitude over 10 steps, 1e-3 over 15 and,
#    as means over 5 steps, 1e-2 over 20 (measured: 1e-4 and 2.2e-3 on 3 ranks), except tc: a
#    mean of logit_0 - logit_1 that nearly cancel (|tc| ~ 0.1 against logits of order 1 through
#    seven layers of 1000), it differs by
#    6e-7 of its magnitude at step 1 and up to 1.3e-5 by step 10 (measured), hence 1e-4 for it,
#    and only over 10 steps: from step 11 the discriminator's Adam amplifies the difference ~10x
#    a step (5M weights, many with gradients near float noise, each moved by +-lr whatever the
#    sign: 1.3e-2 by step 19 on 3 ranks; with -factorvae_disc_lr 1e-12 it stays at 1e-6 over
#    30 steps). A wrong slice or permutation shows at step 1 at 1e-2 or more;
#  - a run restarted from a checkpoint is bit-identical to one that never stopped: the
#    discriminator's weights and its own Adam state (betas 0.5, 0.9) are in the checkpoint.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
train() { # NP DIR ARGS...
  local np=$1 dir=$2
  shift 2
  # gamma 10 as measured above (the options file may pick another point of the study's grid)
  dt "$np" train -options_file "$DT_SRCDIR/inputs/beam-factorvae.opts" -factorvae_gamma 10 -data "$data" -run_dir "$dir" -progress_every 0 "$@" \
    2>>"$TMP/log" || { tail -20 "$TMP/log"; fail "train on $np rank(s): $dir $*"; }
}

for np in 1 2 3; do train "$np" "$TMP/fv-$np" -steps 20; done
head -1 "$TMP/fv-1/history.csv" | grep -q '^step,loss,rec,kl,tc,disc,' || fail "history columns: $(head -1 "$TMP/fv-1/history.csv")"
for np in 2 3; do
  echo "factorvae: 1 rank vs $np ranks"
  compare_histories "$TMP/fv-1/history.csv" "$TMP/fv-$np/history.csv" 10 1 1e-5 "loss rec kl disc" ||
    fail "factorvae 1 vs $np ranks: the first 10 steps differ"
  compare_histories "$TMP/fv-1/history.csv" "$TMP/fv-$np/history.csv" 10 1 1e-4 "tc" ||
    fail "factorvae 1 vs $np ranks: tc of the first 10 steps differs"
  compare_histories "$TMP/fv-1/history.csv" "$TMP/fv-$np/history.csv" 15 1 1e-3 "loss rec kl disc" ||
    fail "factorvae 1 vs $np ranks: the first 15 steps differ"
  compare_histories "$TMP/fv-1/history.csv" "$TMP/fv-$np/history.csv" 20 5 1e-2 "loss rec kl tc disc" ||
    fail "factorvae 1 vs $np ranks: the loss curves differ"
done
# the discriminator learns: its cross-entropy starts near log 2 and falls
awk -F, 'NR == 2 { first = $6 } NR > 1 { last = $6 } END { exit !(first > 0.6 && first < 0.8 && last < first) }' \
  "$TMP/fv-1/history.csv" || fail "discriminator cross-entropy: $(cut -d, -f6 "$TMP/fv-1/history.csv" | tr '\n' ' ')"

split="$TMP/fv-split"
train 2 "$split" -steps 12 -checkpoint_every 10 -checkpoint_keep 1
rm "$split/model.h5"
train 2 "$split" -steps 20 -restart auto
grep -q "restarted from '$split/ckpt-00000010.h5' at step 10" "$TMP/log" || fail "did not restart at step 10"
"$H5DIFF" "$TMP/fv-2/model.h5" "$split/model.h5" /params/discriminator /params/discriminator >/dev/null ||
  fail "no /params/discriminator, or it differs after the restart"
"$H5DIFF" "$TMP/fv-2/model.h5" "$split/model.h5" /params /params || fail "parameters differ after the restart"
"$H5DIFF" "$TMP/fv-2/model.h5" "$split/model.h5" /optim /optim || fail "optimizer state differs after the restart"
cmp -s <(history_losses "$TMP/fv-2/history.csv") <(history_losses "$split/history.csv") || fail "history rows differ after the restart"
pass "factorvae: 1, 2 and 3 ranks agree; 12 + restart at 10 + 10 steps == 20 steps, bit for bit"
