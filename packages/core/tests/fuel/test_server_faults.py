"""The data server under hostile requests and faults: short error replies, no leaks, dead vs slow servers.

The server runs as a real ``fuel-server`` subprocess where the fault is about the process (kill, stop, slow
stream) and in a thread where the test inspects its sessions.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import zmq

from fuel.datasets import IndexableDataset
from fuel.iterator import Cursor
from fuel.schemes import SequentialScheme
from fuel.server import DataServer, ServerDataStream
from fuel.streams import DataStream

FACTORIES = textwrap.dedent(
    """
    import os
    import time

    import numpy as np
    from fuel.datasets import IndexableDataset
    from fuel.schemes import SequentialScheme
    from fuel.streams import DataStream
    from fuel.transformers import Mapping

    N = int(os.environ.get("SERVED_EXAMPLES", "40"))

    def make_stream():
        ds = IndexableDataset({"features": np.arange(N * 2.0).reshape(N, 2), "targets": np.arange(N)})
        return DataStream(ds, iteration_scheme=SequentialScheme(N, 4))

    def _slow_first(batch, seen=[]):
        if not seen:
            seen.append(True)
            time.sleep(float(os.environ["FIRST_BATCH_SECONDS"]))
        return batch

    def slow_first_stream():
        return Mapping(make_stream(), _slow_first)
    """
)


@pytest.fixture
def fuel_server(tmp_path):
    """Start ``fuel-server FACTORY`` in a subprocess; returns ``(process, port)``; killed at teardown."""
    (tmp_path / "served_faults.py").write_text(FACTORIES)
    processes = []

    def start(factory="make_stream", *args, **env):
        environ = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                       **{k: str(v) for k, v in env.items()})
        proc = subprocess.Popen(
            [sys.executable, "-m", "blocks.cli.fuel_server", f"served_faults:{factory}", "--port", "0", *args],
            cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        processes.append(proc)
        line = proc.stdout.readline()
        assert "serving" in line, proc.stderr.read()
        return proc, int(line.rsplit(":", 1)[1])

    yield start
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def _client(port, **kw):
    kw.setdefault("connect_timeout", 10.0)
    return ServerDataStream(("features", "targets"), produces_examples=False, host="127.0.0.1", port=port, **kw)


def _expected(n=40):
    ds = IndexableDataset({"features": np.arange(n * 2.0).reshape(n, 2), "targets": np.arange(n)})
    return [b[1].tolist() for b in DataStream(ds, iteration_scheme=SequentialScheme(n, 4)).get_epoch_iterator()]


class _Raw:
    """A bare DEALER socket talking to a server (a hostile or buggy client)."""

    def __init__(self, port):
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(f"tcp://127.0.0.1:{port}")

    def ask(self, *frames):
        self.socket.send_multipart(list(frames))
        return self.reply()

    def reply(self, wait_ms=20_000):
        assert self.socket.poll(wait_ms), "the server did not answer"
        return json.loads(self.socket.recv_multipart()[0])

    def quiet(self, wait_ms=500):
        """Data messages received until the server stays silent for ``wait_ms``."""
        count = 0
        while self.socket.poll(wait_ms):
            message = json.loads(self.socket.recv_multipart()[0])
            count += message.get("kind") == "data"
        return count

    def close(self):
        self.socket.close(linger=0)


def _start(session="s1", **fields):
    return json.dumps({"cmd": "start", "session": session, "epoch": 0, "state": None, **fields}).encode()


MALFORMED = [
    (b"[1, 2]", "JSON object, got a JSON array"),
    (b'"start"', "JSON object, got a JSON string"),
    (b"3", "JSON object, got a JSON number"),
    (b"null", "JSON object, got a JSON null"),
    (b"not json", "UTF-8 JSON"),
    (b"\xff\xfe{}", "UTF-8 JSON"),
    (b"[" * 40_000 + b"]" * 40_000, "nested too deeply"),
    (json.dumps({"cmd": "start", "epoch": 0}).encode(), "'session' must be"),
    (json.dumps({"cmd": "start", "session": "x" * 500, "epoch": 0}).encode(), "'session' must be"),
    (json.dumps({"cmd": "start", "session": 5, "epoch": 0}).encode(), "'session' must be"),
    (json.dumps({"cmd": "explode", "session": "s1"}).encode(), "unknown command"),
    (_start(credit="lots"), "'credit' must be an integer"),
    (_start(credit=-1), "'credit' must be an integer"),
    (_start(credit=True), "'credit' must be an integer"),
    (_start(credit=2.5), "'credit' must be an integer"),
    (_start(epoch="many"), "'epoch' must be an integer"),
    (_start(epoch=-3), "'epoch' must be an integer"),
    (_start(state=[1, 2]), "'state' must be a JSON object"),
    (_start(state={"position": "far"}), ""),  # accepted by the parser, refused by the stream: still a reply
    (json.dumps({"cmd": "credit", "session": "s1", "n": "x"}).encode(), "'n' must be an integer"),
    (json.dumps({"cmd": "credit", "session": "s1", "n": [1]}).encode(), "'n' must be an integer"),
]


def _check_error_reply(reply, expected):
    assert reply["kind"] == "error", reply
    assert expected in reply["message"]
    assert "Traceback" not in reply["message"] and 'File "' not in reply["message"] and "traceback" not in reply
    assert len(reply["message"]) <= 1000


def test_malformed_requests_get_short_error_replies_and_the_server_serves_the_others(fuel_server):
    proc, port = fuel_server("make_stream", "--max-request-bytes", "100000", SERVED_EXAMPLES=400)
    first = _client(port, hwm=2).get_epoch_iterator()
    got = [next(first)[1].tolist()]
    hostile = _Raw(port)
    try:
        for message, expected in MALFORMED:
            _check_error_reply(hostile.ask(message), expected)
            got.append(next(first)[1].tolist())  # a client in the middle of an epoch is not disturbed
        _check_error_reply(hostile.ask(b"{}", b"{}"), "one frame")
        _check_error_reply(hostile.ask(b" " * 150_000), "over this server's limit of 100000 bytes")
        # a bad credit for a running session ends that session with an error reply
        assert hostile.ask(_start("s2", credit=0))["kind"] == "hello"
        bad = hostile.ask(json.dumps({"cmd": "credit", "session": "s2", "n": -1}).encode())
        _check_error_reply(bad, "'n' must be an integer")
        assert bad["session"] == "s2"
    finally:
        hostile.close()
    got += [b[1].tolist() for b in first]
    assert got == _expected(400)
    second = [b[1].tolist() for b in _client(port).get_epoch_iterator()]
    assert second == _expected(400) and proc.poll() is None


class _CountingStream(DataStream):
    """A DataStream that counts the cursors it opened and that were closed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.opened = 0
        self.closed = 0

    def open_cursor(self, epoch, state=None):
        stream, inner = self, super().open_cursor(epoch, state)
        stream.opened += 1

        class Counted(Cursor):
            def next(self):
                return inner.next()

            def state_dict(self):
                return inner.state_dict()

            def close(self):
                stream.closed += 1
                inner.close()

        return Counted()


@pytest.fixture
def threaded_server():
    servers = []

    def start(n=200, hwm=10, **kw):
        ds = IndexableDataset({"features": np.arange(n * 2.0).reshape(n, 2), "targets": np.arange(n)})
        stream = _CountingStream(ds, iteration_scheme=SequentialScheme(n, 1))
        server = DataServer(stream, port=0, hwm=hwm, **kw)
        server.start_thread()
        servers.append(server)
        return server, stream

    yield start
    for server in servers:
        server.stop()


def test_a_bad_request_opens_no_cursor_and_leaks_none(threaded_server):
    server, stream = threaded_server()
    raw = _Raw(server.port)
    try:
        for fields in ({"credit": "lots"}, {"credit": -5}, {"epoch": "x"}, {"state": 7}):
            _check_error_reply(raw.ask(_start(**fields)), "must be")
        assert stream.opened == 0
        assert raw.ask(_start("ok", credit=0))["kind"] == "hello"
        _check_error_reply(raw.ask(json.dumps({"cmd": "credit", "session": "ok", "n": "x"}).encode()), "'n'")
        assert raw.ask(_start("again", credit=0))["kind"] == "hello"  # replaces nothing: the bad credit ended "ok"
    finally:
        raw.close()
    server.stop()
    assert stream.opened == 2 and stream.closed == 2


def test_sessions_beyond_max_sessions_are_refused_and_counted_again_when_one_ends(threaded_server):
    server, stream = threaded_server(max_sessions=2)
    clients = [_Raw(server.port) for _ in range(4)]
    try:
        for i, raw in enumerate(clients[:2]):
            assert raw.ask(_start(f"s{i}", credit=0))["kind"] == "hello"
        for i, raw in enumerate(clients[2:], start=2):  # each a new identity, as a hostile client would open
            _check_error_reply(raw.ask(_start(f"s{i}", credit=0)), "server is busy: it serves 2 clients already")
        assert stream.opened == 2 and len(server._sessions) == 2
        # a client restarting its own epoch is not a new session
        assert clients[0].ask(_start("s0-again", credit=0))["kind"] == "hello"
        clients[1].socket.send(json.dumps({"cmd": "close", "session": "s1"}).encode())
        deadline = time.monotonic() + 20
        while len(server._sessions) > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert clients[2].ask(_start("s2", credit=0))["kind"] == "hello"
    finally:
        for raw in clients:
            raw.close()
    with pytest.raises(ValueError, match="max_sessions must be >= 1"):
        DataServer(DataStream(IndexableDataset({"x": [1.0]})), port=0, max_sessions=0)


def test_the_session_of_a_vanished_client_is_ended(threaded_server):
    server, stream = threaded_server()
    server.idle_probe = 0.1
    raw = _Raw(server.port)
    assert raw.ask(_start(credit=0))["kind"] == "hello"  # holds a cursor, asks for nothing
    raw.close()
    while stream.closed == 0:  # the server pings idle sessions; the ping finds the client gone
        time.sleep(0.05)
    assert stream.opened == 1 and stream.closed == 1 and not server._sessions


def test_credit_is_capped_at_the_high_water_mark(threaded_server):
    server, _ = threaded_server(n=200, hwm=3)
    raw = _Raw(server.port)
    try:
        assert raw.ask(_start(credit=10**9))["kind"] == "hello"
        assert raw.quiet() == 3
        raw.socket.send(json.dumps({"cmd": "credit", "session": "s1", "n": 10**9}).encode())
        assert raw.quiet() == 3
    finally:
        raw.close()
    assert server._socket.getsockopt(zmq.SNDHWM) > 0 and server._socket.getsockopt(zmq.MAXMSGSIZE) > 0


def test_server_messages_are_checked_by_the_client():
    context = zmq.Context.instance()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")

    def answer(*frames):
        request = {}
        while request.get("cmd") != "start":  # skip the previous client's close
            identity, payload = router.recv_multipart()
            request = json.loads(payload)
        session = request["session"]
        router.send_multipart([identity, *[f.replace(b"SESSION", session.encode()) for f in frames]])

    replies = [
        (b"[1, 2, 3]",),
        (b"not json",),
        (b"[" * 100_000,),
        (b'{"session": "SESSION", "kind": "surprise"}',),
        (b'{"session": "SESSION", "kind": "hello", "sources": 7}',),
        (b'{"session": "SESSION", "kind": "data", "state": null}', b'{"descr": "<f8"}', b"12345678"),
        (b'{"session": "SESSION", "kind": "data", "state": null}', b'[{"descr": "|O", "shape": [1], '
         b'"fortran_order": false}]', b"12345678"),
        (b'{"session": "SESSION", "kind": "data", "state": null}', b'[{"descr": "<f8", "shape": [5], '
         b'"fortran_order": false}]', b"12345678"),
    ]
    try:
        for frames in replies:
            client = ServerDataStream(("x",), produces_examples=False, host="127.0.0.1", port=port,
                                      connect_timeout=10.0, timeout=10.0)
            it = client.get_epoch_iterator()
            thread = threading.Thread(target=answer, args=frames)
            thread.start()
            with pytest.raises(ValueError, match="malformed message from the data server"):
                next(it)
            thread.join()
    finally:
        router.close(linger=0)


class _FailingStream(DataStream):
    def open_cursor(self, epoch, state=None):
        inner = super().open_cursor(epoch, state)

        class Failing(Cursor):
            def next(self):
                batch = inner.next()
                if int(batch[0][0]) >= 2:
                    raise RuntimeError("the disk at /srv/secret/data is on fire")
                return batch

            def state_dict(self):
                return inner.state_dict()

            def close(self):
                inner.close()

        return Failing()


def test_error_replies_carry_no_traceback_which_the_server_logs(caplog):
    stream = _FailingStream(IndexableDataset({"x": np.arange(8)}), iteration_scheme=SequentialScheme(8, 2))
    server = DataServer(stream, port=0)
    server.start_thread()
    try:
        client = ServerDataStream(("x",), produces_examples=False, port=server.port, connect_timeout=10.0)
        it = client.get_epoch_iterator()
        next(it)
        with caplog.at_level(logging.ERROR, logger="fuel.server"):
            with pytest.raises(RuntimeError, match="is on fire") as info:
                next(it)
    finally:
        server.stop()
    text = str(info.value)
    assert "Traceback" not in text and "server.py" not in text and 'File "' not in text
    assert any(r.exc_info and "is on fire" in str(r.exc_info[1]) for r in caplog.records)


def test_a_killed_server_is_reported_promptly(fuel_server):
    proc, port = fuel_server("make_stream", "--hwm", "1")
    # a batch may take an hour: only a lost connection that does not come back ends the wait
    it = _client(port, hwm=1, timeout=3600.0, connect_timeout=1.0, heartbeat=0.2).get_epoch_iterator()
    next(it)
    proc.kill()
    proc.wait()
    with pytest.raises(ConnectionError, match="lost the connection .* could not reconnect within connect_timeout"):
        list(it)


def test_a_frozen_server_is_found_dead_by_heartbeats(fuel_server):
    proc, port = fuel_server("make_stream", "--hwm", "1", SERVED_EXAMPLES=400)
    it = _client(port, hwm=1, timeout=3600.0, connect_timeout=1.0, heartbeat=0.2).get_epoch_iterator()
    next(it)
    proc.send_signal(signal.SIGSTOP)  # the TCP connection stays open: only missing heartbeats tell
    with pytest.raises(ConnectionError, match="could not reconnect"):
        list(it)


def test_a_slow_first_batch_is_not_a_dead_server(fuel_server):
    proc, port = fuel_server("slow_first_stream", "--heartbeat", "0.1", FIRST_BATCH_SECONDS=1.5)
    # connect_timeout and heartbeats are far shorter than the first batch: the server is alive, so the client waits
    client = _client(port, connect_timeout=0.5, heartbeat=0.1)
    assert [b[1].tolist() for b in client.get_epoch_iterator()] == _expected()


def test_a_live_server_without_batches_is_a_timeout(threaded_server):
    release = threading.Event()
    server, stream = threaded_server(n=8)
    stream.open_cursor = lambda epoch, state=None: _Blocked(release)
    try:
        client = ServerDataStream(("features", "targets"), produces_examples=False, port=server.port,
                                  timeout=0.5, connect_timeout=10.0, heartbeat=0.1)
        with pytest.raises(TimeoutError, match="up .*but sent no batch for 0.5 s"):
            next(client.get_epoch_iterator())
    finally:
        release.set()


class _Blocked(Cursor):
    def __init__(self, release):
        self.release = release

    def next(self):
        self.release.wait(30)
        raise StopIteration

    def state_dict(self):
        return {}


@pytest.mark.parametrize("name", ["fuel.server", "fuel._server_requests"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
