"""``producer_consumer``: a producer process pushing to the caller over a ZeroMQ socket (Fuel's helper).

Examples
--------
>>> from functools import partial
>>> def produce(socket, n):
...     for i in range(n):
...         socket.send_json(i)
>>> def consume(socket):
...     return sum(socket.recv_json() for _ in range(5))
>>> producer_consumer(partial(produce, n=5), consume)  # doctest: +SKIP
10
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["ProducerError", "producer_consumer"]


class ProducerError(RuntimeError):
    """The producer process of :func:`producer_consumer` died before the consumer finished.

    Examples
    --------
    >>> issubclass(ProducerError, RuntimeError)
    True
    """


def _run_producer(producer: Callable[[Any], Any], address: str) -> None:
    import zmq

    context = zmq.Context()
    socket = context.socket(zmq.PUSH)
    finished = False
    try:
        socket.connect(address)
        producer(socket)
        finished = True
    finally:
        # after a success, the default linger delivers what was sent before the process exits
        socket.close(linger=None if finished else 0)
        context.term()


def _watch(process: Any, done: threading.Event, died: list[int], context: Any) -> None:
    while not done.is_set():
        process.join(0.05)
        if process.exitcode is not None and process.exitcode != 0 and not done.is_set():
            died.append(process.exitcode)
            context.term()  # unblocks the consumer's recv with ContextTerminated
            return


def producer_consumer(
    producer: Callable[[Any], Any],
    consumer: Callable[[Any], Any],
    addr: str = "tcp://127.0.0.1",
    port: int | None = None,
    context: Any = None,
) -> Any:
    """Run ``producer(push_socket)`` in a child process and return ``consumer(pull_socket)``.

    The caller binds a ZeroMQ PULL socket (a random port unless ``port`` is
    given) and starts a process (the default ``multiprocessing`` start
    method) in which ``producer`` receives a PUSH socket connected to it. When
    the consumer returns, the producer is stopped. Bind ``functools.partial``
    to pass other arguments; with the ``spawn`` start method ``producer``
    must be picklable.

    Parameters
    ----------
    producer : callable
        Takes the PUSH socket.
    consumer : callable
        Takes the PULL socket; its result is returned.
    addr : str
        Address to bind and connect (default ``tcp://127.0.0.1``).
    port : int, optional
        Port to bind (default: a free one).
    context : zmq.Context, optional
        Context of the PULL socket (default: a new one, terminated at the end).

    Raises
    ------
    ProducerError
        The producer process exited with an error while the consumer was
        waiting (only detected with the default ``context``: a given one is
        never terminated here).

    Examples
    --------
    >>> producer_consumer.__name__
    'producer_consumer'
    """
    import zmq

    own_context = context is None
    if own_context:
        context = zmq.Context()
    socket = context.socket(zmq.PULL)
    done = threading.Event()
    producer_process = None
    try:
        if port is None:
            port = socket.bind_to_random_port(addr)
        else:
            socket.bind(f"{addr}:{port}")
        producer_process = _ProducerProcess(producer, f"{addr}:{port}", done, context if own_context else None)
        return _consume(consumer, socket, producer_process.died)
    finally:
        done.set()
        socket.close(linger=0)
        if producer_process is not None:
            producer_process.stop()
        if own_context and not (producer_process is not None and producer_process.died):
            context.term()  # (a producer that died had it terminated already)


class _ProducerProcess:
    """The producer's child process and, given the consumer's context, a thread that notices it dying.

    The thread terminates ``context`` when the process exits with an error
    before ``done`` is set, so the consumer's blocked ``recv`` ends with
    ``zmq.ContextTerminated``; :attr:`died` then holds the exit code.
    """

    def __init__(self, producer: Callable[[Any], Any], address: str, done: threading.Event,
                 context: Any = None) -> None:
        self.died: list[int] = []
        self.process = multiprocessing.Process(target=_run_producer, args=(producer, address), daemon=True)
        self.process.start()
        self.watcher = None
        if context is not None:
            try:
                self.watcher = threading.Thread(target=_watch, args=(self.process, done, self.died, context),
                                                daemon=True)
                self.watcher.start()
            except BaseException:
                self.watcher = None
                self.stop()
                raise

    def stop(self) -> None:
        """End the process (the consumer is done: whatever it still sends is not wanted) and the thread."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        if self.watcher is not None:
            self.watcher.join()


def _consume(consumer: Callable[[Any], Any], socket: Any, died: list[int]) -> Any:
    """``consumer(socket)``; a context terminated because the producer died is a :class:`ProducerError`."""
    import zmq

    try:
        return consumer(socket)
    except zmq.ContextTerminated as err:
        if died:
            raise ProducerError(
                f"the producer process exited with code {died[0]} before the consumer finished (its "
                "traceback is above)"
            ) from err
        raise
