"""``do_not_pickle_attributes``: attributes rebuilt by ``load()`` instead of being pickled (Fuel's decorator).

Nothing in this package pickles datasets (state travels as ``state_dict()``);
the decorator is kept for user classes that are pickled by their own code or by
``multiprocessing`` with the ``spawn`` start method.

Examples
--------
>>> @do_not_pickle_attributes("table")
... class Lookup:
...     def load(self):
...         self.table = {i: i * i for i in range(1000)}
>>> lookup = Lookup()
>>> lookup.table[12], "_table" in lookup.__getstate__()   # what pickle would store
(144, False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = ["do_not_pickle_attributes"]

T = TypeVar("T", bound=type)


def _lazy_property(name: str) -> property:
    private = "_" + name

    def getter(self: Any) -> Any:
        if private not in self.__dict__:
            self.load()
        if private not in self.__dict__:
            raise ValueError(
                f"{type(self).__name__}.load() did not set {name!r}; it must assign every attribute named in "
                "do_not_pickle_attributes"
            )
        return self.__dict__[private]

    def setter(self: Any, value: Any) -> None:
        self.__dict__[private] = value

    return property(getter, setter, doc=f"{name} (rebuilt by load(), never pickled)")


def _defines_getstate(cls: type) -> bool:
    return any("__getstate__" in vars(klass) for klass in cls.__mro__ if klass is not object)


def do_not_pickle_attributes(*lazy_properties: str) -> Callable[[T], T]:
    """Class decorator: the named attributes are left out of pickles and rebuilt by ``self.load()``.

    Each name becomes a property stored as ``_<name>``; reading it before it
    is set calls ``load()`` (so a copy restored from a pickle rebuilds it on
    first use). Unless the class defines its own ``__getstate__``, pickling
    leaves these attributes out, and refuses an iterator among them (its
    position would be lost silently).

    Parameters
    ----------
    *lazy_properties : str
        Names of the attributes.

    Raises
    ------
    ValueError
        The class has no ``load`` method (at decoration); ``load()`` did not
        set an attribute (when read); an attribute holds an iterator (when
        pickled).

    Examples
    --------
    >>> @do_not_pickle_attributes("data")
    ... class Squares:
    ...     def load(self):
    ...         self.data = [i * i for i in range(5)]
    >>> Squares().data
    [0, 1, 4, 9, 16]
    """
    names = tuple(lazy_properties)
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"do_not_pickle_attributes needs attribute names, got {name!r}")

    def decorate(cls: T) -> T:
        if not callable(getattr(cls, "load", None)):
            raise ValueError(
                f"{cls.__name__} has no load() method; do_not_pickle_attributes needs one to rebuild "
                f"{', '.join(names)}"
            )
        for name in names:
            setattr(cls, name, _lazy_property(name))
        if not _defines_getstate(cls):

            def __getstate__(self: Any) -> dict[str, Any]:
                state = self.__dict__.copy()
                for name in names:
                    value = state.pop("_" + name, None)
                    if isinstance(value, Iterator):
                        raise ValueError(
                            f"{type(self).__name__}.{name} is an iterator: it cannot be rebuilt by load() at the "
                            "same position, so it is not pickled; keep a re-iterable (a list, a dataset) instead"
                        )
                return state

            cls.__getstate__ = __getstate__  # type: ignore[attr-defined]
        return cls

    return decorate
