"""LR-ASPP and DeepLabV3 on any registered classification backbone: ``LRASPP`` and ``DeepLabV3``.

A segmenter is a backbone cut at two maps + a head + a bilinear resize to the
input. The backbone is dilated to ``output_stride`` (16 by default, as
torchvision's and the MobileNetV3 paper's); its maps are:

* ``low``: the first map at stride 8, the output of the block that reaches it
  (torchvision's ``stage_indices[-4]``: MobileNetV3-Large ``block_3``, 40 channels);
* ``high``: the backbone's last map (MobileNetV3-Large: the 960-channel 1x1 conv).

Outputs are logits ``(N, H, W, num_classes)`` at the input size, float32 under
mixed precision; the class of a pixel is their argmax.
"""

from __future__ import annotations

from typing import Any

import keras

from keras_lightnets.models.network import LightNet
from keras_lightnets.registry import get_entry, list_models
from keras_lightnets.segmentation.heads import deeplabv3_head, lraspp_head, resize_to
from keras_lightnets.validation import check_choice, check_int

__all__ = ["DeepLabV3", "LRASPP", "default_rates", "segmentation_backbone"]

OUTPUT_STRIDES = (8, 16, 32)
MIN_SIDE = 32


def default_rates(output_stride: int) -> tuple[int, int, int]:
    """ASPP rates of the DeepLabV3 paper for ``output_stride``: (6, 12, 18) at 16, doubled at 8, halved at 32.

    torchvision's MobileNetV3 DeepLabV3 uses (12, 24, 36) at output stride 16;
    ``deeplabv3_mobilenet_v3_large`` is registered with those.

    Args:
        output_stride: 8, 16 or 32.

    Examples:
        >>> default_rates(8)
        (12, 24, 36)
    """
    output_stride = check_choice("output_stride", check_int("output_stride", output_stride), OUTPUT_STRIDES)
    return tuple(rate * 16 // output_stride for rate in (6, 12, 18))  # type: ignore[return-value]


def _check_shape(input_shape: Any) -> tuple[int, int, int]:
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(f"`input_shape` must be (height, width, 3); received {input_shape!r}.")
    height, width, channels = (check_int("input_shape", side, low=1) for side in input_shape)
    if min(height, width) < MIN_SIDE or channels != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, 3) with both sides >= {MIN_SIDE} (a static size: the head "
            f"resizes to it); received {tuple(input_shape)!r}."
        )
    return height, width, channels


def segmentation_backbone(
    backbone_name: str, input_shape: tuple[int, int, int], output_stride: int = 16, **kwargs: Any
) -> tuple[keras.Model, Any, Any]:
    """A registered classifier without its top, dilated to ``output_stride``; with its low (stride 8) and high maps.

    Args:
        backbone_name: a registered classification model (see :func:`keras_lightnets.list_models`).
        input_shape: ``(height, width, 3)``, both sides >= 32.
        output_stride: 8, 16 or 32.
        **kwargs: passed to the model function (``alpha``, ``padding``, ``weights``, ``dilate_strided``...).

    Examples:
        >>> model, low, high = segmentation_backbone("mobilenet_v3_large", (512, 512, 3))
        >>> tuple(low.shape), tuple(high.shape)
        ((None, 64, 64, 40), (None, 32, 32, 960))
    """
    if not isinstance(backbone_name, str) or backbone_name not in list_models(task="classification"):
        raise ValueError(
            f"`backbone_name` must be a registered classification model; received {backbone_name!r}. "
            f"Choose from {list_models(task='classification')}."
        )
    input_shape = _check_shape(input_shape)
    output_stride = check_choice("output_stride", check_int("output_stride", output_stride), OUTPUT_STRIDES)
    entry = get_entry(backbone_name)
    if kwargs.get("include_top", False) is not False or kwargs.get("features_only", False):
        raise ValueError("The segmentation backbone is built with include_top=False, features_only=False.")
    model = entry.builder(
        **{**kwargs, **entry.fixed, "include_top": False, "input_shape": input_shape, "output_stride": output_stride}
    )
    (at_8,) = [info for info in model.feature_info if info["reduction"] == 8]
    return model, model.get_layer(at_8["first"]).output, model.outputs[0]


def _segmenter(
    head: str,
    backbone_name: str,
    num_classes: int,
    input_shape: Any,
    output_stride: int,
    name: str | None,
    head_args: dict[str, Any],
    backbone_kwargs: dict[str, Any],
) -> keras.Model:
    """Backbone + ``head`` + resize to the input: the one walker of both segmenters."""
    num_classes = check_int("num_classes", num_classes, low=2)
    backbone, low, high = segmentation_backbone(backbone_name, input_shape, output_stride, **backbone_kwargs)
    if head == "lraspp":
        logits = lraspp_head(low, high, num_classes, **head_args)
    else:
        logits = deeplabv3_head(high, num_classes, **head_args)
    logits = resize_to(logits, tuple(backbone.input_shape[1:3]), "upsample")
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
    info = [
        {"name": t._keras_history.operation.name, "reduction": None, "channels": int(t.shape[-1]), "size": list(t.shape[1:3])}
        for t in ((low, high) if head == "lraspp" else (high,))
    ]
    return LightNet(
        backbone.inputs[0], logits, name=name or f"{head}_{backbone_name}", feature_info=info, task="segmentation"
    )


def LRASPP(
    backbone_name: str = "mobilenet_v3_large",
    num_classes: int = 21,
    input_shape: tuple[int, int, int] = (512, 512, 3),
    *,
    output_stride: int = 16,
    inter_channels: int = 128,
    name: str | None = None,
    **backbone_kwargs: Any,
) -> keras.Model:
    """Lite R-ASPP (MobileNetV3 paper) on a registered backbone; logits ``(N, H, W, num_classes)``.

    ``LRASPP("mobilenet_v3_large", 21, padding="symmetric", dilate_strided=True,
    include_preprocessing=False)`` is torchvision's ``lraspp_mobilenet_v3_large``
    layer for layer (3,221,538 parameters). torchvision gates with a global
    average (the paper: a 49x49 average pool, stride (16, 20), trained at
    1024x2048); global pooling is kept: it is exact to the checkpoints, any
    input size works, and TFLite runs it as one ``MEAN``.

    Args:
        backbone_name: a registered classification model (``"mobilenet_v3_large"``...).
        num_classes: classes (>= 2), background included (21 for Pascal VOC).
        input_shape: ``(height, width, 3)``, static, both sides >= 32.
        output_stride: 8, 16 or 32: the backbone is dilated past it.
        inter_channels: channels of the high branch (>= 1).
        name: model name; default ``lraspp_<backbone_name>``.
        **backbone_kwargs: passed to the backbone (``alpha``, ``padding``,
            ``include_preprocessing``, ``weights``, ``dilate_strided``, ``bn_momentum``...).

    Examples:
        >>> LRASPP("mobilenet_v3_small", 2, (256, 256, 3)).output_shape
        (None, 256, 256, 2)
    """
    return _segmenter(
        "lraspp", backbone_name, num_classes, input_shape, output_stride, name,
        {"inter_channels": inter_channels}, backbone_kwargs,
    )


def DeepLabV3(
    backbone_name: str = "mobilenet_v3_large",
    num_classes: int = 21,
    input_shape: tuple[int, int, int] = (512, 512, 3),
    *,
    output_stride: int = 16,
    atrous_rates: tuple[int, ...] | None = None,
    name: str | None = None,
    **backbone_kwargs: Any,
) -> keras.Model:
    """DeepLabV3 (Chen et al. 2017) on a registered backbone's last map; logits ``(N, H, W, num_classes)``.

    ``DeepLabV3("mobilenet_v3_large", 21, atrous_rates=(12, 24, 36), padding="symmetric",
    dilate_strided=True, include_preprocessing=False)`` is torchvision's
    ``deeplabv3_mobilenet_v3_large`` without its auxiliary head (used only in training).

    Args:
        backbone_name: a registered classification model.
        num_classes: classes (>= 2), background included.
        input_shape: ``(height, width, 3)``, static, both sides >= 32.
        output_stride: 8, 16 or 32.
        atrous_rates: ASPP rates (each >= 1); default :func:`default_rates` of ``output_stride``.
        name: model name; default ``deeplabv3_<backbone_name>``.
        **backbone_kwargs: passed to the backbone, as for :func:`LRASPP`.

    Examples:
        >>> DeepLabV3("mobilenet_v3_small", 2, (256, 256, 3)).output_shape
        (None, 256, 256, 2)
    """
    rates = default_rates(output_stride) if atrous_rates is None else tuple(atrous_rates)
    return _segmenter(
        "deeplabv3", backbone_name, num_classes, input_shape, output_stride, name, {"rates": rates}, backbone_kwargs
    )
