#!/bin/bash
# The comparison study: configurations x seeds on one archive within one step budget, then eval
# of every run and one table + one page of box plots (disentangle aggregate -group parent).
#
#   tools/study.sh [options] GRID DATA OUT
#     -seeds "1 2 3"   seeds of every configuration (default "1 2 3")
#     -steps N         the step budget of every run (default: each options file's own -steps)
#     -jobs J          runs at a time on this machine (default 1)
#     -ranks P         MPI ranks per run (default 1)
#     -eval "OPTS"     extra options of eval (e.g. "-metric_train 2000 -metric_eval 1000")
#     -task I          run only task I (train + eval; what jobs/study.slurm does), no table
#     -summary         only the table and the box plots, from the runs already evaluated
#     -list            print the tasks "I CONFIG SEED OPTIONS_FILE EXTRA..." and stop
#     -dry_run         print the commands instead of running them
#
# GRID: one configuration a line, "NAME OPTIONS_FILE [EXTRA OPTIONS...]", '#' comments; the
# options file is read relative to the grid file's directory. Task i is configuration
# i / (number of seeds), seed i % (number of seeds): the same mapping in every mode, so a
# SLURM array task and a local run of the same index do the same work.
# Each run goes to OUT/runs/NAME/seedS (a run that has metrics.json already is skipped; a
# half-done one goes on with -restart auto). Results: OUT/table.csv (config, metric, n, median,
# quartiles, min, max; active latents included), OUT/table.txt and OUT/boxplots.html.
# Environment: DISENTANGLE (build/src/disentangle), MPIEXEC (mpiexec); LAUNCH, when set, starts
# each run instead of "$MPIEXEC -n P" (jobs/study.slurm sets it to srun).
set -uo pipefail
seeds="1 2 3" steps="" jobs=1 ranks=1 evalopts="" task="" mode=all dry=0
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
  -seeds) seeds=$2; shift 2 ;;
  -steps) steps=$2; shift 2 ;;
  -jobs) jobs=$2; shift 2 ;;
  -ranks) ranks=$2; shift 2 ;;
  -eval) evalopts=$2; shift 2 ;;
  -task) task=$2; mode=task; shift 2 ;;
  -summary) mode=summary; shift ;;
  -list) mode=list; shift ;;
  -dry_run) dry=1; shift ;;
  -h | -help | --help) usage ;;
  -*) echo "study.sh: unknown option $1" >&2; usage ;;
  *) break ;;
  esac
done
[ $# -eq 3 ] || { echo "study.sh: expected GRID DATA OUT, got $# arguments" >&2; usage; }
grid=$1 data=$2 out=$3
[ -r "$grid" ] || { echo "study.sh: cannot read grid file '$grid'" >&2; exit 2; }
BIN=${DISENTANGLE:-build/src/disentangle}
MPIEXEC=${MPIEXEC:-mpiexec}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
read -r -a seed_list <<<"$seeds"
[ ${#seed_list[@]} -gt 0 ] || { echo "study.sh: -seeds is empty" >&2; exit 2; }
for v in "$jobs" "$ranks" ${steps:+"$steps"} "${seed_list[@]}"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "study.sh: '$v' is not a whole number (-jobs, -ranks, -steps, -seeds)" >&2; exit 2; }
done

# the configurations: names, options files (resolved), extra options
griddir=$(cd "$(dirname "$grid")" && pwd)
names=() files=() extras=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  line=${line%%#*}
  read -r name file extra <<<"$line"
  [ -n "${name:-}" ] || continue
  [ -n "${file:-}" ] || { echo "study.sh: $grid:$lineno: '$name' has no options file" >&2; exit 2; }
  [[ $name =~ ^[A-Za-z0-9._+-]+$ ]] || { echo "study.sh: $grid:$lineno: name '$name' must be letters, digits, . _ + -" >&2; exit 2; }
  for n in "${names[@]}"; do [ "$n" != "$name" ] || { echo "study.sh: $grid:$lineno: '$name' twice" >&2; exit 2; }; done
  case $file in /*) ;; *) file=$griddir/$file ;; esac
  [ -r "$file" ] || { echo "study.sh: $grid:$lineno: cannot read options file '$file'" >&2; exit 2; }
  names+=("$name") files+=("$file") extras+=("${extra:-}")
done <"$grid"
[ ${#names[@]} -gt 0 ] || { echo "study.sh: '$grid' has no configuration" >&2; exit 2; }
ntasks=$((${#names[@]} * ${#seed_list[@]}))
launch=${LAUNCH:-$MPIEXEC -n $ranks}

exec 3>&1 # the dry run prints its commands here, past the redirections of their output
run() { if [ $dry = 1 ]; then echo "$*" >&3; else "$@"; fi; }

# one task: train (unless evaluated already), then eval
do_task() {
  local i=$1 c=$(($1 / ${#seed_list[@]})) seed=${seed_list[$(($1 % ${#seed_list[@]}))]}
  local name=${names[$c]} dir=$out/runs/${names[$c]}/seed$seed
  if [ $dry = 0 ] && [ -f "$dir/metrics.json" ]; then echo "task $i: $name seed $seed: done already"; return 0; fi
  [ $dry = 1 ] || mkdir -p "$out/runs/$name" || return 3
  local restart=""
  [ -f "$dir/run.json" ] && restart="-restart auto"
  # shellcheck disable=SC2086
  run $launch "$BIN" train -options_file "${files[$c]}" -data "$data" -run_dir "$dir" -seed "$seed" \
    ${steps:+-steps "$steps"} -progress_every 0 ${extras[$c]} $restart || { echo "task $i: train $name seed $seed failed" >&2; return 1; }
  # shellcheck disable=SC2086
  run $launch "$BIN" eval -run_dir "$dir" -seed "$seed" $evalopts >/dev/null ||
    { echo "task $i: eval $name seed $seed failed" >&2; return 1; }
  echo "task $i: $name seed $seed -> $dir"
}

summary() {
  local dirs=()
  for c in "${!names[@]}"; do
    for s in "${seed_list[@]}"; do
      d=$out/runs/${names[$c]}/seed$s
      [ $dry = 1 ] || [ -f "$d/metrics.json" ] || { echo "study.sh: $d has no metrics.json (task failed?); left out" >&2; continue; }
      dirs+=("$d")
    done
  done
  [ ${#dirs[@]} -gt 0 ] || { echo "study.sh: no evaluated run in $out/runs" >&2; return 1; }
  if [ $dry = 1 ]; then
    run "$BIN" aggregate "${dirs[@]}" -group parent -csv "$out/table.csv" -html "$out/boxplots.html"
    return 0
  fi
  "$BIN" aggregate "${dirs[@]}" -group parent -csv "$out/table.csv" -html "$out/boxplots.html" \
    -title "study $(basename "$grid") on $(basename "$data"): ${#names[@]} configurations x ${#seed_list[@]} seeds" \
    >"$out/table.txt" || return 1
  echo "wrote $out/table.csv, $out/table.txt, $out/boxplots.html"
}

case $mode in
list)
  for ((i = 0; i < ntasks; i++)); do
    c=$((i / ${#seed_list[@]}))
    echo "$i ${names[$c]} ${seed_list[$((i % ${#seed_list[@]}))]} ${files[$c]} ${extras[$c]}"
  done ;;
task)
  [[ $task =~ ^[0-9]+$ ]] && [ "$task" -lt $ntasks ] ||
    { echo "study.sh: task '$task': there are $ntasks tasks (0..$((ntasks - 1)))" >&2; exit 2; }
  do_task "$task" ;;
summary) summary ;;
all)
  failed=0
  for ((i = 0; i < ntasks; i++)); do
    if [ "$jobs" -le 1 ] || [ $dry = 1 ]; then
      do_task "$i" || failed=$((failed + 1))
    else
      while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || failed=$((failed + 1)); done
      do_task "$i" &
    fi
  done
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=$((failed + 1)); done
  [ $failed = 0 ] || echo "study.sh: $failed of $ntasks tasks failed" >&2
  summary || exit 1
  [ $failed = 0 ] ;;
esac
