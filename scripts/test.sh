#!/usr/bin/env bash
# README command 2: run every test environment (lint, one per package,
# integration, docs) and print a summary with the time of each.
#
# torch and the third-party test dependencies (scripts/requirements-tests.txt,
# pinned by scripts/constraints-tests.txt) go once into a virtual environment
# (BLOCKS_TEST_VENV, default .venv-tests) created with $PYTHON (default python3);
# the interpreter itself is left untouched. tox runs from that environment, and
# each tox environment sees its packages through a .pth file
# (scripts/link_shared_site.py), so no environment reinstalls torch; each
# installs only our packages. Our packages are never installed into the shared
# environment, so a tox environment sees exactly the ones it installs.
# Environment: TOX_ENVS (comma-separated subset), BLOCKS_TORCH_INDEX_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh

VENV=${BLOCKS_TEST_VENV:-.venv-tests}
TOX_ENVS=${TOX_ENVS:-lint,core,bricks-rnn,fuel-datasets,step-rules,extensions,gpu-cuda,integration,docs}

start=$SECONDS
make_venv "$VENV"
echo "installing torch 2.13.0 and the test dependencies into $VENV"
install_torch "$VENV"
pip_install "$VENV" -r scripts/requirements-tests.txt -c scripts/constraints-tests.txt
BLOCKS_SHARED_SITE=$(site_packages "$VENV")
export BLOCKS_SHARED_SITE
setup=$((SECONDS - start))

summary=()
failed=()
for env in ${TOX_ENVS//,/ }; do
    began=$SECONDS
    if "$VENV/bin/python" -m tox run -e "$env"; then status=ok; else status=FAILED; failed+=("$env"); fi
    summary+=("$(printf 'test.sh: %-14s %-6s %5d s' "$env" "$status" $((SECONDS - began)))")
done

echo
printf 'test.sh: %-14s %-6s %5d s\n' "set-up" ok "$setup"
printf '%s\n' "${summary[@]}"
printf 'test.sh: %-14s %-6s %5d s\n' "total" "$([ ${#failed[@]} -eq 0 ] && echo ok || echo FAILED)" $((SECONDS - start))
if [ ${#failed[@]} -ne 0 ]; then
    echo "test.sh: failed environments: ${failed[*]}" >&2
    exit 1
fi
