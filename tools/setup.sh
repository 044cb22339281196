#!/bin/bash
# Install what disentangle needs (Debian 12, as root) and build it in ./build.
# Safe to run again: installed packages and a configured build are reused.
#   tools/setup.sh          the build dependencies
#   tools/setup.sh --tests  and what the tests use besides (a local SLURM cluster: slurm-wlm, munge;
#                           headless Chromium and netpbm to render and check the report; Debian's
#                           python3-h5py and python3-numpy to write archives and checkpoints as users do)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES="build-essential autoconf automake pkg-config libopenmpi-dev openmpi-bin libopenblas-dev
  libhdf5-openmpi-dev hdf5-tools libscalapack-openmpi-dev petsc-dev libjansson-dev zlib1g-dev"
[ "${1:-}" = "--tests" ] && PACKAGES="$PACKAGES slurm-wlm munge procps chromium netpbm fonts-dejavu-core python3-h5py python3-numpy"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages:$missing; run as root or: sudo apt-get install$missing" >&2
    exit 1
  fi
  echo "setup: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure --quiet
make -s -j"$(nproc)"
echo "setup: built build/src/disentangle" >&2
