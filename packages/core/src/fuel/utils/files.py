"""Temporary files for atomic writes that get the permissions of an ordinary new file.

``tempfile.mkstemp`` creates files with mode 0600 whatever the umask, so a file
written to a temporary name and renamed into place would end up readable by its
owner only, unlike every other file a user makes. :func:`make_temporary` creates
the file with mode 0666 and lets the kernel apply the process umask (0644 under
the usual umask 022), as ``open(path, "w")`` would.

Examples
--------
>>> import os, stat, tempfile
>>> directory = tempfile.mkdtemp()
>>> fd, path = make_temporary(directory, prefix=".out.", suffix=".tmp")
>>> os.close(fd)
>>> mode = stat.S_IMODE(os.stat(path).st_mode)
>>> umask = os.umask(0o022); _ = os.umask(umask)
>>> mode == 0o666 & ~umask
True
"""

from __future__ import annotations

import os
import secrets

__all__ = ["make_temporary"]

_ATTEMPTS = 100


def make_temporary(directory: str, prefix: str = ".tmp.", suffix: str = "") -> tuple[int, str]:
    """Create a new, empty file with a unique name in ``directory``; return ``(fd, path)``.

    The file is opened for writing, created exclusively (``O_EXCL``: never an
    existing file or a symbolic link), and gets mode ``0666`` minus the umask.

    Parameters
    ----------
    directory : str
        Where to create it (the directory of the final file, so that
        ``os.replace`` is atomic).
    prefix, suffix : str
        Around a random part of the name.

    Returns
    -------
    tuple of (int, str)
        An open file descriptor (the caller closes it) and the absolute path.

    Raises
    ------
    FileExistsError
        If no unused name was found after many attempts.
    """
    directory = os.path.abspath(directory)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(_ATTEMPTS):
        path = os.path.join(directory, f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file named {prefix}*{suffix} in {directory}")
