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
from blocks.graph.inner import inner_nodes
from blocks.graph.variables import _TRACER, Variable, annotate, as_variable
from blocks.roles import DROPOUT

__all__ = ["apply_dropout", "apply_noise", "l2_norm", "shared_like"]


class _RandomOp:
    """Base of random node targets: one ``torch.Generator`` per device, seeded explicitly (or the one given)."""

    def __init__(self, seed: int | None, name: str, generator: torch.Generator | None = None) -> None:
        self._generators: dict[torch.device, torch.Generator] = {}
        self._given = generator
        if generator is not None:
            self.seed = int(generator.initial_seed())
            self._generators[_canonical(generator.device)] = generator
        else:
            self.seed = config.default_seed if seed is None else int(seed)
        self.__name__ = self.__qualname__ = name
        self.__module__ = __name__

    def generator(self, device: torch.device) -> torch.Generator:
        device = _canonical(device)
        generator = self._generators.get(device)
        if generator is None:
            if self._given is not None:
                raise ValueError(f"the torch.Generator given to the transform (rng) is on {self._given.device}, the "
                                 f"values it draws for are on {device}; give a generator on that device")
            generator = self._generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return generator

    def state_dict(self) -> dict[str, Any]:
        """Generator states by device (restore with :meth:`load_state_dict`)."""
        return {"seed": self.seed, "states": {str(d): g.get_state() for d, g in self._generators.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = int(state["seed"])
        for device, value in state["states"].items():
            self.generator(torch.device(device)).set_state(value)


def _canonical(device: torch.device | str) -> torch.device:
    device = torch.device(device)
    if device.type != "cpu" and device.index is None:
        return torch.device(device.type, torch.cuda.current_device() if device.type == "cuda" else 0)
    return device


class _Dropout(_RandomOp):
    def __init__(self, drop_prob: float, seed: int | None, divisor: float,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(seed, "dropout", generator)
        self.keep = 1.0 - drop_prob
        self.divisor = divisor

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        mask = torch.empty_like(x).bernoulli_(self.keep, generator=self.generator(x.device))
        return x * mask / self.divisor


class _SequenceDropout(_RandomOp):
    """Dropout inside a recurrent step with one mask per sequence (variational dropout).

    The node is ``op(x, key)``; the mask of ``key`` is drawn when the first step of a recurrence computes it
    (``bernoulli(1 - drop_prob) / divisor`` of ``x``'s shape and dtype) and reused by every later step of the
    same run; :meth:`begin` (called by the recurrence before its first step) forgets it.
    """

    def __init__(self, drop_prob: float, seed: int | None, divisor: float,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(seed, "sequence_dropout", generator)
        self.keep = 1.0 - drop_prob
        self.divisor = divisor
        self._masks: dict[Any, torch.Tensor] = {}

    def begin(self, key: Any) -> None:
        self._masks.pop(key, None)

    def __call__(self, x: torch.Tensor, key: Any) -> torch.Tensor:
        mask = self._masks.get(key)
        if mask is None:
            mask = torch.empty_like(x).bernoulli_(self.keep, generator=self.generator(x.device)).div_(self.divisor)
            self._masks[key] = mask
        elif mask.shape != x.shape:
            raise ValueError(f"per-sequence dropout: the variable had shape {tuple(mask.shape)} at the first step "
                             f"and {tuple(x.shape)} now; its mask is drawn once per run of the recurrence")
        return x * mask


class _Noise(_RandomOp):
    def __init__(self, level: float, seed: int | None, generator: torch.Generator | None = None) -> None:
        super().__init__(seed, "gaussian_noise", generator)
        self.level = level

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(x.shape, generator=self.generator(x.device), dtype=x.dtype, device=x.device)
        return x + self.level * noise


def _generator_of(rng: Any) -> torch.Generator | None:
    if rng is None or isinstance(rng, torch.Generator):
        return rng
    raise ValueError(f"rng must be a torch.Generator (the masks or noise are drawn from it), got "
                     f"{type(rng).__name__}; or give seed=")


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


def _replace_each(cg: ComputationGraph, variables: Sequence[Variable], op: Any, roles: Sequence[Any],
                  keyed: bool = False) -> ComputationGraph:
    replacements = {}
    for i, variable in enumerate(variables):
        args = (variable.node, i) if keyed else (variable.node,)
        node = _TRACER.graph.create_node("call_function", op, args, {})
        new = annotate(Variable(node), name=variable.name, roles=[*roles])
        new.node.meta["replacement_of"] = variable
        brick = variable.node.meta.get("brick")
        if brick is not None:
            new.node.meta["brick"] = brick
        replacements[variable] = new
    return cg.replace(replacements)


def _split_inner(cg: ComputationGraph, variables: Sequence[Variable]) -> tuple[list[Variable], list[Variable]]:
    """``(outside, inside)``: the variables of ``cg`` and those of its recurrences' steps."""
    inner = inner_nodes(cg)
    return [v for v in variables if v.node not in inner], [v for v in variables if v.node in inner]


def apply_dropout(computation_graph: ComputationGraph, variables: Iterable[Any], drop_prob: float,
                  rng: torch.Generator | None = None, seed: int | None = None, custom_divisor: float | None = None,
                  recurrent_mask: str | None = None) -> ComputationGraph:
    """Return a graph where each of ``variables`` is multiplied by a fresh Bernoulli mask.

    Inverted dropout: kept values are divided by ``1 - drop_prob`` (or
    ``custom_divisor``). A new mask is drawn at every call of the compiled
    function, from ``rng`` or from a ``torch.Generator`` seeded with ``seed``
    (default ``config.default_seed``). Replacements get role ``DROPOUT`` and
    ``meta["replacement_of"]``. Call repeatedly for per-layer rates.

    Variables inside recurrent steps (``cg.scan_variables``, e.g. an LSTM's
    hidden states) are dropped inside the recurrence, which then runs the
    rewritten step at every time step; say how their masks are drawn with
    ``recurrent_mask``: ``"sequence"`` draws one mask per sequence at the
    first step and reuses it at every step (variational RNN dropout, Gal and
    Ghahramani 2016), ``"step"`` draws a fresh mask at every step. Replacing
    a step variable replaces every use of it in the step (including what a
    masked step carries over).

    Parameters
    ----------
    computation_graph : ComputationGraph
    variables : list of Variable (or parameters)
    drop_prob : float
        Probability of dropping a value, in ``[0, 1)``.
    rng : torch.Generator, optional
        The generator the masks are drawn from (on the values' device); its
        state is part of checkpoints. Default: a generator seeded with ``seed``.
    seed : int, optional
    custom_divisor : float, optional
    recurrent_mask : {"sequence", "step"}, optional
        Required when ``variables`` are inside recurrent steps, refused for
        other variables (call ``apply_dropout`` separately for those).

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
    if recurrent_mask not in (None, "sequence", "step"):
        raise ValueError(f"recurrent_mask must be 'sequence' (one mask per sequence) or 'step' (one per step), "
                         f"got {recurrent_mask!r}")
    divisor = (1 - drop_prob) if custom_divisor is None else float(custom_divisor)
    generator = _generator_of(rng)
    variables = _variables_of(computation_graph, variables)
    outside, inside = _split_inner(computation_graph, variables)
    if inside and recurrent_mask is None:
        raise ValueError(f"{inside} are inside recurrent steps: choose how their masks are drawn, "
                         "recurrent_mask='sequence' (one mask per sequence, shared by every step: variational "
                         "dropout) or recurrent_mask='step' (a fresh mask at every step)")
    if outside and recurrent_mask is not None:
        raise ValueError(f"recurrent_mask applies to variables inside recurrent steps (cg.scan_variables); "
                         f"{outside} are not. Call apply_dropout separately for them")
    if recurrent_mask == "sequence":
        op = _SequenceDropout(drop_prob, seed, divisor, generator)
        return _replace_each(computation_graph, variables, op, [DROPOUT], keyed=True)
    return _replace_each(computation_graph, variables, _Dropout(drop_prob, seed, divisor, generator), [DROPOUT])


def apply_noise(computation_graph: ComputationGraph, variables: Iterable[Any], level: float,
                seed: int | None = None, rng: torch.Generator | None = None) -> ComputationGraph:
    """Return a graph where Gaussian noise of standard deviation ``level`` is added to ``variables``.

    Typical use is weight noise: ``variables`` are WEIGHT parameters selected
    with :class:`blocks.filter.VariableFilter` (from ``cg.variables`` or
    ``cg.scan_variables``). Fresh noise is drawn at every call of the compiled
    function, from ``rng`` or a generator seeded with ``seed``. Noise on a
    parameter used inside a recurrence (an LSTM's weights) is drawn once per
    call and shared by every time step, as Blocks' noise on a shared variable
    was; noise on another variable of a step (a hidden state) is drawn at
    every step.

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
    return _replace_each(computation_graph, variables, _Noise(float(level), seed, _generator_of(rng)), [])


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
