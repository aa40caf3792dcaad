"""The public builders against an independent NumPy forward pass."""

from __future__ import annotations

import keras
import numpy as np
from keras.ops import convert_to_numpy as to_numpy
import pytest

from keras_lightnets.blocks import (
    bottleneck,
    conv_block,
    depthwise_separable,
    make_divisible,
    squeeze,
)
from keras_lightnets.layers import HardSigmoid
from keras_lightnets.testing import realistic_weights
from tests.helpers import (

    np_bn,
    np_conv,
    np_depthwise,
    np_hard_swish,
    np_relu6,
    np_squeeze_excite,
)

pytestmark = pytest.mark.backends  # runs on every Keras backend (README test command)


def _model(shape, build):
    inputs = keras.Input(shape)
    model = keras.Model(inputs, build(inputs))
    realistic_weights(model, seed=7)
    return model


def _w(model, name):
    return [to_numpy(w).astype(np.float64) for w in model.get_layer(name).weights]


@pytest.mark.parametrize(
    "value, expected",
    [(32 * 0.35, 16), (18, 24), (1280 * 1.4, 1792), (4, 8), (16 * 0.75, 16), (120 / 4, 32), (672 / 4, 168)],
)
def test_make_divisible_matches_reference_rule(value, expected):
    # Rule from the reference file: max(8, int(v + 4) // 8 * 8), +8 if < 0.9 v.
    assert make_divisible(value) == expected


def test_squeeze_equals_numpy(rng):
    model = _model((5, 7, 24), lambda x: squeeze(x, name="se"))
    x = rng.normal(size=(1, 5, 7, 24)).astype("float32")
    w1, b1 = _w(model, "se_reduce")
    w2, b2 = _w(model, "se_expand")
    assert w1.shape == (1, 1, 24, 8)  # make_divisible(24 / 4, 8)
    expected = np_squeeze_excite(x[0].astype(np.float64), w1, b1, w2, b2)
    np.testing.assert_allclose(to_numpy(model(x))[0], expected, rtol=1e-4, atol=1e-5)


def test_squeeze_has_no_batch_norm_and_hard_sigmoid_gate():
    model = _model((8, 8, 72), lambda x: squeeze(x, name="se"))
    kinds = [type(l).__name__ for l in model.layers[1:]]
    assert kinds == [
        "GlobalAveragePooling2D",
        "Conv2D",
        "ReLU",
        "Conv2D",
        "HardSigmoid",
        "Multiply",
    ]
    assert model.get_layer("se_reduce").use_bias and model.get_layer("se_expand").use_bias


@pytest.mark.parametrize("shape", [(9, 9, 16), (8, 10, 16)])
def test_bottleneck_with_se_and_residual_equals_numpy(shape, rng):
    model = _model(
        shape,
        lambda x: bottleneck(x, 16, 48, 5, 1, se=True, activation="hard_swish", name="b"),
    )
    x = rng.normal(size=(1, *shape)).astype("float32")
    h = x[0].astype(np.float64)
    y = np_hard_swish(np_bn(np_conv(h, _w(model, "b_expand")[0]), *_w(model, "b_expand_bn")))
    y = np_hard_swish(np_bn(np_depthwise(y, _w(model, "b_depthwise")[0]), *_w(model, "b_depthwise_bn")))
    y = np_squeeze_excite(y, *_w(model, "b_se_reduce"), *_w(model, "b_se_expand"))
    y = np_bn(np_conv(y, _w(model, "b_project")[0]), *_w(model, "b_project_bn")) + h
    np.testing.assert_allclose(to_numpy(model(x))[0], y, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(9, 11, 8), (10, 12, 8)])
def test_strided_bottleneck_without_residual_equals_numpy(shape, rng):
    model = _model(shape, lambda x: bottleneck(x, 12, 40, 3, 2, activation="relu6", name="b"))
    x = rng.normal(size=(1, *shape)).astype("float32")
    h = x[0].astype(np.float64)
    y = np_relu6(np_bn(np_conv(h, _w(model, "b_expand")[0]), *_w(model, "b_expand_bn")))
    y = np_relu6(np_bn(np_depthwise(y, _w(model, "b_depthwise")[0], 2), *_w(model, "b_depthwise_bn")))
    y = np_bn(np_conv(y, _w(model, "b_project")[0]), *_w(model, "b_project_bn"))
    assert "b_add" not in [l.name for l in model.layers]
    np.testing.assert_allclose(to_numpy(model(x))[0], y, rtol=1e-4, atol=1e-4)


def test_bottleneck_skips_expansion_when_expanded_equals_input():
    model = _model((8, 8, 16), lambda x: bottleneck(x, 16, 16, name="b"))
    names = [l.name for l in model.layers]
    assert "b_expand" not in names and "b_add" in names


def test_depthwise_separable_equals_numpy(rng):
    model = _model((11, 10, 6), lambda x: depthwise_separable(x, 10, 2, name="d"))
    x = rng.normal(size=(1, 11, 10, 6)).astype("float32")
    h = x[0].astype(np.float64)
    y = np_relu6(np_bn(np_depthwise(h, _w(model, "d_depthwise")[0], 2), *_w(model, "d_depthwise_bn")))
    y = np_relu6(np_bn(np_conv(y, _w(model, "d_pointwise")[0]), *_w(model, "d_pointwise_bn")))
    assert isinstance(model.get_layer("d_depthwise"), keras.layers.DepthwiseConv2D)
    np.testing.assert_allclose(to_numpy(model(x))[0], y, rtol=1e-4, atol=1e-4)


def test_grouped_conv_block_equals_numpy(rng):
    model = _model((6, 6, 12), lambda x: conv_block(x, 8, 3, groups=4, activation="relu", name="g"))
    kernel = _w(model, "g")[0]
    assert kernel.shape == (3, 3, 3, 8)
    x = rng.normal(size=(1, 6, 6, 12)).astype("float32")
    y = np.maximum(np_bn(np_conv(x[0].astype(np.float64), kernel, groups=4), *_w(model, "g_bn")), 0)
    np.testing.assert_allclose(to_numpy(model(x))[0], y, rtol=1e-4, atol=1e-4)


def test_conv_block_without_batch_norm_has_bias():
    model = _model((8, 8, 3), lambda x: conv_block(x, 4, 3, batch_norm=False, name="c"))
    assert [l.name for l in model.layers[1:]] == ["c"]
    assert model.get_layer("c").use_bias


def test_layer_names_are_stable_and_prefixed():
    model = _model(
        (16, 16, 16), lambda x: bottleneck(x, 24, 64, 3, 2, se=True, activation="hard_swish", name="block_3")
    )
    assert [l.name for l in model.layers[1:]] == [
        "block_3_expand",
        "block_3_expand_bn",
        "block_3_expand_act",
        "block_3_depthwise",
        "block_3_depthwise_bn",
        "block_3_depthwise_act",
        "block_3_se_pool",
        "block_3_se_reduce",
        "block_3_se_relu",
        "block_3_se_expand",
        "block_3_se_gate",
        "block_3_se_mul",
        "block_3_project",
        "block_3_project_bn",
    ]


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(filters=4, depthwise=True), ValueError, "filters"),
        (dict(filters=6, groups=4), ValueError, "groups"),
        (dict(filters=4, activation="swish"), ValueError, "activation"),
        (dict(filters=4, strides=2, dilation_rate=2), ValueError, "dilation_rate"),
        (dict(filters="4"), TypeError, "filters"),
        (dict(filters=4, kernel_size=0), ValueError, "kernel_size"),
        (dict(filters=4, bn_momentum=float("nan")), ValueError, "bn_momentum"),
        (dict(filters=4, depthwise="yes"), TypeError, "depthwise"),
    ],
)
def test_conv_block_rejects_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        conv_block(keras.Input((8, 8, 8)), name="c", **kwargs)


def test_gate_is_registered_layer_not_lambda():
    model = _model((4, 4, 8), lambda x: squeeze(x, name="se"))
    assert isinstance(model.get_layer("se_gate"), HardSigmoid)
    assert not any(isinstance(l, keras.layers.Lambda) for l in model.layers)
