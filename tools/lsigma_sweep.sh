#!/bin/bash
# Experiment 1 of the L_Sigma paper ("Disentangled activations in deep networks", issue 10):
# a linear autoencoder (inputs/lsigma-dim.opts, p = 10) on x = Omega z + noise (tools/lingauss,
# d = 4), lambda = 0 and 8 values log-spaced over [0.001, 1], for L_Sigma and for the L1
# activity penalty, OMEGAS random maps Omega per lambda (Omega seed k, data seed k).
#
# Usage (from build/): tools/lsigma_sweep.sh [-omegas 10] [-steps S] [-noise 0] [-jobs 2] [-out DIR]
# Writes into DIR (default runs/lsigma-dim):
#   runs.csv         one row per run: reg, lambda, omega, mse, mapc, cvr, tdv, ud90, tdv_units, ud90_units,
#                    mapc_active, active, lsigma_final
#   table.md/.csv    medians (and quartiles) over the Omegas per regulariser and lambda
#   *.svg            the metrics and MSE against lambda, L_Sigma and L1 on one plot each
#   data/, runs/     the archives and run directories (history.csv, summary.json, metrics.json)
# MSE is the mean over values of (xhat - x)^2 on the whole archive (2 x summary.json final_rec);
# MAPC, CVR (sum |C| / tr C, no 1/p^2), TdV (d = 4) and UD90 are `disentangle eval`'s, from the
# covariance C of the code over the whole archive, TdV and UD90 from C's EIGENVALUES (as
# src/metrics/covstats.c defines them). For noise-free x = Omega z a linear code has rank d, so
# those two are 1 and <= d at every lambda; the paper's TdV/UD90, which do move with lambda,
# count the code's UNITS ("dimensions"): tdv_units = share of the total variance in the d units
# of largest variance, ud90_units = fewest units holding 90% of it (from C's diagonal, computed
# here from eval's latents.h5). mapc_active: MAPC over the active units only (variance above 1%
# of the largest; switched-off units keep ~1e-5 of it, and their correlations are noise);
# active: that count.
set -euo pipefail
omegas=10 steps="" noise=0 jobs=2 out=runs/lsigma-dim
while [ $# -gt 0 ]; do
  case "$1" in
    -omegas) omegas=$2 ;;
    -steps) steps=$2 ;;
    -noise) noise=$2 ;;
    -jobs) jobs=$2 ;;
    -out) out=$2 ;;
    *) echo "lsigma_sweep: unknown option $1 (allowed: -omegas -steps -noise -jobs -out)" >&2; exit 2 ;;
  esac
  shift 2
done
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${DT_BIN:-src/disentangle}
gen=${LINGAUSS:-tools/lingauss}
[ -x "$bin" ] && [ -x "$gen" ] || { echo "lsigma_sweep: run from build/ after make ($bin, $gen)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$out/data" "$out/runs"
lambdas=$(awk 'BEGIN { for (i = 0; i < 8; i++) printf "%.4g ", 10 ^ (-3 + 3 * i / 7) }')

one() { # one REG LAMBDA OMEGA: train and evaluate, print the row
  local reg=$1 lambda=$2 k=$3 dir="$out/runs/$1-$2-$3" extra=()
  case "$reg" in lsigma) extra=(-lsigma_lambda "$lambda") ;; l1) extra=(-l1_lambda "$lambda") ;; esac
  [ -n "$steps" ] && extra+=(-steps "$steps")
  if [ ! -f "$dir/metrics.json" ]; then
    rm -rf "$dir"
    mpiexec -n 1 "$bin" train -options_file "$src/inputs/lsigma-dim.opts" -data "$out/data/omega-$k.h5" -run_dir "$dir" \
      -seed "$k" "${extra[@]}" >"$dir.log" 2>&1 || { echo "lsigma_sweep: training $dir failed (see $dir.log)" >&2; return 1; }
    mpiexec -n 1 "$bin" eval -run_dir "$dir" -tdv_d 4 -metric_train 200 -metric_eval 200 >>"$dir.log" 2>&1 ||
      { echo "lsigma_sweep: eval of $dir failed (see $dir.log)" >&2; return 1; }
  fi
  /usr/bin/python3 - "$dir" "$reg" "$lambda" "$k" <<'EOF'
import csv, json, sys
import h5py, numpy as np
d, reg, lam, k = sys.argv[1:]
s, m = json.load(open(d + "/summary.json")), json.load(open(d + "/metrics.json"))
rows = list(csv.DictReader(open(d + "/history.csv")))
ls = rows[-1].get("lsigma_latents", "")
C = np.cov(h5py.File(d + "/latents.h5", "r")["z"][...], rowvar=False)
var = np.sort(np.diag(C))[::-1]
share = np.cumsum(var) / var.sum()
tdv_u, ud90_u = share[3], int(np.searchsorted(share, 0.9 - 1e-12) + 1)
act = np.diag(C) > 0.01 * np.diag(C).max()
R = np.abs(C[np.ix_(act, act)] / np.sqrt(np.outer(np.diag(C)[act], np.diag(C)[act])))
n = int(act.sum())
mapc_a = (R.sum() - n) / (n * (n - 1)) if n > 1 else 0.0
print(",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in
               [reg, lam, k, 2 * s["final_rec"], m["mapc"], m["cvr"], m["tdv"], m["ud90"], float(tdv_u), ud90_u, float(mapc_a), n, ls]))
EOF
}

for k in $(seq 1 "$omegas"); do
  [ -f "$out/data/omega-$k.h5" ] || "$gen" -out "$out/data/omega-$k.h5" -omega_seed "$k" -seed "$k" -noise "$noise" >/dev/null
done
{
  for k in $(seq 1 "$omegas"); do
    echo "none 0 $k"
    for lambda in $lambdas; do echo "lsigma $lambda $k"; echo "l1 $lambda $k"; done
  done
} >"$out/jobs.txt"
export -f one
export out steps src bin
echo "lsigma_sweep: $(wc -l <"$out/jobs.txt") runs, $jobs at a time, into $out"
echo "reg,lambda,omega,mse,mapc,cvr,tdv,ud90,tdv_units,ud90_units,mapc_active,active,lsigma_final" >"$out/runs.csv"
xargs -P "$jobs" -L 1 bash -c 'one "$@"' _ <"$out/jobs.txt" >>"$out/runs.csv"
/usr/bin/python3 "$src/tools/lsigma_table.py" "$out"
