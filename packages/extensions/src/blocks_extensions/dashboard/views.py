"""What the dashboard's JSON API returns: run summaries (status, ETA, checkpoints) and downsampled series.

Examples
--------
>>> json_safe({"a": float("nan"), "b": [1.0, float("inf")]})
{'a': 'nan', 'b': [1.0, 'inf']}
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy

from blocks_extensions.dashboard.downsample import downsample
from blocks_extensions.dashboard.store import FINISH_AFTER_STATUS, Run

__all__ = ["AXES", "axis_values", "eta", "json_safe", "run_summary", "series"]

AXES = ("iteration", "epoch", "time")
RATE_WINDOW = 300.0
"""Seconds of the latest clock readings from which the iteration rate (for the ETA) is measured."""


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as the strings ``'nan'``, ``'inf'``, ``'-inf'`` (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _epoch_ends(status: dict[str, Any]) -> list[int]:
    ends = status.get("_epoch_ends")
    if not isinstance(ends, list):
        return []
    return sorted(int(e) for e in ends if isinstance(e, int) and not isinstance(e, bool) and e >= 0)


def axis_values(run: Run, times: numpy.ndarray, axis: str) -> numpy.ndarray | None:
    """The x of each iteration on ``axis`` (``None`` when the log cannot give it).

    ``epoch``: epochs done, fractional within an epoch (interpolated between
    the recorded epoch ends; after the last one, at the last epoch's pace,
    never reaching the next integer). ``time``: the wall time in milliseconds
    since 1970 (the log's clock, interpolated).
    """
    if axis == "iteration":
        return times.astype(numpy.float64)
    if axis == "epoch":
        ends = _epoch_ends(run.status)
        if not ends:
            return None
        marks = numpy.array([0, *ends], dtype=numpy.float64)
        epochs = numpy.arange(len(marks), dtype=numpy.float64)
        x = numpy.interp(times, marks, epochs)
        after = times > marks[-1]
        if after.any():
            length = marks[-1] - marks[-2] if len(marks) > 1 and marks[-1] > marks[-2] else 0.0
            extra = (times[after] - marks[-1]) / length if length > 0 else numpy.zeros(int(after.sum()))
            x[after] = epochs[-1] + numpy.minimum(extra, 0.999)
        return x
    if axis == "time":
        clock_times, walls = run.clock()
        if not len(clock_times):
            return None
        return numpy.interp(times, clock_times, walls) * 1000.0
    raise ValueError(f"unknown axis {axis!r}: choose one of {', '.join(AXES)}")


def series(
    run: Run, name: str, axis: str = "iteration", buckets: int = 1000, low: float | None = None,
    high: float | None = None,
) -> dict[str, Any]:
    """A channel of a run, downsampled for drawing, with what could not be drawn counted.

    Returns ``{"x", "y", "count", "nonfinite", "first_nonfinite", "unavailable"}``:
    ``nonfinite`` values (NaN, infinities, values that are not numbers) are
    not drawn; ``first_nonfinite`` is the iteration of the first; ``unavailable``
    says why an axis has no values (e.g. no epoch finished yet).
    """
    times, values = run.series(name)
    result: dict[str, Any] = {"x": [], "y": [], "count": int(len(times)), "nonfinite": 0, "first_nonfinite": None,
                              "unavailable": None}
    x = axis_values(run, times, axis)
    if x is None:
        result["unavailable"] = (
            "no epoch has finished yet" if axis == "epoch" else "this log has no clock (written by an older version)"
        )
        return result
    bad = ~numpy.isfinite(values)
    if bad.any():
        result["nonfinite"] = int(bad.sum())
        result["first_nonfinite"] = int(times[numpy.argmax(bad)])
    good = ~bad
    xs, ys = downsample(x[good], values[good], buckets=buckets, low=low, high=high)
    result["x"], result["y"] = xs.tolist(), ys.tolist()
    return result


def _limits(status: dict[str, Any]) -> dict[str, int]:
    """The tightest ``after_n_epochs`` / ``after_n_batches`` of the run's ``FinishAfter`` extensions."""
    recorded = status.get(FINISH_AFTER_STATUS)
    limits: dict[str, int] = {}
    if not isinstance(recorded, dict):
        return limits
    for entry in recorded.values():
        if not isinstance(entry, dict):
            continue
        for key in ("after_n_epochs", "after_n_batches"):
            value = entry.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                limits[key] = min(limits.get(key, value), value)
    return limits


def _rate(run: Run) -> float | None:
    """Iterations per second over the latest readings of the newest segment's clock."""
    segment, _ = run.chain[-1]
    times, walls = segment.clock_times, segment.clock_walls  # read in place: O(log n), no copy
    if len(times) < 2:
        return None
    first = min(bisect.bisect_left(walls, walls[-1] - RATE_WINDOW), len(times) - 2)
    seconds, iterations = walls[-1] - walls[first], times[-1] - times[first]
    if seconds <= 0 or iterations <= 0:
        return None
    return float(iterations / seconds)


def eta(run: Run, iterations_done: int, epochs_done: int) -> tuple[float | None, str]:
    """Seconds left until ``FinishAfter`` stops the run, and how that was worked out (or why not)."""
    limits = _limits(run.status)
    if not limits:
        return None, "no FinishAfter limit recorded"
    ends = _epoch_ends(run.status)
    remaining: list[tuple[int, str]] = []
    if "after_n_batches" in limits:
        remaining.append((limits["after_n_batches"] - iterations_done, f"after_n_batches={limits['after_n_batches']}"))
    if "after_n_epochs" in limits:
        target = limits["after_n_epochs"]
        if ends:
            length = ends[-1] - (ends[-2] if len(ends) > 1 else 0)
            left = (target - epochs_done) * length - (iterations_done - ends[-1])
            remaining.append((left, f"after_n_epochs={target}, {length} iterations per epoch"))
        elif "after_n_batches" not in limits:
            return None, f"after_n_epochs={target}: known once the first epoch has finished"
    left, basis = min(remaining)
    rate = _rate(run)
    if rate is None:
        return None, f"{basis}: the pace is known after a few logged iterations"
    return max(left, 0) / rate, f"{basis}, {rate:.3g} iterations/s lately"


def _elapsed(run: Run) -> tuple[float | None, float | None]:
    """Training time summed over the history's segments (gaps between resumptions left out), last write."""
    total, last = 0.0, None
    for segment, limit in run.chain:
        times, walls = segment.clock_times, segment.clock_walls  # read in place: O(log n), no copy
        end = len(times) if limit == math.inf else bisect.bisect_left(times, limit)
        if not end:
            continue
        created = run.log.infos.get(segment.uuid, {}).get("created")
        start = min(walls[0], created) if isinstance(created, (int, float)) else walls[0]
        total += float(walls[end - 1] - start)
        last = float(walls[end - 1])
    return (total if last is not None else None), last


def _state(run: Run) -> tuple[str, str | None]:
    newest, _ = run.chain[-1]
    error = newest.channels.get("got_exception")
    if error is not None and error.times:
        text = str(error.last).strip().splitlines()
        return "failed", text[-1] if text else "an exception"
    finished = newest.channels.get("training_finished")
    if finished is not None and finished.last:
        return "finished", None
    return "in progress", None


def run_summary(run: Run) -> dict[str, Any]:
    """Everything the page shows about a run except its curves (see the module)."""
    last = run.last_values()
    newest, _ = run.chain[-1]
    status = run.status
    iterations = max(int(status.get("iterations_done") or 0), newest.last_time, 0)
    epochs = int(status.get("epochs_done") or 0)
    state, error = _state(run)
    elapsed, last_write = _elapsed(run)
    remaining, basis = (0.0, "finished") if state == "finished" else eta(run, iterations, epochs)
    channels = run.channels()
    return json_safe({
        "id": run.id,
        "log": run.log.name,
        "uuid": run.uuid,
        "label": f"{run.log.name} · {run.uuid[:8]}",
        "chain": [segment.uuid for segment, _ in run.chain],
        "created": run.log.infos.get(run.chain[0][0].uuid, {}).get("created"),
        "state": state,
        "error": error,
        "iterations_done": iterations,
        "epochs_done": epochs,
        "elapsed": elapsed,
        "last_write": last_write,
        "eta": remaining,
        "eta_basis": basis,
        "limits": _limits(status),
        "channels": channels,
        "last": {name: {"iteration": last[name][0], "value": last[name][1]} for name in channels if name in last},
        "checkpoints": run.checkpoints(),
        "axes": {
            "iteration": True,
            "epoch": bool(_epoch_ends(status)),
            "time": any(len(segment.clock_times) for segment, _ in run.chain),
        },
        "version": ".".join(str(v) for v in run.version),
    })
