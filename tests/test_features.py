"""Backbones: feature maps, feature_info, output_stride, SSDLite taps."""

from __future__ import annotations

import keras
import numpy as np
from keras.ops import convert_to_numpy as to_numpy
import pytest

from keras_lightnets import (
    MobileNetV1,
    MobileNetV2,
    MobileNetV3Large,
    MobileNetV3Small,
    MobileNetV4,
    ShuffleNetV1,
    ShuffleNetV2,
    backbone,
    feature_info,
)
from keras_lightnets.testing import realistic_weights
from tests.helpers import MODEL_FUNCTIONS, tflite_op_counts


# (builder, kwargs, [(reduction, channels)] at reductions 2, 4, 8, 16, 32), from the
# papers' tables (block outputs; the last map at 32 is the last conv before pooling).
EXPECTED = [
    (MobileNetV1, {}, [(2, 64), (4, 128), (8, 256), (16, 512), (32, 1024)]),
    (MobileNetV1, {"alpha": 0.5}, [(2, 32), (4, 64), (8, 128), (16, 256), (32, 512)]),
    (MobileNetV2, {}, [(2, 16), (4, 24), (8, 32), (16, 96), (32, 1280)]),
    (MobileNetV2, {"alpha": 0.5}, [(2, 8), (4, 16), (8, 16), (16, 48), (32, 1280)]),
    (MobileNetV3Large, {}, [(2, 16), (4, 24), (8, 40), (16, 112), (32, 960)]),
    (MobileNetV3Large, {"alpha": 0.75}, [(2, 16), (4, 24), (8, 32), (16, 88), (32, 720)]),
    (MobileNetV3Small, {}, [(2, 16), (4, 16), (8, 24), (16, 48), (32, 576)]),
    (ShuffleNetV1, {"groups": 3}, [(2, 24), (4, 24), (8, 240), (16, 480), (32, 960)]),
    (ShuffleNetV1, {"groups": 8, "scale": 0.5}, [(2, 16), (4, 16), (8, 192), (16, 384), (32, 768)]),
    (ShuffleNetV2, {}, [(2, 24), (4, 24), (8, 116), (16, 232), (32, 1024)]),
    (ShuffleNetV2, {"scale": 2.0}, [(2, 24), (4, 24), (8, 244), (16, 488), (32, 2048)]),
    (MobileNetV4, {"variant": "conv_small"}, [(2, 32), (4, 32), (8, 64), (16, 96), (32, 960)]),
    (MobileNetV4, {"variant": "hybrid_medium"}, [(2, 32), (4, 48), (8, 80), (16, 160), (32, 960)]),
]
IDS = [f"{b.__name__}-{kw}" for b, kw, _ in EXPECTED]


@pytest.mark.parametrize("build, kwargs, expected", EXPECTED, ids=IDS)
@pytest.mark.parametrize("size", [(224, 224), (97, 131)])
def test_strides_and_channels_match_reference(build, kwargs, expected, size):
    model = build(input_shape=(*size, 3), include_top=False, features_only=True, **kwargs)
    assert [(f["reduction"], f["channels"]) for f in model.feature_info] == expected
    for (reduction, channels), shape in zip(expected, model.output_shape):
        assert shape[1:] == (-(-size[0] // reduction), -(-size[1] // reduction), channels)


@pytest.mark.parametrize("build, kwargs, expected", EXPECTED[::2], ids=IDS[::2])
def test_feature_maps_equal_classifier_intermediates(build, kwargs, expected, rng):
    classifier = build(input_shape=(96, 96, 3), **kwargs)
    realistic_weights(classifier)
    features = build(input_shape=(96, 96, 3), include_top=False, features_only=True, out_indices=(1, 2, 4), **kwargs)
    for layer in features.layers:
        layer.set_weights(classifier.get_layer(layer.name).get_weights())
    names = [f["name"] for f in features.feature_info]
    reference = keras.Model(classifier.inputs, [classifier.get_layer(n).output for n in names])
    x = rng.uniform(-1, 1, (2, 96, 96, 3)).astype("float32")
    for got, want in zip(features(x), reference(x)):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=0, atol=1e-6)


@pytest.mark.parametrize("build", MODEL_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("output_stride", [16, 8])
def test_output_stride_keeps_weights_and_resolution(build, output_stride, rng):
    classifier = build(input_shape=(128, 128, 3))
    weights = realistic_weights(classifier)
    dilated = build(input_shape=(128, 128, 3), output_stride=output_stride)
    dilated.set_weights(weights)  # same weights, same order: a classifier checkpoint loads
    last = dilated.feature_info[-1]
    assert last["reduction"] == output_stride
    assert last["name"] == classifier.feature_info[-1]["name"]
    trunk = keras.Model(dilated.inputs, dilated.get_layer(last["name"]).output)
    assert trunk.output_shape[1:3] == (128 // output_stride, 128 // output_stride)
    rates = {l.dilation_rate for l in dilated.layers if isinstance(l, keras.layers.DepthwiseConv2D)}
    assert rates == ({(1, 1), (2, 2)} if output_stride == 16 else {(1, 1), (2, 2), (4, 4)})
    assert all(l.strides == (1, 1) for l in dilated.layers if l.name.endswith("_depthwise") and l.dilation_rate != (1, 1))
    x = rng.uniform(0, 255, (1, 128, 128, 3)).astype("float32")
    assert np.isfinite(to_numpy(dilated(x))).all()


def test_shufflenet_output_stride_keeps_the_downsampling_units():
    """The unit whose stride is removed keeps its two-branch / pooled-shortcut form, at rate 1."""
    v2 = ShuffleNetV2(input_shape=(64, 64, 3), output_stride=16)
    assert v2.get_layer("stage4_unit1_proj_depthwise").strides == (1, 1)
    assert v2.get_layer("stage4_unit1_depthwise").dilation_rate == (1, 1)
    assert [v2.get_layer(f"stage4_unit{i}_depthwise").dilation_rate for i in (2, 3, 4)] == [(2, 2)] * 3
    v1 = ShuffleNetV1(input_shape=(64, 64, 3), output_stride=16)
    assert v1.get_layer("stage4_unit1_pool").strides == (1, 1)
    assert isinstance(v1.get_layer("stage4_unit1_concat"), keras.layers.Concatenate)
    assert v1.get_layer("stage4_unit2_depthwise").dilation_rate == (2, 2)


def test_output_stride_dilation_follows_deeplab_rule():
    """TF-slim/DeepLab: the block whose stride is removed keeps rate 1, later ones get 2."""
    model = MobileNetV2(input_shape=(64, 64, 3), output_stride=16)
    assert model.get_layer("block_13_depthwise").dilation_rate == (1, 1)
    assert model.get_layer("block_13_depthwise").strides == (1, 1)
    assert [model.get_layer(f"block_{i}_depthwise").dilation_rate for i in (14, 15, 16)] == [(2, 2)] * 3


@pytest.mark.parametrize(
    "name, expected",
    [
        ("mobilenet_v2", [("block_13_expand_act", 16, 576), ("head_conv_act", 32, 1280)]),
        ("mobilenet_v3_large", [("block_12_expand_act", 16, 672), ("head_conv_act", 32, 960)]),
        ("mobilenet_v3_small", [("block_8_expand_act", 16, 288), ("head_conv_act", 32, 576)]),
        ("mobilenet_v1", [("block_11_pointwise_act", 16, 512), ("block_13_pointwise_act", 32, 1024)]),
    ],
)
def test_ssdlite_taps(name, expected):
    model = backbone(name, input_shape=(320, 320, 3))
    assert [(f["name"], f["reduction"], f["channels"]) for f in model.feature_info] == expected
    assert [s[1] for s in model.output_shape] == [20, 10]


def test_backbone_refuses_unknown_taps_and_families():
    with pytest.raises(ValueError, match="taps"):
        backbone("mobilenet_v2", taps="fpn")
    with pytest.raises(ValueError, match="shufflenet_v1_g3_x1_0.*supported"):
        backbone("shufflenet_v1_g3_x1_0")
    with pytest.raises(ValueError, match="include_top"):
        backbone("mobilenet_v2", include_top=True)


def test_feature_info_is_recorded_not_probed():
    """A dynamic-size model knows its reductions without running anything; foreign models are refused."""
    model = ShuffleNetV1(groups=3, include_top=False, features_only=True, input_shape=(None, None, 3))
    assert [(f["reduction"], f["channels"]) for f in feature_info(model)] == EXPECTED[7][2]
    inputs = keras.Input((32, 32, 3))
    with pytest.raises(ValueError, match="records no feature maps"):
        feature_info(keras.Model(inputs, keras.layers.Conv2D(4, 3, strides=2)(inputs)))
    with pytest.raises(TypeError, match="keras.Model"):
        feature_info("model")


def test_feature_info_survives_keras_round_trip(tmp_path):
    model = MobileNetV3Small(include_top=False, features_only=True, out_indices=(2, 3, 4))
    path = tmp_path / "features.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert feature_info(restored) == model.feature_info
    assert [f["reduction"] for f in feature_info(restored)] == [8, 16, 32]


def test_features_tflite_has_one_output_per_tap(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from keras_lightnets.export import to_tflite

    model = MobileNetV3Small(input_shape=(96, 96, 3), include_top=False, features_only=True, out_indices=(2, 3, 4))
    report = to_tflite(model, tmp_path / "f.tflite")
    assert not any(n.startswith("Flex") or n == "CUSTOM" for n in report.ops)
    outputs = Interpreter(model_path=report.path).get_output_details()
    assert sorted(tuple(o["shape"][1:]) for o in outputs) == sorted(tuple(s[1:]) for s in model.output_shape)


def test_shufflenet_features_tflite_builtin_only():
    model = ShuffleNetV2(input_shape=(64, 64, 3), include_top=False, features_only=True)
    ops, ranks = tflite_op_counts(model)
    assert "CUSTOM" not in ops and max(ranks) <= 4


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(features_only=True), ValueError, "include_top"),
        (dict(features_only=True, include_top=False, pooling="avg"), ValueError, "pooling"),
        (dict(features_only=True, include_top=False, out_indices=(0, 5)), ValueError, "out_indices"),
        (dict(features_only=True, include_top=False, out_indices=(-1,)), ValueError, "out_indices"),
        (dict(features_only=True, include_top=False, out_indices=(3, 1)), ValueError, "sorted"),
        (dict(features_only=True, include_top=False, out_indices=(1, 1)), ValueError, "unique"),
        (dict(features_only=True, include_top=False, out_indices=()), ValueError, "out_indices"),
        (dict(features_only=True, include_top=False, out_indices=(4,), output_stride=16), ValueError, "output_stride"),
        (dict(output_stride=4), ValueError, r"`output_stride`.*\[8, 16, 32\]"),
        (dict(output_stride="16"), TypeError, "output_stride"),
        (dict(features_only="yes", include_top=False), TypeError, "features_only"),
    ],
)
def test_bad_feature_arguments(kwargs, error, pattern, monkeypatch):
    monkeypatch.setattr(keras, "Input", lambda *a, **k: pytest.fail("built before checking"))
    with pytest.raises(error, match=pattern):
        MobileNetV2(**kwargs)


@pytest.mark.parametrize("name, channels", [("mobilenet_v4_conv_small", [96, 960]), ("shufflenet_v2_x1_0", [232, 1024])])
def test_families_without_a_published_ssdlite_tap_their_last_stride_16_and_32_maps(name, channels):
    model = backbone(name, input_shape=(160, 160, 3))
    assert [(f["reduction"], f["channels"]) for f in feature_info(model)] == [(16, channels[0]), (32, channels[1])]
    assert [tuple(o.shape[1:3]) for o in model.outputs] == [(10, 10), (5, 5)]
