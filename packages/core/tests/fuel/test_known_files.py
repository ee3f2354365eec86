"""Fuel-style downloads (urls=, filenames=) of files a plugin registered are checked against their checksums."""

from __future__ import annotations

import hashlib
import logging
import uuid

import pytest

from fuel.downloaders import (
    ChecksumError,
    FileSpec,
    default_downloader,
    known_file,
    register_known_files,
    verification_status,
)


def _name(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}.bin"  # the registry is process-wide: a name no other test uses


def _published(tmp_path, name: str, data: bytes):
    source = tmp_path / "source"
    source.mkdir(exist_ok=True)
    (source / name).write_bytes(data)
    return (source / name).as_uri()


def test_a_fuel_call_for_a_registered_file_downloads_it_checked(tmp_path):
    name, data = _name("known"), b"the published bytes"
    live = _published(tmp_path, name, data)
    register_known_files([FileSpec(name, (live,), hashlib.sha256(data).hexdigest(), len(data))],
                         aliases={name: ["http://gone.example.invalid/" + name]})
    out = tmp_path / "out"
    default_downloader(str(out), urls=["http://gone.example.invalid/" + name], filenames=[name], progress=False)
    assert (out / name).read_bytes() == data
    assert verification_status(str(out), [name]) == (True, [])


def test_a_registered_file_whose_bytes_differ_is_refused(tmp_path):
    name = _name("tampered")
    live = _published(tmp_path, name, b"something else")
    register_known_files([FileSpec(name, (live,), hashlib.sha256(b"the real bytes").hexdigest())])
    with pytest.raises(ChecksumError):
        default_downloader(str(tmp_path / "out"), urls=[live], filenames=[name], progress=False, retries=1)


def test_the_url_given_is_tried_after_the_registered_sources(tmp_path):
    name, data = _name("fallback"), b"bytes"
    given = _published(tmp_path, name, data)
    dead = (tmp_path / "nowhere" / name).as_uri()
    register_known_files([FileSpec(name, (dead,), hashlib.sha256(data).hexdigest())], aliases={name: [given]})
    assert known_file(name, given).urls == (dead, given)
    out = tmp_path / "out"
    default_downloader(str(out), urls=[given], filenames=[name], progress=False, retries=1, retry_wait=0)
    assert (out / name).read_bytes() == data and verification_status(str(out), [name])[0]


def test_an_unregistered_file_or_url_stays_unverified(tmp_path):
    name, data = _name("unknown"), b"bytes"
    url = _published(tmp_path, name, data)
    register_known_files([FileSpec(name, ("http://elsewhere.example.invalid/x",), hashlib.sha256(data).hexdigest())])
    assert known_file(name, url) is None and known_file(name, None) is None
    out = tmp_path / "out"
    default_downloader(str(out), urls=[url], filenames=[name], progress=False)
    verified, notes = verification_status(str(out), [name])
    assert not verified and notes


def test_conflicting_registrations_trust_neither(caplog):
    name = _name("twice")
    first = FileSpec(name, ("https://a.example.invalid/f",), "1" * 64)
    register_known_files([first])
    register_known_files([first])  # the same again is fine
    assert known_file(name, "https://a.example.invalid/f") == first
    with caplog.at_level(logging.WARNING, logger="fuel.downloaders.known_files"):
        register_known_files([FileSpec(name, ("https://a.example.invalid/f",), "2" * 64)])
    assert "registered twice" in caplog.text
    assert known_file(name, "https://a.example.invalid/f") is None
    register_known_files([first])
    assert known_file(name, "https://a.example.invalid/f") is None


def test_bad_registrations_are_refused():
    with pytest.raises(ValueError, match="FileSpec"):
        register_known_files(["a.gz"])
    with pytest.raises(ValueError, match="aliases"):
        register_known_files([FileSpec(_name("a"))], aliases={"other.gz": ["https://x.example.invalid/other.gz"]})
