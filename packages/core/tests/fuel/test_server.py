"""The data server: same data as local iteration, resume through the server, reconnect, mismatches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fuel.datasets import IndexableDataset
from fuel.schemes import SequentialScheme, ShuffledScheme
from fuel.server import DataServer, ServerDataStream, recv_arrays, send_arrays
from fuel.streams import DataStream


def _stream(dtype="float32", n=20):
    ds = IndexableDataset({"features": np.arange(n * 3, dtype=dtype).reshape(n, 3), "targets": np.arange(n)})
    return DataStream(ds, iteration_scheme=ShuffledScheme(n, 4, rng=7))


def _lists(batches):
    return [[np.asarray(x).tolist() for x in b] for b in batches]


@pytest.fixture
def server():
    servers = []

    def start(stream=None, port=0):
        s = DataServer(stream or _stream(), port=port, host="127.0.0.1")
        s.start_thread()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def _client(port, **kw):
    kw.setdefault("connect_timeout", 5.0)
    return ServerDataStream(("features", "targets"), produces_examples=False, host="127.0.0.1", port=port, **kw)


def test_send_recv_arrays_wire_format_roundtrip():
    import zmq

    ctx = zmq.Context.instance()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://wire-test")
    b.connect("inproc://wire-test")
    try:
        arrays = [np.arange(6, dtype=">i4").reshape(2, 3), np.asfortranarray(np.ones((2, 2))), np.zeros(0)]
        send_arrays(a, arrays)
        got = recv_arrays(b)
        for x, y in zip(arrays, got):
            np.testing.assert_array_equal(x, y)
        send_arrays(a, [], stop=True)
        with pytest.raises(StopIteration):
            recv_arrays(b)
        with pytest.raises(ValueError, match="object arrays"):
            send_arrays(a, [np.array([1, "a"], dtype=object)])
    finally:
        a.close()
        b.close()


def test_server_epochs_equal_local_epochs(server):
    s = server()
    client = _client(s.port)
    local = _stream()
    for _ in range(2):
        assert _lists(client.get_epoch_iterator()) == _lists(local.get_epoch_iterator())


def test_resume_sends_checkpointed_position_to_server(server):
    s = server()
    full = _lists(_stream().get_epoch_iterator())
    client = _client(s.port)
    it = client.get_epoch_iterator(as_dict=True)
    head = [next(it) for _ in range(2)]
    state = json.loads(json.dumps({"stream": client.state_dict(), "iterator": it.state_dict()}))
    it.close()
    fresh = _client(s.port)
    fresh.load_state_dict(state["stream"])
    it2 = fresh.get_epoch_iterator(as_dict=True)
    it2.load_state_dict(state["iterator"])
    rest = list(it2)
    got = [[b["features"].tolist(), b["targets"].tolist()] for b in head + rest]
    assert got == full


def test_reconnect_after_server_restart(server):
    first = server(_stream(n=80))
    port = first.port
    full = _lists(_stream(n=80).get_epoch_iterator())
    client = _client(port, hwm=2)
    it = client.get_epoch_iterator()
    head = [next(it) for _ in range(2)]
    first.stop()
    second = server(_stream(n=80), port=port)
    rest = list(it)
    assert _lists(head + rest) == full
    assert second._closed is False and len(rest) > 2  # most of the epoch came from the restarted server


def test_source_and_dtype_mismatch_are_clear_errors(server):
    s = server()
    wrong = ServerDataStream(("features", "labels"), produces_examples=False, port=s.port)
    expected = r"provides sources \['features', 'targets'\].*expects \['features', 'labels'\]"
    with pytest.raises(ValueError, match=expected):
        next(wrong.get_epoch_iterator())
    examples = ServerDataStream(("features", "targets"), produces_examples=True, port=s.port)
    with pytest.raises(ValueError, match="sends batches"):
        next(examples.get_epoch_iterator())
    port = s.port
    s.stop()
    s = server(_stream(n=200), port=port)
    client = _client(s.port, hwm=1)
    it = client.get_epoch_iterator()
    next(it)
    s.stop()
    server(_stream(dtype="float64", n=200), port=port)
    with pytest.raises(ValueError, match="changed from dtype <f4"):
        list(it)


def test_object_sources_are_rejected_with_a_message(server):
    ds = IndexableDataset({"features": [[1], [1, 2]], "targets": [0, 1]})
    s = server(DataStream(ds, iteration_scheme=SequentialScheme(2, 2)))
    with pytest.raises(ValueError, match="Padding"):
        next(_client(s.port).get_epoch_iterator())


def test_no_server_gives_connection_error():
    client = ServerDataStream(("x",), produces_examples=False, port=1, connect_timeout=0.2)
    with pytest.raises(ConnectionError, match="no data server answered .* within connect_timeout=0.2 s.*fuel-server"):
        next(client.get_epoch_iterator())


def test_fuel_server_command(tmp_path):
    (tmp_path / "served_data.py").write_text(textwrap.dedent(
        """
        import numpy as np
        from fuel.datasets import IndexableDataset
        from fuel.schemes import SequentialScheme
        from fuel.streams import DataStream

        def make_stream():
            ds = IndexableDataset({"features": np.arange(12.0).reshape(6, 2), "targets": np.arange(6)})
            return DataStream(ds, iteration_scheme=SequentialScheme(6, 4))
        """
    ))
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "blocks.cli.fuel_server", "served_data:make_stream", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        client = _client(port, connect_timeout=20.0)
        batches = list(client.get_epoch_iterator())
        assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5]]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    bad = subprocess.run([sys.executable, "-m", "blocks.cli.fuel_server", "nomodule_here:x"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=60)
    assert bad.returncode == 2 and "cannot import module 'nomodule_here'" in bad.stderr
