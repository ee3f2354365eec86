"""Checkpointing extensions: :class:`Checkpoint` (save, with retention) and :class:`Load`.

A checkpoint is written by :func:`blocks.serialization.save_checkpoint`
(atomic, durable, hashed, no pickle). The main loop turns SIGINT and SIGTERM
into ``on_interrupt`` at the next batch boundary, so a cluster scheduler's
SIGTERM makes :class:`Checkpoint` save (it triggers on ``on_interrupt`` by
default) and the loop then stops.
"""

from __future__ import annotations

import logging
import os
import string
from typing import Any, Sequence

from blocks.extensions.base import CallbackName, SimpleExtension

__all__ = ["NONFINITE_SAVED_TO", "SAVED_TO", "Checkpoint", "Load"]

logger = logging.getLogger(__name__)

SAVED_TO = "saved_to"
"""Log record of the paths a :class:`Checkpoint` wrote in that iteration."""

NONFINITE_SAVED_TO = "nonfinite_saved_to"
"""Log record of the path a :class:`Checkpoint` wrote a state with non-finite parameters to."""

_FIELDS = ("iterations_done", "epochs_done")


def _rank() -> int | None:
    """This process's rank in a multi-process run, ``None`` otherwise."""
    from blocks import distributed

    return distributed.rank() if distributed.is_distributed() else None


def _template_fields(path: str) -> set[str]:
    fields = set()
    for _, field_name, _, _ in string.Formatter().parse(path):
        if field_name is not None:
            base = field_name.split(".")[0].split("[")[0]
            if base not in _FIELDS:
                raise ValueError(
                    f"checkpoint path {path!r} uses the field {{{field_name}}}; available: "
                    + ", ".join("{" + f + "}" for f in _FIELDS)
                )
            fields.add(base)
    return fields


_SAVED_ANYWAY = ("log", "model")


def _blocks_options(parameters_only: bool, save_separately: Any, save_main_loop: bool, use_cpickle: bool) -> bool:
    """``parameters_only`` after Blocks' ``save_separately``/``save_main_loop``/``use_cpickle`` (checked)."""
    if save_separately is not None:
        names = [save_separately] if isinstance(save_separately, str) else list(save_separately)
        other = [name for name in names if name not in _SAVED_ANYWAY]
        if other:
            raise ValueError(f"Checkpoint(save_separately={names!r}): a checkpoint holds the log and the model; "
                             f"{other} cannot be saved (the main loop is never pickled)")
    if not isinstance(use_cpickle, bool):
        raise ValueError(f"use_cpickle must be a bool, got {use_cpickle!r}")
    if not save_main_loop:
        return True
    return parameters_only


class Checkpoint(SimpleExtension):
    """Save the main loop (or only the model's parameters) on triggers, keeping a bounded set of files.

    Parameters
    ----------
    path : str or PathLike
        Where to write. May contain ``{iterations_done}`` and ``{epochs_done}``
        (e.g. ``"run/ckpt_{iterations_done:07d}.tar"``) to keep one file per
        save; a fixed path is replaced atomically on every save. Missing
        directories are created.
    parameters_only : bool
        Save only the model's persistent tensors (no optimizer, loop or random state).
    save_separately, save_main_loop, use_cpickle
        Blocks' options, accepted so its scripts run: every checkpoint holds
        the log and the model, so ``save_separately`` may only name
        ``"log"`` and ``"model"``; ``save_main_loop=False`` means
        ``parameters_only=True``; ``use_cpickle`` chose Blocks' pickler, and
        nothing is pickled here.
    keep_last : int, optional
        Keep this many of the most recent checkpoints in full (default: all).
        Needs a templated ``path``.
    keep_best : str, optional
        Also keep in full the checkpoint(s) with the best value of this log
        channel (read from the current log row when saving).
    keep_best_n : int
        How many best checkpoints ``keep_best`` keeps (default 1).
    best_mode : {"min", "max"}
        Whether a smaller or larger ``keep_best`` value is better.
    keep_parameters : int or None
        Full checkpoints that fall out of ``keep_last``/``keep_best`` are
        reduced to parameters-only files; this many of the most recent of
        those are kept (``None``: all of them; default ``0``: delete them).
        A separate retention for parameters-only and full checkpoints.
    on_error_path : str, optional
        With ``on_error=True``, where the state at the error is saved (default:
        ``path`` with ``.error`` before the extension), never over a good checkpoint.
    nonfinite_path : str, optional
        Where a state whose model has a NaN or infinite persistent tensor is
        saved instead of ``path`` (default: ``path`` with ``.nonfinite``
        before the extension; may be templated too). Such a state never
        replaces a checkpoint and never enters the retention series (so it
        never makes retention delete a good one); it is logged as an error
        and its path in the log record ``nonfinite_saved_to``.
    save_nonfinite : bool
        ``False``: a state with non-finite parameters is not saved at all
        (only logged). Default ``True``.
    name : str, optional
        The extension's name.
    **triggers
        :class:`~blocks.extensions.SimpleExtension` triggers, e.g.
        ``every_n_batches=1000``, ``every_n_epochs=1``, ``every_n_seconds=600``.
        Defaults: ``after_training=True`` and ``on_interrupt=True`` (SIGTERM/SIGINT).
        Extensions run in list order (Blocks): put ``Checkpoint`` after the
        monitoring it should hold and after ``FinishAfter``. When a finish was
        requested before a periodic save, that save is left to the
        ``after_training`` one, which writes the final state once; when the
        finish comes later in the same callback, the ``after_training`` save
        rewrites the file of that iteration with the final status, and the
        log lists it once.

    Examples
    --------
    >>> ckpt = Checkpoint("run/ckpt_{iterations_done}.tar", every_n_batches=500, keep_last=3,
    ...                   keep_best="valid_error", keep_parameters=10)
    >>> ckpt.responds_to("after_batch"), ckpt.responds_to("on_interrupt")
    (True, True)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        parameters_only: bool = False,
        keep_last: int | None = None,
        keep_best: str | None = None,
        keep_best_n: int = 1,
        best_mode: str = "min",
        keep_parameters: int | None = 0,
        on_error_path: str | None = None,
        nonfinite_path: str | None = None,
        save_nonfinite: bool = True,
        name: str | None = None,
        save_separately: Sequence[str] | None = None,
        save_main_loop: bool = True,
        use_cpickle: bool = False,
        **triggers: Any,
    ) -> None:
        parameters_only = _blocks_options(parameters_only, save_separately, save_main_loop, use_cpickle)
        triggers.setdefault("after_training", True)
        triggers.setdefault("on_interrupt", True)
        super().__init__(name=name, **triggers)
        self.path = os.fspath(path)
        self.templated = bool(_template_fields(self.path))
        for label, value in (("keep_last", keep_last), ("keep_parameters", keep_parameters)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{label} must be a non-negative integer or None, got {value!r}")
        if keep_last == 0:
            raise ValueError("keep_last=0 would delete every checkpoint right after writing it; use None or >= 1")
        if not isinstance(keep_best_n, int) or keep_best_n < 1:
            raise ValueError(f"keep_best_n must be a positive integer, got {keep_best_n!r}")
        if best_mode not in ("min", "max"):
            raise ValueError(f"best_mode must be 'min' or 'max', got {best_mode!r}")
        if (keep_last is not None or keep_best is not None) and not self.templated:
            raise ValueError(
                f"keep_last/keep_best need one file per save: put {{iterations_done}} or {{epochs_done}} in the path "
                f"(got {self.path!r})"
            )
        self.parameters_only = parameters_only
        self.keep_last = keep_last
        self.keep_best = keep_best
        self.keep_best_n = keep_best_n
        self.best_mode = best_mode
        self.keep_parameters = keep_parameters
        if on_error_path is None:
            root, ext = os.path.splitext(self.path)
            on_error_path = f"{root}.error{ext or '.tar'}"
        self.on_error_path = on_error_path
        if nonfinite_path is None:
            root, ext = os.path.splitext(self.path)
            nonfinite_path = f"{root}.nonfinite{ext or '.tar'}"
        self.nonfinite_path = os.fspath(nonfinite_path)
        _template_fields(self.nonfinite_path)
        if self.nonfinite_path == self.path:
            raise ValueError("nonfinite_path must differ from path: a non-finite state never replaces a checkpoint")
        self.save_nonfinite = bool(save_nonfinite)
        self.saved: list[dict[str, Any]] = []
        self._interrupt_saved_at: int | None = None  # a SIGTERM's grace period is short: do not save twice

    # -- saving -------------------------------------------------------------------------------------------------
    def _format(self, path: str) -> str:
        status = self.main_loop.status
        return path.format(**{f: status[f] for f in _FIELDS})

    def _score(self) -> float | None:
        if self.keep_best is None:
            return None
        value = self.main_loop.log.current_row.get(self.keep_best)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"Checkpoint(keep_best={self.keep_best!r}): the log value {value!r} is not a number"
            ) from None

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        """Save a checkpoint (and apply the retention policy)."""
        from blocks.serialization import save_checkpoint

        status = self.main_loop.status
        if which_callback == "on_error":
            path = self._format(self.on_error_path)
            rank = _rank()
            if rank is not None:  # only this rank may have failed: no collective, one file per rank
                root, ext = os.path.splitext(path)
                path = f"{root}.rank{rank}{ext}"
            logger.warning("training failed: saving the state at the error to %s", path)
            save_checkpoint(path, self.main_loop, parameters_only=self.parameters_only, collective=False)
            return
        iteration = status["iterations_done"]
        _, from_user = self.parse_args(which_callback, args)
        if from_user:  # Blocks: a path given with the condition (EarlyStopping's best model) overrides ``path``
            if self._nonfinite_saved(which_callback, iteration, os.fspath(from_user[0])):
                return
            path = self._format(os.fspath(from_user[0]))
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            save_checkpoint(path, self.main_loop, parameters_only=self.parameters_only)
            row = self.main_loop.log.current_row
            row[SAVED_TO] = [*(row.get(SAVED_TO) or []), path]
            logger.info("checkpoint saved to %s (outside the retention series)", path)
            return
        if which_callback == "after_training" and self._interrupt_saved_at == iteration:
            logger.debug("checkpoint of the interrupt at iteration %d already written", iteration)
            return
        if (
            which_callback not in ("after_training", "on_interrupt")
            and self.main_loop.log.current_row.get("training_finish_requested")
            and self.responds_to("after_training")
        ):  # the run ends after this callback: the after_training save writes this state, once
            logger.debug("training finishes at iteration %d: the final checkpoint follows", iteration)
            return
        if self._nonfinite_saved(which_callback, iteration, self.path):
            return
        path = self._format(self.path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        rewrite = which_callback == "after_training" and any(
            r["path"] == path and r["iterations_done"] == iteration for r in self.saved
        )  # the same file, now with the final status: listed once in the log
        record = {"path": path, "iterations_done": iteration, "epochs_done": status["epochs_done"],
                  "kind": "parameters" if self.parameters_only else "full", "score": self._score()}
        previous_records = [dict(r) for r in self.saved]
        kept, actions = self._retain([r for r in self.saved if r["path"] != path] + [record])
        row = self.main_loop.log.current_row
        previous_row_value = row.get(SAVED_TO)
        if not (rewrite and path in (previous_row_value or [])):
            row[SAVED_TO] = [*(previous_row_value or []), path]
        self.saved = kept
        try:
            save_checkpoint(path, self.main_loop, parameters_only=self.parameters_only)
        except BaseException:
            self.saved = previous_records
            if previous_row_value is None:
                row.pop(SAVED_TO, None)
            else:
                row[SAVED_TO] = previous_row_value
            logger.exception("could not save the checkpoint %s", path)
            raise
        if which_callback == "on_interrupt":
            self._interrupt_saved_at = iteration
        if rewrite:
            logger.debug("checkpoint %s rewritten with the final status", path)
        else:
            logger.info("checkpoint saved to %s", path)
        self._apply(actions)

    def _nonfinite_saved(self, which_callback: str, iteration: int, path: str) -> bool:
        """Whether the model has non-finite tensors; if so, save the state beside ``path`` (or nowhere)."""
        from blocks.numerics import nonfinite_names
        from blocks.serialization import persistent_tensors, save_checkpoint

        try:
            model = self.main_loop.model
        except ValueError:
            model = None
        if model is None:
            return False  # no model: the checkpoint holds no parameters to check
        bad = nonfinite_names(persistent_tensors(model))
        if not bad:
            return False
        if which_callback == "on_interrupt":
            self._interrupt_saved_at = iteration
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        target = self._format(self.nonfinite_path) if self.save_nonfinite else None
        logger.error(
            "not saving a checkpoint to %s at iteration %d: the model's %s %s not finite (NaN or inf); "
            "the checkpoint already there, if any, is kept; %s",
            self._format(path), iteration, shown, "are" if len(bad) > 1 else "is",
            f"this state is saved to {target} instead" if target else "this state is not saved (save_nonfinite=False)",
        )
        if target is not None:
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
            save_checkpoint(target, self.main_loop, parameters_only=self.parameters_only)
            self.main_loop.log.current_row[NONFINITE_SAVED_TO] = target
        return True

    # -- retention ----------------------------------------------------------------------------------------------
    def _retain(self, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        """Split ``records`` (oldest first) into what is kept and the file actions (delete / convert)."""
        if self.keep_last is None and self.keep_best is None:
            return records, []
        kind = "parameters" if self.parameters_only else "full"
        primary = [r for r in records if r["kind"] == kind]
        keep = primary[-self.keep_last:] if self.keep_last is not None else list(primary)
        if self.keep_best is not None:
            scored = [r for r in primary if r.get("score") is not None and r["score"] == r["score"]]
            scored.sort(key=lambda r: r["score"], reverse=self.best_mode == "max")
            keep += [r for r in scored[: self.keep_best_n] if r not in keep]
        actions: list[tuple[str, str]] = []
        kept = list(keep)
        dropped = [r for r in primary if r not in keep]
        if self.parameters_only:
            actions += [("delete", r["path"]) for r in dropped]
        else:
            pool = sorted([r for r in records if r["kind"] == "parameters"] + dropped,
                          key=lambda r: r["iterations_done"])
            limit = len(pool) if self.keep_parameters is None else self.keep_parameters
            survivors = pool[len(pool) - limit:] if limit else []
            for r in pool:
                if any(r is s for s in survivors):
                    if r["kind"] == "full":
                        actions.append(("convert", r["path"]))
                    kept.append({**r, "kind": "parameters"})
                else:
                    actions.append(("delete", r["path"]))
        kept.sort(key=lambda r: r["iterations_done"])
        return kept, actions

    def _apply(self, actions: list[tuple[str, str]]) -> None:
        from blocks.serialization import CheckpointError, convert_to_parameters_only

        if _rank() not in (None, 0):
            return  # rank 0 owns the files

        for action, path in actions:
            try:
                if action == "delete":
                    os.unlink(path)
                    logger.info("retention: deleted %s", path)
                else:
                    convert_to_parameters_only(path)
                    logger.info("retention: reduced %s to parameters only", path)
            except FileNotFoundError:
                logger.debug("retention: %s is already gone", path)
            except (OSError, CheckpointError) as err:
                logger.warning("retention: could not %s %s (%s)", action, path, err)

    # -- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Trigger counters and the checkpoints this extension keeps (path, iteration, kind, score)."""
        return {**super().state_dict(), "saved": [dict(r) for r in self.saved]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.saved = [dict(r) for r in state.get("saved", [])]


class Load(SimpleExtension):
    """Load a checkpoint into the main loop before training (Blocks' ``Load``).

    Parameters
    ----------
    path : str or PathLike
        The checkpoint. When it does not exist, a warning is logged and training starts afresh.
    load_iteration_state : bool
        Also restore where training was: counters, data position, step-rule
        and extension states, random states.
    load_log : bool
        Also restore the training log.
    cast_dtypes : bool
        Convert saved parameters of another dtype to the model's (e.g. float32
        weights into a float64 model); by default another dtype is an error.
    **kwargs
        Triggers (default ``before_training=True``) and ``name``.

    Examples
    --------
    >>> load = Load("run/ckpt.tar", load_iteration_state=True, load_log=True)
    >>> load.responds_to("before_training")
    True
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        load_iteration_state: bool = False,
        load_log: bool = False,
        *,
        cast_dtypes: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("before_training", True)
        super().__init__(**kwargs)
        self.path = os.fspath(path)
        self.load_iteration_state = load_iteration_state
        self.load_log = load_log
        self.cast_dtypes = cast_dtypes

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        """Load the checkpoint (parameters always, the rest as asked)."""
        from blocks.serialization import load_main_loop_state

        if not os.path.exists(self.path):
            logger.warning("no checkpoint at %s: training starts from scratch", self.path)
            return
        load_main_loop_state(
            self.main_loop, self.path, load_iteration_state=self.load_iteration_state, load_log=self.load_log,
            cast_dtypes=self.cast_dtypes,
        )
        logger.info("loaded %s", self.path)
