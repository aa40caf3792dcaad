"""torchvision's ``lraspp_mobilenet_v3_large`` and ``deeplabv3_mobilenet_v3_large`` -> the exact Keras models."""

from __future__ import annotations

import re
from typing import Any, Callable

import keras

from keras_lightnets.convert.mapping import as_numpy_dict, assign, plan
from keras_lightnets.convert.torchvision import inverted_residual_prefixes, register_torchvision_model
from keras_lightnets.registry import create_model

__all__ = ["segmenter_from_torchvision"]

# The head modules of each torchvision segmenter, by Keras layer name.
_LRASPP = {
    "lraspp_cbr": "classifier.cbr.0", "lraspp_cbr_bn": "classifier.cbr.1", "lraspp_scale": "classifier.scale.1",
    "lraspp_low_classifier": "classifier.low_classifier", "lraspp_high_classifier": "classifier.high_classifier",
}
_DEEPLAB = {
    "deeplab_aspp_pool": "classifier.0.convs.4.1", "deeplab_aspp_pool_bn": "classifier.0.convs.4.2",
    "deeplab_aspp_project": "classifier.0.project.0", "deeplab_aspp_project_bn": "classifier.0.project.1",
    "deeplab_conv": "classifier.1", "deeplab_conv_bn": "classifier.2", "deeplab_classifier": "classifier.4",
    **{f"deeplab_aspp_{i}{bn}": f"classifier.0.convs.{i}.{int(bool(bn))}" for i in range(4) for bn in ("", "_bn")},
}
_CLASSIFIER_KEYS = {"lraspp_mobilenet_v3_large": "classifier.low_classifier.bias", "deeplabv3_mobilenet_v3_large": "classifier.4.bias"}


def _prefixes(model: keras.Model, head: dict[str, str]) -> dict[str, str]:
    names = {layer.name for layer in model.layers}
    backbone = {
        layer: re.sub(r"^features\.", "backbone.", prefix)
        for layer, prefix in inverted_residual_prefixes(names, v2=False).items()
        if layer in names
    }
    return {**backbone, **head}


def segmenter_from_torchvision(name: str, state_dict: Any, **kwargs: Any) -> keras.Model:
    """torchvision's ``lraspp_mobilenet_v3_large`` or ``deeplabv3_mobilenet_v3_large`` as an exact Keras model.

    Built as torchvision builds it (the registered name's defaults: symmetric
    padding, dilated stride-16 backbone, BatchNorm epsilon 1e-3 in the backbone
    and 1e-5 in the head), without in-model rescaling (feed images as
    torchvision's transform does: RGB in [0, 1], minus mean (0.485, 0.456,
    0.406), divided by std (0.229, 0.224, 0.225)); ``num_classes`` from the
    checkpoint. DeepLabV3's auxiliary head (``aux_classifier.*``, training
    only) is left unused. A missing, unexpected or misshapen key is a
    ``ValueError`` naming it, and nothing is loaded.

    Args:
        name: ``"lraspp_mobilenet_v3_large"`` or ``"deeplabv3_mobilenet_v3_large"``.
        state_dict: the model's ``state_dict``, a dict of arrays or a ``.pth`` path.
        **kwargs: other model arguments (``input_shape``, ``name``).

    Examples:
        >>> import torchvision  # random weights below; weights="DEFAULT" downloads the trained ones
        >>> reference = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None)
        >>> model = segmenter_from_torchvision("lraspp_mobilenet_v3_large", reference.state_dict())
        >>> model.output_shape
        (None, 512, 512, 21)
    """
    if name not in _CLASSIFIER_KEYS:
        raise ValueError(f"`name` must be one of {sorted(_CLASSIFIER_KEYS)}; received {name!r}.")
    tensors = as_numpy_dict(state_dict)
    key = _CLASSIFIER_KEYS[name]
    if key not in tensors:
        raise ValueError(f"The state_dict is not torchvision's {name}: it has no {key!r}.")
    model = create_model(name, num_classes=int(tensors[key].shape[0]), include_preprocessing=False, **kwargs)
    head = _LRASPP if name.startswith("lraspp") else _DEEPLAB
    found = plan(model, _prefixes(model, head), tensors, ignore=lambda k: k.endswith("num_batches_tracked") or k.startswith("aux_classifier."))
    return assign(model, found, f"torchvision's {name}")


def _converter(name: str) -> Callable[..., keras.Model]:
    def convert(state_dict: Any, **kwargs: Any) -> keras.Model:
        return segmenter_from_torchvision(name, state_dict, **kwargs)

    return convert


for _name in _CLASSIFIER_KEYS:
    register_torchvision_model(_name, _converter(_name))
