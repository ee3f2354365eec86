"""What a data server accepts from a client: one JSON object per request, checked field by field.

A request that breaks any rule raises :class:`BadRequest`, whose message is
short and safe to send back to the client (no traceback, no server paths).

Examples
--------
>>> parse_request([b'{"cmd": "credit", "session": "s1", "n": 2}'], limit=1024)["n"]
2
>>> parse_request([b'[1, 2]'], limit=1024)
Traceback (most recent call last):
...
fuel._server_requests.BadRequest: a request must be a JSON object, got a JSON array
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["COMMANDS", "MAX_SESSION_ID", "BadRequest", "parse_request"]

COMMANDS = ("start", "credit", "close")
MAX_SESSION_ID = 128

_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


class BadRequest(ValueError):
    """A malformed request; ``session`` is the request's session id when it had a valid one.

    Examples
    --------
    >>> BadRequest("no", session="s1").session
    's1'
    """

    def __init__(self, message: str, session: str | None = None):
        super().__init__(message)
        self.session = session


def _count(value: Any, name: str, session: str, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum:
        raise BadRequest(f"{name!r} must be an integer >= {minimum}, got {_shown(value)}", session)
    return value


def _shown(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _decode(payload: bytes, limit: int) -> Any:
    if len(payload) > limit:
        raise BadRequest(f"a request of {len(payload)} bytes is over this server's limit of {limit} bytes")
    try:
        return json.loads(payload)
    except RecursionError:
        raise BadRequest("the request's JSON is nested too deeply") from None
    except ValueError:  # also UnicodeDecodeError
        raise BadRequest("a request must be UTF-8 JSON text") from None


def parse_request(frames: Sequence[bytes], limit: int) -> dict[str, Any]:
    """The checked request in ``frames`` (the message without the client identity).

    Parameters
    ----------
    frames : sequence of bytes
        The frames after the identity; a request is exactly one frame.
    limit : int
        Largest accepted request, in bytes.

    Returns
    -------
    dict
        ``cmd`` and ``session`` (a non-empty string) always; ``epoch``
        (int >= 0), ``state`` (dict or None) and ``credit`` (int >= 0 or
        None) for ``start``; ``n`` (int >= 0) for ``credit``.

    Raises
    ------
    BadRequest
        Naming the first rule the request breaks.
    """
    if len(frames) != 1:
        raise BadRequest(f"a request is one frame of JSON, got {len(frames)} frames")
    request = _decode(bytes(frames[0]), limit)
    if not isinstance(request, dict):
        raise BadRequest(f"a request must be a JSON object, got a JSON {_JSON_KINDS.get(type(request), 'value')}")
    session = request.get("session")
    if not isinstance(session, str) or not session or len(session) > MAX_SESSION_ID:
        raise BadRequest(f"'session' must be a non-empty string of at most {MAX_SESSION_ID} characters")
    command = request.get("cmd")
    if command not in COMMANDS:
        raise BadRequest(f"unknown command {_shown(command)}; expected one of {', '.join(COMMANDS)}", session)
    checked: dict[str, Any] = {"cmd": command, "session": session}
    if command == "start":
        checked["epoch"] = _count(request.get("epoch"), "epoch", session)
        state = request.get("state")
        if state is not None and not isinstance(state, dict):
            raise BadRequest(f"'state' must be a JSON object or null, got {_shown(state)}", session)
        checked["state"] = state
        credit = request.get("credit")
        checked["credit"] = None if credit is None else _count(credit, "credit", session)
    elif command == "credit":
        checked["n"] = _count(request.get("n", 1), "n", session)
    return checked
