"""examples/reverse_words.py: the corpus and a tiny end-to-end run (train, beam-search decoding)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reverse_words.py"  # needs blocks-step-rules too


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("reverse_words_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus(example):
    corpus = example.Corpus(alphabet=4, max_word_length=3, max_words=2, seed=0)
    assert example.Corpus.reverse_words("bad cafe") == "dab efac"
    sentence = corpus.sentence()
    assert set(sentence) <= set("abcd ") and corpus.decode(corpus.encode(sentence)) == sentence
    batch = corpus.batch(["ab", "abc d"])
    assert batch["features"].shape == (6, 2) and batch["targets"][:, 1].tolist() == corpus.encode("cba d")
    assert batch["features_mask"][:, 0].tolist() == [1, 1, 1, 0, 0, 0]
    with pytest.raises(ValueError, match="alphabet"):
        example.Corpus(alphabet=30, max_word_length=3, max_words=1, seed=0)


def test_tiny_run(example, capsys):
    accuracy = example.main(["--iterations", "3", "--test-size", "3", "--dim", "8", "--beam-size", "2"])
    assert 0.0 <= accuracy <= 1.0
    assert "accuracy" in capsys.readouterr().out


def test_decoder_dropout_inside_the_attention_recurrence_still_trains(example, capsys):
    """Variational dropout on the decoder's hidden states, inside the attention recurrence (its scan variables)."""
    example.main(["--iterations", "120", "--minutes", "2", "--test-size", "20", "--dim", "16", "--beam-size", "2",
                  "--decoder-dropout", "0.2"])
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("held-out cost"))
    before, after = (float(value) for value in line.split()[2::2])
    assert after < 0.8 * before
