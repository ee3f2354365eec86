#!/usr/bin/env bash
# README command 2: run every test environment (lint, one per package, integration).
#
# torch and the third-party test dependencies go into the interpreter that runs
# tox, once; the tox environments see them through system_site_packages and
# never reinstall them. Environment: PYTHON (default python3), TOX_ENVS.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TOX_ENVS=${TOX_ENVS:-lint,core,bricks-rnn,fuel-datasets,step-rules,extensions,gpu-cuda,integration,docs}

"$PYTHON" -m pip install torch==2.13.0 \
    tox virtualenv hatchling pluggy pyyaml numpy \
    h5py safetensors pyzmq tqdm matplotlib pillow scipy scikit-learn \
    pytest pytest-timeout ruff sphinx myst-parser
"$PYTHON" -m tox run -e "$TOX_ENVS"
