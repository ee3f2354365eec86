"""The data server: run a stream in another process and read it over ZeroMQ.

The data-side script calls :func:`start_server` (or runs ``fuel-server
module:factory --port N``); the training side uses :class:`ServerDataStream`.
Arrays travel as Fuel's ``send_arrays`` / ``recv_arrays`` multipart messages
(a JSON list of ``.npy`` headers, then the raw buffers, zero-copy).

Unlike Fuel's one-way PUSH/PULL server, the client *drives* it: it asks for an
epoch starting at a position (a cursor state of the server's stream) and
grants credit for ``hwm`` batches ahead, so

- a checkpointed client position is sent to the server to restart there
  (resume works with the server);
- after a server restart the client reconnects and asks again from the last
  batch it received (nothing skipped or repeated);
- a server whose sources, dtypes or shapes differ from what the client
  expects gives a ``ValueError`` naming both.

Examples
--------
>>> import numpy as np
>>> from fuel.datasets import IndexableDataset
>>> from fuel.schemes import SequentialScheme
>>> from fuel.streams import DataStream
>>> stream = DataStream(IndexableDataset({"x": np.arange(4)}), iteration_scheme=SequentialScheme(4, 2))
>>> server = DataServer(stream, port=0)
>>> _ = server.start_thread()
>>> client = ServerDataStream(("x",), produces_examples=False, port=server.port)
>>> [b[0].tolist() for b in client.get_epoch_iterator()]
[[0, 1], [2, 3]]
>>> server.stop()
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import zmq
from numpy.lib.format import header_data_from_array_1_0

from fuel.iterator import Cursor
from fuel.streams import AbstractDataStream

__all__ = ["DataServer", "ServerDataStream", "recv_arrays", "send_arrays", "start_server"]

logger = logging.getLogger(__name__)

_PROTOCOL = "fuel-server/1"


def send_arrays(socket: zmq.Socket, arrays: Sequence[np.ndarray], stop: bool = False, flags: int = 0) -> None:
    """Send arrays as Fuel did: a JSON list of ``.npy`` headers, then each buffer (zero-copy).

    Parameters
    ----------
    socket : zmq.Socket
        The socket.
    arrays : sequence of numpy.ndarray
        Arrays with a fixed dtype (no object arrays).
    stop : bool
        Send Fuel's ``{"stop": true}`` end-of-epoch message instead.
    flags : int
        Extra ZeroMQ flags for the *last* frame (e.g. ``zmq.SNDMORE``).

    Examples
    --------
    >>> ctx = zmq.Context.instance()
    >>> a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    >>> _ = a.bind("inproc://doc-send"), b.connect("inproc://doc-send")
    >>> send_arrays(a, [np.arange(3)]); recv_arrays(b)[0].tolist()
    [0, 1, 2]
    >>> a.close(); b.close()
    """
    if stop:
        socket.send_json({"stop": True}, flags)
        return
    arrays = [np.ascontiguousarray(array) for array in arrays]
    for array in arrays:
        if array.dtype.hasobject:
            raise ValueError("send_arrays cannot send object arrays (ragged or Python objects); pad or encode them")
    headers = [header_data_from_array_1_0(array) for array in arrays]
    if not arrays:
        socket.send_json(headers, flags)
        return
    socket.send_json(headers, zmq.SNDMORE)
    for array in arrays[:-1]:
        socket.send(array, zmq.SNDMORE, copy=False)
    socket.send(arrays[-1], flags, copy=False)


def _arrays_from_frames(headers: Any, frames: Sequence[Any]) -> list[np.ndarray]:
    if len(frames) != len(headers):
        raise ValueError(f"message has {len(frames)} buffers for {len(headers)} array headers")
    arrays = []
    for header, frame in zip(headers, frames):
        buffer = frame.buffer if hasattr(frame, "buffer") else frame
        array = np.frombuffer(buffer, dtype=np.dtype(_descr(header["descr"])))
        shape = tuple(header["shape"])
        if header["fortran_order"]:
            array = array.reshape(shape[::-1]).transpose()
        else:
            array = array.reshape(shape)
        arrays.append(array)
    return arrays


def _descr(descr: Any) -> Any:
    if isinstance(descr, list):
        return [tuple(_descr(x) if isinstance(x, list) else x for x in field) for field in descr]
    return descr


def recv_arrays(socket: zmq.Socket) -> list[np.ndarray]:
    """Receive what :func:`send_arrays` sent (``StopIteration`` on a stop message).

    The arrays are read-only views of the received ZeroMQ frames.
    """
    headers = socket.recv_json()
    if isinstance(headers, dict) and headers.get("stop"):
        raise StopIteration
    frames = []
    for _ in headers:
        frames.append(socket.recv(copy=False))
    return _arrays_from_frames(headers, frames)


class _Session:
    __slots__ = ("identity", "session", "cursor", "credit", "index")

    def __init__(self, identity: bytes, session: str, cursor: Cursor, credit: int):
        self.identity = identity
        self.session = session
        self.cursor = cursor
        self.credit = credit
        self.index = 0


class DataServer:
    """Serve a stream to :class:`ServerDataStream` clients.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The stream (each client session gets its own epoch cursor).
    port : int
        TCP port; 0 picks a free one (see :attr:`port`).
    hwm : int
        ZeroMQ high-water mark of the socket.
    host : str
        Interface to bind (``'127.0.0.1'``; ``'*'`` for all interfaces).

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> server = DataServer(DataStream(IndexableDataset({"x": [1.0]})), port=0)
    >>> server.port > 0
    True
    >>> server.stop()
    """

    def __init__(self, data_stream: AbstractDataStream, port: int = 5557, hwm: int = 10, host: str = "127.0.0.1"):
        if not isinstance(data_stream, AbstractDataStream):
            raise ValueError(f"start_server needs a data stream, got {type(data_stream).__name__}")
        self.data_stream = data_stream
        self.hwm = int(hwm)
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.SNDHWM, 0)  # the clients' credit bounds what is in flight
        self._socket.setsockopt(zmq.RCVHWM, 0)
        address = f"tcp://{host}"
        try:
            if port == 0:
                self.port = self._socket.bind_to_random_port(address)
            else:
                self._socket.bind(f"{address}:{port}")
                self.port = int(port)
        except zmq.ZMQError as err:
            self._socket.close()
            self._context.term()
            raise ValueError(f"cannot bind the data server to {address}:{port}: {err}") from err
        self._sessions: dict[bytes, _Session] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- serving ---------------------------------------------------------------------
    def serve_forever(self) -> None:
        """Answer clients until :meth:`stop` (or KeyboardInterrupt)."""
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        logger.info("data server listening on port %d", self.port)
        try:
            while not self._stopping.is_set():
                busy = any(s.credit > 0 for s in self._sessions.values())
                events = dict(poller.poll(0 if busy else 100))
                while self._socket in events:
                    self._receive()
                    events = dict(poller.poll(0))
                for session in list(self._sessions.values()):
                    if session.credit > 0:
                        try:
                            self._send_next(session)
                        except Exception as err:  # noqa: BLE001 - a client's failure must not stop the server
                            logger.exception("data server: session %s failed", session.session)
                            self._sessions.pop(session.identity, None)
                            self._send_error(session.identity, session.session, err)
        finally:
            self._shutdown()

    def start_thread(self) -> threading.Thread:
        """Serve from a daemon thread (tests, notebooks); returns the thread."""
        self._thread = threading.Thread(target=self.serve_forever, name=f"fuel-server-{self.port}", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        else:
            self._shutdown()

    def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        for session in self._sessions.values():
            session.cursor.close()
        self._sessions.clear()
        self._socket.close(linger=0)
        self._context.term()

    def _receive(self) -> None:
        frames = self._socket.recv_multipart()
        identity = frames[0]
        try:
            request = json.loads(frames[-1])
        except ValueError:
            logger.warning("data server: ignoring a malformed request")
            return
        command = request.get("cmd")
        if command == "start":
            self._start(identity, request)
        elif command == "credit":
            session = self._sessions.get(identity)
            if session is not None and session.session == request.get("session"):
                session.credit += int(request.get("n", 1))
        elif command == "close":
            session = self._sessions.pop(identity, None)
            if session is not None:
                session.cursor.close()

    def _start(self, identity: bytes, request: dict[str, Any]) -> None:
        previous = self._sessions.pop(identity, None)
        if previous is not None:
            previous.cursor.close()
        session_id = str(request.get("session"))
        hello = {
            "protocol": _PROTOCOL,
            "session": session_id,
            "kind": "hello",
            "sources": list(self.data_stream.sources),
            "produces_examples": self.data_stream.produces_examples,
        }
        try:
            cursor = self.data_stream.open_cursor(int(request["epoch"]), request.get("state"))
        except Exception as err:  # noqa: BLE001 - reported to the client
            self._send_error(identity, session_id, err)
            return
        self._socket.send_multipart([identity, json.dumps(hello).encode()])
        self._sessions[identity] = _Session(identity, session_id, cursor, int(request.get("credit", self.hwm)))

    def _send_error(self, identity: bytes, session_id: str, err: BaseException) -> None:
        message = {
            "session": session_id,
            "kind": "error",
            "type": type(err).__name__,
            "message": str(err),
            "traceback": traceback.format_exc(),
        }
        self._socket.send_multipart([identity, json.dumps(message).encode()])

    def _send_next(self, session: _Session) -> None:
        try:
            data = session.cursor.next()
        except StopIteration:
            stop = {"session": session.session, "kind": "stop"}
            self._socket.send_multipart([session.identity, json.dumps(stop).encode()])
            self._sessions.pop(session.identity, None)
            session.cursor.close()
            return
        except Exception as err:  # noqa: BLE001 - reported to the client
            self._send_error(session.identity, session.session, err)
            self._sessions.pop(session.identity, None)
            session.cursor.close()
            return
        arrays = []
        for name, value in zip(self.data_stream.sources, data):
            try:
                array = np.asarray(value)
            except ValueError:
                array = np.empty(0, dtype=object)
            if array.dtype.hasobject:
                err = ValueError(
                    f"source {name!r} is not an array of a fixed dtype (ragged or Python objects); the data server "
                    "sends numpy arrays only: pad it (Padding) or encode it"
                )
                self._send_error(session.identity, session.session, err)
                self._sessions.pop(session.identity, None)
                session.cursor.close()
                return
            arrays.append(array)
        session.index += 1
        meta = {
            "session": session.session,
            "kind": "data",
            "index": session.index,
            "state": session.cursor.state_dict(),
        }
        self._socket.send(session.identity, zmq.SNDMORE)
        self._socket.send(json.dumps(meta, default=_json_default).encode(), zmq.SNDMORE)
        send_arrays(self._socket, arrays)
        session.credit -= 1


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot send {type(value).__name__} in a cursor state")


def start_server(data_stream: AbstractDataStream, port: int = 5557, hwm: int = 10, host: str = "127.0.0.1") -> None:
    """Serve ``data_stream`` on ``port`` until interrupted (Fuel's entry point).

    Parameters
    ----------
    data_stream : AbstractDataStream
        The stream to serve.
    port : int
        TCP port.
    hwm : int
        High-water mark (batches buffered per client).
    host : str
        Interface to bind (default loopback; ``'*'`` for every interface).
    """
    server = DataServer(data_stream, port=port, hwm=hwm, host=host)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("data server on port %d interrupted", server.port)
    finally:
        server.stop()


class _ServerCursor(Cursor):
    __slots__ = ("stream", "epoch", "state", "position", "socket", "session", "_signature", "_got_hello")

    def __init__(self, stream: "ServerDataStream", epoch: int, state: Any, position: int):
        self.stream = stream
        self.epoch = epoch
        self.state = state
        self.position = position
        self.socket: zmq.Socket | None = None
        self.session = ""
        self._got_hello = False

    def _connect(self) -> None:
        self._disconnect()
        stream = self.stream
        socket = stream._zmq_context().socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RCVHWM, 0)
        socket.connect(f"tcp://{stream.host}:{stream.port}")
        self.socket = socket
        self.session = uuid.uuid4().hex
        self._got_hello = False
        request = {"cmd": "start", "session": self.session, "epoch": self.epoch, "state": self.state,
                   "credit": stream.hwm}
        socket.send(json.dumps(request).encode())

    def _disconnect(self) -> None:
        if self.socket is not None:
            try:
                self.socket.send(json.dumps({"cmd": "close", "session": self.session}).encode(), zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
            self.socket.close(linger=0)
            self.socket = None

    def next(self) -> tuple[Any, ...]:
        stream = self.stream
        attempts = 0
        if self.socket is None:
            self._connect()
        while True:
            assert self.socket is not None
            if not self.socket.poll(int(stream.timeout * 1000)):
                attempts += 1
                if stream.max_reconnects is not None and attempts > stream.max_reconnects:
                    self._disconnect()
                    raise ConnectionError(
                        f"no answer from the data server at tcp://{stream.host}:{stream.port} after "
                        f"{attempts} tries of {stream.timeout} s; is `fuel-server` running?"
                    )
                logger.warning("data server at port %d silent for %.1f s; reconnecting", stream.port, stream.timeout)
                self._connect()
                continue
            frames = self.socket.recv_multipart(copy=False)
            meta = json.loads(frames[0].bytes)
            if meta.get("session") != self.session:
                continue
            kind = meta.get("kind")
            if kind == "hello":
                stream._check_hello(meta)
                self._got_hello = True
                continue
            if kind == "stop":
                self._disconnect()
                raise StopIteration
            if kind == "error":
                self._disconnect()
                error_type = ValueError if meta.get("type") == "ValueError" else RuntimeError
                raise error_type(f"data server error: {meta.get('message')}\n--- server traceback ---\n"
                                 f"{meta.get('traceback')}")
            headers = json.loads(frames[1].bytes)
            arrays = _arrays_from_frames(headers, frames[2:])
            stream._check_arrays(arrays)
            self.state = meta["state"]
            self.position += 1
            try:
                self.socket.send(json.dumps({"cmd": "credit", "session": self.session, "n": 1}).encode(), zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
            return tuple(arrays)

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position, "child": self.state}

    def close(self) -> None:
        self._disconnect()


class ServerDataStream(AbstractDataStream):
    """The training side of the data server.

    Parameters
    ----------
    sources : sequence of str
        The sources the server's stream must provide (in this order).
    produces_examples : bool
        Whether the server sends examples or batches (checked).
    host : str
        Server host.
    port : int
        Server port.
    hwm : int
        Batches requested ahead of consumption (prefetch depth).
    axis_labels : dict, optional
        Axis labels of the sources.
    timeout : float
        Seconds without a message before reconnecting (and re-asking from the
        last batch received).
    max_reconnects : int or None
        Reconnection attempts before ``ConnectionError`` (``None``: forever).

    Examples
    --------
    >>> s = ServerDataStream(("features", "targets"), produces_examples=False, port=5599)
    >>> s.sources, s.num_requests
    (('features', 'targets'), None)
    """

    def __init__(
        self,
        sources: Sequence[str],
        produces_examples: bool,
        host: str = "localhost",
        port: int = 5557,
        hwm: int = 10,
        axis_labels: Mapping[str, tuple[str, ...]] | None = None,
        timeout: float = 30.0,
        max_reconnects: int | None = 10,
    ):
        if isinstance(sources, str) or not sources:
            raise ValueError(f"sources must be a non-empty sequence of names, got {sources!r}")
        super().__init__(None, axis_labels, produces_examples)
        self._sources = tuple(sources)
        self.host = host
        self.port = int(port)
        if hwm < 1:
            raise ValueError(f"hwm must be >= 1, got {hwm}")
        self.hwm = int(hwm)
        self.timeout = float(timeout)
        self.max_reconnects = max_reconnects
        self._context: zmq.Context | None = None
        self._signature: list[tuple[str, tuple[int, ...]]] | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        """The expected sources."""
        return self._sources

    def _zmq_context(self) -> zmq.Context:
        if self._context is None:
            self._context = zmq.Context.instance()
        return self._context

    def _check_hello(self, hello: dict[str, Any]) -> None:
        served = tuple(hello.get("sources", ()))
        if served != self._sources:
            raise ValueError(
                f"the data server at port {self.port} provides sources {list(served)}, but this ServerDataStream "
                f"expects {list(self._sources)}; make them agree (e.g. FilterSources/Rename on the server side)"
            )
        if bool(hello.get("produces_examples")) != self.produces_examples:
            what = "examples" if hello.get("produces_examples") else "batches"
            raise ValueError(
                f"the data server at port {self.port} sends {what}; ServerDataStream was created with "
                f"produces_examples={self.produces_examples}"
            )

    def _check_arrays(self, arrays: list[np.ndarray]) -> None:
        if len(arrays) != len(self._sources):
            raise ValueError(f"the data server sent {len(arrays)} arrays for sources {list(self._sources)}")
        skip = 0 if self.produces_examples else 1
        signature = [(a.dtype.str, a.shape[skip:]) for a in arrays]
        if self._signature is None:
            self._signature = signature
            return
        for name, (dtype, shape), (old_dtype, old_shape) in zip(self._sources, signature, self._signature):
            if dtype != old_dtype or (len(shape) != len(old_shape)):
                raise ValueError(
                    f"source {name!r} from the data server changed from dtype {old_dtype} with example shape "
                    f"{old_shape} to dtype {dtype} with {shape}; is a different server running on port {self.port}?"
                )

    def open_cursor(self, epoch: int, state: dict[str, Any] | None = None) -> Cursor:
        """A cursor asking the server for ``epoch`` from ``state['child']`` (connects on first ``next``)."""
        child = state.get("child") if state else None
        position = int(state.get("position", 0)) if state else 0
        return _ServerCursor(self, epoch, child, position)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_context"] = None
        return state

    def close(self) -> None:
        """Nothing to release beyond the cursors (Fuel compatibility)."""

