#!/bin/bash
# Restart guarantees. Same rank count: N steps, stop, restart, N steps is bit-identical to 2N
# steps in one go (parameters, Adam moments, history rows), for 1 and 2 ranks, `ae` and
# `nashae`. Another rank count (2 -> 1, 1 -> 2) goes on within the 1-vs-2-rank tolerance. A
# damaged newest checkpoint is reported and the one before used; a checkpoint of another model
# is refused naming the field that differs; `inspect` tells a good file from a damaged one.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)
train() { # NP METHOD DIR ARGS...
  local np=$1 method=$2 dir=$3
  shift 3
  dt "$np" train -options_file "$DT_SRCDIR/inputs/beam-$method.opts" -data "$data" -run_dir "$dir" -progress_every 0 "$@" \
    2>>"$TMP/log" || { tail -20 "$TMP/log"; fail "train $np $method $dir $*"; }
}
same_history() { cmp -s <(history_losses "$1") <(history_losses "$2"); }

for method in nashae ae; do
  for np in 1 2; do
    whole="$TMP/$method-$np-whole" split="$TMP/$method-$np-split"
    train "$np" "$method" "$whole" -steps 120
    # 60 steps with checkpoints at 25 and 50 (keep 1: only 50 stays), then on from step 50
    train "$np" "$method" "$split" -steps 60 -checkpoint_every 25 -checkpoint_keep 1
    [ "$(ls "$split" | grep -c '^ckpt-')" -eq 1 ] && [ -f "$split/ckpt-00000050.h5" ] || fail "-checkpoint_keep 1: $(ls "$split")"
    rm "$split/model.h5"
    train "$np" "$method" "$split" -steps 120 -restart auto
    grep -q "restarted from '$split/ckpt-00000050.h5' at step 50" "$TMP/log" || fail "$method/$np: did not restart at 50"
    "$H5DIFF" "$whole/model.h5" "$split/model.h5" /params /params || fail "$method on $np rank(s): parameters differ after restart"
    "$H5DIFF" "$whole/model.h5" "$split/model.h5" /optim /optim || fail "$method on $np rank(s): Adam state differs after restart"
    same_history "$whole/history.csv" "$split/history.csv" || fail "$method on $np rank(s): history rows differ after restart"
    echo "ok: $method on $np rank(s): 60 + restart at 50 + 70 steps == 120 steps, bit for bit"
  done
done

# Go on from model.h5 of a finished run, on the other rank count.
for pair in "2 1" "1 2"; do
  set -- $pair
  dir="$TMP/nashae-$1-to-$2"
  train "$1" nashae "$dir" -steps 60
  train "$2" nashae "$dir" -steps 120 -restart auto
  grep -q "written by $1 rank(s), now $2" "$TMP/log" || fail "$1 -> $2 ranks: no restart message"
  cmp -s <(history_losses "$dir/history.csv" | head -61) <(history_losses "$TMP/nashae-$1-whole/history.csv" | head -61) ||
    fail "$1 -> $2 ranks: the first 60 history rows changed"
  "$MODELDIFF" "$TMP/nashae-$2-whole/model.h5" "$dir/model.h5" -tol 6e-2 -nets encoder,decoder >/dev/null ||
    fail "$1 -> $2 ranks: the restarted run left the 1-vs-2-rank tolerance"
  echo "ok: nashae $1 -> $2 ranks goes on within the 1-vs-2-rank tolerance"
done

# A damaged newest checkpoint: reported, the one before used, and the result is still exact.
dir="$TMP/damaged"
train 2 nashae "$dir" -steps 60 -checkpoint_every 20 -checkpoint_keep 3
rm "$dir/model.h5"
truncate -s 100000 "$dir/ckpt-00000040.h5"
"$DT_BIN" inspect "$dir/ckpt-00000040.h5" >/dev/null 2>&1 && fail "inspect accepted a truncated checkpoint"
train 2 nashae "$dir" -steps 120 -restart auto
grep -q "skipping it" "$TMP/log" || fail "the damaged checkpoint was not reported"
grep -q "restarted from '$dir/ckpt-00000020.h5' at step 20" "$TMP/log" || fail "did not fall back to step 20"
"$H5DIFF" "$TMP/nashae-2-whole/model.h5" "$dir/model.h5" /params /params || fail "restart from the older checkpoint is not exact"
echo "ok: a truncated newest checkpoint is skipped, the older one gives the same result"

# Flipped bytes inside a tensor: HDF5 reads it, the checksum does not match.
bad="$TMP/flipped.h5"
cp "$dir/ckpt-00000020.h5" "$bad"
addr=$(h5ls -va "$bad/params/encoder/dense0.weight" | sed -n 's/^ *Address: *\([0-9]*\).*/\1/p')
[ -n "$addr" ] || fail "cannot find the data of dense0.weight"
printf '\x7f\x7f\x7f\x7f' | dd of="$bad" bs=1 seek=$((addr + 4000)) conv=notrunc status=none
"$DT_BIN" inspect "$dir/ckpt-00000020.h5" >"$TMP/inspect" || fail "inspect refused a good checkpoint"
grep -q "checksum [0-9a-f]*: OK" "$TMP/inspect" && grep -q "params/encoder/dense0.weight *\[200, 1000\]" "$TMP/inspect" &&
  grep -q "optim/regressor3/dense2.bias.v" "$TMP/inspect" && grep -q "^  -method nashae" "$TMP/inspect" ||
  fail "inspect output incomplete: $(cat "$TMP/inspect")"
"$DT_BIN" inspect "$bad" >/dev/null 2>"$TMP/err"
[ $? -eq 2 ] && grep -q "checksum mismatch" "$TMP/err" || fail "inspect did not catch flipped bytes: $(cat "$TMP/err")"
dt 1 train -data "$data" -run_dir "$TMP/x" -restart "$bad" 2>"$TMP/err" && fail "training restarted from a damaged file"
grep -q "checksum mismatch" "$TMP/err" || fail "restart from a damaged file: $(cat "$TMP/err")"
echo "ok: flipped bytes are caught by inspect and by -restart"

# A checkpoint of another model is refused, naming the field.
ck="$dir/ckpt-00000020.h5"
for change in "-latents 3:-latents" "-method ae:-method" "-hidden 100,40:-hidden" "-nashae_reg_hidden 20:-nashae_reg_hidden"; do
  args=${change%%:*} field=${change##*:}
  dt 2 train -options_file "$DT_SRCDIR/inputs/beam-nashae.opts" -data "$data" -run_dir "$TMP/y" -restart "$ck" $args \
    2>"$TMP/err"
  code=$?
  [ "$code" -eq 2 ] && grep -q "does not match this run: $field is" "$TMP/err" ||
    fail "restart with $args: exit $code, $(cat "$TMP/err")"
  echo "ok: $(grep error "$TMP/err")"
done
pass "restart is exact, damage is detected, mismatches are refused"
