"""Finding dataset files: ``data_path`` search and the ``local_data_path`` cache.

:func:`find_in_data_path` (:mod:`fuel.utils.paths`, re-exported here) returns the
first directory of ``fuel.config.data_path`` (``FUEL_DATA_PATH``, searched in
order) that holds a file. :func:`cache_file`
copies a file from slow shared storage to ``fuel.config.local_data_path`` once
and returns the local copy, as Fuel's ``fuel.utils.cache.cache_file`` did:
a copy in progress is written to a temporary name and renamed when complete,
under a lock file, so concurrent processes never read a half-copied file.
"""

from __future__ import annotations

import logging
import os
import shutil
import time

from fuel.utils.files import make_temporary
from fuel.utils.paths import find_in_data_path

__all__ = ["cache_file", "find_in_data_path"]

logger = logging.getLogger(__name__)


def _free_space(directory: str) -> int:
    return shutil.disk_usage(directory).free


def cache_file(path: str, *, lock_timeout: float = 600.0) -> str:
    """A local copy of ``path`` when ``fuel.config.local_data_path`` is set, else ``path``.

    The copy lives under ``local_data_path`` at the same absolute path (so two
    files with the same name in different places do not collide), is made once
    and reused while its size and modification time match the original's.

    Parameters
    ----------
    path : str
        A dataset file, typically on network storage.
    lock_timeout : float
        Seconds to wait for another process that is copying the same file.

    Returns
    -------
    str
        The path to read.

    Raises
    ------
    ValueError
        The local disk lacks space for the copy.

    Examples
    --------
    >>> import fuel
    >>> with fuel.config.override(local_data_path=""):
    ...     cache_file("/data/mnist.hdf5")
    '/data/mnist.hdf5'
    """
    from fuel import config

    local_root = config.local_data_path
    if not local_root:
        return path
    source = os.path.abspath(path)
    root = os.path.abspath(os.path.expanduser(local_root))
    if source.startswith(root + os.sep):  # already local
        return path
    local = os.path.join(root, source.lstrip(os.sep))
    stat = os.stat(source)

    def fresh() -> bool:
        if not os.path.isfile(local):
            return False
        here = os.stat(local)
        return here.st_size == stat.st_size and int(here.st_mtime) == int(stat.st_mtime)

    if fresh():
        return local
    directory = os.path.dirname(local)
    os.makedirs(directory, exist_ok=True)
    lock = local + ".lock"
    deadline = time.monotonic() + lock_timeout
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if fresh():
                return local
            if time.monotonic() > deadline:
                raise ValueError(
                    f"{lock} has been held for over {lock_timeout:.0f} s; if no other process is copying "
                    f"{source}, delete the lock file"
                ) from None
            time.sleep(0.2)
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        if fresh():
            return local
        if _free_space(directory) < stat.st_size:
            raise ValueError(
                f"not enough free space in {directory} to cache {source} ({stat.st_size} bytes); free some space "
                "or unset local_data_path (FUEL_LOCAL_DATA_PATH)"
            )
        logger.info("caching %s in %s", source, local)
        tmp_fd, tmp = make_temporary(directory, prefix=f".{os.path.basename(local)}.")
        os.close(tmp_fd)
        try:
            shutil.copyfile(source, tmp)
            shutil.copymode(source, tmp)
            os.utime(tmp, (stat.st_atime, stat.st_mtime))
            os.replace(tmp, local)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
    finally:
        if os.path.exists(lock):
            os.remove(lock)
    return local
