"""MobileNetV2 (Sandler et al. 2018, arXiv 1801.04381, Table 2)."""

from __future__ import annotations

from typing import Any, NamedTuple

import keras

from keras_lightnets.blocks import bottleneck, conv_block, make_divisible
from keras_lightnets.models.common import (
    StrideTracker,
    build_input,
    dense_classifier,
    finish_model,
    model_args,
    pool_features,
)
from keras_lightnets.validation import check_bool, check_choice, check_float

__all__ = ["MOBILENET_V2_STAGES", "MobileNetV2", "V2Stage"]


class V2Stage(NamedTuple):
    """One row of the paper's Table 2: ``n`` inverted residuals."""

    expansion: int  # t: expanded channels = t * input channels
    filters: int  # c: output channels at alpha = 1
    repeats: int  # n
    strides: int  # s: stride of the first block of the row


STEM_FILTERS = 32  # conv2d 3x3, stride 2
HEAD_FILTERS = 1280  # conv2d 1x1; scaled only when alpha > 1

MOBILENET_V2_STAGES: tuple[V2Stage, ...] = (
    V2Stage(1, 16, 1, 1),
    V2Stage(6, 24, 2, 2),
    V2Stage(6, 32, 3, 2),
    V2Stage(6, 64, 4, 2),
    V2Stage(6, 96, 3, 1),
    V2Stage(6, 160, 3, 2),
    V2Stage(6, 320, 1, 1),
)


def MobileNetV2(
    input_shape: tuple[int | None, int | None, int] | None = None,
    alpha: float = 1.0,
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    include_preprocessing: bool = False,
    dropout: float = 0.0,
    use_batch_norm: bool = True,
    activation: str = "relu6",
    bn_momentum: float = 0.999,
    bn_epsilon: float = 1e-3,
    features_only: bool = False,
    out_indices: tuple[int, ...] | None = None,
    output_stride: int = 32,
    padding: str = "same",
    name: str | None = None,
) -> keras.Model:
    """MobileNetV2, layer for layer ``keras.applications.MobileNetV2``.

    Block channels are ``make_divisible(int(c * alpha), 8)``, the stem
    ``make_divisible(32 * alpha, 8)``, the last conv 1280 (or
    ``make_divisible(1280 * alpha, 8)`` for alpha > 1). The 17 inverted
    residuals are named ``block_0`` ... ``block_16``; the SSDLite stride-16 tap
    (``keras.applications``' ``block_13_expand_relu``) is ``block_13_expand_act``.

    Args:
        input_shape: ``(height, width, channels)``; height/width >= 32 or None.
            Default ``(224, 224, 3)`` with the top, ``(None, None, 3)`` without.
        alpha: width multiplier (> 0): 0.35, 0.5, 0.75, 1.0, 1.3, 1.4, ...
        include_top: add global average pooling and the dense classifier.
        weights: None, ``"imagenet"`` (``keras.applications``' file for
            alpha 0.35-1.4, sizes 96-224; downloaded once) or the path of a weights file
            (.weights.h5, .h5, .keras).
        input_tensor: optional symbolic tensor to build the model on.
        pooling: without the top: None (4-D output), "avg" or "max".
        classes: classifier outputs (>= 1).
        classifier_activation: activation of the top layer (str, callable,
            or None for logits).
        include_preprocessing: rescale [0, 255] inputs to [-1, 1] in the model.
        dropout: dropout rate before the classifier in [0, 1) (0: none, as
            ``keras.applications``).
        use_batch_norm: False removes every BatchNorm and gives the convs
            biases (the SSD code base's option).
        activation: ``"relu6"`` (paper) or ``"relu"`` (for exporters without
            ReLU6).
        bn_momentum: BatchNorm momentum in (0, 1).
        bn_epsilon: BatchNorm epsilon (> 0).
        features_only: return the feature maps (needs include_top=False):
            the last map at each reduction in ``out_indices``; the model gets a
            ``feature_info`` attribute.
        out_indices: sorted indices into the reductions (2, 4, 8, 16, 32);
            default: every reduction up to ``output_stride``.
        output_stride: 32, 16 or 8: the strides after that reduction become 1
            and later depthwise convs are dilated (DeepLab); weights unchanged.
        padding: ``"same"`` (TF, as ``keras.applications``; default) or
            ``"symmetric"`` (PyTorch's ``k//2`` on each side for strided convs
            and pools, for weights trained in PyTorch); weights unchanged.
        name: model name.

    Example:
        >>> model = MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False)
        >>> model.output_shape
        (None, 3, 3, 1280)
    """
    alpha = check_float("alpha", alpha, low=0.0, low_inclusive=False)
    args = model_args(locals(), default_shape=(224, 224, 3) if include_top is True else (None, None, 3), family="mobilenet_v2")
    check_bool("use_batch_norm", use_batch_norm)
    check_choice("activation", activation, ("relu6", "relu"))
    norm = dict(
        batch_norm=use_batch_norm,
        bn_momentum=args["bn_momentum"],
        bn_epsilon=args["bn_epsilon"],
        padding=args["padding"],
    )

    tracker = StrideTracker(args["output_stride"])
    inputs, x = build_input(args)
    x = conv_block(
        x, make_divisible(STEM_FILTERS * alpha), 3, tracker.step(2)[0], activation=activation, name="stem", **norm
    )
    tracker.tap(x)
    index = 0
    for stage in MOBILENET_V2_STAGES:
        filters = make_divisible(int(stage.filters * alpha))
        for repeat in range(stage.repeats):
            strides, rate = tracker.step(stage.strides if repeat == 0 else 1)
            x = bottleneck(
                x,
                filters,
                stage.expansion * x.shape[-1],
                3,
                strides,
                dilation_rate=rate,
                activation=activation,
                name=f"block_{index}",
                **norm,
            )
            tracker.tap(x)
            index += 1
    head = make_divisible(HEAD_FILTERS * alpha) if alpha > 1.0 else HEAD_FILTERS
    x = tracker.tap(conv_block(x, head, 1, activation=activation, name="head_conv", **norm))
    if args["include_top"]:
        x = dense_classifier(x, args)
    else:
        x = pool_features(x, args["pooling"])
    return finish_model(inputs, x, args, f"mobilenet_v2_{alpha:.2f}", tracker)
