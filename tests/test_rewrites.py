"""Export rewrites: channel shuffles absorbed into weights, compared with the untransformed model."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_lightnets import ShuffleNetV1, ShuffleNetV2
from keras_lightnets.blocks import conv_block
from keras_lightnets.export import run_tflite, to_tflite
from keras_lightnets.layers import ChannelShuffle, ChannelSplit
from keras_lightnets.litert import tflite_delegation, tflite_ops
from keras_lightnets.rewrites import absorb_channel_shuffle, densify_group_convolutions
from keras_lightnets.testing import realistic_weights, relative_error


def _layers(model: keras.Model, kind: type) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if type(layer) is kind]


def _parts(model: keras.Model) -> dict[str, int]:
    """Original convolution name -> how many convolutions it became."""
    counts: dict[str, int] = {}
    for layer in _layers(model, keras.layers.Conv2D):
        base = layer.name.rsplit("_part", 1)[0]
        counts[base] = counts.get(base, 0) + 1
    return counts


def _lifetimes(branch: int, units: int) -> int:
    """Distinct routes of a downsampling unit's left-branch channels through ``units`` stride-1 units.

    After the shuffle, left channel c sits at position 2c of 2 * branch; a
    stride-1 unit passes positions < branch on (to twice the position) and
    consumes the rest, so a channel's route is how many units it survives.
    """
    routes = set()
    for channel in range(branch):
        position, survived = 2 * channel, 0
        while survived < units and position < branch:
            position, survived = 2 * position, survived + 1
        routes.add(survived)
    return len(routes)


@pytest.fixture(scope="module")
def v2_half():
    model = ShuffleNetV2(scale=0.5, input_shape=(None, None, 3), classifier_activation=None)
    realistic_weights(model, seed=1)
    return model


@pytest.mark.parametrize("max_parts", [None, 4, 2])
def test_shufflenet_v2_outputs_equal_the_untransformed_model(v2_half, max_parts, rng):
    absorbed = absorb_channel_shuffle(v2_half, max_parts)
    x = rng.uniform(-1, 1, (2, 97, 131, 3)).astype("float32")
    assert relative_error(absorbed.predict(x, verbose=0), v2_half.predict(x, verbose=0)) < 1e-5
    parts = _parts(absorbed)
    assert max(parts.values()) <= (max_parts or 99)
    assert set(parts) == {layer.name for layer in _layers(v2_half, keras.layers.Conv2D)}
    shuffles = {layer.name for layer in _layers(absorbed, ChannelShuffle)}
    if max_parts is None:
        assert not shuffles
        assert parts["stage3_unit1_proj_pointwise"] == _lifetimes(48, units=7)
    else:
        assert shuffles  # the limit keeps the first shuffles of the long stages
        # Kept shuffles are a prefix of each stage: a kept shuffle needs the true order before it.
        for name in shuffles:
            stage, unit = name.split("_")[:2]
            earlier = {f"{stage}_unit{u}_shuffle" for u in range(1, int(unit[4:]))}
            assert earlier <= shuffles, (name, sorted(shuffles))
    assert v2_half.get_layer("stage2_unit2_split") is not None  # the source model is untouched


def test_absorbed_tflite_has_no_shuffle_ops_and_equals_keras(v2_half, tmp_path, rng):
    x = rng.uniform(-1, 1, (2, 96, 96, 3)).astype("float32")
    absorbed = absorb_channel_shuffle(v2_half, max_parts=None)
    path = to_tflite(absorbed, tmp_path / "absorbed.tflite", input_size=96, absorb_shuffle=False).path
    ops = tflite_ops(path)
    assert "TRANSPOSE" not in ops and "RESHAPE" not in ops and "GATHER" not in ops, ops
    assert tflite_delegation(path).undelegated == {}  # every concatenation has <= 5 inputs
    assert relative_error(run_tflite(path, x), v2_half.predict(x, verbose=0)) < 1e-5
    # to_tflite applies the transform itself (default max_parts): fewer TRANSPOSE ops than shuffles.
    default = to_tflite(v2_half, tmp_path / "default.tflite", input_size=96, check_data=x)
    kept = to_tflite(v2_half, tmp_path / "kept.tflite", input_size=96, absorb_shuffle=False)
    assert kept.ops["TRANSPOSE"] == 16 and default.ops.get("TRANSPOSE", 0) < 16
    assert default.comparison.relative_error < 1e-5


def test_features_and_dilated_variants_stay_exact(rng):
    x = rng.uniform(-1, 1, (1, 64, 80, 3)).astype("float32")
    for model in (
        ShuffleNetV2(input_shape=(None, None, 3), include_top=False, features_only=True),
        ShuffleNetV2(scale=0.5, input_shape=(None, None, 3), include_top=False, pooling="max", output_stride=16,
                     padding="symmetric"),
    ):
        realistic_weights(model, seed=2)
        absorbed = absorb_channel_shuffle(model, max_parts=None)
        expected, actual = keras.tree.flatten(model(x)), keras.tree.flatten(absorbed(x))
        assert len(expected) == len(actual)
        for a, b in zip(actual, expected):
            assert relative_error(np.asarray(a), np.asarray(b)) < 1e-5


def test_features_only_keeps_the_shuffles_an_output_needs():
    model = ShuffleNetV2(scale=0.5, input_shape=(64, 64, 3), include_top=False, features_only=True, out_indices=(3, 4))
    absorbed = absorb_channel_shuffle(model, max_parts=None)
    kept = {layer.name for layer in _layers(absorbed, ChannelShuffle)}
    assert kept == {f"stage3_unit{u}_shuffle" for u in range(1, 9)}  # stage 3's output map is an output
    assert "stage3_unit8_shuffle" in [out._keras_history[0].name for out in absorbed.outputs]


def test_grouped_convolutions_keep_shufflenet_v1_unchanged():
    model = ShuffleNetV1(groups=3, input_shape=(64, 64, 3))
    assert absorb_channel_shuffle(model) is model


def test_narrow_group_convolutions_become_dense_and_lose_their_shuffles(tmp_path, rng):
    model = ShuffleNetV1(groups=8, scale=0.25, input_shape=(64, 64, 3), classifier_activation=None)
    realistic_weights(model, seed=5)
    dense = densify_group_convolutions(model)
    narrow = {l.name for l in _layers(model, keras.layers.Conv2D) if l.groups > 1 and l.kernel.shape[2] <= 8}
    assert narrow and all(dense.get_layer(name).groups == 1 for name in narrow)
    wide = {l.name for l in _layers(model, keras.layers.Conv2D) if l.groups > 1} - narrow
    assert all(dense.get_layer(name).groups == 8 for name in wide)
    # Block-diagonal: group g's input rows meet only group g's output columns.
    original = model.get_layer("stage2_unit2_gconv2").kernel.numpy()  # (1, 1, 3, 96): 3 inputs, 12 outputs per group
    kernel = dense.get_layer("stage2_unit2_gconv2").kernel.numpy()
    ins, outs = original.shape[2], original.shape[3] // 8
    assert kernel.shape == (1, 1, 8 * ins, 8 * outs)
    for g in range(8):
        block = kernel[0, 0, ins * g:ins * (g + 1)]
        np.testing.assert_array_equal(block[:, outs * g:outs * (g + 1)], original[0, 0, :, outs * g:outs * (g + 1)])
        assert not np.delete(block, np.s_[outs * g:outs * (g + 1)], axis=1).any()
    absorbed = absorb_channel_shuffle(dense, max_parts=None)
    kept = {l.name for l in _layers(absorbed, ChannelShuffle)}
    assert kept == {f"stage4_unit{u}_shuffle" for u in range(1, 5)}  # stage 4's gconv2 has 12 inputs per group
    x = rng.uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    assert relative_error(absorbed.predict(x, verbose=0), model.predict(x, verbose=0)) < 1e-5
    assert densify_group_convolutions(model, max_group_channels=2) is model  # no group is that narrow
    with pytest.raises(ValueError, match="max_group_channels"):
        densify_group_convolutions(model, max_group_channels=0)
    with pytest.raises(TypeError, match="keras.Model"):
        densify_group_convolutions("model")


def test_one_by_one_conv_absorbs_a_shuffle_and_an_add_does_not(rng):
    inputs = keras.Input((9, 7, 12))
    y = conv_block(inputs, 12, 1, activation="relu", name="a")
    shuffled = ChannelShuffle(3, name="shuffle")(y)
    absorbed_model = keras.Model(inputs, conv_block(shuffled, 8, 1, name="b"))
    kept_model = keras.Model(inputs, keras.layers.Add(name="add")([shuffled, inputs]))
    x = rng.normal(size=(2, 9, 7, 12)).astype("float32")
    for model in (absorbed_model, kept_model):
        realistic_weights(model, seed=4)
    absorbed = absorb_channel_shuffle(absorbed_model)
    assert not _layers(absorbed, ChannelShuffle)
    assert relative_error(absorbed(x).numpy(), absorbed_model(x).numpy()) < 1e-6
    # The shuffle moved into the weights: b's kernel rows are a's output channels in shuffled order.
    order = np.arange(12).reshape(3, 4).T.ravel()
    np.testing.assert_array_equal(
        absorbed.get_layer("b").kernel.numpy()[0, 0], absorbed_model.get_layer("b").kernel.numpy()[0, 0][np.argsort(order)]
    )
    assert absorb_channel_shuffle(kept_model) is kept_model


def test_sized_channel_split_is_strided_slices(tmp_path, rng):
    inputs = keras.Input((5, 5, 7))
    model = keras.Model(inputs, ChannelSplit(sizes=(2, 5))(inputs))
    x = rng.normal(size=(1, 5, 5, 7)).astype("float32")
    left, right = model(x)
    np.testing.assert_array_equal(left.numpy(), x[..., :2])
    np.testing.assert_array_equal(right.numpy(), x[..., 2:])
    with pytest.raises(ValueError, match="sum to the channel count"):
        ChannelSplit(sizes=(2, 4))(inputs)
    with pytest.raises(TypeError, match="sizes"):
        ChannelSplit(sizes="2,5")
    with pytest.raises(ValueError, match="sizes"):
        ChannelSplit(sizes=(0, 7))
    restored = keras.Model.from_config(model.get_config())
    assert restored.layers[-1].sizes == (2, 5)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(model="model"), TypeError, "functional keras.Model"),
        (dict(max_parts=0), ValueError, "max_parts"),
        (dict(max_parts="4"), TypeError, "max_parts"),
        (dict(max_parts=2.5), TypeError, "max_parts"),
        (dict(max_parts=True), TypeError, "max_parts"),
    ],
)
def test_bad_arguments(v2_half, kwargs, error, pattern):
    kwargs = {"model": v2_half, **kwargs}
    with pytest.raises(error, match=pattern):
        absorb_channel_shuffle(**kwargs)
