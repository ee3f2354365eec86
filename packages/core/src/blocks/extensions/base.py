"""Extension base classes: TrainingExtension, SimpleExtension, CompositeExtension."""

from __future__ import annotations

import logging
import time
from abc import ABCMeta, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    from blocks.log.base import TrainingLogBase
    from blocks.main_loop import MainLoop

__all__ = [
    "CALLBACK_NAMES",
    "CallbackName",
    "CompositeExtension",
    "SimpleExtension",
    "TrainingExtension",
    "UnknownCallbackError",
    "check_extension",
    "extension_responds_to",
    "state_keys",
]

logger = logging.getLogger(__name__)

CALLBACK_NAMES: tuple[str, ...] = (
    "before_training",
    "before_epoch",
    "before_batch",
    "after_batch",
    "after_epoch",
    "after_training",
    "on_resumption",
    "on_error",
    "on_interrupt",
)
"""Every callback the main loop dispatches, in no particular order."""


class UnknownCallbackError(TypeError, ValueError):
    """A callback name that the main loop never dispatches (Blocks raised ``TypeError``)."""


class CallbackName(str):
    """A callback's name that refuses comparison with names that are not callbacks.

    Catches typos such as ``which_callback == "afer_epoch"`` inside
    :meth:`SimpleExtension.do`.

    Examples
    --------
    >>> CallbackName("after_epoch") == "after_epoch"
    True
    >>> CallbackName("after_epoch") == "afer_epoch"  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    blocks.extensions.base.UnknownCallbackError: 'afer_epoch' is not a callback; callbacks: before_training, ...
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        _check_callback(other)
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__


_CALLBACK_SET = frozenset(CALLBACK_NAMES)
_CALLBACKS = {name: CallbackName(name) for name in CALLBACK_NAMES}


class TrainingExtension:
    """Base of every extension: one method per main-loop callback.

    Override the callbacks you need; the main loop only calls an extension
    for the callbacks it :meth:`responds_to` (an overridden method).

    Callbacks: ``before_training``, ``before_epoch``, ``before_batch(batch)``,
    ``after_batch(batch)``, ``after_epoch``, ``after_training``,
    ``on_resumption``, ``on_error(exception)``, ``on_interrupt``.

    Parameters
    ----------
    name : str, optional
        Unique name within a main loop (the class name by default); it keys
        the extension's state in ``MainLoop.state_dict()``.

    Attributes
    ----------
    main_process_only : bool
        Class attribute: in a multi-process (torch.distributed) run, only
        rank 0 runs this extension (printing, progress bars, plots). Default
        ``False``: every rank runs it, which extensions that take part in
        collectives (monitoring, checkpoints) need.
    reads_device : bool
        Class attribute: whether the extension's work reads values from the
        device (a host synchronisation), as monitoring does. After a batch on
        which such a :class:`SimpleExtension` ran, the main loop's non-finite
        guard reads its own record, at no extra synchronisation. In a
        torch.distributed run that check is a collective, so only runs that
        every rank makes on the same batch count: not those of a
        ``main_process_only`` extension. Default ``False``.

    Examples
    --------
    >>> class CountBatches(TrainingExtension):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.batches = 0
    ...     def after_batch(self, batch):
    ...         self.batches += 1
    >>> ext = CountBatches()
    >>> ext.responds_to("after_batch"), ext.responds_to("after_epoch")
    (True, False)
    """

    main_process_only = False
    reads_device = False

    def __init__(self, name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise ValueError(f"an extension's name must be a string, got {name!r}")
        self.name = name or type(self).__name__
        self._main_loop: MainLoop | None = None

    @property
    def main_loop(self) -> MainLoop:
        """The main loop this extension belongs to; a ``ValueError`` before one attaches it.

        :class:`~blocks.main_loop.MainLoop` sets it when it is built with the
        extension. Reading it earlier is an error, as in Blocks, rather than
        ``None`` that would fail later with an ``AttributeError``; code that
        may run before (``state_dict()`` of an extension never added to a
        loop) asks :attr:`is_attached` first.
        """
        if self._main_loop is None:
            raise ValueError(f"extension {self.name!r} is not attached to a main loop yet (MainLoop sets it)")
        return self._main_loop

    @main_loop.setter
    def main_loop(self, value: MainLoop) -> None:
        self._main_loop = value

    @property
    def is_attached(self) -> bool:
        """Whether a main loop has attached this extension, so that :attr:`main_loop` can be read.

        Examples
        --------
        >>> from blocks.extensions import FinishAfter
        >>> extension = FinishAfter(after_n_epochs=1)
        >>> extension.is_attached
        False
        >>> extension.main_loop
        Traceback (most recent call last):
        ...
        ValueError: extension 'FinishAfter' is not attached to a main loop yet (MainLoop sets it)
        """
        return self._main_loop is not None

    def responds_to(self, callback_name: str) -> bool:
        """Whether dispatching ``callback_name`` to this extension can do anything.

        True when the callback is overridden in a subclass or assigned on the
        instance (``ext.after_batch = function``, as Blocks allowed).
        """
        _check_callback(callback_name)
        if callback_name in self.__dict__:
            return True
        return getattr(type(self), callback_name) is not getattr(TrainingExtension, callback_name)

    def dispatch(self, callback_invoked: str, *from_main_loop: Any) -> None:
        """Run the callback ``callback_invoked`` with the main loop's arguments."""
        getattr(self, callback_invoked)(*from_main_loop)

    def before_training(self) -> None:
        """Before training starts (not on resumption)."""

    def before_epoch(self) -> None:
        """Before each epoch."""

    def before_batch(self, batch: dict[str, Any]) -> None:
        """Before each batch is processed."""

    def after_batch(self, batch: dict[str, Any]) -> None:
        """After each batch was processed (``iterations_done`` already counts it)."""

    def after_epoch(self) -> None:
        """After each epoch (``epochs_done`` already counts it)."""

    def after_training(self) -> None:
        """After training finished normally (not after an error)."""

    def on_resumption(self) -> None:
        """When a run continues from a saved state."""

    def on_error(self, exception: BaseException) -> None:
        """When training stops with an error (the error is re-raised afterwards)."""

    def on_interrupt(self) -> None:
        """At the first batch boundary after SIGINT or SIGTERM was received."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state (tensors/arrays allowed as leaves); empty by default."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s result."""


def _check_callback(name: object) -> None:
    if not isinstance(name, str) or name not in _CALLBACK_SET:
        raise UnknownCallbackError(f"{name!r} is not a callback; callbacks: {', '.join(CALLBACK_NAMES)}")


class _AfterN:
    __slots__ = ("key", "n")

    def __init__(self, key: str, n: int) -> None:
        self.key, self.n = key, n

    def __call__(self, log: TrainingLogBase) -> bool:
        return log.status[self.key] == self.n


class _EveryN:
    __slots__ = ("key", "n")

    def __init__(self, key: str, n: int) -> None:
        self.key, self.n = key, n

    def __call__(self, log: TrainingLogBase) -> bool:
        return log.status[self.key] % self.n == 0


class _NoEpochsDone:
    __slots__ = ()

    def __call__(self, log: TrainingLogBase) -> bool:
        return log.status["epochs_done"] == 0


class _Both:
    """Both predicates hold (``before_first_epoch`` with a user predicate)."""

    __slots__ = ("first", "second")

    def __init__(self, first: Callable[[TrainingLogBase], bool], second: Callable[[TrainingLogBase], bool]) -> None:
        self.first, self.second = first, second

    def __call__(self, log: TrainingLogBase) -> bool:
        return bool(self.first(log)) and bool(self.second(log))


_clock = time.monotonic


class _EverySeconds:
    """True at most once per ``seconds``, timed from the first check.

    In a torch.distributed run an extension that runs on every rank must fire
    on the same batch everywhere (its work may be a collective, such as
    monitoring's averages or a checkpoint's gathered data positions), but each
    rank has its own clock: rank 0's clock decides, told to every rank by one
    small all-reduce per check (:func:`blocks.distributed.ranks_where`). A
    ``main_process_only`` extension runs on rank 0 alone and asks no one.
    """

    __slots__ = ("last", "seconds", "owner", "agreed")

    def __init__(self, seconds: float, owner: TrainingExtension) -> None:
        self.seconds = seconds
        self.owner = owner
        self.last: float | None = None
        self.agreed = False  # whether the last decision was taken by every rank together

    def __call__(self, log: TrainingLogBase) -> bool:
        now = _clock()
        if self.last is None:
            self.last = now
        due = now - self.last >= self.seconds
        self.agreed = False
        if not self.owner.main_process_only:
            from blocks import distributed

            if distributed.is_distributed():
                due = 0 in distributed.ranks_where(due)
                self.agreed = True
        if due:
            self.last = now
        return due


BOOLEAN_TRIGGERS = frozenset(CALLBACK_NAMES) | {"before_first_epoch"}
NUMBER_TRIGGERS = frozenset(
    {"after_n_epochs", "after_n_batches", "every_n_epochs", "every_n_batches", "every_n_seconds"}
)


class SimpleExtension(TrainingExtension, metaclass=ABCMeta):
    """An extension whose work is one method, :meth:`do`, run on triggers.

    Triggers (keyword arguments, also accepted by :meth:`set_conditions`):
    boolean ``before_training``, ``before_first_epoch``, ``before_epoch``,
    ``before_batch``, ``after_batch``, ``after_epoch``, ``after_training``,
    ``on_resumption``, ``on_interrupt``, ``on_error``; integer
    ``after_n_epochs``, ``after_n_batches``, ``every_n_epochs``,
    ``every_n_batches``; and ``every_n_seconds`` (float, checked after every
    batch, timed from the first batch; in a torch.distributed run rank 0's
    clock decides for every rank, at the cost of one small all-reduce per
    batch, unless the extension is ``main_process_only``). ``do(which_callback, *args)`` gets a
    :class:`CallbackName` and, for ``before_batch``/``after_batch``, the batch,
    then any ``arguments`` given to :meth:`add_condition`.

    Parameters
    ----------
    name : str, optional
        Unique name in the main loop.
    **triggers
        Trigger keywords as above.

    Examples
    --------
    >>> class Hello(SimpleExtension):
    ...     def do(self, which_callback, *args):
    ...         print("hello from", which_callback)
    >>> ext = Hello(after_epoch=True, every_n_batches=10)
    >>> ext.responds_to("after_batch"), ext.responds_to("before_batch")
    (True, False)
    """

    def __init__(self, name: str | None = None, **triggers: Any) -> None:
        super().__init__(name=name)
        self._conditions: list[tuple[str, Callable[[TrainingLogBase], bool] | None, tuple[Any, ...]]] = []
        self._by_callback: dict[str, list[tuple[Callable[[TrainingLogBase], bool] | None, tuple[Any, ...]]]] = {}
        self.fired: dict[str, int] = {}
        self.set_conditions(**triggers)

    def set_conditions(self, **triggers: Any) -> SimpleExtension:
        """Replace every condition by the given triggers (chainable).

        Raises
        ------
        ValueError
            For unknown trigger names or non-positive counts.
        """
        unknown = set(triggers) - BOOLEAN_TRIGGERS - NUMBER_TRIGGERS
        if unknown:
            raise ValueError(
                f"unknown trigger(s) {sorted(unknown)} for {type(self).__name__}; triggers: "
                f"{', '.join(sorted(BOOLEAN_TRIGGERS | NUMBER_TRIGGERS))}"
            )
        self._conditions = []
        for key, value in triggers.items():
            if not value:
                continue
            if key in NUMBER_TRIGGERS:
                if (
                    isinstance(value, bool)
                    or not isinstance(value, (int, float))
                    or value <= 0
                    or (key != "every_n_seconds" and int(value) != value)
                ):
                    kind = "number" if key == "every_n_seconds" else "integer"
                    raise ValueError(f"trigger {key} needs a positive {kind}, got {value!r}")
            if key == "before_first_epoch":
                self._conditions.append(("before_epoch", _NoEpochsDone(), ()))
            elif key == "after_n_epochs":
                self._conditions.append(("after_epoch", _AfterN("epochs_done", int(value)), ()))
            elif key == "after_n_batches":
                self._conditions.append(("after_batch", _AfterN("iterations_done", int(value)), ()))
            elif key == "every_n_epochs":
                self._conditions.append(("after_epoch", _EveryN("epochs_done", int(value)), ()))
            elif key == "every_n_batches":
                self._conditions.append(("after_batch", _EveryN("iterations_done", int(value)), ()))
            elif key == "every_n_seconds":
                self._conditions.append(("after_batch", _EverySeconds(float(value), self), ()))
            else:
                self._conditions.append((key, None, ()))
        self._conditions_changed()
        return self

    def add_condition(
        self,
        callbacks_names: Iterable[str] | str,
        predicate: Callable[[TrainingLogBase], bool] | None = None,
        arguments: Iterable[Any] | None = None,
    ) -> SimpleExtension:
        """Also run :meth:`do` on these callbacks when ``predicate(log)`` holds (chainable).

        Parameters
        ----------
        callbacks_names : list or tuple of str
            Callback names (e.g. ``["after_epoch"]``); ``"before_first_epoch"``
            means ``before_epoch`` while no epoch is done.
        predicate : callable, optional
            ``predicate(log) -> bool`` (e.g. :class:`~blocks.extensions.predicates.OnLogRecord`).
        arguments : iterable, optional
            Extra positional arguments appended to :meth:`do`'s.

        Raises
        ------
        ValueError
            When ``callbacks_names`` is not a list or tuple (a bare string is
            refused, as in Blocks) or names something that is not a callback.
        """
        if not isinstance(callbacks_names, (list, tuple)):
            raise ValueError(
                f"callbacks_names must be a list or tuple of callback names, got {callbacks_names!r} "
                "(write add_condition(['after_epoch'], ...))"
            )
        arguments = tuple(arguments or ())
        conditions = []
        for name in callbacks_names:
            if name == "before_first_epoch":
                first = _NoEpochsDone() if predicate is None else _Both(_NoEpochsDone(), predicate)
                conditions.append(("before_epoch", first, arguments))
                continue
            _check_callback(name)
            conditions.append((name, predicate, arguments))
        self._conditions.extend(conditions)
        self._conditions_changed()
        return self

    def _conditions_changed(self) -> None:
        by_callback: dict[str, list] = {}
        for name, predicate, arguments in self._conditions:
            by_callback.setdefault(name, []).append((predicate, arguments))
        self._by_callback = by_callback
        if self._main_loop is not None:
            self._main_loop.refresh_callbacks()

    def responds_to(self, callback_name: str) -> bool:
        _check_callback(callback_name)
        return callback_name in self._by_callback

    def dispatch(self, callback_invoked: str, *from_main_loop: Any) -> None:
        conditions = self._by_callback.get(callback_invoked)
        if not conditions:
            return
        log = self.main_loop.log
        for predicate, arguments in conditions:
            if predicate is None or predicate(log):
                self.fired[callback_invoked] = self.fired.get(callback_invoked, 0) + 1
                self.do(_CALLBACKS[callback_invoked], *from_main_loop, *arguments)
                if self.reads_device and callback_invoked == "after_batch":  # the guard may read its record now
                    self.main_loop._note_device_read(self, not isinstance(predicate, _EverySeconds) or predicate.agreed)

    @staticmethod
    def parse_args(which_callback: str, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Split :meth:`do`'s arguments into the main loop's (the batch, if any) and the user's."""
        args = tuple(args)
        if which_callback in ("before_batch", "after_batch"):
            return args[:1], args[1:]
        if which_callback == "on_error":
            return args[:1], args[1:]
        return (), args

    @abstractmethod
    def do(self, which_callback: CallbackName, *args: Any) -> None:
        """The extension's work; ``which_callback`` says which callback triggered it."""

    def state_dict(self) -> dict[str, Any]:
        """How many times each callback fired :meth:`do`."""
        return {"fired": dict(self.fired)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fired = {str(k): int(v) for k, v in state.get("fired", {}).items()}


def state_keys(extensions: Iterable[Any]) -> list[str]:
    """The keys of the extensions' states in a checkpoint, by position.

    An extension's key is its name; a later extension with a name already
    seen gets ``name#2``, ``name#3``, ... in list order, so two ``Timing()``
    (both named ``"Timing"``, as in Blocks) keep their own states across a
    resume as long as the list keeps its order.

    Raises
    ------
    ValueError
        When a given name equals a generated key (``name="Timing#2"`` next
        to two ``Timing()``): rename that extension.

    Examples
    --------
    >>> from blocks.extensions import FinishAfter
    >>> state_keys([FinishAfter(), FinishAfter(), FinishAfter(name="stop")])
    ['FinishAfter', 'FinishAfter#2', 'stop']
    """
    extensions = list(extensions)
    counts: dict[str, int] = {}
    keys = []
    for ext in extensions:
        name = ext.name if isinstance(getattr(ext, "name", None), str) else type(ext).__name__
        counts[name] = counts.get(name, 0) + 1
        keys.append(name if counts[name] == 1 else f"{name}#{counts[name]}")
    if len(set(keys)) != len(keys):
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(
            f"extension names clash with the automatic names of repeated extensions: {repeated}; "
            "rename the extension whose name ends in '#<number>'"
        )
    return keys


def extension_responds_to(extension: Any, callback_name: str) -> bool:
    """``extension.responds_to(callback_name)``, or ``True`` for a duck-typed extension without it.

    Blocks dispatched every callback to every extension; an object with only
    ``dispatch`` (and a ``main_loop`` attribute) is still an extension.

    Examples
    --------
    >>> class Duck:
    ...     def dispatch(self, callback_name, *args):
    ...         pass
    >>> extension_responds_to(Duck(), "after_batch")
    True
    """
    responds_to = getattr(extension, "responds_to", None)
    return True if responds_to is None else bool(responds_to(callback_name))


def check_extension(extension: Any, where: str) -> None:
    """Refuse what cannot be an extension (``None``, a class, an object without ``dispatch``)."""
    if isinstance(extension, type) or not callable(getattr(extension, "dispatch", None)):
        raise ValueError(
            f"{where} must be extensions (TrainingExtension instances, or objects with a dispatch method), "
            f"got {extension!r}"
        )


class CompositeExtension(SimpleExtension):
    """An extension made of sub-extensions, dispatched together at its position.

    Parameters
    ----------
    sub_extensions : list of TrainingExtension
        Children, run in list order. Objects with a ``dispatch`` method are
        accepted too (Blocks' duck typing); children may share a name (their
        states are keyed as :func:`state_keys` says).
    run_before_children : bool, optional
        Whether this extension's own :meth:`do` runs before (default) or after
        the children for each callback.
    name : str, optional
        Unique name in the main loop.
    **triggers
        The composite's own triggers (see :class:`SimpleExtension`).

    Examples
    --------
    >>> from blocks.extensions import FinishAfter
    >>> composite = CompositeExtension([FinishAfter(after_n_epochs=2)])
    >>> composite.responds_to("after_epoch"), composite.responds_to("after_batch")
    (True, False)
    """

    def __init__(
        self,
        sub_extensions: Iterable[TrainingExtension],
        run_before_children: bool = True,
        name: str | None = None,
        **triggers: Any,
    ) -> None:
        self.sub_extensions = list(sub_extensions)
        for ext in self.sub_extensions:
            check_extension(ext, "sub-extensions")
        self.run_before_children = bool(run_before_children)
        super().__init__(name=name, **triggers)

    @property
    def main_loop(self) -> MainLoop:
        return TrainingExtension.main_loop.fget(self)

    @main_loop.setter
    def main_loop(self, value: MainLoop) -> None:
        self._main_loop = value
        for ext in self.sub_extensions:
            ext.main_loop = value

    def responds_to(self, callback_name: str) -> bool:
        return super().responds_to(callback_name) or any(
            extension_responds_to(e, callback_name) for e in self.sub_extensions
        )

    def dispatch(self, callback_invoked: str, *from_main_loop: Any) -> None:
        if self.run_before_children:
            super().dispatch(callback_invoked, *from_main_loop)
        for ext in self.sub_extensions:
            if extension_responds_to(ext, callback_invoked):
                ext.dispatch(callback_invoked, *from_main_loop)
        if not self.run_before_children:
            super().dispatch(callback_invoked, *from_main_loop)

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        """The composite's own work; by default it only coordinates its children."""

    def state_dict(self) -> dict[str, Any]:
        """Its own state and its children's, keyed by :func:`state_keys` (duck-typed children have none)."""
        children = {
            key: ext.state_dict()
            for key, ext in zip(state_keys(self.sub_extensions), self.sub_extensions)
            if isinstance(ext, TrainingExtension)
        }
        return {"self": super().state_dict(), "children": children}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state.get("self", {}))
        children = state.get("children", {})
        for key, ext in zip(state_keys(self.sub_extensions), self.sub_extensions):
            if key in children and isinstance(ext, TrainingExtension):
                ext.load_state_dict(children[key])
            elif isinstance(ext, TrainingExtension):
                logger.warning("sub-extension %r of %r has no saved state: it starts afresh", key, self.name)
