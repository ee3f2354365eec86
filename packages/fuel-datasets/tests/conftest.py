"""Fixtures: a local HTTP server on 127.0.0.1 and tiny files in the real upstream formats."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tarfile
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import numpy
import pytest

# --------------------------------------------------------------------------------------------------------------------
# Local HTTP server
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class Server:
    """Serves ``files`` under ``/data/``; ``mode`` per file: ok, html, corrupt, interrupt, missing."""

    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    mode: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def url(self, name: str, prefix: str = "data") -> str:
        return f"{self.base}/{prefix}/{name}"


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:  # noqa: N802
            prefix, _, name = self.path.lstrip("/").partition("/")
            byte_range = self.headers.get("Range")
            server.requests.append((self.path, byte_range))
            data = server.files.get(name)
            mode = server.mode.get(name, "ok")
            if prefix != "data" or data is None or mode == "missing":
                self.send_error(404, "Not Found")
                return
            if mode == "html":
                page = b"<!DOCTYPE html><html><head><title>Quota exceeded</title></head><body>Sorry</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            if mode == "corrupt":
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start = 0
            if byte_range and byte_range.startswith("bytes="):
                start = int(byte_range[6:].split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            if mode == "interrupt" and not byte_range:
                self.wfile.write(data[: len(data) // 2])  # then hang up
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data[start:])

    return Handler


@pytest.fixture
def http_server() -> Iterator[Server]:
    """A threaded HTTP server on 127.0.0.1, started and stopped by the test."""
    server = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


# --------------------------------------------------------------------------------------------------------------------
# Tiny upstream files, in the real formats
# --------------------------------------------------------------------------------------------------------------------

RNG = numpy.random.default_rng(0)


def _idx(array: numpy.ndarray, magic: int) -> bytes:
    header = struct.pack(f">{1 + array.ndim}i", magic, *array.shape)
    return gzip.compress(header + array.astype(numpy.uint8).tobytes())


def _tar(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _image_bytes(array: numpy.ndarray, fmt: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array.transpose(1, 2, 0)).save(buffer, format=fmt, quality=95)
    return buffer.getvalue()


def _savemat(variables: dict[str, Any]) -> bytes:
    from scipy.io import savemat

    buffer = io.BytesIO()
    savemat(buffer, variables)
    return buffer.getvalue()


@dataclass
class Upstream:
    """Files of one dataset as upstream serves them, and what conversion must produce."""

    files: dict[str, bytes]
    expected: dict[str, Any]


def mnist() -> Upstream:
    images = {s: RNG.integers(0, 256, (n, 28, 28), dtype=numpy.uint8) for s, n in (("train", 5), ("test", 3))}
    labels = {s: RNG.integers(0, 10, len(images[s]), dtype=numpy.uint8) for s in images}
    return Upstream(
        {"train-images-idx3-ubyte.gz": _idx(images["train"], 2051),
         "t10k-images-idx3-ubyte.gz": _idx(images["test"], 2051),
         "train-labels-idx1-ubyte.gz": _idx(labels["train"], 2049),
         "t10k-labels-idx1-ubyte.gz": _idx(labels["test"], 2049)},
        {"features": {s: images[s][:, None] for s in images}, "targets": {s: labels[s][:, None] for s in labels}},
    )


def binarized_mnist() -> Upstream:
    files, expected = {}, {}
    for split, n in (("train", 4), ("valid", 2), ("test", 3)):
        bits = RNG.integers(0, 2, (n, 784), dtype=numpy.uint8)
        files[f"binarized_mnist_{split}.amat"] = "".join(" ".join(map(str, row)) + "\n" for row in bits).encode()
        expected[split] = bits.reshape(n, 1, 28, 28)
    return Upstream(files, {"features": expected})


def cifar10() -> Upstream:
    members, features, targets = {}, {"train": [], "test": []}, {"train": [], "test": []}
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        split = "test" if name.startswith("test") else "train"
        labels = RNG.integers(0, 10, (2, 1), dtype=numpy.uint8)
        pixels = RNG.integers(0, 256, (2, 3072), dtype=numpy.uint8)
        members[f"cifar-10-batches-bin/{name}"] = numpy.hstack([labels, pixels]).tobytes()
        features[split].append(pixels.reshape(-1, 3, 32, 32))
        targets[split].append(labels)
    members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\nautomobile\n"
    return Upstream({"cifar-10-binary.tar.gz": _tar(members)},
                    {"features": {s: numpy.concatenate(v) for s, v in features.items()},
                     "targets": {s: numpy.concatenate(v) for s, v in targets.items()}})


def cifar100() -> Upstream:
    members, expected = {}, {"features": {}, "coarse_labels": {}, "fine_labels": {}}
    for split, n in (("train", 3), ("test", 2)):
        coarse = RNG.integers(0, 20, (n, 1), dtype=numpy.uint8)
        fine = RNG.integers(0, 100, (n, 1), dtype=numpy.uint8)
        pixels = RNG.integers(0, 256, (n, 3072), dtype=numpy.uint8)
        members[f"cifar-100-binary/{split}.bin"] = numpy.hstack([coarse, fine, pixels]).tobytes()
        expected["features"][split] = pixels.reshape(-1, 3, 32, 32)
        expected["coarse_labels"][split] = coarse
        expected["fine_labels"][split] = fine
    return Upstream({"cifar-100-binary.tar.gz": _tar(members)}, expected)


def svhn2() -> Upstream:
    files, expected = {}, {"features": {}, "targets": {}}
    for split, n in (("train", 3), ("test", 2), ("extra", 2)):
        x = RNG.integers(0, 256, (32, 32, 3, n), dtype=numpy.uint8)
        y = RNG.integers(1, 11, (n, 1)).astype(numpy.uint8)
        files[f"{split}_32x32.mat"] = _savemat({"X": x, "y": y})
        expected["features"][split] = x.transpose(3, 2, 0, 1)
        expected["targets"][split] = numpy.where(y == 10, 0, y)
    return Upstream(files, expected)


def _digit_struct(names: list[str], boxes: list[dict[str, list[float]]]) -> bytes:
    """A ``digitStruct.mat`` as MATLAB 7.3 writes it (HDF5 with object references)."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5file:
        refs = h5file.create_group("#refs#")
        counter = iter(range(10**6))
        name_refs, box_refs = [], []
        for name, box in zip(names, boxes):
            chars = refs.create_dataset(f"n{next(counter)}", data=numpy.array([[ord(c)] for c in name], numpy.uint16))
            name_refs.append([chars.ref])
            group = refs.create_group(f"b{next(counter)}")
            for key, values in box.items():
                if len(values) == 1:
                    group.create_dataset(key, data=numpy.array([[values[0]]]))
                else:
                    items = [refs.create_dataset(f"v{next(counter)}", data=numpy.array([[v]])).ref for v in values]
                    group.create_dataset(key, data=numpy.array(items, dtype=h5py.ref_dtype).reshape(-1, 1))
            box_refs.append([group.ref])
        struct_group = h5file.create_group("digitStruct")
        struct_group.create_dataset("name", data=numpy.array(name_refs, dtype=h5py.ref_dtype))
        struct_group.create_dataset("bbox", data=numpy.array(box_refs, dtype=h5py.ref_dtype))
    return buffer.getvalue()


def svhn1() -> Upstream:
    files, expected = {}, {"features": {}, "bbox_labels": {}, "bbox_lefts": {}, "bbox_tops": {}}
    for split, n in (("train", 2), ("test", 1), ("extra", 1)):
        members, names, boxes, images, labels, lefts = {}, [], [], [], [], []
        for i in range(n):
            image = RNG.integers(0, 256, (3, 5 + i, 7 + 2 * i), dtype=numpy.uint8)
            members[f"{split}/{i + 1}.png"] = _image_bytes(image, "PNG")
            digits = 1 + i
            box = {"height": [5.0] * digits, "left": [float(j) for j in range(digits)], "top": [-1.0] * digits,
                   "width": [2.0] * digits, "label": [float(10 - j) for j in range(digits)]}
            names.append(f"{i + 1}.png")
            boxes.append(box)
            images.append(image)
            labels.append(numpy.array([[0 if v == 10 else v] for v in box["label"]], numpy.uint8))
            lefts.append(numpy.array([[v] for v in box["left"]], numpy.uint16))
        members[f"{split}/digitStruct.mat"] = _digit_struct(names, boxes)
        files[f"{split}.tar.gz"] = _tar(members)
        expected["features"][split] = images
        expected["bbox_labels"][split] = labels
        expected["bbox_lefts"][split] = lefts
        expected["bbox_tops"][split] = [numpy.zeros((len(v), 1), numpy.uint16) for v in lefts]  # -1 clipped to 0
    return Upstream(files, expected)


IRIS_ROWS = [("5.1,3.5,1.4,0.2", "Iris-setosa", 0), ("7.0,3.2,4.7,1.4", "Iris-versicolor", 1),
             ("6.3,3.3,6.0,2.5", "Iris-virginica", 2), ("4.9,3.0,1.4,0.2", "Iris-setosa", 0)]


def iris() -> Upstream:
    text = "".join(f"{values},{label}\n" for values, label, _ in IRIS_ROWS) + "\n"
    features = numpy.array([[float(v) for v in values.split(",")] for values, _, _ in IRIS_ROWS], numpy.float32)
    targets = numpy.array([[t] for _, _, t in IRIS_ROWS], numpy.uint8)
    return Upstream({"iris.data": text.encode()}, {"features": {"all": features}, "targets": {"all": targets}})


def adult() -> Upstream:
    train = ("39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0,"
             " 40, United-States, <=50K\n"
             "50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, White, Male, 0,"
             " 0, 13, United-States, >50K\n"
             "38, ?, 215646, HS-grad, 9, Divorced, Handlers-cleaners, Not-in-family, Black, Female, 0, 0, 40, Cuba,"
             " <=50K\n")
    test = ("|1x3 Cross validator\n"
            "25, Private, 226802, 11th, 7, Never-married, Machine-op-inspct, Own-child, Black, Male, 0, 0, 40,"
            " United-States, <=50K.\n"
            "44, State-gov, 160323, Bachelors, 10, Married-civ-spouse, Machine-op-inspct, Husband, White, Male, 7688,"
            " 0, 40, Peru, >50K.\n")
    return Upstream({"adult.data": train.encode(), "adult.test": test.encode()},
                    {"targets": {"train": numpy.array([[0], [1], [0]], numpy.uint8),
                                 "test": numpy.array([[0], [1]], numpy.uint8)}})


def caltech101_silhouettes(size: int = 16) -> Upstream:
    variables, expected = {}, {"features": {}, "targets": {}}
    for split, key, n in (("train", "train", 3), ("valid", "val", 2), ("test", "test", 2)):
        images = RNG.integers(0, 2, (n, size, size)).astype(numpy.float64)
        labels = RNG.integers(1, 102, (n, 1)).astype(numpy.float64)
        variables[f"{key}_data"] = images.transpose(0, 2, 1).reshape(n, size * size)  # MATLAB column-major
        variables[f"{key}_labels"] = labels
        expected["features"][split] = images[:, None].astype(numpy.uint8)
        expected["targets"][split] = (labels - 1).astype(numpy.uint8)
    variables["classnames"] = numpy.array(["Faces", "airplanes"], dtype=object)
    return Upstream({f"caltech101_silhouettes_{size}_split1.mat": _savemat(variables)}, expected)


def celeba() -> Upstream:
    names = [f"{i:06d}.jpg" for i in range(1, 6)]
    attributes = RNG.integers(0, 2, (5, 40))
    image = numpy.zeros((3, 218, 178), numpy.uint8)
    image[:, 50:150, 40:140] = 200
    attr_lines = ["5", " ".join(f"Attr_{k}" for k in range(40))]
    attr_lines += [f"{n} " + " ".join(str(2 * a - 1) for a in row) for n, row in zip(names, attributes)]
    partition = "".join(f"{n} {p}\n" for n, p in zip(names, (0, 0, 1, 2, 0)))
    order = [0, 1, 4, 2, 3]
    return Upstream(
        {"img_align_celeba.zip": _zip({f"img_align_celeba/{n}": _image_bytes(image, "JPEG") for n in names}),
         "list_attr_celeba.txt": ("\n".join(attr_lines) + "\n").encode(),
         "list_eval_partition.txt": partition.encode()},
        {"targets": {"train": attributes[order[:3]], "valid": attributes[order[3:4]], "test": attributes[order[4:]]},
         "image": image},
    )


def dogs_vs_cats() -> Upstream:
    members, shapes = {}, {}
    for label, kind in enumerate(("Cat", "Dog")):
        for i in range(3):
            image = numpy.full((3, 6 + i, 9 + label), 40 + 100 * label, numpy.uint8)
            members[f"PetImages/{kind}/{i}.jpg"] = _image_bytes(image, "JPEG")
            shapes[(label, image.shape)] = True
    members["PetImages/Cat/666.jpg"] = b""  # the real archive has undecodable files
    members["PetImages/Dog/Thumbs.db"] = b"\x00" * 10
    return Upstream({"kagglecatsanddogs_3367a.zip": _zip(members)}, {"count": 6, "skipped": 1})


def _imagenet_devkit(year: int, wnids: list[str], valid_labels: list[int], root: str) -> bytes:
    synsets = numpy.zeros((len(wnids) + 1,), dtype=[(f"ILSVRC{year}_ID", "O"), ("WNID", "O"), ("words", "O"),
                                                    ("num_children", "O")])
    for i, wnid in enumerate(wnids):
        synsets[i] = (i + 1, wnid, f"class {wnid}", 0)
    synsets[len(wnids)] = (1001, "n99999999", "an internal node", 3)
    meta = _savemat({"synsets": synsets})
    truth = "".join(f"{v}\n" for v in valid_labels).encode()
    return _tar({f"{root}/data/meta.mat": meta, f"{root}/data/ILSVRC{year}_validation_ground_truth.txt": truth})


def ilsvrc(year: int) -> Upstream:
    wnids = ["n01440764", "n01443537"]
    jpeg = {w: _image_bytes(numpy.full((3, 4, 5), 30 * (k + 1), numpy.uint8), "JPEG") for k, w in enumerate(wnids)}
    class_tars = {f"{w}.tar": _tar({f"{w}_{j}.JPEG": jpeg[w] + bytes([j]) for j in range(2)}, "w") for w in wnids}
    prefix = {2010: "ILSVRC2010_images_", 2012: "ILSVRC2012_img_"}[year]
    files = {f"{prefix}train.tar": _tar(class_tars, "w")}
    val_name = {2010: "val/ILSVRC2010_val_{:08d}.JPEG", 2012: "ILSVRC2012_val_{:08d}.JPEG"}[year]
    valid_labels = [1, 2, 1]
    files[f"{prefix}val.tar"] = _tar({val_name.format(i): jpeg[wnids[valid_labels[i - 1] - 1]] for i in (2, 1, 3)}, "w")
    devkit = {2010: ("ILSVRC2010_devkit-1.0.tar.gz", "devkit-1.0"), 2012: ("ILSVRC2012_devkit_t12.tar.gz",
                                                                            "ILSVRC2012_devkit_t12")}[year]
    files[devkit[0]] = _imagenet_devkit(year, wnids, valid_labels, devkit[1])
    expected = {"train": [0, 0, 1, 1], "valid": [1, 0, 1]}
    if year == 2010:
        files["ILSVRC2010_images_test.tar"] = _tar({f"test/ILSVRC2010_test_{i:08d}.JPEG": jpeg[wnids[1]]
                                                    for i in (1, 2)}, "w")
        files["ILSVRC2010_test_ground_truth.txt"] = b"2\n2\n"
        expected["test"] = [1, 1]
    return Upstream(files, {"targets": expected, "jpeg": jpeg})


def one_billion_word() -> Upstream:
    root = "1-billion-word-language-modeling-benchmark-r13output"
    members = {
        f"{root}/training-monolingual.tokenized.shuffled/news.en-00001-of-00100": b"the cat sat .\na dog ran .\n",
        f"{root}/heldout-monolingual.tokenized.shuffled/news.en.heldout-00000-of-00050": b"the dog sat .\n",
        f"{root}/README": b"readme\n",
    }
    return Upstream({"1-billion-word-language-modeling-benchmark-r13output.tar.gz": _tar(members)}, {})


UPSTREAM: dict[str, Callable[[], Upstream]] = {
    "adult": adult,
    "binarized_mnist": binarized_mnist,
    "caltech101_silhouettes": caltech101_silhouettes,
    "celeba": celeba,
    "cifar10": cifar10,
    "cifar100": cifar100,
    "dogs_vs_cats": dogs_vs_cats,
    "ilsvrc2010": lambda: ilsvrc(2010),
    "ilsvrc2012": lambda: ilsvrc(2012),
    "iris": iris,
    "mnist": mnist,
    "one_billion_word": one_billion_word,
    "svhn1": svhn1,
    "svhn2": svhn2,
}
"""Generators of tiny upstream files, by dataset (``svhn1``/``svhn2``: the two formats)."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fuel_datasets_host(register_plugin: Callable[..., str]) -> Any:
    """The plugin host with this package's plugin registered (not through the installed entry point)."""
    import fuel_datasets.plugin

    register_plugin(fuel_datasets.plugin, "fuel_datasets.plugin", distribution="fuel-datasets")
    return register_plugin


@pytest.fixture
def data_path(tmp_path: Any) -> Iterator[str]:
    """``fuel.config.data_path`` pointing to a fresh directory (no local cache)."""
    import fuel

    directory = str(tmp_path / "data")
    os.makedirs(directory)
    with fuel.config.override(data_path=[directory], local_data_path="", mirrors=[]):
        yield directory


@pytest.fixture
def upstream() -> dict[str, Callable[[], Upstream]]:
    """:data:`UPSTREAM`: generators of tiny upstream files by dataset."""
    return UPSTREAM


@pytest.fixture
def digest() -> Callable[[bytes], str]:
    """sha256 of bytes."""
    return sha256
