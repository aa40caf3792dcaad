"""Segmentation heads as plain builders, tensor in, tensor out: LR-ASPP, ASPP and DeepLabV3's head.

Layer for layer torchvision's ``LRASPPHead`` and ``DeepLabHead`` (BatchNorm
epsilon 1e-5, PyTorch's default; biases only where torchvision has them), so
its checkpoints load by name (:mod:`keras_lightnets.segmentation.convert`).
"""

from __future__ import annotations

from typing import Any

import keras

from keras_lightnets.blocks import conv_block
from keras_lightnets.validation import check_int

__all__ = ["HEAD_NORM", "aspp", "deeplabv3_head", "lraspp_head", "resize_to"]

#: BatchNorm of the heads: torchvision's ``nn.BatchNorm2d`` defaults (epsilon 1e-5, PyTorch momentum 0.1).
HEAD_NORM = {"bn_momentum": 0.9, "bn_epsilon": 1e-5}


def resize_to(x: Any, size: tuple[int, int], name: str) -> Any:
    """Bilinear resize of ``x`` to ``size`` with half-pixel centres (PyTorch's ``align_corners=False``).

    TFLite writes it as one ``RESIZE_BILINEAR`` (``half_pixel_centers``), which XNNPACK runs.

    Args:
        x: a feature map (NHWC) with a static spatial size.
        size: ``(height, width)``, each >= 1.
        name: the layer name.

    Examples:
        >>> tuple(resize_to(keras.Input((8, 8, 4)), (32, 30), "up").shape)
        (None, 32, 30, 4)
    """
    height, width = (check_int("size", side, low=1) for side in size)
    return keras.layers.Resizing(height, width, interpolation="bilinear", name=name)(x)


def lraspp_head(low: Any, high: Any, num_classes: int, inter_channels: int = 128, name: str = "lraspp") -> Any:
    """LR-ASPP (MobileNetV3 paper, Figure 10; torchvision's ``LRASPPHead``): logits at the low map's size.

    ``high`` (the stride-16 map) goes through a 1x1 conv + BN + ReLU, gated by a
    sigmoid of a 1x1 conv of its global average (the squeeze-and-excite-like
    branch); the product is resized bilinearly to ``low``'s size (stride 8) and
    classified by a 1x1 conv with bias, added to a 1x1 conv with bias of ``low``.
    Layers: ``{name}_cbr``, ``{name}_scale``, ``{name}_low_classifier``, ``{name}_high_classifier``.

    Args:
        low: the low-level map (stride 8), static spatial size.
        high: the high-level map (stride 16 or 32), static spatial size.
        num_classes: output classes (>= 2), background included.
        inter_channels: channels of the high branch (>= 1); 128 in the paper.
        name: layer-name prefix.

    Examples:
        >>> y = lraspp_head(keras.Input((64, 64, 40)), keras.Input((32, 32, 960)), 21)
        >>> tuple(y.shape)
        (None, 64, 64, 21)
    """
    num_classes = check_int("num_classes", num_classes, low=2)
    inter_channels = check_int("inter_channels", inter_channels, low=1)
    x = conv_block(high, inter_channels, 1, activation="relu", name=f"{name}_cbr", **HEAD_NORM)
    gate = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(high)
    gate = conv_block(gate, inter_channels, 1, batch_norm=False, use_bias=False, name=f"{name}_scale")
    gate = keras.layers.Activation("sigmoid", name=f"{name}_gate")(gate)
    x = keras.layers.Multiply(name=f"{name}_mul")([x, gate])
    x = resize_to(x, tuple(low.shape[1:3]), f"{name}_upsample")
    low_logits = conv_block(low, num_classes, 1, batch_norm=False, use_bias=True, name=f"{name}_low_classifier")
    high_logits = conv_block(x, num_classes, 1, batch_norm=False, use_bias=True, name=f"{name}_high_classifier")
    return keras.layers.Add(name=f"{name}_add")([low_logits, high_logits])


def aspp(x: Any, rates: tuple[int, ...], filters: int = 256, dropout: float = 0.5, name: str = "aspp") -> Any:
    """Atrous spatial pyramid pooling (DeepLabV3, Chen et al. 2017; torchvision's ``ASPP``).

    A 1x1 conv, one 3x3 conv per rate (dilated), and an image-pooling branch
    (global average, 1x1 conv, resized back), each + BN + ReLU, concatenated
    and projected by a 1x1 conv + BN + ReLU + dropout.

    Args:
        x: a feature map (NHWC), static spatial size.
        rates: dilation rates of the 3x3 branches (each >= 1), e.g. ``(6, 12, 18)`` at output stride 16.
        filters: channels of every branch and of the projection (>= 1).
        dropout: dropout after the projection, in [0, 1).
        name: layer-name prefix (``{name}_0`` the 1x1 branch, ``{name}_1..`` the rates,
            ``{name}_pool`` the pooling branch, ``{name}_project``).

    Examples:
        >>> tuple(aspp(keras.Input((33, 33, 960)), (12, 24, 36)).shape)
        (None, 33, 33, 256)
    """
    rates = tuple(check_int("rates", rate, low=1) for rate in rates)
    filters = check_int("filters", filters, low=1)
    branches = [conv_block(x, filters, 1, activation="relu", name=f"{name}_0", **HEAD_NORM)]
    for index, rate in enumerate(rates, start=1):
        branches.append(
            conv_block(x, filters, 3, dilation_rate=rate, activation="relu", name=f"{name}_{index}", **HEAD_NORM)
        )
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool_mean")(x)
    pooled = conv_block(pooled, filters, 1, activation="relu", name=f"{name}_pool", **HEAD_NORM)
    branches.append(resize_to(pooled, tuple(x.shape[1:3]), f"{name}_pool_upsample"))
    x = keras.layers.Concatenate(name=f"{name}_concat")(branches)
    x = conv_block(x, filters, 1, activation="relu", name=f"{name}_project", **HEAD_NORM)
    return keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)


def deeplabv3_head(x: Any, num_classes: int, rates: tuple[int, ...], name: str = "deeplab") -> Any:
    """DeepLabV3's head (torchvision's ``DeepLabHead``): ASPP, 3x3 conv 256 + BN + ReLU, 1x1 conv with bias.

    Args:
        x: the backbone's last map (NHWC), static spatial size.
        num_classes: output classes (>= 2), background included.
        rates: ASPP dilation rates (each >= 1).
        name: layer-name prefix (``{name}_aspp_*``, ``{name}_conv``, ``{name}_classifier``).

    Examples:
        >>> tuple(deeplabv3_head(keras.Input((33, 33, 960)), 21, (12, 24, 36)).shape)
        (None, 33, 33, 21)
    """
    num_classes = check_int("num_classes", num_classes, low=2)
    x = aspp(x, rates, name=f"{name}_aspp")
    x = conv_block(x, 256, 3, activation="relu", name=f"{name}_conv", **HEAD_NORM)
    return conv_block(x, num_classes, 1, batch_norm=False, use_bias=True, name=f"{name}_classifier")
