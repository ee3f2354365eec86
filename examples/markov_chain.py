"""Blocks' Markov-chain example: a ``SequenceGenerator`` learns a 3-state Markov chain from its samples.

Blocks' ``examples/markov_chain``: sequences drawn from the chain with
transition matrix ``[[0.1, 0.5, 0.4], [0.1, 0.9, 0.0], [0.4, 0.3, 0.3]]``;
a ``SequenceGenerator`` (``Readout`` with a ``SoftmaxEmitter`` and a
``LookupFeedback`` of the previous state, a ``SimpleRecurrent`` Tanh
transition with orthogonal weights) trained by teacher forcing on
``cost_matrix(x).sum() / batch``, the negative log-likelihood of a sequence.
The figure of merit is the cost per step next to the chain's entropy rate
(the lowest cost possible). At the end the generator *samples* sequences
(``generate``) and the transition frequencies it produces are printed next
to the true ones.

Needs blocks-bricks-rnn (and blocks-step-rules for Adam; else plain SGD).

    python examples/markov_chain.py                          # seconds
    python examples/markov_chain.py --epochs 50 --sequences 2000
"""

from __future__ import annotations

import sys

import _common
import numpy

TRANSITIONS = numpy.array([[0.1, 0.5, 0.4], [0.1, 0.9, 0.0], [0.4, 0.3, 0.3]])


def equilibrium() -> numpy.ndarray:
    """The chain's stationary distribution (left eigenvector of eigenvalue 1)."""
    values, vectors = numpy.linalg.eig(TRANSITIONS.T)
    vector = numpy.real(vectors[:, numpy.argmin(numpy.abs(values - 1))])
    return vector / vector.sum()


def entropy_rate() -> float:
    """Nats per step of the stationary chain: the lowest achievable cost per step."""
    with numpy.errstate(divide="ignore", invalid="ignore"):
        logs = numpy.where(TRANSITIONS > 0, numpy.log(TRANSITIONS), 0.0)
    return float(-(equilibrium()[:, None] * TRANSITIONS * logs).sum())


def sample_chains(num: int, length: int, seed: int) -> numpy.ndarray:
    """``num`` sequences of ``length`` states, started from the stationary distribution."""
    rng = numpy.random.default_rng(seed)
    states = numpy.empty((num, length), dtype="int64")
    states[:, 0] = rng.choice(3, size=num, p=equilibrium())
    cumulative = TRANSITIONS.cumsum(axis=1)
    for t in range(1, length):
        draws = rng.uniform(size=num)[:, None]
        states[:, t] = numpy.minimum((draws > cumulative[states[:, t - 1]]).sum(axis=1), 2)
    return states


def transition_frequencies(sequences: numpy.ndarray) -> numpy.ndarray:
    counts = numpy.zeros((3, 3))
    numpy.add.at(counts, (sequences[:, :-1].reshape(-1), sequences[:, 1:].reshape(-1)), 1)
    return counts / counts.sum(axis=1, keepdims=True).clip(min=1)


def parse_args(argv: list[str] | None = None):
    parser = _common.base_parser(__doc__, epochs=20, batch_size=20, learning_rate=0.01)
    parser.add_argument("--sequences", type=int, default=200, help="training sequences (default 200)")
    parser.add_argument("--length", type=int, default=50, help="steps per sequence (default 50)")
    parser.add_argument("--dim", type=int, default=10, help="recurrent state size (default 10)")
    parser.add_argument("--feedback-dim", type=int, default=8, help="feedback embedding size (default 8)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    _common.setup(args)
    import torch

    from blocks.algorithms import GradientDescent, Scale
    from blocks.bricks import Tanh
    from blocks.graph import lmatrix
    from blocks.initialization import Constant, IsotropicGaussian, Orthogonal
    from blocks.model import Model
    from blocks.plugins import get_registry
    from blocks_rnn import LookupFeedback, Readout, SequenceGenerator, SimpleRecurrent, SoftmaxEmitter

    transition = SimpleRecurrent(activation=Tanh(), dim=args.dim, name="transition")
    generator = SequenceGenerator(
        Readout(
            readout_dim=3,
            source_names=["states"],
            emitter=SoftmaxEmitter(name="emitter", seed=args.seed),
            feedback_brick=LookupFeedback(3, args.feedback_dim, name="feedback"),
            name="readout",
        ),
        transition,
        weights_init=IsotropicGaussian(0.01),
        biases_init=Constant(0),
        seed=args.seed,
        name="generator",
    )
    generator.push_initialization_config()
    transition.weights_init = Orthogonal()
    generator.initialize()

    x = lmatrix("data")  # (batch, time) from the stream; the generator works on (time, batch)
    cost = generator.cost_matrix(x.T).sum() / x.shape[0]
    cost.name = "sequence_log_likelihood"
    per_step = cost / args.length
    per_step.name = "cost_per_step"

    rules = get_registry("step_rules")
    step_rule = rules.get("adam")(learning_rate=args.learning_rate) if "adam" in rules else Scale(0.01)
    algorithm = GradientDescent(cost=cost, step_rule=step_rule)
    train = sample_chains(args.sequences, args.length, args.seed)
    valid = sample_chains(100, args.length, args.seed + 1)
    main_loop, seconds = _common.run_loop(
        algorithm,
        _common.stream_of({"data": train}, args.batch_size, shuffle_seed=args.seed),
        epochs=args.epochs,
        monitored=[per_step],
        valid_stream=_common.stream_of({"data": valid}, 100),
        model=Model(cost),
        quiet=args.quiet,
        print_every=max(1, args.epochs // 4),
    )
    with torch.no_grad():
        samples = generator.generate(n_steps=args.length, batch_size=200, iterate=True, as_dict=True)["outputs"]
    learned = transition_frequencies(samples.T.cpu().numpy())
    numpy.set_printoptions(precision=2, suppress=True)
    print(f"true transitions:\n{TRANSITIONS}\ntransitions of {samples.shape[1]} generated sequences:\n{learned}")
    row = _common.latest_values(main_loop.log, "valid_cost_per_step")
    result = {
        "valid_cost_per_step": float(row["valid_cost_per_step"]),
        "entropy_rate": entropy_rate(),
        "max_transition_error": float(numpy.abs(learned - TRANSITIONS).max()),
        "epochs": main_loop.status["epochs_done"],
        "seconds": seconds,
    }
    print(
        f"markov chain: validation cost {result['valid_cost_per_step']:.3f} nats/step (entropy rate "
        f"{result['entropy_rate']:.3f}) after {result['epochs']} epochs in {seconds:.1f} s; generated transition "
        f"frequencies within {result['max_transition_error']:.2f} of the true ones ({type(step_rule).__name__})"
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
