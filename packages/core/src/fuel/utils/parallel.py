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
    process = None
    done = threading.Event()
    died: list[int] = []
    watcher = None
    try:
        if port is None:
            port = socket.bind_to_random_port(addr)
        else:
            socket.bind(f"{addr}:{port}")
        process = multiprocessing.Process(target=_run_producer, args=(producer, f"{addr}:{port}"), daemon=True)
        process.start()
        if own_context:
            watcher = threading.Thread(target=_watch, args=(process, done, died, context), daemon=True)
            watcher.start()
        try:
            return consumer(socket)
        except zmq.ContextTerminated as err:
            if died:
                raise ProducerError(
                    f"the producer process exited with code {died[0]} before the consumer finished (its "
                    "traceback is above)"
                ) from err
            raise
    finally:
        done.set()
        socket.close(linger=0)
        if process is not None:
            if process.is_alive():
                process.terminate()
            process.join()
        if watcher is not None:
            watcher.join()
        if own_context and not died:
            context.term()
