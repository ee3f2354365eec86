"""The dashboard in a real browser (headless Chromium): charts drawn, right last values, live updates, screenshot.

Runs where Chromium is installed (Debian's ``chromium``; ``nox -s
dashboard_browser`` installs it and keeps the screenshot), skips otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from blocks.extensions import Checkpoint, FinishAfter
from blocks.log import SQLiteLog
from blocks.main_loop import MainLoop
from blocks_extensions import TrainingDataMonitoring
from blocks_extensions.dashboard.browser import HeadlessChromium, find_chromium

REQUIRED = "BLOCKS_REQUIRE_BROWSER"
"""Set (by ``nox -s dashboard_browser``) to fail instead of skipping when Chromium or plotly is missing."""


@pytest.fixture(autouse=True)
def _browser_available():
    missing = []
    if importlib.util.find_spec("plotly") is None:
        missing.append("plotly is not installed (the optional extra blocks-extensions[dashboard])")
    if find_chromium() is None:
        missing.append("no Chromium (apt-get install chromium, or nox -s dashboard_browser)")
    if missing:
        (pytest.fail if os.environ.get(REQUIRED) else pytest.skip)("; ".join(missing))

SCREENSHOT_DIRECTORY = "BLOCKS_DASHBOARD_SCREENSHOTS"
"""Where the screenshot is kept (set by ``nox -s dashboard_browser``; a temporary directory otherwise)."""

CELLS = """JSON.stringify(Object.fromEntries([...document.querySelectorAll('#status td[data-channel]')]
    .map((cell) => [cell.dataset.channel, cell.dataset.value])))"""
DRAWN_CURVES = """[...document.querySelectorAll('#charts .chart')].map((chart) => [chart.dataset.channel,
    [...chart.querySelectorAll('.scatterlayer .trace path.js-line')].filter((p) => (p.getAttribute('d') || '')
    .length > 4).length])"""


def last_values(path, channels):
    records = SQLiteLog.read(path).to_records()
    found = {}
    for record in records:
        for channel in channels:
            if channel in record:
                found[channel] = record[channel]
    return found


def test_charts_last_values_and_live_updates_in_chromium(setup, tmp_path):
    from blocks_extensions.dashboard import Dashboard

    s = setup(num_examples=40, batch_size=4)
    path = str(tmp_path / "log.sqlite")
    finish = FinishAfter(after_n_epochs=2)
    loop = MainLoop(
        s.algorithm(), s.stream(), model=s.model, log=SQLiteLog(path),
        extensions=[TrainingDataMonitoring([s.cost], prefix="train", after_batch=True),
                    TrainingDataMonitoring([s.cost], prefix="epoch", name="per_epoch"),
                    finish, Checkpoint(str(tmp_path / "model.tar"), every_n_epochs=1)],
    )  # fmt: skip
    loop.run()
    dashboard = Dashboard([path], port=0, poll=0.5)
    dashboard.start()
    screenshots = os.environ.get(SCREENSHOT_DIRECTORY) or str(tmp_path)
    try:
        with HeadlessChromium(width=1400, height=1000) as browser:
            browser.open(dashboard.url)
            browser.wait_for("document.body.dataset.ready === '1' && document.body.dataset.drawn !== '0'", 60)
            cells = json.loads(browser.evaluate(CELLS))
            assert set(cells) == {"train_cost", "epoch_cost"}
            assert {k: json.loads(v) for k, v in cells.items()} == last_values(path, ["train_cost", "epoch_cost"])
            assert dict(browser.evaluate(DRAWN_CURVES)) == {"train_cost": 1, "epoch_cost": 1}
            assert browser.evaluate("document.querySelector('#status tbody td:nth-child(4)').textContent") == "20"
            assert "model.tar" in browser.evaluate("document.getElementById('checkpoints').textContent")
            browser.evaluate("window.notReloaded = true")
            drawn = int(browser.evaluate("document.body.dataset.drawn"))

            finish.set_conditions(after_n_epochs=4)  # more rows, written while the page is open
            loop.run()
            expected = last_values(path, ["train_cost", "epoch_cost"])
            browser.wait_for(
                f"document.querySelector('#status tbody td:nth-child(4)').textContent === '40' && "
                f"Number(document.body.dataset.drawn) > {drawn}", 30
            )
            cells = json.loads(browser.evaluate(CELLS))
            assert {k: json.loads(v) for k, v in cells.items()} == expected
            assert browser.evaluate("window.notReloaded === true")  # updated in place, not reloaded
            points = browser.evaluate(
                "document.querySelector('#charts .chart[data-channel=\"train_cost\"] .plot').data[0].x.length"
            )
            assert points == 40
            png = browser.screenshot()
            assert png.startswith(b"\x89PNG") and len(png) > 20_000
            with open(os.path.join(screenshots, "dashboard-browser-test.png"), "wb") as file:
                file.write(png)
            assert not [line for line in browser.console if line.startswith("exception")], browser.console
    finally:
        dashboard.close()
