"""Every family round-trips through .keras with safe_mode=True and loads weight files."""

from __future__ import annotations

import pathlib

import keras
import numpy as np
from keras.ops import convert_to_numpy as to_numpy
import pytest

import keras_lightnets
from keras_lightnets import MobileNetV1, MobileNetV3Small, ShuffleNetV1, ShuffleNetV2
from keras_lightnets.testing import realistic_weights
from tests.helpers import SMALL_FAMILIES, SMALL_FAMILY_IDS


FAMILIES = SMALL_FAMILIES + [
    (MobileNetV3Small, dict(minimalistic=True)),
    (MobileNetV3Small, dict(include_top=False, pooling="avg")),
    (ShuffleNetV1, dict(groups=8, scale=0.5, include_top=False, features_only=True, output_stride=16)),
    (ShuffleNetV2, dict(scale=0.5, include_top=False)),
]
IDS = SMALL_FAMILY_IDS + ["v3_small_minimalistic", "v3_small_pooled", "shufflenet_v1_features", "shufflenet_v2_no_top"]


def _x(rng):
    return rng.uniform(-1, 1, (2, 64, 64, 3)).astype("float32")


@pytest.mark.parametrize("build, kwargs", FAMILIES, ids=IDS)
def test_keras_file_round_trip_safe_mode(build, kwargs, tmp_path, rng):
    model = build(input_shape=(64, 64, 3), **kwargs)
    realistic_weights(model)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    x = _x(rng)
    for ours, theirs in zip(keras.tree.flatten(restored(x)), keras.tree.flatten(model(x))):
        np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))
    assert [l.name for l in restored.layers] == [l.name for l in model.layers]
    assert type(restored) is type(model) and restored.feature_info == model.feature_info


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_weights_argument_loads_a_file(suffix, tmp_path, rng):
    source = MobileNetV3Small(input_shape=(64, 64, 3), classes=5)
    realistic_weights(source)
    path = tmp_path / f"small{suffix}"
    if suffix == ".keras":
        source.save(path)
    else:
        source.save_weights(path)
    loaded = MobileNetV3Small(input_shape=(64, 64, 3), classes=5, weights=str(path))
    x = _x(rng)
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(source(x)))


def test_weights_argument_accepts_pathlib(tmp_path):
    source = MobileNetV1(input_shape=(32, 32, 3), alpha=0.25, classes=3)
    path = tmp_path / "v1.weights.h5"
    source.save_weights(path)
    loaded = MobileNetV1(input_shape=(32, 32, 3), alpha=0.25, classes=3, weights=pathlib.Path(path))
    for a, b in zip(loaded.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_package_has_no_lambda_layers():
    root = pathlib.Path(keras_lightnets.__file__).parent
    for source in root.rglob("*.py"):
        text = source.read_text()
        assert "layers.Lambda" not in text and "Lambda(" not in text, source
    for build, kwargs in FAMILIES:
        model = build(input_shape=(64, 64, 3), **kwargs)
        assert not any(isinstance(l, keras.layers.Lambda) for l in model.layers)
