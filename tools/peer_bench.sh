#!/bin/bash
# The NashAE step against a PyTorch implementation of it (tools/torch_nashae.py), one core, same
# machine, same OpenBLAS: interleaved rounds of `disentangle bench`, `disentangle train` (its
# summary.json ms_per_step: what users run, start-up and progress lines included) and both PyTorch
# variants (regressors as a ModuleList, and as stacked weights with one bmm a layer), medians and
# ratios.
#   tools/peer_bench.sh [BUILD_DIR] [ROUNDS] [BATCH] [LATENTS]
# Needs python3-torch and python3-h5py (Debian 12: apt-get install python3-torch python3-h5py).
# Run it on a quiet machine; OUT=FILE also writes the table as markdown (docs/peer-torch.md).
set -euo pipefail
build=${1:-build}
rounds=${2:-5}
batch=${3:-100}
latents=${4:-4}
src=$(cd "$(dirname "$0")/.." && pwd)
dt=$build/src/disentangle
py=/usr/bin/python3
"$py" -c 'import torch, h5py' 2>/dev/null ||
  { echo "peer_bench: needs PyTorch and h5py for $py: apt-get install python3-torch python3-h5py" >&2; exit 2; }
tmp=$(mktemp -d /tmp/peer-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$build/tools/beamgen" -out "$tmp/beam.h5" -seed 1 -duty_count 400 >/dev/null # 1200 samples
steps=$((300000 / batch)); [ "$steps" -lt 50 ] && steps=50

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
ours() {
  "$dt" bench -options_file "$src/inputs/beam-nashae.opts" -data "$tmp/beam.h5" -batch "$batch" -latents "$latents" \
    -steps "$steps" >"$tmp/out" 2>&1 || { tail -5 "$tmp/out" >&2; exit 1; }
  grep '^bench: ' "$tmp/out" | field step_ms
}
train_ms() {
  rm -rf "$tmp/run"
  "$dt" train -options_file "$src/inputs/beam-nashae.opts" -data "$tmp/beam.h5" -run_dir "$tmp/run" -batch "$batch" \
    -latents "$latents" -steps "$steps" -progress_every 0 >"$tmp/out.train" 2>&1 || { tail -5 "$tmp/out.train" >&2; exit 1; }
  "$py" -c 'import json, sys; print("%.4f" % json.load(open(sys.argv[1]))["ms_per_step"])' "$tmp/run/summary.json"
}
torch_ms() { # VARIANT
  "$py" "$src/tools/torch_nashae.py" -data "$tmp/beam.h5" -batch "$batch" -latents "$latents" -steps "$((steps / 2))" \
    -ensemble "$1" 2>"$tmp/err" | field step_ms || { cat "$tmp/err" >&2; exit 1; }
}

echo "round  bench  train  torch-loop  torch-batched  (ms/step, batch $batch, $latents latents, 1 thread)"
for r in $(seq "$rounds"); do # a failed run stops the tool (set -e), its output on stderr
  b=$(ours)
  t=$(train_ms)
  l=$(torch_ms loop)
  m=$(torch_ms batched)
  echo "$r $b $t $l $m"
done | tee "$tmp/rounds"
core=$(sed -n 's/.* core=\([^ ]*\).*/\1/p' "$tmp/out")
tv=$("$py" -c 'import torch; print(torch.__version__)')
"$py" - "$tmp/rounds" "$batch" "$latents" "$core" "$tv" "${OUT:-}" <<'PY'
import datetime, os, statistics, sys
rows = [list(map(float, l.split()[1:])) for l in open(sys.argv[1])]
ours, train, loop, bat = (statistics.median(c) for c in zip(*rows))
batch, m, core, tv, out = sys.argv[2:7]
line = (f"medians: disentangle bench {ours:.3f} ms, train {train:.3f} ms ({100 * (train / ours - 1):+.1f} %), "
        f"PyTorch {tv} loop {loop:.3f} ms ({loop / ours:.2f}x), batched {bat:.3f} ms ({bat / ours:.2f}x)")
print(line)
if out:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    with open(out, "w") as f:
        f.write("# NashAE step: disentangle against PyTorch on one core\n\n")
        f.write(f"Written by `tools/peer_bench.sh` on {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC: {cpu}, "
                f"{os.cpu_count()} cores; OpenBLAS core {core}, 1 thread for both; PyTorch {tv} (Debian's python3-torch, "
                f"which calls the same OpenBLAS). Batch {batch}, {m} latents, `inputs/beam-nashae.opts` on "
                f"`beamgen -seed 1 -duty_count 400`; {len(rows)} interleaved rounds, medians.\n\n")
        f.write("| round | bench ms | train ms | PyTorch loop ms | PyTorch batched ms |\n|---:|---:|---:|---:|---:|\n")
        for i, r in enumerate(rows, 1):
            f.write(f"| {i} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.3f} |\n")
        f.write(f"| median | {ours:.3f} | {train:.3f} | {loop:.3f} | {bat:.3f} |\n\n")
        f.write(f"bench (train's loop after 21 warm-up steps) and train (its summary.json: every step, start-up "
                f"of the loop included) differ by {100 * (train / ours - 1):+.1f} % in the medians. disentangle is "
                f"{loop / ours:.2f}x faster than the ModuleList ensemble and {bat / ours:.2f}x faster than the bmm "
                f"ensemble.\n")
PY
