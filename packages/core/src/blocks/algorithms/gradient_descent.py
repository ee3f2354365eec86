"""``GradientDescent``: train the parameters of an annotated graph with a step rule."""

from __future__ import annotations

import logging
import math
import numbers
import warnings
from collections import OrderedDict
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
from torch import Tensor

from blocks.algorithms.base import TrainingAlgorithm
from blocks.algorithms.step_rules import StepRule, make_step_rule
from blocks.algorithms.updates import check_updates
from blocks.graph import ComputationGraph, Variable, as_variable, call
from blocks.graph.rewrites import resolve_rewrites
from blocks.numerics import nonfinite_names

__all__ = ["MIN_LOSS_SCALE", "AlgorithmQuantity", "GradientDescent"]

logger = logging.getLogger(__name__)

_ON_UNUSED_SOURCES = ("raise", "warn", "ignore")

#: a loss scale below this (the smallest fp16 subnormal) that still meets non-finite gradients is no overflow:
#: the non-finite guard reports it instead of letting the scaler skip every step forever
MIN_LOSS_SCALE = 2.0**-24


class AlgorithmQuantity:
    """A quantity the algorithm computes itself (not a graph variable), monitorable by name.

    ``GradientDescent.total_gradient_norm`` and ``GradientDescent.total_step_norm``
    are such objects: pass them to :meth:`GradientDescent.add_monitored` and
    read ``algorithm.monitored_values[quantity.name]``.

    Parameters
    ----------
    name : str
        The key in ``monitored_values`` (and the log channel name monitoring
        extensions use).

    Examples
    --------
    >>> AlgorithmQuantity("total_gradient_norm").name
    'total_gradient_norm'
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"AlgorithmQuantity({self.name!r})"


def _parameter_name(parameter: Tensor, index: int) -> str:
    if getattr(parameter, "_blocks_brick", None) is not None:
        from blocks.bricks import Brick

        return Brick.get_hierarchical_name(parameter)
    return getattr(parameter, "_blocks_name", None) or f"parameter_{index}"


def _has_none(items: Sequence[Any]) -> bool:
    for item in items:
        if item is None:
            return True
    return False


def _global_norm(tensors: Sequence[Tensor]) -> Tensor:
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(list(tensors))))


_ORDER = ("gradients must be given in a fixed order to tell the parameters' order: pass an OrderedDict or a list "
          "of (parameter, gradient) pairs, not a dict")


def _key_tensor(key: Any) -> Any:
    return key.tensor if isinstance(key, Variable) and key.tensor is not None else key


def _gradient_of(gradients: Any, parameter: Tensor) -> Variable:
    pairs = gradients.items() if isinstance(gradients, Mapping) else gradients
    for key, value in pairs:
        if _key_tensor(key) is parameter:
            return as_variable(value)
    raise KeyError(parameter)  # pragma: no cover - the parameters come from the keys


def _paired_gradient(parameter: Tensor, gradient: Tensor) -> Tensor:
    """``sum(parameter * gradient)`` with the gradient held constant: its gradient wrt ``parameter`` is ``gradient``."""
    if gradient.shape != parameter.shape:
        raise ValueError(f"a given gradient has shape {tuple(gradient.shape)}, its parameter {tuple(parameter.shape)}")
    return (parameter * gradient.detach().to(parameter.dtype)).sum()


def _cost_of_gradients(gradients: Any, parameters: Any, cost: Any) -> tuple[Variable, list[Tensor]]:
    """Blocks' ``gradients=``: the parameters (Blocks' ordering rules) and a cost whose gradients are the given ones."""
    ordered = not isinstance(gradients, Mapping) or isinstance(gradients, OrderedDict)
    pairs = list(gradients.items()) if isinstance(gradients, Mapping) else [tuple(pair) for pair in gradients]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError("gradients must be (parameter, gradient expression) pairs")
    keys = [_key_tensor(key) for key, _ in pairs]
    if not all(isinstance(key, Tensor) and key.requires_grad for key in keys):
        raise ValueError("the keys of gradients must be the parameters (tensors that require grad)")
    if cost is not None:
        logger.warning("GradientDescent: gradients are given, so the cost is not used")
    if parameters is None or isinstance(parameters, Mapping):
        if not ordered:
            raise ValueError(_ORDER)
    elif {id(p) for p in parameters} != {id(k) for k in keys}:
        logger.warning("GradientDescent: the parameters differ from the keys of gradients; training the keys")
        if not ordered:
            raise ValueError(_ORDER)
    else:
        keys = list(parameters)
    values = {id(key): as_variable(value) for key, (_, value) in zip([_key_tensor(k) for k, _ in pairs], pairs)}
    terms = [call(_paired_gradient, as_variable(key), values[id(key)]) for key in keys]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total, keys


def _check_options(reduction: str, mean_over: Any, on_unused_sources: str) -> None:
    """``GradientDescent``'s reduction, ``mean_over`` and ``on_unused_sources`` must make sense together."""
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum' (how the cost reduces over the examples of a "
                         f"batch), got {reduction!r}")
    if mean_over is not None and not callable(mean_over):
        raise ValueError(f"mean_over must be a function of the batch, got {type(mean_over).__name__}")
    if mean_over is not None and reduction != "mean":
        raise ValueError("mean_over says what a mean cost averages over; it means nothing with reduction='sum'")
    if on_unused_sources not in _ON_UNUSED_SOURCES:
        raise ValueError(f"on_unused_sources must be one of {_ON_UNUSED_SOURCES}, got {on_unused_sources!r}")


def _check_cost(cost: Any) -> None:
    if cost is None:
        raise ValueError("GradientDescent has no cost (and no gradients) to train from: pass cost=...")
    if not isinstance(cost, Variable):
        raise ValueError(
            f"cost must be a symbolic Variable of the annotated graph (built from blocks.graph inputs), "
            f"got {type(cost).__name__}"
        )


def _step_rule(step_rule: Any, options: Mapping[str, Any]) -> StepRule:
    """The step rule given, or the one named (with ``options``); ``None`` is the configured default."""
    if step_rule is not None and not isinstance(step_rule, (StepRule, str, Mapping)):
        raise ValueError(
            f"step_rule must be a blocks.algorithms.StepRule, a registry name such as 'adam', or an entry "
            f"{{'name': 'adam', ...}}, got {type(step_rule).__name__}"
        )
    if options and isinstance(step_rule, StepRule):
        raise ValueError(
            f"GradientDescent got unknown arguments {', '.join(sorted(options))}: arguments of the "
            "step rule go with a rule given by name (step_rule='adam', learning_rate=0.001)"
        )
    return make_step_rule(step_rule, **options)


def _named_parameters(parameters: Sequence[Tensor] | Mapping[str, Tensor]) -> OrderedDict[str, Tensor]:
    """The trained parameters by name (hierarchical brick names for a list), each once, each requiring grad."""
    if isinstance(parameters, Mapping):
        named = OrderedDict(parameters)
    else:
        named = OrderedDict()
        for index, parameter in enumerate(parameters):
            name = _parameter_name(parameter, index)
            if name in named and named[name] is not parameter:
                raise ValueError(f"two trained parameters are both named {name!r}; pass parameters as a mapping "
                                 "name -> parameter to name them")
            named[name] = parameter
    if not named:
        raise ValueError("GradientDescent has no parameters to train: the cost uses none and none were given")
    identities = [id(p) for p in named.values()]
    if len(set(identities)) != len(identities):
        raise ValueError("a parameter is listed twice in parameters")
    for name, parameter in named.items():
        if not isinstance(parameter, Tensor) or not parameter.requires_grad:
            raise ValueError(f"parameter {name!r} must be a tensor that requires grad (an nn.Parameter)")
    return named


class GradientDescent(TrainingAlgorithm):
    """Gradient descent with a step rule (Blocks' ``GradientDescent``).

    Each :meth:`process_batch` runs one forward pass of the cost (and of every
    monitored variable), one backward pass, computes the steps with the step
    rule and subtracts them from the parameters (``p -= step``), then applies
    the graph's updates (batch-normalization population statistics).

    Parameters
    ----------
    cost : Variable, optional
        A scalar symbolic variable of the annotated graph. Its symbolic inputs
        are fed from the batch sources of the same name. Needed unless
        ``gradients`` are given.
    parameters : sequence of torch.nn.Parameter or mapping, optional
        What to train; default ``ComputationGraph([cost]).parameters``. A
        mapping ``name -> parameter`` names them; otherwise brick parameters
        get their hierarchical name (``/mlp/linear_0.W``) and others
        ``parameter_<index>``. The names key the step rule's buffers.
    step_rule : StepRule, str or mapping, optional
        The rule, or its registry name (``"adam"``; ``blocks plugins`` lists
        them) built with ``**step_rule_options``, or a configuration entry
        ``{"name": "adam", "learning_rate": 0.001}``
        (:func:`~blocks.algorithms.make_step_rule`). Default: the
        ``step_rule`` option of ``blocks.config`` (``BLOCKS_STEP_RULE``,
        ``~/.blocksrc``), itself ``"scale"``: :class:`~blocks.algorithms.Scale`
        (plain SGD with rate 1).
    on_unused_sources : {"raise", "warn", "ignore"}
        What to do with batch sources the graph does not read. Missing
        sources always raise a ``ValueError`` naming them.
    use_torch_compile : bool, optional
        Compile the forward function with ``torch.compile`` (opt-in; the
        first batch then takes long).
    keep_gradients : bool, optional
        Keep this batch's gradients in :attr:`gradients` (a copy is handed to
        the step rule, which costs one extra pass over them). Default
        ``False``: the step rule consumes the gradients in place.
    backend : Backend or str, optional
        Where and in which precision to train: a
        :class:`~blocks.backends.Backend` or a device name (``"cpu"``,
        ``"cuda:1"``, ``"auto"``). Default: the ``device`` configuration
        option (``BLOCKS_DEVICE``), so one script trains on a CPU or a GPU
        without changes. :meth:`initialize` moves the parameters and every
        tensor of the graph to the device; batches are moved there as they
        come. With ``precision="bf16"``/``"fp16"`` the forward pass runs under
        autocast; fp16 adds dynamic loss scaling: gradients are unscaled
        before the step rule sees them, and a batch with non-finite gradients
        leaves parameters and rule state untouched.
    distributed : bool, optional
        Combine gradients across the ranks of a torch.distributed process
        group (DistributedDataParallel around the compiled forward module).
        Default: when a process group with more than one rank exists.
    reduction : {"mean", "sum"}
        How the cost reduces over the examples of a batch; it decides how
        data-parallel ranks combine their gradients into the gradient one
        process would compute on the global batch (it changes nothing in a
        single process). ``"mean"`` (every Blocks cost brick: a mean over the
        batch): rank ``r``'s gradient counts ``n_r / N`` (its share of the
        global batch's examples), so uneven shards (a global batch not
        divisible by the number of ranks, the last partial batch) train
        exactly as one process. ``"sum"`` (a cost summed over the examples):
        the ranks' gradients are summed.
    mean_over : callable, optional
        With ``reduction="mean"``: ``batch -> count``, what the cost is a mean
        over (a number or a tensor), e.g. ``lambda batch:
        batch["targets_mask"].sum()`` for a cost averaged over the tokens of
        padded sequences. Default: the number of examples,
        :func:`blocks.distributed.count_examples` over the graph's input
        sources (their length along axis 0, which must agree: for time-major
        sequences say what to count). A cost that is neither a mean nor a sum
        over examples has no exact data-parallel combination.
    rewrites : bool, str or sequence of str, optional
        The numerical-stability rewrites applied when the cost is compiled
        (``log(softmax(x))`` → ``log_softmax(x)``, ...; see
        :meth:`blocks.graph.ComputationGraph.compile`). Default: the
        ``stability_rewrites`` configuration option (all of them). The set
        in force is part of :meth:`state_dict`, so checkpoints record it;
        resuming under another set warns (training continues, but not
        bit-for-bit as the original run would have).
    gradients : OrderedDict or list of (parameter, Variable) pairs, optional
        Blocks' given gradients: an expression per parameter used as its
        gradient (computed in the forward pass, held constant) instead of
        differentiating a cost. The parameters are the keys, in order (a plain
        ``dict`` is refused unless ``parameters`` lists the same ones); a
        gradient must have its parameter's shape. :attr:`cost` is then
        ``sum(parameter * gradient)`` with the gradients constant, whose
        gradients they are.
    updates : list of (tensor, value) pairs or OrderedDict, optional
        Blocks' extra updates: tensors assigned the value of a graph variable
        after every step (values computed in the forward pass, before the
        step); :meth:`add_updates` adds more.

    Attributes
    ----------
    total_gradient_norm, total_step_norm : AlgorithmQuantity
        Global L2 norms of the gradients and of the steps; computed only when
        passed to :meth:`add_monitored`, kept on the device.
    gradients : dict
        ``parameter -> gradient`` of the last batch when ``keep_gradients``
        (what ``CheckNumerics`` reads); empty otherwise.
    monitored_values : dict
        After each batch: name -> detached tensor (pre-update values of the
        monitored variables, and the requested norms). No host
        synchronisation happens in :meth:`process_batch`.

    Notes
    -----
    Unless ``total_step_norm`` is monitored, the update is
    ``step_rule.update_parameters(parameters, gradients)``, which lets the
    last rule fuse its final operation into the update (``Scale`` becomes
    ``p.add_(g, alpha=-learning_rate)`` like ``torch.optim.SGD``, ``Adam`` one
    ``addcdiv_`` on the parameters); with it, the steps are materialized,
    measured and subtracted.

    Gradients are computed with ``cost.backward()`` into ``.grad`` and handed
    to the step rule, which may overwrite them in place; ``.grad`` is reset to
    ``None`` after every batch (never zero-filled), so after
    :meth:`process_batch` the parameters carry no gradient.

    Examples
    --------
    >>> import torch
    >>> from blocks.graph import matrix
    >>> from blocks.algorithms import Scale
    >>> x = matrix("features")
    >>> w = torch.nn.Parameter(torch.ones(2, 1))
    >>> cost = (x @ w).sum()
    >>> algorithm = GradientDescent(cost, parameters=[w], step_rule=Scale(0.1))
    >>> algorithm.add_monitored([algorithm.total_gradient_norm])
    >>> algorithm.initialize()
    >>> algorithm.process_batch({"features": torch.ones(3, 2)})
    >>> w.view(-1)
    tensor([0.7000, 0.7000], grad_fn=<ViewBackward0>)
    >>> algorithm.monitored_values["total_gradient_norm"]
    tensor(4.2426)
    """

    _empty_shard = False  # whether this rank's last batch held no example (data parallel)

    def __init__(
        self,
        cost: Variable | None = None,
        parameters: Sequence[Tensor] | Mapping[str, Tensor] | None = None,
        step_rule: StepRule | None = None,
        on_unused_sources: str = "raise",
        use_torch_compile: bool = False,
        keep_gradients: bool = False,
        backend: Any = None,
        distributed: bool | None = None,
        reduction: str = "mean",
        mean_over: Callable[[Mapping[str, Any]], Any] | None = None,
        rewrites: Any = None,
        *,
        gradients: Mapping[Tensor, Any] | Sequence[tuple[Tensor, Any]] | None = None,
        updates: Sequence[tuple[Tensor, Any]] | Mapping[Tensor, Any] | None = None,
        **step_rule_options: Any,
    ) -> None:
        _check_options(reduction, mean_over, on_unused_sources)
        if gradients is not None:
            cost, parameters = _cost_of_gradients(gradients, parameters, cost)
        _check_cost(cost)
        self.cost = cost
        self.step_rule = _step_rule(step_rule, step_rule_options)
        self.on_unused_sources = on_unused_sources
        self.use_torch_compile = bool(use_torch_compile)
        self.keep_gradients = bool(keep_gradients)
        self.gradients: dict[Tensor, Tensor] = {}
        self._backend_request = backend
        self.backend: Any = None
        self.distributed = distributed
        self.reduction = reduction
        self.mean_over = mean_over
        self._share: Callable[[Mapping[str, Any]], Any] | None = None
        self.loss_scaler: Any = None
        self._rewrites_request = rewrites
        self.rewrites: tuple[str, ...] = resolve_rewrites(rewrites)  # checked now: a bad name fails here
        self.graph = ComputationGraph([cost])
        self.parameter_dict = _named_parameters(self.graph.parameters if parameters is None else parameters)
        self.parameters: list[Tensor] = list(self.parameter_dict.values())
        self.gradient_expressions = None if gradients is None else OrderedDict(
            (parameter, _gradient_of(gradients, parameter)) for parameter in self.parameters)
        self._extra_updates = check_updates(updates)
        self._function: Any = None
        self._pending_state: Mapping[str, Any] | None = None
        self._init_monitoring()

    def _init_monitoring(self) -> None:
        """Nothing monitored yet; the non-finite guard off."""
        self.total_gradient_norm = AlgorithmQuantity("total_gradient_norm")
        self.total_step_norm = AlgorithmQuantity("total_step_norm")
        self._monitored: list[Variable] = []
        self._want_gradient_norm = False
        self._want_step_norm = False
        self.monitored_values: dict[str, Tensor] = {}
        # the non-finite guard's record, on the device, created by the first batch: the sums of 0 * cost and
        # 0 * gradient norm since the last check, 0 while every term is finite and NaN from the first that is not
        # (0 * inf is NaN); one in-place addition per batch, in the values' own dtype, never an overflow
        self._track_nonfinite = False
        self._cost_sum: Tensor | None = None
        self._norm_sum: Tensor | None = None

    # -- set-up --------------------------------------------------------------
    @property
    def initialized(self) -> bool:
        """Whether :meth:`initialize` has run."""
        return self._function is not None

    def add_monitored(self, variables: Iterable[Variable | AlgorithmQuantity]) -> None:
        """Compute ``variables`` in the same forward pass; their values land in :attr:`monitored_values`.

        Call it before :meth:`initialize` (as Blocks required); called later,
        the forward function is compiled again. Accepts graph variables (with
        a unique ``.name``) and :attr:`total_gradient_norm` /
        :attr:`total_step_norm`.
        """
        names = {v.name for v in self._monitored}
        names.update(q.name for q, wanted in ((self.total_gradient_norm, self._want_gradient_norm),
                                               (self.total_step_norm, self._want_step_norm)) if wanted)
        for variable in variables:
            if variable is self.total_gradient_norm:
                self._want_gradient_norm = True
                continue
            if variable is self.total_step_norm:
                self._want_step_norm = True
                continue
            if not isinstance(variable, Variable):
                raise ValueError(
                    f"can only monitor graph Variables, total_gradient_norm and total_step_norm, "
                    f"got {type(variable).__name__}"
                )
            if any(variable.node is v.node for v in self._monitored):
                continue
            if not variable.name:
                raise ValueError("a monitored variable needs a name: set variable.name = '...'")
            if variable.name in names:
                raise ValueError(f"two monitored quantities are named {variable.name!r}; names must be unique")
            names.add(variable.name)
            self._monitored.append(variable)
        if self.initialized:
            logger.debug("add_monitored after initialize(): compiling the forward function again")
            self._compile()

    @property
    def updates(self) -> list[tuple[Tensor, Variable]]:
        """What is assigned after every step: the graph's updates (batch normalization) and the given ones."""
        return list(self.graph.updates) + list(self._extra_updates)

    def add_updates(self, updates: Sequence[tuple[Tensor, Any]] | Mapping[Tensor, Any]) -> None:
        """Also assign these ``(tensor, value)`` pairs after every step (Blocks' ``add_updates``).

        Values are computed in the training forward pass, before the step.
        """
        if not isinstance(updates, (list, tuple, OrderedDict)):
            raise ValueError(f"updates must be a list of (tensor, value) pairs or an OrderedDict, got "
                             f"{type(updates).__name__}")
        self._extra_updates.extend(check_updates(updates))
        if self.initialized:
            self._compile()

    @property
    def inputs(self) -> list[Variable]:
        """The symbolic inputs the training step reads (the batch must have these sources)."""
        return ComputationGraph(self._outputs()).inputs

    def _outputs(self) -> list[Variable]:
        return [self.cost, *self._monitored, *(value for _, value in self.updates)]

    def initialize(self) -> None:
        """Choose the backend, compile the forward function and create the step rule's buffers."""
        from blocks.backends import Backend, get_backend

        request = self._backend_request
        self.backend = request if isinstance(request, Backend) else get_backend(request)
        if self.loss_scaler is None:
            self.loss_scaler = self.backend.make_loss_scaler()
        self._compile()
        for parameter in self.parameters:
            parameter.grad = None
        # buffers are created like the parameters, so on the backend's device; hyper-parameters stay
        # 0-d CPU tensors (read without a device synchronisation)
        self.step_rule.initialize(self.parameter_dict)
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self.load_state_dict(state)

    def _compile(self) -> None:
        self._share = None
        self._updates = self.updates
        outputs = self._outputs()
        graph = ComputationGraph(outputs)
        self.rewrites = resolve_rewrites(self._rewrites_request)
        self._function = graph.compile(outputs, use_torch_compile=self.use_torch_compile, rewrites=self.rewrites)
        backend = self.backend
        if backend is not None:
            module = self._function.graph_module
            # batches need no placing here: the compiled graph moves them to its tensors' device
            backend.place_tensors({id(t): t for t in (*self.parameters, *self._function.tensors)}.values())
            self._autocast = backend.autocast if backend.precision != "float32" else None
            from blocks import distributed

            wanted = distributed.is_distributed() if self.distributed is None else self.distributed
            if wanted:
                if not distributed.is_distributed():
                    raise ValueError("distributed=True needs an initialized process group with more than one "
                                     "rank: call blocks.distributed.init_distributed() under torchrun")
                distributed.broadcast_parameters(module)
                # DistributedDataParallel averages the gradients during backward(); the cost is rescaled first
                self._function.set_forward(distributed.wrap_module(module))
                self._share = self._data_parallel_share
        else:
            self._autocast = None
        self._input_names = set(self._function.input_names)
        self._monitored_names = [v.name for v in self._monitored]
        self._num_monitored = len(self._monitored)
        self._update_buffers = [buffer for buffer, _ in self._updates]
        self._checked_sources: Any = None

    # -- training ------------------------------------------------------------
    def _check_sources(self, batch: Mapping[str, Any]) -> None:
        if not isinstance(batch, Mapping):
            raise ValueError(f"a batch must be a mapping from source names to arrays, got {type(batch).__name__}")
        sources = set(batch)
        missing = self._input_names - sources
        if missing:
            raise ValueError(
                f"the batch lacks the source(s) {sorted(missing)} that the cost needs (inputs "
                f"{sorted(self._input_names)}); it has {sorted(sources)}"
            )
        unused = sources - self._input_names
        if unused and self.on_unused_sources != "ignore":
            message = (f"the batch sources {sorted(unused)} are not inputs of the graph (inputs "
                       f"{sorted(self._input_names)}); pass on_unused_sources='warn' or 'ignore' to allow them")
            if self.on_unused_sources == "raise":
                raise ValueError(message)
            warnings.warn(message, stacklevel=3)
        self._checked_sources = sources

    def _data_parallel_share(self, batch: Mapping[str, Any]) -> Any:
        """The factor on this rank's cost that makes DDP's average of gradients the global batch's gradient."""
        from blocks import distributed

        if self.reduction == "sum":  # the global cost is the sum of the ranks' costs
            return float(distributed.world_size())
        if self.mean_over is None:
            count: Any = distributed.count_examples(batch, self._function.input_names)
        else:
            count = self.mean_over(batch)
        if isinstance(count, numbers.Real) and count < 0:
            raise ValueError(f"rank {distributed.rank()}: mean_over counted {count} examples in a batch")
        # A rank without examples (a global batch smaller than the number of ranks, e.g. the last partial batch
        # of an epoch) takes part with weight 0: its mean cost is NaN, but its gradients are zeros (sums over no
        # rows), so DDP's average is still the global batch's gradient; the guard does not record its cost.
        self._empty_shard = isinstance(count, numbers.Real) and count == 0
        return distributed.example_share(count)

    def process_batch(self, batch: Mapping[str, Any]) -> None:
        """One forward, backward and update step on ``batch`` (source name -> array)."""
        if self._function is None:
            raise ValueError("GradientDescent.initialize() must be called before process_batch")
        try:
            checked = batch.keys() == self._checked_sources
        except AttributeError:
            checked = False
        if not checked:
            self._check_sources(batch)
        if self._autocast is not None:
            with self._autocast():
                values = self._function(batch)
        else:
            values = self._function(batch)
        if values[0].dim() != 0:
            raise ValueError(f"the cost must be a scalar, got a tensor of shape {tuple(values[0].shape)}; "
                             "reduce it (e.g. .mean()) before building GradientDescent")
        parameters = self.parameters
        scaler = self.loss_scaler
        cost = values[0]
        empty = False
        if self._share is not None:  # data parallel: weight this rank's gradient by its share of the examples
            share = self._share(batch)
            empty = self._empty_shard
            cost = cost * (share.to(device=cost.device, dtype=cost.dtype) if isinstance(share, Tensor) else share)
        try:
            (cost if scaler is None else scaler.scale_loss(cost)).backward()
            gradients = [p.grad for p in parameters]
        finally:
            for parameter in parameters:
                parameter.grad = None
        if _has_none(gradients):
            unused = [name for name, g in zip(self.parameter_dict, gradients) if g is None]
            raise ValueError(f"the cost does not depend on the parameter(s) {unused}: remove them from parameters")
        monitored: dict[str, Tensor] = {}
        if scaler is not None:
            finite = scaler.unscale_(gradients)
            scaler.update()
            monitored["loss_scale"] = torch.tensor(scaler.scale)
            if not finite:  # skip the step: parameters and rule state stay as they were
                logger.debug("non-finite gradients under loss scaling: step skipped, scale now %s", scaler.scale)
                if self._track_nonfinite and scaler.scale < MIN_LOSS_SCALE:
                    # no overflow survives a scale this small: the gradients are non-finite whatever the scale
                    self._scaler_gave_up = scaler.scale
                for name, value in zip(self._monitored_names, values[1:]):
                    monitored[name] = value.detach()
                self.monitored_values = monitored
                return
        # no_grad without the context manager's Python frames (this runs every batch)
        grad_enabled = torch.is_grad_enabled()
        torch._C._set_grad_enabled(False)
        try:
            if self._track_nonfinite and not empty:
                if self._cost_sum is None:
                    self._cost_sum = torch.zeros((), dtype=values[0].dtype, device=values[0].device)
                self._cost_sum.add_(values[0], alpha=0)
            if self._want_gradient_norm:
                norm = monitored["total_gradient_norm"] = _global_norm(gradients)
                if self._track_nonfinite:
                    if self._norm_sum is None:
                        self._norm_sum = torch.zeros((), dtype=norm.dtype, device=norm.device)
                    self._norm_sum.add_(norm, alpha=0)
            if self.keep_gradients:
                self.gradients = dict(zip(parameters, gradients))
                gradients = [g.clone() for g in gradients]
            if self._want_step_norm:
                steps = self.step_rule.compute_steps(parameters, gradients)
                monitored["total_step_norm"] = _global_norm(steps)
                torch._foreach_sub_(parameters, steps)
            else:  # the rule may fuse its last operation into the update
                self.step_rule.update_parameters(parameters, gradients)
            if self._update_buffers:
                torch._foreach_copy_(self._update_buffers, values[1 + self._num_monitored:])
        finally:
            torch._C._set_grad_enabled(grad_enabled)
        if self._num_monitored:
            for name, value in zip(self._monitored_names, values[1:]):
                # values that need no gradient (error rates, counts) are stored as they are: detach is an op
                monitored[name] = value.detach() if value.requires_grad else value
        self.monitored_values = monitored

    # -- non-finite guard ----------------------------------------------------
    def track_nonfinite(self, enabled: bool = True) -> bool:
        """Record, per batch, whether the cost (and ``total_gradient_norm`` when monitored) stays finite.

        One in-place addition per batch on the device (two when the gradient
        norm is monitored: ``record += 0 * value``, which stays 0 while the
        values are finite and becomes NaN at the first that is not), no host
        synchronisation. Steps that the fp16 loss
        scaler skips are not recorded: a skipped step is the scaler's normal
        work, not a non-finite event; but when it skips until its scale falls
        below :data:`MIN_LOSS_SCALE` (2 ** -24, the smallest fp16 subnormal:
        no overflow survives such a scale), the gradients are non-finite
        whatever the scale, and that is recorded (``"gradients (loss scale
        ...)"``): otherwise training would skip every step forever. Read the
        record with :meth:`nonfinite_quantities`.
        """
        self._track_nonfinite = bool(enabled)
        self._cost_sum = self._norm_sum = None
        self._scaler_gave_up: float | None = None
        return True

    def nonfinite_quantities(self, parameters: bool = True) -> list[str]:
        """What became non-finite since the last call: ``"cost"``, ``"gradient norm"``, ``"parameter <name>"``.

        One host synchronisation for the record of :meth:`track_nonfinite`
        (which starts again from here) and, with ``parameters`` or when the
        record shows a problem, one for the trained parameters
        (:func:`blocks.numerics.nonfinite_names`).

        Examples
        --------
        >>> import torch
        >>> from blocks.graph import matrix
        >>> x = matrix("features")
        >>> w = torch.nn.Parameter(torch.ones(2, 1))
        >>> algorithm = GradientDescent((x @ w).log().sum(), parameters={"w": w})
        >>> algorithm.initialize(); algorithm.track_nonfinite()
        True
        >>> algorithm.process_batch({"features": torch.ones(3, 2)})
        >>> algorithm.nonfinite_quantities()
        []
        >>> algorithm.process_batch({"features": torch.zeros(3, 2)})  # log(0): the cost is -inf
        >>> algorithm.nonfinite_quantities()
        ['cost', 'parameter w']
        """
        found = []
        records = [(name, record) for name, record in (("cost", self._cost_sum), ("gradient norm", self._norm_sum))
                   if record is not None]
        if records:
            values = torch.stack([record.float() for _, record in records]).tolist()
            for (name, record), value in zip(records, values):
                record.zero_()
                if not math.isfinite(value):
                    found.append(name)
        gave_up, self._scaler_gave_up = getattr(self, "_scaler_gave_up", None), None
        if gave_up is not None:
            found.append(f"gradients (every step skipped by the loss scaler down to scale {gave_up:.3g})")
        if parameters or found:
            found += [f"parameter {name}" for name in nonfinite_names(self.parameter_dict)]
        return found

    # -- state ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"parameter_names": [...], "step_rule": step_rule.state_dict(), "rewrites": [...]}``.

        Before :meth:`initialize` the step rule has no buffers yet: its entry
        is ``None`` (or the state waiting to be loaded by :meth:`initialize`).
        """
        if self._pending_state is not None:
            return dict(self._pending_state)
        if not self.initialized:
            return {"parameter_names": list(self.parameter_dict), "step_rule": None}
        state = {"parameter_names": list(self.parameter_dict), "step_rule": self.step_rule.state_dict(),
                 "rewrites": list(self.rewrites)}
        if self.loss_scaler is not None:
            state["loss_scaler"] = self.loss_scaler.state_dict()
        return state

    def _compare_rewrites(self, recorded: Any) -> None:
        """Warn when the state was trained under other stability rewrites than this run compiles with."""
        if recorded is None:
            saved, where = (), "none (it predates the stability rewrites)"
        else:
            saved = tuple(recorded) if isinstance(recorded, (list, tuple)) else (recorded,)
            where = ", ".join(map(str, saved)) or "none"
        if sorted(map(str, saved)) == sorted(self.rewrites):
            return
        warnings.warn(
            f"the saved training state was computed with the stability rewrites [{where}], this run compiles "
            f"the cost with [{', '.join(self.rewrites) or 'none'}]: training continues, but not bit-for-bit as "
            "the saved run would have. To resume exactly, set the stability_rewrites option "
            "(BLOCKS_STABILITY_REWRITES) or GradientDescent(rewrites=...) to the saved set",
            UserWarning, stacklevel=3)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the step rule's state; before :meth:`initialize` it is applied by :meth:`initialize`."""
        if "step_rule" not in state:
            raise ValueError(f"GradientDescent state needs a 'step_rule' entry, got keys {sorted(state)}")
        names = list(state.get("parameter_names", self.parameter_dict))
        if names != list(self.parameter_dict):
            raise ValueError(f"the state is for parameters {names}, this algorithm trains {list(self.parameter_dict)}")
        if state["step_rule"] is None:  # saved before initialize(): nothing to restore
            return
        if not self.initialized:
            self._pending_state = state
            return
        self._compare_rewrites(state.get("rewrites"))
        self.step_rule.load_state_dict(state["step_rule"])
        if "loss_scaler" in state and self.loss_scaler is not None:
            self.loss_scaler.load_state_dict(state["loss_scaler"])
