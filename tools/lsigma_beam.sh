#!/bin/bash
# Experiment 3 of issue 10: NashAE vs AE + L_Sigma on the latents vs AE on the beam archive,
# the same budget (1000 steps of 100, inputs/beam-{nashae,ae-lsigma,ae}.opts), SEEDS seeds each;
# every run trained on RANKS ranks and evaluated (`disentangle eval`: metrics.json; the supervised
# scores on -metric_train 2000 / -metric_eval 1000 points instead of 10000 / 5000: the archive
# has 360 waveforms, and eval's time is mostly those scores).
#
# Usage (from build/): tools/lsigma_beam.sh [-seeds 5] [-ranks 2] [-out runs/lsigma-beam] [-lambdas "1 5"]
# (-lambdas: the L_Sigma weights to run, each as config ae-lsigma-L; default that of the .opts file, 1)
# Writes DIR/runs.csv (one row per run) and DIR/table.md (medians over the seeds, and the count
# of active latents per seed), DIR/runs/CONFIG-SEED/ (history.csv, summary.json, metrics.json).
set -euo pipefail
seeds=5 ranks=2 out=runs/lsigma-beam lambdas=1
while [ $# -gt 0 ]; do
  case "$1" in
    -seeds) seeds=$2 ;;
    -ranks) ranks=$2 ;;
    -out) out=$2 ;;
    -lambdas) lambdas=$2 ;;
    *) echo "lsigma_beam: unknown option $1 (allowed: -seeds -ranks -out -lambdas)" >&2; exit 2 ;;
  esac
  shift 2
done
src=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
[ -f data/beam.h5 ] || make -s data/beam.h5
mkdir -p "$out/runs"
keys="active_latents mapc cvr tdv ud90 betavae_score factorvae_score mig dci_disentanglement sap modularity"
echo "config,seed,mse,$(echo $keys | tr ' ' ,)" >"$out/runs.csv"
for config in nashae $(for l in $lambdas; do echo "ae-lsigma-$l"; done) ae; do
  for seed in $(seq 1 "$seeds"); do
    dir="$out/runs/$config-$seed" extra=() opts=$config
    case "$config" in ae-lsigma-*) extra=(-lsigma_lambda "${config#ae-lsigma-}") opts=ae-lsigma ;; esac
    if [ ! -f "$dir/metrics.json" ]; then
      rm -rf "$dir"
      mpiexec -n "$ranks" --oversubscribe src/disentangle train -options_file "$src/inputs/beam-$opts.opts" -data data/beam.h5 \
        -run_dir "$dir" -seed "$seed" -progress_every 0 "${extra[@]}" >"$dir.log" 2>&1 || { echo "lsigma_beam: $dir failed (see $dir.log)" >&2; exit 1; }
      mpiexec -n "$ranks" --oversubscribe src/disentangle eval -run_dir "$dir" -metric_train 2000 -metric_eval 1000 >>"$dir.log" 2>&1 ||
        { echo "lsigma_beam: eval of $dir failed (see $dir.log)" >&2; exit 1; }
    fi
    /usr/bin/python3 - "$dir" "$config" "$seed" $keys >>"$out/runs.csv" <<'EOF'
import json, sys
d, config, seed, keys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
s, m = json.load(open(d + "/summary.json")), json.load(open(d + "/metrics.json"))
v = lambda x: "nan" if x is None else f"{x:.6g}" if isinstance(x, float) else str(x)
print(",".join([config, seed, v(2 * s["final_rec"])] + [v(s["active_latents"] if k == "active_latents" else m.get(k)) for k in keys]))
EOF
    tail -1 "$out/runs.csv"
  done
done
/usr/bin/python3 - "$out" <<'EOF'
import csv, statistics, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(out + "/runs.csv")))
keys = [k for k in rows[0] if k not in ("config", "seed")]
lines = ["| config | seeds | active latents per seed | " + " | ".join(keys) + " |", "|" + "---|" * (3 + len(keys))]
for config in dict.fromkeys(r["config"] for r in rows):
    rs = [r for r in rows if r["config"] == config]
    med = [statistics.median(float(r[k]) for r in rs) for k in keys]
    lines.append(f"| {config} | {len(rs)} | {' '.join(r['active_latents'] for r in rs)} | " + " | ".join(f"{x:.4g}" for x in med) + " |")
text = "Medians over the seeds (mse = 2 final_rec: mean squared error of the normalised data).\n\n" + "\n".join(lines) + "\n"
open(out + "/table.md", "w").write(text)
print(text)
EOF
