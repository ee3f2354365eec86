"""Graph transforms that leave model code alone: dropout, weight noise; expression helpers.

Each transform returns a NEW :class:`ComputationGraph` whose selected
variables are replaced; the original graph keeps computing the original
function. Both share the same parameters and are differentiable.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch

from blocks.config import config
from blocks.graph.computation_graph import ComputationGraph
from blocks.graph.variables import _TRACER, Variable, annotate, as_variable
from blocks.roles import DROPOUT

__all__ = ["apply_dropout", "apply_noise", "l2_norm", "shared_like"]


class _RandomOp:
    """Base of random node targets: one ``torch.Generator`` per device, seeded explicitly."""

    def __init__(self, seed: int | None, name: str) -> None:
        self.seed = config.default_seed if seed is None else int(seed)
        self._generators: dict[torch.device, torch.Generator] = {}
        self.__name__ = self.__qualname__ = name
        self.__module__ = __name__

    def generator(self, device: torch.device) -> torch.Generator:
        generator = self._generators.get(device)
        if generator is None:
            generator = self._generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return generator

    def state_dict(self) -> dict[str, Any]:
        """Generator states by device (restore with :meth:`load_state_dict`)."""
        return {"seed": self.seed, "states": {str(d): g.get_state() for d, g in self._generators.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = int(state["seed"])
        for device, value in state["states"].items():
            self.generator(torch.device(device)).set_state(value)


class _Dropout(_RandomOp):
    def __init__(self, drop_prob: float, seed: int | None, divisor: float) -> None:
        super().__init__(seed, "dropout")
        self.keep = 1.0 - drop_prob
        self.divisor = divisor

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        mask = torch.empty_like(x).bernoulli_(self.keep, generator=self.generator(x.device))
        return x * mask / self.divisor


class _Noise(_RandomOp):
    def __init__(self, level: float, seed: int | None) -> None:
        super().__init__(seed, "gaussian_noise")
        self.level = level

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(x.shape, generator=self.generator(x.device), dtype=x.dtype, device=x.device)
        return x + self.level * noise


def _variables_of(cg: ComputationGraph, variables: Iterable[Any]) -> list[Variable]:
    result = []
    for variable in variables:
        if isinstance(variable, Variable):
            result.append(variable)
        elif isinstance(variable, torch.Tensor):
            result.append(Variable(cg._node_of(variable)))
        else:
            raise ValueError(f"expected graph variables or parameters, got {type(variable).__name__}")
    return result


def _replace_each(cg: ComputationGraph, variables: Sequence[Variable], op: Any, roles: Sequence[Any]) -> \
        ComputationGraph:
    replacements = {}
    for variable in variables:
        node = _TRACER.graph.create_node("call_function", op, (variable.node,), {})
        new = annotate(Variable(node), name=variable.name, roles=[*roles])
        new.node.meta["replacement_of"] = variable
        brick = variable.node.meta.get("brick")
        if brick is not None:
            new.node.meta["brick"] = brick
        replacements[variable] = new
    return cg.replace(replacements)


def apply_dropout(computation_graph: ComputationGraph, variables: Iterable[Any], drop_prob: float,
                  rng: Any = None, seed: int | None = None, custom_divisor: float | None = None) -> \
        ComputationGraph:
    """Return a graph where each of ``variables`` is multiplied by a fresh Bernoulli mask.

    Inverted dropout: kept values are divided by ``1 - drop_prob`` (or
    ``custom_divisor``). A new mask is drawn at every call of the compiled
    function, from a ``torch.Generator`` seeded with ``seed`` (default
    ``config.default_seed``). Replacements get role ``DROPOUT`` and
    ``meta["replacement_of"]``. Call repeatedly for per-layer rates.

    Parameters
    ----------
    computation_graph : ComputationGraph
    variables : list of Variable (or parameters)
    drop_prob : float
        Probability of dropping a value, in ``[0, 1)``.
    rng : ignored
        Kept for Blocks compatibility; give ``seed`` instead.
    seed : int, optional
    custom_divisor : float, optional

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import MLP, Rectifier, Identity
    >>> from blocks.filter import VariableFilter
    >>> from blocks.graph import matrix, ComputationGraph, apply_dropout
    >>> from blocks.initialization import Constant
    >>> from blocks.roles import INPUT
    >>> mlp = MLP([Rectifier(), Identity()], [4, 8, 2], weights_init=Constant(0.1), biases_init=Constant(0))
    >>> cg = ComputationGraph([mlp.apply(matrix("x")).sum()])
    >>> inputs = VariableFilter(roles=[INPUT], bricks=mlp.linear_transformations)(cg.variables)
    >>> dropped = apply_dropout(cg, inputs, 0.5, seed=1)
    >>> batch = {"x": torch.ones(3, 4)}
    >>> cg.compile()(batch)[0].item() != dropped.compile()(batch)[0].item()
    True
    """
    if not 0 <= drop_prob < 1:
        raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob}")
    divisor = (1 - drop_prob) if custom_divisor is None else float(custom_divisor)
    variables = _variables_of(computation_graph, variables)
    return _replace_each(computation_graph, variables, _Dropout(drop_prob, seed, divisor), [DROPOUT])


def apply_noise(computation_graph: ComputationGraph, variables: Iterable[Any], level: float,
                seed: int | None = None) -> ComputationGraph:
    """Return a graph where Gaussian noise of standard deviation ``level`` is added to ``variables``.

    Typical use is weight noise: ``variables`` are WEIGHT parameters selected
    with :class:`blocks.filter.VariableFilter` (they may be used inside opaque
    nodes such as recurrent applications: the noisy values are swapped in).
    Fresh noise is drawn at every call of the compiled function.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Linear
    >>> from blocks.graph import matrix, ComputationGraph, apply_noise
    >>> from blocks.initialization import Constant
    >>> lin = Linear(input_dim=2, output_dim=2, weights_init=Constant(0), biases_init=Constant(0))
    >>> cg = ComputationGraph([lin.apply(matrix("x"))])
    >>> noisy = apply_noise(cg, [lin.W], 1.0, seed=3)
    >>> bool(noisy.compile()({"x": torch.ones(1, 2)})[0].abs().sum() > 0)
    True
    """
    if level < 0:
        raise ValueError(f"noise level must be >= 0, got {level}")
    variables = _variables_of(computation_graph, variables)
    return _replace_each(computation_graph, variables, _Noise(float(level), seed), [])


def l2_norm(tensors: Sequence[Any], squared: bool = False) -> Any:
    """The L2 norm of a list of tensors or variables taken as one vector.

    Examples
    --------
    >>> import torch
    >>> from blocks.graph import l2_norm
    >>> l2_norm([torch.tensor([3.0]), torch.tensor([4.0])]).item()
    5.0
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("l2_norm needs at least one tensor")
    if any(isinstance(t, Variable) for t in tensors):
        tensors = [as_variable(t) for t in tensors]
    total = sum((t ** 2).sum() for t in tensors)
    return total if squared else torch.sqrt(total)


def shared_like(variable: Any, name: str | None = None, value: float = 0.0) -> torch.Tensor:
    """A new tensor (buffer) with the shape, dtype and device of ``variable``, filled with ``value``.

    Examples
    --------
    >>> import torch
    >>> from blocks.graph import shared_like
    >>> shared_like(torch.ones(2, 3, dtype=torch.float64)).dtype
    torch.float64
    """
    if isinstance(variable, Variable):
        tensor = variable.tensor
        if tensor is None:
            raise ValueError("shared_like needs a tensor or a parameter variable (its shape must be known)")
        variable = tensor
    result = torch.full_like(variable.detach(), value)
    if name is not None:
        result._blocks_name = name
    return result
