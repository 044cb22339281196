#!/bin/bash
# Every method of the VAE family that `disentangle train -help` lists (a method whose heading
# "Options of -method X (...)" names Gaussian latents, so methods added later are picked up), with
# its inputs/beam-X*.opts files (dipvae has two: -i and -ii) or, lacking one, -rec_loss gaussian:
# a 20-step run on 1 and on 2 ranks on a small beam archive. Each must have
#  - the history's columns: step, loss, then its terms (kl among them), samples_per_s;
#  - finite losses at every step;
#  - 1 and 2 ranks agreeing at steps 1-2 to 1e-5 of each column's mean magnitude (the noise and
#    any permutation come from (seed, step, global row); see parallel_consistency.sh for why).
. "$DT_SRCDIR/tests/lib.sh"
data=$(beam_archive small -seed 1 -duty_count 40) # 120 samples: more than the files' batch of 100
methods=$("$DT_BIN" train -help 2>&1 | sed -n 's/^Options of -method \([a-z0-9_]*\) (.*[Gg]aussian.*$/\1/p')
[ "$(echo "$methods" | wc -w)" -ge 2 ] || fail "train -help lists fewer than 2 VAE methods: $methods"
echo "VAE family: $(echo $methods)"
for m in $methods; do
  files=$(ls "$DT_SRCDIR/inputs/beam-$m.opts" "$DT_SRCDIR/inputs/beam-$m"-*.opts 2>/dev/null)
  for f in ${files:-none}; do
    name=$m
    if [ "$f" = none ]; then set -- -method "$m" -rec_loss gaussian -latents 4
    else name=$(basename "$f" .opts); name=${name#beam-}; set -- -options_file "$f"; fi
    for np in 1 2; do
      dt "$np" train "$@" -data "$data" -run_dir "$TMP/$name-$np" -steps 20 -progress_every 0 2>"$TMP/err" ||
        { cat "$TMP/err"; fail "$name on $np ranks"; }
    done
    h=$TMP/$name-1/history.csv
    header=$(head -1 "$h")
    [[ $header == step,loss,*,samples_per_s ]] || fail "$name: history columns '$header'"
    echo ",$header," | grep -q ',kl,' || fail "$name: no kl column in '$header'"
    [ "$(head -1 "$TMP/$name-2/history.csv")" = "$header" ] || fail "$name: 2 ranks write other columns"
    [ "$(($(wc -l <"$h") - 1))" -eq 20 ] || fail "$name: not 20 rows"
    for np in 1 2; do
      awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) if ($i !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) bad = 1 } END { exit bad }' \
        "$TMP/$name-$np/history.csv" || fail "$name on $np ranks: a loss that is not finite"
    done
    cols=$(echo "$header" | tr , ' ' | sed 's/^step //; s/ samples_per_s$//')
    echo "$name ($cols): 1 vs 2 ranks"
    compare_histories "$TMP/$name-1/history.csv" "$TMP/$name-2/history.csv" 2 1 1e-5 "$cols" ||
      fail "$name: 1 and 2 ranks differ at steps 1-2"
  done
done
pass "the VAE family: columns, finite losses, 1 vs 2 ranks"
