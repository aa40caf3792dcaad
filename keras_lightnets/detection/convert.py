"""torchvision's SSDLite checkpoint -> the exact Keras :func:`~keras_lightnets.detection.SSDLite`."""

from __future__ import annotations

import re
from typing import Any

import keras

from keras_lightnets.convert.mapping import as_numpy_dict, assign, plan
from keras_lightnets.convert.torchvision import inverted_residual_prefixes, register_torchvision_model
from keras_lightnets.detection.ssdlite import SSDLite

__all__ = ["ssdlite_from_torchvision"]

_TAP_BLOCK = 12  # ssdlite320_mobilenet_v3_large taps the expansion of block_12 (features[13])


def _backbone_key(prefix: str) -> str:
    """A MobileNetV3 ``features.N...`` prefix -> its place in torchvision's split SSDLite backbone."""
    match = re.fullmatch(r"features\.(\d+)(?:\.block\.(\d+))?(.*)", prefix)
    index, part, rest = int(match[1]), match[2], match[3]
    tap = _TAP_BLOCK + 1
    if index < tap:
        return f"backbone.features.0.{prefix[len('features.'):]}"
    if index == tap:  # the tapped block: its expansion ends part 0, the rest (original indices kept) opens part 1
        return f"backbone.features.0.{tap}{rest}" if part == "0" else f"backbone.features.1.0.{part}{rest}"
    tail = f".block.{part}{rest}" if part is not None else rest
    return f"backbone.features.1.{index - tap}{tail}"


def _prefixes(model: keras.Model) -> dict[str, str]:
    names = {layer.name for layer in model.layers}
    prefixes = {
        layer: _backbone_key(prefix)
        for layer, prefix in inverted_residual_prefixes(names, v2=False).items()
        if layer in names
    }
    for name in names:
        extra = re.fullmatch(r"extra_(\d+)_(reduce|depthwise|expand)(_bn)?", name)
        head = re.fullmatch(r"(box|class)_head_(\d+)_(depthwise|conv)(_bn)?", name)
        if extra:
            part = ("reduce", "depthwise", "expand").index(extra[2])
            prefixes[name] = f"backbone.extra.{extra[1]}.{part}.{1 if extra[3] else 0}"
        elif head:
            kind = "regression_head" if head[1] == "box" else "classification_head"
            suffix = ("0.1" if head[4] else "0.0") if head[3] == "depthwise" else "1"
            prefixes[name] = f"head.{kind}.module_list.{head[2]}.{suffix}"
    return prefixes


def ssdlite_from_torchvision(state_dict: Any, **kwargs: Any) -> keras.Model:
    """torchvision's ``ssdlite320_mobilenet_v3_large`` as an exact Keras model.

    Built as torchvision builds it: reduced tail, PyTorch's symmetric padding,
    BatchNorm epsilon 1e-3, no in-model rescaling (feed images as torchvision's
    transform does: RGB in [0, 1] then ``(x - 0.5) / 0.5``), ``num_classes``
    from the checkpoint (91 for COCO: 90 classes + background). Every tensor is
    mapped by name; a missing, unexpected or misshapen key is a ``ValueError``
    naming it, and nothing is loaded.

    Args:
        state_dict: the detector's ``state_dict``, a dict of arrays or a ``.pth`` path.
        **kwargs: :func:`~keras_lightnets.detection.SSDLite` arguments (``input_shape``, ``name``).

    Examples:
        >>> import torchvision  # random weights below; weights="DEFAULT" downloads the trained ones
        >>> reference = torchvision.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
        >>> model = ssdlite_from_torchvision(reference.state_dict())
        >>> model.input_shape
        (None, 320, 320, 3)
    """
    tensors = as_numpy_dict(state_dict)
    key = "head.classification_head.module_list.0.1.weight"
    if key not in tensors:
        raise ValueError(f"The state_dict is not torchvision's ssdlite320_mobilenet_v3_large: it has no {key!r}.")
    classes = int(tensors[key].shape[0]) // 6 - 1
    model = SSDLite(
        "mobilenet_v3_large", classes, reduced_tail=True, padding="symmetric", include_preprocessing=False, **kwargs
    )
    return assign(model, plan(model, _prefixes(model), tensors), "torchvision's ssdlite320_mobilenet_v3_large")


register_torchvision_model("ssdlite320_mobilenet_v3_large", ssdlite_from_torchvision)
