"""Brick interfaces and mixins: Activation, Feedforward, Initializable, LinearLike, Random."""

from __future__ import annotations

from typing import Any

import numpy

from blocks.bricks.base import Brick, InitializationError, ParameterAccessor, shape_of
from blocks.config import config

__all__ = ["Activation", "Feedforward", "Initializable", "LinearLike", "RNGMixin", "Random"]

_SEED_SOURCE: list[numpy.random.Generator] = []


def _next_seed() -> int:
    """Seeds drawn in creation order from one generator seeded with ``config.default_seed``."""
    if not _SEED_SOURCE:
        _SEED_SOURCE.append(numpy.random.default_rng(config.default_seed))
    return int(_SEED_SOURCE[0].integers(0, 2**31 - 1))


class RNGMixin:
    """Gives a brick a ``seed`` and a numpy ``Generator`` ``rng`` derived from it.

    The seed is drawn lazily from a process-wide generator seeded with
    ``config.default_seed`` (so bricks built in the same order get the same
    seeds); set ``seed`` or ``rng`` to override. Never the global numpy RNG.

    Examples
    --------
    >>> from blocks.bricks import Linear
    >>> Linear(seed=3).seed, int(Linear(seed=3).rng.integers(100)) == int(Linear(seed=3).rng.integers(100))
    (3, True)
    """

    @property
    def seed(self) -> int:
        seed = self.__dict__.get("_seed")
        if seed is None:
            seed = _next_seed()
            self.__dict__["_seed"] = seed
        return seed

    @seed.setter
    def seed(self, value: int | None) -> None:
        if value is not None and self.__dict__.get("_seed") is not None and self.__dict__["_seed"] != value:
            raise ValueError(f"the seed of {self.name} is already set to {self.__dict__['_seed']}")
        self.__dict__["_seed"] = None if value is None else int(value)

    @property
    def rng(self) -> numpy.random.Generator:
        rng = self.__dict__.get("_rng")
        if rng is None:
            rng = numpy.random.default_rng(self.seed)
            self.__dict__["_rng"] = rng
        return rng

    @rng.setter
    def rng(self, value: numpy.random.Generator | numpy.random.RandomState) -> None:
        if not isinstance(value, (numpy.random.Generator, numpy.random.RandomState)):
            raise ValueError(f"rng must be a numpy.random.Generator (or Blocks' RandomState), "
                             f"got {type(value).__name__}")
        self.__dict__["_rng"] = value


class Initializable(RNGMixin, Brick):
    """A brick with initializable parameters; pushes ``weights_init``/``biases_init``/``rng`` to children.

    Parameters
    ----------
    weights_init, biases_init : NdarrayInitialization, optional
    use_bias : bool, optional (default ``True``)
    seed : int, optional

    Examples
    --------
    >>> from blocks.bricks import MLP, Tanh
    >>> from blocks.initialization import Constant
    >>> mlp = MLP([Tanh()], [2, 3], weights_init=Constant(0.5), biases_init=Constant(0))
    >>> mlp.push_initialization_config()
    >>> mlp.linear_transformations[0].weights_init.constant
    0.5
    """

    has_biases = True

    def __init__(self, weights_init: Any = None, biases_init: Any = None, use_bias: bool | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weights_init = weights_init
        self.biases_init = biases_init
        self.use_bias = True if use_bias is None else bool(use_bias)
        self.__dict__["_use_bias_given"] = use_bias is not None
        self.__dict__["_seed"] = None if seed is None else int(seed)

    def _push_initialization_config(self) -> None:
        for child in self.children:
            if isinstance(child, Initializable):
                child.rng = self.rng
                if self.weights_init:
                    child.weights_init = self.weights_init
                if self.biases_init:
                    child.biases_init = self.biases_init

    def require_init(self, *names: str) -> None:
        """Raise :class:`InitializationError` naming the brick unless the settings ``names`` are given.

        Call it at the start of ``_initialize`` with the schemes it uses
        (``self.require_init("weights_init", "biases_init")``): a brick built
        without them then fails with a message saying what to pass, instead of
        an ``AttributeError`` on ``None``.

        Examples
        --------
        >>> from blocks.bricks import Linear
        >>> Linear(2, 3, name="dense").require_init("weights_init")
        Traceback (most recent call last):
        ...
        blocks.bricks.base.InitializationError: brick /dense (Linear) cannot be initialized: ...
        """
        missing = [name for name in names if not getattr(self, name, None)]
        if missing:
            raise InitializationError(
                f"brick {self.get_unique_path()} ({self.__class__.__name__}) cannot be initialized: missing "
                f"setting(s) {', '.join(missing)}. Pass e.g. weights_init=IsotropicGaussian(0.01), "
                f"biases_init=Constant(0) to it or to a parent, then call initialize() (or just apply it).")


class LinearLike(Initializable):
    """A brick with a weight ``W`` and optionally a bias ``b``; initializes biases, then weights.

    Examples
    --------
    >>> from blocks.bricks import Linear, LinearLike
    >>> from blocks.initialization import Constant
    >>> lin = Linear(input_dim=2, output_dim=1, weights_init=Constant(2), biases_init=Constant(1))
    >>> lin.initialize()
    >>> isinstance(lin, LinearLike), lin.W.tolist(), lin.b.tolist()
    (True, [[2.0], [2.0]], [1.0])
    """

    # ``W`` and ``b`` are class attributes (as Blocks' properties were), so a subclass can override them and
    # reach the parameter with ``super().W``; initialization fills the parameters themselves.
    W = ParameterAccessor("W")
    b = ParameterAccessor("b")

    def _initialize(self) -> None:
        bias = self._parameters.get("b")
        if self.use_bias and bias is not None:
            self.require_init("biases_init")
            self.biases_init.initialize(bias, self.rng)
        self.require_init("weights_init")
        self.weights_init.initialize(self._parameters["W"], self.rng)


class Feedforward(Brick):
    """A brick with one input and one output; declares ``input_dim`` and ``output_dim``.

    Examples
    --------
    >>> from blocks.bricks import Linear
    >>> Linear(input_dim=3, output_dim=2).get_dims(["input_", "output"])
    [3, 2]
    """

    def get_dim(self, name: str) -> Any:
        if name in ("input_", "input"):
            return self.input_dim
        if name == "output":
            return self.output_dim
        return super().get_dim(name)

    def _infer_allocation_config(self, application: Any, args: tuple, kwargs: dict) -> None:
        if "input_dim" in self.allocation_args and not self.input_dim and args:
            shape = shape_of(args[0])
            if shape and shape[-1] is not None:
                self.input_dim = shape[-1]

    def _input_mismatch(self, application: Any, args: tuple, kwargs: dict) -> str | None:
        dim = getattr(self, "input_dim", None)
        if not isinstance(dim, int) or not args:
            return None
        shape = shape_of(args[0])
        if shape and shape[-1] is not None and shape[-1] != dim:
            return f"expected inputs of shape (..., {dim}) (input_dim={dim}), got shape {tuple(shape)}"
        return None


class Activation(Brick):
    """An element-wise brick (one ``apply`` application, input ``input_``, output ``output``).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Activation, application
    >>> class Square(Activation):
    ...     @application(inputs=["input_"], outputs=["output"])
    ...     def apply(self, input_):
    ...         return input_ ** 2
    >>> Square().apply(torch.tensor([3.0])).tolist()
    [9.0]
    """

    def get_dim(self, name: str) -> Any:
        raise ValueError(f"activation {self.get_unique_path()} has no fixed dimension {name!r}")


class Random(Brick):
    """A stochastic brick: ``seed`` (int) and a lazily created ``torch.Generator`` ``generator``.

    ``theano_seed`` (Blocks' name) is accepted for ``seed``.

    Examples
    --------
    >>> from blocks.bricks import Random
    >>> Random(seed=5).generator().initial_seed()
    5
    """

    def __init__(self, seed: int | None = None, theano_seed: int | None = None, **kwargs: Any) -> None:
        if theano_seed is not None:  # Blocks' name of the seed of a brick's random draws
            if seed is not None and seed != theano_seed:
                raise ValueError(f"Random brick: seed={seed!r} and theano_seed={theano_seed!r} name the same seed; "
                                 "give one")
            seed = theano_seed
        super().__init__(**kwargs)
        self.__dict__["_seed"] = seed
        self.__dict__["_generators"] = {}

    @property
    def theano_seed(self) -> int:
        """Blocks' name of :attr:`seed`."""
        return self.seed

    @property
    def seed(self) -> int:
        if self.__dict__.get("_seed") is None:
            self.__dict__["_seed"] = _next_seed()
        return self.__dict__["_seed"]

    def generator(self, device: Any = "cpu") -> Any:
        import torch

        device = torch.device(device)
        generators = self.__dict__["_generators"]
        if device not in generators:
            generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return generators[device]

