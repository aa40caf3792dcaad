"""Backbones: multi-scale feature maps, their strides and channels, SSDLite taps.

Every model takes ``features_only=True`` (with ``include_top=False``) and
``out_indices`` (indices into the reductions 2, 4, 8, 16, 32) and returns the
last feature map at each reduction. :func:`feature_info` describes the
outputs of any such model, also after a ``.keras`` round trip.
"""

from __future__ import annotations

import math
from typing import Any

import keras

from keras_lightnets.models import MobileNetV1, MobileNetV2, MobileNetV3Large, MobileNetV3Small
from keras_lightnets.registry import get_entry, list_models
from keras_lightnets.validation import check_choice

__all__ = ["SSDLITE_TAPS", "backbone", "feature_info"]

# SSDLite / SSD tap layers: (stride 16, stride 32). MobileNetV2: expansion output
# of the 15th conv layer (block 13) and the final 1280-channel map; MobileNetV3:
# expansion of the 13th Large / 9th Small block and the last conv; MobileNetV1
# (TF object detection API's SSD): Conv2d_11_pointwise and Conv2d_13_pointwise.
SSDLITE_TAPS: dict[Any, tuple[str, str]] = {
    MobileNetV1: ("block_11_pointwise_act", "block_13_pointwise_act"),
    MobileNetV2: ("block_13_expand_act", "head_conv_act"),
    MobileNetV3Large: ("block_12_expand_act", "head_conv_act"),
    MobileNetV3Small: ("block_8_expand_act", "head_conv_act"),
}
_PROBE = 256  # spatial size used to measure reductions of dynamic-size models


def feature_info(model: keras.Model) -> list[dict[str, Any]]:
    """Name, reduction (stride) and channels of each output of ``model``.

    Works on any single-input functional model with 4-D outputs, including one
    reloaded from a ``.keras`` file.

    Example:
        >>> from keras_lightnets import MobileNetV2
        >>> m = MobileNetV2(include_top=False, features_only=True, out_indices=(3, 4))
        >>> [(f["name"], f["reduction"], f["channels"]) for f in feature_info(m)]
        [('block_12_add', 16, 96), ('head_conv_act', 32, 1280)]
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    input_shape = tuple(model.inputs[0].shape)
    height = input_shape[1]
    if height is None:
        probe = keras.KerasTensor((1, _PROBE, _PROBE, input_shape[-1]))
        specs = model.compute_output_spec(probe)
        height = _PROBE
    else:
        specs = model.outputs
    specs = specs if isinstance(specs, (list, tuple)) else [specs]
    info = []
    for tensor, spec in zip(model.outputs, specs):
        if len(spec.shape) != 4:
            raise ValueError(f"feature_info needs 4-D outputs; {tensor.name} has shape {spec.shape}.")
        reduction = 2 ** round(math.log2(height / spec.shape[1]))
        info.append(
            {"name": tensor._keras_history.operation.name, "reduction": reduction, "channels": int(spec.shape[-1])}
        )
    return info


def backbone(name: str, taps: str = "ssdlite", **kwargs: Any) -> keras.Model:
    """A registered model cut at the detection tap points of the papers.

    ``taps="ssdlite"`` returns ``[stride-16 map, stride-32 map]``: MobileNetV2
    ``block_13_expand_act`` (576 ch) and the 1280-ch last conv; MobileNetV3 the
    expansion of the 13th Large (672 ch) / 9th Small (288 ch) block and the
    last conv (960 / 576 ch); MobileNetV1 ``block_11/13_pointwise_act``.

    Args:
        name: a registered MobileNet name (see :func:`list_models`).
        taps: ``"ssdlite"``.
        **kwargs: passed to the model function (``input_shape``, ``alpha``,
            ``output_stride``, ``weights``, ...); ``include_top`` is False.

    Example:
        >>> model = backbone("mobilenet_v3_large", input_shape=(320, 320, 3))
        >>> [f["channels"] for f in model.feature_info]
        [672, 960]
    """
    check_choice("taps", taps, ("ssdlite",))
    entry = get_entry(name)
    if entry.builder not in SSDLITE_TAPS:
        supported = [n for n in list_models() if get_entry(n).builder in SSDLITE_TAPS]
        raise ValueError(f"`name` {name!r} has no SSDLite taps; supported names: {supported}.")
    if kwargs.get("include_top", False) is not False or kwargs.get("features_only", False):
        raise ValueError("`backbone` builds include_top=False, features_only=False models itself.")
    model = entry.builder(**{**kwargs, **entry.fixed, "include_top": False})
    outputs = [model.get_layer(layer).output for layer in SSDLITE_TAPS[entry.builder]]
    cut = keras.Model(model.inputs, outputs, name=f"{model.name}_ssdlite")
    cut.feature_info = feature_info(cut)
    return cut
