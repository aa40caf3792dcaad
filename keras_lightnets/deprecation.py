"""Names that moved: the old import keeps working for one release, with a ``DeprecationWarning``.

Each module that lost a public name defines ``__getattr__ = moved_from("its.module.name")``
(PEP 562): ``from keras_lightnets.weights import from_torchvision`` then warns,
naming the new place, and returns the object from there. :data:`MOVED` is the
whole list; ``CHANGELOG.md`` says when each name moved and when the old one goes.
Names that were replaced rather than moved (a different signature or meaning)
are listed in the changelog instead: an alias would hide the change.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable

__all__ = ["MOVED", "REMOVED_IN", "moved_from"]

#: The release that drops the old names.
REMOVED_IN = "0.3.0"

#: old module -> {old name: "new.module:name"}.
MOVED: dict[str, dict[str, str]] = {
    "keras_lightnets.weights": {
        "from_torchvision": "keras_lightnets.convert:from_torchvision",
        "TORCHVISION_MODELS": "keras_lightnets.convert.torchvision:TORCHVISION_MODELS",
        "ImagenetFile": "keras_lightnets.weights.catalogue:WeightsFile",
        "IMAGENET_ALPHAS": "keras_lightnets.weights.catalogue:IMAGENET_ALPHAS",
        "KERAS_APPLICATIONS_URL": "keras_lightnets.weights.catalogue:KERAS_APPLICATIONS_URL",
        "MOBILENET_V3_HASHES": "keras_lightnets.weights.catalogue:MOBILENET_V3_HASHES",
    },
    "keras_lightnets.models.common": {
        "FEATURE_REDUCTIONS": "keras_lightnets.models.args:FEATURE_REDUCTIONS",
        "MIN_SIZE": "keras_lightnets.models.args:MIN_SIZE",
        "OUTPUT_STRIDES": "keras_lightnets.models.args:OUTPUT_STRIDES",
        "POOLING_CHOICES": "keras_lightnets.models.args:POOLING_CHOICES",
        "StrideTracker": "keras_lightnets.models.strides:StrideTracker",
        "activation_layer": "keras_lightnets.layers:activation_layer",
        "build_input": "keras_lightnets.models.heads:build_input",
        "conv_classifier": "keras_lightnets.models.heads:conv_classifier",
        "dense_classifier": "keras_lightnets.models.heads:dense_classifier",
        "pool_features": "keras_lightnets.models.heads:pool_features",
        "finish_model": "keras_lightnets.models.network:finish_model",
        "PADDINGS": "keras_lightnets.blocks:PADDINGS",
        "WEIGHTS_SUFFIXES": "keras_lightnets.weights:WEIGHTS_SUFFIXES",
        "imagenet_file": "keras_lightnets.weights:imagenet_file",
        "load_imagenet": "keras_lightnets.weights:load_imagenet",
        "load_weights": "keras_lightnets.weights:load_weights",
        "check_bool": "keras_lightnets.validation:check_bool",
        "check_choice": "keras_lightnets.validation:check_choice",
        "check_float": "keras_lightnets.validation:check_float",
        "check_int": "keras_lightnets.validation:check_int",
        "check_path": "keras_lightnets.validation:check_path",
    },
    "keras_lightnets.export": {
        "HardSwish": "keras_lightnets.layers:HardSwish",
        "check_path": "keras_lightnets.validation:check_path",
    },
    "keras_lightnets.latency": {
        "tflite_latency": "keras_lightnets.litert:tflite_latency",
        "tflite_runner": "keras_lightnets.litert:tflite_runner",
    },
    "keras_lightnets.train": {
        "image_folder": "keras_lightnets.data:image_folder",
        "CLASSIFIER_LAYERS": "keras_lightnets.transfer:CLASSIFIER_LAYERS",
    },
}


def moved_from(module: str) -> Callable[[str], Any]:
    """The module ``__getattr__`` that serves ``module``'s moved names (see :data:`MOVED`).

    Args:
        module: the old module's dotted name, spelled out (a module run with ``-m`` is ``__main__``); a key of :data:`MOVED`.

    Examples:
        >>> import warnings
        >>> lookup = moved_from("keras_lightnets.latency")
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     runner = lookup("tflite_runner")
        >>> runner.__module__, caught[0].category.__name__
        ('keras_lightnets.litert', 'DeprecationWarning')
    """
    if module not in MOVED:
        raise ValueError(f"`module` must be one of {sorted(MOVED)}; received {module!r}.")
    names = MOVED[module]

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new_module, new_name = names[name].split(":")
        warnings.warn(
            f"{module}.{name} moved to {new_module}.{new_name}; the old name goes in keras_lightnets {REMOVED_IN}.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(new_module), new_name)

    return __getattr__
