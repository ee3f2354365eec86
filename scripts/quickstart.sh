#!/usr/bin/env bash
# README command 1: install everything on a fresh machine and run the main job.
#
# torch is installed once into the interpreter that runs this script (the local
# CPU wheel, pinned); a virtual environment with --system-site-packages then
# shares it, and all six packages are installed there editable.
# Environment: PYTHON (default python3), BLOCKS_VENV (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${BLOCKS_VENV:-.venv}

"$PYTHON" -m pip install torch==2.13.0
"$PYTHON" -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install \
    -e packages/core \
    -e packages/bricks-rnn \
    -e packages/fuel-datasets \
    -e packages/step-rules \
    -e packages/extensions \
    -e packages/gpu-cuda

if [ -f examples/quickstart.py ]; then
    "$VENV/bin/python" examples/quickstart.py
else
    "$VENV/bin/blocks" plugins
fi
