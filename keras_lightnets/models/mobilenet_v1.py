"""MobileNetV1 (Howard et al. 2017, arXiv 1704.04861, Table 1)."""

from __future__ import annotations

from typing import Any, NamedTuple

import keras

from keras_lightnets.blocks import conv_block, depthwise_separable
from keras_lightnets.models.common import (
    StrideTracker,
    build_input,
    conv_classifier,
    finish_model,
    model_args,
    pool_features,
)
from keras_lightnets.validation import check_float, check_int

__all__ = ["MOBILENET_V1_BLOCKS", "MobileNetV1", "V1Block"]


class V1Block(NamedTuple):
    """One depthwise-separable row of the paper's Table 1."""

    filters: int  # pointwise output channels at alpha = 1
    strides: int  # stride of the 3x3 depthwise conv


STEM_FILTERS = 32  # conv 3x3, stride 2

# Paper Table 1, one row per "Conv dw / Conv 1x1" pair. (The paper prints
# "s2" on the last dw row; its output is 7x7, so that conv has stride 1.)
MOBILENET_V1_BLOCKS: tuple[V1Block, ...] = (
    V1Block(64, 1),
    V1Block(128, 2),
    V1Block(128, 1),
    V1Block(256, 2),
    V1Block(256, 1),
    V1Block(512, 2),
    V1Block(512, 1),
    V1Block(512, 1),
    V1Block(512, 1),
    V1Block(512, 1),
    V1Block(512, 1),
    V1Block(1024, 2),
    V1Block(1024, 1),
)


def MobileNetV1(
    input_shape: tuple[int | None, int | None, int] | None = None,
    alpha: float = 1.0,
    depth_multiplier: int = 1,
    dropout: float = 1e-3,
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    include_preprocessing: bool = False,
    bn_momentum: float = 0.99,
    bn_epsilon: float = 1e-3,
    features_only: bool = False,
    out_indices: tuple[int, ...] | None = None,
    padding: str = "same",
    name: str | None = None,
) -> keras.Model:
    """MobileNetV1, layer for layer ``keras.applications.MobileNet``.

    Channels are ``int(c * alpha)`` as in the reference. Strided convs use
    ``padding="same"`` (TF-slim's reference); at odd input sizes this differs
    from ``keras.applications.MobileNet``, whose fixed ``((0, 1), (0, 1))`` pad
    drops a row and a column (see the README).

    Args:
        input_shape: ``(height, width, channels)``; height/width >= 32 or None.
            Default ``(224, 224, 3)`` with the top, ``(None, None, 3)`` without.
        alpha: width multiplier (> 0), e.g. 0.25, 0.5, 0.75, 1.0.
        depth_multiplier: depthwise channel multiplier (>= 1).
        dropout: dropout rate before the classifier, in [0, 1).
        include_top: add the classifier (global pool, dropout, 1x1 conv).
        weights: None, ``"imagenet"`` (``keras.applications``' file for
            alpha 0.25-1.0, sizes 128-224; downloaded once) or the path of a weights file
            (.weights.h5, .h5, .keras).
        input_tensor: optional symbolic tensor to build the model on.
        pooling: without the top: None (4-D output), "avg" or "max".
        classes: classifier outputs (>= 1).
        classifier_activation: activation of the top layer (str, callable,
            or None for logits).
        include_preprocessing: rescale [0, 255] inputs to [-1, 1] in the model
            (``keras.applications.mobilenet.preprocess_input`` does the same).
        bn_momentum: BatchNorm momentum in (0, 1).
        bn_epsilon: BatchNorm epsilon (> 0).
        features_only: return the feature maps (needs include_top=False):
            the last map at each reduction in ``out_indices``; the model gets a
            ``feature_info`` attribute.
        out_indices: sorted indices into the reductions (2, 4, 8, 16, 32);
            default: every reduction up to ``output_stride``.
        padding: ``"same"`` (TF, as ``keras.applications``; default) or
            ``"symmetric"`` (PyTorch's ``k//2`` on each side for strided convs
            and pools, for weights trained in PyTorch); weights unchanged.
        name: model name.

    Example:
        >>> model = MobileNetV1(input_shape=(128, 128, 3), alpha=0.5, classes=10)
        >>> model.output_shape
        (None, 10)
    """
    alpha = check_float("alpha", alpha, low=0.0, low_inclusive=False)
    depth_multiplier = check_int("depth_multiplier", depth_multiplier, low=1)
    args = model_args(locals(), default_shape=(224, 224, 3) if include_top is True else (None, None, 3), family="mobilenet_v1")
    norm = dict(bn_momentum=args["bn_momentum"], bn_epsilon=args["bn_epsilon"], padding=args["padding"])

    tracker = StrideTracker()
    inputs, x = build_input(args)
    x = conv_block(x, int(STEM_FILTERS * alpha), 3, tracker.step(2)[0], activation="relu6", name="stem", **norm)
    tracker.tap(x)
    for index, block in enumerate(MOBILENET_V1_BLOCKS, start=1):
        x = depthwise_separable(
            x,
            int(block.filters * alpha),
            tracker.step(block.strides)[0],
            depth_multiplier=depth_multiplier,
            activation="relu6",
            name=f"block_{index}",
            **norm,
        )
        tracker.tap(x)
    if args["include_top"]:
        x = conv_classifier(x, args)
    else:
        x = pool_features(x, args["pooling"])
    return finish_model(inputs, x, args, f"mobilenet_v1_{alpha:.2f}", tracker)
