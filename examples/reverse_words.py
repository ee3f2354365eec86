"""Reverse the words of sentences with an attention sequence generator, decoded with beam search.

Blocks' ``reverse_words`` example on a generated corpus (offline): a sentence of random words such as
``"bad cafe"`` must become ``"dab efac"`` (every word reversed, word order kept), character by character.

Model (as in Blocks): characters are embedded (``LookupTable``), encoded by a ``Bidirectional``
``SimpleRecurrent``; a ``SequenceGenerator`` with a ``SimpleRecurrent`` transition, ``SequenceContentAttention``
over the encoding, a ``Readout`` with ``SoftmaxEmitter`` and ``LookupFeedback`` emits the reversed sentence.
Training: ``GradientDescent`` on the generator's ``cost`` with ``StepClipping`` + ``Adam``; ``--decoder-dropout P``
drops the decoder's hidden states inside the attention recurrence (one mask per sentence, found in the graph's
``scan_variables``: no brick code changes). Evaluation: the held-out cost before and after training, and the
fraction of held-out sentences whose beam-search decoding is exactly right.

The default is small (it runs in well under 15 s on 2 cores); a fuller run, e.g.::

    python examples/reverse_words.py --dim 100 --max-words 4 --max-word-length 8 --alphabet 26 \\
        --iterations 20000 --batch-size 64 --minutes 60
"""

from __future__ import annotations

import argparse
import string
import time


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 3)[-1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alphabet", type=int, default=6, help="number of letters (2-26, default 6)")
    parser.add_argument("--max-word-length", type=int, default=4, help="longest word (default 4)")
    parser.add_argument("--max-words", type=int, default=2, help="most words per sentence (default 2)")
    parser.add_argument("--dim", type=int, default=32, help="embedding and state dimension (default 32)")
    parser.add_argument("--batch-size", type=int, default=32, help="sentences per batch (default 32)")
    parser.add_argument("--iterations", type=int, default=160, help="training batches (default 160)")
    parser.add_argument("--minutes", type=float, default=0.15, help="training time budget (default 0.15)")
    parser.add_argument("--learning-rate", type=float, default=0.01, help="Adam's learning rate (default 0.01)")
    parser.add_argument("--decoder-dropout", type=float, default=0.0,
                        help="variational dropout on the decoder's hidden states inside its recurrence (default 0)")
    parser.add_argument("--beam-size", type=int, default=4, help="beam size for decoding (default 4)")
    parser.add_argument("--test-size", type=int, default=100, help="held-out sentences (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: the small model gains nothing from more)")
    return parser


class Corpus:
    """Random sentences over the first ``alphabet`` letters; code 0 is the end of sentence, 1 the space."""

    def __init__(self, alphabet: int, max_word_length: int, max_words: int, seed: int) -> None:
        import numpy

        if not 2 <= alphabet <= 26:
            raise ValueError(f"--alphabet must be in [2, 26], got {alphabet}")
        self.letters = string.ascii_lowercase[:alphabet]
        self.characters = ["</S>", " ", *self.letters]
        self.max_word_length = max_word_length
        self.max_words = max_words
        self.rng = numpy.random.default_rng(seed)

    def sentence(self) -> str:
        words = []
        for _ in range(int(self.rng.integers(1, self.max_words + 1))):
            length = int(self.rng.integers(1, self.max_word_length + 1))
            words.append("".join(self.rng.choice(list(self.letters), size=length)))
        return " ".join(words)

    @staticmethod
    def reverse_words(sentence: str) -> str:
        return " ".join(word[::-1] for word in sentence.split(" "))

    def encode(self, sentence: str) -> list[int]:
        return [self.characters.index(c) for c in sentence] + [0]

    def decode(self, codes: list[int]) -> str:
        return "".join(self.characters[c] for c in codes if c != 0)

    def batch(self, sentences: list[str]) -> dict:
        """Time-major padded arrays: features, features_mask, targets, targets_mask."""
        import numpy

        sources = [self.encode(s) for s in sentences]
        targets = [self.encode(self.reverse_words(s)) for s in sentences]
        length = max(map(len, sources))
        batch = {}
        for name, sequences in (("features", sources), ("targets", targets)):
            values = numpy.zeros((length, len(sequences)), dtype="int64")
            mask = numpy.zeros((length, len(sequences)), dtype="float32")
            for i, sequence in enumerate(sequences):
                values[:len(sequence), i] = sequence
                mask[:len(sequence), i] = 1
            batch[name], batch[name + "_mask"] = values, mask
        return batch


def build_model(num_characters: int, dim: int, seed: int):
    """The bricks: ``(lookup, projection, encoder, generator)``, initialized."""
    from blocks.bricks import Linear, LookupTable, Tanh
    from blocks.initialization import Constant, IsotropicGaussian, Orthogonal
    from blocks_rnn import (
        Bidirectional,
        LookupFeedback,
        Readout,
        SequenceContentAttention,
        SequenceGenerator,
        SimpleRecurrent,
        SoftmaxEmitter,
    )

    lookup = LookupTable(num_characters, dim, name="lookup", weights_init=IsotropicGaussian(0.1), seed=seed)
    projection = Linear(dim, dim, name="projection", weights_init=IsotropicGaussian(0.1),
                        biases_init=Constant(0), seed=seed)
    encoder = Bidirectional(SimpleRecurrent(dim=dim, activation=Tanh()), name="encoder",
                            weights_init=Orthogonal(), seed=seed)
    transition = SimpleRecurrent(dim=dim, activation=Tanh(), name="decoder")
    attention = SequenceContentAttention(state_names=transition.apply.states, attended_dim=2 * dim, match_dim=dim,
                                         name="attention")
    readout = Readout(readout_dim=num_characters, source_names=["states", "feedback", "weighted_averages"],
                      emitter=SoftmaxEmitter(name="emitter", seed=seed),
                      feedback_brick=LookupFeedback(num_characters, dim), name="readout")
    generator = SequenceGenerator(readout, transition, attention=attention, name="generator",
                                  weights_init=IsotropicGaussian(0.1), biases_init=Constant(0), seed=seed)
    generator.push_initialization_config()
    transition.weights_init = Orthogonal()
    for brick in (lookup, projection, encoder, generator):
        brick.initialize()
    return lookup, projection, encoder, generator


def main(argv: list[str] | None = None) -> float:
    args = build_parser().parse_args(argv)
    import torch

    from blocks.algorithms import CompositeRule, GradientDescent
    from blocks.filter import VariableFilter
    from blocks.graph import ComputationGraph, apply_dropout, lmatrix, matrix
    from blocks.roles import INPUT
    from blocks_rnn import BeamSearch
    from blocks_step_rules import Adam, StepClipping

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    corpus = Corpus(args.alphabet, args.max_word_length, args.max_words, args.seed)
    test_sentences = sorted({corpus.sentence() for _ in range(args.test_size)})
    held_out = set(test_sentences)
    lookup, projection, encoder, generator = build_model(len(corpus.characters), args.dim, args.seed)

    features, features_mask = lmatrix("features"), matrix("features_mask")
    targets, targets_mask = lmatrix("targets"), matrix("targets_mask")
    attended = encoder.apply(inputs=projection.apply(lookup.apply(features)), mask=features_mask)
    cost = generator.cost(targets, mask=targets_mask, attended=attended, attended_mask=features_mask)
    cost.name = "sequence_log_likelihood"
    cg = ComputationGraph([cost])
    training = cg
    if args.decoder_dropout:
        decoder = generator.transition.transition  # the SimpleRecurrent inside the attention recurrence
        hidden = VariableFilter(roles=[INPUT], bricks=[decoder], name="states")(cg.scan_variables)
        training = apply_dropout(cg, hidden, args.decoder_dropout, seed=args.seed, recurrent_mask="sequence")
    algorithm = GradientDescent(cost=training.outputs[0], parameters=training.parameters,
                                step_rule=CompositeRule([StepClipping(1.0), Adam(args.learning_rate)]))
    algorithm.initialize()
    print(f"{len(cg.parameters)} parameter tensors, {sum(p.numel() for p in cg.parameters)} values; "
          f"{len(test_sentences)} held-out sentences, e.g. {test_sentences[0]!r} -> "
          f"{Corpus.reverse_words(test_sentences[0])!r}")

    cost_function = cg.compile()
    held_out_batch = corpus.batch(test_sentences[:args.batch_size])
    initial_cost = cost_function(held_out_batch)[0].item()
    deadline = start + 60 * args.minutes
    iteration = 0
    while iteration < args.iterations and time.perf_counter() < deadline:
        sentences = []
        while len(sentences) < args.batch_size:
            sentence = corpus.sentence()
            if sentence not in held_out:
                sentences.append(sentence)
        algorithm.process_batch(corpus.batch(sentences))
        iteration += 1
        if iteration % 50 == 0:
            value = cost_function(corpus.batch(sentences))[0].item()
            print(f"iteration {iteration}: cost {value:.3f} ({time.perf_counter() - start:.1f} s)")
    train_seconds = time.perf_counter() - start
    print(f"held-out cost {initial_cost:.3f} -> {cost_function(held_out_batch)[0].item():.3f}")

    samples = generator.generate(n_steps=3 * args.max_word_length * args.max_words, batch_size=args.beam_size,
                                 attended=attended, attended_mask=features_mask, as_dict=True)["outputs"]
    search = BeamSearch(samples)
    correct = 0
    for i, sentence in enumerate(test_sentences):
        batch = corpus.batch([sentence] * args.beam_size)
        outputs, costs = search.search({"features": batch["features"], "features_mask": batch["features_mask"]},
                                       eol_symbol=0, max_length=len(sentence) + 3)
        guess = corpus.decode(outputs[0])
        correct += guess == Corpus.reverse_words(sentence)
        if i < 3:
            print(f"  {sentence!r} -> {guess!r} (cost {costs[0]:.2f})")
    accuracy = correct / len(test_sentences)
    total = time.perf_counter() - start
    print(f"{iteration} iterations in {train_seconds / 60:.2f} min; beam search (beam {args.beam_size}) accuracy "
          f"{accuracy:.1%} on {len(test_sentences)} held-out sentences; total {total / 60:.2f} min")
    return accuracy


if __name__ == "__main__":
    main()
