"""Fuel's downloader API of the dataset modules (``fill_subparser``, ``svhn_downloader``, ...) and its checks.

Fuel's ``fill_subparser`` set ``urls``/``filenames`` and returned ``default_downloader``; here it does the same,
and because every module registers its files, the download that follows is checked against the published
checksums and uses the live sources first.
"""

from __future__ import annotations

import argparse
import importlib

import pytest

from fuel.downloaders import default_downloader, known_file

# What Fuel 0.2 downloaded for each dataset (its downloaders' URLs, the file names it gave them).
LECUN = "http://yann.lecun.com/exdb/mnist/"
UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases/"
TORONTO = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
CELEBA = "https://www.dropbox.com/sh/8oqt9vytwxb3s4r/"
FUEL_FILES = {
    "mnist": [(LECUN + n, n) for n in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")],
    "adult": [(UCI + "adult/adult.data", "adult.data"), (UCI + "adult/adult.test", "adult.test")],
    "binarized_mnist": [(TORONTO + f"binarized_mnist_{s}.amat", f"binarized_mnist_{s}.amat")
                        for s in ("train", "valid", "test")],
    "iris": [(UCI + "iris/iris.data", "iris.data")],
    "celeba": [(CELEBA + "AAC7-uCaJkmPmvLX2_P5qy0ga/Anno/list_attr_celeba.txt?dl=1", "list_attr_celeba.txt"),
               (CELEBA + "AADIKlz8PR9zr6Y20qbkunrba/Img/img_align_celeba.zip?dl=1", "img_align_celeba.zip")],
}


def _parse(module, *argv):
    parser = argparse.ArgumentParser()
    function = module.fill_subparser(parser.add_subparsers().add_parser("x"))
    return function, parser.parse_args(["x", *argv])


@pytest.mark.parametrize("name", sorted(FUEL_FILES))
def test_fill_subparser_sets_fuels_urls_and_the_files_are_known(name):
    module = importlib.import_module(f"fuel_datasets.{name}")
    function, args = _parse(module)
    assert function is default_downloader
    assert list(zip(args.urls, args.filenames)) == FUEL_FILES[name]
    for url, filename in FUEL_FILES[name]:
        spec = known_file(filename, url)
        published = module.FILES[filename]
        assert spec is not None and (spec.sha256, spec.size) == (published.sha256, published.size)
        assert spec.sha256  # every one of these files has a published checksum
        assert spec.urls[: len(published.urls)] == published.urls and spec.urls[-1] == url


@pytest.mark.parametrize(("which_format", "names"), [
    (1, ["train.tar.gz", "test.tar.gz", "extra.tar.gz"]),
    (2, ["train_32x32.mat", "test_32x32.mat", "extra_32x32.mat"]),
])
def test_svhn_downloader_makes_fuels_call_and_the_files_are_known(monkeypatch, which_format, names):
    svhn = importlib.import_module("fuel_datasets.svhn")
    function, args = _parse(svhn, str(which_format))
    assert function is svhn.svhn_downloader and args.which_format == which_format
    calls = []
    monkeypatch.setattr(svhn, "default_downloader", lambda **kwargs: calls.append(kwargs))
    function(which_format=which_format, directory="d", clear=False)
    prefix = "http://ufldl.stanford.edu/housenumbers/"
    assert calls == [{"directory": "d", "urls": [None] * 3, "filenames": names, "url_prefix": prefix, "clear": False}]
    assert all(known_file(n, prefix + n) == svhn.FILES[n] for n in names)
    with pytest.raises(SystemExit):
        _parse(svhn, "3")


def test_silhouettes_downloader_takes_the_size(monkeypatch):
    silhouettes = importlib.import_module("fuel_datasets.caltech101_silhouettes")
    function, args = _parse(silhouettes, "28")
    assert function is silhouettes.silhouettes_downloader and args.size == 28
    calls = []
    monkeypatch.setattr(silhouettes, "default_downloader", lambda **kwargs: calls.append(kwargs))
    function(size=28, directory="d")
    name = "caltech101_silhouettes_28_split1.mat"
    assert calls == [{"urls": ["https://people.cs.umass.edu/~marlin/data/" + name], "filenames": [name],
                      "directory": "d"}]
    assert known_file(name, calls[0]["urls"][0]) == silhouettes.FILES[name]
    with pytest.raises(ValueError, match="16 or 28"):
        silhouettes.silhouettes_downloader(size=20, directory="d")


def test_fuels_call_for_mnist_downloads_from_the_live_sources_checked(http_server, monkeypatch, tmp_path):
    """End to end, against a local server standing in for the live mirror: Fuel's LeCun URLs are never asked."""
    import hashlib

    from fuel.downloaders import FileSpec, register_known_files

    data = b"\x00\x00\x08\x01" + b"\x00" * 8
    name = "t10k-labels-idx1-ubyte.gz"
    http_server.files[name] = data
    spec = FileSpec(name, (http_server.url(name),), hashlib.sha256(data).hexdigest(), len(data))
    monkeypatch.setattr("fuel.downloaders.known_files._KNOWN", {})
    register_known_files([spec], aliases={name: [LECUN + name]})
    default_downloader(str(tmp_path), urls=[LECUN + name], filenames=[name], progress=False)
    assert (tmp_path / name).read_bytes() == data
    assert [path for path, _ in http_server.requests] == [f"/data/{name}"]
