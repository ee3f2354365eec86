"""Fuzz the data server's requests: whatever a client sends, the server answers sanely and serves the others."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import zmq

sys.path.insert(0, str(Path(__file__).parent))

from _fuzz import Findings, mutate_bytes, seeds  # noqa: E402

from fuel.datasets import IndexableDataset  # noqa: E402
from fuel.schemes import SequentialScheme  # noqa: E402
from fuel.server import DataServer, ServerDataStream  # noqa: E402
from fuel.streams import DataStream  # noqa: E402

_SCALARS: list[Any] = [None, True, 0, 1, -1, 2**70, 1.5, float("inf"), "", "s", "x" * 300, "start", "credit", "close"]
_KEYS = ["cmd", "session", "epoch", "state", "credit", "n", "extra"]


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(6 if depth < 3 else 1)
    if kind == 0 or depth >= 3:
        return rng.choice(_SCALARS)
    if kind == 1:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 2:
        return {rng.choice(_KEYS + ["position", "epoch"]): _value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return rng.choice(_SCALARS)


def _request(rng: random.Random) -> list[bytes]:
    """Frames of one request: mostly almost-valid JSON objects, sometimes garbage."""
    kind = rng.randrange(8)
    if kind == 0:
        return [mutate_bytes(b'{"cmd": "start", "session": "s", "epoch": 0, "state": null, "credit": 2}', rng)]
    if kind == 1:
        return [json.dumps(_value(rng)).encode()]
    if kind == 2:
        return [b"[" * rng.choice((10, 5000, 100_000))]
    if kind == 3:
        return rng.choice(([b""], [b"{}", b"{}"], [b"{}"] * 3))
    request = {"cmd": rng.choice(["start", "credit", "close", "stop", 7]), "session": rng.choice(["s", "t", "", 5])}
    for key in rng.sample(_KEYS[2:], rng.randint(0, 4)):
        request[key] = _value(rng)
    if rng.random() < 0.3 and request["cmd"] == "start":
        request.update(epoch=rng.randrange(3), state=None, credit=rng.randrange(4))
    return [json.dumps(request).encode()]


def _drain(socket: zmq.Socket, findings: Findings, seed: int) -> None:
    while socket.poll(30):
        frames = socket.recv_multipart()
        try:
            reply = json.loads(frames[0])
        except ValueError:
            findings.add(seed, f"reply is not JSON: {frames[0][:100]!r}")
            continue
        if not isinstance(reply, dict) or reply.get("kind") not in ("hello", "data", "stop", "error", "ping"):
            findings.add(seed, f"unexpected reply {str(reply)[:200]}")
        elif reply["kind"] == "error" and (len(reply.get("message", "")) > 1000 or "Traceback" in reply["message"]):
            findings.add(seed, f"error reply too long or with a traceback: {reply['message'][:200]}")


def test_fuzz_server_requests():
    n = 24
    dataset = IndexableDataset({"features": np.arange(n * 2.0).reshape(n, 2), "targets": np.arange(n)})
    stream = DataStream(dataset, iteration_scheme=SequentialScheme(n, 4))
    server = DataServer(stream, port=0, hwm=3, max_request_bytes=50_000)
    thread = server.start_thread()
    findings = Findings("server")
    sockets = []
    try:
        for seed in seeds(60):
            rng = random.Random(seed)
            if not sockets or rng.random() < 0.2:  # a new client now and then
                socket = zmq.Context.instance().socket(zmq.DEALER)
                socket.setsockopt(zmq.LINGER, 0)
                socket.connect(f"tcp://127.0.0.1:{server.port}")
                sockets.append(socket)
            socket = rng.choice(sockets)
            socket.send_multipart(_request(rng))
            _drain(socket, findings, seed)
            if not thread.is_alive():
                findings.add(seed, "the server stopped")
                break
        client = ServerDataStream(("features", "targets"), produces_examples=False, port=server.port,
                                  connect_timeout=10.0)
        got = [b[1].tolist() for b in client.get_epoch_iterator()]
        if got != [list(range(i, min(i + 4, n))) for i in range(0, n, 4)]:
            findings.add(-1, f"a well-behaved client got {got}")
    finally:
        for socket in sockets:
            socket.close(linger=0)
        server.stop()
    findings.check()
