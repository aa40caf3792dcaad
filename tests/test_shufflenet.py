"""ShuffleNetV1/V2 against the papers, the reference counts and an independent NumPy pass."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_lightnets import ShuffleNetV1, ShuffleNetV2, count_macs
from keras_lightnets.blocks import shuffle_unit, shuffle_v2_unit
from keras_lightnets.layers import ChannelShuffle, ChannelSplit
from keras_lightnets.testing import realistic_weights
from tests.helpers import (
    np_avg_pool_same,
    np_bn,
    np_channel_shuffle,
    np_conv,
    np_depthwise,
    tflite_op_counts,
)


def _trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# ../shared/reference/ARCHITECTURES.md: trainable parameters at 224, 1000 classes.
@pytest.mark.parametrize(
    "groups, expected",
    [(1, 1_531_936), (2, 1_733_848), (3, 1_865_728), (4, 1_968_344), (8, 2_434_768)],
)
def test_shufflenet_v1_1x_parameters_equal_reference(groups, expected):
    assert _trainable(ShuffleNetV1(groups=groups, input_shape=(224, 224, 3))) == expected


@pytest.mark.parametrize(
    "scale, expected", [(0.5, 1_366_792), (1.0, 2_278_604), (1.5, 3_503_624), (2.0, 7_393_996)]
)
def test_shufflenet_v2_parameters_equal_torchvision(scale, expected):
    assert _trainable(ShuffleNetV2(scale=scale, input_shape=(224, 224, 3))) == expected


# Paper MFLOPs (= multiply-adds): V1 Table 1 at 1x; megvii's reference README for
# g3/g8 at other scales; V2 Table 5.
@pytest.mark.parametrize(
    "build, kwargs, paper",
    [
        (ShuffleNetV1, dict(groups=1), 143e6),
        (ShuffleNetV1, dict(groups=2), 140e6),
        (ShuffleNetV1, dict(groups=3), 137e6),
        (ShuffleNetV1, dict(groups=4), 133e6),
        (ShuffleNetV1, dict(groups=8), 137e6),
        (ShuffleNetV1, dict(groups=3, scale=0.5), 38e6),
        (ShuffleNetV1, dict(groups=3, scale=0.25), 13e6),
        (ShuffleNetV1, dict(groups=3, scale=1.5), 292e6),
        (ShuffleNetV1, dict(groups=3, scale=2.0), 524e6),
        (ShuffleNetV1, dict(groups=8, scale=0.5), 40e6),
        (ShuffleNetV1, dict(groups=8, scale=1.5), 290e6),
        (ShuffleNetV1, dict(groups=8, scale=2.0), 522e6),
        (ShuffleNetV2, dict(scale=0.5), 41e6),
        (ShuffleNetV2, dict(scale=1.0), 146e6),
        (ShuffleNetV2, dict(scale=1.5), 299e6),
        (ShuffleNetV2, dict(scale=2.0), 591e6),
    ],
)
def test_macs_within_five_percent_of_paper(build, kwargs, paper):
    macs = count_macs(build(input_shape=(224, 224, 3), **kwargs))
    assert abs(macs - paper) / paper <= 0.05, macs


@pytest.mark.parametrize(
    "groups, channels",
    [(1, (144, 288, 576)), (2, (200, 400, 800)), (3, (240, 480, 960)), (4, (272, 544, 1088)), (8, (384, 768, 1536))],
)
def test_shufflenet_v1_stage_outputs_follow_table_1(groups, channels):
    model = ShuffleNetV1(groups=groups, input_shape=(224, 224, 3))
    for stage, size, out in zip((2, 3, 4), (28, 14, 7), channels):
        last = {2: 4, 3: 8, 4: 4}[stage]
        assert model.get_layer(f"stage{stage}_unit{last}_relu").output.shape[1:] == (size, size, out)


def test_shufflenet_v1_known_wrong_versions_are_avoided():
    model = ShuffleNetV1(groups=3, input_shape=(224, 224, 3))
    stem = model.get_layer("stem")
    assert stem.filters == 24 and not stem.use_bias
    assert isinstance(model.get_layer("stem_bn"), keras.layers.BatchNormalization)
    assert isinstance(model.get_layer("stem_act"), keras.layers.ReLU)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert convs and not any(l.use_bias for l in convs)  # no biases on convs
    for layer in model.layers:
        if layer.name.endswith("_depthwise"):
            assert isinstance(layer, keras.layers.DepthwiseConv2D), layer.name  # not a g-group conv
    assert model.get_layer("stage2_unit1_gconv1").groups == 1  # 24 input channels
    assert model.get_layer("stage2_unit2_gconv1").groups == 3
    assert model.get_layer("stage3_unit1_gconv1").groups == 3
    assert all(model.get_layer(f"stage{s}_unit1_gconv2").groups == 3 for s in (2, 3, 4))
    # stride-2 units: main branch makes out - in channels (240 - 24 = 216).
    assert model.get_layer("stage2_unit1_gconv2").filters == 216
    assert model.get_layer("predictions").use_bias


def test_shufflenet_v2_layout_follows_torchvision():
    model = ShuffleNetV2(scale=1.0, input_shape=(224, 224, 3))
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert not any(l.use_bias for l in convs)
    assert model.get_layer("stage2_unit1_proj_pointwise").filters == 58
    assert model.get_layer("stage2_unit1_pointwise1").input.shape[-1] == 24
    assert model.get_layer("stage2_unit2_pointwise1").input.shape[-1] == 58
    assert model.get_layer("head_conv").output.shape[1:] == (7, 7, 1024)
    assert model.get_layer("head_conv").input.shape[1:] == (7, 7, 464)


@settings(max_examples=25, deadline=None)
@given(
    groups=st.sampled_from([1, 2, 3, 4, 8]),
    per_group=st.integers(1, 12),
    height=st.integers(1, 5),
    width=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_channel_shuffle_equals_numpy_permutation(groups, per_group, height, width, seed):
    x = np.random.default_rng(seed).normal(size=(2, height, width, groups * per_group)).astype("float32")
    np.testing.assert_array_equal(ChannelShuffle(groups)(x).numpy(), np_channel_shuffle(x, groups))


def test_channel_shuffle_example_and_dynamic_shapes(rng):
    eight = np.arange(8, dtype="float32").reshape(1, 1, 1, 8)
    assert ChannelShuffle(2)(eight).numpy().ravel().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    inputs = keras.Input((None, None, 12))
    model = keras.Model(inputs, ChannelShuffle(3)(inputs))
    x = rng.normal(size=(3, 5, 7, 12)).astype("float32")
    np.testing.assert_array_equal(model(x).numpy(), np_channel_shuffle(x, 3))


def test_channel_shuffle_rejects_indivisible_channels():
    with pytest.raises(ValueError, match="groups"):
        ChannelShuffle(3)(keras.Input((8, 8, 10)))
    with pytest.raises(ValueError, match="groups"):
        ChannelShuffle(0)


def test_channel_split_halves(rng):
    x = rng.normal(size=(1, 3, 3, 6)).astype("float32")
    left, right = ChannelSplit()(x)
    np.testing.assert_array_equal(left.numpy(), x[..., :3])
    np.testing.assert_array_equal(right.numpy(), x[..., 3:])
    with pytest.raises(ValueError, match="even"):
        ChannelSplit()(keras.Input((4, 4, 5)))


def _w(model, name):
    return [w.numpy().astype(np.float64) for w in model.get_layer(name).weights]


def _unit_model(shape, build):
    inputs = keras.Input(shape)
    model = keras.Model(inputs, build(inputs))
    realistic_weights(model, seed=3)
    return model


def _bn(model, name, x):
    return np_bn(x, *_w(model, f"{name}_bn"), eps=1e-5)


@pytest.mark.parametrize("strides, shape, out", [(1, (7, 9, 24), 24), (2, (8, 11, 24), 60), (2, (9, 9, 12), 48)])
def test_shufflenet_v1_unit_equals_numpy(strides, shape, out, rng):
    groups = 3
    model = _unit_model(shape, lambda x: shuffle_unit(x, out, groups, strides, name="u"))
    x = rng.normal(size=(1, *shape)).astype("float32")
    h = x[0].astype(np.float64)
    y = np.maximum(_bn(model, "u_gconv1", np_conv(h, _w(model, "u_gconv1")[0], groups=groups)), 0)
    y = np_channel_shuffle(y, groups)
    y = _bn(model, "u_depthwise", np_depthwise(y, _w(model, "u_depthwise")[0], strides))
    y = _bn(model, "u_gconv2", np_conv(y, _w(model, "u_gconv2")[0], groups=groups))
    if strides == 1:
        expected = np.maximum(y + h, 0)
    else:
        expected = np.maximum(np.concatenate([np_avg_pool_same(h), y], axis=-1), 0)
    np.testing.assert_allclose(model(x).numpy()[0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("strides, shape, out", [(1, (7, 9, 16), 16), (2, (8, 11, 24), 40), (2, (9, 9, 24), 116)])
def test_shufflenet_v2_unit_equals_numpy(strides, shape, out, rng):
    model = _unit_model(shape, lambda x: shuffle_v2_unit(x, out, strides, name="u"))
    x = rng.normal(size=(1, *shape)).astype("float32")
    h = x[0].astype(np.float64)
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    if strides == 1:
        left, right = h[..., : shape[-1] // 2], h[..., shape[-1] // 2:]
    else:
        left = _bn(model, "u_proj_depthwise", np_depthwise(h, _w(model, "u_proj_depthwise")[0], 2))
        left = relu(_bn(model, "u_proj_pointwise", np_conv(left, _w(model, "u_proj_pointwise")[0])))
        right = h
    right = relu(_bn(model, "u_pointwise1", np_conv(right, _w(model, "u_pointwise1")[0])))
    right = _bn(model, "u_depthwise", np_depthwise(right, _w(model, "u_depthwise")[0], strides))
    right = relu(_bn(model, "u_pointwise2", np_conv(right, _w(model, "u_pointwise2")[0])))
    expected = np_channel_shuffle(np.concatenate([left, right], axis=-1), 2)
    np.testing.assert_allclose(model(x).numpy()[0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "build", [lambda: ShuffleNetV1(groups=3, input_shape=(224, 224, 3)), lambda: ShuffleNetV2(input_shape=(224, 224, 3))],
    ids=["v1_g3", "v2_x1_0"],
)
def test_tflite_has_builtin_ops_only_and_no_high_rank_transpose(build):
    ops, transpose_ranks = tflite_op_counts(build(), absorb_shuffle=False)  # the shuffles as they are
    assert not any(name.startswith("Flex") or name in ("CUSTOM", "DELEGATE") for name in ops), ops
    assert ops.get("TRANSPOSE") == 16 and all(rank <= 4 for rank in transpose_ranks)
    assert "PAD" not in ops


@pytest.mark.parametrize("scale", [0.25, 0.5, 1.5, 2.0])
@pytest.mark.parametrize("groups", [1, 2, 3, 4, 8])
def test_every_group_and_scale_builds_and_runs(groups, scale, rng):
    model = ShuffleNetV1(groups=groups, scale=scale, input_shape=(64, 48, 3), classes=5)
    assert model(rng.normal(size=(1, 64, 48, 3)).astype("float32")).shape == (1, 5)


def test_dynamic_input_sizes(rng):
    for model in (ShuffleNetV1(include_top=False), ShuffleNetV2(include_top=False)):
        assert model.input_shape == (None, None, None, 3)
        out = model(rng.normal(size=(1, 97, 131, 3)).astype("float32"))
        assert out.shape[1:3] == (4, 5)


@pytest.mark.parametrize(
    "build, kwargs, error, pattern",
    [
        (ShuffleNetV1, dict(groups=5), ValueError, r"`groups`.*\[1, 2, 3, 4, 8\].*5"),
        (ShuffleNetV1, dict(groups="3"), TypeError, r"`groups`"),
        (ShuffleNetV1, dict(scale=0.75), ValueError, r"`scale`.*0.75"),
        (ShuffleNetV1, dict(scale="1.0"), TypeError, r"`scale`"),
        (ShuffleNetV2, dict(scale=0.25), ValueError, r"`scale`.*\[0.5, 1.0, 1.5, 2.0\]"),
        (ShuffleNetV2, dict(scale=float("nan")), ValueError, r"`scale`"),
        (ShuffleNetV2, dict(input_shape=(31, 64, 3)), ValueError, r"`input_shape`.*32x32"),
        (ShuffleNetV1, dict(input_shape=(64, 16, 3)), ValueError, r"`input_shape`.*32x32"),
    ],
)
def test_bad_model_arguments(build, kwargs, error, pattern, monkeypatch):
    monkeypatch.setattr(keras, "Input", lambda *a, **k: pytest.fail("built before checking"))
    with pytest.raises(error, match=pattern):
        build(**kwargs)


@pytest.mark.parametrize(
    "build, pattern",
    [
        (lambda x: shuffle_unit(x, 60, 8, 2, name="u"), "groups"),  # 15 mid channels, 8 groups
        (lambda x: shuffle_unit(x, 48, 3, 1, name="u"), "out_channels"),  # stride 1, 24 != 48
        (lambda x: shuffle_unit(x, 48, 3, 3, name="u"), "strides"),
        (lambda x: shuffle_v2_unit(x, 41, 2, name="u"), "out_channels"),
        (lambda x: shuffle_v2_unit(x, 48, 1, name="u"), "out_channels"),
    ],
)
def test_bad_unit_arguments(build, pattern):
    with pytest.raises(ValueError, match=pattern):
        build(keras.Input((8, 8, 24)))
