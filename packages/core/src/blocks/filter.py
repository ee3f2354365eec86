"""``VariableFilter``: select graph variables (or parameters) by roles, bricks, names and calls."""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from blocks.bricks.base import Application, ApplicationCall, BoundApplication, Brick, get_brick
from blocks.graph.variables import Variable
from blocks.roles import VariableRole, has_roles

__all__ = ["VariableFilter", "get_application_call", "get_brick", "get_name"]


def get_application_call(variable: Any) -> ApplicationCall | None:
    """The application call that annotated ``variable`` (``None`` if none).

    Examples
    --------
    >>> from blocks.bricks import Tanh
    >>> from blocks.graph import matrix
    >>> from blocks.filter import get_application_call
    >>> y = Tanh().apply(matrix("x"), call_id="first")
    >>> get_application_call(y).metadata["call_id"]
    'first'
    """
    if isinstance(variable, Variable):
        return variable.node.meta.get("application_call")
    return None


def get_name(variable: Any) -> str | None:
    """Blocks' name of a variable or tensor (``None`` when it has none).

    A symbolic variable's ``name``; for a tensor (a parameter, a buffer, a
    :func:`blocks.utils.shared_floatx` value) the name its brick or its
    creator gave it.

    Examples
    --------
    >>> from blocks.graph import matrix
    >>> from blocks.utils import shared_floatx
    >>> get_name(matrix("features")), get_name(shared_floatx(1.0, name="V"))
    ('features', 'V')
    """
    if isinstance(variable, Variable):
        return variable.name
    return getattr(variable, "_blocks_name", None)


def _is_under(brick: Brick | None, ancestor: Brick) -> bool:
    seen: set[int] = set()
    stack = [brick] if brick is not None else []
    while stack:
        current = stack.pop()
        if current is ancestor:
            return True
        if id(current) in seen:
            continue
        seen.add(id(current))
        stack.extend(current.parents)
    return False


class VariableFilter:
    """Select variables (or ``nn.Parameter`` objects) by their annotations (Blocks' ``VariableFilter``).

    Parameters
    ----------
    roles : list of VariableRole, optional
        Keep variables with any of these roles (sub-roles count).
    each_role : bool
        Require every role of ``roles`` instead of any.
    bricks : list of Brick instances or Brick classes, optional
        Keep variables whose brick is one of the instances or an instance of
        one of the classes (Blocks' exact-brick semantics).
    name : str, optional
        Keep variables with this Blocks name (``"W"``, ``"output"``, ``"features"``).
    name_regex : str, optional
        Keep variables whose name matches this regular expression (``re.match``).
    theano_name, theano_name_regex : str, optional
        Blocks' filters on Theano's own variable name. A variable has one name
        here, so they filter on it like ``name`` and ``name_regex`` (give one
        of each pair).
    applications : list of BoundApplication or Application, optional
        Keep variables annotated by calls of these applications; an unbound
        application (``Linear.apply``) matches the calls of every brick.
    call_id : any, optional
        Keep variables annotated by calls with this ``call_id``.
    under : list of Brick, optional
        Keep variables whose brick is one of these bricks or a descendant
        (e.g. "every WEIGHT under the brick named encoder"). An addition to Blocks.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import MLP, Tanh, Linear
    >>> from blocks.graph import matrix, ComputationGraph
    >>> from blocks.filter import VariableFilter
    >>> from blocks.initialization import Constant
    >>> from blocks.roles import WEIGHT, OUTPUT
    >>> mlp = MLP([Tanh(), Tanh()], [2, 3, 2], weights_init=Constant(0.1), biases_init=Constant(0))
    >>> cg = ComputationGraph([mlp.apply(matrix("x"))])
    >>> len(VariableFilter(roles=[WEIGHT])(cg.variables))
    2
    >>> len(VariableFilter(roles=[OUTPUT], bricks=[Linear])(cg.variables))
    2
    >>> len(VariableFilter(roles=[WEIGHT])(cg.parameters))
    2
    """

    def __init__(self, roles: Sequence[VariableRole] | None = None, each_role: bool = False,
                 bricks: Sequence[Any] | None = None, name: str | None = None, name_regex: str | None = None,
                 applications: Sequence[BoundApplication | Application] | None = None, call_id: Any = None,
                 under: Sequence[Brick] | None = None, theano_name: str | None = None,
                 theano_name_regex: str | None = None) -> None:
        for given, alias in ((name, theano_name), (name_regex, theano_name_regex)):
            if given is not None and alias is not None and given != alias:
                raise ValueError("give name or theano_name (and name_regex or theano_name_regex), not both: "
                                 "a variable has one name")
        name = name if name is not None else theano_name
        name_regex = name_regex if name_regex is not None else theano_name_regex
        if roles is not None and not all(isinstance(r, VariableRole) for r in roles):
            raise ValueError(f"roles must be VariableRole instances (e.g. blocks.roles.WEIGHT), got {roles!r}")
        if bricks is not None:
            for brick in bricks:
                if not (isinstance(brick, Brick) or (isinstance(brick, type) and issubclass(brick, Brick))):
                    raise ValueError(f"bricks must be Brick instances or Brick classes, got {brick!r}")
        if applications is not None and not all(isinstance(a, (BoundApplication, Application)) for a in applications):
            raise ValueError("applications must be applications such as mlp.apply or Linear.apply")
        self.roles = roles
        self.each_role = each_role
        self.bricks = bricks
        self.name = name
        self.name_regex = re.compile(name_regex) if name_regex is not None else None
        self.applications = applications
        self.call_id = call_id
        self.under = under

    def _brick_matches(self, brick: Brick | None) -> bool:
        for wanted in self.bricks or ():
            if isinstance(wanted, type):
                if isinstance(brick, wanted):
                    return True
            elif brick is wanted:
                return True
        return False

    def __call__(self, variables: Iterable[Any]) -> list[Any]:
        """Return the variables of ``variables`` that pass every given criterion, in order."""
        result = []
        for variable in variables:
            if self.roles is not None and not has_roles(variable, self.roles, self.each_role):
                continue
            if self.bricks is not None and not self._brick_matches(get_brick(variable)):
                continue
            if self.under is not None and not any(_is_under(get_brick(variable), b) for b in self.under):
                continue
            if self.name is not None and get_name(variable) != self.name:
                continue
            if self.name_regex is not None:
                name = get_name(variable)
                if name is None or not self.name_regex.match(name):
                    continue
            if self.applications is not None or self.call_id is not None:
                call = get_application_call(variable)
                if call is None:
                    continue
                if self.applications is not None and not any(
                        (call.application.application is a) if isinstance(a, Application)
                        else (call.application.application is a.application and call.brick is a.brick)
                        for a in self.applications):
                    continue
                if self.call_id is not None and call.metadata.get("call_id") != self.call_id:
                    continue
            result.append(variable)
        return result
