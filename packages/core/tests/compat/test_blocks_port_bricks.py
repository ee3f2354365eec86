"""Blocks behaviours found by running Blocks' own brick, config and utils tests against core (issue 24).

Each test is ours; it names the Blocks behaviour it pins down.
"""

from __future__ import annotations

import numpy
import pytest
import torch

from blocks.bricks import BatchNormalization, BatchNormalizedMLP, Brick, Linear, Random, SpatialBatchNormalization, Tanh
from blocks.bricks.base import application
from blocks.bricks.conv import Convolutional, ConvolutionalSequence, ConvolutionalTranspose, MaxPooling
from blocks.bricks.lookup import LookupTable
from blocks.graph import ComputationGraph, call, matrix, opaque_call, tensor4
from blocks.initialization import Constant, IsotropicGaussian


# ---------------------------------------------------------------- graph
def test_keyword_names_that_are_not_identifiers_compile():
    """Blocks' RecurrentStack passes ``inputs#1``: such keyword names must survive torch.fx code generation."""
    x = matrix("x")

    def add(a, **kwargs):
        return a + kwargs["inputs#1"] * 10

    traced = call(add, x, **{"inputs#1": x})
    opaque = opaque_call(add, x, **{"inputs#1": x, "scale": 1})
    values = ComputationGraph([traced, opaque]).compile()({"x": torch.ones(1, 2)})
    assert [v.tolist() for v in values] == [[[11.0, 11.0]]] * 2


def test_a_reversed_numpy_view_is_fed():
    """Theano took ``x[::-1]`` (negative strides); torch.from_numpy refuses it, so the graph copies it."""
    x = matrix("x")
    function = ComputationGraph([x * 2]).compile()
    value = numpy.arange(6, dtype="float32").reshape(3, 2)
    assert function({"x": value[::-1]})[0].tolist() == (value[::-1] * 2).tolist()


# ---------------------------------------------------------------- config and containers
def test_configuration_reads_blocks_config(tmp_path, monkeypatch):
    """``blocks.config.Configuration()`` reads ``$BLOCKS_CONFIG`` as Blocks' did (not Fuel's ``$FUEL_CONFIG``)."""
    from blocks.config import Configuration

    path = tmp_path / "blocksrc"
    path.write_text("data_path: from_yaml\n")
    monkeypatch.setenv("BLOCKS_CONFIG", str(path))
    monkeypatch.delenv("FUEL_CONFIG", raising=False)
    monkeypatch.delenv("PORT_DATA_PATH", raising=False)
    cfg = Configuration()
    cfg.add_config("data_path", str, env_var="PORT_DATA_PATH")
    cfg.load_yaml()
    assert cfg.data_path == "from_yaml"
    monkeypatch.setenv("PORT_DATA_PATH", "from_env")
    assert cfg.data_path == "from_env"


def test_annotating_list_calls_its_hooks():
    from blocks.utils.containers import AnnotatingList

    class Recorded(AnnotatingList):
        def __init__(self, items=()):
            self.events = []
            super().__init__(items)

        def _setitem(self, key, value):
            self.events.append(("set", key, value))

        def _delitem(self, key):
            self.events.append(("del", key))

    items = Recorded("ab")
    items[1] = "c"
    del items[0]
    items.insert(0, "z")
    assert items == ["z", "c"] and items != ["c"] and repr(items) == "['z', 'c']"
    assert items.events == [("set", 0, "a"), ("set", 1, "b"), ("set", 1, "c"), ("del", 0), ("set", 0, "z")]
    with pytest.raises(TypeError):
        hash(items)


# ---------------------------------------------------------------- bricks
def test_a_linear_subclass_can_override_w_through_super():
    """Blocks' ``W`` was a property: ``super().W`` in an override reaches the parameter, initialize() fills it."""

    class UnitColumns(Linear):
        @property
        def W(self):
            W = super().W
            return W / torch.sqrt((W ** 2).sum(dim=0))

    brick = UnitColumns(5, 3, weights_init=IsotropicGaussian(0.02), biases_init=Constant(1))
    brick.initialize()
    assert not torch.isnan(brick.parameters[0]).any()
    assert torch.allclose((brick.W ** 2).sum(dim=0), torch.ones(3))
    assert torch.allclose(brick.apply(torch.eye(5)), brick.W + 1)


def test_automatic_initialization_keeps_values_written_after_allocation():
    """Blocks used values set with ``set_value`` after ``allocate()``; the first application must not redraw them."""
    linear = Linear(2, 2, weights_init=Constant(1), biases_init=Constant(0.5))
    linear.allocate()
    with torch.no_grad():
        linear.W.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    x = matrix("x")
    y = ComputationGraph([linear.apply(x)]).compile()({"x": torch.tensor([[1.0, 1.0]])})[0]
    assert y.tolist() == [[4.5, 6.5]]  # W as written, b drawn
    linear.initialize()  # an explicit call draws everything again
    assert linear.W.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_a_brick_whose_parameters_were_all_written_needs_no_scheme():
    table = LookupTable(3, 2)
    table.allocate()
    with torch.no_grad():
        table.W.copy_(torch.arange(6.0).reshape(3, 2))
    indices = matrix("i", dtype=torch.int64)
    out = ComputationGraph([table.apply(indices)]).compile()({"i": torch.tensor([[2]])})[0]
    assert out.tolist() == [[[4.0, 5.0]]]
    untouched = LookupTable(3, 2)
    untouched.allocate()
    with pytest.raises(ValueError, match="weights_init"):
        ComputationGraph([untouched.apply(matrix("j", dtype=torch.int64))]).compile()


def test_lookup_table_feedforward_interface():
    table = LookupTable(5, 3)
    assert table.input_dim == 0 and table.output_dim == 3
    table.output_dim = 4
    assert table.dim == 4
    table.input_dim = 0
    with pytest.raises(ValueError, match="input_dim is 0"):
        table.input_dim = 11


def test_random_accepts_theano_seed():
    assert Random(theano_seed=7).seed == 7 and Random(theano_seed=7).theano_seed == 7
    with pytest.raises(ValueError, match="give one"):
        Random(seed=1, theano_seed=2)


def test_super_apply_of_an_override_does_not_replace_it():
    """Reading ``super().apply`` (a delegate does) must not make the parent's application the instance's."""

    class Base(Brick):
        @application(inputs=["x"], outputs=["y"])
        def apply(self, x):
            return x + 1

    class Child(Base):
        @application(inputs=["x"], outputs=["y"])
        def apply(self, x):
            return super(Child, self).apply(x) * 10

        @apply.delegate
        def apply_delegate(self):
            return super(Child, self).apply

    brick = Child()
    assert brick.apply.outputs == ["y"]
    assert brick.apply(torch.ones(1)).tolist() == [20.0]
    assert brick.apply(torch.ones(1)).tolist() == [20.0]


# ---------------------------------------------------------------- convolutions
def test_transposed_convolution_infers_original_image_size_at_allocation():
    brick = ConvolutionalTranspose(filter_size=(4, 5), num_filters=10, num_channels=5, step=(3, 2),
                                   border_mode="half", image_size=(6, 9))
    brick.allocate()
    assert brick.original_image_size == (15, 17)
    brick.weights_init, brick.biases_init = Constant(0), Constant(0)
    brick.initialize()
    out = ComputationGraph([brick.apply(tensor4("x"))]).compile()({"x": torch.zeros(2, 5, 6, 9)})[0]
    assert tuple(out.shape) == (2, 10, 15, 17)


def test_pooling_output_dim_from_height_and_width():
    pool = MaxPooling((3, 3))
    pool.input_dim = (17, 13)
    assert pool.get_dim("output") == (5, 4)
    pool.input_dim = (2, 17, 13)
    assert pool.get_dim("output") == (2, 5, 4)


def test_untied_biases_errors():
    conv = Convolutional((1, 3), 2, 5, tied_biases=False, weights_init=Constant(1), biases_init=Constant(1))
    with pytest.raises(ValueError, match=r"Cannot infer bias size \S+"):
        conv.initialize()
    conv = Convolutional((3, 3), 3, 4, image_size=(28, 30), tied_biases=False, weights_init=Constant(1),
                         biases_init=Constant(2))
    function = ComputationGraph([conv.apply(tensor4("x"))]).compile()
    assert tuple(function({"x": torch.ones(1, 4, 28, 30)})[0].shape) == (1, 3, 26, 28)
    with pytest.raises(ValueError, match="Input dimension mis-match"):
        function({"x": torch.ones(1, 4, 23, 19)})


def test_convolutional_sequence_pushes_settings_to_layers_still_lacking_some():
    layers = [Convolutional(border_mode="full"), Convolutional(), Tanh(), Convolutional(border_mode="valid")]
    ConvolutionalSequence(layers).push_allocation_config()
    assert [layers[i].border_mode for i in (0, 1, 3)] == ["full", "valid", "valid"]
    ConvolutionalSequence(layers, border_mode="full").push_allocation_config()
    assert [layers[i].border_mode for i in (0, 1, 3)] == ["full"] * 3


# ---------------------------------------------------------------- batch normalization
def test_batch_normalization_image_size_setter():
    bn = BatchNormalization()
    bn.image_size = (5, 4)
    assert bn.input_dim == (None, 5, 4)
    bn.input_dim = (3, 5, 4)
    bn.image_size = (4, 5)
    assert bn.input_dim == (3, 4, 5)


def test_spatial_batch_normalization_needs_a_spatial_axis():
    for input_dim in [(5,), 3]:
        with pytest.raises(ValueError, match="spatial axis"):
            SpatialBatchNormalization(input_dim).allocate()
    SpatialBatchNormalization((7, 6)).allocate()


def test_batch_normalized_mlp_settings():
    mlp = BatchNormalizedMLP([Tanh(), Tanh()], [5, 7, 9], conserve_memory=False, mean_only=True,
                             learn_scale=False)
    bns = [sequence.children[0] for sequence in mlp.activations]
    assert not mlp.conserve_memory and not any(bn.conserve_memory for bn in bns)
    mlp.conserve_memory = True
    assert all(bn.conserve_memory for bn in bns)
    assert mlp.mean_only and not mlp.learn_scale
    mlp.learn_shift = False  # set after construction: pushed at allocation, as in Blocks
    mlp.allocate()
    assert all(bn.mean_only and not bn.learn_scale and not bn.learn_shift for bn in bns)
