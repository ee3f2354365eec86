"""The scikit-learn-style estimator: sklearn's own checks, search/pipelines, the main loop underneath."""

from __future__ import annotations

import pickle

import numpy
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from blocks.estimator import NeuralNet, NeuralNetClassifier, NeuralNetRegressor  # noqa: E402
from blocks.initialization import Constant  # noqa: E402

# core's own step rule (blocks-step-rules is a separate plugin, not installed for these tests)
FAST = dict(max_epochs=8, batch_size=32, update="scale", update_learning_rate=0.1, update_momentum=None)

# Checks that cannot apply here, with the reason:
#  - check_array_api_input: needs SCIPY_ARRAY_API and an array-API library (skipped by sklearn itself);
#  - check_*_data_not_an_array: needs pandas, which this project does not depend on (skipped by sklearn itself).
# No check is marked as an expected failure.


# sklearn's regression data have targets in the hundreds: at rate 0.1 plain SGD diverges, which the main loop's
# non-finite guard reports (NonFiniteError) instead of returning NaN predictions
FAST_REGRESSOR = {**FAST, "update_learning_rate": 0.01}


@parametrize_with_checks([NeuralNetClassifier(**FAST), NeuralNetRegressor(**FAST_REGRESSOR)])
def test_sklearn_estimator_checks(estimator, check, plugin_host):
    check(estimator)


@pytest.fixture
def blobs():
    X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    return X.astype("float32"), y


def test_fit_predict_score_and_history(blobs, plugin_host):
    X, y = blobs
    net = NeuralNetClassifier(**FAST).fit(X, y)
    assert net.score(X, y) > 0.9
    assert net.predict_proba(X).shape == (300, 3)
    numpy.testing.assert_allclose(net.predict_proba(X).sum(axis=1), 1.0, rtol=1e-6)
    assert len(net.history_) == 8 and {"train_loss", "valid_loss", "valid_accuracy", "dur"} <= set(net.history_[0])
    assert all(numpy.isfinite(h["train_loss"]) for h in net.history_)
    assert net.history_[-1]["train_loss"] < net.history_[0]["train_loss"]
    # trained on the MainLoop: its log holds the same per-epoch figures
    log = net.main_loop_.log
    assert net.main_loop_.status["epochs_done"] == 8
    last = log[net.main_loop_.status["iterations_done"]]
    assert last["valid_accuracy"] == net.history_[-1]["valid_accuracy"]


def test_same_seed_same_network_and_pickle_round_trip(blobs, plugin_host):
    X, y = blobs
    a = NeuralNetClassifier(**FAST, seed=3).fit(X, y)
    b = NeuralNetClassifier(**FAST, seed=3).fit(X, y)
    numpy.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = pickle.loads(pickle.dumps(a))
    numpy.testing.assert_array_equal(c.predict_proba(X), a.predict_proba(X))
    assert not hasattr(c, "main_loop_")


def test_grid_search_and_pipeline(blobs, plugin_host):
    X, y = blobs
    search = GridSearchCV(NeuralNetClassifier(**FAST), {"update_learning_rate": [0.0001, 0.1]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["update_learning_rate"] == 0.1
    pipeline = make_pipeline(StandardScaler(), NeuralNetClassifier(**FAST)).fit(X, y)
    assert pipeline.score(X, y) > 0.9


def test_regression_and_nolearn_style_flag(plugin_host):
    rng = numpy.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(256, 3)).astype("float32")
    y = X @ numpy.array([1.0, -2.0, 0.5], dtype="float32") + 0.3
    reg = NeuralNetRegressor(
        layers=[("linear", {})],
        update="scale",
        update_learning_rate=0.1,
        update_momentum=None,
        max_epochs=60,
        batch_size=32,
    )
    assert reg.fit(X, y).score(X, y) > 0.99
    assert reg.predict(X).shape == (256,)
    flagged = NeuralNet(
        layers=[("linear", {})],
        regression=True,
        update="scale",
        update_learning_rate=0.1,
        update_momentum=None,
        max_epochs=60,
        batch_size=32,
    ).fit(X, y)
    numpy.testing.assert_allclose(flagged.predict(X), reg.predict(X), rtol=1e-5, atol=1e-5)


def test_verbose_prints_a_table_per_epoch(blobs, plugin_host, capsys):
    X, y = blobs
    NeuralNetClassifier(**{**FAST, "max_epochs": 3}, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert "train_loss" in lines[0] and "valid_accuracy" in lines[0]
    assert len(lines) == 2 + 3


def test_bad_settings_are_named(blobs, plugin_host):
    X, y = blobs
    with pytest.raises(ValueError, match="unknown step_rules name 'adamm'; available: .*scale.*blocks-step-rules"):
        NeuralNetClassifier(**{**FAST, "update": "adamm"}).fit(X, y)
    with pytest.raises(ValueError, match="unknown bricks name 'dense'"):
        NeuralNetClassifier(layers=[("dense", {})], **FAST).fit(X, y)
    with pytest.raises(ValueError, match="max_epochs"):
        NeuralNetClassifier(**{**FAST, "max_epochs": 0}).fit(X, y)
    with pytest.raises(ValueError, match="pair"):
        NeuralNetClassifier(layers=["linear"], **FAST).fit(X, y)


def test_classifier_and_regressor_take_neural_nets_parameters_but_regression():
    import inspect

    from sklearn.base import clone

    base = [name for name in inspect.signature(NeuralNet).parameters if name != "regression"]
    for klass, regression in ((NeuralNetClassifier, False), (NeuralNetRegressor, True)):
        assert list(inspect.signature(klass).parameters) == base
        assert sorted(klass().get_params()) == sorted(base)
        positional = klass([("linear", {})], "scale", 0.5)  # in NeuralNet's order, as before
        assert positional.layers == [("linear", {})] and positional.update == "scale"
        assert positional.update_learning_rate == 0.5
        assert positional.regression is regression and positional.update_momentum == 0.9
        assert clone(positional).get_params() == positional.get_params()
        assert repr(klass(max_epochs=3)) == f"{klass.__name__}(max_epochs=3)"
        with pytest.raises(TypeError, match=f"{klass.__name__}.*regression"):
            klass(regression=not regression)
        with pytest.raises(TypeError, match=f"{klass.__name__}.*max_epoch"):
            klass(max_epoch=3)


def test_layers_without_weights_init_get_glorot_uniform_weights(plugin_host):
    from blocks.initialization import GlorotUniform

    X = numpy.random.default_rng(0).normal(size=(64, 40)).astype("float32")
    y = numpy.arange(64) % 3
    net = NeuralNetClassifier(layers=[("linear", {"output_dim": 20}), ("tanh", {}), ("linear", {})],
                              **{**FAST, "max_epochs": 1, "update_learning_rate": 0.0})
    net.fit(X, y)
    for brick, shape in zip((net.bricks_[0], net.bricks_[2]), ((40, 20), (20, 3))):
        weights = brick.W.detach().numpy()
        assert weights.shape == shape
        bound = GlorotUniform().bound(shape)
        assert numpy.abs(weights).max() <= bound and numpy.abs(weights).max() > 0.8 * bound
        assert isinstance(brick.weights_init, GlorotUniform)
    given = NeuralNetClassifier(layers=[("linear", {"output_dim": 20}), ("tanh", {}), ("linear", {})],
                                weights_init=Constant(0.5), **{**FAST, "max_epochs": 1, "update_learning_rate": 0.0})
    assert given.fit(X, y).bricks_[0].W.detach().unique().tolist() == [0.5]
