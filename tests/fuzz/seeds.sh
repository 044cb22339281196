#!/bin/bash
# Seed corpora for the fuzzers, from what the test suite uses and writes: the options files of
# inputs/, checkpoints and the JSON files of a short run, archives of beamgen and dsprites.
#   tests/fuzz/seeds.sh BUILD_DIR OUT_DIR     -> OUT_DIR/{options,json,ckpt,archive}/
set -euo pipefail
build=$(cd "$1" && pwd)
out=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"/{options,json,ckpt,archive}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} # a sanitized build's tools (Open MPI keeps memory to the end)
cp "$src"/inputs/*.opts "$out/options/"
printf -- '-options_file beam-nashae.opts\n-steps 7 # comment\n\xEF\xBB\xBF-latents 3\n' >"$out/options/nested.opts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/tools/beamgen" -out "$out/archive/beam-f32.h5" -duty_count 4 -length 32 -freqs 10,20 >/dev/null
"$build/tools/beamgen" -out "$out/archive/beam-u8.h5" -duty_count 3 -length 24 -dtype uint8 -amplitude_spread 0.2 >/dev/null
"$build/tools/beamgen" -out "$out/archive/beam-f64.h5" -duty_count 2 -length 16 -dtype float64 -jitter 0.1 >/dev/null
"$build/tools/dsprites" -out "$out/archive/dsprites.h5" -n 4 -seed 2 >/dev/null
"$build/tools/beamgen" -out "$work/beam.h5" -duty_count 8 -length 64 >/dev/null
"$build/src/disentangle" train -data "$work/beam.h5" -run_dir "$work/r" -steps 4 -batch 8 -latents 2 -hidden 8 \
  -nashae_reg_hidden 4 -checkpoint_every 2 -progress_every 0 2>/dev/null
cp "$work/r/model.h5" "$out/ckpt/model.h5"
cp "$work/r/ckpt-00000002.h5" "$out/ckpt/ckpt-2.h5"
cp "$work/r/summary.json" "$work/r/run.json" "$out/json/"
printf '{\n  "method": "nashae",\n  "active_latents": 2,\n  "mig": 0.25,\n  "gaussian_tc": null,\n  "range_0": 1e-3\n}\n' >"$out/json/metrics.json"
echo "seeds: $(find "$out" -type f | wc -l) files in $out"
