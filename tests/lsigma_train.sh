#!/bin/bash
# The regularisers any method takes (-lsigma_lambda, -l1_lambda on -lsigma_layers) through the
# real program: -help lists them, bad layer names are one clear line and exit 2, the history
# reports them by name, and 1 and 2 ranks train the same model (the covariance is over the
# GLOBAL batch: a per-rank covariance would differ at step 1 by far more than 1e-5).
#
# Tolerances: step 1..10 agree to ~2e-7 (measured); after that the signs in both gradients
# (sign C_ij, sign h) turn float32 summation-order differences into small jumps, so 20-step
# means of the later steps differ by up to ~3e-3 (measured); a per-rank covariance or a missed
# allreduce shows at step 1 at 1e-2 or more.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)

"$DT_BIN" train -help >"$TMP/help" 2>&1
for opt in -lsigma_lambda -l1_lambda -lsigma_layers -head; do
  grep -q -- "^ *$opt " "$TMP/help" || fail "train -help does not list $opt"
done

bad() { # bad WHAT EXPECTED-MESSAGE ARGS...: exit 2 with one line naming the option
  local what=$1 want=$2
  shift 2
  dt 1 train -data "$data" -run_dir "$TMP/bad" -steps 1 -progress_every 0 "$@" >"$TMP/out" 2>&1
  local rc=$?
  [ $rc = 2 ] || { cat "$TMP/out"; fail "$what: exit $rc, not 2"; }
  grep -q -- "$want" "$TMP/out" || { cat "$TMP/out"; fail "$what: no message '$want'"; }
  [ ! -e "$TMP/bad/history.csv" ] || fail "$what: history.csv written"
}
bad "unknown layer" "option -lsigma_layers: unknown layer 'bogus'" -method ae -lsigma_lambda 0.1 -lsigma_layers latents,bogus
bad "hidden layer out of range" "option -lsigma_layers: no layer 'enc4'" -method ae -l1_lambda 0.1 -lsigma_layers enc4
bad "layer named twice" "layer 'enc1' named twice" -method ae -lsigma_lambda 0.1 -lsigma_layers enc1,enc1
bad "stochastic head swapped" "option -head: method betavae" -method betavae -head sigmoid
bad "unknown head" "option -head: 'gauss' is not" -method ae -head gauss

common=(-options_file "$DT_SRCDIR/inputs/beam-ae.opts" -data "$data" -steps 60 -progress_every 0
  -lsigma_lambda 0.5 -l1_lambda 0.05 -lsigma_layers latents,enc3)
for np in 1 2; do
  dt "$np" train "${common[@]}" -run_dir "$TMP/ls-$np" 2>"$TMP/err" || { cat "$TMP/err"; fail "ae + L_Sigma on $np ranks"; }
done
head -1 "$TMP/ls-1/history.csv" | grep -q '^step,loss,rec,lsigma_latents,l1_latents,lsigma_enc3,l1_enc3,samples_per_s$' ||
  fail "history columns: $(head -1 "$TMP/ls-1/history.csv")"
cols="loss rec lsigma_latents l1_latents lsigma_enc3 l1_enc3"
compare_histories "$TMP/ls-1/history.csv" "$TMP/ls-2/history.csv" 10 1 1e-5 "$cols" || fail "L_Sigma 1 vs 2 ranks: the first 10 steps differ"
compare_histories "$TMP/ls-1/history.csv" "$TMP/ls-2/history.csv" 60 20 1e-2 "$cols" || fail "L_Sigma 1 vs 2 ranks: loss curves differ"
"$MODELDIFF" "$TMP/ls-1/model.h5" "$TMP/ls-2/model.h5" -tol 1e-2 -nets encoder,decoder || fail "L_Sigma 1 vs 2 ranks: models differ"
# the regulariser does something: against a run whose weights are negligible (1e-9, so that it
# still reports the values), L_Sigma on the latents is lower over the last 10 steps
dt 1 train "${common[@]}" -lsigma_lambda 1e-9 -l1_lambda 1e-9 -run_dir "$TMP/ls-0" 2>"$TMP/err" || { cat "$TMP/err"; fail "baseline"; }
tail10() { csv_column "$1" lsigma_latents | tail -10 | awk '{ s += $1 } END { print s / NR }'; }
with=$(tail10 "$TMP/ls-1/history.csv") without=$(tail10 "$TMP/ls-0/history.csv")
echo "lsigma_latents over steps 51..60: $with with lambda 0.5, $without without"
awk -v a="$with" -v b="$without" 'BEGIN { exit !(a < 0.8 * b) }' || fail "L_Sigma did not lower lsigma_latents: $with vs $without"
json_number "$TMP/ls-1/summary.json" last_step_lsigma_latents | grep -q . || fail "summary.json lacks last_step_lsigma_latents"

# a restart with other layers is refused (the history's columns differ), with one line
dt 1 train "${common[@]}" -steps 70 -run_dir "$TMP/ls-1" -restart auto -lsigma_layers latents >"$TMP/out" 2>&1
rc=$?
[ $rc = 2 ] && grep -q "columns" "$TMP/out" || { cat "$TMP/out"; fail "restart with other -lsigma_layers: exit $rc"; }
pass "L_Sigma/L1: options, messages, history columns, 1 rank = 2 ranks"
