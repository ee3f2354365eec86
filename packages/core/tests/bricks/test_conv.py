"""Convolutional bricks against torch.nn oracles; LeNet and AlexNet-style sequences."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from blocks.bricks import (
    MLP,
    AveragePooling,
    Convolutional,
    ConvolutionalSequence,
    ConvolutionalTranspose,
    Flattener,
    MaxPooling,
    Rectifier,
    Softmax,
    SpatialBatchNormalization,
)
from blocks.graph import ComputationGraph, apply_batch_normalization, tensor4
from blocks.initialization import Constant, IsotropicGaussian

DOUBLE = torch.float64


def _conv(**kwargs):
    brick = Convolutional(weights_init=IsotropicGaussian(0.3), biases_init=IsotropicGaussian(0.3), **kwargs)
    brick.initialize()
    return brick.double()


@pytest.mark.parametrize("border_mode, padding", [("valid", 0), ("full", 2), ("half", 1), ((2, 0), (2, 0))])
@pytest.mark.parametrize("step", [(1, 1), (2, 1)])
def test_convolutional_matches_conv2d(border_mode, padding, step):
    brick = _conv(filter_size=(3, 3), num_filters=4, num_channels=2, border_mode=border_mode, step=step,
                  image_size=(7, 6))
    x = torch.randn(2, 2, 7, 6, dtype=DOUBLE, requires_grad=True)
    out = brick.apply(x)
    ref_x = x.detach().clone().requires_grad_()
    W, b = brick.W.detach().clone().requires_grad_(), brick.b.detach().clone().requires_grad_()
    ref = F.conv2d(ref_x, W, b, stride=step, padding=padding)
    torch.testing.assert_close(out, ref)
    out.pow(2).sum().backward()
    ref.pow(2).sum().backward()
    torch.testing.assert_close(brick.W.grad, W.grad)
    torch.testing.assert_close(x.grad, ref_x.grad)
    assert brick.get_dim("output") == (4, *ref.shape[2:])


@pytest.mark.parametrize("size, filter_size, step", [(7, 3, 1), (8, 4, 1), (9, 3, 2), (224, 11, 4)])
def test_same_border_mode_gives_ceil_size(size, filter_size, step):
    brick = _conv(filter_size=(filter_size, filter_size), num_filters=1, num_channels=1, border_mode="same",
                  step=(step, step), image_size=(size, size))
    out = brick.apply(torch.randn(1, 1, size, size, dtype=DOUBLE))
    assert out.shape[2:] == (math.ceil(size / step),) * 2
    assert brick.get_dim("output") == (1, math.ceil(size / step), math.ceil(size / step))
    if step == 1 and filter_size % 2:  # symmetric: same as half
        torch.testing.assert_close(brick.apply(x := torch.randn(1, 1, size, size, dtype=DOUBLE)),
                                   F.conv2d(x, brick.W, brick.b, padding=filter_size // 2))


def test_untied_biases_and_lazy_channels():
    brick = Convolutional(filter_size=(2, 2), num_filters=3, tied_biases=False, weights_init=Constant(0),
                          biases_init=IsotropicGaussian(1.0))
    x = torch.randn(2, 5, 4, 4)
    out = brick.apply(x)
    assert brick.num_channels == 5 and brick.b.shape == (3, 3, 3)
    torch.testing.assert_close(out, brick.b.expand(2, 3, 3, 3))
    with pytest.raises(ValueError, match=r"/convolutional .*\(batch, 5, height, width\).*\(2, 4, 4, 4\)"):
        brick.apply(torch.randn(2, 4, 4, 4))


def test_convolutional_transpose_matches_torch():
    brick = ConvolutionalTranspose(filter_size=(3, 3), num_filters=2, num_channels=4, step=(2, 2),
                                   border_mode="half", original_image_size=(8, 8),
                                   weights_init=IsotropicGaussian(0.3), biases_init=IsotropicGaussian(0.3))
    brick.initialize()
    brick.double()
    ref = torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1).double()
    with torch.no_grad():
        ref.weight.copy_(brick.W)
        ref.bias.copy_(brick.b)
    x = torch.randn(3, 4, 4, 4, dtype=DOUBLE)
    out = brick.apply(x)
    torch.testing.assert_close(out, ref(x))
    assert out.shape[2:] == (8, 8)
    out.sum().backward()
    ref(x).sum().backward()
    torch.testing.assert_close(brick.W.grad, ref.weight.grad)
    minimal = ConvolutionalTranspose(filter_size=(3, 3), num_filters=1, num_channels=4, step=(2, 2),
                                     weights_init=Constant(1), biases_init=Constant(0))
    assert minimal.apply(torch.zeros(1, 4, 4, 4)).shape[2:] == (9, 9)


@pytest.mark.parametrize("cls, ref", [(MaxPooling, F.max_pool2d), (AveragePooling, F.avg_pool2d)])
@pytest.mark.parametrize("size, step, padding, ignore_border", [
    ((2, 2), None, (0, 0), True), ((3, 3), (2, 2), (0, 0), True), ((3, 3), (2, 2), (1, 1), True),
    ((3, 2), (2, 1), (0, 0), False), ((2, 2), (3, 3), (0, 0), False)])
def test_pooling_matches_torch(cls, ref, size, step, padding, ignore_border):
    brick = cls(size, step=step, padding=padding, ignore_border=ignore_border)
    x = torch.randn(2, 3, 7, 8, dtype=DOUBLE, requires_grad=True)
    out = brick.apply(x)
    kwargs = {"count_include_pad": False} if cls is AveragePooling else {}
    expected = ref(x, size, step or size, padding, ceil_mode=not ignore_border, **kwargs)
    torch.testing.assert_close(out, expected)
    assert brick.get_dim("output") == (3, *expected.shape[2:])
    grad = torch.autograd.grad(out.sum(), x)[0]
    torch.testing.assert_close(grad, torch.autograd.grad(expected.sum(), x)[0])


def test_pooling_rejects_padding_without_ignore_border():
    with pytest.raises(ValueError, match="ignore_border"):
        MaxPooling((2, 2), padding=(1, 1), ignore_border=False)


def test_lenet_sequence_propagates_channels_and_image_size():
    conv = ConvolutionalSequence(
        [Convolutional((5, 5), 20, name="conv_0"), Rectifier(), MaxPooling((2, 2), name="pool_0"),
         Convolutional((5, 5), 50, name="conv_1"), Rectifier(), MaxPooling((2, 2), name="pool_1")],
        num_channels=1, image_size=(28, 28), weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    conv.push_allocation_config()
    assert conv.layers[3].num_channels == 20 and conv.layers[3].image_size == (12, 12)
    assert conv.get_dim("output") == (50, 4, 4)
    top = MLP([Rectifier(), Softmax()], [800, 500, 10], weights_init=IsotropicGaussian(0.1), biases_init=Constant(0))
    x = tensor4("features")
    probs = top.apply(Flattener().apply(conv.apply(x)))
    out = ComputationGraph(probs).compile()({"features": torch.randn(2, 1, 28, 28)})[0]
    assert out.shape == (2, 10)
    torch.testing.assert_close(out.sum(1), torch.ones(2))


def test_alexnet_style_same_padding_overlapping_pooling_and_spatial_bn():
    conv = ConvolutionalSequence(
        [Convolutional((11, 11), 8, step=(4, 4), border_mode="same", name="conv_0"),
         SpatialBatchNormalization(name="bn_0"), Rectifier(),
         MaxPooling((3, 3), step=(2, 2), name="pool_0"),
         Convolutional((5, 5), 16, border_mode="same", name="conv_1"), Rectifier(),
         MaxPooling((3, 3), step=(2, 2), name="pool_1")],
        num_channels=3, image_size=(63, 63), weights_init=IsotropicGaussian(0.05), biases_init=Constant(0))
    conv.push_allocation_config()
    assert conv.layers[0].get_dim("output") == (8, 16, 16)
    assert conv.get_dim("output") == (16, 3, 3)
    x = torch.randn(2, 3, 63, 63)
    assert conv.apply(x).shape == (2, 16, 3, 3)
    cg = ComputationGraph(conv.apply(tensor4("images")))
    train = apply_batch_normalization(cg)
    assert train.compile()({"images": x})[0].shape == (2, 16, 3, 3)


def test_spatial_batch_normalization_matches_batchnorm2d():
    bn = SpatialBatchNormalization(input_dim=(3, 5, 5), epsilon=1e-5)
    bn.initialize()
    bn.double()
    ref = torch.nn.BatchNorm2d(3, eps=1e-5).double()
    x = torch.randn(4, 3, 5, 5, dtype=DOUBLE)
    cg = ComputationGraph(bn.apply(tensor4("x", dtype="float64")))
    train = apply_batch_normalization(cg)
    torch.testing.assert_close(train.compile()({"x": x})[0], ref.train()(x))
    torch.testing.assert_close(cg.compile()({"x": x})[0], x * (1 / (1.0)))  # population stats 0/1


def _train_one_batch(layers, **kwargs):
    """GradientDescent on a ConvolutionalSequence of ``layers``: the names of the parameters it trained."""
    from blocks.algorithms import GradientDescent, Scale

    net = ConvolutionalSequence(layers, num_channels=1, image_size=(12, 12), weights_init=IsotropicGaussian(0.1),
                                biases_init=Constant(0), **kwargs)
    net.initialize()
    cost = net.apply(tensor4("features")).mean()
    algorithm = GradientDescent(cost, step_rule=Scale(0.1))
    algorithm.initialize()
    algorithm.process_batch({"features": torch.randn(2, 1, 12, 12)})
    return net, list(algorithm.parameter_dict)


def test_unnamed_layers_of_its_docstring_example_are_numbered_and_train():
    # before: both layers were "convolutional" and GradientDescent refused "two trained parameters are both named"
    net, names = _train_one_batch([Convolutional((3, 3), 4), Rectifier(), MaxPooling((2, 2)),
                                   Convolutional((3, 3), 6), Rectifier(), MaxPooling((2, 2))])
    assert [layer.name for layer in net.layers] == ["convolutional_0", "rectifier_0", "maxpooling_0",
                                                    "convolutional_1", "rectifier_1", "maxpooling_1"]
    assert names == ["/convolutionalsequence/convolutional_0.W", "/convolutionalsequence/convolutional_0.b",
                     "/convolutionalsequence/convolutional_1.W", "/convolutionalsequence/convolutional_1.b"]
    assert all(layer.name_is_default for layer in net.layers)


def test_chosen_names_and_unshared_default_names_are_kept():
    # a single unnamed convolution keeps its name, so checkpoints of such nets still load by name
    net, names = _train_one_batch([Convolutional((3, 3), 4), Rectifier(), MaxPooling((2, 2))], name="net")
    assert names == ["/net/convolutional.W", "/net/convolutional.b"]
    # chosen names stay (even "convolutional_0"); only the unnamed colliding layers are numbered, around them
    chosen = Convolutional((3, 3), 4, name="convolutional_0")
    net, names = _train_one_batch([Convolutional((3, 3), 4, name="convolutional"), chosen,
                                   Convolutional((3, 3), 4), Convolutional((3, 3), 4)])
    assert [layer.name for layer in net.layers] == ["convolutional", "convolutional_0", "convolutional_1",
                                                    "convolutional_2"]
    assert not chosen.name_is_default
    renamed = Rectifier()
    renamed.name = "relu"
    assert not renamed.name_is_default
    # names the user repeats are the user's choice: the clear error stays
    with pytest.raises(ValueError, match="two trained parameters are both named '/convolutionalsequence/conv.W'"):
        _train_one_batch([Convolutional((3, 3), 4, name="conv"), Convolutional((3, 3), 4, name="conv")])
