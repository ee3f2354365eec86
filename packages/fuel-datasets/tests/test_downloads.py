"""Every downloader against a local HTTP server: good, corrupted, dead first mirror, interrupted, HTML page."""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

import pytest

from blocks.cli import fuel_download
from fuel.downloaders import FileSpec

# dataset key in conftest.UPSTREAM -> (registry name, module, extra download arguments)
DOWNLOADABLE = {
    "adult": ("adult", []),
    "binarized_mnist": ("binarized_mnist", []),
    "caltech101_silhouettes": ("caltech101_silhouettes", ["16"]),
    "celeba": ("celeba", []),
    "cifar10": ("cifar10", []),
    "cifar100": ("cifar100", []),
    "dogs_vs_cats": ("dogs_vs_cats", []),
    "iris": ("iris", []),
    "mnist": ("mnist", []),
    "one_billion_word": ("one_billion_word", []),
    "svhn1": ("svhn", ["1"]),
    "svhn2": ("svhn", ["2"]),
}


def serve(key: str, server: Any, upstream: Any, digest: Any, monkeypatch: Any, urls: Any = None) -> dict[str, bytes]:
    """Serve the dataset's generated files and point its FileSpecs (checksums overridden) at the server."""
    name, _ = DOWNLOADABLE.get(key, (key, []))
    module = importlib.import_module(f"fuel_datasets.{name}")
    files = upstream[key]().files
    server.files.update(files)
    for filename, data in files.items():
        assert filename in module.FILES, f"{filename} is not a file of {name}"
        spec_urls = urls(filename) if urls else (server.url(filename),)
        monkeypatch.setitem(module.FILES, filename, FileSpec(filename, spec_urls, digest(data), len(data)))
    return files


def download(key: str, directory: Any, *extra: str) -> int:
    name, args = DOWNLOADABLE[key]
    return fuel_download.main([name, *args, "-d", str(directory), "--no-progress", "--retries", "2", *extra])


@pytest.mark.parametrize("key", sorted(DOWNLOADABLE))
def test_good_download(key, fuel_datasets_host, http_server, upstream, digest, monkeypatch, tmp_path, capsys):
    files = serve(key, http_server, upstream, digest, monkeypatch)
    assert download(key, tmp_path) == 0, capsys.readouterr().err
    for filename, data in files.items():
        assert (tmp_path / filename).read_bytes() == data
    record = json.loads((tmp_path / "fuel_downloads.json").read_text())["files"]
    assert all(record[f]["verified"] and record[f]["sha256"] == digest(d) for f, d in files.items())
    assert "fuel-convert" in capsys.readouterr().out
    # a second run finds the verified files and downloads nothing
    count = len(http_server.requests)
    assert download(key, tmp_path) == 0
    assert len(http_server.requests) == count


@pytest.mark.parametrize("key", sorted(DOWNLOADABLE))
def test_corrupted_download_is_an_error_that_says_what_to_do(key, fuel_datasets_host, http_server, upstream, digest,
                                                             monkeypatch, tmp_path, capsys):
    files = serve(key, http_server, upstream, digest, monkeypatch)
    bad = sorted(files)[0]
    http_server.mode[bad] = "corrupt"
    assert download(key, tmp_path) == 2
    err = capsys.readouterr().err
    assert "does not match the published checksum" in err and "sha256 is" in err
    assert "--mirror" in err and "--no-verify" in err
    assert not (tmp_path / bad).exists() and (tmp_path / f"{bad}.corrupt").exists()


@pytest.mark.parametrize("key", sorted(DOWNLOADABLE))
def test_dead_first_mirror_falls_back(key, fuel_datasets_host, http_server, upstream, digest, monkeypatch, tmp_path):
    files = serve(key, http_server, upstream, digest, monkeypatch)
    dead = f"{http_server.base}/dead/"
    assert download(key, tmp_path, "--mirror", dead, "--mirror", "http://127.0.0.1:9/unreachable") == 0
    assert all((tmp_path / f).read_bytes() == d for f, d in files.items())
    paths = [path for path, _ in http_server.requests]
    assert paths[0].startswith("/dead/") and paths[1].startswith("/data/")


@pytest.mark.parametrize("key", sorted(DOWNLOADABLE))
def test_interrupted_download_resumes_with_range(key, fuel_datasets_host, http_server, upstream, digest, monkeypatch,
                                                 tmp_path):
    files = serve(key, http_server, upstream, digest, monkeypatch)
    target = max(files, key=lambda f: len(files[f]))
    http_server.mode[target] = "interrupt"
    assert download(key, tmp_path) == 0
    assert (tmp_path / target).read_bytes() == files[target]
    ranges = [r for path, r in http_server.requests if path.endswith(target.replace(" ", "%20")) and r]
    assert ranges == [f"bytes={len(files[target]) // 2}-"]


@pytest.mark.parametrize("key", sorted(DOWNLOADABLE))
def test_html_page_instead_of_data_is_an_error(key, fuel_datasets_host, http_server, upstream, digest, monkeypatch,
                                               tmp_path, capsys):
    files = serve(key, http_server, upstream, digest, monkeypatch)
    bad = sorted(files)[0]
    http_server.mode[bad] = "html"
    assert download(key, tmp_path) == 2
    err = capsys.readouterr().err
    assert "sent an HTML page titled 'Quota exceeded'" in err
    assert not (tmp_path / bad).exists() and not (tmp_path / f"{bad}.part").exists()


def test_file_mirror_and_fuel_mirrors(fuel_datasets_host, http_server, upstream, digest, monkeypatch, tmp_path):
    import fuel

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    files = serve("mnist", http_server, upstream, digest, monkeypatch,
                  urls=lambda f: (f"{http_server.base}/gone/{f}",))
    for filename, data in files.items():
        (mirror / filename).write_bytes(data)
    with fuel.config.override(mirrors=[f"file://{mirror}"]):
        assert download("mnist", tmp_path / "a") == 0
    assert all((tmp_path / "a" / f).read_bytes() == d for f, d in files.items())
    assert http_server.requests == []
    # a plain directory given with --mirror works too
    assert download("mnist", tmp_path / "b", "--mirror", str(mirror)) == 0
    assert http_server.requests == []


def test_no_verify_is_loud_and_recorded(fuel_datasets_host, http_server, upstream, digest, monkeypatch, tmp_path,
                                        caplog):
    files = serve("iris", http_server, upstream, digest, monkeypatch)
    http_server.mode["iris.data"] = "corrupt"
    assert download("iris", tmp_path, "--no-verify") == 0
    # a warning log record, which the command shows on stderr (once: test_the_no_verify_banner_shows_once)
    assert [r.levelname for r in caplog.records if "--no-verify: checksums" in r.getMessage()] == ["WARNING"]
    record = json.loads((tmp_path / "fuel_downloads.json").read_text())["files"]
    assert record["iris.data"]["verified"] is False and record["iris.data"]["reason"] == "--no-verify"
    assert (tmp_path / "iris.data").read_bytes() != files["iris.data"]


def test_clear_removes_files(fuel_datasets_host, http_server, upstream, digest, monkeypatch, tmp_path):
    files = serve("iris", http_server, upstream, digest, monkeypatch)
    assert download("iris", tmp_path) == 0
    assert download("iris", tmp_path, "--clear") == 0
    assert not any((tmp_path / f).exists() for f in files)
    assert json.loads((tmp_path / "fuel_downloads.json").read_text())["files"] == {}


@pytest.mark.parametrize("year", [2010, 2012])
def test_imagenet_manual_instructions_hand_placed_files_and_mirror(year, fuel_datasets_host, http_server, upstream,
                                                                   digest, monkeypatch, tmp_path, capsys):
    name = f"ilsvrc{year}"
    module = importlib.import_module(f"fuel_datasets.{name}")
    files = upstream[name]().files
    assert sorted(files) == sorted(module.FILES)
    argv = [name, "-d", str(tmp_path), "--no-progress"]
    assert fuel_download.main(argv) == 2
    err = capsys.readouterr().err
    assert "no public download URL" in err and "image-net.org" in err and str(tmp_path) in err
    assert all(f in err for f in files)
    # files placed by hand are verified (checksums overridden) and recorded
    for filename, data in files.items():
        (tmp_path / filename).write_bytes(data)
        monkeypatch.setitem(module.FILES, filename, FileSpec(filename, (), digest(data), len(data)))
    assert fuel_download.main(argv) == 0
    record = json.loads((tmp_path / "fuel_downloads.json").read_text())["files"]
    assert all(record[f]["verified"] for f in files)
    # a damaged hand-placed file is refused
    first = sorted(files)[0]
    (tmp_path / first).write_bytes(b"x" + files[first][1:])
    assert fuel_download.main(argv) == 2
    assert "placed by hand" in capsys.readouterr().err
    # an institutional mirror serves them like any other dataset
    http_server.files.update(files)
    mirror_dir = tmp_path / "from_mirror"
    assert fuel_download.main([name, "-d", str(mirror_dir), "--no-progress", "--mirror",
                               f"{http_server.base}/data/"]) == 0
    assert all((mirror_dir / f).read_bytes() == d for f, d in files.items())


def test_digits_download_needs_no_network(fuel_datasets_host, tmp_path, monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("digits must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert fuel_download.main(["digits", "-d", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "fuel_downloads.json").read_text())["files"]
    assert record["digits.csv.gz"]["verified"] is True and "scikit-learn" in record["digits.csv.gz"]["reason"]
    assert os.path.getsize(tmp_path / "digits.csv.gz") == 57523
