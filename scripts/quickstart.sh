#!/usr/bin/env bash
# README command 1: install everything on a fresh machine and run the main job.
#
# Creates a virtual environment (BLOCKS_VENV, default .venv) with $PYTHON
# (default python3), installs torch 2.13.0 and all six packages (editable) into
# it, and runs examples/quickstart.py there. The interpreter itself is left
# untouched. BLOCKS_TORCH_INDEX_URL picks torch's build (see scripts/_venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh

VENV=${BLOCKS_VENV:-.venv}

make_venv "$VENV"
echo "installing torch 2.13.0 and the six packages into $VENV"
install_torch "$VENV"
pip_install "$VENV" \
    -e packages/core \
    -e packages/bricks-rnn \
    -e packages/fuel-datasets \
    -e packages/step-rules \
    -e packages/extensions \
    -e packages/gpu-cuda

"$VENV/bin/python" examples/quickstart.py
