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


def _ranged(data):
    """A route that honours Range requests."""

    def serve(byte_range):
        if byte_range is None:
            return ok(data)
        start = int(byte_range.split("=")[1].rstrip("-"))
        return (206, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}, data[start:])

    return serve


def test_a_wrong_file_at_the_name_is_fetched_again_from_byte_0_after_a_failed_resume(http_server, tmp_path):
    """Before: resumed onto the wrong prefix, the checksum failed and the run ended with exit 1 (good mirror)."""
    (tmp_path / "blob.bin").write_bytes(b"<html>not the data</html>\n" + b"x" * 7)  # 33 bytes < expected
    http_server.routes["/m/blob.bin"] = _ranged(DATA)
    s = spec(http_server, urls=(http_server.url("/upstream/blob.bin"),))
    assert open(get(tmp_path, s, mirrors=[http_server.url("/m")]), "rb").read() == DATA
    assert http_server.requests == [("/m/blob.bin", "bytes=33-"), ("/m/blob.bin", None)]
    assert sorted(os.listdir(tmp_path)) == ["blob.bin", "fuel_downloads.json"]


def _files(server, count):
    return [spec(server, name=f"f{i}.bin", urls=(server.url(f"/upstream/f{i}.bin"),)) for i in range(count)]


def test_a_dead_mirror_is_asked_once_per_run_not_once_per_file(http_server, tmp_path):
    """Before: 503 retried 4 times per file with back-off, for every file (29 s for MNIST)."""
    for i in range(4):
        http_server.routes[f"/dead/f{i}.bin"] = (503, {}, b"busy")
        http_server.routes[f"/upstream/f{i}.bin"] = ok()
    paths = default_downloader(
        str(tmp_path),
        _files(http_server, 4),
        mirrors=[http_server.url("/dead")],
        retries=3,
        retry_wait=30.0,
        progress=False,
    )
    assert len(paths) == 4
    asked = [p for p, _ in http_server.requests if p.startswith("/dead/")]
    assert asked == ["/dead/f0.bin"]  # not retried (other sources left), then skipped for the run


def test_a_hanging_mirror_costs_one_timeout_per_run(http_server, tmp_path):
    import time

    def hang(byte_range):
        time.sleep(0.6)
        return ok()

    for i in range(3):
        http_server.routes[f"/slow/f{i}.bin"] = hang
        http_server.routes[f"/upstream/f{i}.bin"] = ok()
    default_downloader(
        str(tmp_path),
        _files(http_server, 3),
        mirrors=[http_server.url("/slow")],
        timeout=0.2,
        retries=3,
        retry_wait=0.0,
        progress=False,
    )
    assert [p for p, _ in http_server.requests if p.startswith("/slow/")] == ["/slow/f0.bin"]


def test_a_refused_mirror_is_skipped_and_reported(http_server, tmp_path):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    http_server.routes["/upstream/f0.bin"] = (404, {}, b"")
    http_server.routes["/upstream/f1.bin"] = (404, {}, b"")
    with pytest.raises(DownloadError) as err:
        default_downloader(
            str(tmp_path),
            _files(http_server, 2),
            mirrors=[f"http://127.0.0.1:{port}"],
            retries=2,
            retry_wait=0.0,
            progress=False,
        )
    # the first file's error names both sources and why each failed
    assert f"127.0.0.1:{port}/f0.bin: source unavailable:" in str(err.value) and "HTTP 404" in str(err.value)
    with pytest.raises(DownloadError) as err:
        download_file(
            _files(http_server, 2)[1],
            str(tmp_path),
            mirrors=[f"http://127.0.0.1:{port}"],
            retry_wait=0.0,
            progress=False,
            health=_health_with(f"http://127.0.0.1:{port}/x"),
        )
    assert "skipped: failed earlier in this run" in str(err.value)


def _health_with(url):
    from fuel.downloaders import SourceHealth

    health = SourceHealth()
    health.mark(url, "Connection refused")
    return health


def test_a_checksum_mismatch_is_reported_with_every_sources_failure_and_the_no_verify_hint(http_server, tmp_path):
    """Before: the mismatch on the mirror was lost in a generic 'could not be downloaded from any source'."""
    http_server.routes["/m/blob.bin"] = ok(b"z" * len(DATA))
    s = spec(http_server, urls=(http_server.url("/upstream/blob.bin"),))  # 404: offline upstream
    with pytest.raises(ChecksumError) as err:
        get(tmp_path, s, mirrors=[http_server.url("/m")])
    message = str(err.value)
    assert "/m/blob.bin: wrong file: sha256" in message and "/upstream/blob.bin: HTTP 404" in message
    assert "--no-verify" in message and "blob.bin.corrupt" in message and "--mirror" in message


def test_google_drive_hint_only_for_google_drive_addresses():
    from fuel.downloaders.base import _html_error

    page = b"<html><head><title>Quota exceeded</title></head><body>quota</body></html>"
    assert "Google Drive" not in str(_html_error("http://127.0.0.1:8000/mnist.gz", page))
    assert "Google Drive" in str(_html_error("https://drive.google.com/uc?id=abc", page))


def test_the_no_verify_banner_shows_once(http_server, tmp_path, capfd):
    """Before: logged and printed, so a command that shows log records showed it twice."""
    import logging

    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    root.handlers = []  # as in a fresh process: the command configures logging itself, as fuel-download does
    http_server.routes["/blob.bin"] = ok()
    try:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        default_downloader(str(tmp_path), [spec(http_server)], verify=False, progress=False, retry_wait=0.0)
    finally:
        root.handlers, root.level = saved, level
    assert capfd.readouterr().err.count("--no-verify: checksums and sizes are NOT checked") == 1
