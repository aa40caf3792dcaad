"""Moved public names keep working for one release, warning with the new place.

The expected list is written out here, independently of
:data:`keras_lightnets.deprecation.MOVED`: it was found by comparing each
earlier commit's module-level public names with today's modules.
"""

from __future__ import annotations

import importlib
import warnings

import pytest

from keras_lightnets.deprecation import MOVED, REMOVED_IN, moved_from

EXPECTED = {
    "keras_lightnets.weights.from_torchvision": "keras_lightnets.convert.from_torchvision",
    "keras_lightnets.weights.TORCHVISION_MODELS": "keras_lightnets.convert.torchvision.TORCHVISION_MODELS",
    "keras_lightnets.weights.ImagenetFile": "keras_lightnets.weights.catalogue.WeightsFile",
    "keras_lightnets.weights.IMAGENET_ALPHAS": "keras_lightnets.weights.catalogue.IMAGENET_ALPHAS",
    "keras_lightnets.weights.KERAS_APPLICATIONS_URL": "keras_lightnets.weights.catalogue.KERAS_APPLICATIONS_URL",
    "keras_lightnets.weights.MOBILENET_V3_HASHES": "keras_lightnets.weights.catalogue.MOBILENET_V3_HASHES",
    "keras_lightnets.export.HardSwish": "keras_lightnets.layers.HardSwish",
    "keras_lightnets.export.check_path": "keras_lightnets.validation.check_path",
    "keras_lightnets.latency.tflite_latency": "keras_lightnets.litert.tflite_latency",
    "keras_lightnets.latency.tflite_runner": "keras_lightnets.litert.tflite_runner",
    "keras_lightnets.train.image_folder": "keras_lightnets.data.image_folder",
    "keras_lightnets.train.CLASSIFIER_LAYERS": "keras_lightnets.transfer.CLASSIFIER_LAYERS",
} | {
    f"keras_lightnets.models.common.{name}": f"{place}.{name}"
    for place, names in {
        "keras_lightnets.models.args": ("FEATURE_REDUCTIONS", "MIN_SIZE", "OUTPUT_STRIDES", "POOLING_CHOICES"),
        "keras_lightnets.models.strides": ("StrideTracker",),
        "keras_lightnets.layers": ("activation_layer",),
        "keras_lightnets.models.heads": ("build_input", "conv_classifier", "dense_classifier", "pool_features"),
        "keras_lightnets.models.network": ("finish_model",),
        "keras_lightnets.blocks": ("PADDINGS",),
        "keras_lightnets.weights": ("WEIGHTS_SUFFIXES", "imagenet_file", "load_imagenet", "load_weights"),
        "keras_lightnets.validation": ("check_bool", "check_choice", "check_float", "check_int", "check_path"),
    }.items()
    for name in names
}


def test_the_table_lists_exactly_the_moved_names():
    table = {f"{module}.{name}": target.replace(":", ".") for module, names in MOVED.items() for name, target in names.items()}
    assert table == EXPECTED


@pytest.mark.parametrize("old, new", sorted(EXPECTED.items()))
def test_old_import_warns_with_the_new_place_and_returns_the_same_object(old, new):
    old_module, _, name = old.rpartition(".")
    new_module, _, new_name = new.rpartition(".")
    expected = getattr(importlib.import_module(new_module), new_name)
    with pytest.warns(DeprecationWarning, match=rf"{old}\b.*moved to {new}\b.*{REMOVED_IN}"):
        found = getattr(importlib.import_module(old_module), name)
    assert found is expected
    # the `from ... import ...` spelling goes through the same hook
    with pytest.warns(DeprecationWarning, match=new):
        exec(f"from {old_module} import {name}", {})


def test_current_names_do_not_warn_and_unknown_names_still_fail():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from keras_lightnets.weights import fetch  # noqa: F401
        from keras_lightnets.convert import from_torchvision  # noqa: F401
    module = importlib.import_module("keras_lightnets.weights")
    with pytest.raises(AttributeError, match="has no attribute 'from_torchvisoin'"):
        module.from_torchvisoin  # noqa: B018
    with pytest.raises(ValueError, match="`module` must be one of"):
        moved_from("keras_lightnets.nowhere")
