"""One Billion Word language-modelling benchmark (Chelba et al.), read as text with :class:`fuel.datasets.TextFile`.

``fuel-download one_billion_word`` fetches the r13 archive;
``fuel-convert one_billion_word`` extracts its tokenized, shuffled text into
``<output>/1-billion-word/`` (``training-monolingual.tokenized.shuffled/`` with
partitions 1–99 and ``heldout-monolingual.tokenized.shuffled/`` with
partitions 0–49), extracting into a temporary directory renamed when complete.
:class:`OneBillionWord` finds the partitions through ``fuel.config.data_path``.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from typing import Any, Callable, Iterable, Mapping

from fuel.converters import check_exists
from fuel.data_path import find_in_data_path
from fuel.datasets import TextFile
from fuel.downloaders import FileSpec, files_downloader

__all__ = ["ARCHIVE", "FILES", "OneBillionWord", "convert_one_billion_word", "fill_convert_subparser",
           "fill_download_subparser", "partition_path"]

ARCHIVE = "1-billion-word-language-modeling-benchmark-r13output.tar.gz"
FILES: dict[str, FileSpec] = {
    ARCHIVE: FileSpec(ARCHIVE, (f"http://www.statmt.org/lm-benchmark/{ARCHIVE}",),
                      "01ba60381110baf7f189dfd2b8374de371e8c9a340835793f190bdae9e90a34e", 1792209805),
}
"""The archive with its sha256 and size (as TensorFlow Datasets publishes them)."""

OUTPUT = "1-billion-word"
_PARTS = {
    "training": ("training-monolingual.tokenized.shuffled", "news.en-{:05d}-of-00100", range(1, 100)),
    "heldout": ("heldout-monolingual.tokenized.shuffled", "news.en.heldout-{:05d}-of-00050", range(50)),
}

fill_download_subparser = files_downloader(lambda: list(FILES.values()))


def partition_path(which_set: str, partition: int) -> str:
    """Relative path of one partition, e.g. ``1-billion-word/heldout-.../news.en.heldout-00000-of-00050``."""
    if which_set not in _PARTS:
        raise ValueError(f"which_set must be 'training' or 'heldout', got {which_set!r}")
    folder, pattern, valid = _PARTS[which_set]
    if partition not in valid:
        raise ValueError(f"{which_set} partitions are {valid.start}..{valid.stop - 1}, got {partition!r}")
    return os.path.join(OUTPUT, folder, pattern.format(partition))


@check_exists(required_files=[ARCHIVE])
def convert_one_billion_word(directory: str, output_directory: str, output_filename: str = OUTPUT) -> tuple[str]:
    """Extract the tokenized text to ``output_directory/1-billion-word`` (atomically)."""
    target = os.path.join(output_directory, output_filename)
    scratch = tempfile.mkdtemp(prefix=f".{output_filename}.", dir=output_directory)
    try:
        found = 0
        with tarfile.open(os.path.join(directory, ARCHIVE), "r|gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if not member.isfile() or len(parts) < 3 or parts[-2] not in {f for f, _, _ in _PARTS.values()}:
                    continue
                destination = os.path.join(scratch, parts[-2], parts[-1])
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                with tar.extractfile(member) as source, open(destination, "wb") as out:  # type: ignore[union-attr]
                    shutil.copyfileobj(source, out, 1 << 20)
                found += 1
        if not found:
            raise ValueError(f"{ARCHIVE} holds no training-/heldout-monolingual.tokenized.shuffled text")
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return (target,)


def fill_convert_subparser(subparser: Any) -> Callable[..., Any]:
    """``fuel-convert one_billion_word`` (``-r`` names the output folder)."""
    return convert_one_billion_word


class OneBillionWord(TextFile):
    """Partitions of the One Billion Word benchmark as a :class:`~fuel.datasets.TextFile`.

    Parameters
    ----------
    which_set : str
        ``"training"`` (partitions 1–99) or ``"heldout"`` (0–49).
    which_partitions : iterable of int
        Partitions to read, in order.
    dictionary : mapping of str to int
        Vocabulary (see :class:`~fuel.datasets.TextFile`).
    **kwargs
        Passed to :class:`~fuel.datasets.TextFile` (``level``, ``bos_token``, ...).

    Examples
    --------
    >>> OneBillionWord("heldout", [0], {"<UNK>": 0, "<S>": 1, "</S>": 2})  # doctest: +SKIP
    """

    def __init__(self, which_set: str, which_partitions: Iterable[int], dictionary: Mapping[str, int] | str,
                 **kwargs: Any):
        files = [find_in_data_path(partition_path(which_set, p)) for p in which_partitions]
        if not files:
            raise ValueError("which_partitions is empty; give at least one partition")
        self.which_set = which_set
        super().__init__(files, dictionary, **kwargs)
