"""Backbones: multi-scale feature maps, their strides and channels, SSDLite taps.

Every model takes ``features_only=True`` (with ``include_top=False``) and
``out_indices`` (indices into the reductions 2, 4, 8, 16, 32) and returns the
last feature map at each reduction. Name, reduction and channels are recorded
while the model is built (``model.feature_info``, kept in ``.keras`` files);
:func:`feature_info` reads them.
"""

from __future__ import annotations

from typing import Any

import keras

from keras_lightnets.models import MobileNetV1, MobileNetV2, MobileNetV3Large, MobileNetV3Small, MobileNetV4, ShuffleNetV2
from keras_lightnets.models.network import LightNet
from keras_lightnets.registry import get_entry, list_models
from keras_lightnets.validation import check_choice

__all__ = ["SSDLITE_TAPS", "STRIDE_TAPS", "backbone", "feature_info"]

# SSDLite / SSD tap layers and their nominal reductions: (stride 16, stride 32).
# MobileNetV2: expansion output of the 15th conv layer (block 13) and the final
# 1280-channel map; MobileNetV3: expansion of the 13th Large / 9th Small block and
# the last conv; MobileNetV1 (TF object detection API's SSD): Conv2d_11_pointwise
# and Conv2d_13_pointwise.
SSDLITE_TAPS: dict[Any, tuple[tuple[str, int], tuple[str, int]]] = {
    MobileNetV1: (("block_11_pointwise_act", 16), ("block_13_pointwise_act", 32)),
    MobileNetV2: (("block_13_expand_act", 16), ("head_conv_act", 32)),
    MobileNetV3Large: (("block_12_expand_act", 16), ("head_conv_act", 32)),
    MobileNetV3Small: (("block_8_expand_act", 16), ("head_conv_act", 32)),
}
# Families without a published SSDLite: the last stride-16 and stride-32 maps (features_only, out_indices (3, 4)).
STRIDE_TAPS = (MobileNetV4, ShuffleNetV2)


def feature_info(model: keras.Model) -> list[dict[str, Any]]:
    """Name, reduction (stride) and channels of each feature map ``model`` records.

    For a ``features_only`` model or a :func:`backbone`, one entry per output;
    for a classifier, the last map at each reduction it reaches. Recorded while
    the model was built, and kept through a ``.keras`` round trip.

    Args:
        model: a model built by this package (or reloaded from its ``.keras`` file).

    Examples:
        >>> from keras_lightnets import MobileNetV2
        >>> m = MobileNetV2(include_top=False, features_only=True, out_indices=(3, 4))
        >>> [(f["name"], f["reduction"], f["channels"]) for f in feature_info(m)]
        [('block_12_add', 16, 96), ('head_conv_act', 32, 1280)]
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    if not isinstance(model, LightNet):
        raise ValueError(
            f"{model.name!r} is a {type(model).__name__}, not a keras_lightnets model: it records no "
            "feature maps. Build it with a keras_lightnets model function (features_only=True) or backbone()."
        )
    return [dict(entry) for entry in model.feature_info]


def backbone(name: str, taps: str = "ssdlite", **kwargs: Any) -> keras.Model:
    """A registered model cut at the detection tap points of the papers.

    ``taps="ssdlite"`` returns ``[stride-16 map, stride-32 map]``: MobileNetV2
    ``block_13_expand_act`` (576 ch) and the 1280-ch last conv; MobileNetV3 the
    expansion of the 13th Large (672 ch) / 9th Small (288 ch) block and the
    last conv (960 / 576 ch); MobileNetV1 ``block_11/13_pointwise_act``;
    MobileNetV4 and ShuffleNetV2 (no published SSDLite) the last maps at
    stride 16 and 32. With ``output_stride=16`` both maps are at reduction 16.

    Args:
        name: a registered MobileNet name (see :func:`list_models`).
        taps: ``"ssdlite"``.
        **kwargs: passed to the model function (``input_shape``, ``alpha``,
            ``output_stride``, ``weights``, ...); ``include_top`` is False.

    Examples:
        >>> model = backbone("mobilenet_v3_large", input_shape=(320, 320, 3))
        >>> [f["channels"] for f in model.feature_info]
        [672, 960]
    """
    check_choice("taps", taps, ("ssdlite",))
    entry = get_entry(name)
    if entry.builder not in SSDLITE_TAPS and entry.builder not in STRIDE_TAPS:
        supported = [n for n in list_models() if get_entry(n).builder in (*SSDLITE_TAPS, *STRIDE_TAPS)]
        raise ValueError(f"`name` {name!r} has no SSDLite taps; supported names: {supported}.")
    if kwargs.get("include_top", False) is not False or kwargs.get("features_only", False):
        raise ValueError("`backbone` builds include_top=False, features_only=False models itself.")
    if entry.builder in STRIDE_TAPS:
        model = entry.builder(**{**kwargs, **entry.fixed, "include_top": False, "features_only": True, "out_indices": (3, 4)})
        return LightNet(model.inputs, model.outputs, name=f"{model.name}_ssdlite", feature_info=model.feature_info)
    model = entry.builder(**{**kwargs, **entry.fixed, "include_top": False})
    output_stride = kwargs.get("output_stride", 32)
    outputs, info = [], []
    for layer_name, reduction in SSDLITE_TAPS[entry.builder]:
        tensor = model.get_layer(layer_name).output
        outputs.append(tensor)
        info.append({"name": layer_name, "reduction": min(reduction, output_stride), "channels": int(tensor.shape[-1])})
    return LightNet(model.inputs, outputs, name=f"{model.name}_ssdlite", feature_info=info)
