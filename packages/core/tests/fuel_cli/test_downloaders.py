"""fuel.downloaders against a local HTTP server: verification, mirrors, resume, retries, HTML pages."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

import fuel
from fuel.downloaders import (
    ChecksumError,
    DownloadError,
    FileSpec,
    HTMLPageError,
    ManualDownloadRequired,
    default_downloader,
    download_file,
    manual_downloader,
    mirror_url,
    resolve_mirrors,
    verification_status,
)

DATA = bytes(range(256)) * 40


def spec(server, name="blob.bin", data=DATA, **kwargs) -> FileSpec:
    return FileSpec(name, kwargs.pop("urls", (server.url(f"/{name}"),)), hashlib.sha256(data).hexdigest(), len(data),
                    **kwargs)


def ok(body=DATA, **headers):
    return (200, {"Content-Type": "application/octet-stream", **headers}, body)


def get(tmp_path, s, **kwargs) -> str:
    kwargs.setdefault("retry_wait", 0.0)
    return download_file(s, str(tmp_path), progress=False, **kwargs)


def test_download_verifies_and_records(http_server, tmp_path):
    http_server.routes["/blob.bin"] = ok()
    path = get(tmp_path, spec(http_server))
    assert open(path, "rb").read() == DATA
    record = json.load(open(tmp_path / "fuel_downloads.json"))["files"]["blob.bin"]
    assert record["verified"] and record["sha256"] == hashlib.sha256(DATA).hexdigest() and record["size"] == len(DATA)
    assert verification_status(str(tmp_path), ["blob.bin"]) == (True, [])


def test_wrong_size_and_wrong_sha256_are_errors(http_server, tmp_path):
    http_server.routes["/blob.bin"] = ok(DATA[:-1])
    with pytest.raises(ChecksumError, match=r"size is 10239 bytes, expected 10240"):
        get(tmp_path, spec(http_server))
    http_server.routes["/blob.bin"] = ok(b"x" + DATA[1:])
    with pytest.raises(ChecksumError, match=r"sha256 is [0-9a-f]{64}, expected") as err:
        get(tmp_path / "b", spec(http_server))
    assert "--no-verify" in str(err.value) and ".corrupt" in str(err.value)


def test_md5_is_checked_when_no_sha256_is_published(http_server, tmp_path):
    http_server.routes["/blob.bin"] = ok()
    good = FileSpec("blob.bin", (http_server.url("/blob.bin"),), md5=hashlib.md5(DATA).hexdigest())
    assert open(get(tmp_path, good), "rb").read() == DATA
    bad = FileSpec("blob.bin", (http_server.url("/blob.bin"),), md5="0" * 32)
    with pytest.raises(ChecksumError, match="md5 is"):
        get(tmp_path / "b", bad)


def test_no_verify_records_unverified(http_server, tmp_path):
    http_server.routes["/blob.bin"] = ok(b"changed upstream")
    default_downloader(str(tmp_path), [spec(http_server)], verify=False, progress=False)
    verified, notes = verification_status(str(tmp_path), ["blob.bin"])
    assert not verified and notes == ["blob.bin: --no-verify"]


def test_unknown_checksum_is_recorded_as_unverified(http_server, tmp_path):
    http_server.routes["/blob.bin"] = ok()
    get(tmp_path, FileSpec("blob.bin", (http_server.url("/blob.bin"),)))
    assert verification_status(str(tmp_path), ["blob.bin"]) == (False, ["blob.bin: no published checksum"])


def test_mirrors_come_first_and_fall_back_in_order(http_server, tmp_path):
    http_server.routes["/m2/blob.bin"] = ok()
    http_server.routes["/upstream/blob.bin"] = ok()
    s = spec(http_server, urls=(http_server.url("/upstream/blob.bin"),))
    get(tmp_path, s, mirrors=[http_server.url("/m1/"), http_server.url("/m2")])
    assert [p for p, _ in http_server.requests] == ["/m1/blob.bin", "/m2/blob.bin"]


def test_fuel_mirrors_environment_and_file_mirror(http_server, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "blob.bin").write_bytes(DATA)
    monkeypatch.setenv("FUEL_MIRRORS", f"file://{mirror} https://mirror.example.org/data")
    with fuel.config.override(mirrors=None):
        del fuel.config.mirrors
        assert resolve_mirrors(["/srv/x"])[:2] == ["file:///srv/x", f"file://{mirror}"]
        get(tmp_path / "out", spec(http_server, urls=()))
    assert http_server.requests == []


def test_mirror_url_quotes_the_name():
    assert mirror_url("file:///data/", "a b.gz") == "file:///data/a%20b.gz"


def test_interrupted_transfer_resumes_with_range(http_server, tmp_path):
    def serve(byte_range):
        if byte_range is None:
            return (200, {"Content-Length": str(len(DATA)), "X-Truncate": "4000"}, DATA)
        start = int(byte_range.split("=")[1].rstrip("-"))
        return (206, {"Content-Range": f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"}, DATA[start:])

    http_server.routes["/blob.bin"] = serve
    assert open(get(tmp_path, spec(http_server)), "rb").read() == DATA
    assert [r for _, r in http_server.requests] == [None, "bytes=4000-"]


def test_partial_file_from_an_earlier_run_is_resumed(http_server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(DATA[:1000])
    http_server.routes["/blob.bin"] = lambda r: (206, {}, DATA[int(r.split("=")[1].rstrip("-")):])
    assert open(get(tmp_path, spec(http_server)), "rb").read() == DATA
    assert http_server.requests == [("/blob.bin", "bytes=1000-")]


def test_server_ignoring_range_restarts_the_file(http_server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(b"garbage")
    http_server.routes["/blob.bin"] = ok()
    assert open(get(tmp_path, spec(http_server)), "rb").read() == DATA


def test_complete_partial_file_answered_416(http_server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(DATA)
    http_server.routes["/blob.bin"] = (416, {}, b"")
    s = FileSpec("blob.bin", (http_server.url("/blob.bin"),), hashlib.sha256(DATA).hexdigest())
    assert open(get(tmp_path, s), "rb").read() == DATA


def test_transient_server_errors_are_retried(http_server, tmp_path):
    http_server.routes["/blob.bin"] = [(503, {}, b"busy"), (500, {}, b"oops"), ok()]
    assert open(get(tmp_path, spec(http_server), retries=2), "rb").read() == DATA
    assert len(http_server.requests) == 3


def test_retries_are_bounded(http_server, tmp_path):
    http_server.routes["/blob.bin"] = (503, {}, b"busy")
    with pytest.raises(DownloadError, match=r"gave up after 2 attempts"):
        get(tmp_path, spec(http_server), retries=1)


def test_404_is_not_retried_and_names_every_source(http_server, tmp_path):
    s = spec(http_server, urls=(http_server.url("/a/blob.bin"), http_server.url("/b/blob.bin")))
    with pytest.raises(DownloadError) as err:
        get(tmp_path, s, retries=3)
    assert "/a/blob.bin: HTTP 404" in str(err.value) and "/b/blob.bin: HTTP 404" in str(err.value)
    assert "--mirror" in str(err.value)
    assert len(http_server.requests) == 2


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/octet-stream"])
def test_html_page_is_refused(http_server, tmp_path, content_type):
    page = b"\n  <!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head></html>"
    http_server.routes["/blob.bin"] = (200, {"Content-Type": content_type}, page)
    with pytest.raises(HTMLPageError, match="sent an HTML page titled 'Google Drive - Virus scan warning'"):
        get(tmp_path, spec(http_server))
    assert os.listdir(tmp_path) == []


DRIVE_PAGE = (b'<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>'
              b'<form id="download-form" action="/confirmed/blob.bin" method="get">'
              b'<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="a&amp;b">'
              b'</form></body></html>')


def test_google_drive_confirmation_page_is_followed(http_server, tmp_path):
    http_server.routes["/blob.bin"] = (200, {"Content-Type": "text/html"}, DRIVE_PAGE)
    http_server.routes["/confirmed/blob.bin?confirm=t&uuid=a%26b"] = ok()
    assert open(get(tmp_path, spec(http_server)), "rb").read() == DATA
    assert [p for p, _ in http_server.requests] == ["/blob.bin", "/confirmed/blob.bin?confirm=t&uuid=a%26b"]


def test_a_second_confirmation_page_is_an_error(http_server, tmp_path):
    http_server.routes["/blob.bin"] = (200, {"Content-Type": "text/html"}, DRIVE_PAGE)
    http_server.routes["/confirmed/blob.bin?confirm=t&uuid=a%26b"] = (200, {"Content-Type": "text/html"}, DRIVE_PAGE)
    with pytest.raises(HTMLPageError, match="second Google Drive confirmation page"):
        get(tmp_path, spec(http_server))


def test_present_verified_file_is_not_downloaded_again(http_server, tmp_path):
    (tmp_path / "blob.bin").write_bytes(DATA)
    get(tmp_path, spec(http_server))
    assert http_server.requests == []


def test_present_damaged_file_is_replaced(http_server, tmp_path):
    (tmp_path / "blob.bin").write_bytes(b"y" * len(DATA))
    http_server.routes["/blob.bin"] = ok()
    assert open(get(tmp_path, spec(http_server)), "rb").read() == DATA
    assert not (tmp_path / "blob.bin.corrupt").exists()


def test_timeout_is_transient(http_server, tmp_path):
    import time

    def slow(byte_range):
        time.sleep(0.5)
        return ok()

    http_server.routes["/blob.bin"] = [slow, ok()]
    assert open(get(tmp_path, spec(http_server), timeout=0.1, retries=1), "rb").read() == DATA


def test_clear_deletes_files_and_record(http_server, tmp_path):
    http_server.routes["/blob.bin"] = ok()
    s = spec(http_server)
    get(tmp_path, s)
    (tmp_path / "blob.bin.part").write_bytes(b"x")
    assert default_downloader(str(tmp_path), [s], clear=True) == []
    assert sorted(os.listdir(tmp_path)) == ["fuel_downloads.json"]


def test_manual_download_instructions_and_hand_placed_files(tmp_path):
    s = FileSpec("secret.tar", sha256=hashlib.sha256(DATA).hexdigest(), size=len(DATA))
    with pytest.raises(ManualDownloadRequired) as err:
        manual_downloader(str(tmp_path), [s], "Ask the archive for it.")
    message = str(err.value)
    assert message.startswith("Ask the archive for it.") and f"secret.tar ({len(DATA)} bytes)" in message
    assert str(tmp_path) in message
    (tmp_path / "secret.tar").write_bytes(DATA)
    assert manual_downloader(str(tmp_path), [s], "Ask.") == [str(tmp_path / "secret.tar")]
    assert verification_status(str(tmp_path), ["secret.tar"]) == (True, [])
    (tmp_path / "secret.tar").write_bytes(DATA[::-1])
    with pytest.raises(ChecksumError, match="placed by hand"):
        manual_downloader(str(tmp_path), [s], "Ask.")


def test_manual_download_from_a_mirror_that_lacks_a_file(http_server, tmp_path):
    http_server.routes["/mirror/a.tar"] = ok()
    a = spec(http_server, "a.tar", urls=())
    b = FileSpec("b.tar", size=7)
    with pytest.raises(ManualDownloadRequired) as err:
        manual_downloader(str(tmp_path), [a, b], "Ask.", mirrors=[http_server.url("/mirror/")], progress=False)
    message = str(err.value)
    assert "b.tar (7 bytes)" in message and "a.tar (" not in message and "Mirrors tried:" in message
    assert (tmp_path / "a.tar").read_bytes() == DATA and verification_status(str(tmp_path), ["a.tar"])[0]


def test_unsupported_scheme(tmp_path):
    with pytest.raises(DownloadError, match="unsupported URL scheme 'ftp'"):
        download_file(FileSpec("x", ("ftp://example.org/x",)), str(tmp_path), progress=False)


def test_filespec_validation():
    with pytest.raises(ValueError, match="plain file name"):
        FileSpec("a/b")
    with pytest.raises(ValueError, match="tuple of URLs"):
        FileSpec("a", "https://example.org/a")  # type: ignore[arg-type]
