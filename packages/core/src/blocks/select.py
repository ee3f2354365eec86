"""``Selector`` and ``Path``: select bricks and parameters by Blocks paths (``/mlp/linear_0.W``)."""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Iterable, Sequence

import torch

from blocks.bricks.base import BRICK_DELIMITER, Brick

__all__ = ["Path", "Selector"]


class Path:
    """A parsed path: brick names (``/name``) optionally followed by a parameter name (``.name``).

    Examples
    --------
    >>> from blocks.select import Path
    >>> Path.parse("/mlp/linear_0.W").nodes
    (BrickName('mlp'), BrickName('linear_0'), ParameterName('W'))
    >>> str(Path.parse("/mlp/linear_0.W"))
    '/mlp/linear_0.W'
    """

    separator = BRICK_DELIMITER
    parameter_separator = "."
    _pattern = re.compile(r"(/[^/.]+)|(\.[^/.]+)")

    class BrickName(str):
        def part(self) -> str:
            return Path.separator + self

        def __repr__(self) -> str:
            return f"BrickName({str(self)!r})"

    class ParameterName(str):
        def part(self) -> str:
            return Path.parameter_separator + self

        def __repr__(self) -> str:
            return f"ParameterName({str(self)!r})"

    def __init__(self, nodes: Sequence[str]) -> None:
        self.nodes = tuple(nodes)

    @classmethod
    def parse(cls, string: str) -> Path:
        if not isinstance(string, str) or not string:
            raise ValueError(f"a path is a non-empty str such as '/mlp/linear_0.W', got {string!r}")
        nodes: list[str] = []
        position = 0
        for match in cls._pattern.finditer(string):
            if match.start() != position:
                break
            position = match.end()
            if match.group(1):
                nodes.append(cls.BrickName(match.group(1)[1:]))
            else:
                nodes.append(cls.ParameterName(match.group(2)[1:]))
        if position != len(string):
            raise ValueError(f"invalid path {string!r}: expected '/brick/.../brick' optionally followed by '.param'")
        if any(isinstance(n, cls.ParameterName) for n in nodes[:-1]):
            raise ValueError(f"invalid path {string!r}: a parameter name can only come last")
        return cls(nodes)

    def __add__(self, other: Path) -> Path:
        return Path(self.nodes + other.nodes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Path) and self.nodes == other.nodes

    def __hash__(self) -> int:
        return hash(self.nodes)

    def __str__(self) -> str:
        return "".join(node.part() for node in self.nodes)

    def __repr__(self) -> str:
        return f"Path({str(self)!r})"


class Selector:
    """Select bricks and parameters from a list of (top) bricks by path.

    Parameters
    ----------
    bricks : Brick or list of Brick

    Examples
    --------
    >>> from blocks.bricks import MLP, Tanh
    >>> from blocks.select import Selector
    >>> from blocks.initialization import Constant
    >>> mlp = MLP([Tanh(), Tanh()], [2, 3, 4], weights_init=Constant(0), biases_init=Constant(0))
    >>> mlp.allocate()
    >>> Selector(mlp).select("/mlp/linear_1.W")[0].shape
    torch.Size([3, 4])
    >>> list(Selector(mlp).select("/mlp/linear_0").get_parameters())
    ['/linear_0.W', '/linear_0.b']
    """

    def __init__(self, bricks: Brick | Iterable[Brick]) -> None:
        if isinstance(bricks, Brick):
            bricks = [bricks]
        self.bricks = list(bricks)
        for brick in self.bricks:
            if not isinstance(brick, Brick):
                raise ValueError(f"Selector takes bricks, got {type(brick).__name__}")

    def select(self, path: str | Path) -> Selector | list[torch.Tensor]:
        """Bricks matching a brick path (a ``Selector``), or the parameters a ``.name`` path ends with."""
        if isinstance(path, str):
            path = Path.parse(path)
        current = self.bricks
        first = True
        for node in path.nodes:
            if isinstance(node, Path.BrickName):
                if first:
                    current = [b for b in current if b.name == node]
                else:
                    current = [c for b in current for c in b.children if c.name == node]
                first = False
            else:
                found = [b._parameters[node] for b in current if b._parameters.get(node) is not None]
                found += [b._buffers[node] for b in current if b._buffers.get(node) is not None]
                return found
        unique: list[Brick] = []
        for brick in current:
            if not any(brick is u for u in unique):
                unique.append(brick)
        return Selector(unique)

    def get_parameters(self, parameter_name: str | None = None) -> OrderedDict[str, torch.Tensor]:
        """``{path relative to the selected bricks: parameter}`` for the selected bricks' trees.

        Raises
        ------
        ValueError
            When two different parameters get the same path.
        """
        result: OrderedDict[str, torch.Tensor] = OrderedDict()

        def walk(brick: Brick, prefix: str) -> None:
            path = f"{prefix}{BRICK_DELIMITER}{brick.name}"
            for name, parameter in brick._parameters.items():
                if parameter is None or (parameter_name is not None and name != parameter_name):
                    continue
                key = f"{path}.{name}"
                if key in result and result[key] is not parameter:
                    raise ValueError(f"two parameters share the path {key!r}; give sibling bricks distinct names")
                result[key] = parameter
            for child in brick.children:
                walk(child, path)

        for brick in self.bricks:
            walk(brick, "")
        return result
