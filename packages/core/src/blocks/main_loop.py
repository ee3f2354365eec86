"""The main loop: pull batches, feed the algorithm, call the extensions.

Everything but reading data and processing batches is an extension; extensions
communicate through the log. See :class:`MainLoop` for the exact order of
callbacks and the resume semantics.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import traceback
from typing import Any, Iterable

from blocks.extensions.base import (
    CALLBACK_NAMES,
    TrainingExtension,
    check_extension,
    extension_responds_to,
    state_keys,
)
from blocks.log.base import TrainingLogBase, default_status, jsonable_value
from blocks.numerics import NonFiniteError

__all__ = ["MainLoop", "NoModelError", "NonFiniteError", "TrainingFinish"]

logger = logging.getLogger(__name__)

RESUME_ENVIRONMENT_VARIABLE = "BLOCKS_RESUME_FROM"


class TrainingFinish(Exception):
    """Raised inside the main loop to stop training normally (``after_training`` runs).

    Examples
    --------
    >>> issubclass(TrainingFinish, Exception)
    True
    """


class NoModelError(AttributeError, ValueError):
    """``main_loop.model`` of a main loop built without a model.

    An ``AttributeError`` as in Blocks (so ``hasattr(main_loop, "model")`` is
    ``False``), and a ``ValueError`` as before.

    Examples
    --------
    >>> issubclass(NoModelError, AttributeError) and issubclass(NoModelError, ValueError)
    True
    """


class MainLoop:
    """Blocks' main loop on PyTorch.

    Parameters
    ----------
    algorithm : TrainingAlgorithm
        Has ``initialize()``, ``process_batch(batch)``, ``state_dict()`` and
        ``load_state_dict(state)``.
    data_stream : fuel.streams.AbstractDataStream
        Iterated epoch by epoch with ``get_epoch_iterator(as_dict=True)``.
    model : blocks.model.Model, optional
        The model being trained (checkpoints and some extensions need it).
    log : TrainingLogBase or str, optional
        The training log, or a log backend's registry name; by default a new
        log of the backend ``config.log_backend`` (``python``).
    extensions : list of TrainingExtension, optional
        Run in list order for every callback (a composite's children run at
        its position). The loop never adds extensions itself. Several
        extensions may share a name (two ``Timing()``, as in Blocks): their
        states are keyed by position (:func:`~blocks.extensions.base.state_keys`).
        Objects with a ``dispatch`` method are accepted as extensions (Blocks'
        duck typing); :meth:`run` refuses anything else.
    stop_on_nonfinite : bool, optional
        The non-finite guard (default: the ``stop_on_nonfinite``
        configuration option, ``BLOCKS_STOP_ON_NONFINITE``, on). See Notes.
        Also an attribute: setting it to ``False`` during a run turns the
        guard off from then on.

    Notes
    -----
    :meth:`run` does, like Blocks:

    1. install signal handlers (main thread only): the first SIGINT finishes
       the current epoch, a second SIGINT or a SIGTERM finishes the current
       batch; ``on_interrupt`` is dispatched at the next batch boundary
       (Blocks declared it but never dispatched it). Handlers are restored
       when ``run`` returns.
    2. unless training started already: ``before_training``, then
       ``algorithm.initialize()``;
    3. when resuming (after :meth:`resume` / :meth:`load_state_dict`, or
       when ``iterations_done > 0``): ``log.resume()``, interrupt flags
       cleared, ``on_resumption``, then ``algorithm.initialize()`` if this
       process has not done it and the saved algorithm state is loaded (a
       ``training_finish_requested`` left in the log by the previous run does
       not stop this one: ``FinishAfter`` past its count finishes it in
       ``on_resumption``);
    4. per epoch (skipped when resuming mid-epoch): a new epoch iterator,
       ``before_epoch``; per batch: ``before_batch(batch)``,
       ``algorithm.process_batch(batch)``, ``iterations_done += 1``,
       ``after_batch(batch)``; then ``epochs_done += 1``, ``after_epoch``. An
       epoch without batches is a ``ValueError``;
    5. training finishes when a log row has ``training_finish_requested``
       (checked after every batch and epoch), an interrupt asks for it, the
       stream has no more epochs, or an extension raises
       :class:`TrainingFinish`: ``training_finished`` is recorded and
       ``after_training`` runs. Any other error is recorded as
       ``got_exception``, ``on_error(exception)`` runs (errors inside it are
       logged) and the original error is re-raised; ``after_training`` does
       not run.

    If the environment variable ``BLOCKS_RESUME_FROM`` is set, :meth:`run`
    first resumes from that checkpoint (``blocks continue`` uses this).

    The non-finite guard (``stop_on_nonfinite``, on by default; Blocks had
    none) stops training with a :class:`~blocks.numerics.NonFiniteError`
    naming the iteration, the epoch and which of the cost, the gradient norm
    (when monitored) and the parameters (by name) became NaN or infinite. The
    algorithm records on the device, with no host synchronisation per batch,
    whether the cost stayed finite (:meth:`TrainingAlgorithm.track_nonfinite
    <blocks.algorithms.TrainingAlgorithm.track_nonfinite>`;
    ``GradientDescent`` supports it, steps skipped by the fp16 loss scaler do
    not count). The loop reads that record where the device is synchronised
    anyway: after every batch on which an extension with ``reads_device``
    ran (monitoring), at the end of every epoch before ``after_epoch`` (the
    parameters are checked too) and before ``after_training``; so a run
    stops within one monitoring period and its epoch's ``after_epoch``
    extensions never see the non-finite state. Under torch.distributed
    (a process group of several ranks) the ranks decide together at those
    same points (one all-reduce of one small tensor; none per batch, none
    with one process): when any rank saw a non-finite value, every rank
    raises the same error at the same batch, naming the ranks, instead of
    one rank stopping while the others wait for it in their next collective.
    ``Checkpoint`` protects the last good checkpoint on its own. Turn the
    guard off to train on through non-finite values on purpose
    (``RemoveNotFinite``). The ``CheckNumerics``
    extension of blocks-extensions is the detailed diagnosis: it checks every
    batch (one host synchronisation each) and names the first non-finite
    gradient or parameter.

    Examples
    --------
    >>> from blocks.algorithms import TrainingAlgorithm
    >>> from blocks.extensions import FinishAfter
    >>> class Count(TrainingAlgorithm):
    ...     def initialize(self):
    ...         self.seen = 0
    ...     def process_batch(self, batch):
    ...         self.seen += len(batch["x"])
    >>> class Stream:
    ...     def get_epoch_iterator(self, as_dict=False):
    ...         return iter([{"x": [1, 2]}, {"x": [3]}])
    >>> loop = MainLoop(Count(), Stream(), extensions=[FinishAfter(after_n_epochs=2)])
    >>> loop.run()
    >>> loop.status["iterations_done"], loop.status["epochs_done"], loop.algorithm.seen
    (4, 2, 6)
    """

    def __init__(
        self,
        algorithm: Any,
        data_stream: Any,
        model: Any = None,
        log: TrainingLogBase | str | None = None,
        extensions: Iterable[TrainingExtension] | None = None,
        stop_on_nonfinite: bool | None = None,
    ) -> None:
        if log is None or isinstance(log, str):
            from blocks.log import get_log

            log = get_log(log)
        elif not isinstance(log, TrainingLogBase):
            raise ValueError(f"log must be a TrainingLogBase or a log backend name, got {type(log).__name__}")
        self.algorithm = algorithm
        self.data_stream = data_stream
        self._model = model
        self.log = log
        if isinstance(extensions, (str, bytes)) or (extensions is not None and not hasattr(extensions, "__iter__")):
            raise ValueError(f"extensions must be a list of extensions, got {extensions!r}")
        # Checked when training starts (Blocks built main loops with placeholders it never ran).
        self.extensions: list[TrainingExtension] = list(extensions or [])
        self._callbacks: dict[str, list[TrainingExtension]] = {name: [] for name in CALLBACK_NAMES}
        self._epoch_iterator: Any = None
        self._algorithm_initialized = False
        self._pending_algorithm_state: Any = None
        self._resumed = False
        self.resumed_from_path: str | None = None
        # [initialization, read_data, train] seconds since this loop object was built.
        self._timers = [0.0, 0.0, 0.0]
        self._interrupt_pending = False
        self._sigints = 0
        self._batch_interrupt = False
        self._vote: Any = None  # blocks.distributed.InterruptVote under torch.distributed
        self._signal_code = 0
        self._original_handlers: dict[int, Any] = {}
        if stop_on_nonfinite is None:
            from blocks.config import config

            stop_on_nonfinite = config.stop_on_nonfinite
        self.stop_on_nonfinite = bool(stop_on_nonfinite)
        self._guard = False  # whether the algorithm records non-finite values for the guard in this run
        self._guard_since = 0  # iteration of the guard's last check
        self._guard_parameters_at = -1  # iteration of its last check of the parameters
        self._device_synced = False  # set by extensions with ``reads_device`` that ran on this batch
        self._guard_collective = False  # whether the guard's decision is taken by all ranks together

    # -- properties ---------------------------------------------------------------------------------------------
    @property
    def status(self) -> dict[str, Any]:
        """The loop's status (``log.status``): ``iterations_done``, ``epochs_done``, ``_epoch_ends``, ..."""
        return self.log.status

    @property
    def model(self) -> Any:
        """The model given to the constructor."""
        if self._model is None:
            raise NoModelError("this main loop has no model: pass model=Model(cost) to MainLoop")
        return self._model

    @property
    def times(self) -> dict[str, float]:
        """Seconds spent in ``initialization``, ``read_data`` and ``train`` (process-local totals)."""
        return dict(zip(("initialization", "read_data", "train"), self._timers))

    @property
    def iteration_state(self) -> tuple[Any, Any]:
        """``(data_stream, live epoch iterator or None)``, as in Blocks."""
        return self.data_stream, self._epoch_iterator

    def find_extension(self, name: str) -> TrainingExtension:
        """The extension called ``name`` (children of composites included).

        Raises
        ------
        ValueError
            When no extension, or more than one, has that name.
        """
        found = [ext for ext in self._all_extensions() if ext.name == name]
        if len(found) != 1:
            available = ", ".join(ext.name for ext in self._all_extensions())
            raise ValueError(
                f"{'no' if not found else 'more than one'} extension named {name!r}; extensions: {available or 'none'}"
            )
        return found[0]

    def _all_extensions(self) -> list[TrainingExtension]:
        result: list[TrainingExtension] = []
        stack = list(reversed(self.extensions))
        while stack:
            ext = stack.pop()
            result.append(ext)
            stack.extend(reversed(getattr(ext, "sub_extensions", [])))
        return result

    def refresh_callbacks(self) -> None:
        """Recompute which extensions respond to each callback (called when conditions change).

        In a multi-process run, extensions marked ``main_process_only`` (printing, progress bars,
        plots) run on rank 0 only.
        """
        extensions = self.extensions
        if any(getattr(ext, "main_process_only", False) for ext in extensions):
            from blocks.distributed import is_main_process

            if not is_main_process():
                extensions = [ext for ext in extensions if not getattr(ext, "main_process_only", False)]
        for name, listeners in self._callbacks.items():
            listeners[:] = [ext for ext in extensions if extension_responds_to(ext, name)]

    # -- running ------------------------------------------------------------------------------------------------
    def _dispatch(self, callback_name: str, *args: Any) -> None:
        for ext in self._callbacks[callback_name]:
            ext.dispatch(callback_name, *args)

    def run(self) -> None:
        """Train until an extension, an interrupt or the data stream says to stop."""
        resume_path = os.environ.get(RESUME_ENVIRONMENT_VARIABLE)
        if resume_path and not self._resumed and not self.status["training_started"]:
            logger.info("resuming from %s (%s is set)", resume_path, RESUME_ENVIRONMENT_VARIABLE)
            self.resume(resume_path)
        for ext in self.extensions:
            check_extension(ext, "MainLoop's extensions")
        state_keys(self.extensions)  # names that clash with automatic ones fail before training
        for ext in self.extensions:
            ext.main_loop = self
        self.refresh_callbacks()
        self._install_signal_handlers()
        try:
            try:
                try:
                    status = self.status
                    if not status["training_started"] and not self._resumed:
                        self._dispatch("before_training")
                        self._initialize_algorithm()
                        status["training_started"] = True
                    if self._resumed or status["iterations_done"] > 0:
                        self.log.resume()
                        status["training_started"] = True
                        status["epoch_interrupt_received"] = False
                        status["batch_interrupt_received"] = False
                        self._dispatch("on_resumption")
                        self._initialize_algorithm()
                        self._resumed = False
                    self._start_guard()
                    while self._run_epoch():
                        pass
                except TrainingFinish:
                    pass
                if self._guard and self.status["iterations_done"] != self._guard_parameters_at:
                    self._check_finite(parameters=True)
                self.log.current_row["training_finished"] = True
            except Exception as error:
                self._restore_signal_handlers(failed=True)
                self.log.current_row["got_exception"] = traceback.format_exc()
                logger.error("error during training at iteration %d: %r", self.status["iterations_done"], error)
                for ext in list(self._callbacks["on_error"]):
                    try:
                        ext.dispatch("on_error", error)
                    except Exception:
                        logger.exception("extension %r failed while handling the error", ext.name)
                self._flush_log()
                raise
            if self.log.current_row.get("training_finished", False):
                self._dispatch("after_training")
            self._flush_log()
        finally:
            self._restore_signal_handlers()
        from blocks.config import config

        if config.profile:
            logger.info("main loop times: %s", ", ".join(f"{k} {v:.3f}s" for k, v in self.times.items()))

    def _flush_log(self) -> None:
        try:
            self.log.flush()
        except Exception:
            logger.exception("could not flush the training log")

    def _initialize_algorithm(self) -> None:
        if not self._algorithm_initialized:
            start = time.perf_counter()
            self.algorithm.initialize()
            self._timers[0] += time.perf_counter() - start
            self._algorithm_initialized = True
        if self._pending_algorithm_state is not None:
            state, self._pending_algorithm_state = self._pending_algorithm_state, None
            self.algorithm.load_state_dict(state)

    def _start_guard(self) -> None:
        track = getattr(self.algorithm, "track_nonfinite", None)
        tracking = bool(track(self.stop_on_nonfinite)) if track is not None else False
        self._guard = self.stop_on_nonfinite and tracking
        self._guard_since = self.status["iterations_done"]
        self._guard_parameters_at = -1
        self._device_synced = False
        self._guard_collective = False
        if tracking:
            from blocks import distributed

            if distributed.is_distributed():  # every rank must check at the same points and decide together
                self._guard_collective = True
                on = distributed.ranks_where(self._guard)
                if on and len(on) != distributed.world_size():
                    raise ValueError(
                        f"the non-finite guard (stop_on_nonfinite) is on for rank(s) {_ranks(on)} only, of "
                        f"{distributed.world_size()}: the ranks decide together whether to stop, so give every "
                        "rank the same MainLoop(stop_on_nonfinite=...) and BLOCKS_STOP_ON_NONFINITE"
                    )

    def _note_device_read(self, extension: TrainingExtension, every_rank: bool) -> None:
        """An extension with ``reads_device`` ran after this batch: the guard may read its record for free.

        In a distributed run the guard's check is a collective, so only a
        point that every rank reaches on the same batch counts: not an
        extension that runs on rank 0 alone (``main_process_only``) nor one
        fired by a trigger the ranks did not decide together (``every_rank``
        is then false).
        """
        if self._guard_collective and (extension.main_process_only or not every_rank):
            return
        self._device_synced = True

    def _check_finite(self, parameters: bool) -> None:
        """The guard: raise :class:`NonFiniteError` when the algorithm recorded a non-finite value.

        In a distributed run every rank reads its own record and the ranks
        then decide together (one small all-reduce): all raise the same
        error at the same boundary, naming the ranks that saw the problem,
        rather than one rank stopping while the others wait for it in their
        next collective.
        """
        active = self.stop_on_nonfinite  # turned off during the run by CheckNumerics(action="finish")
        if not active and not self._guard_collective:
            return
        found = self.algorithm.nonfinite_quantities(parameters=parameters) if active else []
        status = self.status
        first, last = self._guard_since + 1, status["iterations_done"]
        self._guard_since = last
        if parameters:
            self._guard_parameters_at = last
        if self._guard_collective:
            from blocks import distributed

            if not distributed.ranks_where(bool(found)):
                return
            if not found and not parameters:  # another rank stops us: say whether our parameters are finite too
                found = self.algorithm.nonfinite_quantities(parameters=True)
            what = _describe_by_rank(distributed.all_gather_json(found))
        elif not found:
            return
        else:
            what = f"not finite: {_describe(found)}"
        epoch = status["epochs_done"] + (1 if status["epoch_started"] else 0)
        where = f"after batch {last}" if first >= last else f"after batch {last} (in one of batches {first}-{last})"
        raise NonFiniteError(
            f"training went non-finite in epoch {epoch}, {where}: {what}. Training stops "
            "here. CheckNumerics (blocks-extensions) finds the first non-finite gradient or parameter batch by "
            "batch; to train on through non-finite values (e.g. with RemoveNotFinite) pass "
            "MainLoop(stop_on_nonfinite=False) or set BLOCKS_STOP_ON_NONFINITE=false"
        )

    def _run_epoch(self) -> bool:
        status = self.status
        if status["epoch_started"] and self._epoch_iterator is None:
            logger.warning("the saved state has an epoch in progress but no epoch iterator: starting a new epoch")
            status["epoch_started"] = False
        if not status["epoch_started"]:
            try:
                self._epoch_iterator = self.data_stream.get_epoch_iterator(as_dict=True)
            except StopIteration:
                return False
            status["received_first_batch"] = False
            status["epoch_started"] = True
            self._dispatch("before_epoch")
        backend = getattr(self.algorithm, "backend", None)
        if backend is not None:  # a GPU backend overlaps the next batch's copy with this one's training
            self._epoch_iterator = backend.prefetch(self._epoch_iterator)
        self._run_batches()
        self._epoch_iterator = None
        status["epoch_started"] = False
        status["epochs_done"] += 1
        status["_epoch_ends"].append(status["iterations_done"])
        if self._guard:  # before after_epoch: monitoring and checkpoints never see a non-finite epoch
            self._check_finite(parameters=True)
        self._dispatch("after_epoch")
        self.log.flush()
        if self._interrupt_pending:
            self._handle_pending_interrupt()
        if (
            self.log.peek(status["iterations_done"], "training_finish_requested", False)
            or status["batch_interrupt_received"]
            or (status["epoch_interrupt_received"])
        ):
            raise TrainingFinish
        return True

    def _run_batches(self) -> None:
        # The per-batch path: keep it free of allocations beyond the batch itself.
        status = self.status
        peek = self.log.peek
        iterator = self._epoch_iterator
        timers = self._timers
        process_batch = self.algorithm.process_batch
        before_batch = self._callbacks["before_batch"]
        after_batch = self._callbacks["after_batch"]
        clock = time.perf_counter
        if not status["received_first_batch"]:
            start = clock()
            try:
                batch = next(iterator)
            except StopIteration:
                raise ValueError(
                    "the data stream gave an epoch with zero batches: check the dataset's size and the "
                    "iteration scheme (batch_size, num_examples)"
                ) from None
            status["received_first_batch"] = True
            timers[1] += clock() - start
        else:
            batch = None
        while True:
            if batch is None:
                start = clock()
                try:
                    batch = next(iterator)
                except StopIteration:
                    timers[1] += clock() - start
                    return
                read = clock()
                timers[1] += read - start
            else:
                read = clock()
            for ext in before_batch:
                ext.dispatch("before_batch", batch)
            process_batch(batch)
            timers[2] += clock() - read
            status["iterations_done"] += 1
            for ext in after_batch:
                ext.dispatch("after_batch", batch)
            batch = None
            if self._device_synced:  # an extension read device values: the guard's check costs no extra sync
                self._device_synced = False
                if self._guard:
                    self._check_finite(parameters=False)
            if self._vote is not None:
                self._vote_on_interrupts()
            if self._interrupt_pending:
                self._handle_pending_interrupt()
            if status["batch_interrupt_received"] or peek(
                status["iterations_done"], "training_finish_requested", False
            ):
                raise TrainingFinish

    # -- signals ------------------------------------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        from blocks import distributed

        self._original_handlers = {}
        self._interrupt_pending = False
        self._sigints = 0
        self._batch_interrupt = False
        self._signal_code = 0
        # several ranks stop on a signal together (on every rank, thread or not: the vote is a collective)
        self._vote = distributed.InterruptVote() if distributed.InterruptVote.needed() else None
        if threading.current_thread() is not threading.main_thread():
            logger.debug("not in the main thread: SIGINT/SIGTERM handlers not installed")
            return
        self._original_handlers[signal.SIGINT] = signal.signal(signal.SIGINT, self._handle_signal)
        self._original_handlers[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._handle_signal)

    def _restore_signal_handlers(self, failed: bool = False) -> None:
        vote, self._vote = self._vote, None
        if vote is not None:
            vote.close(wait=not failed)
        for signum, handler in self._original_handlers.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._original_handlers = {}

    def _handle_signal(self, signum: int, frame: Any) -> None:
        # Runs between bytecodes of the main thread: only set flags here.
        if signum == signal.SIGINT:
            self._sigints += 1
        batch = signum == signal.SIGTERM or self._sigints >= 2
        if self._vote is not None:  # the ranks decide together (see _vote_on_interrupts)
            self._signal_code = max(self._signal_code, 2 if batch else 1)
            return
        if batch:
            self._batch_interrupt = True
        self._interrupt_pending = True

    def _vote_on_interrupts(self) -> None:
        """After every batch under torch.distributed: act on the interrupt the ranks agreed on, if any."""
        agreed = self._vote.exchange(self._signal_code)
        if agreed == 2 and not self._batch_interrupt:
            self._batch_interrupt = self._interrupt_pending = True
        elif agreed == 1 and not self.status["epoch_interrupt_received"] and not self._interrupt_pending:
            self._interrupt_pending = True

    def _handle_pending_interrupt(self) -> None:
        self._interrupt_pending = False
        status = self.status
        row = self.log.current_row
        if self._batch_interrupt and not status["batch_interrupt_received"]:
            status["batch_interrupt_received"] = True
            row["batch_interrupt_received"] = True
            logger.warning("interrupt received: training stops after this batch")
        elif not self._batch_interrupt and not status["epoch_interrupt_received"]:
            status["epoch_interrupt_received"] = True
            row["epoch_interrupt_received"] = True
            logger.warning("interrupt received: training stops after this epoch (interrupt again to stop now)")
        self._dispatch("on_interrupt")

    # -- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The loop's state per design.md §6 (status, log, extensions, algorithm, data position)."""
        algorithm_state = (
            self._pending_algorithm_state if self._pending_algorithm_state is not None else self.algorithm.state_dict()
        )
        iterator = self._epoch_iterator
        return {
            "status": jsonable_value(dict(self.status), "status"),
            "log": self.log.state_dict(),
            "extensions": self._extension_states(),
            "algorithm": algorithm_state,
            "data": {
                "stream": self.data_stream.state_dict(),
                "iterator": iterator.state_dict() if iterator is not None else None,
            },
        }

    def _extension_states(self) -> dict[str, Any]:
        for ext in self.extensions:
            check_extension(ext, "MainLoop's extensions")
        return {
            key: ext.state_dict()
            for key, ext in zip(state_keys(self.extensions), self.extensions)
            if isinstance(ext, TrainingExtension)
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s result; the next :meth:`run` resumes (``on_resumption``).

        Extension states are matched by key (the name, ``name#2`` for the
        second extension of that name, ...: :func:`~blocks.extensions.base.state_keys`);
        the algorithm's state is loaded
        after ``algorithm.initialize()`` when this process has not run it yet.
        A saved live epoch iterator continues at its next batch.

        All or nothing: when a part of ``state`` cannot be taken (the log, an
        extension, the algorithm or the data stream raises), the parts already
        loaded are put back as they were before the error is raised.
        """
        if not isinstance(state, dict):
            raise ValueError(f"main loop state must be a dict, got {type(state).__name__}")
        missing = {"status", "log", "extensions", "algorithm", "data"} - set(state)
        if missing:
            raise ValueError(
                f"main loop state lacks {sorted(missing)}; expected status, log, extensions, algorithm, data"
            )
        undo = self._undo_point()
        try:
            self._load_state(state)
        except Exception:
            try:
                undo()
            except Exception:
                logger.exception("could not put the main loop back after a failed load: rebuild it before using it")
            raise

    def _undo_point(self) -> Any:
        """A function that puts the loop's state (log, extensions, algorithm, data position) back as it is now."""
        log = _copy_state(self.log.state_dict())
        extensions = {ext.name: _copy_state(ext.state_dict()) for ext in self.extensions}
        algorithm = _copy_state(self.algorithm.state_dict()) if self._algorithm_initialized else None
        stream = _copy_state(self.data_stream.state_dict()) if hasattr(self.data_stream, "state_dict") else None
        attributes = (self._pending_algorithm_state, self._epoch_iterator, self._resumed)
        epoch_started = self.status["epoch_started"]

        def undo() -> None:
            self.log.load_state_dict(log)
            for ext in self.extensions:
                ext.load_state_dict(extensions[ext.name])
            if algorithm is not None:
                self.algorithm.load_state_dict(algorithm)
            if stream is not None:
                self.data_stream.load_state_dict(stream)
            self._pending_algorithm_state, self._epoch_iterator, self._resumed = attributes
            self.status["epoch_started"] = epoch_started

        return undo

    def _load_state(self, state: dict[str, Any]) -> None:
        self.log.load_state_dict(state["log"])
        status = {**default_status(), **state["status"]}
        status["_epoch_ends"] = list(status["_epoch_ends"])
        self.log.status.update(status)
        by_name = {key: ext for key, ext in zip(state_keys(self.extensions), self.extensions)
                   if isinstance(ext, TrainingExtension)}
        saved = state["extensions"]
        for name, ext_state in saved.items():
            if name in by_name:
                by_name[name].load_state_dict(ext_state)
            else:
                logger.warning("the saved state has extension %r, which this main loop does not have", name)
        for name in by_name.keys() - saved.keys():
            logger.warning("extension %r has no saved state: it starts afresh", name)
        if self._algorithm_initialized:
            self.algorithm.load_state_dict(state["algorithm"])
        else:
            self._pending_algorithm_state = state["algorithm"]
        data = state["data"]
        self.data_stream.load_state_dict(data["stream"])
        if data.get("iterator") is not None:
            iterator = self.data_stream.get_epoch_iterator(as_dict=True)
            iterator.load_state_dict(data["iterator"])
            self._epoch_iterator = iterator
            self.status["epoch_started"] = True
        else:
            self._epoch_iterator = None
            self.status["epoch_started"] = False
        self._resumed = True

    def resume(self, path: str, *, cast_dtypes: bool = False) -> None:
        """Load the checkpoint at ``path`` (``blocks.serialization``) and continue from it in :meth:`run`.

        Parameters of another dtype than the model's are an error unless
        ``cast_dtypes=True`` (see :func:`blocks.serialization.load_main_loop_state`).
        """
        from blocks.serialization import load_main_loop_state

        load_main_loop_state(self, path, cast_dtypes=cast_dtypes)
        self._resumed = True
        self.resumed_from_path = str(path)


def _copy_state(value: Any) -> Any:
    """A copy of a state dict that later in-place changes to the live objects cannot reach (tensors cloned)."""
    if isinstance(value, dict):
        return {k: _copy_state(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_state(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy_state(v) for v in value)
    if callable(getattr(value, "detach", None)) and callable(getattr(value, "clone", None)):  # torch.Tensor
        return value.detach().clone()
    if type(value).__module__ == "numpy" and callable(getattr(value, "copy", None)):
        return value.copy()
    return value


def _ranks(ranks: list[int]) -> str:
    return ", ".join(map(str, ranks))


def _describe(found: list[str]) -> str:
    """``"cost; gradient norm; parameters /a, /b"`` from :meth:`TrainingAlgorithm.nonfinite_quantities`' list."""
    names = [item.partition(" ")[2] for item in found if item.startswith("parameter ")]
    what = [item for item in found if not item.startswith("parameter ")]
    if names:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        what.append(f"parameter{'s' if len(names) > 1 else ''} {shown}")
    return "; ".join(what) if what else "all finite"


def _describe_by_rank(found_by_rank: list[list[str]]) -> str:
    """What each rank found, the same text on every rank (``found_by_rank`` is in rank order)."""
    flagged = [rank for rank, found in enumerate(found_by_rank) if found]
    parts = [f"rank {rank} [{_describe(found)}]" for rank, found in enumerate(found_by_rank)]
    return (f"not finite on rank{'s' if len(flagged) > 1 else ''} {_ranks(flagged)} of {len(found_by_rank)}: "
            f"{', '.join(parts)}; every rank stops at this batch")
