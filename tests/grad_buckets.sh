#!/bin/bash
# The bucketed, overlapped gradient allreduce changes timing only. On 2 and 3 ranks (3: uneven
# slices, oversubscribed), one bucket (-grad_bucket_kb 0), small buckets (4 KB: one or two per
# tensor of the beam MLP) with overlap, and the same buckets without overlap train models and
# histories identical bit for bit, for nashae (regressors in rank groups) and factorvae
# (a Gaussian head, KL at the code, its discriminator's own allreduce); so does the node-aware
# reduction (-grad_reduce node). -log_view shows the step's phases as events, the buckets among
# them.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)

train() { # NP METHOD DIR ARGS...
  local np=$1 method=$2 dir=$3
  shift 3
  dt "$np" train -options_file "$DT_SRCDIR/inputs/beam-$method.opts" -data "$data" -run_dir "$dir" -steps 20 \
    -progress_every 0 "$@" >"$TMP/out" 2>&1 || { tail -20 "$TMP/out"; fail "train $np $method $*"; }
}

# 3 ranks is the telling case (a sum of two is the same in any order); factorvae there only
for method in nashae factorvae; do
  for np in 2 3; do
    [ "$method/$np" = factorvae/2 ] && continue
    base="$TMP/$method-$np"
    train "$np" "$method" "$base-one" -grad_bucket_kb 0
    train "$np" "$method" "$base-small" -grad_bucket_kb 4 -grad_overlap true
    train "$np" "$method" "$base-off" -grad_bucket_kb 4 -grad_overlap false
    for v in small off; do
      cmp -s <(history_losses "$base-one/history.csv") <(history_losses "$base-$v/history.csv") ||
        fail "$method on $np ranks: history with buckets ($v) differs from one bucket"
      "$H5DIFF" "$base-one/model.h5" "$base-$v/model.h5" /params /params ||
        fail "$method on $np ranks: parameters with buckets ($v) differ from one bucket"
      "$H5DIFF" "$base-one/model.h5" "$base-$v/model.h5" /optim /optim ||
        fail "$method on $np ranks: Adam state with buckets ($v) differs from one bucket"
    done
    echo "ok: $method on $np ranks: one bucket == 4 KB buckets with and without overlap, bit for bit"
  done
done

# -grad_reduce node (shared memory inside the node): the same bits with any buckets and
# overlap; on 2 ranks the same bits as MPI's sum too (a sum of two is the same in any order)
for np in 2 3; do
  base="$TMP/node-$np"
  train "$np" nashae "$base-one" -grad_reduce node -grad_bucket_kb 0
  train "$np" nashae "$base-small" -grad_reduce node -grad_bucket_kb 4 -grad_overlap true
  against="$base-small"
  [ "$np" = 2 ] && against="$TMP/nashae-2-one"
  for other in "$base-small" "$against"; do
    cmp -s <(history_losses "$base-one/history.csv") <(history_losses "$other/history.csv") ||
      fail "-grad_reduce node on $np ranks: history differs from $other"
    "$H5DIFF" "$base-one/model.h5" "$other/model.h5" /params /params ||
      fail "-grad_reduce node on $np ranks: parameters differ from $other"
  done
  echo "ok: -grad_reduce node on $np ranks: one bucket == 4 KB buckets with overlap$([ "$np" = 2 ] && echo ' == MPI'), bit for bit"
done

# the phases in -log_view, buckets started during backward and waited for after it
train 2 ae "$TMP/logview" -grad_bucket_kb 4 -log_view
for event in BatchRead Forward LossTerms Backward Optimizer AllreduceStats GradBucketStart GradBucketWait Checkpoint; do
  grep -q "^$event " "$TMP/out" || { grep -A40 "Event  " "$TMP/out" | head -60; fail "-log_view has no event $event"; }
done
# the buckets are started inside backward: the start event counts more than one call a step
starts=$(awk '$1 == "GradBucketStart" { print $2 }' "$TMP/out")
[ "${starts:-0}" -gt 40 ] || fail "GradBucketStart called $starts times in 20 steps; want several per step"
pass "bucketed gradient allreduce: bit-identical to one bucket, overlap on or off, MPI or node-aware; phases in -log_view"
