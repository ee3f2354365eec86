"""Fuel's download helpers (issue 18 item 9): download, filename_from_url, NeedURLPrefix,
ensure_directory_exists, and default_downloader called with Fuel's urls/filenames/url_prefix.

Our own tests of what Fuel's tests/test_downloaders.py pins, against a server on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import os
import sys
import types

import pytest

from blocks.cli import fuel_download
from fuel.downloaders import (
    MANIFEST_NAME,
    DownloadError,
    FileSpec,
    NeedURLPrefix,
    default_downloader,
    download,
    ensure_directory_exists,
    filename_from_url,
)
from fuel.downloaders import base as downloaders_base

CONTENT = b"mock data \x00\x01" * 100


def test_the_helpers_are_where_fuel_had_them():
    for name in ("download", "filename_from_url", "NeedURLPrefix", "ensure_directory_exists", "default_downloader"):
        assert getattr(downloaders_base, name) is not None
    assert downloaders_base.download is download and downloaders_base.NeedURLPrefix is NeedURLPrefix
    with pytest.raises(AttributeError):
        downloaders_base.no_such_helper


def test_filename_from_url(http_server):
    http_server.routes["/files/mock.data"] = (200, {}, CONTENT)
    http_server.routes["/get?id=3"] = (200, {"Content-Disposition": 'attachment; filename="named.tar.gz"'}, b"x")
    http_server.routes["/rfc2231"] = (200, {"Content-Disposition": "attachment; filename*=UTF-8''caf%C3%A9.txt"}, b"")
    http_server.routes["/hostile"] = (200, {"Content-Disposition": "attachment; filename=../../.bashrc"}, b"x")
    http_server.routes["/dots"] = (200, {"Content-Disposition": "attachment; filename=.."}, b"x")
    http_server.routes["/dir/"] = (200, {}, b"index")
    assert filename_from_url(http_server.url("/files/mock.data")) == "mock.data"
    assert filename_from_url(http_server.url("/get?id=3")) == "named.tar.gz"
    assert filename_from_url(http_server.url("/rfc2231")) == "café.txt"
    assert filename_from_url(http_server.url("/hostile")) == ".bashrc"  # never a path out of the directory
    assert filename_from_url(http_server.url("/dots")) == "dots"  # nothing usable: the URL's name
    assert filename_from_url(http_server.url("/dir/")) == ""
    with pytest.raises(DownloadError, match="HTTP 404"):
        filename_from_url(http_server.url("/missing"))


def test_download_writes_the_body_and_notices_a_cut_connection(http_server):
    http_server.routes["/a.bin"] = (200, {}, CONTENT)
    http_server.routes["/cut.bin"] = (200, {"Content-Length": str(len(CONTENT)), "X-Truncate": "100"}, CONTENT)
    handle = io.BytesIO()
    assert download(http_server.url("/a.bin"), handle, chunk_size=7) == len(CONTENT)
    assert handle.getvalue() == CONTENT
    with pytest.raises(DownloadError, match="after 100 of 1200 bytes"):
        download(http_server.url("/cut.bin"), io.BytesIO())
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(http_server.url("/nothing"), io.BytesIO())
    with pytest.raises(DownloadError, match="unsupported URL scheme 'ftp'"):
        download("ftp://127.0.0.1/x", io.BytesIO())


def test_download_without_content_length(tmp_path):
    source = tmp_path / "local.bin"
    source.write_bytes(CONTENT)
    with open(tmp_path / "copy.bin", "wb") as handle:
        download(source.as_uri(), handle)
    assert (tmp_path / "copy.bin").read_bytes() == CONTENT


def test_ensure_directory_exists(tmp_path):
    target = tmp_path / "a" / "b"
    ensure_directory_exists(str(target))
    ensure_directory_exists(str(target))
    assert target.is_dir()
    (target / "f").write_text(" ")
    with pytest.raises(OSError):
        ensure_directory_exists(str(target / "f"))


def test_default_downloader_with_fuels_arguments(http_server, tmp_path):
    http_server.routes["/d/mock.data"] = (200, {}, CONTENT)
    url = http_server.url("/d/mock.data")
    for n, kwargs in enumerate((
        {"urls": [url], "filenames": ["mock.data"]},
        {"urls": [url], "filenames": [None]},  # the name comes from the URL
        {"urls": [None], "filenames": ["mock.data"], "url_prefix": http_server.url("/d/")},
    )):
        directory = tmp_path / str(n)
        paths = default_downloader(directory=str(directory), clear=False, progress=False, **kwargs)
        assert paths == [str(directory / "mock.data")]
        assert (directory / "mock.data").read_bytes() == CONTENT
        record = json.loads((directory / MANIFEST_NAME).read_text())
        assert json.dumps(record).count('"verified": false') == 1  # no checksum known: recorded as unverified


def test_default_downloader_fuel_errors(http_server, tmp_path):
    http_server.routes["/"] = (200, {}, CONTENT)
    with pytest.raises(NeedURLPrefix, match="url_prefix"):
        default_downloader(directory=str(tmp_path), urls=[None], filenames=["mock.data"])
    with pytest.raises(ValueError, match="no filename available"):
        default_downloader(directory=str(tmp_path), urls=[http_server.url("/")], filenames=[None])
    with pytest.raises(ValueError, match="same length"):
        default_downloader(directory=str(tmp_path), urls=["http://127.0.0.1/a"], filenames=["a", "b"])
    with pytest.raises(ValueError, match="not both"):
        default_downloader(str(tmp_path), [FileSpec("a")], urls=["http://127.0.0.1/a"], filenames=["a"])
    with pytest.raises(ValueError, match=r"default_downloader\(directory, urls=\.\.\., filenames=\.\.\.\)"):
        default_downloader(str(tmp_path), ["http://127.0.0.1/a"], ["a"])  # Fuel's positional call
    assert not os.listdir(tmp_path)


def test_default_downloader_clear_needs_no_url(tmp_path):
    (tmp_path / "tmp.data").write_text("x")
    assert default_downloader(directory=str(tmp_path), clear=True, urls=[None], filenames=["tmp.data"]) == []
    assert not (tmp_path / "tmp.data").exists()


def _fill_lab_subparser(subparser):
    """A downloader written for Fuel: set urls and filenames, return default_downloader."""
    subparser.set_defaults(urls=[None, None], filenames=["a.txt", "b.txt"], url_prefix=_fill_lab_subparser.prefix)
    return default_downloader


def test_a_fuel_style_downloader_module_works_through_fuel_download(http_server, tmp_path, monkeypatch, capsys):
    import fuel

    http_server.routes["/lab/a.txt"] = (200, {}, b"alpha")
    http_server.routes["/lab/b.txt"] = (200, {}, b"beta")
    _fill_lab_subparser.prefix = http_server.url("/lab/")
    module = types.ModuleType("fuel_h5_lab_downloaders")
    module.all_downloaders = (("lab", _fill_lab_subparser),)
    monkeypatch.setitem(sys.modules, "fuel_h5_lab_downloaders", module)
    with fuel.config.override(extra_downloaders=["fuel_h5_lab_downloaders"]):
        assert fuel_download.main(["lab", "-d", str(tmp_path), "--no-progress"]) == 0
        assert (tmp_path / "a.txt").read_bytes() == b"alpha" and (tmp_path / "b.txt").read_bytes() == b"beta"
        assert fuel_download.main(["lab", "-d", str(tmp_path), "--clear"]) == 0
    assert not (tmp_path / "a.txt").exists() and not (tmp_path / "b.txt").exists()
