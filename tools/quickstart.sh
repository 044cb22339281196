#!/bin/bash
# The main job in one command: install, build, make the built-in beam archive, train NashAE on
# it with 2 MPI ranks, measure it and draw the report. Results land in build/runs/beam-nashae/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cd build
make -s demo
echo
echo "Results: $(pwd)/runs/beam-nashae/"
echo "  report.html   the pictures: loss curves, latent traversals, latents vs factors, correlations, metrics"
echo "  metrics.json  the disentanglement metrics (also printed above)"
echo "  summary.json  active latents, latent ranges, final reconstruction, ms per step"
echo "  history.csv   losses of every step (step,loss,rec,adv,pred,samples_per_s)"
echo "  model.h5      the trained model (src/disentangle inspect runs/beam-nashae/model.h5)"
