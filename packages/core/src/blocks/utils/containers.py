"""Blocks' plain-Python helpers: packing arguments, dictionaries, representations, brick search."""

from __future__ import annotations

import contextlib
import sys
from collections import OrderedDict, deque
from collections.abc import MutableSequence
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

__all__ = [
    "AnnotatingList",
    "change_recursion_limit",
    "dict_subset",
    "dict_union",
    "extract_args",
    "find_bricks",
    "pack",
    "repr_attrs",
    "reraise_as",
    "unpack",
]


def pack(arg: Any) -> list[Any]:
    """A list of ``arg``: lists are copied, tuples converted, anything else wrapped.

    Examples
    --------
    >>> pack((1, 2)), pack([1]), pack("ab"), pack(None)
    ([1, 2], [1], ['ab'], [None])
    """
    if isinstance(arg, (list, tuple)):
        return list(arg)
    return [arg]


def unpack(arg: Any, singleton: bool = False) -> Any:
    """The only element of a one-element list or tuple; other lists and tuples as lists; anything else as is.

    Parameters
    ----------
    arg : object
    singleton : bool
        Require a one-element list or tuple (``ValueError`` otherwise).

    Examples
    --------
    >>> unpack([5]), unpack((1, 2)), unpack("x")
    (5, [1, 2], 'x')
    >>> unpack([1, 2], singleton=True)
    Traceback (most recent call last):
    ...
    ValueError: expected a singleton, got [1, 2]
    """
    if isinstance(arg, (list, tuple)):
        if len(arg) == 1:
            return arg[0]
        if singleton:
            raise ValueError(f"expected a singleton, got {arg!r}")
        return list(arg)
    return arg


def dict_subset(dict_: dict, keys: Iterable[Any], pop: bool = False, must_have: bool = True) -> OrderedDict:
    """The items of ``dict_`` whose keys are in ``keys``, in the order of ``keys``.

    Parameters
    ----------
    dict_ : dict
    keys : iterable
    pop : bool
        Remove the items from ``dict_``.
    must_have : bool
        A missing key is a ``KeyError``; otherwise it is skipped.

    Examples
    --------
    >>> d = {"a": 1, "b": 2, "c": 3}
    >>> list(dict_subset(d, ["c", "a"]).items())
    [('c', 3), ('a', 1)]
    >>> dict(dict_subset(d, ["a", "z"], pop=True, must_have=False)), d
    ({'a': 1}, {'b': 2, 'c': 3})
    """
    result: OrderedDict = OrderedDict()
    for key in keys:
        if key in dict_:
            result[key] = dict_.pop(key) if pop else dict_[key]
        elif must_have:
            raise KeyError(key)
    return result


def dict_union(*dicts: Mapping, **kwargs: Any) -> dict:
    """The union of dictionaries with no key in common (an ``OrderedDict`` if the first is one).

    Raises
    ------
    ValueError
        When a key appears twice (the error lists them).

    Examples
    --------
    >>> dict_union({"a": 1}, {"b": 2}, c=3)
    {'a': 1, 'b': 2, 'c': 3}
    >>> dict_union({"a": 1}, a=2)
    Traceback (most recent call last):
    ...
    ValueError: The following keys have duplicate entries: a
    """
    result: dict = OrderedDict() if dicts and isinstance(dicts[0], OrderedDict) else {}
    for mapping in (*dicts, kwargs):
        duplicates = [key for key in mapping if key in result]
        if duplicates:
            raise ValueError("The following keys have duplicate entries: " + ", ".join(map(str, duplicates)))
        result.update(mapping)
    return result


def repr_attrs(instance: Any, *attrs: str) -> str:
    """``<module.Class object at 0x...: a=1, b=2>``, or without the attributes if one cannot be read.

    Examples
    --------
    >>> class Point:
    ...     x, y = 1, 2
    >>> repr_attrs(Point(), "x", "y").endswith(": x=1, y=2>")
    True
    """
    cls = type(instance)
    head = f"<{cls.__module__}.{cls.__name__} object at {id(instance):#x}"
    if not attrs:
        return head + ">"
    try:
        return head + ": " + ", ".join(f"{attr}={getattr(instance, attr)}" for attr in attrs) + ">"
    except Exception:  # noqa: BLE001 - a representation must not fail
        return head + ">"


def reraise_as(new_exc: BaseException | str) -> None:
    """Raise ``new_exc`` from the exception being handled, with its message appended.

    A string is raised as an exception of the handled one's type.

    Examples
    --------
    >>> try:
    ...     try:
    ...         {}["key"]
    ...     except KeyError:
    ...         reraise_as(ValueError("while reading the configuration"))
    ... except ValueError as err:
    ...     print(err)
    while reading the configuration
    <BLANKLINE>
    Original exception:
        KeyError: key
    """
    original = sys.exc_info()[1]
    if original is None:
        raise ValueError("reraise_as must be called while an exception is being handled")
    if isinstance(new_exc, str):
        new_exc = type(original)(new_exc)
    message = ", ".join(str(arg) for arg in new_exc.args)
    details = ", ".join(str(arg) for arg in original.args)
    message += f"\n\nOriginal exception:\n    {type(original).__name__}" + (f": {details}" if details else "")
    new_exc.args = (message, *new_exc.args[1:])
    raise new_exc.with_traceback(original.__traceback__) from original


@contextlib.contextmanager
def change_recursion_limit(limit: int) -> Iterator[None]:
    """Raise the recursion limit to at least ``limit`` inside the ``with`` block.

    Examples
    --------
    >>> import sys
    >>> with change_recursion_limit(sys.getrecursionlimit() + 10):
    ...     pass
    """
    old = sys.getrecursionlimit()
    if old < limit:
        sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def extract_args(expected: Sequence[str], *args: Any, **kwargs: Any) -> OrderedDict:
    """Map positional and keyword arguments to the names ``expected``, checking the call.

    Raises
    ------
    KeyError
        For a keyword that is not expected.
    TypeError
        For a name given both positionally and by keyword.
    ValueError
        When an expected name gets no value.

    Examples
    --------
    >>> dict(extract_args(["x", "y"], 1, y=2))
    {'x': 1, 'y': 2}
    """
    routed = dict(zip(expected, args))
    for name, value in kwargs.items():
        if name not in expected:
            raise KeyError(f"invalid input name: {name}")
        if name in routed:
            raise TypeError(f"got multiple values for argument '{name}'")
        routed[name] = value
    missing = [name for name in expected if name not in routed]
    if missing:
        raise ValueError(f"missing values for inputs: {missing}")
    return OrderedDict((name, routed[name]) for name in expected)


def find_bricks(top_bricks: Iterable[Any], predicate: Callable[[Any], bool]) -> list[Any]:
    """The bricks under ``top_bricks`` (themselves included) that satisfy ``predicate``, breadth first, once each.

    Examples
    --------
    >>> from blocks.bricks import MLP, Tanh
    >>> mlp = MLP([Tanh(), Tanh()], [2, 3, 4])
    >>> len(find_bricks([mlp], lambda brick: isinstance(brick, Tanh)))
    2
    """
    found: list[Any] = []
    seen: set[int] = set()
    queue = deque(top_bricks)
    while queue:
        brick = queue.popleft()
        if id(brick) in seen:
            continue
        seen.add(id(brick))
        if predicate(brick):
            found.append(brick)
        queue.extend(brick.children)
    return found


class AnnotatingList(MutableSequence):
    """A list that calls ``_setitem(key, value)`` before each assignment and ``_delitem(key)`` before each deletion.

    Subclasses override the two hooks to annotate (or refuse) what enters
    and leaves the list; ``insert`` counts as an assignment at its index.
    It compares equal to a list with the same items.

    Examples
    --------
    >>> class Logged(AnnotatingList):
    ...     def _setitem(self, key, value):
    ...         print("set", key, value)
    >>> items = Logged([1])
    set 0 1
    >>> items.append(2)
    set 1 2
    >>> items == [1, 2], items
    (True, [1, 2])
    """

    def __init__(self, items: Iterable[Any] | None = None) -> None:
        self._items: list[Any] = []
        for item in items or ():
            self.append(item)

    def __repr__(self) -> str:
        return repr(self._items)

    def __eq__(self, other: object) -> bool:
        return self._items == (other._items if isinstance(other, AnnotatingList) else other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._setitem(key, value)
        self._items[key] = value

    def __delitem__(self, key: Any) -> None:
        self._delitem(key)
        del self._items[key]

    def insert(self, key: int, value: Any) -> None:
        self._setitem(key, value)
        self._items.insert(key, value)

    def _setitem(self, key: Any, value: Any) -> None:
        """Called before ``value`` is put at ``key`` (override)."""

    def _delitem(self, key: Any) -> None:
        """Called before the item at ``key`` is removed (override)."""
