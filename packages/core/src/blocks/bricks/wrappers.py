"""Brick wrappers (``WithExtraDims``, ``NDimensionalSoftmax``) and ``ModuleBrick`` for any ``nn.Module``."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn

from blocks.bricks.base import Application, Brick, application
from blocks.bricks.simple import Softmax
from blocks.graph.variables import Variable, call
from blocks.roles import BIAS, PARAMETER, WEIGHT, add_role

__all__ = ["BrickWrapper", "ModuleBrick", "NDimensionalSoftmax", "WithExtraDims"]


class BrickWrapper(ABC):
    """Base class of class decorators listed in a brick class's ``decorators`` attribute.

    Examples
    --------
    >>> from blocks.bricks import Tanh, BrickWrapper
    >>> class Tagging(BrickWrapper):
    ...     def wrap(self, cls):
    ...         cls.tagged = True
    >>> class TaggedTanh(Tanh):
    ...     decorators = [Tagging()]
    >>> TaggedTanh.tagged
    True

    ``Brick.__init_subclass__`` calls ``wrap(cls)`` for each, after the class is created.
    """

    @abstractmethod
    def wrap(self, cls: type) -> None:
        """Modify the brick class ``cls`` in place."""


def _flatten_leading(x: torch.Tensor, count: int) -> torch.Tensor:
    return x.reshape((-1, *x.shape[count:]))


def _restore_leading(output: torch.Tensor, like: torch.Tensor, count: int) -> torch.Tensor:
    return output.reshape((*like.shape[:count], *output.shape[1:]))


def _apply_fn(function: Any, *args: Any) -> Any:
    if any(isinstance(a, Variable) for a in args):
        return call(function, *args)
    return function(*args)


class WithExtraDims(BrickWrapper):
    """Give every application of a brick an ``extra_ndim`` argument for inputs with extra leading axes.

    The ``extra_ndim + 1`` leading axes of every input are merged into one
    batch axis, the application runs, and the outputs get the leading axes of
    the first input back.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Softmax
    >>> from blocks.bricks.wrappers import WithExtraDims
    >>> class MySoftmax(Softmax):
    ...     decorators = [WithExtraDims()]
    >>> MySoftmax().apply(torch.zeros(2, 3, 4), extra_ndim=1).shape
    torch.Size([2, 3, 4])
    """

    def wrap(self, cls: type) -> None:
        for name in dir(cls):
            original = getattr(cls, name, None)
            if not isinstance(original, Application) or getattr(original, "_extra_dims", False):
                continue
            function = original.function

            @functools.wraps(function)
            def wrapped(brick: Any, *args: Any, extra_ndim: int = 0, __function: Any = function,
                        **kwargs: Any) -> Any:
                if extra_ndim == 0:
                    return __function(brick, *args, **kwargs)
                if extra_ndim < 0:
                    raise ValueError(f"extra_ndim must be >= 0, got {extra_ndim}")
                count = extra_ndim + 1
                flat = [_apply_fn(_flatten_leading, a, count) if isinstance(a, (torch.Tensor, Variable)) else a
                        for a in args]
                outputs = __function(brick, *flat, **kwargs)
                like = args[0]
                if isinstance(outputs, (list, tuple)):
                    return type(outputs)(_apply_fn(_restore_leading, o, like, count) for o in outputs)
                return _apply_fn(_restore_leading, outputs, like, count)

            attributes = {k: v for k, v in original.__dict__.items()
                          if k in ("inputs", "outputs", "sequences", "states", "contexts")}
            new = Application(wrapped, opaque=original.opaque, **attributes)
            new.name = original.name
            new.properties = dict(original.properties)
            new.delegate_function = original.delegate_function
            new._extra_dims = True
            setattr(cls, name, new)


class NDimensionalSoftmax(Softmax):
    """Softmax whose applications accept ``extra_ndim`` (inputs of shape ``(..., batch, classes)``).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import NDimensionalSoftmax
    >>> softmax = NDimensionalSoftmax()
    >>> y = torch.zeros(5, 2, dtype=torch.long)
    >>> softmax.categorical_cross_entropy(y, torch.zeros(5, 2, 3), extra_ndim=1).shape
    torch.Size([5, 2])
    """

    decorators = [WithExtraDims()]


def _role_for(name: str) -> Any:
    last = name.rsplit(".", 1)[-1]
    if "weight" in last:
        return WEIGHT
    if "bias" in last:
        return BIAS
    return PARAMETER


class ModuleBrick(Brick):
    """Wrap any ``torch.nn.Module`` as a brick with one application, ``apply``.

    The module's parameters get roles from their names (``*weight*`` →
    ``WEIGHT``, ``*bias*`` → ``BIAS``, others ``PARAMETER``) and hierarchical
    names ``/<brick>.<torch name>``; buffers keep their torch names. On
    symbolic inputs the module call is ONE graph node (see
    :func:`blocks.graph.opaque_call`), so its parameters are graph inputs that
    filters and transforms (weight noise, dropout on parameters) reach.

    Parameters
    ----------
    module : torch.nn.Module
    name : str, optional
        Default: the module's class name, lower-cased.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import ModuleBrick
    >>> from blocks.graph import matrix, ComputationGraph
    >>> from blocks.filter import VariableFilter
    >>> from blocks.roles import WEIGHT
    >>> brick = ModuleBrick(torch.nn.Linear(3, 2))
    >>> cg = ComputationGraph(brick.apply(matrix("x")))
    >>> [brick.get_hierarchical_name(p) for p in VariableFilter(roles=[WEIGHT])(cg.parameters)]
    ['/linear.weight']
    """

    def __init__(self, module: nn.Module, name: str | None = None, **kwargs: Any) -> None:
        if not isinstance(module, nn.Module):
            raise ValueError(f"ModuleBrick wraps a torch.nn.Module, got {type(module).__name__}")
        super().__init__(name=name or type(module).__name__.lower(), **kwargs)
        self.module = module
        self._annotate_module()
        self.allocated = self.initialized = self._ready = True
        self.allocation_config_pushed = self.initialization_config_pushed = True

    def _annotate_module(self) -> None:
        for name, parameter in self.module.named_parameters():
            parameter._blocks_name = name
            parameter._blocks_brick = self
            parameter._blocks_roles = []
            add_role(parameter, _role_for(name))
        for name, buffer in self.module.named_buffers():
            buffer._blocks_name = name
            buffer._blocks_brick = self
            if not getattr(buffer, "_blocks_roles", None):
                buffer._blocks_roles = []

    def _reannotate(self) -> None:
        self._annotate_module()

    def allocate(self, strict: bool = True) -> None:
        """Nothing to allocate: the wrapped module owns its parameters."""
        self.allocated = True

    def initialize(self, strict: bool = True) -> None:
        """Nothing to initialize: the wrapped module was initialized by torch."""
        self.initialized = self._ready = True

    @application(inputs=["input_"], outputs=["output"], opaque=True)
    def apply(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped module."""
        return self.module(*args, **kwargs)
