"""Bricks applying one transformation per input or output: Parallel, Fork, Distribute, Merge."""

from __future__ import annotations

import copy
from typing import Any, Sequence

from blocks.bricks.base import Brick, application, lazy
from blocks.bricks.interfaces import Initializable
from blocks.bricks.simple import Linear

__all__ = ["Distribute", "Fork", "Merge", "Parallel"]


class Parallel(Initializable):
    """One deep copy of ``prototype`` per named input, applied independently.

    Parameters
    ----------
    input_names : list of str
    input_dims, output_dims : list of int
        Lazy (one per input).
    prototype : Feedforward brick, optional
        Default ``Linear()``.
    child_prefix : str
        Children are named ``<child_prefix>_<input name>``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Parallel
    >>> from blocks.initialization import Constant
    >>> par = Parallel(["a", "b"], [2, 3], [4, 5], weights_init=Constant(1), biases_init=Constant(0))
    >>> [o.shape for o in par.apply(a=torch.ones(1, 2), b=torch.ones(1, 3))]
    [torch.Size([1, 4]), torch.Size([1, 5])]
    """

    @lazy(allocation=["input_dims", "output_dims"])
    def __init__(self, input_names: Sequence[str], input_dims: Sequence[int], output_dims: Sequence[int],
                 prototype: Brick | None = None, child_prefix: str | None = None, **kwargs: Any) -> None:
        prototype = Linear() if prototype is None else prototype
        child_prefix = "transform" if child_prefix is None else child_prefix
        self.input_names = list(input_names)
        self.prototype = prototype
        transforms = []
        for name in self.input_names:
            child = copy.deepcopy(prototype)
            child.name = f"{child_prefix}_{name}"
            transforms.append(child)
        kwargs.setdefault("children", transforms)
        super().__init__(**kwargs)
        self.transforms = transforms
        self.input_dims = input_dims
        self.output_dims = output_dims

    def _push_allocation_config(self) -> None:
        for what in ("input_dims", "output_dims"):
            dims = getattr(self, what)
            if dims and len(dims) != len(self.transforms):
                raise ValueError(f"brick {self.get_unique_path()}: {what} {list(dims)} must have one entry per "
                                 f"input name {self.input_names}")
        for i, transform in enumerate(self.transforms):
            if self.input_dims:
                transform.input_dim = self.input_dims[i]
            if self.output_dims:
                transform.output_dim = self.output_dims[i]

    def get_dim(self, name: str) -> Any:
        if name in self.input_names:
            return self.input_dims[self.input_names.index(name)]
        return super().get_dim(name)

    @application
    def apply(self, *args: Any, **kwargs: Any) -> Any:
        """Apply each transformation to its input (positional in ``input_names`` order, or by name)."""
        inputs = dict(zip(self.input_names, args))
        inputs.update(kwargs)
        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise ValueError(f"brick {self.get_unique_path()}: missing inputs {missing}")
        return [transform.apply(inputs[name]) for name, transform in zip(self.input_names, self.transforms)]

    @apply.property("inputs")
    def apply_inputs(self) -> list[str]:
        return self.input_names

    @apply.property("outputs")
    def apply_outputs(self) -> list[str]:
        return self.input_names


class Fork(Parallel):
    """Several transformations of ONE input, named by ``output_names`` (e.g. RNN gate inputs).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Fork
    >>> from blocks.initialization import Constant
    >>> fork = Fork(["inputs", "gate_inputs"], input_dim=3, output_dims=[2, 4], weights_init=Constant(1),
    ...             biases_init=Constant(0))
    >>> {k: v.shape for k, v in fork.apply(torch.ones(1, 3), as_dict=True).items()}
    {'inputs': torch.Size([1, 2]), 'gate_inputs': torch.Size([1, 4])}
    """

    @lazy(allocation=["input_dim"])
    def __init__(self, output_names: Sequence[str], input_dim: int, prototype: Brick | None = None,
                 **kwargs: Any) -> None:
        super().__init__(output_names, prototype=prototype, **kwargs)
        self.input_dim = input_dim

    @property
    def output_names(self) -> list[str]:
        return self.input_names

    def _push_allocation_config(self) -> None:
        self.input_dims = [self.input_dim] * len(self.input_names)
        super()._push_allocation_config()

    def get_dim(self, name: str) -> Any:
        if name in ("input_", "input"):
            return self.input_dim
        if name in self.input_names:
            return self.output_dims[self.input_names.index(name)]
        return super().get_dim(name)

    @application(inputs=["input_"])
    def apply(self, input_: Any) -> Any:
        """The transformations of ``input_``, in ``output_names`` order."""
        return [transform.apply(input_) for transform in self.transforms]

    @apply.property("outputs")
    def apply_outputs(self) -> list[str]:
        return self.input_names


class Distribute(Fork):
    """Transform a ``source`` and add it to each target (default prototype: ``Linear(use_bias=False)``).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Distribute
    >>> from blocks.initialization import Constant
    >>> dist = Distribute(["a", "b"], "s", target_dims=[2, 2], source_dim=3, weights_init=Constant(1))
    >>> [o.tolist() for o in dist.apply(a=torch.zeros(1, 2), b=torch.ones(1, 2), s=torch.ones(1, 3))]
    [[[3.0, 3.0]], [[4.0, 4.0]]]
    """

    @lazy(allocation=["source_name", "target_dims", "source_dim"])
    def __init__(self, target_names: Sequence[str], source_name: str, target_dims: Sequence[int],
                 source_dim: int, prototype: Brick | None = None, **kwargs: Any) -> None:
        if prototype is None:
            prototype = Linear(use_bias=False)
        super().__init__(target_names, prototype=prototype, **kwargs)
        self.source_name = source_name
        self.target_dims = target_dims
        self.source_dim = source_dim

    def _push_allocation_config(self) -> None:
        self.input_dim = self.source_dim
        self.output_dims = self.target_dims
        super()._push_allocation_config()

    @application
    def apply(self, **kwargs: Any) -> Any:
        """Each target plus the transformed source."""
        if self.source_name not in kwargs:
            raise ValueError(f"brick {self.get_unique_path()}: missing the source {self.source_name!r}")
        source = kwargs.pop(self.source_name)
        missing = [name for name in self.input_names if name not in kwargs]
        if missing:
            raise ValueError(f"brick {self.get_unique_path()}: missing targets {missing}")
        return [kwargs[name] + transform.apply(source) for name, transform in zip(self.input_names, self.transforms)]

    @apply.property("inputs")
    def apply_inputs(self) -> list[str]:
        return [self.source_name, *self.input_names]

    @apply.property("outputs")
    def apply_outputs(self) -> list[str]:
        return self.input_names


class Merge(Parallel):
    """Transform each input to ``output_dim`` and sum (default prototype: ``Linear(use_bias=False)``).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Merge
    >>> from blocks.initialization import Constant
    >>> merge = Merge(["a", "b"], [2, 3], 4, weights_init=Constant(1))
    >>> merge.apply(torch.ones(1, 2), torch.ones(1, 3)).tolist()
    [[5.0, 5.0, 5.0, 5.0]]
    """

    @lazy(allocation=["input_dims", "output_dim"])
    def __init__(self, input_names: Sequence[str], input_dims: Sequence[int], output_dim: int,
                 prototype: Brick | None = None, **kwargs: Any) -> None:
        if prototype is None:
            prototype = Linear(use_bias=False)
        super().__init__(input_names, input_dims, prototype=prototype, **kwargs)
        self.output_dim = output_dim

    def _push_allocation_config(self) -> None:
        self.output_dims = [self.output_dim] * len(self.input_names)
        super()._push_allocation_config()

    def get_dim(self, name: str) -> Any:
        if name == "output":
            return self.output_dim
        return super().get_dim(name)

    @application(outputs=["output"])
    def apply(self, *args: Any, **kwargs: Any) -> Any:
        """The sum of the transformed inputs."""
        # annotated, as in Blocks: the parts are outputs of the merge too
        outputs = Parallel.apply(self, *args, as_list=True, **kwargs)
        total = outputs[0]
        for output in outputs[1:]:
            total = total + output
        return total

    @apply.property("inputs")
    def apply_inputs(self) -> list[str]:
        return self.input_names
