#!/bin/bash
# Every supervised score of NashAE and the plain autoencoder over seeds on the built-in beam
# archive, over all latents and over the active ones, with the factor-capture counts, beside the
# scores of an older disentangle binary (the previous suite) evaluated on the same models.
# Usage: [METHODS="nashae ae"] tools/metric_study.sh [SEEDS] [OUT_DIR] [OLD_BINARY]   (run from build/; 2 ranks)
set -euo pipefail
seeds=${1:-5}
out=${2:-runs/metric-study}
old=${3:-}
src=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
[ -f data/beam.h5 ] || make -s data/beam.h5
mkdir -p "$out"
for method in ${METHODS:-nashae ae}; do
  for seed in $(seq 1 "$seeds"); do
    dir="$out/$method-$seed"
    [ -f "$dir/model.h5" ] || mpiexec -n 2 --oversubscribe src/disentangle train -options_file "$src/inputs/beam-$method.opts" \
      -data data/beam.h5 -run_dir "$dir" -seed "$seed" -progress_every 0 2>/dev/null >/dev/null
    if [ -n "$old" ]; then
      mpiexec -n 2 --oversubscribe "$old" eval -run_dir "$dir" >/dev/null 2>&1
      mv "$dir/metrics.json" "$dir/metrics-old.json"
    fi
    mpiexec -n 2 --oversubscribe src/disentangle eval -run_dir "$dir" >"$dir/eval.txt" 2>&1
  done
done
/usr/bin/python3 - "$out" "$seeds" <<'PY'
import json, os, statistics, sys
out, seeds = sys.argv[1], int(sys.argv[2])
scores = ["betavae_score", "betavae_nashae_protocol", "factorvae_score", "mig", "modularity", "modularity_normalised",
          "explicitness", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap"]
def load(method, name):
    runs = []
    for s in range(1, seeds + 1):
        p = os.path.join(out, f"{method}-{s}", name)
        runs.append(json.load(open(p)) if os.path.exists(p) else {})
    return runs
def cell(runs, key):
    v = [r[key] for r in runs if r.get(key) is not None]
    if not v: return "-"
    return f"{statistics.median(v):.3f} [{min(v):.2f},{max(v):.2f}]"
print(f"median [min,max] over {seeds} seeds; old = the previous suite on the same models")
print(f"{'metric':26s} {'method':7s} {'old':>19s} {'new, all latents':>19s} {'new, active':>19s}")
for key in scores:
    for method in ("nashae", "ae"):
        old, new = load(method, "metrics-old.json"), load(method, "metrics.json")
        print(f"{key:26s} {method:7s} {cell(old, key):>19s} {cell(new, key):>19s} {cell(new, key + '_active'):>19s}")
for method in ("nashae", "ae"):
    new = load(method, "metrics.json")
    act = [r.get("active_latents") for r in new]
    k = int(new[0].get("factors", 0)) if new and new[0] else 0
    caps = [sum(int(r.get(f"captured_{f}", 0)) for r in new) for f in range(k)]
    print(f"{method}: active latents per seed {act}; captured_factors per seed {[r.get('captured_factors') for r in new]}; "
          f"factor f captured cleanly in {caps} of {seeds} runs")
PY
