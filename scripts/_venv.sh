# Sourced by scripts/quickstart.sh and scripts/test.sh: the virtual environment they
# install into. Nothing here installs into the interpreter that runs the scripts
# (PYTHON, default python3); it only creates the environment.
#
# Environment:
#   PYTHON                  the Python 3.11 that creates the environment (default python3)
#   BLOCKS_TORCH_INDEX_URL  a package index for torch, e.g. https://download.pytorch.org/whl/cpu
#                           (the CPU build) or https://download.pytorch.org/whl/cu128 (a CUDA build);
#                           unset, pip takes torch==2.13.0 from its usual indexes

PYTHON=${PYTHON:-python3}

# make_venv DIR: a virtual environment at DIR, created with $PYTHON unless a working one is there.
make_venv() {
    local dir=$1
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c 'import sys, pip; sys.exit(sys.prefix == sys.base_prefix)' 2>/dev/null; then
        return 0
    fi
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "error: $PYTHON not found; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo "error: $PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())'); these packages need 3.11: set PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    echo "creating the virtual environment $dir (with $PYTHON; nothing is installed into $PYTHON itself)"
    local log
    log=$(mktemp)
    if ! "$PYTHON" -m venv "$dir" >"$log" 2>&1; then
        rm -rf "$dir"
        if grep -q ensurepip "$log" || ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
            echo "error: $PYTHON cannot create a virtual environment (its venv/ensurepip part is missing)." >&2
            echo "On Debian or Ubuntu, install it with:  sudo apt install python3.11-venv" >&2
        else
            echo "error: '$PYTHON -m venv $dir' failed:" >&2
            cat "$log" >&2
        fi
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
}

# pip_install DIR ARGS...: `pip install -q ARGS` into the environment at DIR. pip's notes about
# configured index locations that do not exist on this machine are dropped; everything else shows.
pip_install() {
    local dir=$1
    shift
    "$dir/bin/python" -m pip install -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

# install_torch DIR: torch 2.13.0 into the environment at DIR (from BLOCKS_TORCH_INDEX_URL when set).
install_torch() {
    local dir=$1
    if [ -n "${BLOCKS_TORCH_INDEX_URL:-}" ]; then
        pip_install "$dir" --index-url "$BLOCKS_TORCH_INDEX_URL" torch==2.13.0
    else
        pip_install "$dir" torch==2.13.0
    fi
}

# site_packages DIR: the site-packages directory of the environment at DIR.
site_packages() {
    "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
}
