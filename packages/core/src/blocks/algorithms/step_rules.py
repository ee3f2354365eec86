"""Step rules: the protocol (:class:`StepRule`), :class:`CompositeRule` and :class:`Scale`.

A step rule turns the gradients of a list of parameters into *steps* that the
algorithm subtracts from the parameters (``p -= step``), so rules chain: the
output of one rule is the ``previous_steps`` of the next one
(``CompositeRule([StepClipping(1.0), Adam()])``).

Ownership convention (what makes multi-tensor in-place kernels safe):

* ``compute_steps`` may overwrite the tensors of ``previous_steps`` in place:
  the caller owns them and does not use them afterwards
  (:class:`~blocks.algorithms.GradientDescent` passes the freshly computed
  gradients).
* The returned steps are owned by the caller: a rule never returns one of its
  own buffers (it copies the buffer into ``previous_steps`` or allocates).
* ``compute_steps`` is called under :func:`torch.no_grad` by the algorithm.

Hyper-parameters are 0-d ``float64`` tensors on the CPU with the role
``ALGORITHM_HYPERPARAMETER``; schedules change them in place
(``rule.learning_rate.fill_(0.01)``). The rules read them once per step with
``.item()``, which costs no device synchronisation because they live on the
CPU. Per-parameter buffers are created by :meth:`StepRule.initialize` next to
their parameter (same device and dtype), keyed by parameter name, with the role
``ALGORITHM_BUFFER``.
"""

from __future__ import annotations

import abc
from collections import OrderedDict
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import Tensor

from blocks.roles import ALGORITHM_BUFFER, ALGORITHM_HYPERPARAMETER, add_role

__all__ = ["CompositeRule", "Scale", "StepRule", "make_step_rule"]


def _check_parameters(parameters: Mapping[str, Tensor], owner: str) -> "OrderedDict[str, Tensor]":
    if not isinstance(parameters, Mapping):
        raise ValueError(
            f"{owner}.initialize expects an OrderedDict mapping parameter names to tensors, "
            f"got {type(parameters).__name__}"
        )
    for name, value in parameters.items():
        if not isinstance(name, str):
            raise ValueError(f"{owner}.initialize: parameter names must be str, got {name!r}")
        if not isinstance(value, Tensor):
            raise ValueError(f"{owner}.initialize: parameter {name!r} is a {type(value).__name__}, not a tensor")
    return OrderedDict(parameters)


class StepRule(abc.ABC):
    """Base class of step rules (Blocks' ``StepRule``) with multi-tensor kernels.

    Subclasses override :meth:`compute_steps` (multi-tensor, ``torch._foreach_*``
    kernels, needed for global rules such as gradient clipping) or
    :meth:`compute_step` (one parameter at a time; the default
    :meth:`compute_steps` calls it for every parameter). They declare their
    per-parameter buffers in ``buffer_names`` and their hyper-parameters with
    :meth:`add_hyperparameter` in ``__init__``.

    Attributes
    ----------
    buffer_names : tuple of str
        Names of the per-parameter buffers :meth:`initialize` creates (zeros
        like the parameter).
    parameter_names : list of str
        Names of the parameters, in the order of the lists that
        :meth:`compute_steps` receives (set by :meth:`initialize`).
    buffers : dict
        ``buffer_name -> OrderedDict(parameter_name -> tensor)``.

    Examples
    --------
    A per-parameter rule that halves every step:

    >>> from collections import OrderedDict
    >>> import torch
    >>> class Halve(StepRule):
    ...     def compute_step(self, parameter, previous_step):
    ...         return previous_step * 0.5
    >>> rule = Halve()
    >>> rule.initialize(OrderedDict(w=torch.zeros(2)))
    >>> rule.compute_steps([torch.zeros(2)], [torch.ones(2)])
    [tensor([0.5000, 0.5000])]
    """

    buffer_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._hyperparameters: OrderedDict[str, Tensor] = OrderedDict()
        self.parameter_names: list[str] = []
        self.buffers: dict[str, OrderedDict[str, Tensor]] = {}
        self._buffer_lists: dict[str, list[Tensor]] = {}
        self._position: dict[int, int] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "__abstractmethods__", None) and (
            cls.compute_steps is StepRule.compute_steps and cls.compute_step is StepRule.compute_step
        ):
            raise TypeError(f"step rule {cls.__name__} must override compute_step or compute_steps")

    # -- hyper-parameters ----------------------------------------------------
    def add_hyperparameter(self, name: str, value: float | Tensor) -> Tensor:
        """Create the hyper-parameter ``name`` as a 0-d tensor attribute and return it.

        Parameters
        ----------
        name : str
            Attribute name (``"learning_rate"``).
        value : float or 0-d tensor
            Initial value. A 0-d CPU tensor is used as is, so several rules can
            share one hyper-parameter (like Blocks' shared variables).
        """
        if isinstance(value, Tensor):
            if value.dim() != 0 or value.device.type != "cpu" or not value.is_floating_point():
                raise ValueError(
                    f"hyper-parameter {name!r} must be a number or a 0-d floating CPU tensor, "
                    f"got shape {tuple(value.shape)} on {value.device}"
                )
            tensor = value
        else:
            try:
                tensor = torch.tensor(float(value), dtype=torch.float64)
            except (TypeError, ValueError):
                raise ValueError(f"hyper-parameter {name!r} must be a number, got {value!r}") from None
        add_role(tensor, ALGORITHM_HYPERPARAMETER)
        self._hyperparameters[name] = tensor
        setattr(self, name, tensor)
        return tensor

    @property
    def hyperparameters(self) -> "OrderedDict[str, Tensor]":
        """``name -> 0-d tensor`` of this rule's own hyper-parameters."""
        return OrderedDict(self._hyperparameters)

    # -- buffers -------------------------------------------------------------
    def initialize(self, parameters: Mapping[str, Tensor]) -> None:
        """Create the per-parameter buffers for ``parameters`` (name -> tensor, ordered).

        Calling it again re-creates the buffers (the state is reset).
        """
        parameters = _check_parameters(parameters, type(self).__name__)
        self.parameter_names = list(parameters)
        self._position = {id(p): i for i, p in enumerate(parameters.values())}
        self.buffers = {}
        for buffer_name in self.buffer_names:
            self.buffers[buffer_name] = OrderedDict(
                (name, self._new_buffer(parameter)) for name, parameter in parameters.items()
            )
        self._buffer_lists = {key: list(value.values()) for key, value in self.buffers.items()}

    @staticmethod
    def _new_buffer(parameter: Tensor) -> Tensor:
        buffer = torch.zeros_like(parameter.detach(), memory_format=torch.preserve_format)
        add_role(buffer, ALGORITHM_BUFFER)
        return buffer

    def buffer_list(self, buffer_name: str) -> list[Tensor]:
        """The buffers ``buffer_name`` of all parameters, in the order of :attr:`parameter_names`.

        The list that multi-tensor :meth:`compute_steps` implementations give
        to ``torch._foreach_*`` kernels: its tensors are the rule's state, so
        update them in place. The list itself is built once by
        :meth:`initialize`; do not append to it.

        Examples
        --------
        >>> from collections import OrderedDict
        >>> import torch
        >>> class Count(StepRule):
        ...     buffer_names = ("count",)
        ...     def compute_steps(self, parameters, previous_steps):
        ...         torch._foreach_add_(self.buffer_list("count"), 1.0)
        ...         return previous_steps
        >>> rule = Count()
        >>> rule.initialize(OrderedDict(w=torch.zeros(2), b=torch.zeros(1)))
        >>> _ = rule.compute_steps([torch.zeros(2), torch.zeros(1)], [torch.ones(2), torch.ones(1)])
        >>> rule.buffer_list("count")
        [tensor([1., 1.]), tensor([1.])]
        """
        try:
            return self._buffer_lists[buffer_name]
        except KeyError:
            raise ValueError(
                f"{type(self).__name__} has no buffer {buffer_name!r} (buffers: {sorted(self._buffer_lists)}); "
                "was initialize() called?"
            ) from None

    def buffer(self, buffer_name: str, parameter: Tensor) -> Tensor:
        """The buffer ``buffer_name`` of ``parameter`` (for :meth:`compute_step` implementations)."""
        try:
            return self._buffer_lists[buffer_name][self._position[id(parameter)]]
        except KeyError:
            if buffer_name not in self._buffer_lists:
                raise ValueError(
                    f"{type(self).__name__} has no buffer {buffer_name!r} (buffers: {sorted(self._buffer_lists)}); "
                    "was initialize() called?"
                ) from None
            raise ValueError(f"{type(self).__name__} was not initialized with this parameter") from None

    # -- steps ---------------------------------------------------------------
    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        """Steps for all parameters at once (default: :meth:`compute_step` for each).

        Parameters
        ----------
        parameters : sequence of Tensor
            The parameters, in the order given to :meth:`initialize`.
        previous_steps : list of Tensor
            The steps so far (gradients for the first rule); may be
            overwritten in place.

        Returns
        -------
        list of Tensor
            The new steps, owned by the caller.
        """
        return [self.compute_step(p, s) for p, s in zip(parameters, previous_steps)]

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        """Subtract this rule's steps from the parameters in place (``p -= step``), under ``no_grad``.

        What :class:`~blocks.algorithms.GradientDescent` calls when nobody
        monitors the steps. The default is ``compute_steps`` followed by one
        ``torch._foreach_sub_``; rules override it to fuse their last
        operation into the update (``Scale`` and ``Adam`` end in one
        ``_foreach_add_`` / ``_foreach_addcdiv_`` on the parameters, like
        ``torch.optim``). The result equals the default up to rounding.
        """
        steps = self.compute_steps(parameters, previous_steps)
        if steps:
            torch._foreach_sub_(list(parameters), steps)

    def compute_step(self, parameter: Tensor, previous_step: Tensor) -> Tensor:
        """Step for one parameter; per-parameter rules override this."""
        raise TypeError(
            f"{type(self).__name__} is a multi-tensor rule: call compute_steps(parameters, previous_steps)"
        )

    # -- state ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"hyperparameters": {name: tensor}, "buffers": {buffer: {parameter: tensor}}, "parameter_names": [...]}``.

        Tensors are references (as in ``torch.optim``): deep-copy the result to
        keep a snapshot while training goes on.
        """
        return {
            "hyperparameters": dict(self._hyperparameters),
            "buffers": {key: dict(value) for key, value in self.buffers.items()},
            "parameter_names": list(self.parameter_names),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore hyper-parameters and buffers in place (the rule must be initialized)."""
        owner = type(self).__name__
        hyperparameters = state.get("hyperparameters", {})
        unknown = sorted(set(hyperparameters) - set(self._hyperparameters))
        if unknown:
            raise ValueError(f"{owner} has no hyper-parameters {unknown}; it has {list(self._hyperparameters)}")
        for name, value in hyperparameters.items():
            self._hyperparameters[name].fill_(float(value))
        buffers = state.get("buffers", {})
        if set(buffers) != set(self.buffers):
            raise ValueError(f"{owner}: state has buffers {sorted(buffers)}, the rule has {sorted(self.buffers)}")
        names = state.get("parameter_names", self.parameter_names)
        if list(names) != self.parameter_names:
            raise ValueError(
                f"{owner}: state is for parameters {list(names)}, the rule was initialized with "
                f"{self.parameter_names}"
            )
        for buffer_name, values in buffers.items():
            own = self.buffers[buffer_name]
            if set(values) != set(own):
                raise ValueError(
                    f"{owner}: buffer {buffer_name!r} has entries for {sorted(values)}, expected {sorted(own)}"
                )
            for parameter_name, value in values.items():
                target = own[parameter_name]
                value = torch.as_tensor(value)
                if tuple(value.shape) != tuple(target.shape):
                    raise ValueError(
                        f"{owner}: buffer {buffer_name!r} of {parameter_name!r} has shape {tuple(value.shape)}, "
                        f"expected {tuple(target.shape)}"
                    )
                target.copy_(value)


class Scale(StepRule):
    """Multiply the steps by a learning rate; alone, plain SGD.

    Parameters
    ----------
    learning_rate : float, optional
        The factor (default 1.0).

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = Scale(learning_rate=0.1)
    >>> rule.initialize(OrderedDict(w=torch.zeros(2)))
    >>> rule.compute_steps([torch.zeros(2)], [torch.ones(2)])
    [tensor([0.1000, 0.1000])]
    >>> rule.learning_rate.fill_(0.5)  # what a schedule does
    tensor(0.5000, dtype=torch.float64)
    """

    def __init__(self, learning_rate: float | Tensor = 1.0) -> None:
        super().__init__()
        self.learning_rate = self.add_hyperparameter("learning_rate", learning_rate)

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        learning_rate = self.learning_rate.item()
        if learning_rate != 1.0 and previous_steps:
            torch._foreach_mul_(previous_steps, learning_rate)
        return previous_steps

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        if previous_steps:
            torch._foreach_add_(list(parameters), previous_steps, alpha=-self.learning_rate.item())

    def compute_step(self, parameter: Tensor, previous_step: Tensor) -> Tensor:
        return previous_step * self.learning_rate.item()


class CompositeRule(StepRule):
    """Apply several step rules in order, each on the steps of the previous one.

    Parameters
    ----------
    components : iterable of StepRule
        The rules, applied first to last.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> rule = CompositeRule([Scale(0.5), Scale(0.2)])
    >>> rule.initialize(OrderedDict(w=torch.zeros(2)))
    >>> rule.compute_steps([torch.zeros(2)], [torch.ones(2)])
    [tensor([0.1000, 0.1000])]
    """

    def __init__(self, components: Iterable[StepRule]) -> None:
        super().__init__()
        self.components = list(components)
        for index, component in enumerate(self.components):
            if not isinstance(component, StepRule):
                raise ValueError(
                    f"CompositeRule component {index} is a {type(component).__name__}, not a StepRule"
                )

    @property
    def hyperparameters(self) -> "OrderedDict[str, Tensor]":
        """Own and components' hyper-parameters; a name used twice gets the prefix ``"<index>."``."""
        result = super().hyperparameters
        pairs = [
            (index, name, value)
            for index, component in enumerate(self.components)
            for name, value in component.hyperparameters.items()
        ]
        counts: dict[str, int] = {}
        for _, name, _ in pairs:
            counts[name] = counts.get(name, 0) + 1
        for index, name, value in pairs:
            key = name if counts[name] == 1 and name not in result else f"{index}.{name}"
            result[key] = value
        return result

    def initialize(self, parameters: Mapping[str, Tensor]) -> None:
        super().initialize(parameters)
        for component in self.components:
            component.initialize(parameters)

    def compute_steps(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> list[Tensor]:
        steps = previous_steps
        for component in self.components:
            steps = component.compute_steps(parameters, steps)
        return steps

    def update_parameters(self, parameters: Sequence[Tensor], previous_steps: list[Tensor]) -> None:
        if type(self).compute_steps is not CompositeRule.compute_steps or not self.components:
            super().update_parameters(parameters, previous_steps)
            return
        steps = previous_steps
        for component in self.components[:-1]:
            steps = component.compute_steps(parameters, steps)
        self.components[-1].update_parameters(parameters, steps)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["components"] = [component.state_dict() for component in self.components]
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        components = state.get("components", [])
        if len(components) != len(self.components):
            raise ValueError(
                f"{type(self).__name__}: state has {len(components)} components, the rule has {len(self.components)}"
            )
        super().load_state_dict({key: value for key, value in state.items() if key != "components"})
        for component, component_state in zip(self.components, components):
            component.load_state_dict(component_state)


def make_step_rule(spec: Any = None, **options: Any) -> StepRule:
    """A step rule from a rule, a class, a registry name or a configuration entry.

    Parameters
    ----------
    spec : StepRule, type, str, mapping or None
        A :class:`StepRule` (returned as is; no ``options``), a subclass of it,
        the name a plugin registered it under (``"adam"``, ``"momentum"``; see
        ``blocks plugins``), or a mapping as a configuration file holds it,
        ``{"name": "adam", "learning_rate": 0.001}``. ``None`` is the
        ``step_rule`` option of :data:`blocks.config.config` (``~/.blocksrc``,
        ``BLOCKS_STEP_RULE``; default ``"scale"``).
    **options
        Keyword arguments of the rule's constructor (``learning_rate=0.01``).

    Returns
    -------
    StepRule

    Raises
    ------
    ValueError
        An unknown name (listing the registered ones), an argument the rule
        does not take (listing those it takes), or options given with a rule
        that is already built.

    Examples
    --------
    >>> make_step_rule("scale", learning_rate=0.1).learning_rate.item()
    0.1
    >>> make_step_rule({"name": "scale", "learning_rate": 0.5}).learning_rate.item()
    0.5
    >>> make_step_rule("scale", lr=0.1)
    Traceback (most recent call last):
    ...
    ValueError: step rule 'scale' (blocks.algorithms.step_rules:Scale) takes no argument 'lr'; it takes learning_rate
    """
    if spec is None:
        from blocks.config import config

        spec = config.step_rule
    if isinstance(spec, StepRule):
        if options:
            raise ValueError(
                f"the step rule is already built ({type(spec).__name__}): give its arguments to its constructor, "
                f"or give the rule by name to pass {', '.join(sorted(options))}"
            )
        return spec
    if isinstance(spec, Mapping):
        spec = dict(spec)
        name = spec.pop("name", None)
        if not isinstance(name, str):
            raise ValueError(
                f"a step rule entry needs a 'name' (the registry name, e.g. 'adam'), got {spec!r} with name {name!r}"
            )
        both = sorted(set(spec) & set(options))
        if both:
            raise ValueError(f"step rule {name!r}: {', '.join(both)} given both in the entry and as arguments")
        return make_step_rule(name, **spec, **options)
    label = repr(spec)
    if spec == "scale":  # core's, which no plugin can take over: no need to load the plugins
        spec = Scale
    elif isinstance(spec, str):
        from blocks.plugins import resolve

        spec = resolve("step_rules", spec)
    if not (isinstance(spec, type) and issubclass(spec, StepRule)):
        raise ValueError(f"step rule {label} is a {type(spec).__name__}, not a StepRule subclass")
    _check_arguments(spec, label, options)
    return spec(**options)


def _check_arguments(rule: type, label: str, options: Mapping[str, Any]) -> None:
    """Refuse keyword arguments the rule's constructor cannot take, listing those it takes."""
    import inspect

    signature = inspect.signature(rule)
    try:
        signature.bind(**options)
    except TypeError as err:
        taken = [name for name, p in signature.parameters.items()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        unknown = [name for name in options if name not in signature.parameters]
        what = f"takes no argument {unknown[0]!r}" if unknown else f"cannot be built with {dict(options)} ({err})"
        reference = f"{rule.__module__}:{rule.__qualname__}"
        raise ValueError(
            f"step rule {label} ({reference}) {what}; it takes {', '.join(taken) or 'no arguments'}"
        ) from None
