"""Configuration with Fuel's precedence: code > environment > YAML file > default.

A :class:`Configuration` holds named options. Each option may have an
environment variable and a type. The YAML file is read lazily, once, from the
path in the configuration's own environment variable (``FUEL_CONFIG``) or the
default file (``~/.fuelrc``); a key the configuration does not know is an error
naming the valid ones. Values set in code (``config.floatX = "float32"``) win
over everything.

:mod:`blocks.config` uses the same machinery for ``~/.blocksrc``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FLOAT_DTYPE_NAMES",
    "NOT_SET",
    "Configuration",
    "ConfigurationError",
    "Option",
    "UnknownOptionError",
    "config",
    "extra_downloader_converter",
    "float_dtype_name",
    "multiple_paths_parser",
    "path_list",
    "word_list",
]


class ConfigurationError(ValueError):
    """An unknown option, a bad value, or a required option that is unset.

    Examples
    --------
    >>> config.floatX = "float8"
    Traceback (most recent call last):
    ...
    fuel.config_parser.ConfigurationError: fuel option 'floatX': invalid value 'float8': ...
    """


class UnknownOptionError(ConfigurationError, AttributeError):
    """An option that was never declared: a :class:`ConfigurationError` and an ``AttributeError``.

    Reading an undeclared option raises it, so ``hasattr(config, name)`` and
    ``getattr(config, name, default)`` work as for any object (Fuel raised
    ``AttributeError``).

    Examples
    --------
    >>> hasattr(config, "no_such_option")
    False
    """


def path_list(value: Any) -> list[str]:
    """Parse a search path: an ``os.pathsep``-separated string or a list.

    Examples
    --------
    >>> path_list("/a" + os.pathsep + "/b")
    ['/a', '/b']
    >>> path_list(["/a", "~"])[0]
    '/a'
    """
    if value is None:
        return []
    if isinstance(value, str):
        parts = [p for p in value.split(os.pathsep) if p]
    elif isinstance(value, (list, tuple)):
        parts = [str(p) for p in value]
    else:
        raise ConfigurationError(f"expected a path list (string or list), got {value!r}")
    return [os.path.expanduser(p) for p in parts]


def word_list(value: Any) -> list[str]:
    """Parse a whitespace-separated string or a list into a list of strings.

    Examples
    --------
    >>> word_list("a b  c")
    ['a', 'b', 'c']
    >>> word_list(["x"])
    ['x']
    """
    if isinstance(value, str):
        return value.split()
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    raise ConfigurationError(f"expected a list or a whitespace-separated string, got {value!r}")


def extra_downloader_converter(value: Any) -> list[str]:
    """Parse Fuel's ``extra_downloaders`` / ``extra_converters`` values (Fuel's function).

    A string is split on whitespace; a list or tuple gives its elements.

    Examples
    --------
    >>> extra_downloader_converter("a.b.c d.e.f")
    ['a.b.c', 'd.e.f']
    >>> extra_downloader_converter(["a.b.c"])
    ['a.b.c']
    """
    return word_list(value)


def multiple_paths_parser(value: Any) -> list[str]:
    """Parse Fuel's ``data_path`` value (Fuel's name for :func:`path_list`).

    Examples
    --------
    >>> multiple_paths_parser("/a" + os.pathsep + "/b")
    ['/a', '/b']
    """
    return path_list(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigurationError(f"expected a boolean (true/false, 1/0), got {value!r}")


_UNSET = object()
NOT_SET = _UNSET
_INTERNAL = frozenset({"_name", "_file_env_var", "_default_file", "_options", "_code", "_file_values", "_file_path",
                       "_lock"})
"""The ``default`` of an option that has none (Fuel's name)."""


@dataclass
class Option:
    """One configuration option.

    Attributes
    ----------
    key : str
        Option name (attribute and YAML key).
    default : object
        Value when set nowhere, converted by ``type`` when read (``None``
        stays ``None``); ``_UNSET`` makes reading it an error.
    env_var : str or None
        Environment variable that sets it.
    type : callable
        Converts values from the environment and the file.
    doc : str
        One-line description (``blocks info`` shows it).

    Examples
    --------
    >>> Option("default_seed", 1, "FUEL_DEFAULT_SEED", int).type("3")
    3
    """

    key: str
    default: Any = _UNSET
    env_var: str | None = None
    type: Callable[[Any], Any] = str
    doc: str = ""


class Configuration:
    """A set of options read from code, environment, a YAML file and defaults.

    Attributes whose name starts with ``_`` are plain attributes, not
    options (Fuel's tests keep ``config._old_data_path`` there); setting or
    reading an undeclared public name is an error (:class:`UnknownOptionError`),
    so a misspelt option never goes unnoticed.

    Parameters
    ----------
    name : str
        Used in messages (default ``"fuel"``).
    file_env_var : str
        Environment variable holding the YAML path (default ``"FUEL_CONFIG"``).
    default_file : str
        Default YAML path (default ``"~/.fuelrc"``).

    Examples
    --------
    >>> cfg = Configuration("demo", "DEMO_CONFIG", "~/.demorc")
    >>> cfg.add_option("default_seed", type=int, default=1)
    >>> cfg.default_seed
    1
    >>> cfg.default_seed = 5
    >>> cfg.default_seed, cfg.source("default_seed")
    (5, 'code')
    """

    def __init__(self, name: str = "fuel", file_env_var: str = "FUEL_CONFIG", default_file: str = "~/.fuelrc"):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_file_env_var", file_env_var)
        object.__setattr__(self, "_default_file", default_file)
        object.__setattr__(self, "_options", {})
        object.__setattr__(self, "_code", {})
        object.__setattr__(self, "_file_values", None)
        object.__setattr__(self, "_file_path", None)
        object.__setattr__(self, "_lock", threading.RLock())

    # -- options -------------------------------------------------------------
    def add_option(
        self,
        key: str,
        type: Callable[[Any], Any] = str,
        default: Any = _UNSET,
        env_var: str | None = None,
        doc: str = "",
    ) -> None:
        """Declare an option."""
        if type is bool:
            type = _bool
        self._options[key] = Option(key, default, env_var, type, doc)

    def add_config(
        self, key: str, type_: Callable[[Any], Any] = str, default: Any = _UNSET, env_var: str | None = None
    ) -> None:
        """Declare an option (Fuel's name and argument order for :meth:`add_option`).

        Examples
        --------
        >>> cfg = Configuration()
        >>> cfg.add_config("batch_size", int, default="128")
        >>> cfg.batch_size
        128
        """
        self.add_option(key, type=type_, default=default, env_var=env_var)

    @property
    def options(self) -> dict[str, Option]:
        """Declared options by name."""
        return dict(self._options)

    # -- file ------------------------------------------------------------------
    def config_file(self) -> str | None:
        """Path of the YAML file in effect, or ``None`` if there is none."""
        path = os.environ.get(self._file_env_var)
        if path:
            path = os.path.expanduser(path)
            if not os.path.isfile(path):
                raise ConfigurationError(
                    f"{self._file_env_var}={path!r} does not name a file; unset it or create the file"
                )
            return path
        default = os.path.expanduser(self._default_file)
        return default if os.path.isfile(default) else None

    def load_yaml(self) -> None:
        """Read the YAML file now (Fuel's method): later changes to it, or to the variable naming it, are seen.

        The file is otherwise read lazily, on the first access to an option.
        Raises :class:`ConfigurationError` for an unknown key or invalid YAML.
        """
        with self._lock:
            object.__setattr__(self, "_file_values", None)
            self._load_file()

    def _load_file(self) -> dict[str, Any]:
        with self._lock:
            path = self.config_file()
            if self._file_values is not None and path == self._file_path:
                return self._file_values
            values: dict[str, Any] = {}
            if path is not None:
                import yaml

                try:
                    with open(path, encoding="utf-8") as handle:
                        loaded = yaml.safe_load(handle)
                except yaml.YAMLError as err:
                    raise ConfigurationError(f"{path}: not valid YAML: {err}") from None
                except UnicodeDecodeError as err:
                    raise ConfigurationError(f"{path}: not valid YAML: not UTF-8 text ({err})") from None
                except (ValueError, OverflowError) as err:  # a value YAML cannot build, e.g. a date 2001-02-30
                    raise ConfigurationError(f"{path}: not valid YAML: {err}") from None
                except RecursionError:
                    raise ConfigurationError(f"{path}: not valid YAML: nested too deeply") from None
                if loaded is None:
                    loaded = {}
                if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
                    raise ConfigurationError(
                        f"{path}: expected a mapping of option names to values, got {type(loaded).__name__}"
                        + (" with keys that are not names" if isinstance(loaded, dict) else "")
                    )
                unknown = sorted(set(loaded) - set(self._options))
                if unknown:
                    raise ConfigurationError(
                        f"{path}: unknown {self._name} configuration option(s) {', '.join(map(repr, unknown))}; "
                        f"valid options: {', '.join(sorted(self._options))}"
                    )
                values = loaded
            object.__setattr__(self, "_file_values", values)
            object.__setattr__(self, "_file_path", path)
            return values

    # -- access ----------------------------------------------------------------
    def _option(self, key: str) -> Option:
        try:
            return self._options[key]
        except KeyError:
            raise UnknownOptionError(
                f"unknown {self._name} configuration option {key!r}; valid options: "
                f"{', '.join(sorted(self._options))} (declare a new one with add_option or add_config first)"
            ) from None

    def source(self, key: str) -> str:
        """Where the value of ``key`` comes from: code, env, file or default."""
        option = self._option(key)
        if key in self._code:
            return "code"
        if option.env_var and option.env_var in os.environ:
            return "env"
        if key in self._load_file():
            return "file"
        return "default"

    def get(self, key: str) -> Any:
        """The value of ``key`` (code > environment > file > default)."""
        option = self._option(key)
        where = self.source(key)
        try:
            if where == "code":
                return self._code[key]
            if where == "env":
                return option.type(os.environ[option.env_var])  # type: ignore[index]
            if where == "file":
                return option.type(self._load_file()[key])
        except (TypeError, ValueError, OverflowError) as err:  # ConfigurationError too: say where the value is
            origin = {"file": f" (in {self._file_path})", "env": f" (environment variable {option.env_var})"}
            raise ConfigurationError(
                f"{self._name} option {key!r} from {where}: invalid value: {err}{origin.get(where, '')}"
            ) from err
        if option.default is _UNSET:
            hint = f" or set {option.env_var}" if option.env_var else ""
            raise ConfigurationError(
                f"{self._name} option {key!r} is not set: set it in code, in {self._default_file}{hint}"
            )
        if option.default is None:
            return None
        try:  # defaults go through the type too (e.g. "~" is expanded when read, not at import)
            return option.type(option.default)
        except (TypeError, ValueError) as err:
            raise ConfigurationError(f"{self._name} option {key!r}: invalid default {option.default!r}: {err}") from err

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        return self.get(key)

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith("_"):
            if key in _INTERNAL:
                raise ConfigurationError(f"{key!r} is internal to the {self._name} configuration; use another name")
            object.__setattr__(self, key, value)
            return
        option = self._option(key)
        try:
            self._code[key] = option.type(value) if value is not None else None
        except (TypeError, ValueError) as err:
            raise ConfigurationError(f"{self._name} option {key!r}: invalid value {value!r}: {err}") from err

    def __delattr__(self, key: str) -> None:
        if key.startswith("_"):
            if key in _INTERNAL:
                raise ConfigurationError(f"{key!r} is internal to the {self._name} configuration")
            object.__delattr__(self, key)
            return
        self._option(key)
        self._code.pop(key, None)

    def reset(self) -> None:
        """Forget values set in code and re-read the file next time."""
        with self._lock:
            self._code.clear()
            object.__setattr__(self, "_file_values", None)

    @contextlib.contextmanager
    def override(self, **values: Any) -> Iterator[Configuration]:
        """Temporarily set values in code.

        Examples
        --------
        >>> with config.override(default_seed=3):
        ...     config.default_seed
        3
        """
        saved = {k: self._code[k] for k in values if k in self._code}
        try:
            for key, value in values.items():
                setattr(self, key, value)
            yield self
        finally:
            for key in values:
                self._code.pop(key, None)
            self._code.update(saved)

    def as_dict(self) -> dict[str, Any]:
        """Every option's current value (unset required options are ``None``)."""
        out = {}
        for key in sorted(self._options):
            try:
                out[key] = self.get(key)
            except ConfigurationError:
                out[key] = None
        return out


FLOAT_DTYPE_NAMES = ("float16", "bfloat16", "float32", "float64")


def float_dtype_name(value: Any) -> str:
    """Parse the ``floatX`` option: the name of a floating dtype, checked.

    The type of ``fuel.config.floatX`` and ``blocks.config.floatX``; usable
    as the ``type`` of any option that names a float dtype.

    Raises
    ------
    ConfigurationError
        When ``value`` is not one of ``float16``, ``bfloat16``, ``float32``,
        ``float64``.

    Examples
    --------
    >>> float_dtype_name("float64")
    'float64'
    >>> float_dtype_name("int32")
    Traceback (most recent call last):
    ...
    fuel.config_parser.ConfigurationError: floatX must be one of float16, bfloat16, float32, float64; got 'int32'
    """
    text = str(value)
    if text not in FLOAT_DTYPE_NAMES:
        raise ConfigurationError(f"floatX must be one of float16, bfloat16, float32, float64; got {text!r}")
    return text


config = Configuration("fuel", "FUEL_CONFIG", "~/.fuelrc")
config.add_option(
    "data_path", type=path_list, env_var="FUEL_DATA_PATH", doc="directories searched for dataset files, in order"
)
config.add_option(
    "local_data_path",
    type=str,
    default="",
    env_var="FUEL_LOCAL_DATA_PATH",
    doc="local cache for files on slow shared storage",
)
config.add_option(
    "default_seed",
    type=int,
    default=1,
    env_var="FUEL_DEFAULT_SEED",
    doc="seed of schemes, random transformers and toy datasets",
)
config.add_option(
    "floatX",
    type=float_dtype_name,
    default="float32",
    env_var="FUEL_FLOATX",
    doc="float dtype of Cast('floatX') and ForceFloatX",
)
config.add_option(
    "extra_downloaders",
    type=word_list,
    default=[],
    env_var="FUEL_EXTRA_DOWNLOADERS",
    doc="(Fuel compatibility) modules with extra downloaders; prefer plugins",
)
config.add_option(
    "extra_converters",
    type=word_list,
    default=[],
    env_var="FUEL_EXTRA_CONVERTERS",
    doc="(Fuel compatibility) modules with extra converters; prefer plugins",
)
config.add_option(
    "mirrors",
    type=word_list,
    default=[],
    env_var="FUEL_MIRRORS",
    doc="mirror URLs tried before a dataset's own URLs",
)
