"""``blocks.utils``: Blocks' helpers that make sense on PyTorch, and its test helpers."""

from __future__ import annotations

import subprocess
import sys
from collections import OrderedDict
from unittest import SkipTest

import numpy
import pytest
import torch

from blocks.bricks import MLP, Identity, Logistic, Sequence, Tanh
from blocks.config import config
from blocks.extensions import FinishAfter
from blocks.filter import get_name
from blocks.graph import ComputationGraph, as_variable, matrix
from blocks.utils import (
    change_recursion_limit,
    dict_subset,
    dict_union,
    extract_args,
    find_bricks,
    is_graph_input,
    is_shared_variable,
    pack,
    repr_attrs,
    reraise_as,
    shared_floatx,
    shared_floatx_nans,
    shared_floatx_zeros,
    shared_floatx_zeros_matching,
    shared_like,
    unpack,
)
from blocks.utils.testing import (
    MockAlgorithm,
    MockMainLoop,
    silence_printing,
    skip_if_configuration_set,
    skip_if_not_available,
)


def test_pack_and_unpack():
    assert pack((1, 2)) == [1, 2] and pack([1]) == [1] and pack("ab") == ["ab"]
    assert unpack([1]) == 1 and unpack((1, 2)) == [1, 2] and unpack("x") == "x"
    thing = object()
    assert unpack(thing, singleton=True) is thing  # Blocks checks only lists and tuples
    with pytest.raises(ValueError, match="singleton"):
        unpack([1, 2], singleton=True)
    with pytest.raises(ValueError, match="singleton"):
        unpack([], singleton=True)


def test_dict_subset_and_union():
    d = {"a": 1, "b": 2, "c": 3}
    assert list(dict_subset(d, ["c", "a"]).items()) == [("c", 3), ("a", 1)]
    with pytest.raises(KeyError):
        dict_subset(d, ["z"])
    assert dict(dict_subset(d, ["a", "z"], pop=True, must_have=False)) == {"a": 1} and "a" not in d
    union = dict_union(OrderedDict(x=1), {"y": 2}, z=3)
    assert isinstance(union, OrderedDict) and list(union) == ["x", "y", "z"]
    assert type(dict_union({"x": 1})) is dict
    with pytest.raises(ValueError, match="duplicate entries: x"):
        dict_union({"x": 1}, {"x": 2})


def test_extract_args_checks_the_call():
    assert list(extract_args(["a", "b"], 1, b=2).items()) == [("a", 1), ("b", 2)]
    with pytest.raises(KeyError, match="invalid input name"):
        extract_args(["a"], c=1)
    with pytest.raises(TypeError, match="multiple values"):
        extract_args(["a"], 1, a=2)
    with pytest.raises(ValueError, match=r"missing values for inputs: \['b'\]"):
        extract_args(["a", "b"], 1)


def test_repr_attrs_reraise_as_and_recursion_limit():
    class Thing:
        value = 3

        @property
        def broken(self):
            raise RuntimeError

    assert repr_attrs(Thing(), "value").endswith(": value=3>")
    assert repr_attrs(Thing(), "broken").endswith(f"{id(Thing):#x}>") is False  # the object's id, not the class'
    assert ": " not in repr_attrs(Thing(), "broken")
    with pytest.raises(ValueError, match="while parsing") as caught:
        try:
            int("x")
        except ValueError:
            reraise_as("while parsing")
    assert "Original exception" in str(caught.value) and isinstance(caught.value.__cause__, ValueError)
    with pytest.raises(ValueError, match="being handled"):
        reraise_as(ValueError("nothing"))
    limit = sys.getrecursionlimit()
    with change_recursion_limit(limit + 100):
        assert sys.getrecursionlimit() == limit + 100
    assert sys.getrecursionlimit() == limit


def test_find_bricks_walks_each_brick_once():
    inner = Sequence([Logistic(name="l").apply], name="inner")
    mlp = MLP([Sequence([Identity(name="i").apply, inner.apply], name="outer"), Tanh(name="t")], [2, 3, 4])
    assert find_bricks([mlp, mlp], lambda b: isinstance(b, MLP)) == [mlp]
    assert {b.name for b in find_bricks([mlp], lambda b: isinstance(b, Sequence))} == {"mlp", "outer", "inner"}
    assert [b.name for b in find_bricks([mlp], lambda _: True)] == [  # breadth first
        "mlp", "outer", "t", "linear_0", "linear_1", "i", "inner", "l"]
    assert find_bricks([mlp], lambda _: False) == []


def test_shared_floatx_makes_named_floatx_parameters():
    W = shared_floatx([[1, 2], [3, 4]], name="W")
    assert isinstance(W, torch.nn.Parameter) and W.requires_grad
    assert W.dtype == getattr(torch, config.floatX) and get_name(W) == "W"
    assert shared_floatx(1, dtype="float64").dtype == torch.float64
    counts = shared_floatx([1, 2], dtype="int64")
    assert counts.dtype == torch.int64 and not counts.requires_grad
    array = numpy.zeros(3, dtype=config.floatX)
    assert shared_floatx(array, borrow=True).data_ptr() == array.__array_interface__["data"][0]
    assert shared_floatx(array).data_ptr() != array.__array_interface__["data"][0]
    source = torch.ones(2)
    copied = shared_floatx(source)
    copied.data.fill_(5)
    assert source.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="broadcastable"):
        shared_floatx_zeros((2, 3), broadcastable=(False, True))
    assert shared_floatx_zeros((2, 1), broadcastable=(False, True)).shape == (2, 1)
    assert bool(shared_floatx_nans((2,)).isnan().all())
    assert shared_floatx_zeros_matching(as_variable(W), name="Z").shape == (2, 2)
    with pytest.raises(ValueError, match="parameter variable"):
        shared_floatx_zeros_matching(matrix("x"))
    assert shared_like(W, value=2.0).tolist() == [[2.0, 2.0], [2.0, 2.0]]
    with pytest.raises(ValueError, match="name must be a str"):
        shared_floatx(1.0, name=3)


def test_shared_variables_take_part_in_graphs():
    x = matrix("x")
    W = shared_floatx(numpy.eye(2) * 2, name="W")
    y = x @ W
    fn = ComputationGraph([y]).compile()
    assert fn({"x": numpy.ones((1, 2), dtype=config.floatX)})[0].tolist() == [[2.0, 2.0]]
    assert is_shared_variable(W) and is_shared_variable(as_variable(W)) and not is_shared_variable(x)
    assert is_graph_input(x) and not is_graph_input(y) and not is_graph_input(W)


def test_mock_main_loop_and_algorithm():
    loop = MockMainLoop(extensions=[FinishAfter(after_n_epochs=2)])
    loop.run()
    assert loop.status["iterations_done"] == 20 and loop.algorithm.batch == {"data": 9}
    algorithm = MockAlgorithm()
    algorithm.initialize()
    with pytest.raises(AssertionError, match="twice"):
        algorithm.initialize()


def test_skips_and_silence(capsys):
    with pytest.raises(SkipTest, match="not available"):
        skip_if_not_available(modules=["no_such_module_anywhere"])
    with pytest.raises(SkipTest, match="data path"):
        skip_if_not_available(datasets=["no_such_dataset.hdf5"])
    skip_if_not_available(modules=["json"], configurations=["floatX"])
    with pytest.raises(SkipTest, match="flaky"):
        skip_if_configuration_set("floatX", config.floatX, "flaky")

    @silence_printing
    def noisy():
        print("hidden")
        return 3

    assert noisy() == 3 and capsys.readouterr().out == ""


def test_importing_blocks_utils_does_not_import_torch():
    code = "import sys, blocks.utils; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
