"""Plot: PNG plots of log channels, refreshed during training (headless)."""

from __future__ import annotations

import fnmatch
import math
import os
from typing import Any, Sequence

from blocks.extensions import CallbackName, SimpleExtension
from fuel.utils.files import make_temporary

__all__ = ["Plot"]


class Plot(SimpleExtension):
    """Draw chosen log channels against iterations into a PNG file.

    Uses matplotlib's Agg canvas directly (no pyplot, no display, the global
    backend untouched). The file is replaced atomically, so a viewer never
    sees a half-written image.

    Parameters
    ----------
    path : str
        The PNG file.
    channels : list of str, or list of lists of str
        Channels (shell-style wildcards allowed); each inner list is one
        subplot (Blocks-extras' convention).
    every_n_epochs : int, optional
        Refresh period in epochs (default 1); the plot is also drawn after
        training.
    title : str, optional
        Figure title.
    **kwargs
        Other triggers.

    Examples
    --------
    >>> plot = Plot("curves.png", [["train_cost", "valid_cost"], ["valid_error"]])
    >>> plot.channels
    [['train_cost', 'valid_cost'], ['valid_error']]
    """

    main_process_only = True  # rank 0 only in a torch.distributed run

    def __init__(
        self,
        path: str,
        channels: Sequence[str] | Sequence[Sequence[str]],
        every_n_epochs: int = 1,
        title: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("after_training", True)
        super().__init__(every_n_epochs=every_n_epochs, **kwargs)
        if not channels:
            raise ValueError("Plot needs at least one channel")
        if all(isinstance(c, str) for c in channels):
            groups = [list(channels)]
        elif all(not isinstance(c, str) and all(isinstance(n, str) for n in c) for c in channels):
            groups = [list(c) for c in channels]
        else:
            raise ValueError(f"channels must be a list of names or a list of lists of names, got {channels!r}")
        if not str(path).lower().endswith(".png"):
            raise ValueError(f"Plot writes PNG files: the path must end with .png, got {path!r}")
        self.path = str(path)
        self.channels = groups
        self.title = title

    def series(self) -> list[dict[str, tuple[list[int], list[float]]]]:
        """Per subplot, channel name → (iterations, values) of numeric entries.

        Channels come in the order of the patterns that name them, and
        alphabetically among the matches of one pattern, whatever order the
        log recorded them in (``train_cost`` before ``valid_cost`` although
        validation is monitored first, before the first epoch): the legend
        and the colours stay the same from one refresh to the next.
        """
        rows = list(self.main_loop.log.rows())
        result = []
        for group in self.channels:
            found: dict[str, tuple[list[int], list[float]]] = {}
            for time, row in rows:
                for key, value in row.items():
                    if not any(fnmatch.fnmatchcase(key, pattern) for pattern in group):
                        continue
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        continue
                    xs, ys = found.setdefault(key, ([], []))
                    xs.append(time)
                    ys.append(float(value))
            result.append({name: found[name] for name in _stable_order(group, found)})
        return result

    def figure(self) -> Any:
        """The matplotlib ``Figure`` of the current log: a subplot per group, titled and labelled."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        data = self.series()
        figure = Figure(figsize=(7, 3 * len(data)), dpi=100)
        FigureCanvasAgg(figure)
        for index, (group, found) in enumerate(zip(self.channels, data)):
            axes = figure.add_subplot(len(data), 1, index + 1)
            for name, (xs, ys) in found.items():
                finite = [(x, y) for x, y in zip(xs, ys) if math.isfinite(y)]
                axes.plot(
                    [x for x, _ in finite], [y for _, y in finite], marker="." if len(finite) < 50 else None, label=name
                )
            if found:
                axes.legend(loc="best", fontsize="small")
            else:
                axes.set_title(f"no data yet for {', '.join(group)}", fontsize="small")
            axes.set_xlabel("iterations")
            axes.set_ylabel(_quantity(list(found) or group))
            axes.grid(True, alpha=0.3)
        status = self.main_loop.status
        default = f"{os.path.splitext(os.path.basename(self.path))[0]}"
        figure.suptitle(
            f"{self.title or default} (epoch {status['epochs_done']}, iteration {status['iterations_done']})"
        )
        figure.tight_layout()
        return figure

    def render(self) -> None:
        """Draw the figure and replace the file atomically."""
        figure = self.figure()
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        handle, temporary = make_temporary(directory, prefix=".plot-", suffix=".png")
        try:
            with os.fdopen(handle, "wb") as file:
                figure.savefig(file, format="png")
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

    def do(self, which_callback: CallbackName, *args: Any) -> None:
        self.render()


def _stable_order(patterns: Sequence[str], names: Sequence[str]) -> list[str]:
    """``names`` ordered by the first pattern that matches each, then alphabetically."""
    order: list[str] = []
    for pattern in patterns:
        order += sorted(n for n in names if n not in order and fnmatch.fnmatchcase(n, pattern))
    return order


def _quantity(names: Sequence[str]) -> str:
    """A y-axis label: what the channels measure, without their ``train_``/``valid_`` prefixes."""
    quantities: list[str] = []
    for name in names:
        quantity = name.split("_", 1)[1] if "_" in name else name
        if quantity not in quantities:
            quantities.append(quantity)
    return ", ".join(quantities)
