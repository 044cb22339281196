#!/bin/bash
# Set-ups too large for the node (issue 16, item 17) are refused within seconds, before they
# allocate, with the estimate and the option that would help (exit 2); a large but feasible one
# says what it initialises. On a node large enough to hold them, the announcement is what must
# come quickly. Each case must answer within 60 s.
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive beam -seed 1)

# quick NAME PATTERN_REFUSED PATTERN_ANNOUNCED ARGS...: within 60 s either the refusal (exit 2)
# or, where the node holds it, the announcement of its size
quick() {
  local name=$1 refused=$2 announced=$3
  shift 3
  local err="$TMP/$name.err" start=$SECONDS
  timeout -k 5 120 "$MPIEXEC" -n 2 --oversubscribe "$DT_BIN" "$@" 2>"$err" >/dev/null &
  local launcher=$!
  while kill -0 "$launcher" 2>/dev/null && [ $((SECONDS - start)) -lt 60 ]; do
    grep -q "$announced" "$err" && break
    sleep 0.2
  done
  if grep -q "$announced" "$err"; then
    pkill -KILL -P "$(pgrep -P "$launcher")" 2>/dev/null # the ranks, under mpiexec under timeout
    wait "$launcher" 2>/dev/null
    echo "ok: $name: this node holds it; announced within $((SECONDS - start)) s: $(grep "$announced" "$err")"
    return
  fi
  wait "$launcher"
  local code=$?
  [ "$code" -eq 2 ] || { cat "$err"; fail "$name: exit $code after $((SECONDS - start)) s, want 2"; }
  [ $((SECONDS - start)) -lt 60 ] || fail "$name: took $((SECONDS - start)) s"
  grep -q "$refused" "$err" || { cat "$err"; fail "$name: the refusal does not give the estimate and the option"; }
  [ "$(grep -c "disentangle: error" "$err")" -eq 1 ] || fail "$name: not one line"
  echo "ok: $name: refused in $((SECONDS - start)) s: $(grep "disentangle: error" "$err")"
}

quick latents4096 "needs about [0-9.]* GB per rank .* GB are available; use fewer -latents or a smaller -nashae_reg_hidden" \
  "initialising .* parameters, about [0-9.]* GB" train -data "$data" -latents 4096 -steps 1 -run_dir "$TMP/latents4096"
[ ! -e "$TMP/latents4096/history.csv" ] || fail "latents4096: a refused run wrote history.csv"
quick hidden1e6 "needs about [0-9.]* GB per rank .* GB are available; use smaller -hidden widths" \
  "initialising .* parameters, about [0-9.]* GB" train -data "$data" -hidden 1000000 -steps 1 -run_dir "$TMP/hidden1e6"
[ ! -e "$TMP/hidden1e6/history.csv" ] || fail "hidden1e6: a refused run wrote history.csv"

# eval: a trained model, then 1e8 training points for the supervised scores
dt 2 train -data "$data" -steps 5 -progress_every 0 -latents 3 -run_dir "$TMP/model" 2>/dev/null || fail "training the model"
quick metric_train "need about [0-9.]* GB per rank, .* GB are available; use a smaller -metric_train" \
  "^disentangle: supervised scores on 100000000 training and [0-9]* evaluation points, about" eval -run_dir "$TMP/model" -metric_train 100000000
[ ! -e "$TMP/model/metrics.json" ] || fail "metric_train: a refused eval wrote metrics.json"

# a large but feasible set-up says what takes the time
dt 1 train -data "$data" -hidden 2000,2000 -latents 3 -steps 1 -progress_every 0 -run_dir "$TMP/large" 2>"$TMP/large.err" ||
  fail "the large feasible run failed"
grep -q "initialising 12.* M parameters, about 0.[0-9]* GB per rank" "$TMP/large.err" || { cat "$TMP/large.err"; fail "no announcement"; }
! grep -q "initialising" <(dt 1 train -data "$data" -steps 1 -run_dir "$TMP/small" 2>&1) || fail "a small set-up is announced"
echo "ok: a 12 M parameter set-up is announced, a small one is not"
pass "set-ups that cannot fit are refused at once with the estimate; large ones are announced"
