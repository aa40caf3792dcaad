"""torchvision checkpoints -> exact Keras models (MobileNetV2, MobileNetV3, ShuffleNetV2)."""

from __future__ import annotations

import re
from typing import Any, Callable

import keras

from keras_lightnets.convert.mapping import convert_checkpoint
from keras_lightnets.validation import check_choice

__all__ = ["TORCHVISION_MODELS", "from_torchvision", "inverted_residual_prefixes", "register_torchvision_model"]

# name -> (BatchNorm epsilon, Keras momentum, classifier weight key) of torchvision's model.
TORCHVISION_MODELS: dict[str, tuple[float, float, str]] = {
    "mobilenet_v2": (1e-5, 0.9, "classifier.1.weight"),
    "mobilenet_v3_large": (1e-3, 0.99, "classifier.3.weight"),
    "mobilenet_v3_small": (1e-3, 0.99, "classifier.3.weight"),
    "shufflenet_v2_x0_5": (1e-5, 0.9, "fc.weight"),
    "shufflenet_v2_x1_0": (1e-5, 0.9, "fc.weight"),
    "shufflenet_v2_x1_5": (1e-5, 0.9, "fc.weight"),
    "shufflenet_v2_x2_0": (1e-5, 0.9, "fc.weight"),
}
# name -> converter(state_dict, **model_kwargs) of the task models (keras_lightnets.detection adds
# ssdlite320_mobilenet_v3_large when it is imported).
_TASK_MODELS: dict[str, Callable[..., keras.Model]] = {}
_SHUFFLE_V2_PARTS = {
    "proj_depthwise": "branch1.0", "proj_depthwise_bn": "branch1.1",
    "proj_pointwise": "branch1.2", "proj_pointwise_bn": "branch1.3",
    "pointwise1": "branch2.0", "pointwise1_bn": "branch2.1",
    "depthwise": "branch2.3", "depthwise_bn": "branch2.4",
    "pointwise2": "branch2.5", "pointwise2_bn": "branch2.6",
}


def _conv_bn(prefixes: dict[str, str], layer: str, prefix: str) -> None:
    """torchvision's Conv2dNormActivation: ``prefix.0`` conv, ``prefix.1`` BN."""
    prefixes[layer] = f"{prefix}.0"
    prefixes[f"{layer}_bn"] = f"{prefix}.1"


def inverted_residual_prefixes(names: set[str], v2: bool) -> dict[str, str]:
    """Keras layer -> torchvision module (``features.N...``, ``classifier.N``) for MobileNetV2 / V3.

    Args:
        names: the layer names of the Keras model.
        v2: MobileNetV2 (``conv`` blocks with a bare projection) rather than V3 (``block``).

    Examples:
        >>> inverted_residual_prefixes({"stem", "block_0_depthwise", "head_conv"}, v2=False)["block_0_depthwise"]
        'features.1.block.0.0'
    """
    prefixes: dict[str, str] = {}
    _conv_bn(prefixes, "stem", "features.0")
    blocks = sum(1 for name in names if name.startswith("block_") and name.endswith("_depthwise"))
    inner = "conv" if v2 else "block"
    for index in range(blocks):
        block, prefix, part = f"block_{index}", f"features.{index + 1}.{inner}", 0
        if f"{block}_expand" in names:
            _conv_bn(prefixes, f"{block}_expand", f"{prefix}.{part}")
            part += 1
        _conv_bn(prefixes, f"{block}_depthwise", f"{prefix}.{part}")
        part += 1
        if f"{block}_se_reduce" in names:
            prefixes[f"{block}_se_reduce"] = f"{prefix}.{part}.fc1"
            prefixes[f"{block}_se_expand"] = f"{prefix}.{part}.fc2"
            part += 1
        if v2:  # a bare conv and BN, not a Conv2dNormActivation
            prefixes[f"{block}_project"] = f"{prefix}.{part}"
            prefixes[f"{block}_project_bn"] = f"{prefix}.{part + 1}"
        else:
            _conv_bn(prefixes, f"{block}_project", f"{prefix}.{part}")
    _conv_bn(prefixes, "head_conv", f"features.{blocks + 1}")
    if v2:
        prefixes["predictions"] = "classifier.1"
    else:
        prefixes["pre_logits"] = "classifier.0"
        prefixes["logits"] = "classifier.3"
    return prefixes


def _shufflenet_v2_prefixes(names: set[str]) -> dict[str, str]:
    """Keras layer -> torchvision module for ShuffleNetV2."""
    prefixes = {"head_conv": "conv5.0", "head_conv_bn": "conv5.1", "predictions": "fc"}
    _conv_bn(prefixes, "stem", "conv1")
    for name in names:
        unit = re.fullmatch(r"(stage\d)_unit(\d+)_(\w+)", name)
        if unit and unit[3] in _SHUFFLE_V2_PARTS:
            prefixes[name] = f"{unit[1]}.{int(unit[2]) - 1}.{_SHUFFLE_V2_PARTS[unit[3]]}"
    return prefixes


def register_torchvision_model(name: str, converter: Callable[..., keras.Model]) -> None:
    """Let :func:`from_torchvision` convert torchvision's task model ``name`` with ``converter``.

    Args:
        name: torchvision's builder name (``"ssdlite320_mobilenet_v3_large"``), not yet registered.
        converter: ``converter(state_dict, **model_kwargs)`` returning the exact Keras model.

    Examples:
        >>> from keras_lightnets.detection import ssdlite_from_torchvision
        >>> register_torchvision_model("my_ssdlite", ssdlite_from_torchvision)
    """
    if not isinstance(name, str) or name in TORCHVISION_MODELS or name in _TASK_MODELS:
        raise ValueError(f"`name` must be a new str; {name!r} is registered already or not a str.")
    if not callable(converter):
        raise TypeError(f"`converter` must be callable; received {converter!r}.")
    _TASK_MODELS[name] = converter


def from_torchvision(name: str, state_dict: Any, **model_kwargs: Any) -> keras.Model:
    """Build ``name`` and load a torchvision ``state_dict`` into it, exactly.

    The model is built as torchvision's: ``padding="symmetric"`` (PyTorch pads
    strided convs and pools ``k//2`` on both sides), torchvision's BatchNorm
    epsilon (1e-5; 1e-3 for MobileNetV3) and momentum, no in-model rescaling
    (feed images normalized as torchvision's weights expect: RGB in [0, 1],
    minus mean (0.485, 0.456, 0.406), divided by std (0.229, 0.224, 0.225)),
    and logits out (``classifier_activation=None``) unless you pass another.
    ``classes`` defaults to the checkpoint's classifier size. Every tensor is
    mapped by name (:mod:`keras_lightnets.convert.mapping`); every key must be
    used exactly once and every shape match, else a ``ValueError`` lists the
    missing, unexpected and misshapen keys and no model is returned.

    Args:
        name: one of ``TORCHVISION_MODELS``: ``mobilenet_v2``,
            ``mobilenet_v3_large``, ``mobilenet_v3_small``,
            ``shufflenet_v2_x0_5`` / ``x1_0`` / ``x1_5`` / ``x2_0``; or a
            registered task model: ``ssdlite320_mobilenet_v3_large``
            (:func:`keras_lightnets.detection.ssdlite_from_torchvision`).
        state_dict: a torchvision ``state_dict`` (tensors), a dict of NumPy
            arrays with the same keys, or the path of a ``.pth`` file (reading
            one needs torch).
        **model_kwargs: other model arguments (``input_shape``,
            ``include_top``, ``pooling``, ``classes``, ``classifier_activation``,
            ``name``, ...). ``padding``, ``bn_epsilon``, ``bn_momentum``,
            ``weights``, ``features_only``, ``alpha`` and ``scale`` are set by
            the conversion and refused. With ``include_top=False`` the
            classifier's keys are left unused.

    Examples:
        >>> import torchvision
        >>> tv = torchvision.models.mobilenet_v3_small()  # random weights; weights="DEFAULT" downloads ImageNet's
        >>> from_torchvision("mobilenet_v3_small", tv.state_dict()).output_shape
        (None, 1000)
    """
    check_choice("name", name, (*TORCHVISION_MODELS, *_TASK_MODELS))
    if name in _TASK_MODELS:
        return _TASK_MODELS[name](state_dict, **model_kwargs)
    epsilon, momentum, classifier_key = TORCHVISION_MODELS[name]

    def prefixes(model: keras.Model) -> dict[str, str]:
        names = {layer.name for layer in model.layers}
        if name.startswith("shufflenet"):
            return _shufflenet_v2_prefixes(names)
        return inverted_residual_prefixes(names, v2=name == "mobilenet_v2")

    return convert_checkpoint(
        name, state_dict, model_kwargs, prefixes=prefixes, bn_epsilon=epsilon, bn_momentum=momentum,
        classifier_key=classifier_key,
        defaults={"dropout": 0.2} if name == "mobilenet_v2" else {},  # torchvision's classifier dropout
        source=f"torchvision's {name}",
    )
