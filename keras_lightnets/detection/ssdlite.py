"""SSDLite (MobileNetV2 paper, section 6.2; torchvision's ``ssdlite320_mobilenet_v3_large``).

A detector is a backbone cut at its SSDLite taps (:func:`keras_lightnets.backbone`),
extra blocks that halve the resolution down to 1x1, and on every map a box head
and a class head, each a 3x3 depthwise conv + BN + ReLU6 then a 1x1 conv with
bias. Outputs: box regressions ``[N, A, 4]`` (``dx, dy, dw, dh``, see
:func:`~keras_lightnets.detection.encode_boxes`) and class logits
``[N, A, C + 1]`` (background first), anchors ordered per map (largest first),
per location (row-major), per default box (:func:`~keras_lightnets.detection.default_boxes`).
"""

from __future__ import annotations

from typing import Any

import keras

from keras_lightnets.blocks import conv_block
from keras_lightnets.detection.anchors import default_boxes
from keras_lightnets.features import backbone
from keras_lightnets.models.network import LightNet
from keras_lightnets.validation import check_choice, check_int

__all__ = ["EXTRA_FILTERS", "SSDLite", "extra_block", "prediction_head", "ssdlite_anchors"]

# torchvision's four extra blocks after the stride-32 map: (512, 256, 256, 128) output channels.
EXTRA_FILTERS = (512, 256, 256, 128)
BOXES_PER_LOCATION = 6  # aspect ratios 1, 1', 2, 1/2, 3, 1/3
# torchvision's SSDLite BatchNorm: eps 0.001, momentum 0.03 (PyTorch's convention) = Keras 0.97.
SSDLITE_NORM = {"bn_momentum": 0.97, "bn_epsilon": 1e-3}


def extra_block(x: Any, filters: int, name: str, *, padding: str = "same", **norm: Any) -> Any:
    """1x1 conv to ``filters // 2``, 3x3 depthwise stride 2, 1x1 conv to ``filters``; each + BN + ReLU6.

    Args:
        x: the input tensor (NHWC).
        filters: output channels (>= 2).
        name: layer name prefix (``{name}_reduce``, ``_depthwise``, ``_expand``).
        padding: ``"same"`` (TensorFlow) or ``"symmetric"`` (PyTorch's, for torchvision weights).
        **norm: ``bn_momentum``, ``bn_epsilon``.

    Examples:
        >>> y = extra_block(keras.Input((10, 10, 480)), 512, "extra_0")
        >>> tuple(y.shape)
        (None, 5, 5, 512)
    """
    filters = check_int("filters", filters, low=2)
    x = conv_block(x, filters // 2, 1, activation="relu6", padding=padding, name=f"{name}_reduce", **norm)
    x = conv_block(x, None, 3, 2, depthwise=True, activation="relu6", padding=padding, name=f"{name}_depthwise", **norm)
    return conv_block(x, filters, 1, activation="relu6", padding=padding, name=f"{name}_expand", **norm)


def prediction_head(x: Any, outputs: int, name: str, *, padding: str = "same", **norm: Any) -> Any:
    """3x3 depthwise conv + BN + ReLU6, then a 1x1 conv with bias to ``outputs`` channels (no activation).

    Args:
        x: a feature map (NHWC).
        outputs: channels out (>= 1): boxes per location x 4, or x (classes + 1).
        name: layer name prefix (``{name}_depthwise``, ``{name}_conv``).
        padding: ``"same"`` or ``"symmetric"``.
        **norm: ``bn_momentum``, ``bn_epsilon``.

    Examples:
        >>> y = prediction_head(keras.Input((20, 20, 672)), 6 * 4, "box_0")
        >>> tuple(y.shape)
        (None, 20, 20, 24)
    """
    outputs = check_int("outputs", outputs, low=1)
    x = conv_block(x, None, 3, depthwise=True, activation="relu6", padding=padding, name=f"{name}_depthwise", **norm)
    return conv_block(x, outputs, 1, batch_norm=False, use_bias=True, name=f"{name}_conv")


def SSDLite(
    backbone_name: str = "mobilenet_v3_large",
    num_classes: int = 90,
    input_shape: tuple[int, int, int] = (320, 320, 3),
    *,
    extra_filters: tuple[int, ...] = EXTRA_FILTERS,
    padding: str = "same",
    include_preprocessing: bool = True,
    name: str | None = None,
    **backbone_kwargs: Any,
) -> keras.Model:
    """An SSDLite detector on a registered backbone; outputs ``[boxes (N, A, 4), logits (N, A, C + 1)]``.

    ``SSDLite("mobilenet_v3_large", 90, reduced_tail=True, padding="symmetric")``
    is torchvision's ``ssdlite320_mobilenet_v3_large(num_classes=91)`` layer for
    layer (3,440,060 trainable parameters, 3,234 anchors at 320x320).

    Args:
        backbone_name: a registered name with SSDLite taps (see :func:`keras_lightnets.backbone`).
        num_classes: object classes (>= 1), background not counted.
        input_shape: ``(height, width, 3)``, large enough for a 1x1 last map.
        extra_filters: output channels of the extra blocks (each >= 2).
        padding: ``"same"`` or ``"symmetric"`` (PyTorch's, for torchvision weights).
        include_preprocessing: the model takes pixels in [0, 255].
        name: the model name; default ``ssdlite_<backbone_name>``.
        **backbone_kwargs: passed to the backbone (``alpha``, ``reduced_tail``, ``weights``...);
            BatchNorm defaults to torchvision's SSDLite (momentum 0.97, epsilon 1e-3).

    Examples:
        >>> model = SSDLite("mobilenet_v3_large", 20)
        >>> [tuple(o.shape) for o in model.outputs]
        [(None, 3234, 4), (None, 3234, 21)]
    """
    classes = check_int("num_classes", num_classes, low=1) + 1
    check_choice("padding", padding, ("same", "symmetric"))
    filters = [check_int("extra_filters", f, low=2) for f in extra_filters]
    norm = {**SSDLITE_NORM, **{k: backbone_kwargs.pop(k) for k in ("bn_momentum", "bn_epsilon") if k in backbone_kwargs}}
    features = backbone(
        backbone_name, input_shape=input_shape, padding=padding, include_preprocessing=include_preprocessing,
        **norm, **backbone_kwargs,
    )
    maps = list(features.outputs)
    for index, count in enumerate(filters):
        if min(maps[-1].shape[1:3]) < 2:
            raise ValueError(
                f"`input_shape` {input_shape} is too small: extra block {index} would halve a "
                f"{tuple(maps[-1].shape[1:3])} map (at 320x320 the maps are 20, 10, 5, 3, 2 and 1 pixels; "
                f"{len(filters)} extra blocks need about 260 pixels per side or more)."
            )
        maps.append(extra_block(maps[-1], count, f"extra_{index}", padding=padding, **norm))
    boxes, logits = [], []
    for index, feature in enumerate(maps):
        box = prediction_head(feature, BOXES_PER_LOCATION * 4, f"box_head_{index}", padding=padding, **norm)
        boxes.append(keras.layers.Reshape((-1, 4), name=f"box_head_{index}_anchors")(box))
        logit = prediction_head(feature, BOXES_PER_LOCATION * classes, f"class_head_{index}", padding=padding, **norm)
        logits.append(keras.layers.Reshape((-1, classes), name=f"class_head_{index}_anchors")(logit))
    outputs = [
        keras.layers.Concatenate(axis=1, name="boxes")(boxes),
        keras.layers.Concatenate(axis=1, name="class_logits", dtype="float32")(logits),
    ]
    info = [{"name": f.name, "reduction": None, "channels": int(f.shape[-1]), "size": list(f.shape[1:3])} for f in maps]
    return LightNet(features.inputs[0], outputs, name=name or f"ssdlite_{backbone_name}", feature_info=info, task="detection")


def ssdlite_anchors(model: keras.Model) -> Any:
    """The default boxes ``[A, 4]`` (pixels, ``x1, y1, x2, y2``) that ``model``'s outputs refer to.

    Computed from the feature-map sizes recorded when the model was built.

    Args:
        model: an :func:`SSDLite` model.

    Examples:
        >>> ssdlite_anchors(SSDLite("mobilenet_v3_large", 20)).shape
        (3234, 4)
    """
    sizes = [tuple(entry["size"]) for entry in model.feature_info]
    return default_boxes(sizes, tuple(model.input_shape[1:3]))
