"""Blocks' names in their old modules, found through the plugin registries.

Blocks kept momentum, Adam, ``Printing``, monitoring and the recurrent bricks
in ``blocks.algorithms``, ``blocks.extensions``, ``blocks.bricks`` and their
submodules; here they live in plugins. ``from blocks.algorithms import
Momentum`` still works: the old module's ``__getattr__`` calls
:func:`moved_attribute`, which asks the plugin host for a registered class of
that name (so core never imports a plugin by name, and a third-party plugin's
step rules and extensions are found the same way) or, for Blocks' other names
(``aggregation.mean``, ``MonitoredQuantity``, ``recurrent``), for the name in
the public API of the plugin that registered that kind of object. When the
plugin is missing, disabled or broken, :class:`MovedNameError` (an
``ImportError``) names the class, where it lives now and what to install.

Examples
--------
>>> "Momentum" in MOVED_NAMES["blocks.algorithms"].names
True
>>> MOVED_NAMES["blocks.algorithms"].distribution
'blocks-step-rules'
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = ["MOVED_NAMES", "MovedModule", "MovedNameError", "moved_attribute"]


class MovedNameError(ImportError):
    """A Blocks name whose plugin is not installed, not loaded or does not provide it.

    Examples
    --------
    >>> issubclass(MovedNameError, ImportError)
    True
    """


@dataclass(frozen=True)
class MovedModule:
    """Blocks' names of one old module that plugins provide now.

    Attributes
    ----------
    kind : str
        The registry kind whose plugins provide them (``"step_rules"``).
    distribution : str
        The distribution that provides Blocks' names (``"blocks-step-rules"``).
    package : str
        Its import package (``"blocks_step_rules"``).
    names : frozenset of str
        Blocks' names of the module that moved there.
    any_registered : bool
        Also resolve any class registered under ``kind`` by its class name
        (for ``blocks.algorithms`` and ``blocks.extensions``, so third-party
        step rules and extensions are found as well).
    """

    kind: str
    distribution: str
    package: str
    names: frozenset[str]
    any_registered: bool = False


def _moved(kind: str, distribution: str, package: str, names: str, any_registered: bool = False) -> MovedModule:
    return MovedModule(kind, distribution, package, frozenset(names.split()), any_registered)


_STEP_RULES = ("step_rules", "blocks-step-rules", "blocks_step_rules")
_EXTENSIONS = ("extensions", "blocks-extensions", "blocks_extensions")
_RNN = ("bricks", "blocks-bricks-rnn", "blocks_rnn")
_RECURRENT = "BaseRecurrent recurrent SimpleRecurrent LSTM GatedRecurrent Bidirectional RecurrentStack"

MOVED_NAMES: dict[str, MovedModule] = {
    "blocks.algorithms": _moved(
        *_STEP_RULES,
        "BasicMomentum Momentum AdaDelta BasicRMSProp RMSProp StepClipping VariableClipping AdaGrad Adam "
        "RemoveNotFinite Restrict",
        any_registered=True,
    ),
    "blocks.extensions": _moved(*_EXTENSIONS, "Printing ProgressBar Timing Timestamp", any_registered=True),
    "blocks.extensions.monitoring": _moved(
        *_EXTENSIONS, "MonitoringExtension DataStreamMonitoring TrainingDataMonitoring"
    ),
    "blocks.extensions.stopping": _moved(*_EXTENSIONS, "FinishIfNoImprovementAfter EarlyStopping"),
    "blocks.extensions.training": _moved(*_EXTENSIONS, "SharedVariableModifier TrackTheBest"),
    "blocks.monitoring.aggregation": _moved(
        *_EXTENSIONS,
        "AggregationScheme Aggregator Mean Perplexity mean perplexity TakeLast take_last Minimum minimum Maximum "
        "maximum Concatenate concatenate MonitoredQuantity",
    ),
    "blocks.monitoring.evaluators": _moved(*_EXTENSIONS, "DatasetEvaluator"),
    "blocks.bricks": _moved(*_RNN, _RECURRENT + " RECURRENTSTACK_SEPARATOR"),
    "blocks.bricks.recurrent": _moved(*_RNN, _RECURRENT + " RECURRENTSTACK_SEPARATOR"),
    "blocks.bricks.attention": _moved(
        *_RNN,
        "AbstractAttention GenericSequenceAttention SequenceContentAttention ShallowEnergyComputer "
        "AbstractAttentionRecurrent AttentionRecurrent",
    ),
    "blocks.bricks.sequence_generators": _moved(
        *_RNN,
        "BaseSequenceGenerator AbstractReadout Readout AbstractEmitter AbstractFeedback TrivialEmitter "
        "SoftmaxEmitter TrivialFeedback LookupFeedback FakeAttentionRecurrent SequenceGenerator",
    ),
    "blocks.search": _moved(*_RNN, "BeamSearch"),
}
"""Old module -> the Blocks names that moved to a plugin (Blocks 0.2's public API)."""


def _attribute_of(reference: str) -> str:
    return reference.rpartition(":")[2].rpartition(".")[2]


def _plugin_status(host: Any, distribution: str) -> Any:
    for info in host.plugins():
        if info.name == distribution:
            return info
    return None


def _missing(module: str, name: str, moved: MovedModule, host: Any) -> MovedNameError:
    where = f"{moved.package}.{name}"
    head = f"{module}.{name} moved to {where}, in the plugin {moved.distribution}"
    info = _plugin_status(host, moved.distribution)
    if info is None:
        tail = f"; install it (pip install {moved.distribution}) and import it from either place"
    elif info.status == "failed":
        tail = f", which is installed but failed to load: {info.error}"
    elif info.status == "skipped":
        tail = (
            f", which is installed but not loaded here (BLOCKS_LOAD_PLUGINS or BLOCKS_DISABLE_PLUGIN_AUTOLOAD "
            f"leaves it out); add {moved.distribution} to BLOCKS_LOAD_PLUGINS"
        )
    else:
        tail = f"; the installed {moved.distribution} {info.version} does not provide it (upgrade it)"
    return MovedNameError(head + tail, name=module)


def moved_attribute(module: str, name: str) -> Any:
    """Resolve ``module.name`` for a Blocks name that lives in a plugin now.

    Parameters
    ----------
    module : str
        The old module (a key of :data:`MOVED_NAMES`).
    name : str
        The attribute asked for.

    Returns
    -------
    object
        The class, function or constant the plugin provides.

    Raises
    ------
    AttributeError
        When ``name`` is not one of Blocks' names of ``module`` (nor, where
        allowed, a registered class).
    MovedNameError
        When it is, but the providing plugin is not installed, not loaded or
        does not provide it; or when two plugins register classes of that name.

    Examples
    --------
    >>> moved_attribute("blocks.algorithms", "NoSuchRule")
    Traceback (most recent call last):
    ...
    AttributeError: module 'blocks.algorithms' has no attribute 'NoSuchRule'
    """
    moved = MOVED_NAMES.get(module)
    missing = AttributeError(f"module {module!r} has no attribute {name!r}")
    if moved is None or name.startswith("_") or (name not in moved.names and not moved.any_registered):
        raise missing
    from blocks.plugins import get_host

    host = get_host()
    registry = host.registry(moved.kind)
    matches = [entry for entry in registry.entries() if _attribute_of(entry.reference) == name]
    if len(matches) > 1:
        owners = ", ".join(f"{entry.plugin} ({entry.reference})" for entry in matches)
        raise MovedNameError(f"{module}.{name} is ambiguous: several plugins register it: {owners}", name=module)
    if matches:
        return registry.get(matches[0].name)
    if name not in moved.names:
        raise missing
    packages = {entry.reference.split(":")[0].split(".")[0] for entry in registry.entries()
                if entry.plugin == moved.distribution}
    for package in sorted(packages):
        exported = importlib.import_module(package)
        if name in getattr(exported, "__all__", ()):
            return getattr(exported, name)
    raise _missing(module, name, moved, host)
