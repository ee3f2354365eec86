"""Bricks: ``torch.nn.Module``s with Blocks' lifecycle and annotated application methods.

A :class:`Brick` is an ``nn.Module`` with a name, children, lazy (pushed)
configuration and application methods declared with :func:`application`.
Applications compute eagerly on tensors (no bookkeeping on that path) and
record annotated nodes on symbolic :class:`blocks.graph.Variable` inputs.

Lifecycle (Blocks'): ``push_allocation_config`` → ``allocate`` →
``push_initialization_config`` → ``initialize``. Calling an application
does whatever of that has not been done yet, so a parameter never stays
uninitialized; settings the brick still lacks are inferred from the input's
shape where possible, else a ``ValueError`` lists them.
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import weakref
from collections import OrderedDict
from typing import Any, Callable, Iterable, Iterator, Sequence, SupportsIndex

import torch
from torch import nn

from blocks.config import config
from blocks.graph.variables import _CALL_STACK, Variable, annotate, opaque_call
from blocks.roles import AUXILIARY, INPUT, OUTPUT, PARAMETER, add_role
from blocks.utils.containers import repr_attrs

__all__ = [
    "BRICK_DELIMITER",
    "InitializationError",
    "Application",
    "ApplicationCall",
    "BoundApplication",
    "Brick",
    "NoneAllocation",
    "NoneInitialization",
    "ParameterAccessor",
    "application",
    "get_brick",
    "lazy",
]

logger = logging.getLogger(__name__)

BRICK_DELIMITER = "/"


class InitializationError(ValueError):
    """A brick cannot be initialized: settings such as ``weights_init`` are missing.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Linear, InitializationError
    >>> try:
    ...     Linear(input_dim=2, output_dim=2).apply(torch.ones(1, 2))
    ... except InitializationError as error:
    ...     print("weights_init" in str(error))
    True
    """


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return self._name

    def __deepcopy__(self, memo: dict) -> _Sentinel:
        return self

    def __reduce__(self) -> str:
        return self._name


NoneAllocation = _Sentinel("NoneAllocation")
"""Value of an allocation setting that was not given (falsy)."""
NoneInitialization = _Sentinel("NoneInitialization")
"""Value of an initialization setting that was not given (falsy)."""


def lazy(allocation: Sequence[str] | None = None,
         initialization: Sequence[str] | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Make the named constructor arguments optional (Blocks' lazy configuration).

    Omitted allocation arguments become :data:`NoneAllocation`, omitted
    initialization arguments :data:`NoneInitialization`; parents push them
    later, or the user sets them as attributes. The lists accumulate through
    the class hierarchy into ``allocation_args`` / ``initialization_args``.

    Examples
    --------
    >>> from blocks.bricks import Brick, lazy
    >>> class Scale(Brick):
    ...     @lazy(allocation=["dim"])
    ...     def __init__(self, dim, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.dim = dim
    >>> Scale().dim
    NoneAllocation
    """
    allocation = list(allocation or [])
    initialization = list(initialization or [])

    def decorator(init: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(init)
        names = list(signature.parameters)[1:]
        unknown = [a for a in allocation + initialization if a not in names]
        if unknown:
            raise ValueError(f"lazy arguments {unknown} are not parameters of {init.__qualname__}")

        @functools.wraps(init)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
            twice = sorted(set(names[: len(args)]) & set(kwargs))
            if twice:
                raise ValueError(f"{init.__qualname__} got {twice} both by position and by keyword")
            given = set(names[: len(args)]) | set(kwargs)
            for name in allocation:
                if name not in given:
                    kwargs[name] = NoneAllocation
            for name in initialization:
                if name not in given:
                    kwargs[name] = NoneInitialization
            init(self, *args, **kwargs)

        wrapper._lazy_allocation = allocation  # type: ignore[attr-defined]
        wrapper._lazy_initialization = initialization  # type: ignore[attr-defined]
        return wrapper

    return decorator


class ApplicationCall:
    """One call of an application on symbolic inputs (Blocks' annotation).

    Attributes
    ----------
    application : BoundApplication
    brick : Brick
    metadata : dict
        ``call_id`` and whatever the application records (batch norm's
        ``training_mode``, ``offset``, ``divisor``; opaque calls' ``node``).
    auxiliary_variables : list of Variable
    updates : list of (torch.Tensor, Variable)

    Examples
    --------
    >>> from blocks.bricks import Brick, application
    >>> from blocks.graph import matrix, ComputationGraph
    >>> class Doubler(Brick):
    ...     @application(inputs=["x"], outputs=["y"])
    ...     def apply(self, x, application_call):
    ...         application_call.add_auxiliary_variable(x.mean(), name="x_mean")
    ...         return 2 * x
    >>> y = Doubler().apply(matrix("x"))
    >>> [v.name for v in ComputationGraph([y]).auxiliary_variables]
    ['x_mean']
    """

    symbolic = True

    def __init__(self, application: BoundApplication, call_id: Any = None) -> None:
        self.application = application
        self.brick = application.brick
        self.metadata: dict[str, Any] = {"call_id": call_id}
        self.auxiliary_variables: list[Variable] = []
        self.updates: list[tuple[torch.Tensor, Variable]] = []
        self.nodes: list[Any] = []
        self.order_node: Any = None

    def add_auxiliary_variable(self, variable: Any, roles: Sequence[Any] | None = None,
                               name: str | None = None, of_brick: bool = False) -> Variable:
        """Attach ``variable`` to this call with role ``AUXILIARY`` (plus ``roles``).

        A tensor (e.g. a :func:`blocks.utils.shared_floatx` value) keeps its
        name unless ``name`` is given. With ``of_brick``, the variable is
        annotated with the brick only, as Blocks' brick-level auxiliary
        variables were (Linear's ``W_norm``): it is in the graph of the call,
        but filters by application or ``call_id`` do not select it.
        """
        if name is None and isinstance(variable, torch.Tensor):
            name = getattr(variable, "_blocks_name", None)
        annotated = annotate(variable, name=name, roles=[AUXILIARY, *(roles or [])], brick=self.brick,
                             application_call=None if of_brick else self)
        self.auxiliary_variables.append(annotated)
        self.nodes.append(annotated.node)
        return annotated

    def add_update(self, buffer: torch.Tensor, value: Any) -> None:
        """Ask for ``buffer`` to be set to ``value`` after a forward pass (``cg.updates``)."""
        self.updates.append((buffer, value if isinstance(value, Variable) else annotate(value)))

    def copy_with(self, mapper: Callable[[Variable], Variable]) -> ApplicationCall:
        clone = copy.copy(self)
        clone.metadata = dict(self.metadata)
        clone.auxiliary_variables = [mapper(v) for v in self.auxiliary_variables]
        clone.updates = [(b, mapper(v)) for b, v in self.updates]
        clone.nodes = list(self.nodes)
        return clone

    def __repr__(self) -> str:
        return f"ApplicationCall({self.brick.name}.{self.application.name}, call_id={self.metadata['call_id']!r})"


class _EagerApplicationCall:
    """Stand-in passed as ``application_call`` on eager calls: auxiliaries are discarded."""

    symbolic = False

    def __init__(self, application: BoundApplication) -> None:
        self.application = application
        self.brick = application.brick
        self.metadata: dict[str, Any] = {}
        self.auxiliary_variables: list[Any] = []
        self.updates: list[Any] = []

    def add_auxiliary_variable(self, variable: Any, roles: Any = None, name: str | None = None) -> Any:
        return variable

    def add_update(self, buffer: torch.Tensor, value: Any) -> None:
        with torch.no_grad():
            buffer.copy_(value)


class Application:
    """An application method of a brick class (a descriptor; see :func:`application`).

    Attributes
    ----------
    name : str
    inputs, outputs : list of str
        Names of the inputs/outputs (``@app.property("inputs")`` may compute them per brick).
    opaque : bool
        Record the whole call as ONE graph node running eagerly (recurrences).

    Examples
    --------
    >>> from blocks.bricks import Linear, Application
    >>> isinstance(Linear.apply, Application), Linear.apply.inputs, Linear.apply.outputs
    (True, ['input_'], ['output'])
    """

    _CALL_OPTIONS = frozenset({"as_dict", "as_list", "call_id"})

    def __init__(self, function: Callable[..., Any], opaque: bool = False, **attributes: Any) -> None:
        self.function = function
        self.name = function.__name__
        self.__doc__ = function.__doc__
        self.opaque = opaque
        self.properties: dict[str, Callable[[Any], Any]] = {}
        self.delegate_function: Callable[[Any], Any] | None = None
        signature = inspect.signature(function)
        self.argument_names = [p for p in signature.parameters][1:]
        self.wants_call = "application_call" in signature.parameters
        self.wants_application = "application" in signature.parameters
        self.argument_names = [a for a in self.argument_names if a not in ("application_call", "application")]
        for key, value in attributes.items():
            setattr(self, key, list(value) if isinstance(value, (list, tuple)) else value)
        inputs = attributes.get("inputs")
        if inputs is not None:
            variadic = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values())
            unknown = [i for i in inputs if i not in self.argument_names]
            if unknown and not variadic:
                raise ValueError(f"application {function.__qualname__}: inputs {unknown} are not arguments "
                                 f"of the function (it takes {self.argument_names})")

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __setattr__(self, name: str, value: Any) -> None:
        properties = self.__dict__.get("properties")
        if properties is not None and name in properties:
            raise AttributeError(f"{name!r} of application {self.name!r} is computed per brick "
                                 f"(@{self.name}.property({name!r})); it cannot be set on the class")
        super().__setattr__(name, value)

    def __call__(self, brick: Any, *args: Any, **kwargs: Any) -> Any:
        """``Brick.apply(brick, x)``: apply to ``brick`` (Blocks' unbound call)."""
        if not isinstance(brick, Brick):
            raise TypeError(f"application {self.name!r} called unbound needs a brick as its first argument, "
                            f"got {type(brick).__name__}")
        return BoundApplication(self, brick)(*args, **kwargs)  # not cached: a subclass may call its base's

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        bound = BoundApplication(self, instance)
        if inspect.getattr_static(type(instance), self.name, None) is self:  # not ``super().apply`` of an override
            instance.__dict__[self.name] = bound
        return bound

    def property(self, name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
        """Define the attribute ``name`` (e.g. ``"inputs"``) of this application dynamically per brick."""

        def decorator(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
            self.properties[name] = function
            return function

        return decorator

    def delegate(self, function: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Route unknown attribute lookups to the application ``function(brick)`` returns."""
        self.delegate_function = function
        return function

    def unused_tensors(self, brick: Brick, args: tuple, kwargs: dict[str, Any]) -> list[torch.Tensor]:
        """Parameters/buffers of ``brick``'s tree that an opaque call with these arguments does not depend on.

        Consulted only for opaque applications, on symbolic calls: the tensors
        returned are left out of the node's inputs (``exclude`` of
        :func:`blocks.graph.opaque_call`), so :attr:`ComputationGraph.parameters`
        lists only what the outputs depend on. The default is none; recurrent
        applications given every state explicitly leave out their initial-state
        parameters. Override it only for tensors the call never uses.
        """
        return []

    def inner_graph(self, brick: Brick, args: tuple, kwargs: dict[str, Any]) -> Any:
        """The step of an opaque call with these (symbolic) arguments, traced once, or ``None``.

        The extension point for recurrences defined outside core (see
        :mod:`blocks.graph.inner`): an opaque application running a time loop
        returns a :class:`blocks.graph.inner.InnerGraph` of its step, whose
        variables become the graph's ``scan_variables``. Consulted only for
        opaque applications, on symbolic calls; the default is none.
        """
        return None

    def __repr__(self) -> str:
        return f"<application {self.function.__qualname__}>"


def application(function: Callable[..., Any] | None = None, *, opaque: bool = False,
                **attributes: Any) -> Any:
    """Declare a brick application method (Blocks' ``@application``).

    Parameters
    ----------
    function : callable, optional
        The method (when used without arguments: ``@application``).
    opaque : bool
        On symbolic inputs, record the whole call as ONE fx node that runs the
        method eagerly when the graph runs (for Python time loops, the way
        Theano's ``scan`` was one op); its inputs and outputs are annotated as
        usual and every parameter/buffer of the brick and its children is an
        input of the node, so filters and transforms (weight noise) reach them.
        See :func:`blocks.graph.opaque_call`.
    **attributes
        ``inputs``, ``outputs`` (names; outputs name the output variables),
        and any other attribute (``sequences``, ``states``, ``contexts`` for
        recurrent applications).

    Call options: ``as_dict=True`` (outputs by name), ``as_list=True``,
    ``call_id=...`` (stored in the call's metadata, filterable). A method with
    an ``application_call`` argument receives the :class:`ApplicationCall`.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Brick, application
    >>> class Square(Brick):
    ...     @application(inputs=["x"], outputs=["y"])
    ...     def apply(self, x):
    ...         return x ** 2
    >>> Square().apply(torch.tensor([3.0]))
    tensor([9.])
    >>> dict(Square().apply(torch.tensor([3.0]), as_dict=True))
    {'y': tensor([9.])}
    """
    if function is not None:
        return Application(function, opaque=opaque, **attributes)
    return lambda f: Application(f, opaque=opaque, **attributes)


class BoundApplication:
    """An application bound to a brick; calling it applies the brick.

    Examples
    --------
    >>> from blocks.bricks import Tanh
    >>> tanh = Tanh()
    >>> tanh.apply.name, tanh.apply.brick is tanh, tanh.apply.inputs
    ('apply', True, ['input_'])
    """

    def __init__(self, application: Application, brick: Brick) -> None:
        self.application = application
        self.brick = brick
        self._function = application.function
        self._fast = not (application.wants_call or application.wants_application)

    @property
    def name(self) -> str:
        return self.application.name

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("application", "brick", "_function", "_fast"):
            raise AttributeError(name)
        application = self.application
        if name in application.properties:
            return application.properties[name](self.brick)
        if name in application.__dict__:
            return application.__dict__[name]
        if application.delegate_function is not None:
            return getattr(application.delegate_function(self.brick), name)
        if name in ("inputs", "outputs"):
            return None
        raise AttributeError(f"application {self.brick.name}.{application.name} has no attribute {name!r}")

    def __deepcopy__(self, memo: dict) -> BoundApplication:
        return BoundApplication(self.application, copy.deepcopy(self.brick, memo))

    def __repr__(self) -> str:
        return f"<bound application {self.brick.name}.{self.application.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        brick = self.brick
        if not brick._ready:
            brick._prepare_call(self, args, kwargs)
        if kwargs:
            if not self._fast or not Application._CALL_OPTIONS.isdisjoint(kwargs):
                return self._call(args, kwargs)
            for value in kwargs.values():
                if isinstance(value, Variable):
                    return self._call(args, kwargs)
        elif not self._fast:
            return self._call(args, kwargs)
        for value in args:
            if isinstance(value, (Variable, list, tuple)):
                return self._call(args, kwargs)
        try:
            return self._function(brick, *args, **kwargs)
        except (RuntimeError, IndexError) as error:
            brick._explain_error(self, args, kwargs, error)
            raise

    def _call(self, args: tuple, kwargs: dict) -> Any:
        from blocks.graph.variables import is_symbolic

        as_dict = kwargs.pop("as_dict", False)
        as_list = kwargs.pop("as_list", False)
        call_id = kwargs.pop("call_id", None)
        brick = self.brick
        application = self.application
        if not is_symbolic(args, kwargs):
            if application.wants_call:
                kwargs["application_call"] = _EagerApplicationCall(self)
            if application.wants_application:
                kwargs["application"] = self
            try:
                outputs = self._function(brick, *args, **kwargs)
            except (RuntimeError, IndexError) as error:
                brick._explain_error(self, args, kwargs, error)
                raise
            return self._format(outputs, as_dict, as_list, raw=True)
        brick._check_symbolic_inputs(self, args, kwargs)
        call = ApplicationCall(self, call_id)
        names = list(self.inputs or ()) or self.application.argument_names

        def mark(value: Any, name: str) -> Any:
            if isinstance(value, Variable):
                variable = annotate(value, name=name, roles=[INPUT], brick=brick, application_call=call)
                call.nodes.append(variable.node)
                if call.order_node is None:
                    call.order_node = variable.node
                return variable
            if isinstance(value, (list, tuple)) and any(isinstance(v, Variable) for v in value):
                return type(value)(mark(v, name) for v in value)
            return value

        args = tuple(mark(value, names[i] if i < len(names) else f"input_{i}") for i, value in enumerate(args))
        kwargs = {key: mark(value, key) for key, value in kwargs.items()}
        if application.opaque:
            output_names = self.outputs or []
            function = self._function
            if application.wants_call:
                kwargs["application_call"] = _EagerApplicationCall(self)
            if application.wants_application:
                kwargs["application"] = self
            inner = application.inner_graph(brick, args, kwargs)
            _CALL_STACK.append(call)
            try:
                result = opaque_call(functools.partial(function, brick), *args, modules=[brick],
                                     num_outputs=len(output_names) if len(output_names) > 1 else None,
                                     name=f"{_identifier(brick.name)}_{application.name}",
                                     exclude=application.unused_tensors(brick, args, kwargs), inner=inner, **kwargs)
            finally:
                _CALL_STACK.pop()
            call.metadata["node"] = (result[0] if isinstance(result, tuple) else result).node
            if inner is not None:
                call.metadata["inner_graph"] = inner
            outputs = list(result) if isinstance(result, tuple) else result
        else:
            if application.wants_call:
                kwargs["application_call"] = call
            if application.wants_application:
                kwargs["application"] = self
            _CALL_STACK.append(call)
            try:
                outputs = self._function(brick, *args, **kwargs)
            finally:
                _CALL_STACK.pop()
        if call.order_node is None and isinstance(outputs, Variable):
            call.order_node = outputs.node
        brick._record_auxiliary_variables(self, call)
        return self._format(self._annotate_outputs(outputs, call), as_dict, as_list, raw=False)

    def _annotate_outputs(self, outputs: Any, call: ApplicationCall) -> list[Any]:
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        names = self.outputs or []
        annotated = []
        for i, output in enumerate(outputs):
            if isinstance(output, (Variable, torch.Tensor)):
                name = names[i] if i < len(names) else f"output_{i}"
                # roles given inside the application (e.g. COST) stay on the output, as Blocks' tagged copy kept them
                inner = list(output.node.meta.get("roles", ())) if isinstance(output, Variable) else []
                output = annotate(output, name=name, roles=[*inner, OUTPUT], brick=self.brick, application_call=call)
                call.nodes.append(output.node)
                if call.order_node is None:
                    call.order_node = output.node
            annotated.append(output)
        return annotated

    def _format(self, outputs: Any, as_dict: bool, as_list: bool, raw: bool) -> Any:
        if raw and not (as_dict or as_list):
            return outputs
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        outputs = list(outputs)
        if as_dict:
            names = self.outputs or [f"output_{i}" for i in range(len(outputs))]
            return OrderedDict(zip(names, outputs))
        if as_list or len(outputs) != 1:
            return outputs
        return outputs[0]


def _identifier(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


class _ChildList(list):
    """``brick.children``: a list registering each child as a submodule; calling it is ``nn.Module.children()``."""

    def __init__(self, owner: Brick, children: Sequence[Brick] = ()) -> None:
        super().__init__()
        self._owner = weakref.ref(owner)
        for child in children:
            self.append(child)

    def __call__(self) -> Iterator[nn.Module]:
        return nn.Module.children(self._owner())

    def _register(self, child: Brick) -> None:
        if not isinstance(child, Brick):
            raise ValueError(f"children of a brick must be bricks, got {type(child).__name__} "
                             "(wrap torch modules with blocks.bricks.ModuleBrick)")
        owner = self._owner()
        modules = owner._modules
        for key, module in modules.items():
            if module is child:
                break
        else:
            key = _identifier(child.name) or "child"
            base, index = key, 0
            while key in modules:
                index += 1
                key = f"{base}_{index}"
            modules[key] = child
        if not any(ref() is owner for ref in child._parent_refs):
            child._parent_refs.append(weakref.ref(owner))

    def _unregister(self, child: Brick) -> None:
        owner = self._owner()
        for key, module in list(owner._modules.items()):
            if module is child and child not in self:
                del owner._modules[key]
        child._parent_refs[:] = [r for r in child._parent_refs if r() is not owner]

    def append(self, child: Brick) -> None:
        super().append(child)
        self._register(child)

    def extend(self, children: Sequence[Brick]) -> None:
        for child in children:
            self.append(child)

    def insert(self, index: int, child: Brick) -> None:
        super().insert(index, child)
        self._register(child)

    def remove(self, child: Brick) -> None:
        super().remove(child)
        self._unregister(child)

    def __iadd__(self, children: Sequence[Brick]) -> _ChildList:  # type: ignore[override]
        self.extend(children)
        return self

    def __deepcopy__(self, memo: dict) -> _ChildList:
        old_owner = self._owner()
        new_owner = memo.get(id(old_owner), old_owner)
        clone = _ChildList.__new__(_ChildList)
        list.__init__(clone, [copy.deepcopy(child, memo) for child in self])
        clone._owner = weakref.ref(new_owner)
        for child in clone:
            child._parent_refs[:] = [weakref.ref(new_owner) if r() is old_owner else r for r in child._parent_refs]
        return clone

    def __reduce__(self) -> Any:
        raise TypeError("bricks are saved with state_dict(), not pickled")


class _ParameterList(list):
    """``brick.parameters``: the brick's own parameters; calling it is ``nn.Module.parameters()``.

    Changing the list (``append``, ``extend``, item assignment, ...) changes
    the brick's parameters, as Blocks' annotated list did: custom bricks'
    ``_allocate`` may write ``self.parameters.append(shared_floatx_nans(shape, name="W"))``.
    """

    def __init__(self, owner: Brick) -> None:
        super().__init__(p for p in owner._parameters.values() if p is not None)
        self._owner = owner

    def __call__(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        return nn.Module.parameters(self._owner, recurse)

    def _changed(self, change: Callable[[list], Any]) -> Any:
        items = list(self)
        result = change(items)
        self._owner.parameters = items
        list.clear(self)
        list.extend(self, items)
        return result

    def append(self, parameter: Any) -> None:
        self._changed(lambda items: items.append(parameter))

    def extend(self, parameters: Iterable[Any]) -> None:
        parameters = list(parameters)
        self._changed(lambda items: items.extend(parameters))

    def insert(self, index: SupportsIndex, parameter: Any) -> None:
        self._changed(lambda items: items.insert(index, parameter))

    def remove(self, parameter: Any) -> None:
        self._changed(lambda items: items.remove(parameter))

    def pop(self, index: SupportsIndex = -1) -> Any:
        return self._changed(lambda items: items.pop(index))

    def clear(self) -> None:
        self._changed(lambda items: items.clear())

    def __setitem__(self, index: Any, value: Any) -> None:
        self._changed(lambda items: items.__setitem__(index, value))

    def __delitem__(self, index: Any) -> None:
        self._changed(lambda items: items.__delitem__(index))

    def __iadd__(self, parameters: Iterable[Any]) -> _ParameterList:  # type: ignore[override,misc]
        self.extend(parameters)
        return self


class ParameterAccessor(property):
    """A class attribute reading the brick's parameter ``name`` (``LinearLike.W``), so subclasses can override it.

    Examples
    --------
    >>> from blocks.bricks import Linear
    >>> class Normalized(Linear):
    ...     @property
    ...     def W(self):
    ...         return super().W / 2
    >>> brick = Normalized(input_dim=1, output_dim=1)
    >>> brick.allocate()
    >>> brick.W is brick.parameters[0], Linear.W.name
    (False, 'W')
    """

    def __init__(self, name: str) -> None:
        self.name = name

        def get(brick: Any) -> Any:
            try:
                return brick._parameters[name]
            except KeyError:
                raise AttributeError(f"brick {brick.get_unique_path()} has no parameter {name!r}: it is created "
                                     f"by allocate()") from None

        super().__init__(get, doc=f"The parameter ``{name}`` (``None`` when the brick has none).")


class Brick(nn.Module):
    """Base class of bricks: an ``nn.Module`` with Blocks' lifecycle, names and applications.

    Parameters
    ----------
    name : str, optional
        Default: the lower-cased class name.
    children : list of Brick, optional

    Attributes
    ----------
    children : list of Brick
        Calling it (``brick.children()``) still gives ``nn.Module.children()``.
    parents : list of Brick
    parameters : list of torch.nn.Parameter
        The brick's own parameters; ``brick.parameters()`` is ``nn.Module.parameters()``.
    allocated, initialized, allocation_config_pushed, initialization_config_pushed : bool
    name_is_default : bool
        Whether ``name`` is the class's default (none was given or assigned);
        a parent may then number it when it collides with a sibling's
        (``ConvolutionalSequence``).

    Notes
    -----
    Assigning a brick as an attribute does not make it a child (add it to
    ``children``); other ``nn.Module`` attributes register as usual.
    ``brick(x)`` calls the default application ``apply``.

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Linear
    >>> from blocks.initialization import Constant
    >>> linear = Linear(input_dim=3, output_dim=2, weights_init=Constant(1), biases_init=Constant(0))
    >>> linear.apply(torch.ones(1, 3))   # allocates and initializes on first call
    tensor([[3., 3.]], grad_fn=<AddmmBackward0>)
    >>> linear.get_hierarchical_name(linear.W)
    '/linear.W'
    """

    allocation_args: list[str] = []
    initialization_args: list[str] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        allocation: list[str] = []
        initialization: list[str] = []
        for klass in reversed(cls.__mro__):
            init = klass.__dict__.get("__init__")
            for name in getattr(init, "_lazy_allocation", []):
                if name not in allocation:
                    allocation.append(name)
            for name in getattr(init, "_lazy_initialization", []):
                if name not in initialization:
                    initialization.append(name)
        cls.allocation_args = allocation
        cls.initialization_args = initialization
        for decorator in cls.__dict__.get("decorators", ()):
            decorator.wrap(cls)

    def __init__(self, name: str | None = None, children: Sequence[Brick] | None = None) -> None:
        super().__init__()
        # whether the name was chosen (given, or assigned later) rather than the class's default: parents may
        # number default names that collide (ConvolutionalSequence), never chosen ones
        object.__setattr__(self, "name_is_default", name is None)
        if name is None:
            name = self.__class__.__name__.lower()
        if not isinstance(name, str) or not name or "." in name or BRICK_DELIMITER in name:
            raise ValueError(f"brick name must be a non-empty str without '.' or '/', got {name!r}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "_parent_refs", [])
        object.__setattr__(self, "children", _ChildList(self, children or []))
        object.__setattr__(self, "allocated", False)
        object.__setattr__(self, "initialized", False)
        object.__setattr__(self, "_ready", False)
        object.__setattr__(self, "allocation_config_pushed", False)
        object.__setattr__(self, "initialization_config_pushed", False)
        object.__setattr__(self, "_training_mode", [])

    # ---------------------------------------------------------------- attributes
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "name":
            object.__setattr__(self, "name_is_default", False)
        if isinstance(value, Brick) and name not in self.__dict__.get("_modules", ()):
            object.__setattr__(self, name, value)
            return
        if name == "children":
            object.__setattr__(self, "children", _ChildList(self, value))
            return
        super().__setattr__(name, value)

    @property
    def parents(self) -> list[Brick]:
        return [p for p in (ref() for ref in self._parent_refs) if p is not None]

    @property  # type: ignore[override]
    def parameters(self) -> _ParameterList:
        return _ParameterList(self)

    @parameters.setter
    def parameters(self, parameters: Iterable[nn.Parameter]) -> None:
        """Replace the brick's own parameters (Blocks' ``self.parameters = [...]``).

        Each must be an ``nn.Parameter`` (:func:`blocks.utils.shared_floatx`
        makes one); it is registered under its name (``shared_floatx(...,
        name="W")``, else ``parameter_<position>``), gets the role
        ``PARAMETER`` (more specific roles it has are kept) and this brick.
        """
        parameters = list(parameters)
        names = []
        for index, parameter in enumerate(parameters):
            if not isinstance(parameter, nn.Parameter):
                raise ValueError(
                    f"brick {self.name!r}: parameters must be torch.nn.Parameter objects (blocks.utils.shared_floatx "
                    f"makes them), got {type(parameter).__name__} at position {index}"
                )
            name = getattr(parameter, "_blocks_name", None) or f"parameter_{index}"
            if not name.isidentifier():
                raise ValueError(f"brick {self.name!r}: parameter name {name!r} is not a Python identifier")
            names.append(name)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"brick {self.name!r}: several parameters are named {repeated}; name them apart")
        taken = [n for n in names if n not in self._parameters and (n in self.__dict__ or (
            hasattr(type(self), n) and not isinstance(getattr(type(self), n), ParameterAccessor))
                                                                    or n in self._buffers or n in self._modules)]
        if taken:
            raise ValueError(f"brick {self.name!r}: parameter name(s) {taken} are attributes of the brick already")
        roles = self.__dict__.setdefault("_tensor_roles", {})
        for name in list(self._parameters):
            del self._parameters[name]
            roles.pop(name, None)
        for name, parameter in zip(names, parameters):
            parameter._blocks_name = name
            parameter._blocks_brick = self
            add_role(parameter, PARAMETER)
            roles[name] = PARAMETER
            self.register_parameter(name, parameter)

    def __repr__(self) -> str:
        return repr_attrs(self, "name")

    def extra_repr(self) -> str:
        return f"name={self.name!r}"

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """``brick(x)`` applies the default application (``apply``)."""
        return self.apply(*args, **kwargs)

    # ---------------------------------------------------------------- naming
    def get_unique_path(self) -> str:
        """``/root/.../name`` following the first parent (Blocks' unique path)."""
        names, brick, seen = [], self, set()
        while brick is not None and id(brick) not in seen:
            seen.add(id(brick))
            names.append(brick.name)
            parents = brick.parents
            brick = parents[0] if parents else None
        return BRICK_DELIMITER + BRICK_DELIMITER.join(reversed(names))

    @staticmethod
    def get_hierarchical_name(parameter: torch.Tensor, delimiter: str = BRICK_DELIMITER) -> str:
        """Blocks' hierarchical name of a brick's parameter or buffer (``/mlp/linear_0.W``).

        Works as ``Brick.get_hierarchical_name(param)`` and ``brick.get_hierarchical_name(param)``.
        """
        brick = getattr(parameter, "_blocks_brick", None)
        name = getattr(parameter, "_blocks_name", None)
        if brick is None or name is None:
            raise ValueError("this tensor does not belong to a brick (it has no brick annotation)")
        path = brick.get_unique_path()
        if delimiter != BRICK_DELIMITER:
            path = path.replace(BRICK_DELIMITER, delimiter)
        return f"{path}.{name}"

    # ---------------------------------------------------------------- parameters
    def new_parameter(self, name: str, shape: Sequence[int], role: Any = PARAMETER,
                      dtype: torch.dtype | None = None) -> nn.Parameter:
        """Create, annotate and register a parameter (filled with NaN until initialized)."""
        dtype = dtype or getattr(torch, config.floatX)
        parameter = nn.Parameter(torch.full(tuple(int(s) for s in shape), float("nan"), dtype=dtype))
        self._annotate_tensor(parameter, name, role)
        self.register_parameter(name, parameter)
        return parameter

    def new_buffer(self, name: str, value: torch.Tensor, role: Any) -> torch.Tensor:
        """Create, annotate and register a persistent buffer (e.g. population statistics)."""
        self._annotate_tensor(value, name, role)
        self.register_buffer(name, value)
        return value

    def _annotate_tensor(self, tensor: torch.Tensor, name: str, role: Any) -> None:
        tensor._blocks_name = name
        tensor._blocks_brick = self
        tensor._blocks_roles = []
        add_role(tensor, role)
        self.__dict__.setdefault("_tensor_roles", {})[name] = role

    def _reannotate(self) -> None:
        """Annotate tensors again after ``.to()``/``.double()`` or a deep copy replaced them."""
        for name, role in list(self.__dict__.get("_tensor_roles", {}).items()):
            tensor = self._parameters.get(name)
            if tensor is None:
                tensor = self._buffers.get(name)
            if tensor is not None and getattr(tensor, "_blocks_brick", None) is not self:
                self._annotate_tensor(tensor, name, role)

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        result = super()._apply(fn, recurse)
        self._reannotate()
        return result

    def __deepcopy__(self, memo: dict) -> Brick:
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            clone.__dict__[key] = copy.deepcopy(value, memo)
        clone._reannotate()
        return clone

    # ---------------------------------------------------------------- lifecycle
    def _missing(self, names: Sequence[str], sentinel: _Sentinel) -> list[str]:
        return [name for name in names if getattr(self, name, sentinel) is sentinel]

    def _missing_allocation(self) -> list[str]:
        return self._missing(self.allocation_args, NoneAllocation)

    def push_allocation_config(self) -> None:
        """Push this brick's allocation configuration to its children, recursively."""
        self._push_allocation_config()
        self.allocation_config_pushed = True
        for child in self.children:
            try:
                child.push_allocation_config()
            except Exception:
                self.allocation_config_pushed = False
                raise

    def _push_allocation_config(self) -> None:
        """Set children's allocation settings from this brick's (override)."""

    def allocate(self, strict: bool = True) -> None:
        """Allocate parameters of this brick and its children (after pushing configuration).

        Raises
        ------
        ValueError
            Listing the settings a brick still lacks.
        """
        if not self.allocation_config_pushed:
            try:
                self.push_allocation_config()
            except Exception as error:
                if self._missing_allocation():
                    self._raise_missing_allocation(error)
                raise
        if self._missing_allocation():
            self._raise_missing_allocation(None)
        for child in self.children:
            if strict or (not child.allocated and not child._missing_allocation()):
                child.allocate(strict)
        for name in list(self._parameters):
            del self._parameters[name]
        self._allocate()
        self.allocated = True
        self.initialized = False
        self._ready = False

    def _raise_missing_allocation(self, cause: Exception | None) -> None:
        missing = self._missing_allocation()
        raise ValueError(
            f"brick {self.get_unique_path()} ({self.__class__.__name__}) cannot be allocated: missing "
            f"setting(s) {', '.join(missing)}. Pass them to the constructor, set them as attributes, let a "
            f"parent push them (push_allocation_config), or call the brick on a tensor to infer them.") from cause

    def _allocate(self) -> None:
        """Create the brick's parameters and buffers (override)."""

    def push_initialization_config(self) -> None:
        """Push this brick's initialization configuration to its children, recursively."""
        self._push_initialization_config()
        self.initialization_config_pushed = True
        for child in self.children:
            try:
                child.push_initialization_config()
            except Exception:
                self.initialization_config_pushed = False
                raise

    def _push_initialization_config(self) -> None:
        """Set children's initialization settings from this brick's (override)."""

    def initialize(self, strict: bool = True) -> None:
        """Initialize parameters of this brick and its children (allocating first if needed)."""
        if not self.allocated:
            self.allocate(strict)
        if not self.initialization_config_pushed:
            self.push_initialization_config()
        for child in self.children:
            if strict:
                child.initialize(strict)
            elif child.allocated and not child.initialized:
                child.initialize(strict)
        written = {} if strict else self._written_parameters()
        if not written or len(written) < len(self._live_parameters()):  # something is left to draw
            missing = self._missing(self.initialization_args, NoneInitialization)
            if missing:
                raise InitializationError(f"brick {self.get_unique_path()} ({self.__class__.__name__}) cannot be "
                                          f"initialized: missing setting(s) {', '.join(missing)}. Pass them to "
                                          f"the constructor or to a parent (which pushes them down), or set them "
                                          f"as attributes.")
            self._initialize()
            with torch.no_grad():  # an automatic initialization keeps the values written since allocation
                for name, value in written.items():
                    self._parameters[name].copy_(value)
        self.initialized = True
        self._ready = True

    def _live_parameters(self) -> dict[str, nn.Parameter]:
        return {name: p for name, p in self._parameters.items() if p is not None}

    def _written_parameters(self) -> dict[str, torch.Tensor]:
        """Copies of this brick's own parameters holding no NaN: written (``W.data[...] = ...``) since allocation.

        Allocation fills parameters with NaN; an automatic initialization (first application, compilation)
        draws only those still NaN, so values a user set after ``allocate()`` are never overwritten (Blocks
        used the values set with ``set_value``). ``initialize()`` called explicitly draws all again.
        """
        if self.initialized:
            return {}
        return {name: p.detach().clone() for name, p in self._live_parameters().items()
                if p.is_floating_point() and p.numel() and not torch.isnan(p).any()}

    def _initialize(self) -> None:
        """Fill the brick's parameters (override)."""

    def mark_initialized(self) -> None:
        """Declare this brick's (allocated) parameters set by other means (loaded values)."""
        if self.allocated:
            self.initialized = True
            self._ready = True

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """``nn.Module.load_state_dict``, allocating first; loaded bricks count as initialized."""
        if not self.allocated:
            self.allocate()
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        for module in self.modules():
            if isinstance(module, Brick):
                module.mark_initialized()
        return result

    # ---------------------------------------------------------------- calls
    def _prepare_call(self, application: BoundApplication, args: tuple, kwargs: dict) -> None:
        """First call: infer missing settings from the inputs, allocate and initialize."""
        for ancestor in self._ancestors():
            if not self.allocated and not ancestor.allocation_config_pushed:
                ancestor.push_allocation_config()
            if not ancestor.initialization_config_pushed:
                ancestor.push_initialization_config()
        if not self.allocated:
            self._infer_allocation_config(application, args, kwargs)
        if not self.allocated:
            self.allocate(strict=False)
        try:
            self.initialize(strict=False)
        except InitializationError:
            from blocks.graph.variables import is_symbolic

            if not is_symbolic(args, kwargs):
                raise
            # Building a graph: parameters may still be loaded or initialized before the graph is
            # compiled; ComputationGraph.compile() refuses uninitialized parameters.
            logger.debug("brick %s applied symbolically before initialization", self.get_unique_path())

    def _record_auxiliary_variables(self, application: BoundApplication, call: ApplicationCall) -> None:
        """Add auxiliary variables to a symbolic call (override; e.g. Linear's ``W_norm``)."""

    def _ancestors(self) -> list[Brick]:
        """Ancestors along first parents, the root first."""
        chain: list[Brick] = []
        brick = self.parents[0] if self.parents else None
        while brick is not None and not any(brick is c for c in chain):
            chain.append(brick)
            brick = brick.parents[0] if brick.parents else None
        return chain[::-1]

    def _infer_allocation_config(self, application: BoundApplication, args: tuple, kwargs: dict) -> None:
        """Set missing allocation settings from the inputs' shapes (override)."""

    def _input_mismatch(self, application: BoundApplication, args: tuple, kwargs: dict) -> str | None:
        """Describe how the inputs do not fit this brick's settings, or ``None`` (override)."""
        return None

    def _explain_error(self, application: BoundApplication, args: tuple, kwargs: dict, error: Exception) -> None:
        message = self._input_mismatch(application, args, kwargs)
        if message:
            raise ValueError(f"brick {self.get_unique_path()} ({self.__class__.__name__}).{application.name}: "
                             f"{message}") from error

    def _check_symbolic_inputs(self, application: BoundApplication, args: tuple, kwargs: dict) -> None:
        message = self._input_mismatch(application, args, kwargs)
        if message:
            raise ValueError(f"brick {self.get_unique_path()} ({self.__class__.__name__}).{application.name}: "
                             f"{message}")

    def get_dim(self, name: str) -> Any:
        """The dimension of the input/output/state ``name`` (override)."""
        raise ValueError(f"brick {self.get_unique_path()} ({self.__class__.__name__}) has no dimension "
                         f"named {name!r}")

    def get_dims(self, names: Sequence[str]) -> list[Any]:
        """``[self.get_dim(name) for name in names]``."""
        return [self.get_dim(name) for name in names]


def shape_of(value: Any) -> tuple[int | None, ...] | None:
    """The (possibly partial) shape of a tensor or symbolic variable, if known."""
    if isinstance(value, Variable):
        return value.static_shape
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    return None


def get_brick(variable: Any) -> Brick | None:
    """The brick a variable, parameter or buffer belongs to (``None`` if none).

    Examples
    --------
    >>> from blocks.bricks import Linear, get_brick
    >>> from blocks.initialization import Constant
    >>> linear = Linear(input_dim=2, output_dim=2, weights_init=Constant(0), biases_init=Constant(0))
    >>> linear.allocate()
    >>> get_brick(linear.W) is linear
    True
    """
    if isinstance(variable, Variable):
        return variable.node.meta.get("brick")
    return getattr(variable, "_blocks_brick", None)
