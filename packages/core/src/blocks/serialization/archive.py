"""The checkpoint container: an uncompressed tar with a hashed ``MANIFEST``, written atomically.

Writing streams every member through ``sha256`` while it goes to a temporary
file in the destination's directory; the file is fsync'ed, renamed over the
destination and the directory is fsync'ed, so the previous checkpoint at that
path stays intact until the new one is complete on disk. ``MANIFEST`` (the
last member, JSON) records the format version and each member's size and
sha256. Reading checks the manifest, the format version and every size before
anything is parsed, and each member's hash when it is read.

A member is read once into private memory and its sha256 is computed over
*those* bytes (a helper thread hashes one piece while the next is read); the
tensors are then built on the same memory. Nothing stays mapped to the file,
so a checkpoint rewritten or truncated after (or while) it is loaded cannot
change what was verified, nor crash the process with ``SIGBUS``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from blocks.serialization.errors import CheckpointError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST",
    "STALE_TEMPORARY_SECONDS",
    "Archive",
    "MemberSource",
    "atomic_write",
    "remove_stale_temporaries",
    "write_archive",
]

logger = logging.getLogger(__name__)

FORMAT_NAME = "blocks-checkpoint"
FORMAT_VERSION = 1
MANIFEST = "MANIFEST"
_BLOCK = tarfile.BLOCKSIZE
_PIECE = 8 << 20  # hash and write in pieces of 8 MiB so both overlap
_THREADED = 1 << 20  # smaller pieces are hashed inline
_NAME_MAX = 255  # bytes in a file name on common file systems

STALE_TEMPORARY_SECONDS = 24 * 3600
"""A temporary file of :func:`atomic_write` untouched for this long is stale whoever wrote it (other hosts)."""

# .<destination>.<random>.blocks-tmp.<pid>.<pid namespace>.<host>.tmp
_TEMPORARY = re.compile(
    r"^\..*\.blocks-tmp\.(?P<pid>[0-9]+)\.(?P<ns>[0-9]+)\.(?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)\.tmp$"
)


@dataclass
class MemberSource:
    """A member to write: its name, exact size and the bytes, piece by piece.

    Examples
    --------
    >>> MemberSource("notes.txt", 5, [b"hel", b"lo"]).size
    5
    """

    name: str
    size: int
    chunks: Iterable[bytes | bytearray | memoryview]


def _write_all(fd: int, data: memoryview) -> None:
    while data.nbytes:
        written = os.write(fd, data)
        data = data[written:]


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _host() -> str:
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()).strip(".-")
    host = re.sub(r"\.{2,}", ".", host)[:64].strip(".-")
    return host or "unknown-host"


def _pid_namespace() -> int:
    """This process's PID namespace (its inode on Linux; 0 where unknown): PIDs compare only inside one."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def _temporary_affixes(basename: str) -> tuple[str, str]:
    """mkstemp's prefix and suffix: the destination's name, then this writer's PID, PID namespace and host."""
    suffix = f".blocks-tmp.{os.getpid()}.{_pid_namespace()}.{_host()}.tmp"
    room = _NAME_MAX - len(os.fsencode(suffix)) - 8 - 2  # mkstemp adds 8 random characters
    while len(os.fsencode(basename)) > room:
        basename = basename[:-1]
    return f".{basename}.", suffix


def _writer_is_gone(match: re.Match[str]) -> bool:
    """Whether the writer named in a temporary file's name provably no longer runs (same host and PID namespace)."""
    pid, namespace = int(match["pid"]), int(match["ns"])
    if os.name != "posix" or namespace == 0 or namespace != _pid_namespace() or match["host"] != _host():
        return False
    if pid == os.getpid():
        return False  # another thread of this process is writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, owned by someone else
        return False
    return False


def remove_stale_temporaries(directory: str | os.PathLike[str], *, now: float | None = None) -> list[str]:
    """Delete the temporary files that :func:`atomic_write` writers killed mid-write left in ``directory``.

    Only files with :func:`atomic_write`'s name pattern are considered, and
    only when their writer is provably gone: its PID, recorded in the name,
    no longer runs on this host (in this PID namespace), or the file has not
    been modified for :data:`STALE_TEMPORARY_SECONDS` (writers on other hosts
    of a shared file system). A write in progress — another run, another rank,
    another thread — never loses its file. Called after every successful
    :func:`atomic_write`. Returns the names removed.

    Examples
    --------
    >>> import tempfile
    >>> remove_stale_temporaries(tempfile.mkdtemp())
    []
    """
    directory = os.fspath(directory)
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError as err:
        logger.debug("cannot list %s for stale temporary files: %s", directory, err)
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            stale = _writer_is_gone(match) or now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMPORARY_SECONDS
            if stale:
                os.unlink(entry.path)
        except FileNotFoundError:  # another writer removed it first
            continue
        except OSError as err:
            logger.debug("cannot remove the stale temporary file %s: %s", entry.path, err)
            continue
        if stale:
            logger.info("removed %s, left by a writer that was killed mid-write", entry.path)
            removed.append(entry.name)
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[int]:
    """Yield a file descriptor whose content replaces ``path`` atomically and durably.

    The data goes to a temporary file in the same directory, named after
    ``path`` and this writer (PID, PID namespace, host); on success it is
    fsync'ed, renamed over ``path``, and the directory is fsync'ed. On any
    error the temporary file is removed and ``path`` is untouched. A writer
    killed mid-write cannot remove its file: the next successful write in
    the directory does (:func:`remove_stale_temporaries`).

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out.bin")
    >>> with atomic_write(target) as fd:
    ...     _ = os.write(fd, b"hello")
    >>> open(target, "rb").read()
    b'hello'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    prefix, suffix = _temporary_affixes(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=suffix)
    try:
        yield fd
        os.fsync(fd)
        os.close(fd)
        fd = -1
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
        tmp = ""
        _fsync_dir(directory)
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    remove_stale_temporaries(directory)


def _tar_header(name: str, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = 0o644
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")


def _pieces(chunks: Iterable[bytes | bytearray | memoryview]) -> Iterator[memoryview]:
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        for start in range(0, view.nbytes, _PIECE):
            yield view[start:start + _PIECE]


def write_archive(
    path: str | os.PathLike[str], members: Iterable[MemberSource], **manifest_fields: Any
) -> dict[str, Any]:
    """Write ``members`` and a ``MANIFEST`` as one tar, atomically and durably.

    Each member is hashed while it is written (a helper thread hashes a piece
    while the main thread writes it). Returns the manifest.

    Raises
    ------
    ValueError
        When a member's bytes do not add up to its declared size, or a name repeats.
    """
    mtime = int(time.time())
    entries: dict[str, dict[str, Any]] = {}
    with atomic_write(path) as fd, ThreadPoolExecutor(1) as pool:
        for member in members:
            if member.name in entries or member.name == MANIFEST:
                raise ValueError(f"member name {member.name!r} repeats or is reserved")
            _write_all(fd, memoryview(_tar_header(member.name, member.size, mtime)))
            digest = hashlib.sha256()
            written = 0
            for piece in _pieces(member.chunks):
                if piece.nbytes < _THREADED:
                    digest.update(piece)
                    _write_all(fd, piece)
                else:
                    future = pool.submit(digest.update, piece)
                    _write_all(fd, piece)
                    future.result()
                written += piece.nbytes
            if written != member.size:
                raise ValueError(f"member {member.name!r} declared {member.size} bytes but produced {written}")
            _write_all(fd, memoryview(b"\0" * (-written % _BLOCK)))
            entries[member.name] = {"size": written, "sha256": digest.hexdigest()}
        manifest = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **manifest_fields, "members": entries}
        text = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8") + b"\n"
        _write_all(fd, memoryview(_tar_header(MANIFEST, len(text), mtime) + text + b"\0" * (-len(text) % _BLOCK)))
        _write_all(fd, memoryview(b"\0" * (2 * _BLOCK)))
    return manifest


class Archive:
    """A checkpoint file opened for verified reading.

    Opening reads the tar index and the ``MANIFEST`` and checks the format,
    the format version, that every listed member is present with its recorded
    size and that nothing else is there. :meth:`read` returns a member's bytes
    after checking its sha256.

    Parameters
    ----------
    path : str or PathLike
        The checkpoint file.

    Raises
    ------
    CheckpointError
        For a missing, truncated or damaged file, an old Blocks checkpoint
        (use :func:`blocks.serialization.load_parameters`), or a newer format.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "c.tar")
    >>> _ = write_archive(path, [MemberSource("a.txt", 2, [b"hi"])])
    >>> with Archive(path) as archive:
    ...     bytes(archive.read("a.txt"))
    b'hi'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise CheckpointError(f"{self.path}: no such checkpoint file")
        self._file = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        try:
            self._index = self._read_index()
            self.manifest = self._read_manifest()
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (what :meth:`read` returned stays valid: it is private memory)."""
        self._file.close()

    @property
    def members(self) -> dict[str, dict[str, Any]]:
        """Name → ``{"size", "sha256"}`` from the manifest."""
        return self.manifest["members"]

    def _read_index(self) -> dict[str, tuple[int, int]]:
        file_size = os.fstat(self._file.fileno()).st_size
        if file_size == 0:
            raise CheckpointError(f"{self.path}: the file is empty (an interrupted copy?)")
        index: dict[str, tuple[int, int]] = {}
        try:
            with tarfile.open(fileobj=self._file, mode="r:") as tar:
                for info in tar:
                    if not info.isfile():
                        raise CheckpointError(f"{self.path}: member {info.name!r} is not a regular file")
                    if info.name in index:
                        raise CheckpointError(f"{self.path}: member {info.name!r} appears twice")
                    if info.offset_data + info.size > file_size:
                        raise CheckpointError(
                            f"{self.path}: the file is truncated: member {info.name!r} needs bytes up to "
                            f"{info.offset_data + info.size}, the file has {file_size}"
                        )
                    index[info.name] = (info.offset_data, info.size)
        except tarfile.TarError as err:
            raise CheckpointError(
                f"{self.path}: not a readable tar archive, the file is truncated or damaged ({err})"
            ) from None
        return index

    def _read_manifest(self) -> dict[str, Any]:
        if MANIFEST not in self._index:
            if "_parameters" in self._index or "_pkl" in self._index:
                raise CheckpointError(
                    f"{self.path}: an old Blocks checkpoint (members {sorted(self._index)}); its parameters "
                    "can be read with blocks.serialization.load_parameters(path)"
                )
            raise CheckpointError(
                f"{self.path}: member {MANIFEST!r} is missing, so the file is truncated or not a blocks "
                f"checkpoint (members found: {sorted(self._index)})"
            )
        data = self._read_raw(MANIFEST)
        try:
            manifest = json.loads(bytes(data).decode("utf-8"))
            members = manifest["members"]
            version = manifest["format_version"]
            if manifest.get("format") != FORMAT_NAME or not isinstance(members, dict) or not isinstance(version, int):
                raise ValueError("unexpected content")
            for name, entry in members.items():
                if not isinstance(entry.get("size"), int) or not isinstance(entry.get("sha256"), str):
                    raise ValueError(f"bad entry for {name!r}")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
            raise CheckpointError(
                f"{self.path}: {MANIFEST} is damaged or not a {FORMAT_NAME} manifest ({err})"
            ) from None
        if version > FORMAT_VERSION:
            raise CheckpointError(
                f"{self.path}: written in checkpoint format version {version}, newer than the versions this "
                f"blocks-core reads (up to {FORMAT_VERSION}); upgrade blocks-core to load it"
            )
        missing = sorted(set(members) - set(self._index))
        if missing:
            raise CheckpointError(f"{self.path}: member(s) {missing} listed in {MANIFEST} are missing from the archive")
        extra = sorted(set(self._index) - set(members) - {MANIFEST})
        if extra:
            raise CheckpointError(f"{self.path}: member(s) {extra} are not listed in {MANIFEST}; the file was altered")
        for name, entry in members.items():
            if self._index[name][1] != entry["size"]:
                raise CheckpointError(
                    f"{self.path}: member {name!r} has {self._index[name][1]} bytes, {MANIFEST} says {entry['size']}"
                )
        return manifest

    def _read_into(self, view: memoryview, offset: int, name: str) -> None:
        """Fill ``view`` with the file's bytes from ``offset`` (a short file is a truncated checkpoint)."""
        fd = self._file.fileno()
        done = 0
        while done < view.nbytes:
            try:
                got = _pread_into(fd, view[done:], offset + done)
            except OSError as err:
                raise CheckpointError(f"{self.path}: cannot read member {name!r} ({err})") from None
            if got == 0:
                raise CheckpointError(f"{self.path}: the file is truncated inside member {name!r}")
            done += got

    def _read_hashed(self, name: str, keep: bool = True) -> tuple[memoryview, str]:
        """Read member ``name`` once and return ``(bytes, sha256 of those bytes)``.

        With ``keep`` the bytes go to one private buffer of the member's size
        (returned); without it two pieces are reused (only the hash is wanted).
        Reading a piece and hashing the previous one overlap.
        """
        offset, size = self._index[name]
        buffer = memoryview(np.empty(size if keep else min(size, 2 * _PIECE), dtype=np.uint8))
        digest = hashlib.sha256()
        pending = None
        with contextlib.ExitStack() as stack:
            pool = stack.enter_context(ThreadPoolExecutor(1)) if size > _PIECE else None
            position = 0
            while position < size:
                length = min(_PIECE, size - position)
                start = position if keep else (position // _PIECE % 2) * _PIECE
                piece = buffer[start:start + length]
                self._read_into(piece, offset + position, name)  # overlaps with the previous piece's hash
                if pending is not None:
                    pending.result()
                if pool is not None and length >= _THREADED:
                    pending = pool.submit(digest.update, piece)
                else:
                    pending = None
                    digest.update(piece)
                position += length
            if pending is not None:
                pending.result()
        return (buffer if keep else memoryview(b"")), digest.hexdigest()

    def _read_raw(self, name: str) -> memoryview:
        """A member's bytes in private memory, unverified (the manifest, which has no recorded hash)."""
        offset, size = self._index[name]
        buffer = memoryview(bytearray(size))
        self._read_into(buffer, offset, name)
        return buffer

    def _check(self, name: str, digest: str) -> None:
        if digest != self.members[name]["sha256"]:
            raise CheckpointError(
                f"{self.path}: member {name!r} is corrupted: its sha256 is {digest}, {MANIFEST} records "
                f"{self.members[name]['sha256']}"
            )

    def read(self, name: str) -> memoryview:
        """The bytes of member ``name``, read once into private memory and checked against the manifest's sha256.

        The hash is computed over the returned bytes themselves, so what was
        verified is exactly what the caller gets, whatever happens to the file
        afterwards. Tensors built on the view share it (no further copy).
        """
        if name not in self.members:
            raise CheckpointError(f"{self.path}: no member {name!r}; members: {sorted(self.members)}")
        data, digest = self._read_hashed(name)
        self._check(name, digest)
        return data

    def verify(self) -> None:
        """Check the sha256 of every member (reads the whole file, keeps none of it)."""
        for name in self.members:
            self._check(name, self._read_hashed(name, keep=False)[1])


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    """``os.preadv`` into ``view`` (read, then copy, where the platform lacks it)."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], offset)
    data = os.pread(fd, view.nbytes, offset)  # pragma: no cover - platforms without preadv
    view[:len(data)] = data  # pragma: no cover
    return len(data)  # pragma: no cover
