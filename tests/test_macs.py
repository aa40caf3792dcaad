"""count_macs against the papers' multiply-adds and hand-computed layers."""

from __future__ import annotations

import keras
import pytest

from keras_lightnets import (
    MobileNetV1,
    MobileNetV2,
    MobileNetV3Large,
    MobileNetV3Small,
    count_macs,
)
from keras_lightnets.macs import layer_macs

# Papers' MAdds at 224 (../shared/reference/ARCHITECTURES.md).
PAPER = [
    (MobileNetV1, {}, 569e6),
    (MobileNetV2, {}, 300e6),
    (MobileNetV2, {"alpha": 1.4}, 585e6),
    (MobileNetV3Large, {}, 219e6),
    (MobileNetV3Large, {"alpha": 0.75}, 155e6),
    (MobileNetV3Large, {"minimalistic": True}, 209e6),
    (MobileNetV3Small, {}, 56e6),
    (MobileNetV3Small, {"alpha": 0.75}, 44e6),
]


@pytest.mark.parametrize("build, kwargs, paper", PAPER)
def test_macs_within_two_percent_of_paper(build, kwargs, paper):
    macs = count_macs(build(input_shape=(224, 224, 3), **kwargs))
    assert abs(macs - paper) / paper <= 0.02, macs


def _single(layer, shape):
    layer(keras.Input(shape))
    return layer_macs(layer)


def test_layer_macs_by_hand():
    assert _single(keras.layers.Conv2D(16, 3, strides=2, padding="same"), (10, 9, 4)) == 5 * 5 * 9 * 4 * 16
    assert _single(keras.layers.Conv2D(16, 1, groups=4), (6, 6, 8)) == 36 * 2 * 16
    assert _single(keras.layers.DepthwiseConv2D(5, padding="same", depth_multiplier=2), (7, 7, 3)) == 49 * 25 * 6
    assert _single(keras.layers.SeparableConv2D(5, 3), (6, 6, 2)) == 16 * 9 * 2 + 16 * 2 * 5
    assert _single(keras.layers.Dense(10), (32,)) == 320
    assert _single(keras.layers.BatchNormalization(), (4, 4, 2)) == 0


def test_se_convs_are_counted():
    with_se = count_macs(MobileNetV3Small(input_shape=(224, 224, 3)))
    ratio_free = count_macs(MobileNetV3Small(input_shape=(224, 224, 3), minimalistic=True))
    assert with_se != ratio_free


def test_dynamic_model_needs_and_uses_input_shape():
    dynamic = MobileNetV3Small(input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="input_shape"):
        count_macs(dynamic)
    assert count_macs(dynamic, (224, 224)) == count_macs(MobileNetV3Small(input_shape=(224, 224, 3)))


def test_macs_scale_with_pixels():
    small = count_macs(MobileNetV2(input_shape=(224, 224, 3), include_top=False))
    large = count_macs(MobileNetV2(input_shape=(448, 448, 3), include_top=False))
    assert large == 4 * small


@pytest.mark.parametrize("bad, error", [("model", TypeError), (None, TypeError)])
def test_count_macs_rejects_non_models(bad, error):
    with pytest.raises(error, match="model"):
        count_macs(bad)


def test_count_macs_rejects_bad_input_shape():
    with pytest.raises(ValueError, match="input_shape"):
        count_macs(MobileNetV3Small(), (224,))
    with pytest.raises(TypeError, match="input_shape"):
        count_macs(MobileNetV3Small(), (224.0, 224))
