"""Files written atomically (temporary name, then rename) get the umask's permissions, like any new file.

``tempfile.mkstemp`` makes 0600 files: before the fix the download record
(``fuel_downloads.json``), ``blocks log --output`` and the data-path cache were
readable by their owner only, and converted files were forced to 0644 whatever
the umask.
"""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager

import pytest

from fuel.utils.files import make_temporary


@contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


UMASKS = [0o022, 0o027, 0o077, 0o002]


@pytest.mark.parametrize("mask", UMASKS)
def test_make_temporary_applies_the_umask(tmp_path, mask):
    with umask(mask):
        fd, path = make_temporary(str(tmp_path), prefix=".x.", suffix=".tmp")
    os.close(fd)
    assert mode(path) == 0o666 & ~mask
    assert os.path.basename(path).startswith(".x.") and path.endswith(".tmp")


def test_make_temporary_never_reuses_or_follows_an_existing_name(tmp_path, monkeypatch):
    import fuel.utils.files as files

    names = iter(["taken", "taken", "free"])
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: next(names))
    (tmp_path / ".x.taken").write_text("keep me")
    fd, path = make_temporary(str(tmp_path), prefix=".x.")
    os.close(fd)
    assert path.endswith(".x.free")
    assert (tmp_path / ".x.taken").read_text() == "keep me"
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: "taken")
    with pytest.raises(FileExistsError, match=r"\.x\.\*"):
        make_temporary(str(tmp_path), prefix=".x.")


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_download_record_is_readable_as_the_umask_allows(tmp_path, mask):
    from fuel.downloaders import manifest

    (tmp_path / "a.gz").write_bytes(b"data")
    with umask(mask):
        manifest.record(str(tmp_path), "a.gz", sha256="0" * 64, verified=True, reason="test")
    assert mode(tmp_path / manifest.MANIFEST_NAME) == 0o666 & ~mask


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_converted_file_follows_the_umask(tmp_path, mask):
    from fuel.converters.base import output_hdf5

    path = tmp_path / "out.hdf5"
    with umask(mask):
        with output_hdf5(str(path)) as h5file:
            h5file.create_dataset("x", data=[1, 2, 3])
    assert mode(path) == 0o666 & ~mask


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_blocks_log_output_follows_the_umask(tmp_path, mask):
    from blocks.cli.main import main
    from blocks.log.sqlite import SQLiteLog

    database = tmp_path / "log.sqlite"
    log = SQLiteLog(database=str(database))
    log[1]["cost"] = 1.0
    log.close()
    out = tmp_path / "cost.csv"
    with umask(mask):
        assert main(["log", str(database), "--format", "csv", "-o", str(out)]) == 0
    assert mode(out) == 0o666 & ~mask
