"""Let the running environment see the shared test environment's packages.

Usage: ``python scripts/link_shared_site.py [SITE_PACKAGES]``. Writes
``_blocks_shared_site.pth`` into this interpreter's site-packages, naming the
shared environment's site-packages (the argument, else ``BLOCKS_SHARED_SITE``,
else ``.venv-tests`` of this checkout). Python appends that directory to
``sys.path`` after the environment's own, so what the environment installs
(our packages) wins, and torch and the other third-party packages come from the
shared environment instead of being installed again. The ``.pth`` files inside
the shared directory are not processed, and our packages are never installed
there, so no other copy of them leaks in. tox and nox run this first in every
environment.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PTH_NAME = "_blocks_shared_site.pth"


def shared_site(argument: str | None) -> Path:
    """The shared site-packages directory, from the argument, the environment or the default venv."""
    if argument:
        return Path(argument)
    if os.environ.get("BLOCKS_SHARED_SITE"):
        return Path(os.environ["BLOCKS_SHARED_SITE"])
    found = sorted((ROOT / ".venv-tests" / "lib").glob("python3.*/site-packages"))
    if not found:
        raise SystemExit(
            "link_shared_site: no shared test environment: run `bash scripts/test.sh` once "
            "(it creates .venv-tests), or set BLOCKS_SHARED_SITE to a site-packages directory"
        )
    return found[0]


def main() -> int:
    site = shared_site(sys.argv[1] if len(sys.argv) > 1 else None).resolve()
    if not (site / "torch").is_dir():
        raise SystemExit(f"link_shared_site: {site} holds no torch; is it the test environment's site-packages?")
    own = Path(sysconfig.get_paths()["purelib"])
    if sys.prefix == sys.base_prefix:
        raise SystemExit("link_shared_site: refusing to write into the base interpreter; run it inside a venv")
    (own / PTH_NAME).write_text(f"{site}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
