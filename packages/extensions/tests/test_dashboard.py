"""`blocks dashboard`: the JSON API, the page and its assets, live updates, resumed runs, and the safety rules."""

from __future__ import annotations

import gzip
import http.client
import importlib.util
import json
import math
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

from blocks.log import SQLiteLog

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("plotly") is None,
    reason="plotly is not installed (the optional extra blocks-extensions[dashboard], which serves plotly.js)",
)


def write_rows(log: SQLiteLog, rows: dict[int, dict], epoch_ends=()) -> SQLiteLog:
    for time_, row in rows.items():
        log.status["iterations_done"] = time_
        for key, value in row.items():
            log[time_][key] = value
    log.status["_epoch_ends"] = list(epoch_ends)
    log.status["epochs_done"] = len(epoch_ends)
    log.flush()
    return log


class Client:
    """Requests to a dashboard on 127.0.0.1 (with its token, unless told otherwise)."""

    def __init__(self, dashboard):
        self.dashboard = dashboard

    def get(self, path, params=(), token=True, headers=None, method="GET"):
        params = list(params)
        if token and self.dashboard.token:
            params.append(("token", self.dashboard.token))
        query = urllib.parse.urlencode(params)
        connection = http.client.HTTPConnection("127.0.0.1", self.dashboard.port, timeout=30)
        try:
            connection.request(method, path + ("?" + query if query else ""), headers=headers or {})
            response = connection.getresponse()
            body = response.read()
            if response.getheader("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return response.status, dict(response.getheaders()), body
        finally:
            connection.close()

    def json(self, path, params=(), expect=200, **kwargs):
        status, headers, body = self.get(path, params, **kwargs)
        assert status == expect, body[:500]
        assert headers["Content-Type"] == "application/json"
        return json.loads(body)

    def runs(self):
        return self.json("/api/runs")

    def series(self, run_id, *channels, **params):
        query = [("run", run_id), *[("channel", c) for c in channels], *params.items()]
        return self.json("/api/series", query)["series"][run_id]


@pytest.fixture(params=["row by row", "bulk"])
def reader(request, monkeypatch):
    """Both ways the dashboard reads a log: row by row (small increments) and in bulk (NumPy, large reads)."""
    from blocks_extensions.dashboard import store

    if request.param == "bulk":
        monkeypatch.setattr(store, "BULK_ROWS", 0)
    return request.param


@pytest.fixture
def serve():
    from blocks_extensions.dashboard import Dashboard

    started = []

    def start(paths, **kwargs):
        kwargs.setdefault("port", 0)
        dashboard = Dashboard([str(p) for p in paths], **kwargs)
        dashboard.start()
        started.append(dashboard)
        return Client(dashboard)

    yield start
    for dashboard in started:
        dashboard.close()


# -- the API ------------------------------------------------------------------------------------------------------
def test_runs_report_channels_last_values_status_and_checkpoints(reader, tmp_path, serve):
    path = tmp_path / "log.sqlite"
    checkpoint = tmp_path / "model.tar"
    checkpoint.write_bytes(b"x")
    rows = {t: {"cost": 1.0 / (t + 1)} for t in range(1, 21)}
    rows[10]["valid_error"] = 0.5
    rows[20]["valid_error"] = 0.25
    rows[10]["saved_to"] = [str(checkpoint)]
    rows[20]["saved_to"] = [str(tmp_path / "gone.tar")]
    rows[20]["timestamp"] = "2026-01-01 00:00:00"
    log = write_rows(SQLiteLog(str(path)), rows, epoch_ends=[10, 20])
    client = serve([path])
    answer = client.runs()
    assert [entry["error"] for entry in answer["logs"]] == [None]
    (run,) = answer["runs"]
    assert run["uuid"] == log.uuid and run["state"] == "in progress" and run["error"] is None
    assert run["iterations_done"] == 20 and run["epochs_done"] == 2
    assert run["channels"] == ["cost", "valid_error"]  # numbers only: not saved_to, not the timestamp
    assert run["last"]["cost"] == {"iteration": 20, "value": 1.0 / 21}
    assert run["last"]["valid_error"] == {"iteration": 20, "value": 0.25}
    assert run["checkpoints"] == [
        {"iteration": 10, "path": str(checkpoint), "nonfinite": False, "exists": True},
        {"iteration": 20, "path": str(tmp_path / "gone.tar"), "nonfinite": False, "exists": False},
    ]
    assert run["axes"] == {"iteration": True, "epoch": True, "time": True}
    curve = client.series(run["id"], "cost")["cost"]
    assert curve["x"] == list(range(1, 21)) and curve["y"] == [1.0 / (t + 1) for t in range(1, 21)]
    epochs = client.series(run["id"], "valid_error", axis="epoch")["valid_error"]
    assert epochs["x"] == [1.0, 2.0] and epochs["y"] == [0.5, 0.25]
    wall = client.series(run["id"], "cost", axis="time")["cost"]
    assert len(wall["x"]) == 20 and wall["x"] == sorted(wall["x"]) and abs(wall["x"][-1] / 1000 - time.time()) < 600


def test_series_are_downsampled_on_the_server_keeping_extremes_and_counting_nonfinite(reader, tmp_path, serve):
    path = tmp_path / "log.sqlite"
    rows = {t: {"cost": math.sin(t / 50)} for t in range(5000)}
    rows[1234]["cost"] = 50.0
    rows[4321]["cost"] = -50.0
    rows[3000]["cost"] = float("nan")
    rows[3001]["cost"] = float("inf")
    write_rows(SQLiteLog(str(path)), rows)
    client = serve([path])
    (run,) = client.runs()["runs"]
    curve = client.series(run["id"], "cost", points=400)["cost"]
    assert len(curve["x"]) <= 400 and curve["count"] == 5000
    assert 50.0 in curve["y"] and -50.0 in curve["y"] and curve["x"][0] == 0 and curve["x"][-1] == 4999
    assert curve["nonfinite"] == 2 and curve["first_nonfinite"] == 3000
    zoomed = client.series(run["id"], "cost", points=400, low=1000, high=1100)["cost"]
    assert zoomed["x"] == list(range(999, 1102))  # every point of a narrow range, one beyond each edge


def test_a_resumed_run_is_one_curve_that_matches_the_core_reader(reader, tmp_path, serve):
    path = str(tmp_path / "log.sqlite")
    first = write_rows(SQLiteLog(path), {t: {"cost": float(t)} for t in range(10)})
    first.status["iterations_done"] = 5  # resumed from a checkpoint taken at iteration 5: 5..9 are replaced
    state = first.state_dict()
    first.close()
    second = SQLiteLog(path)
    second.load_state_dict(state)
    second.resume()
    write_rows(second, {t: {"cost": 100.0 + t} for t in range(5, 12)})
    second.close()
    client = serve([path])
    (run,) = client.runs()["runs"]
    assert run["chain"] == [first.uuid, second.uuid] and run["uuid"] == second.uuid
    curve = client.series(run["id"], "cost")["cost"]
    reference = SQLiteLog.read(path).to_records()
    assert curve["x"] == [r["iteration"] for r in reference] == list(range(12))
    assert curve["y"] == [r["cost"] for r in reference] == [0.0, 1.0, 2.0, 3.0, 4.0] + [100.0 + t for t in range(5, 12)]
    assert run["last"]["cost"] == {"iteration": 11, "value": 111.0}


def test_rows_a_resumed_run_rewrites_are_drawn_once_with_the_newest_value(reader, tmp_path, serve):
    path = str(tmp_path / "log.sqlite")
    log = write_rows(SQLiteLog(path), {t: {"cost": float(t)} for t in range(11)})
    log.resume()  # as MainLoop.run does when it continues: the rows in memory (9, 10) are written again
    log[9]["cost"] = 90.0
    write_rows(log, {t: {"cost": float(t)} for t in range(11, 14)})
    client = serve([path])
    (run,) = client.runs()["runs"]
    curve = client.series(run["id"], "cost")["cost"]
    reference = SQLiteLog.read(path).to_records()
    assert curve["x"] == [r["iteration"] for r in reference] == list(range(14))
    assert curve["y"] == [r["cost"] for r in reference] and curve["y"][9] == 90.0


def test_live_updates_appear_through_the_api_including_rewrites(reader, tmp_path, serve, monkeypatch):
    from blocks_extensions.dashboard import store

    monkeypatch.setattr(store, "REFRESH_EVERY", 0.0)
    monkeypatch.setattr(store, "VERIFY_EVERY", 0.0)
    path = str(tmp_path / "log.sqlite")
    log = write_rows(SQLiteLog(path), {t: {"cost": float(t)} for t in range(5)})
    client = serve([path])
    (run,) = client.runs()["runs"]
    version = run["version"]
    write_rows(log, {t: {"cost": float(t), "new": -1.0} for t in range(5, 8)})
    (run,) = client.runs()["runs"]
    assert run["version"] != version and run["last"]["cost"]["value"] == 7.0 and "new" in run["channels"]
    log[7]["cost"] = 70.0  # the current row rewritten
    log.flush()
    (run,) = client.runs()["runs"]
    assert run["last"]["cost"] == {"iteration": 7, "value": 70.0}
    log[2]["cost"] = 20.0  # an old row rewritten in place: found by the periodic check
    log.flush()
    client.runs()
    assert client.series(run["id"], "cost")["cost"]["y"] == [0.0, 1.0, 20.0, 3.0, 4.0, 5.0, 6.0, 70.0]
    unchanged = client.runs()["runs"][0]["version"]
    assert client.runs()["runs"][0]["version"] == unchanged  # nothing new: the page does not redraw


def test_status_shows_eta_from_finish_after_and_failures(reader, tmp_path, serve):
    path = str(tmp_path / "log.sqlite")
    log = write_rows(SQLiteLog(path), {t: {"cost": 1.0} for t in range(1, 11)})
    log.status["_finish_after"] = {"FinishAfter": {"after_n_batches": 110}}
    log.flush()
    connection = sqlite3.connect(path)  # a clock at exactly 2 iterations per second
    with connection:
        connection.execute("DELETE FROM clock")
        connection.executemany(
            "INSERT INTO clock VALUES (?, ?, ?)", [(log.uuid, t, 1_000_000.0 + t / 2) for t in range(1, 11)]
        )
    connection.close()
    client = serve([path])
    (run,) = client.runs()["runs"]
    assert run["limits"] == {"after_n_batches": 110}
    assert run["eta"] == pytest.approx(50.0) and "after_n_batches=110" in run["eta_basis"]
    assert run["elapsed"] == pytest.approx(4.5, abs=1e-6) or run["elapsed"] >= 4.5
    log[10]["got_exception"] = "Traceback (most recent call last):\n  ...\nRuntimeError: out of memory"
    log.flush()
    (run,) = serve([path]).runs()["runs"]
    assert run["state"] == "failed" and run["error"] == "RuntimeError: out of memory"


def test_directories_are_searched_and_new_logs_found(tmp_path, serve, monkeypatch):
    from blocks_extensions.dashboard import server

    monkeypatch.setattr(server, "SCAN_EVERY", 0.0)
    (tmp_path / "a").mkdir()
    write_rows(SQLiteLog(str(tmp_path / "a" / "log.sqlite")), {1: {"cost": 1.0}}).close()
    (tmp_path / "notes.db").write_text("not a database")
    client = serve([tmp_path])
    assert [log["name"] for log in client.runs()["logs"]] == [os.path.join("a", "log.sqlite")]
    write_rows(SQLiteLog(str(tmp_path / "b.sqlite")), {1: {"cost": 2.0}}).close()
    answer = client.runs()
    assert len(answer["logs"]) == 2 and sorted(r["last"]["cost"]["value"] for r in answer["runs"]) == [1.0, 2.0]


# -- the page and its assets ----------------------------------------------------------------------------------------
def test_page_and_assets_are_served_from_the_installed_packages(tmp_path, serve):
    from blocks_extensions.dashboard import find_plotly

    path = tmp_path / "log.sqlite"
    write_rows(SQLiteLog(str(path)), {1: {"cost": 1.0}}).close()
    client = serve([path])
    status, headers, page = client.get("/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'src="static/plotly.min.js?' in page and b'src="static/dashboard.js?' in page
    assert b"http" not in page.replace(b'http-equiv', b"")  # nothing from another server
    assert "script-src 'self'" in headers["Content-Security-Policy"] and headers["X-Content-Type-Options"] == "nosniff"
    with open(find_plotly()[0], "rb") as file:
        plotly = file.read()
    status, headers, body = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and body == plotly
    assert client.get("/static/plotly.min.js")[2] == plotly
    for name in ("dashboard.js", "dashboard.css"):
        status, headers, body = client.get(f"/static/{name}")
        assert status == 200 and len(body) > 1000 and b"https://" not in body
    assert client.get("/static/dashboard.js", method="HEAD")[2] == b""


# -- safety ---------------------------------------------------------------------------------------------------------
def test_loopback_by_default_token_elsewhere(tmp_path):
    from blocks_extensions.dashboard import Dashboard

    dashboard = Dashboard([str(tmp_path)], port=0)
    assert dashboard.host == "127.0.0.1" and dashboard.token is None
    remote = Dashboard([str(tmp_path)], host="0.0.0.0", port=0)  # not bound: only its settings are checked
    assert remote.token and len(remote.token) >= 20 and f"?token={remote.token}" in remote.url
    assert Dashboard([str(tmp_path)], host="0.0.0.0", token="chosen-token").token == "chosen-token"
    with pytest.raises(ValueError, match="token"):
        Dashboard([str(tmp_path)], token="short")


def test_token_is_required_when_set(tmp_path, serve):
    write_rows(SQLiteLog(str(tmp_path / "log.sqlite")), {1: {"cost": 1.0}}).close()
    client = serve([tmp_path / "log.sqlite"], token="a-secret-token")
    assert client.get("/api/runs")[0] == 200 and client.get("/")[0] == 200
    for path in ("/", "/api/runs", "/static/plotly.min.js"):
        assert client.get(path, token=False)[0] == 403
        assert client.get(path, [("token", "a-secret-tokeN")], token=False)[0] == 403
    assert client.get("/api/runs", token=False, headers={"X-Blocks-Token": "a-secret-token"})[0] == 200
    assert b"a-secret-token" in client.get("/")[2]  # the page passes it on to its requests


def test_requests_for_other_hosts_are_refused_without_a_token(tmp_path, serve):
    write_rows(SQLiteLog(str(tmp_path / "log.sqlite")), {1: {"cost": 1.0}}).close()
    client = serve([tmp_path / "log.sqlite"])
    assert client.get("/api/runs", headers={"Host": "localhost:1234"})[0] == 200
    status, _, body = client.get("/api/runs", headers={"Host": "attacker.example:6007"})
    assert status == 403 and "localhost" in json.loads(body)["error"]


def test_read_only_and_only_the_given_files(tmp_path, serve):
    path = tmp_path / "log.sqlite"
    write_rows(SQLiteLog(str(path)), {1: {"cost": 1.0}}).close()
    before = path.read_bytes()
    client = serve([path])
    client.runs()
    for method in ("POST", "PUT", "DELETE"):
        status, _, body = client.get("/api/runs", method=method)
        assert status == 405 and b"read-only" in body
    for bad in ("/static/../server.py", "/static/%2e%2e/store.py", "/static/index.html/../../x", "/etc/passwd",
                "/static/", "/api/"):
        assert client.get(bad)[0] == 404, bad
    assert path.read_bytes() == before
    # a WAL reader may leave an empty -wal (and the -shm index) beside the file: nothing is written into them
    assert not os.path.exists(str(path) + "-wal") or os.path.getsize(str(path) + "-wal") == 0


def test_bad_requests_get_clear_json_errors(tmp_path, serve):
    write_rows(SQLiteLog(str(tmp_path / "log.sqlite")), {1: {"cost": 1.0}}).close()
    client = serve([tmp_path / "log.sqlite"])
    (run,) = client.runs()["runs"]
    cases = [
        ([], 400, "run=ID"),
        ([("run", "9:nope"), ("channel", "cost")], 404, "no run"),
        ([("run", run["id"]), ("channel", "cost"), ("axis", "banana")], 400, "axis"),
        ([("run", run["id"]), ("channel", "cost"), ("points", "many")], 400, "points"),
        ([("run", run["id"]), ("channel", "cost"), ("points", "0")], 400, "points"),
        ([("run", run["id"]), ("channel", "cost"), ("low", "nan")], 400, "finite"),
    ]
    for params, status, words in cases:
        answer = client.json("/api/series", params, expect=status)
        assert words in answer["error"] and "Traceback" not in answer["error"]
    assert client.series(run["id"], "missing") == {"missing": None}


def test_bad_paths_are_refused_at_start(tmp_path):
    from blocks_extensions.dashboard import Dashboard

    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="no file or directory"):
        Dashboard([str(tmp_path / "missing.sqlite")])
    with pytest.raises(ValueError, match="not an SQLite database"):
        Dashboard([str(tmp_path / "notes.txt")])
    with pytest.raises(ValueError, match="port"):
        Dashboard([str(tmp_path)], port=70000)


@pytest.mark.parametrize("damage", ["garbage", "foreign", "bad_json", "vanished"])
def test_damaged_logs_are_reported_not_raised(reader, tmp_path, serve, damage):
    path = tmp_path / "log.sqlite"
    write_rows(SQLiteLog(str(path)), {1: {"cost": 1.0}, 2: {"cost": 2.0}}).close()
    client = serve([path])
    assert client.runs()["runs"]
    if damage == "garbage":
        data = bytearray(path.read_bytes())
        data[100:] = os.urandom(len(data) - 100)
        path.write_bytes(bytes(data))
    elif damage == "foreign":
        path.unlink()
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE other (x)")
        connection.close()
    elif damage == "bad_json":
        connection = sqlite3.connect(path)
        with connection:
            connection.execute("UPDATE entries SET value = '{broken', is_json = 1 WHERE time = 2")
        connection.close()
    else:
        path.unlink()
    for _ in range(2):
        answer = serve([tmp_path]).runs() if damage == "vanished" else client.runs()
    if damage == "vanished":
        assert answer["logs"] == [] and answer["runs"] == []
        answer = client.runs()
    (log,) = answer["logs"]
    assert answer["runs"] == [] and log["error"] and str(path.name) in log["error"]
    assert "Traceback" not in log["error"]
    page_status = client.get("/")[0]
    assert page_status == 200


# -- the WAL stays bounded ----------------------------------------------------------------------------------------
def _wal_growth(path: str, reader) -> int:
    """The largest -wal size while a writer commits 5 MB of rows in 250 transactions and ``reader()`` runs."""
    log = SQLiteLog(path, flush_every=0.0)
    log.current_row["cost"] = 0.0
    log.flush()
    done = threading.Event()
    largest = [0]

    def write():
        payload = "x" * 1000
        for t in range(1, 5_001):
            log.status["iterations_done"] = t
            log[t]["text"] = payload
            if t % 20 == 0:
                log.flush()
            if t % 100 == 0:
                largest[0] = max(largest[0], os.path.getsize(path + "-wal"))
        log.close()
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    reader(done)
    writer.join()
    return largest[0]


def test_wal_stays_bounded_while_a_dashboard_polls(tmp_path, serve):
    path = str(tmp_path / "log.sqlite")
    write_rows(SQLiteLog(path), {0: {"cost": 0.0}}).close()
    client = serve([path])

    versions = set()

    def poll(done):  # 20 polls a second: 40 times what a page asks for
        while not done.wait(0.05):
            versions.add(tuple(run["version"] for run in client.runs()["runs"]))

    polled = _wal_growth(path, poll)
    assert len(versions) >= 5, versions  # the dashboard really read the log again and again while it grew

    held_path = str(tmp_path / "held.sqlite")
    write_rows(SQLiteLog(held_path), {0: {"cost": 0.0}}).close()

    def hold(done):  # the negative control: a reader that keeps its transaction open stops the checkpoints
        connection = sqlite3.connect(f"file:{held_path}?mode=ro", uri=True, isolation_level=None)
        connection.execute("BEGIN")
        connection.execute("SELECT count(*) FROM entries").fetchall()
        done.wait()
        connection.execute("COMMIT")
        connection.close()

    held = _wal_growth(held_path, hold)
    assert held > 24_000_000, held  # the test can see a growing WAL
    print("largest -wal while polling", polled, "while held", held)
    assert polled < 12_000_000, (polled, held)


# -- the command ----------------------------------------------------------------------------------------------------
def test_command_serves_until_interrupted_and_bad_paths_fail_cleanly(tmp_path):
    import signal

    path = tmp_path / "log.sqlite"
    write_rows(SQLiteLog(str(path)), {1: {"cost": 3.5}}).close()
    blocks = [sys.executable, "-m", "blocks.cli.main"]
    failed = subprocess.run([*blocks, "dashboard", str(tmp_path / "nope.sqlite")], capture_output=True, text=True)
    assert failed.returncode == 2 and "no file or directory" in failed.stderr and "Traceback" not in failed.stderr
    process = subprocess.Popen(
        [*blocks, "dashboard", str(path), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = None
        for _ in range(20):
            line = process.stdout.readline()
            if line.startswith("Dashboard: "):
                url = line.split()[1]
                break
        assert url and url.startswith("http://127.0.0.1:")
        port = urllib.parse.urlsplit(url).port
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/api/runs")
        assert json.loads(connection.getresponse().read())["runs"][0]["last"]["cost"]["value"] == 3.5
        connection.close()
    finally:
        process.send_signal(signal.SIGTERM)  # like Ctrl-C (which a shell's background job ignores)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "stopped" in out and "Traceback" not in err


def test_server_examples_run():
    import doctest

    from blocks_extensions.dashboard import server

    result = doctest.testmod(server, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_downsampling_keeps_every_column_s_extremes_against_a_brute_force_reference():
    import numpy

    from blocks_extensions.dashboard.downsample import downsample

    rng = numpy.random.default_rng(7)
    for case in range(30):
        n = int(rng.integers(1, 6000))
        x = numpy.sort(rng.choice(10 * n, size=n, replace=False)).astype(float)
        y = rng.normal(size=n).cumsum()
        buckets = int(rng.integers(1, 300))
        xs, ys = downsample(x, y, buckets=buckets)
        assert len(xs) <= max(4 * buckets, n) and list(xs) == sorted(xs)
        kept = dict(zip(xs.tolist(), ys.tolist()))
        assert all(kept[a] == b for a, b in zip(x.tolist(), y.tolist()) if a in kept)  # real points only
        if n <= 4 * buckets:
            assert len(xs) == n
            continue
        assert xs[0] == x[0] and xs[-1] == x[-1]
        column = numpy.minimum(((x - x[0]) / (x[-1] - x[0]) * buckets).astype(int), buckets - 1)
        for b in numpy.unique(column):
            members = column == b
            assert y[members].min() in ys and y[members].max() in ys, (case, b)


def test_concurrent_pages_while_the_run_writes(tmp_path, serve, monkeypatch):
    from blocks_extensions.dashboard import store

    monkeypatch.setattr(store, "REFRESH_EVERY", 0.0)
    monkeypatch.setattr(store, "BULK_ROWS", 50)  # both readers take turns
    path = str(tmp_path / "log.sqlite")
    log = write_rows(SQLiteLog(path, flush_every=0.0), {t: {"cost": float(t)} for t in range(100)})
    client = serve([path])
    (run,) = client.runs()["runs"]
    errors, done = [], threading.Event()

    def page():
        try:
            while not done.is_set():
                for answer in (client.runs()["runs"][0], client.series(run["id"], "cost", points=40)["cost"]):
                    assert answer
        except Exception as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    pages = [threading.Thread(target=page) for _ in range(4)]
    for thread in pages:
        thread.start()
    for t in range(100, 3000):
        log.status["iterations_done"] = t
        log[t]["cost"] = float(t)
        if t % 97 == 0:
            log.flush()
    log.flush()
    done.set()
    for thread in pages:
        thread.join()
    assert not errors, errors[:3]
    curve = client.series(run["id"], "cost", points=20000)["cost"]
    assert curve["x"] == list(range(3000)) and curve["y"] == [float(t) for t in range(3000)]


def test_eta_from_an_epoch_limit_and_when_it_cannot_be_known(tmp_path, serve):
    path = str(tmp_path / "log.sqlite")
    log = write_rows(SQLiteLog(path), {t: {"cost": 1.0} for t in range(1, 26)}, epoch_ends=[10, 20])
    log.status["_finish_after"] = {"FinishAfter": {"after_n_epochs": 5}, "cap": {"after_n_batches": 1000}}
    log.flush()
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("DELETE FROM clock")
        clock = [(log.uuid, t, 500.0 + t / 2) for t in range(1, 26)]
        connection.executemany("INSERT INTO clock VALUES (?, ?, ?)", clock)
    connection.close()
    client = serve([path])
    (run,) = client.runs()["runs"]
    assert run["limits"] == {"after_n_epochs": 5, "after_n_batches": 1000}
    # (5 - 2) epochs of 10 iterations, less the 5 done in the third: 25 iterations at 2 per second
    assert run["eta"] == pytest.approx(12.5) and "after_n_epochs=5" in run["eta_basis"]
    fresh = str(tmp_path / "fresh.sqlite")
    other = write_rows(SQLiteLog(fresh), {t: {"cost": 1.0} for t in range(1, 5)})
    other.status["_finish_after"] = {"FinishAfter": {"after_n_epochs": 5}}
    other.flush()
    (run,) = serve([fresh]).runs()["runs"]
    assert run["eta"] is None and "first epoch" in run["eta_basis"]
