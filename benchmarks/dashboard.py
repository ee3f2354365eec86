"""How fast `blocks dashboard` shows a large log: the first view of a 1 000 000-row log (target: <= 2 s).

A log of ``--rows`` iterations (``train_cost`` at every iteration, ``valid_cost``
every 1 000, epochs of 10 000) is written once with ``SQLiteLog``. Each repeat
starts a fresh :class:`~blocks_extensions.dashboard.Dashboard` (nothing cached)
and times what the page's first view asks for: ``/api/runs`` and then
``/api/series`` of its default channels at 4 000 points. Interleaved with each
repeat, the baseline reads the same log with core's reader (``SQLiteLog.read(...)
.to_records()``, what ``blocks log`` does); the ratio first view / core read is
printed with the absolute times (median and range). Also printed: a poll when
nothing changed and a poll after 1 000 new rows (what a live page costs the
machine each second), and, with ``--browser`` where Chromium is installed, the
time to the drawn charts in headless Chromium (first paint, the page's scripts and
drawing included): warm, from opening the page once the server has read the log,
and cold, from starting the server (its read of the whole log included).

Usage: ``python benchmarks/dashboard.py [--quick] [--rows N] [--repeats N] [--browser]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
import urllib.request

from blocks.log import SQLiteLog
from blocks_extensions.dashboard import Dashboard, find_plotly

TARGET = 2.0


def write_log(path: str, rows: int) -> SQLiteLog:
    log = SQLiteLog(path, flush_every=60.0)
    ends = []
    for t in range(1, rows + 1):
        log.status["iterations_done"] = t
        log[t]["train_cost"] = 1.0 / math.sqrt(t) + 0.01 * math.sin(t)
        if t % 1000 == 0:
            log[t]["valid_cost"] = 1.0 / math.sqrt(t)
        if t % 10_000 == 0:
            ends.append(t)
    log.status["_epoch_ends"] = ends
    log.status["epochs_done"] = len(ends)
    log.status["_finish_after"] = {"FinishAfter": {"after_n_batches": 2 * rows}}
    log.flush()
    return log


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=120) as response:
        return json.load(response)


def first_view(path: str, warm: bool) -> float:
    """Seconds for /api/runs then /api/series of the default channels, from a fresh server.

    ``warm``: after the server's background read of the logs (what ``blocks dashboard`` starts before it
    prints its address); otherwise at once (the worst case: the first request waits for the whole read).
    """
    dashboard = Dashboard([path], port=0, preload=warm)
    dashboard.start()
    try:
        if warm:
            dashboard.runs()  # waits for the background read (the logs' locks), then answers from the cache
        start = time.perf_counter()
        runs = get(dashboard.url + "api/runs")["runs"]
        run = runs[0]
        channels = "&".join(f"channel={name}" for name in run["channels"][:4])
        series = get(f"{dashboard.url}api/series?run={run['id']}&{channels}&points=4000")
        elapsed = time.perf_counter() - start
        assert len(series["series"][run["id"]]["train_cost"]["x"]) <= 4000
        return elapsed
    finally:
        dashboard.close()


def core_read(path: str) -> float:
    start = time.perf_counter()
    log = SQLiteLog.read(path)
    log.to_records()
    log.close()
    return time.perf_counter() - start


def polls(path: str, log: SQLiteLog, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds of a poll when nothing changed (/api/runs), and after 1 000 new rows (/api/runs + /api/series)."""
    dashboard = Dashboard([path], port=0, preload=False)
    dashboard.start()
    idle, grown = [], []
    try:
        run = get(dashboard.url + "api/runs")["runs"][0]
        query = f"{dashboard.url}api/series?run={run['id']}&channel=train_cost&channel=valid_cost&points=4000"
        get(query)
        for _ in range(repeats):
            start = time.perf_counter()
            get(dashboard.url + "api/runs")  # the page asks for curves again only when a run's version changed
            idle.append(time.perf_counter() - start)
            first = log.status["iterations_done"] + 1
            for t in range(first, first + 1000):
                log.status["iterations_done"] = t
                log[t]["train_cost"] = 0.5
            log.flush()
            start = time.perf_counter()
            run = get(dashboard.url + "api/runs")["runs"][0]
            get(f"{dashboard.url}api/series?run={run['id']}&channel=train_cost&channel=valid_cost&points=4000")
            grown.append(time.perf_counter() - start)
    finally:
        dashboard.close()
    return idle, grown


def browser_first_paint(path: str, repeats: int, cold: bool) -> list[float]:
    """Seconds from opening the page (``cold``: from starting the server) to drawn charts, in headless Chromium.

    The browser is started before the clock (it is already open on a person's desk). Warm: the server has
    finished its background read of the log, as when a person opens the address it printed. Cold: the clock
    starts with the server, so the read of the whole log is inside the figure.
    """
    from blocks_extensions.dashboard.browser import HeadlessChromium, find_chromium

    if find_chromium() is None:
        print("--browser: no Chromium installed (apt-get install chromium); skipped")
        return []
    times = []
    for _ in range(repeats):
        with HeadlessChromium() as browser:
            start = time.perf_counter()
            dashboard = Dashboard([path], port=0)
            dashboard.start()
            try:
                if not cold:
                    dashboard.runs()  # the background read is done
                    start = time.perf_counter()
                browser.open(dashboard.url)
                browser.wait_for("document.body && document.body.dataset.drawn !== '0'", timeout=120, interval=0.02)
                times.append(time.perf_counter() - start)
            finally:
                dashboard.close()
    return times


def summary(name: str, values: list[float], unit: str = "s") -> str:
    median, low, high = statistics.median(values), min(values), max(values)
    return f"{name}: median {median:.3f} {unit} (range {low:.3f}-{high:.3f}, n={len(values)})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 20 000-row log, 2 repeats (CI smoke)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="iterations in the log (default 1 000 000)")
    parser.add_argument("--repeats", type=int, default=15, help="repeats (>= 15 for figures)")
    parser.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    args = parser.parse_args(argv)
    try:
        find_plotly()
    except ImportError as err:  # the optional extra is not installed: nothing to measure
        print(f"benchmarks/dashboard.py: skipped: {err}")
        return 0 if args.quick else 2
    rows, repeats = (20_000, 2) if args.quick else (args.rows, args.repeats)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "log.sqlite")
        start = time.perf_counter()
        log = write_log(path, rows)
        size = os.path.getsize(path) + (os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0)
        print(f"log: {rows} iterations, {size / 1e6:.0f} MB, written in {time.perf_counter() - start:.1f} s")
        views, warm, reads = [], [], []
        for _ in range(repeats):
            views.append(first_view(path, warm=False))
            reads.append(core_read(path))
            warm.append(first_view(path, warm=True))
        print(summary("first view, cold (fresh server, nothing read yet: /api/runs + /api/series)", views))
        print(summary("first view, warm (after the server's background read)", warm))
        print(summary("core reader (SQLiteLog.read().to_records())", reads))
        ratios = [v / r for v, r in zip(views, reads)]
        print(summary("ratio cold first view / core read", ratios, unit="x"))
        idle, grown = polls(path, log, repeats)
        print(summary("poll, nothing new (/api/runs)", idle))
        print(summary("poll after 1 000 new rows (/api/runs + /api/series)", grown))
        painted: dict[str, list[float]] = {}
        if args.browser:
            for kind in ("warm", "cold"):
                painted[kind] = browser_first_paint(path, repeats, cold=kind == "cold")
            if painted["warm"]:
                print(summary("first paint in Chromium, warm (navigation to drawn charts)", painted["warm"]))
                print(summary("first paint in Chromium, cold (server start to drawn charts)", painted["cold"]))
        log.close()
        if not args.quick:
            figures = [("first view, cold", views), ("first view, warm", warm)]
            figures += [(f"first paint in Chromium, {kind}", values) for kind, values in painted.items() if values]
            for name, values in figures:
                verdict = "meets" if statistics.median(values) <= TARGET else "MISSES"
                print(f"{name}: {verdict} the target of {TARGET:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
