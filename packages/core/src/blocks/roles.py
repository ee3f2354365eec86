"""Variable roles: Blocks' role hierarchy for graph variables and tensors.

Roles are singleton instances of a class hierarchy. :func:`add_role` keeps
only the most specific role of a lineage (adding ``PARAMETER`` to a ``WEIGHT``
does nothing; adding ``FILTER`` to a ``WEIGHT`` replaces it), and
:func:`has_roles` is sub-role aware (a ``FILTER`` has the ``WEIGHT`` role).

Roles can be attached to symbolic :class:`blocks.graph.Variable` objects
(stored in the fx node's ``meta["roles"]``) and to plain tensors such as
``torch.nn.Parameter`` objects or buffers (stored in ``tensor._blocks_roles``).

Examples
--------
>>> import torch
>>> from blocks.roles import WEIGHT, PARAMETER, FILTER, add_role, has_roles, get_roles
>>> w = torch.nn.Parameter(torch.zeros(2, 2))
>>> add_role(w, WEIGHT)
>>> add_role(w, PARAMETER)      # less specific: ignored
>>> get_roles(w)
[WeightRole]
>>> has_roles(w, [PARAMETER])
True
>>> add_role(w, FILTER)
>>> get_roles(w)
[FilterRole]
"""

from __future__ import annotations

from typing import Any, Iterable

__all__ = [
    "ALGORITHM_BUFFER",
    "ALGORITHM_HYPERPARAMETER",
    "ALGORITHM_STATE",
    "AUXILIARY",
    "BATCH_NORM_DIVISOR",
    "BATCH_NORM_GRAPH_VARIABLE",
    "BATCH_NORM_MINIBATCH_ESTIMATE",
    "BATCH_NORM_OFFSET",
    "BATCH_NORM_POPULATION_MEAN",
    "BATCH_NORM_POPULATION_STATISTICS",
    "BATCH_NORM_POPULATION_STDEV",
    "BATCH_NORM_SCALE_PARAMETER",
    "BATCH_NORM_SHIFT_PARAMETER",
    "BIAS",
    "COLLECTED",
    "COLLECTOR",
    "COST",
    "DROPOUT",
    "FILTER",
    "INITIAL_STATE",
    "INPUT",
    "OUTPUT",
    "PARAMETER",
    "PERSISTENT",
    "WEIGHT",
    "VariableRole",
    "add_role",
    "get_roles",
    "has_roles",
    "set_roles",
]


class VariableRole:
    """Base class for all variable roles (compare with ``isinstance``).

    Examples
    --------
    >>> from blocks.roles import VariableRole, WEIGHT, FILTER
    >>> isinstance(FILTER, type(WEIGHT)), isinstance(WEIGHT, VariableRole)
    (True, True)
    """

    def __eq__(self, other: object) -> bool:
        return self.__class__ == other.__class__

    def __hash__(self) -> int:
        return hash(self.__class__)

    def __repr__(self) -> str:
        return self.__class__.__name__


class InputRole(VariableRole):
    """The input of a brick application."""


class OutputRole(VariableRole):
    """The output of a brick application."""


class CostRole(VariableRole):
    """A cost (a scalar to minimize)."""


class AuxiliaryRole(VariableRole):
    """A variable attached to an application call or brick (e.g. ``W_norm``)."""


class DropoutRole(VariableRole):
    """A variable produced by :func:`blocks.graph.apply_dropout`."""


class CollectedRole(VariableRole):
    """A parameter replaced by a slice of a collector."""


class PersistentRole(VariableRole):
    """A tensor kept between calls: parameters and population statistics."""


class ParameterRole(PersistentRole):
    """A trainable parameter."""


class WeightRole(ParameterRole):
    """A weight matrix/tensor."""


class FilterRole(WeightRole):
    """A convolution filter."""


class BiasRole(ParameterRole):
    """A bias vector."""


class InitialStateRole(ParameterRole):
    """A trainable initial state of a recurrent brick."""


class CollectorRole(ParameterRole):
    """A vector collecting several parameters."""


class BatchNormScaleParameterRole(ParameterRole):
    """The learned scale (gamma) of batch normalization."""


class BatchNormShiftParameterRole(BiasRole):
    """The learned shift (beta) of batch normalization."""


class BatchNormPopulationStatisticsRole(PersistentRole):
    """A population statistic of batch normalization (a buffer)."""


class BatchNormPopulationMeanRole(BatchNormPopulationStatisticsRole):
    """The population mean of batch normalization."""


class BatchNormPopulationStdevRole(BatchNormPopulationStatisticsRole):
    """The population standard deviation of batch normalization."""


class AlgorithmStateRole(VariableRole):
    """State of a training algorithm."""


class AlgorithmHyperparameterRole(AlgorithmStateRole):
    """A hyper-parameter of a training algorithm (e.g. a learning rate)."""


class AlgorithmBufferRole(AlgorithmStateRole):
    """A buffer of a training algorithm (e.g. momentum)."""


class BatchNormGraphVariableRole(VariableRole):
    """A graph variable computed by batch normalization."""


class BatchNormOffsetRole(BatchNormGraphVariableRole):
    """The offset (mean) used by a batch-normalization call."""


class BatchNormDivisorRole(BatchNormGraphVariableRole):
    """The divisor (standard deviation) used by a batch-normalization call."""


class BatchNormMinibatchEstimateRole(BatchNormGraphVariableRole):
    """A minibatch estimate of a batch-normalization statistic."""


INPUT = InputRole()
OUTPUT = OutputRole()
COST = CostRole()
AUXILIARY = AuxiliaryRole()
DROPOUT = DropoutRole()
COLLECTED = CollectedRole()
PERSISTENT = PersistentRole()
PARAMETER = ParameterRole()
WEIGHT = WeightRole()
FILTER = FilterRole()
BIAS = BiasRole()
INITIAL_STATE = InitialStateRole()
COLLECTOR = CollectorRole()
BATCH_NORM_SCALE_PARAMETER = BatchNormScaleParameterRole()
BATCH_NORM_SHIFT_PARAMETER = BatchNormShiftParameterRole()
BATCH_NORM_POPULATION_STATISTICS = BatchNormPopulationStatisticsRole()
BATCH_NORM_POPULATION_MEAN = BatchNormPopulationMeanRole()
BATCH_NORM_POPULATION_STDEV = BatchNormPopulationStdevRole()
ALGORITHM_STATE = AlgorithmStateRole()
ALGORITHM_HYPERPARAMETER = AlgorithmHyperparameterRole()
ALGORITHM_BUFFER = AlgorithmBufferRole()
BATCH_NORM_GRAPH_VARIABLE = BatchNormGraphVariableRole()
BATCH_NORM_OFFSET = BatchNormOffsetRole()
BATCH_NORM_DIVISOR = BatchNormDivisorRole()
BATCH_NORM_MINIBATCH_ESTIMATE = BatchNormMinibatchEstimateRole()


def _role_list(obj: Any, create: bool) -> list[VariableRole] | None:
    node = getattr(obj, "_blocks_node", None)
    if node is not None:  # a symbolic Variable
        roles = node.meta.get("roles")
        if roles is None and create:
            roles = node.meta["roles"] = []
        return roles
    roles = getattr(obj, "_blocks_roles", None)
    if roles is None and create:
        roles = []
        try:
            obj._blocks_roles = roles
        except AttributeError as exc:
            raise ValueError(f"cannot attach roles to an object of type {type(obj).__name__}; "
                             "roles go on blocks.graph.Variable objects and tensors") from exc
    return roles


def add_role(var: Any, role: VariableRole) -> None:
    """Add ``role`` to ``var``, keeping only the most specific role of a lineage.

    Parameters
    ----------
    var : Variable or torch.Tensor
        The variable or tensor to annotate.
    role : VariableRole
        The role to add.

    Examples
    --------
    >>> import torch
    >>> from blocks.roles import add_role, get_roles, BIAS
    >>> b = torch.zeros(3)
    >>> add_role(b, BIAS)
    >>> get_roles(b)
    [BiasRole]
    """
    if not isinstance(role, VariableRole):
        raise ValueError(f"role must be a VariableRole instance such as WEIGHT, got {role!r}")
    roles = _role_list(var, create=True)
    for index, old in enumerate(roles):
        if isinstance(old, role.__class__):
            return
        if isinstance(role, old.__class__):
            roles[index] = role
            return
    roles.append(role)


def set_roles(var: Any, roles: Iterable[VariableRole]) -> None:
    """Replace the roles of ``var`` by ``roles`` (most specific kept per lineage)."""
    existing = _role_list(var, create=True)
    del existing[:]
    for role in roles:
        add_role(var, role)


def get_roles(var: Any) -> list[VariableRole]:
    """Return the roles of ``var`` (a copy; empty when it has none)."""
    roles = _role_list(var, create=False)
    return list(roles) if roles else []


def has_roles(var: Any, roles: Iterable[VariableRole], match_all: bool = False) -> bool:
    """Test whether ``var`` has any (or, with ``match_all``, every) role of ``roles``.

    Sub-roles count: a variable with role ``FILTER`` has the role ``WEIGHT``.

    Examples
    --------
    >>> import torch
    >>> from blocks.roles import add_role, has_roles, FILTER, WEIGHT, BIAS
    >>> w = torch.zeros(1)
    >>> add_role(w, FILTER)
    >>> has_roles(w, [WEIGHT]), has_roles(w, [WEIGHT, BIAS], match_all=True)
    (True, False)
    """
    var_roles = _role_list(var, create=False) or ()

    def found(role: VariableRole) -> bool:
        return any(isinstance(own, role.__class__) for own in var_roles)

    check = all if match_all else any
    return check(found(role) for role in roles)
