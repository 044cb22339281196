#!/bin/bash
# tools/study.sh, the comparison study, locally: 2 configurations (2 methods) x 2 seeds x 30
# steps, 2 runs at a time, on a small beam archive:
#  - every run is trained and evaluated in OUT/runs/CONFIG/seedS;
#  - OUT/table.csv has one row per (configuration, metric) with n = 2 seeds, active latents
#    included, and quartiles in order; OUT/boxplots.html one box plot per metric drawn, one box
#    per configuration;
#  - a second call does no work again (the runs are evaluated) and writes the same table;
#  - jobs/study.slurm passes bash -n, and its task index maps to (configuration, seed) as
#    `study.sh -list` says (a dry run with SLURM_ARRAY_TASK_ID set; no SLURM here); an index
#    past the end is refused;
#  - a bad grid file is one line and exit 2.
. "$DT_SRCDIR/tests/lib.sh"
study=$DT_SRCDIR/tools/study.sh
data=$(beam_archive small -seed 1 -duty_count 40) # 120 samples: more than the files' batch of 100
cat >"$TMP/grid" <<GRID
# two methods; the options files of inputs/
ae-base     $DT_SRCDIR/inputs/beam-ae.opts     -latents 3
bvae-b4     $DT_SRCDIR/inputs/beam-betavae.opts  -latents 3 -betavae_beta 4   # a trailing comment
GRID
export DISENTANGLE=$DT_BIN MPIEXEC="$MPIEXEC --oversubscribe"
out=$TMP/out
timeout -k 10 200 bash "$study" -seeds "1 2" -steps 30 -jobs 2 -eval "-metric_train 100 -metric_eval 50" \
  "$TMP/grid" "$data" "$out" >"$TMP/log" 2>&1 || { cat "$TMP/log"; fail "study.sh"; }
for c in ae-base bvae-b4; do
  for s in 1 2; do
    [ -f "$out/runs/$c/seed$s/metrics.json" ] || fail "no $out/runs/$c/seed$s/metrics.json"
    [ "$(tail -1 "$out/runs/$c/seed$s/history.csv" | cut -d, -f1)" = 30 ] || fail "$c seed $s did not run 30 steps"
  done
done
csv=$out/table.csv
[ "$(head -1 "$csv")" = "config,metric,n,median,q1,q3,min,max" ] || fail "table header: $(head -1 "$csv")"
for c in ae-base bvae-b4; do
  grep -q "^$c,active_latents,2," "$csv" || fail "no active_latents row over 2 seeds for $c"
  grep -q "^$c,mig,2," "$csv" || fail "no mig row over 2 seeds for $c"
done
grep -q "^bvae-b4,kl_active_latents,2," "$csv" || fail "no kl_active_latents row for the VAE"
! grep -q "^ae-base,kl_" "$csv" || fail "a kl_ row for the plain autoencoder"
[ "$(cut -d, -f1 "$csv" | sed 1d | sort -u | tr '\n' ' ')" = "ae-base bvae-b4 " ] || fail "groups: $(cut -d, -f1 "$csv" | sort -u)"
# a score over the active latents is null in a run with none active (SAP: fewer than two), so
# those rows may count 1 run
awk -F, 'NR > 1 && $3 != 2 && !($2 ~ /_active$/ && $3 == 1) { bad = 1 }
  NR > 1 && !($7 <= $5 && $5 <= $4 && $4 <= $6 && $6 <= $8) { bad = 1 } END { exit bad }' "$csv" ||
  fail "a row without 2 runs, or min <= q1 <= median <= q3 <= max violated: $(awk -F, 'NR > 1 && $3 != 2' "$csv" | head -3)"
# one box plot per metric the page draws by default: the table's metrics less the per-latent
# ones (name_J) and the bookkeeping ones
want=$(cut -d, -f2 "$csv" | sed 1d | grep -v '_[0-9]*$' | grep -v -x -E 'samples|factors|step|units|tdv_d|active|split_train_samples|split_test_samples' | sort -u)
got=$(sed -n 's/^<svg id="box-\([^"]*\)".*/\1/p' "$out/boxplots.html" | sort)
[ -n "$got" ] && [ "$want" = "$got" ] || fail "box plots for: $(echo $got); expected: $(echo $want)"
[ "$(grep -c '<g class="box" data-group="bvae-b4" data-n="2">' "$out/boxplots.html")" -eq "$(echo "$want" | wc -l)" ] ||
  fail "not one box of the 2 bvae-b4 runs in every plot"
grep -q '<svg id="box-kl_active_latents"' "$out/boxplots.html" || fail "no box plot of kl_active_latents"
! grep -q -i 'http://\|https://\|<script' "$out/boxplots.html" || fail "the page is not self-contained"
echo "ok: $(($(wc -l <"$csv") - 1)) table rows, $(echo "$want" | wc -l) box plots"

cp "$csv" "$TMP/table1.csv"
bash "$study" -seeds "1 2" -steps 30 "$TMP/grid" "$data" "$out" >"$TMP/log2" 2>&1 || { cat "$TMP/log2"; fail "study.sh again"; }
[ "$(grep -c 'done already' "$TMP/log2")" -eq 4 ] || { cat "$TMP/log2"; fail "a second call trained again"; }
cmp "$csv" "$TMP/table1.csv" || fail "the second call wrote another table"

# the SLURM job script: its syntax, and its task index -> (configuration, seed) mapping (dry run)
bash -n "$DT_SRCDIR/jobs/study.slurm" || fail "jobs/study.slurm: syntax"
cd "$DT_SRCDIR" || fail "cd"
for i in 0 1 2 3; do
  line=$(bash "$study" -seeds "1 2" -list "$TMP/grid" "$data" "$out" | sed -n "$((i + 1))p")
  read -r idx cfg seed _ <<<"$line"
  [ "$idx" = "$i" ] || fail "-list line $i: $line"
  SLURM_ARRAY_TASK_ID=$i DRY_RUN=1 GRID="$TMP/grid" DATA="$data" OUT="$TMP/slurm" SEEDS="1 2" STEPS=30 DISENTANGLE=$DT_BIN \
    LAUNCH="srun --mpi=pmix" bash jobs/study.slurm >"$TMP/slurm.out" 2>&1 || { cat "$TMP/slurm.out"; fail "study.slurm task $i"; }
  grep -q "^srun --mpi=pmix $DT_BIN train .* -run_dir $TMP/slurm/runs/$cfg/seed$seed -seed $seed -steps 30" "$TMP/slurm.out" ||
    { cat "$TMP/slurm.out"; fail "study.slurm task $i does not train $cfg seed $seed"; }
  grep -q "^srun --mpi=pmix $DT_BIN eval -run_dir $TMP/slurm/runs/$cfg/seed$seed " "$TMP/slurm.out" ||
    fail "study.slurm task $i does not evaluate $cfg seed $seed"
done
[ "$(grep -c train "$TMP/slurm.out")" -eq 1 ] || fail "a task trains more than one run"
[ ! -e "$TMP/slurm" ] || fail "a dry run wrote $TMP/slurm"
SLURM_ARRAY_TASK_ID=4 DRY_RUN=1 GRID="$TMP/grid" DATA="$data" SEEDS="1 2" bash jobs/study.slurm >/dev/null 2>"$TMP/err" &&
  fail "task 4 of 4 accepted"
grep -q "there are only 4" "$TMP/err" || fail "task 4: $(cat "$TMP/err")"
STAGE=summary DRY_RUN=1 GRID="$TMP/grid" DATA="$data" OUT="$out" SEEDS="1 2" DISENTANGLE=$DT_BIN bash jobs/study.slurm \
  >"$TMP/summary.out" 2>&1 || { cat "$TMP/summary.out"; fail "study.slurm summary stage"; }
grep -q "aggregate .*-group parent" "$TMP/summary.out" || fail "the summary stage does not aggregate"
echo "ok: jobs/study.slurm maps tasks 0..3 as study.sh -list does"

# a bad grid
printf 'x %s\nx %s\n' "$DT_SRCDIR/inputs/beam-ae.opts" "$DT_SRCDIR/inputs/beam-ae.opts" >"$TMP/bad.grid"
bash "$study" "$TMP/bad.grid" "$data" "$TMP/bad" >/dev/null 2>"$TMP/err"
[ $? -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "bad.grid:2: 'x' twice" "$TMP/err" || fail "duplicate name: $(cat "$TMP/err")"
printf 'y nosuch.opts\n' >"$TMP/bad.grid"
bash "$study" "$TMP/bad.grid" "$data" "$TMP/bad" >/dev/null 2>"$TMP/err"
[ $? -eq 2 ] && grep -q "bad.grid:1: cannot read options file" "$TMP/err" || fail "missing options file: $(cat "$TMP/err")"
[ ! -e "$TMP/bad" ] || fail "a bad grid left $TMP/bad"
pass "study.sh: runs, table, box plots; study.slurm's task mapping"
