"""Hook specifications of the ``blocks`` plugin host.

Every hook a plugin can implement is declared here, with its parameters and
return contract. Plugin authors import the implementation marker from the
top-level package::

    from blocks import hookimpl

    @hookimpl
    def register_step_rules(register):
        register("my_rule", "my_plugin.rules:MyRule")

Contribution hooks are *registrar-style*: they receive a ``register``
callback and return nothing. ``register(name, obj, **metadata)`` accepts either
the object itself or a lazy ``"module:attribute"`` string that is imported only
when the object is first asked for, so plugin modules stay cheap to import.
Names are lower_snake_case and unique per registry across all plugins: a
clash is an error that names both plugins.

Decision hooks return a value; ``select_backend`` is ``firstresult``: the
first non-``None`` answer wins.

An implementation may accept fewer arguments than its specification
(pluggy's opt-in arguments), so specifications can grow without breaking
plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

__all__ = [
    "PROJECT_NAME",
    "hookimpl",
    "hookspec",
    "register_backends",
    "register_bricks",
    "register_commands",
    "register_datasets",
    "register_extensions",
    "register_log_backends",
    "register_step_rules",
    "select_backend",
]

PROJECT_NAME = "blocks"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marker for hook specifications (used only in this module)."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker to be imported and used in plugins (and for core's own built-ins)."""

Register = Callable[..., None]

# ---------------------------------------------------------------------------
# Contribution hooks: registrars
# ---------------------------------------------------------------------------


@hookspec
def register_bricks(register: Register) -> None:
    """Register brick classes by name.

    Parameters
    ----------
    register : callable
        ``register(name, obj)`` where ``obj`` is a subclass of
        :class:`blocks.bricks.Brick` or a ``"module:attribute"`` string naming
        one. ``name`` is lower_snake_case (``"lstm"``, ``"gated_recurrent"``).

    Returns
    -------
    None
        Registration happens through the callback.
    """


@hookspec
def register_step_rules(register: Register) -> None:
    """Register step rules by name.

    Parameters
    ----------
    register : callable
        ``register(name, obj)`` where ``obj`` is a subclass of
        :class:`blocks.algorithms.StepRule` (or a lazy ``"module:attribute"``
        string). Users resolve rules by name, e.g. ``"adam"``, in the
        estimator and in configuration files.

    Returns
    -------
    None
    """


@hookspec
def register_extensions(register: Register) -> None:
    """Register training extensions by name.

    Parameters
    ----------
    register : callable
        ``register(name, obj)`` where ``obj`` is a subclass of
        :class:`blocks.extensions.TrainingExtension` (or a lazy string),
        e.g. ``register("printing", "blocks_extensions.printing:Printing")``.

    Returns
    -------
    None
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets and their download/convert commands.

    Parameters
    ----------
    register : callable
        ``register(name, obj, *, download=None, convert=None, description="")``.
        ``obj`` is the dataset class (or lazy string). ``download`` and
        ``convert`` are Fuel-style ``fill_subparser(subparser)`` callables (or
        lazy strings): each adds its own arguments to the argparse subparser
        of ``fuel-download <name>`` / ``fuel-convert <name>`` and returns the
        function to call with the parsed arguments.

    Returns
    -------
    None
    """


@hookspec
def register_backends(register: Register) -> None:
    """Register compute backends by name.

    Parameters
    ----------
    register : callable
        ``register(name, obj)`` where ``obj`` is a subclass of
        :class:`blocks.backends.Backend` (or a lazy string), e.g.
        ``register("cuda", "blocks_cuda.backend:CUDABackend")``.

    Returns
    -------
    None
    """


@hookspec
def register_log_backends(register: Register) -> None:
    """Register training-log backends by name.

    Parameters
    ----------
    register : callable
        ``register(name, obj)`` where ``obj`` is a subclass of
        :class:`blocks.log.TrainingLogBase` (or a lazy string). The name is what
        the ``log_backend`` configuration option selects (``"python"``,
        ``"sqlite"``).

    Returns
    -------
    None
    """


@hookspec
def register_commands(subparsers: Any) -> None:
    """Add subcommands to the ``blocks`` command line.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The object returned by ``ArgumentParser.add_subparsers()`` of the
        ``blocks`` command. Add a parser with ``subparsers.add_parser(name)``
        and set ``func`` with ``parser.set_defaults(func=callable)``; the
        callable receives the parsed ``argparse.Namespace`` and returns an
        exit status (``int``) or ``None`` for success. Import heavy modules
        inside ``func``, never at hook time: ``blocks --help`` must stay fast.

    Returns
    -------
    None
    """


# ---------------------------------------------------------------------------
# Decision hooks
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def select_backend(requested: str, available: list[str]) -> str | None:
    """Choose the compute backend for a requested device.

    Stops at the first non-``None`` result.

    Parameters
    ----------
    requested : str
        What the user asked for through the ``device`` option (argument,
        ``BLOCKS_DEVICE``, config file): ``"auto"``, ``"cpu"``, ``"cuda"``,
        ``"cuda:1"``, ...
    available : list of str
        Names of the registered backends.

    Returns
    -------
    str or None
        The name of a registered backend that will serve the request, or
        ``None`` to decline (for example a CUDA plugin on a machine without
        CUDA). When every plugin declines, core's ``cpu`` backend is used for
        ``"auto"`` and ``"cpu"``; any other request is an error.
    """
