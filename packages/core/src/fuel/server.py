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

Faults: a malformed request gets a short error reply (never the server's
traceback, which goes to the server's log) and the server goes on serving the
other clients; credit is capped at the server's ``hwm``, requests at
``max_request_bytes``. The client tells a dead server from a slow one with
ZeroMQ heartbeats (answered by the server's I/O thread even while its stream
computes a batch): no connection within ``connect_timeout`` seconds, or a
connection lost and not re-established within it, is a ``ConnectionError``;
a live server that sends no batch for ``timeout`` seconds is a
``TimeoutError``.

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
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import zmq
from numpy.lib.format import header_data_from_array_1_0
from zmq.utils.monitor import recv_monitor_message

from fuel._server_requests import BadRequest, parse_request
from fuel.iterator import Cursor
from fuel.streams import AbstractDataStream

__all__ = ["DataServer", "ServerDataStream", "recv_arrays", "send_arrays", "start_server"]

logger = logging.getLogger(__name__)

_PROTOCOL = "fuel-server/1"
MAX_REQUEST_BYTES = 16 * 2**20
#: clients a server serves at once by default
MAX_SESSIONS = 64
_MAX_ERROR_MESSAGE = 1000
_IDLE_PROBE_S = 10.0
_RECEIVES_PER_TURN = 256


def _array_frames(arrays: Sequence[np.ndarray]) -> list[Any]:
    """The JSON header frame and the buffers of ``arrays`` (Fuel's wire format)."""
    arrays = [np.ascontiguousarray(array) for array in arrays]
    for array in arrays:
        if array.dtype.hasobject:
            raise ValueError("send_arrays cannot send object arrays (ragged or Python objects); pad or encode them")
    headers = [header_data_from_array_1_0(array) for array in arrays]
    return [json.dumps(headers).encode(), *arrays]


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
    frames = _array_frames(arrays)
    for frame in frames[:-1]:
        socket.send(frame, zmq.SNDMORE, copy=False)
    socket.send(frames[-1], flags, copy=False)


def _arrays_from_frames(headers: Any, frames: Sequence[Any]) -> list[np.ndarray]:
    """The arrays that ``headers`` describe in ``frames``; ``ValueError`` for anything malformed."""
    if not isinstance(headers, list):
        raise ValueError(f"array headers must be a JSON list, got {type(headers).__name__}")
    if len(frames) != len(headers):
        raise ValueError(f"message has {len(frames)} buffers for {len(headers)} array headers")
    arrays = []
    for header, frame in zip(headers, frames):
        buffer = frame.buffer if hasattr(frame, "buffer") else frame
        try:
            dtype = np.dtype(_descr(header["descr"]))
            if dtype.hasobject:
                raise ValueError("object arrays cannot be received")
            array = np.frombuffer(buffer, dtype=dtype)
            shape = tuple(int(n) for n in header["shape"])
            if header["fortran_order"]:
                array = array.reshape(shape[::-1]).transpose()
            else:
                array = array.reshape(shape)
        except (KeyError, TypeError, ValueError, RecursionError) as err:
            raise ValueError(f"malformed array header {str(header)[:200]}: {err}") from None
        arrays.append(array)
    return arrays


def _descr(descr: Any) -> Any:
    if isinstance(descr, list):
        return [tuple(_descr(x) if isinstance(x, list) else x for x in field) for field in descr]
    return descr


def recv_arrays(socket: zmq.Socket) -> list[np.ndarray]:
    """Receive what :func:`send_arrays` sent (``StopIteration`` on a stop message).

    The arrays are read-only views of the received ZeroMQ frames; a malformed
    message is a ``ValueError``.
    """
    frames = socket.recv_multipart(copy=False)
    try:
        headers = json.loads(frames[0].bytes)
    except (ValueError, RecursionError) as err:
        raise ValueError(f"malformed array message: its first frame is not JSON ({err})") from None
    if isinstance(headers, dict) and headers.get("stop"):
        raise StopIteration
    return _arrays_from_frames(headers, frames[1:])


class _Session:
    __slots__ = ("identity", "session", "cursor", "credit", "index", "last_sent")

    def __init__(self, identity: bytes, session: str, cursor: Cursor, credit: int):
        self.identity = identity
        self.session = session
        self.cursor = cursor
        self.credit = credit
        self.index = 0
        self.last_sent = time.monotonic()


def _short(err: BaseException) -> str:
    text = str(err)
    return text if len(text) <= _MAX_ERROR_MESSAGE else text[: _MAX_ERROR_MESSAGE - 3] + "..."


class DataServer:
    """Serve a stream to :class:`ServerDataStream` clients.

    One process serves many clients, each with its own epoch cursor. A
    malformed request gets a short error reply and does not disturb the other
    clients; the server's tracebacks go to its log (``logging``), never to a
    client. A client holds at most ``hwm`` unanswered batches (larger credit
    is capped), and a client that stops reading or disconnects loses its
    session.

    Parameters
    ----------
    data_stream : AbstractDataStream
        The stream (each client session gets its own epoch cursor).
    port : int
        TCP port; 0 picks a free one (see :attr:`port`).
    hwm : int
        Batches a client may have in flight (its credit is capped at this);
        the socket's high-water marks are set from it.
    host : str
        Interface to bind (``'127.0.0.1'``; ``'*'`` for all interfaces).
    max_request_bytes : int
        Largest request accepted, in bytes (a start request carries the
        client's resume state); larger ones get an error reply, and ZeroMQ
        drops the connection of a client sending more than twice this.
    heartbeat : float
        Seconds between ZeroMQ heartbeats to each client; a client silent for
        three intervals is disconnected.
    max_sessions : int
        Clients served at once (each holds an epoch cursor); a start request
        beyond this gets an error reply naming the limit, so many connections
        cannot exhaust the server's memory or file descriptors.

    Examples
    --------
    >>> from fuel.datasets import IndexableDataset
    >>> from fuel.streams import DataStream
    >>> server = DataServer(DataStream(IndexableDataset({"x": [1.0]})), port=0)
    >>> server.port > 0
    True
    >>> server.stop()
    """

    def __init__(
        self,
        data_stream: AbstractDataStream,
        port: int = 5557,
        hwm: int = 10,
        host: str = "127.0.0.1",
        max_request_bytes: int = MAX_REQUEST_BYTES,
        heartbeat: float = 2.0,
        max_sessions: int = MAX_SESSIONS,
    ):
        if not isinstance(data_stream, AbstractDataStream):
            raise ValueError(f"start_server needs a data stream, got {type(data_stream).__name__}")
        _check_schemes(data_stream)
        if int(hwm) < 1:
            raise ValueError(f"hwm must be >= 1, got {hwm}")
        if int(max_request_bytes) < 1024:
            raise ValueError(f"max_request_bytes must be >= 1024, got {max_request_bytes}")
        if not heartbeat > 0:
            raise ValueError(f"heartbeat must be > 0 seconds, got {heartbeat}")
        if int(max_sessions) < 1:
            raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
        self.max_sessions = int(max_sessions)
        self.data_stream = data_stream
        self.hwm = int(hwm)
        self.max_request_bytes = int(max_request_bytes)
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.ROUTER)
        self._configure(self._socket, heartbeat)
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
        self.idle_probe = _IDLE_PROBE_S  # seconds a session may be idle before the server checks its client
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def _configure(self, socket: zmq.Socket, heartbeat: float) -> None:
        # a conforming client has at most hwm batches in flight; the writer sees the reader's progress in steps
        # of half the high-water mark, hence the factor 2 (and room for hello/stop/ping messages)
        queue = 2 * self.hwm + 16
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.SNDHWM, queue)
        socket.setsockopt(zmq.RCVHWM, queue)
        socket.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a full queue or a gone client raises instead of dropping
        socket.setsockopt(zmq.SNDTIMEO, 0)
        socket.setsockopt(zmq.MAXMSGSIZE, 2 * self.max_request_bytes)
        socket.setsockopt(zmq.HEARTBEAT_IVL, max(1, int(heartbeat * 1000)))
        socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, max(1, int(3 * heartbeat * 1000)))

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
                received = 0
                while self._socket in events and received < _RECEIVES_PER_TURN:
                    self._receive()
                    received += 1
                    events = dict(poller.poll(0))
                for session in list(self._sessions.values()):
                    if session.credit > 0:
                        self._serve(session)
                self._probe_idle()
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
        for session in list(self._sessions.values()):
            self._end(session)
        self._socket.close(linger=0)
        self._context.term()

    # -- sending ---------------------------------------------------------------------
    def _send(self, identity: bytes, frames: Sequence[Any]) -> bool:
        """Send one message to a client; ``False`` when it is gone or not reading (nothing was sent)."""
        try:
            self._socket.send_multipart([identity, *frames], copy=False)
        except zmq.Again:
            logger.warning("data server: client %s does not read its messages; ending its session", identity.hex())
            return False
        except zmq.ZMQError as err:
            if err.errno != zmq.EHOSTUNREACH:
                raise
            logger.info("data server: client %s disconnected", identity.hex())
            return False
        return True

    def _send_error(self, identity: bytes, session_id: str | None, kind: str, message: str) -> None:
        reply = {"session": session_id, "kind": "error", "type": kind, "message": message}
        self._send(identity, [json.dumps(reply).encode()])

    def _end(self, session: _Session, err: BaseException | None = None) -> None:
        """Forget a session and close its cursor; tell the client ``err`` (short) if given."""
        if self._sessions.get(session.identity) is session:
            del self._sessions[session.identity]
        try:
            session.cursor.close()
        except Exception:  # noqa: BLE001 - a failing close must not stop the server
            logger.exception("data server: closing the cursor of session %s failed", session.session)
        if err is not None:
            kind = "ValueError" if isinstance(err, ValueError) else type(err).__name__
            self._send_error(session.identity, session.session, kind, _short(err))

    def _probe_idle(self) -> None:
        """Ping sessions idle for a while: one whose client is gone is ended (its cursor closed)."""
        now = time.monotonic()
        for session in list(self._sessions.values()):
            if now - session.last_sent > self.idle_probe:
                session.last_sent = now
                ping = json.dumps({"session": session.session, "kind": "ping"}).encode()
                if not self._send(session.identity, [ping]):
                    self._end(session)

    # -- requests --------------------------------------------------------------------
    def _receive(self) -> None:
        frames = self._socket.recv_multipart()
        identity = frames[0]
        try:
            request = parse_request(frames[1:], self.max_request_bytes)
            if request["cmd"] == "start":
                self._start(identity, request)
            elif request["cmd"] == "credit":
                self._credit(identity, request)
            else:
                current = self._sessions.get(identity)
                if current is not None and current.session == request["session"]:
                    self._end(current)
        except BadRequest as err:
            logger.warning("data server: bad request from client %s: %s", identity.hex(), err)
            current = self._sessions.get(identity)
            if current is not None and current.session == err.session:
                self._end(current)
            self._send_error(identity, err.session, "ValueError", f"bad request: {err}")

    def _credit(self, identity: bytes, request: dict[str, Any]) -> None:
        session = self._sessions.get(identity)
        if session is not None and session.session == request["session"]:  # else: late credit of an ended epoch
            session.credit = min(session.credit + request["n"], self.hwm)

    def _start(self, identity: bytes, request: dict[str, Any]) -> None:
        previous = self._sessions.get(identity)
        if previous is not None:
            self._end(previous)
        session_id = request["session"]
        if len(self._sessions) >= self.max_sessions:
            logger.warning("data server: refused client %s: %d sessions already", identity.hex(), self.max_sessions)
            self._send_error(identity, session_id, "RuntimeError",
                             f"the server is busy: it serves {self.max_sessions} clients already (max_sessions); "
                             "retry when one has finished, or start the server with a larger --max-sessions")
            return
        credit = self.hwm if request["credit"] is None else min(request["credit"], self.hwm)
        try:
            cursor = self.data_stream.open_cursor(request["epoch"], request["state"])
        except Exception as err:  # noqa: BLE001 - reported to the client, logged here
            logger.warning("data server: session %s cannot start epoch %d", session_id, request["epoch"],
                           exc_info=True)
            self._send_error(identity, session_id, "ValueError" if isinstance(err, ValueError) else
                             type(err).__name__, _short(err))
            return
        session = _Session(identity, session_id, cursor, credit)
        hello = {
            "protocol": _PROTOCOL,
            "session": session_id,
            "kind": "hello",
            "sources": list(self.data_stream.sources),
            "produces_examples": self.data_stream.produces_examples,
        }
        self._sessions[identity] = session
        if not self._send(identity, [json.dumps(hello).encode()]):
            self._end(session)

    # -- batches ---------------------------------------------------------------------
    def _serve(self, session: _Session) -> None:
        """Send the session's next batch; any failure ends that session only."""
        try:
            self._send_next(session)
        except Exception as err:  # noqa: BLE001 - one client's failure must not stop the server
            logger.exception("data server: session %s failed", session.session)
            self._end(session, err)

    def _send_next(self, session: _Session) -> None:
        try:
            data = session.cursor.next()
        except StopIteration:
            stop = {"session": session.session, "kind": "stop"}
            self._end(session)
            self._send(session.identity, [json.dumps(stop).encode()])
            return
        arrays = []
        for name, value in zip(self.data_stream.sources, data):
            try:
                array = np.asarray(value)
            except ValueError:
                array = np.empty(0, dtype=object)
            if array.dtype.hasobject:
                raise ValueError(
                    f"source {name!r} is not an array of a fixed dtype (ragged or Python objects); the data server "
                    "sends numpy arrays only: pad it (Padding) or encode it"
                )
            arrays.append(array)
        meta = {
            "session": session.session,
            "kind": "data",
            "index": session.index + 1,
            "state": session.cursor.state_dict(),
        }
        frames = [json.dumps(meta, default=_json_default).encode(), *_array_frames(arrays)]
        if not self._send(session.identity, frames):
            self._end(session)
            return
        session.index += 1
        session.credit -= 1
        session.last_sent = time.monotonic()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot send {type(value).__name__} in a cursor state")


def _check_schemes(data_stream: AbstractDataStream) -> None:
    """Refuse a scheme whose epochs clients could not resume (one drawing from a shared RandomState)."""
    from fuel.schemes import IterationScheme
    from fuel.transformers.background import iter_chain

    for item in iter_chain(data_stream):
        if isinstance(item, IterationScheme):
            item.check_worker_safe()


def start_server(
    data_stream: AbstractDataStream,
    port: int = 5557,
    hwm: int = 10,
    host: str = "127.0.0.1",
    max_request_bytes: int = MAX_REQUEST_BYTES,
    heartbeat: float = 2.0,
    max_sessions: int = MAX_SESSIONS,
) -> None:
    """Serve ``data_stream`` on ``port`` until interrupted (Fuel's entry point).

    Parameters
    ----------
    data_stream : AbstractDataStream
        The stream to serve.
    port : int
        TCP port.
    hwm : int
        High-water mark (batches in flight per client).
    host : str
        Interface to bind (default loopback; ``'*'`` for every interface).
    max_request_bytes : int
        Largest request accepted (see :class:`DataServer`).
    heartbeat : float
        Seconds between ZeroMQ heartbeats (see :class:`DataServer`).
    max_sessions : int
        Clients served at once (see :class:`DataServer`).
    """
    server = DataServer(data_stream, port=port, hwm=hwm, host=host, max_request_bytes=max_request_bytes,
                        heartbeat=heartbeat, max_sessions=max_sessions)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("data server on port %d interrupted", server.port)
    finally:
        server.stop()


_CONNECTION_EVENTS = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


class _ServerCursor(Cursor):
    """One epoch read from the server: a DEALER socket, a monitor of its connection, the last state received."""

    __slots__ = ("stream", "epoch", "state", "position", "socket", "monitor", "poller", "session", "connected",
                 "since", "reconnecting", "handshake_failed")

    def __init__(self, stream: "ServerDataStream", epoch: int, state: Any, position: int):
        self.stream = stream
        self.epoch = epoch
        self.state = state
        self.position = position
        self.socket: zmq.Socket | None = None
        self.monitor: zmq.Socket | None = None
        self.poller: zmq.Poller | None = None
        self.session = ""
        self.connected = False
        self.since = 0.0
        self.reconnecting = False
        self.handshake_failed = False

    # -- connection ------------------------------------------------------------------
    def _connect(self) -> None:
        """A fresh socket and session asking for the epoch from the last state received."""
        self._disconnect()
        stream = self.stream
        socket = stream._zmq_context().socket(zmq.DEALER)
        beat = max(1, int(stream.heartbeat * 1000))
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RCVHWM, 0)  # the credit bounds what the server sends
        socket.setsockopt(zmq.HEARTBEAT_IVL, beat)
        socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * beat)
        socket.setsockopt(zmq.HEARTBEAT_TTL, min(3 * beat, 6_553_500))
        self.monitor = socket.get_monitor_socket(_CONNECTION_EVENTS)
        socket.connect(stream.address)
        self.poller = zmq.Poller()
        self.poller.register(socket, zmq.POLLIN)
        self.poller.register(self.monitor, zmq.POLLIN)
        self.socket = socket
        self.session = uuid.uuid4().hex
        self.connected = False
        self.handshake_failed = False
        self.since = time.monotonic()
        request = {"cmd": "start", "session": self.session, "epoch": self.epoch, "state": self.state,
                   "credit": stream.hwm}
        socket.send(json.dumps(request).encode())

    def _disconnect(self) -> None:
        if self.socket is None:
            return
        socket, monitor, self.socket, self.monitor, self.poller = self.socket, self.monitor, None, None, None
        try:
            socket.send(json.dumps({"cmd": "close", "session": self.session}).encode(), zmq.NOBLOCK)
        except zmq.ZMQError:
            pass
        socket.disable_monitor()
        if monitor is not None:
            monitor.close(linger=0)
        # the close request goes out in the background if the server is there (the context is never terminated)
        socket.close(linger=100 if self.connected else 0)
        self.connected = False

    def _watch(self) -> bool:
        """Read the monitor's events; ``True`` when an established connection was lost."""
        assert self.monitor is not None
        lost = False
        while self.monitor.poll(0):
            event = recv_monitor_message(self.monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.connected, self.since = True, time.monotonic()
            elif event & _HANDSHAKE_FAILED:
                self.handshake_failed = True
            elif event == zmq.EVENT_DISCONNECTED and self.connected:
                lost = True
        return lost

    def _deadline(self, asked: float) -> float | None:
        """When the current wait (for a connection, or for a batch) runs out; ``None``: never."""
        stream = self.stream
        if not self.connected:
            return None if stream.connect_timeout is None else self.since + stream.connect_timeout
        return None if stream.timeout is None else max(asked, self.since) + stream.timeout

    def _wait_ms(self, asked: float) -> int:
        deadline = self._deadline(asked)
        if deadline is None:
            return 1000
        return max(1, min(1000, int((deadline - time.monotonic()) * 1000) + 1))

    def _deadline_passed(self, asked: float) -> None:
        """Raise when the connection or the batch has waited too long."""
        stream, deadline = self.stream, self._deadline(asked)
        if deadline is None or time.monotonic() <= deadline:
            return
        if not self.connected:
            self._disconnect()
            if self.reconnecting:
                raise ConnectionError(
                    f"lost the connection to the data server at {stream.address} and could not reconnect within "
                    f"connect_timeout={stream.connect_timeout} s: the server stopped or its machine is unreachable"
                )
            hint = " (a connection was accepted but the ZeroMQ handshake failed: is that a fuel-server?)"
            raise ConnectionError(
                f"no data server answered at {stream.address} within connect_timeout={stream.connect_timeout} s"
                f"{hint if self.handshake_failed else ''}; is `fuel-server` running there?"
            )
        self._disconnect()
        raise TimeoutError(
            f"the data server at {stream.address} is up (it answers heartbeats) but sent no batch for "
            f"{stream.timeout} s: its stream is slow or stuck; see the server's log, or give "
            "ServerDataStream a larger timeout"
        )

    # -- reading ---------------------------------------------------------------------
    def next(self) -> tuple[Any, ...]:
        stream = self.stream
        if self.socket is None:
            self._connect()
        lost = 0
        asked = time.monotonic()
        while True:
            assert self.poller is not None
            events = dict(self.poller.poll(self._wait_ms(asked)))
            if self.socket in events:
                batch = self._receive()
                if batch is not None:
                    return batch
            elif self.monitor in events:
                if self._watch():
                    lost += 1
                    if stream.max_reconnects is not None and lost > stream.max_reconnects:
                        self._disconnect()
                        raise ConnectionError(
                            f"lost the connection to the data server at {stream.address} {lost} times while "
                            f"waiting for one batch (max_reconnects={stream.max_reconnects})"
                        )
                    logger.warning("lost the connection to the data server at %s; reconnecting and asking again "
                                   "from the last batch received", stream.address)
                    self._connect()
                    self.reconnecting = True
                    asked = time.monotonic()
            self._deadline_passed(asked)

    def _malformed(self, reason: str) -> ValueError:
        self._disconnect()
        return ValueError(f"malformed message from the data server at {self.stream.address}: {reason}")

    def _receive(self) -> tuple[Any, ...] | None:
        """Handle one message: the batch it carries, or ``None`` for a message that is not a batch."""
        assert self.socket is not None
        frames = self.socket.recv_multipart(copy=False)
        self.connected = True
        try:
            meta = json.loads(frames[0].bytes)
        except (ValueError, RecursionError):
            raise self._malformed("its first frame is not JSON") from None
        if not isinstance(meta, dict):
            raise self._malformed(f"expected a JSON object, got {type(meta).__name__}")
        if meta.get("session") != self.session:
            return None
        kind = meta.get("kind")
        if kind == "hello":
            if not isinstance(meta.get("sources"), list):
                raise self._malformed("its hello names no list of sources")
            try:
                self.stream._check_hello(meta)
            except ValueError:
                self._disconnect()
                raise
            self.reconnecting = False
            return None
        if kind == "ping":
            return None
        if kind == "stop":
            self._disconnect()
            raise StopIteration
        if kind == "error":
            self._disconnect()
            error_type = ValueError if meta.get("type") == "ValueError" else RuntimeError
            raise error_type(f"data server error: {str(meta.get('type'))[:100]}: {str(meta.get('message'))[:2000]}")
        if kind != "data" or len(frames) < 2:
            raise self._malformed(f"unknown message kind {str(kind)[:100]!r}")
        return self._batch(meta, frames)

    def _batch(self, meta: dict[str, Any], frames: list[Any]) -> tuple[Any, ...]:
        try:
            arrays = _arrays_from_frames(json.loads(frames[1].bytes), frames[2:])
        except (ValueError, RecursionError) as err:
            raise self._malformed(str(err)) from None
        try:
            self.stream._check_arrays(arrays)
        except ValueError:
            self._disconnect()
            raise
        self.state = meta.get("state")
        self.position += 1
        assert self.socket is not None
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

    A dead server is told apart from a slow one by ZeroMQ heartbeats, which
    the server's I/O thread answers even while its stream computes a batch: a
    server that accepts no connection within ``connect_timeout`` (at the start,
    or after a lost connection: the client reconnects and asks again from the
    last batch it received) is a ``ConnectionError``; a server that answers
    heartbeats but sends no batch for ``timeout`` seconds is a
    ``TimeoutError``. With the defaults a stopped server is reported within
    about 10 s, an unreachable machine within about 20 s, and a first batch
    may take up to 5 minutes.

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
        Batches requested ahead of consumption (prefetch depth; the server
        caps it at its own ``hwm``).
    axis_labels : dict, optional
        Axis labels of the sources.
    timeout : float or None
        Seconds a connected, live server may take to send a batch before
        ``TimeoutError`` (``None``: wait as long as it lives).
    max_reconnects : int or None
        Lost connections re-established while waiting for one batch before
        ``ConnectionError`` (``None``: no limit).
    connect_timeout : float or None
        Seconds to wait for the server to accept a connection, at the start
        and after a lost connection, before ``ConnectionError`` (``None``:
        forever).
    heartbeat : float
        Seconds between ZeroMQ heartbeats; a connection that carries nothing
        for three intervals is lost.

    Examples
    --------
    >>> s = ServerDataStream(("features", "targets"), produces_examples=False, port=5599)
    >>> s.sources, s.num_requests, s.connect_timeout
    (('features', 'targets'), None, 10.0)
    """

    def __init__(
        self,
        sources: Sequence[str],
        produces_examples: bool,
        host: str = "localhost",
        port: int = 5557,
        hwm: int = 10,
        axis_labels: Mapping[str, tuple[str, ...]] | None = None,
        timeout: float | None = 300.0,
        max_reconnects: int | None = 10,
        connect_timeout: float | None = 10.0,
        heartbeat: float = 2.0,
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
        self.timeout = _seconds(timeout, "timeout")
        self.connect_timeout = _seconds(connect_timeout, "connect_timeout")
        if heartbeat is None or not heartbeat > 0:
            raise ValueError(f"heartbeat must be > 0 seconds, got {heartbeat}")
        self.heartbeat = float(heartbeat)
        self.max_reconnects = max_reconnects
        self._context: zmq.Context | None = None
        self._signature: list[tuple[str, tuple[int, ...]]] | None = None

    @property
    def address(self) -> str:
        """The server's ZeroMQ address (``tcp://host:port``)."""
        return f"tcp://{self.host}:{self.port}"

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


def _seconds(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if not float(value) > 0:
        raise ValueError(f"{name} must be > 0 seconds or None, got {value}")
    return float(value)
