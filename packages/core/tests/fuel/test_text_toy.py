"""TextFile, Spiral and SwissRoll."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

import fuel
from fuel.datasets import Spiral, SwissRoll, TextFile
from fuel.schemes import ConstantScheme
from fuel.streams import DataStream
from fuel.transformers import Batch, Padding

VOCAB = {"<S>": 0, "</S>": 1, "<UNK>": 2, "the": 3, "cat": 4, "sat": 5, "a": 6, "b": 7}


@pytest.fixture
def corpus(tmp_path):
    plain = tmp_path / "one.txt"
    plain.write_text("the cat sat\nthe dog\n", encoding="utf-8")
    packed = tmp_path / "two.txt.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as f:
        f.write("ab\n")
    return [str(plain), str(packed)]


def test_textfile_words_gz_bos_eos_unk(corpus):
    stream = DataStream(TextFile(corpus, VOCAB))
    assert [s for s, in stream.get_epoch_iterator()] == [[0, 3, 4, 5, 1], [0, 3, 2, 1], [0, 2, 1]]
    chars = DataStream(TextFile(corpus[1:], VOCAB, bos_token=None, eos_token=None, level="character"))
    assert [s for s, in chars.get_epoch_iterator()] == [[6, 7]]


def test_textfile_dictionary_file_preprocess_and_errors(corpus, tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps(VOCAB))
    ds = TextFile(corpus[:1], str(path), preprocess=str.upper, unk_token="<UNK>")
    assert next(DataStream(ds).get_epoch_iterator())[0] == [0, 2, 2, 2, 1]
    with pytest.raises(ValueError, match="not in the dictionary"):
        TextFile(corpus, {"a": 0})
    with pytest.raises(ValueError, match="not found"):
        TextFile([str(tmp_path / "missing.txt")], VOCAB)
    strict = DataStream(TextFile(corpus[:1], VOCAB, unk_token=None))
    with pytest.raises(ValueError, match="'dog'"):
        list(strict.get_epoch_iterator())


def test_textfile_batch_padding_and_resume(corpus):
    def build():
        return Padding(Batch(DataStream(TextFile(corpus, VOCAB)), ConstantScheme(2)))

    stream = build()
    it = stream.get_epoch_iterator()
    x, mask = next(it)
    assert x.tolist() == [[0, 3, 4, 5, 1], [0, 3, 2, 1, 0]] and mask.sum() == 9
    fresh = build()
    it2 = fresh.get_epoch_iterator()
    it2.load_state_dict(it.state_dict())
    assert next(it2)[0].tolist() == [[0, 2, 1]]


def test_spiral_and_swissroll_are_seeded_and_shaped():
    with fuel.config.override(default_seed=3, floatX="float32"):
        a, b = Spiral(num_examples=50, classes=3, noise=0.1), Spiral(num_examples=50, classes=3, noise=0.1)
        roll = SwissRoll(num_examples=40)
    np.testing.assert_array_equal(a.features, b.features)
    assert a.features.dtype == np.float32 and set(a.label.tolist()) == {0, 1, 2}
    assert not np.array_equal(a.features, Spiral(num_examples=50, classes=3, noise=0.1, seed=4).features)
    # without noise every point lies on its arm: radius = (2 * position + 1) / 3
    clean = Spiral(num_examples=20, seed=0)
    np.testing.assert_allclose(np.linalg.norm(clean.features, axis=1), (2 * clean.position + 1) / 3, rtol=1e-5)
    assert roll.features.shape == (40, 3) and roll.position.shape == (40, 2)  # (radial position, height), as Fuel
    np.testing.assert_allclose(np.hypot(roll.features[:, 0], roll.features[:, 1]), (1 + 2 * roll.position[:, 0]) / 3,
                               rtol=1e-5)
    np.testing.assert_allclose(roll.features[:, 2], roll.position[:, 1], rtol=1e-5)
    with pytest.raises(ValueError, match="num_examples"):
        SwissRoll(num_examples=0)
