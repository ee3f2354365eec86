"""A scikit-learn-style estimator on bricks and the main loop (nolearn for Blocks).

``NeuralNet`` builds a feed-forward network from a list of layer specifications,
trains it with :class:`~blocks.algorithms.GradientDescent` and a step rule
resolved by registry name, on a :class:`~blocks.main_loop.MainLoop` — so
checkpoints, resumption, monitoring and every installed extension apply — and
exposes ``fit``/``predict``/``predict_proba``/``score`` plus
``get_params``/``set_params``, so it works in ``GridSearchCV`` and pipelines.

Requires scikit-learn (``pip install blocks-core[estimator]``), imported only
when this module is.

Examples
--------
>>> import numpy
>>> from blocks.estimator import NeuralNetClassifier
>>> rng = numpy.random.default_rng(0)
>>> X = rng.normal(size=(200, 4)).astype("float32")
>>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
>>> net = NeuralNetClassifier(layers=[("linear", {"output_dim": 16}), ("tanh", {}), ("linear", {})],
...                           update="momentum", update_learning_rate=0.1, update_momentum=0.9,
...                           max_epochs=20, batch_size=32)
>>> net.fit(X, y).score(X, y) > 0.9
True
"""

from __future__ import annotations

import inspect
import math
import sys
import time
from typing import Any, Iterable, Sequence

import numpy
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from blocks.algorithms import GradientDescent, StepRule
from blocks.backends import get_backend
from blocks.bricks import Initializable, Softmax
from blocks.extensions import FinishAfter, SimpleExtension
from blocks.filter import VariableFilter
from blocks.graph import ComputationGraph, lvector, matrix, tensor
from blocks.initialization import Constant, GlorotUniform, IsotropicGaussian
from blocks.main_loop import MainLoop
from blocks.model import Model
from blocks.plugins import resolve
from blocks.registry import UnknownNameError
from blocks.roles import WEIGHT
from fuel.datasets import IndexableDataset
from fuel.schemes import ShuffledScheme
from fuel.streams import DataStream

__all__ = ["NeuralNet", "NeuralNetClassifier", "NeuralNetRegressor"]

LayerSpec = tuple[Any, dict]

_DEFAULT_LAYERS: tuple[LayerSpec, ...] = (("linear", {"output_dim": 100}), ("tanh", {}), ("linear", {}))


_PROVIDERS = {"step_rules": "blocks-step-rules", "bricks": "blocks-bricks-rnn (recurrent bricks)"}


def _resolve(kind: str, name_or_class: Any) -> Any:
    if isinstance(name_or_class, str):
        try:
            return resolve(kind, name_or_class)
        except UnknownNameError as err:
            raise ValueError(
                f"{err}. More {kind} come with plugins, e.g. {_PROVIDERS.get(kind, 'a plugin')}: "
                "`pip install` it and check `blocks plugins`"
            ) from None
    return name_or_class


def _accepted(callable_: Any, names: Iterable[str]) -> set[str]:
    parameters = inspect.signature(callable_).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        # walk the class hierarchy: a rule whose __init__ forwards **kwargs
        accepted: set[str] = set()
        for klass in getattr(callable_, "__mro__", ())[:-1]:
            init = klass.__dict__.get("__init__")
            if init is not None:
                accepted.update(n for n in inspect.signature(init).parameters if n != "self")
        return accepted & set(names)
    return set(parameters) & set(names)


class _EpochReport(SimpleExtension):
    """Per-epoch training and validation figures into the log (and a table if verbose)."""

    def __init__(self, net: "NeuralNet", valid: tuple[numpy.ndarray, numpy.ndarray] | None, **kwargs: Any):
        kwargs.setdefault("after_epoch", True)
        kwargs.setdefault("after_batch", True)
        kwargs.setdefault("name", "epoch_report")
        super().__init__(**kwargs)
        self.net = net
        self.valid = valid
        self._sum: torch.Tensor | None = None
        self._batches = 0
        self._start = time.perf_counter()
        self._header_done = False

    def do(self, which_callback: Any, *args: Any) -> None:
        if which_callback == "after_batch":  # accumulate on the device: no host sync per batch
            value = self.main_loop.algorithm.monitored_values["train_loss"]
            self._sum = value if self._sum is None else self._sum + value
            self._batches += 1
            return
        row = self.main_loop.log.current_row
        epoch = self.main_loop.status["epochs_done"]
        train_loss = float(self._sum) / max(self._batches, 1) if self._sum is not None else math.nan
        row["train_loss"] = train_loss
        entry = {"epoch": epoch, "train_loss": train_loss}
        if self.valid is not None:
            loss, score = self.net._evaluate(*self.valid)
            row["valid_loss"] = loss
            row[self.net._score_name] = score
            entry.update(valid_loss=loss, **{self.net._score_name: score})
        entry["dur"] = time.perf_counter() - self._start
        self.net.history_.append(entry)
        if self.net.verbose:
            self._print(entry)
        self._sum, self._batches, self._start = None, 0, time.perf_counter()

    def _print(self, entry: dict[str, float]) -> None:
        columns = list(entry)
        widths = [max(len(c), 9) for c in columns]
        if not self._header_done:
            sys.stdout.write("  ".join(f"{c:>{w}}" for c, w in zip(columns, widths)) + "\n")
            sys.stdout.write("  ".join("-" * w for w in widths) + "\n")
            self._header_done = True
        cells = [f"{entry[c]:>{w}d}" if c == "epoch" else f"{entry[c]:>{w}.5f}" for c, w in zip(columns, widths)]
        sys.stdout.write("  ".join(cells) + "\n")
        sys.stdout.flush()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "history": list(self.net.history_)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict({k: v for k, v in state.items() if k != "history"})
        self.net.history_ = list(state.get("history", []))


class NeuralNet(BaseEstimator):
    """A feed-forward network as a scikit-learn estimator (nolearn's ``NeuralNet``).

    Parameters
    ----------
    layers : sequence of (name or brick class, dict)
        Layer specifications applied in order: a brick registry name (``"linear"``,
        ``"rectifier"``, ``"convolutional"``, ...) or class, and its constructor
        arguments. Dimensions are inferred from the data: the first layer's input
        from ``X``, the last layer's ``output_dim`` (if not given) from the number
        of classes or targets. The last layer gives pre-softmax scores for a
        classifier (a trailing ``"softmax"`` layer is dropped: the estimator
        applies a numerically stable softmax itself).
    update : str or StepRule class
        Step rule by registry name (``"momentum"``, ``"nesterov_momentum"``,
        ``"adam"``, ``"scale"``, ...).
    update_learning_rate, update_momentum : float or None
        Passed to the rule when it takes them (nolearn's names).
    update_params : dict, optional
        Other keyword arguments of the step rule.
    objective_l2 : float
        L2 penalty on every WEIGHT, added to the cost.
    max_epochs : int
        Epochs to train.
    batch_size : int
        Examples per batch (the data are reshuffled every epoch).
    validation_split : float
        Fraction of the training data held out to report validation figures
        each epoch (0 for none).
    regression : bool
        Regression (squared error) instead of classification (cross-entropy).
    weights_init, biases_init : Initialization or None
        Default initialization of layers that do not set theirs (None:
        :class:`~blocks.initialization.GlorotUniform` for a layer's ``W`` of
        two or more dimensions, ``IsotropicGaussian(0.01)`` for the weights
        of other layers, and zero biases).
    seed : int
        Seeds initialization, shuffling and the validation split: two fits
        with the same data give the same network.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ...
    extensions : list of TrainingExtension, optional
        Extra extensions for the main loop (checkpointing, plots, ...).
    verbose : int
        ``1`` prints a table of per-epoch figures.

    Attributes
    ----------
    history_ : list of dict
        Per-epoch figures (``train_loss``, ``valid_loss``, the score, ``dur``).
    main_loop_ : MainLoop
        The loop that trained the network (its log, extensions, state).
    bricks_ : list of Brick
        The layers.

    Examples
    --------
    >>> import numpy
    >>> from blocks.estimator import NeuralNetRegressor
    >>> X = numpy.linspace(-1, 1, 64, dtype="float32")[:, None]
    >>> net = NeuralNetRegressor(layers=[("linear", {"output_dim": 1})], update="scale",
    ...                          update_learning_rate=0.5, max_epochs=30, batch_size=16)
    >>> float(net.fit(X, 3 * X[:, 0]).score(X, 3 * X[:, 0])) > 0.99
    True
    """

    @property
    def _score_name(self) -> str:
        return "valid_r2" if self.regression else "valid_accuracy"

    def __init__(
        self,
        layers: Sequence[LayerSpec] = _DEFAULT_LAYERS,
        update: Any = "nesterov_momentum",
        update_learning_rate: float | None = 0.01,
        update_momentum: float | None = 0.9,
        update_params: dict | None = None,
        objective_l2: float = 0.0,
        max_epochs: int = 100,
        batch_size: int = 128,
        validation_split: float = 0.2,
        regression: bool = False,
        weights_init: Any = None,
        biases_init: Any = None,
        seed: int = 1,
        device: str = "auto",
        extensions: list | None = None,
        verbose: int = 0,
    ) -> None:
        self.layers = layers
        self.update = update
        self.update_learning_rate = update_learning_rate
        self.update_momentum = update_momentum
        self.update_params = update_params
        self.objective_l2 = objective_l2
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.regression = regression
        self.weights_init = weights_init
        self.biases_init = biases_init
        self.seed = seed
        self.device = device
        self.extensions = extensions
        self.verbose = verbose

    # -- checks ----------------------------------------------------------------
    def _check_settings(self) -> None:
        if not isinstance(self.max_epochs, int) or self.max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive integer, got {self.max_epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not 0 <= self.validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1), got {self.validation_split!r}")
        if self.objective_l2 < 0:
            raise ValueError(f"objective_l2 must be >= 0, got {self.objective_l2!r}")
        if not self.layers:
            raise ValueError("layers is empty: give at least one layer, e.g. [('linear', {})]")
        for spec in self.layers:
            if not (isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[1], dict)):
                raise ValueError(f"each layer must be a (name or brick class, dict of arguments) pair, got {spec!r}")

    # -- building ---------------------------------------------------------------
    def _layer_specs(self, n_outputs: int) -> list[tuple[type, dict]]:
        specs = [(_resolve("bricks", name), dict(kwargs)) for name, kwargs in self.layers]
        if not self.regression and len(specs) > 1 and issubclass(specs[-1][0], Softmax):
            specs = specs[:-1]
        for klass, kwargs in reversed(specs):
            if "output_dim" in inspect.signature(klass.__init__).parameters or hasattr(klass, "output_dim"):
                kwargs.setdefault("output_dim", n_outputs)
                break
            if "num_filters" in inspect.signature(klass.__init__).parameters:
                raise ValueError("the last layer with an output size is convolutional; end with a 'linear' layer")
        return specs

    def _build(self, X: numpy.ndarray, n_outputs: int) -> None:
        torch.manual_seed(self.seed)
        sample = torch.as_tensor(X[: min(len(X), 2)])
        bricks = []
        for index, (klass, kwargs) in enumerate(self._layer_specs(n_outputs)):
            brick, sample = self._layer(index, klass, kwargs, sample)
            bricks.append(brick)
        self.bricks_ = bricks
        self._output = self._apply_all(tensor("features", ndim=X.ndim))
        # the same network on float64 inputs: predictions (see _forward)
        self._output64 = self._apply_all(tensor("features", ndim=X.ndim, dtype="float64"))

    def _layer(self, index: int, klass: type, kwargs: dict, sample: torch.Tensor) -> tuple[Any, torch.Tensor]:
        """Layer ``index``, allocated and initialized from ``sample`` (its input), and its output on ``sample``."""
        kwargs.setdefault("name", f"layer_{index}")
        initializable = issubclass(klass, Initializable)
        default_weights = initializable and "weights_init" not in kwargs
        if initializable:
            if "biases_init" not in kwargs:
                kwargs["biases_init"] = self.biases_init if self.biases_init is not None else Constant(0)
            kwargs.setdefault("seed", self.seed + index)
        brick = klass(**kwargs)
        if default_weights:
            brick.weights_init = self.weights_init or IsotropicGaussian(0.01)
        with torch.no_grad():
            sample = brick.apply(sample)  # allocates (and initializes) from the input's shape
        weight = getattr(brick, "W", None)
        if default_weights and self.weights_init is None and weight is not None and weight.dim() >= 2:
            brick.weights_init = GlorotUniform()  # its fans come from the weight's shape, known now
            brick.initialize()
        return brick, sample

    def _apply_all(self, variable: Any) -> Any:
        for brick in self.bricks_:
            variable = brick.apply(variable)
        return variable

    def _compile_functions(self) -> None:
        """Compile the predictions (float64 inputs) and the held-out evaluation (per-example loss and outputs)."""
        self._predict64_fn = ComputationGraph([self._output64]).compile()
        # held-out figures: the per-example loss and the outputs in one forward pass
        self._valid_fn = ComputationGraph([self._loss_per_example, self._output]).compile()

    def _costs(self) -> tuple[Any, Any]:
        """The mean cost and the per-example loss, as symbolic variables."""
        if self.regression:
            targets = matrix("targets")
            per_example = ((self._output - targets) ** 2).sum(dim=1)
        else:
            targets = lvector("targets")
            log_probabilities = Softmax(name="output_softmax").log_probabilities(self._output)
            per_example = -log_probabilities.gather(1, targets.unsqueeze(1)).squeeze(1)
        return per_example.mean(), per_example

    # -- fitting ------------------------------------------------------------------
    def _prepare_targets(self, y: numpy.ndarray) -> tuple[numpy.ndarray, int]:
        if self.regression:
            y = numpy.asarray(y, dtype="float32")
            if y.ndim == 1:
                y = y[:, None]
            return y, y.shape[1]
        check_classification_targets(y)
        self.classes_, encoded = numpy.unique(y, return_inverse=True)
        return encoded.astype("int64"), len(self.classes_)

    def fit(self, X: Any, y: Any) -> "NeuralNet":
        """Train on ``X`` (n_samples, ...) and ``y``; returns ``self``.

        Raises
        ------
        blocks.numerics.NonFiniteError
            When training diverges (the cost or the parameters become NaN or
            infinite): lower ``update_learning_rate`` or scale the data.
        """
        self._check_settings()
        X, y = validate_data(
            self, X, y, allow_nd=True, dtype="float32", multi_output=self.regression, y_numeric=self.regression
        )
        if len(X) < 2:
            raise ValueError(f"n_samples = {len(X)}: training needs at least 2 examples")
        self._single_target = y.ndim == 1
        targets, n_outputs = self._prepare_targets(y)
        if not self.regression and n_outputs < 2:
            raise ValueError(
                f"the training data has a single class {self.classes_[0]!r}; a classifier needs two or more"
            )
        self._backend = get_backend(self.device)
        train_idx, valid_idx = self._split(len(X))
        self._shapes = (tuple(X.shape[1:]), n_outputs)
        self._build(X[train_idx], n_outputs)
        for brick in self.bricks_:
            self._backend.place_module(brick)
        cost = self._training_cost()
        algorithm = GradientDescent(cost, step_rule=self._step_rule())
        algorithm.add_monitored([cost])
        dataset = IndexableDataset({"features": X[train_idx], "targets": targets[train_idx]})
        stream = DataStream(dataset, iteration_scheme=ShuffledScheme(len(train_idx), self.batch_size, rng=self.seed))
        self.history_: list[dict[str, float]] = []
        valid = (X[valid_idx], targets[valid_idx]) if len(valid_idx) else None
        self._compile_functions()
        extensions = [FinishAfter(after_n_epochs=self.max_epochs), _EpochReport(self, valid), *(self.extensions or [])]
        self.main_loop_ = MainLoop(algorithm, stream, model=Model(cost), extensions=extensions)
        self.main_loop_.run()
        return self

    def _split(self, n_samples: int) -> tuple[numpy.ndarray, numpy.ndarray]:
        """Training and held-out example indices (``validation_split``, seeded), each sorted."""
        order = numpy.random.default_rng(self.seed).permutation(n_samples)
        n_valid = int(round(n_samples * self.validation_split))
        if n_valid and n_samples - n_valid < 1:
            n_valid = 0
        return numpy.sort(order[n_valid:]), numpy.sort(order[:n_valid])

    def _training_cost(self) -> Any:
        """The mean loss plus the L2 penalty, named ``train_loss``; sets the per-example loss."""
        cost, self._loss_per_example = self._costs()
        if self.objective_l2:
            weights = VariableFilter(roles=[WEIGHT])(ComputationGraph([cost]).variables)
            cost = cost + self.objective_l2 * sum((w**2).sum() for w in weights)
        cost.name = "train_loss"
        return cost

    def _step_rule(self) -> StepRule:
        """The rule ``update`` names, given the nolearn-style arguments it takes and ``update_params``."""
        rule_class = _resolve("step_rules", self.update)
        if not (isinstance(rule_class, type) and issubclass(rule_class, StepRule)):
            raise ValueError(f"update must name a step rule (see `blocks plugins`), got {self.update!r}")
        given = {"learning_rate": self.update_learning_rate, "momentum": self.update_momentum}
        kwargs = {k: v for k, v in given.items() if v is not None and k in _accepted(rule_class, given)}
        kwargs.update(self.update_params or {})
        return rule_class(**kwargs)

    # -- prediction ----------------------------------------------------------------
    def _forward(self, X: numpy.ndarray, fn: Any, extra: dict | None = None, double: bool = False) -> numpy.ndarray:
        """Evaluate ``fn``'s first output on ``X``, in float64 when ``double`` (see :meth:`_forward_all`)."""
        return self._forward_all(X, fn, extra, double)[0]

    def _forward_all(
        self, X: numpy.ndarray, fn: Any, extra: dict | None = None, double: bool = False
    ) -> list[numpy.ndarray]:
        """Evaluate every output of ``fn`` on ``X``, in float64 when ``double``.

        float32 matrix products depend on how many rows are multiplied at once,
        so predictions are computed in float64 (the parameters are cast in
        place for the call and cast back): a prediction does not depend on the
        other examples of the call.
        """
        outputs = []
        dtypes = [(p, p.dtype) for brick in self.bricks_ for p in brick.parameters() if p.is_floating_point()]
        if not double:
            dtypes = []
        device = self._backend.device
        try:
            with torch.no_grad():
                for parameter, _ in dtypes:
                    parameter.data = parameter.data.double()
                for start in range(0, len(X), 4096):
                    batch = {"features": torch.as_tensor(X[start : start + 4096], device=device)}
                    for name, value in (extra or {}).items():
                        batch[name] = torch.as_tensor(value[start : start + 4096], device=device)
                    outputs.append([value.detach().cpu().numpy() for value in fn(batch)])
        finally:
            with torch.no_grad():
                for parameter, dtype in dtypes:
                    parameter.data = parameter.data.to(dtype)
        return [numpy.concatenate(parts) for parts in zip(*outputs)]

    def _scores(self, X: Any) -> numpy.ndarray:
        check_is_fitted(self, "bricks_")
        X = validate_data(self, X, reset=False, allow_nd=True, dtype="float32")
        return self._forward(X, self._predict64_fn, double=True)

    def _evaluate(self, X: numpy.ndarray, targets: numpy.ndarray) -> tuple[float, float]:
        """Mean loss and score (accuracy, or R² for regression) on held-out data."""
        losses, predictions = self._forward_all(X, self._valid_fn, {"targets": targets})
        if not self.regression:
            return float(losses.mean()), float((predictions.argmax(1) == targets).mean())
        residual = ((targets - predictions) ** 2).sum()
        total = ((targets - targets.mean(axis=0)) ** 2).sum()
        return float(losses.mean()), float(1 - residual / total) if total > 0 else 0.0

    @available_if(lambda self: not self.regression)
    def predict_proba(self, X: Any) -> numpy.ndarray:
        """Class probabilities, columns in the order of ``classes_`` (classification only)."""
        scores = torch.from_numpy(self._scores(X)).double()
        return torch.softmax(scores, dim=1).numpy()

    def predict(self, X: Any) -> numpy.ndarray:
        """The most probable class of each example, or the predicted targets for regression."""
        scores = self._scores(X)
        if not self.regression:
            return self.classes_[scores.argmax(axis=1)]
        scores = scores.astype(numpy.float64)  # scikit-learn's convention for regression outputs
        return scores[:, 0] if self._single_target else scores

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        if self.regression:
            tags.target_tags.multi_output = True  # several targets are columns of y
        return tags

    # -- pickling (scikit-learn and joblib copy estimators by pickling them) -------
    def __getstate__(self) -> dict[str, Any]:
        """Parameters, fitted arrays and figures; the network is rebuilt on unpickling.

        Bricks and graphs are never pickled: the fitted parameters travel as
        numpy arrays by hierarchical name, like in a checkpoint. The main loop
        (``main_loop_``) does not travel; save a checkpoint to keep it.
        """
        state = {
            key: value for key, value in self.__dict__.items() if not key.endswith("_") and not key.startswith("_")
        }
        if hasattr(self, "bricks_"):
            state["__fitted__"] = {
                "shapes": self._shapes,
                "single_target": self._single_target,
                "n_features_in_": self.n_features_in_,
                "classes_": getattr(self, "classes_", None),
                "history_": self.history_,
                "parameters": [
                    {name: tensor.detach().cpu().numpy() for name, tensor in brick.state_dict().items()}
                    for brick in self.bricks_
                ],
            }
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        fitted = state.pop("__fitted__", None)
        self.__dict__.update(state)
        if fitted is None:
            return
        self._shapes, self._single_target = fitted["shapes"], fitted["single_target"]
        self.n_features_in_, self.history_ = fitted["n_features_in_"], fitted["history_"]
        if fitted["classes_"] is not None:
            self.classes_ = fitted["classes_"]
        input_shape, n_outputs = self._shapes
        self._backend = get_backend(self.device)
        self._build(numpy.zeros((2, *input_shape), dtype="float32"), n_outputs)
        for brick, values in zip(self.bricks_, fitted["parameters"]):
            brick.load_state_dict({name: torch.from_numpy(value) for name, value in values.items()})
            self._backend.place_module(brick)
        _, self._loss_per_example = self._costs()
        self._compile_functions()

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy for classification, R² for regression."""
        if self.regression:
            return RegressorMixin.score(self, X, y, sample_weight)
        return ClassifierMixin.score(self, X, y, sample_weight)


def _fixed_task_init(regression: bool) -> Any:
    """An ``__init__`` taking :class:`NeuralNet`'s parameters except ``regression``, which it fixes.

    Its signature (``__signature__``) is NeuralNet's without ``regression``, so
    positional and keyword calls, ``help()``, the documentation and
    scikit-learn's ``get_params``/``clone`` see the parameters listed once,
    on :class:`NeuralNet`.
    """
    signature = inspect.signature(NeuralNet.__init__)
    signature = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "regression"])

    def __init__(self: NeuralNet, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{type(self).__name__}(): {err}") from None
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        del arguments["self"]
        NeuralNet.__init__(self, regression=regression, **arguments)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__doc__ = f"The parameters of :class:`NeuralNet`, with ``regression={regression}``."
    return __init__


class NeuralNetClassifier(ClassifierMixin, NeuralNet):
    """:class:`NeuralNet` for classification (softmax, cross-entropy, accuracy).

    It takes every parameter of :class:`NeuralNet` except ``regression``.

    Examples
    --------
    >>> import numpy
    >>> X = numpy.array([[0.0], [0.1], [0.9], [1.0]] * 8, dtype="float32")
    >>> y = numpy.array(["no", "no", "yes", "yes"] * 8)
    >>> net = NeuralNetClassifier(layers=[("linear", {})], update="scale", update_learning_rate=1.0,
    ...                           max_epochs=50, batch_size=8, validation_split=0)
    >>> net.fit(X, y).predict(numpy.array([[0.0], [1.0]], dtype="float32")).tolist()
    ['no', 'yes']
    """

    __init__ = _fixed_task_init(regression=False)


class NeuralNetRegressor(RegressorMixin, NeuralNet):
    """:class:`NeuralNet` for regression (squared error, R²).

    It takes every parameter of :class:`NeuralNet` except ``regression``.

    Examples
    --------
    >>> import numpy
    >>> X = numpy.linspace(0, 1, 32, dtype="float32")[:, None]
    >>> net = NeuralNetRegressor(layers=[("linear", {})], update="scale", update_learning_rate=0.5,
    ...                          max_epochs=40, batch_size=8, validation_split=0)
    >>> bool(numpy.allclose(net.fit(X, 2 * X[:, 0] + 1).predict(X[:2]), [1.0, 1.065], atol=0.05))
    True
    """

    __init__ = _fixed_task_init(regression=True)
