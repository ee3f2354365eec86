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

    local = _local_path(path, config.local_data_path)
    if local is None:
        return path
    source = os.path.abspath(path)
    stat = os.stat(source)
    if _fresh(local, stat):
        return local
    directory = os.path.dirname(local)
    os.makedirs(directory, exist_ok=True)
    lock = local + ".lock"
    if not _lock(lock, source, local, stat, lock_timeout):
        return local  # another process finished the copy while this one waited
    try:
        if not _fresh(local, stat):
            _copy(source, local, stat)
    finally:
        if os.path.exists(lock):
            os.remove(lock)
    return local


def _local_path(path: str, local_root: str) -> str | None:
    """Where the local copy of ``path`` goes under ``local_root``; None when nothing is to be copied."""
    if not local_root:
        return None
    source = os.path.abspath(path)
    root = os.path.abspath(os.path.expanduser(local_root))
    if source.startswith(root + os.sep):  # already local
        return None
    return os.path.join(root, source.lstrip(os.sep))


def _fresh(local: str, stat: os.stat_result) -> bool:
    """Whether ``local`` is a complete copy of the file ``stat`` describes (same size and modification time)."""
    if not os.path.isfile(local):
        return False
    here = os.stat(local)
    return here.st_size == stat.st_size and int(here.st_mtime) == int(stat.st_mtime)


def _lock(lock: str, source: str, local: str, stat: os.stat_result, timeout: float) -> bool:
    """Take the lock file ``lock`` (True), or return False once another process's copy is complete.

    Raises
    ------
    ValueError
        The lock has been held for over ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if _fresh(local, stat):
                return False
            if time.monotonic() > deadline:
                raise ValueError(
                    f"{lock} has been held for over {timeout:.0f} s; if no other process is copying "
                    f"{source}, delete the lock file"
                ) from None
            time.sleep(0.2)
    try:
        os.write(fd, str(os.getpid()).encode())
    except BaseException:
        os.remove(lock)  # never leave a lock nobody holds
        raise
    finally:
        os.close(fd)
    return True


def _copy(source: str, local: str, stat: os.stat_result) -> None:
    """Copy ``source`` to ``local`` through a temporary name, keeping its mode and times; checks free space."""
    directory = os.path.dirname(local)
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
