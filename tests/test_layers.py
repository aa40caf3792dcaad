"""Registered activations: values against the paper's formula, serialization."""

from __future__ import annotations

import keras
import numpy as np
from keras.ops import convert_to_numpy as to_numpy
import pytest

from keras_lightnets.layers import AveragePooling2D, HardSigmoid, HardSwish, activation_layer
from tests.helpers import np_avg_pool_same, np_hard_sigmoid, np_hard_swish

pytestmark = pytest.mark.backends  # runs on every Keras backend (README test command)



@pytest.mark.parametrize("layer_cls, reference", [(HardSigmoid, np_hard_sigmoid), (HardSwish, np_hard_swish)])
def test_hard_activations_equal_formula(layer_cls, reference):
    x = np.linspace(-8, 8, 1601).astype("float32")
    np.testing.assert_allclose(to_numpy(layer_cls()(x)), reference(x.astype(np.float64)), atol=1e-6)


def test_decomposed_hard_swish_is_the_same_function():
    x = np.linspace(-8, 8, 1601).astype("float32")
    layer = HardSwish(decomposed=True)
    np.testing.assert_allclose(to_numpy(layer(x)), np_hard_swish(x.astype(np.float64)), atol=1e-6)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer), safe_mode=True)
    assert restored.decomposed is True
    with pytest.raises(TypeError, match="`decomposed`"):
        HardSwish(decomposed="yes")


@pytest.mark.parametrize("shape", [(7, 5, 3), (8, 8, 4), (13, 8, 2), (6, 6, 1)])
@pytest.mark.parametrize("decomposed", [False, True])
def test_average_pooling_same_excludes_padding_in_both_spellings(shape, decomposed, rng):
    x = rng.normal(size=(2, *shape)).astype("float32")
    expected = np.stack([np_avg_pool_same(image.astype(np.float64)) for image in x])
    layer = AveragePooling2D(3, 2, padding="same", decomposed=decomposed)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=1e-6)
    inputs = keras.Input((None, None, shape[-1]))  # unknown size: the counts are computed, not a constant
    dynamic = keras.Model(inputs, AveragePooling2D(3, 2, padding="same", decomposed=decomposed)(inputs))
    np.testing.assert_allclose(to_numpy(dynamic(x)), expected, atol=1e-6)
    valid = AveragePooling2D(3, 2, padding="valid", decomposed=decomposed)(x)
    np.testing.assert_allclose(to_numpy(valid), to_numpy(keras.layers.AveragePooling2D(3, 2)(x)), atol=1e-6)


def test_decomposed_average_pooling_serializes_and_validates():
    layer = AveragePooling2D(3, 2, padding="same", decomposed=True)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer), safe_mode=True)
    assert restored.decomposed is True and restored.pool_size == (3, 3)
    with pytest.raises(TypeError, match="`decomposed`"):
        AveragePooling2D(3, 2, decomposed=1)


def test_hard_sigmoid_is_not_keras2_style_slope():
    # Keras 2's hard_sigmoid was 0.2x + 0.5; the paper's is relu6(x + 3) / 6.
    assert to_numpy(HardSigmoid()(np.array([1.0], "float32")))[0] == pytest.approx(4 / 6)


@pytest.mark.parametrize("layer_cls", [HardSigmoid, HardSwish])
def test_layers_serialize_and_deserialize(layer_cls):
    layer = layer_cls(name="act")
    config = keras.saving.serialize_keras_object(layer)
    assert config["registered_name"].startswith("keras_lightnets>")
    restored = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert isinstance(restored, layer_cls) and restored.name == "act"


@pytest.mark.parametrize(
    "kind, expected",
    [("relu", (keras.layers.ReLU, None)), ("relu6", (keras.layers.ReLU, 6.0)),
     ("hard_swish", (HardSwish, None)), ("hard_sigmoid", (HardSigmoid, None))],
)
def test_activation_layer_factory(kind, expected):
    layer = activation_layer(kind, name="a")
    assert isinstance(layer, expected[0])
    if expected[0] is keras.layers.ReLU:
        assert layer.max_value == expected[1]


@pytest.mark.parametrize("kind", ["swish", "Relu", "", None, 6])
def test_activation_layer_rejects_unknown(kind):
    with pytest.raises(ValueError, match="activation"):
        activation_layer(kind, name="a")
