#!/bin/bash
# -reproducible (docs/reproducible.md): the same global batch gives the same bits on 1, 2 and 3
# ranks (3: chunks split unevenly, 4/3/3 of 10), for every method that takes it: every loss of
# every step (the model's /history, doubles), every parameter and every optimizer moment
# (/params, /optim). Files are not compared whole: they hold the rank count and the run log.
# A checkpoint is the same on 1 and 2 ranks, and one written on 1 rank resumed on 3 ends the same.
# Also: without -reproducible 1 and 2 ranks do NOT give the same bits (so the mode is what does
# it); a batch that is not whole chunks, and ML-VAE chunks that are not whole groups, are refused
# with exit 2. (Every method takes it now, so no method is refused for want of it.)
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
grouped=$(beam_archive grouped -seed 1 -groups_per_freq 20) # ML-VAE's groups: /groups

# same_bits A.h5 B.h5: every tensor under /params and /optim and every loss column of /history
# identical bit for bit (the last column, samples_per_s, is a timing)
same_bits() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
for root in ("params", "optim"):
    a[root].visititems(lambda n, o: names.append(root + "/" + n) if isinstance(o, h5py.Dataset) else None)
bad = [n for n in names if n not in b or a[n].shape != b[n].shape or
       not np.array_equal(np.asarray(a[n]).view(np.uint32), np.asarray(b[n]).view(np.uint32))]
ha, hb = np.asarray(a["history"])[:, :-1], np.asarray(b["history"])[:, :-1]
if ha.shape != hb.shape or not np.array_equal(ha.view(np.uint64), hb.view(np.uint64)):
    bad.append("history")
if len(names) < 4 or ha.shape[0] < 1:
    bad.append("(nothing to compare: %d tensors, %d history rows)" % (len(names), ha.shape[0]))
print("differ:" if bad else "identical: %d tensors, %d steps" % (len(names), ha.shape[0]), " ".join(bad[:8]))
sys.exit(1 if bad else 0)
EOF
}

common=(-data "$data" -steps 30 -batch 40 -latents 4 -hidden 40,20 -progress_every 0 -checkpoint_minutes 0)
for method in ae nashae betavae annealedvae dipvae lsigma betatcvae factorvae mlvae strkm; do
  case $method in
  lsigma) args=(-method ae -lsigma_lambda 0.5 -l1_lambda 0.1 -lsigma_layers latents,enc1) ;;
  nashae) args=(-method nashae -nashae_reg_iters 2 -nashae_reg_hidden 16) ;;
  annealedvae) args=(-method annealedvae -annealedvae_c_steps 10) ;;
  betatcvae) args=(-method betatcvae -betatcvae_estimator mss) ;;
  factorvae) args=(-method factorvae -factorvae_disc_hidden 32,32) ;;
  strkm) args=(-method strkm -strkm_features 8 -strkm_variant noisy) ;;
  mlvae) args=(-method mlvae -data "$grouped" -sampler grouped -group_size 2 -mlvae_content 2) ;; # chunks of 5 groups
  *) args=(-method "$method") ;;
  esac
  for np in 1 2 3; do
    dt "$np" train "${common[@]}" "${args[@]}" -reproducible -run_dir "$TMP/$method-$np" 2>"$TMP/err" >/dev/null ||
      { cat "$TMP/err"; fail "$method -reproducible on $np ranks"; }
  done
  for np in 2 3; do
    echo -n "$method 1 vs $np ranks: "
    same_bits "$TMP/$method-1/model.h5" "$TMP/$method-$np/model.h5" || fail "$method -reproducible: 1 and $np ranks differ"
  done
  # history.csv is written from the same doubles
  [ "$(history_losses "$TMP/$method-1/history.csv")" = "$(history_losses "$TMP/$method-3/history.csv")" ] ||
    fail "$method -reproducible: history.csv differs between 1 and 3 ranks"
done

# a checkpoint midway holds the same tensors on 1 and 2 ranks too
for np in 1 2; do
  dt "$np" train "${common[@]}" -method nashae -nashae_reg_iters 2 -nashae_reg_hidden 16 -reproducible -steps 10 \
    -checkpoint_every 5 -run_dir "$TMP/ck-$np" 2>"$TMP/err" >/dev/null || { cat "$TMP/err"; fail "checkpointed run on $np ranks"; }
done
echo -n "checkpoint at step 5, 1 vs 2 ranks: "
same_bits "$TMP/ck-1/ckpt-00000005.h5" "$TMP/ck-2/ckpt-00000005.h5" || fail "-reproducible: the step-5 checkpoints differ"
# ... and a run checkpointed on 1 rank, resumed on 3, ends as the 1-rank run that never stopped
mkdir -p "$TMP/ck-resumed"
cp "$TMP/ck-1/ckpt-00000005.h5" "$TMP/ck-resumed/"
dt 3 train "${common[@]}" -method nashae -nashae_reg_iters 2 -nashae_reg_hidden 16 -reproducible -steps 10 -restart auto \
  -run_dir "$TMP/ck-resumed" 2>"$TMP/err" >/dev/null || { cat "$TMP/err"; fail "resuming on 3 ranks"; }
echo -n "1 rank to step 10 vs 1 rank to step 5 then 3 ranks: "
same_bits "$TMP/ck-1/model.h5" "$TMP/ck-resumed/model.h5" || fail "-reproducible: resumed on 3 ranks, the run differs"

# the default mode sums in rank-dependent order: 1 and 2 ranks differ in the last bits (this is
# what -reproducible removes; if a future build made them equal, this check says so)
for np in 1 2; do
  dt "$np" train "${common[@]}" -method nashae -nashae_reg_iters 2 -nashae_reg_hidden 16 -run_dir "$TMP/default-$np" \
    2>"$TMP/err" >/dev/null || { cat "$TMP/err"; fail "default mode on $np ranks"; }
done
echo -n "default mode, 1 vs 2 ranks: "
! same_bits "$TMP/default-1/model.h5" "$TMP/default-2/model.h5" ||
  fail "without -reproducible 1 and 2 ranks gave the same bits: the test no longer shows what -reproducible does"

# refusals: input errors (exit 2) naming the options
check_refused() {
  local want=$1
  shift
  set +e
  dt "$@" >"$TMP/out" 2>&1
  local rc=$?
  set -e
  [ "$rc" = 2 ] || { cat "$TMP/out"; fail "expected exit 2 for: $*  (got $rc)"; }
  grep -q -- "$want" "$TMP/out" || { cat "$TMP/out"; fail "no '$want' in the message for: $*"; }
}
set -e
check_refused "-reproducible_chunk" 1 train "${common[@]}" -method ae -reproducible -batch 45 -run_dir "$TMP/r1"
check_refused "-reproducible_chunk" 3 train "${common[@]}" -method ae -reproducible -batch 20 -run_dir "$TMP/r2"
check_refused "-group_size" 1 train "${common[@]}" -method mlvae -data "$grouped" -sampler grouped -group_size 4 \
  -reproducible -run_dir "$TMP/r4" # a chunk of 10 rows is not whole groups of 4
pass "-reproducible: the same bits on 1, 2 and 3 ranks; refusals are input errors"
