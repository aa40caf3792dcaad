"""MobileNetV2 (Sandler et al. 2018, arXiv 1801.04381, Table 2)."""

from __future__ import annotations

from typing import Any, NamedTuple

import keras

from keras_lightnets.blocks import bottleneck, conv_block, make_divisible
from keras_lightnets.models.args import CLASSIFIER_SIZE, ModelArgs, shared_args_doc
from keras_lightnets.models.heads import build_input, dense_classifier, pool_features
from keras_lightnets.models.network import finish_model
from keras_lightnets.models.strides import StrideTracker
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


@shared_args_doc
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

    The top is global average pooling, dropout (none by default, as
    ``keras.applications``) and a dense classifier. ``"imagenet"`` weights:
    alpha 0.35-1.4, sizes 96-224. The input shape defaults to 224x224x3 with
    the top, any size without.

    Args:
        alpha: width multiplier (> 0): 0.35, 0.5, 0.75, 1.0, 1.3, 1.4, ...
        dropout: dropout rate before the classifier in [0, 1).
        use_batch_norm: False removes every BatchNorm and gives the convs
            biases (the SSD code base's option).
        activation: ``"relu6"`` (paper) or ``"relu"`` (for exporters without
            ReLU6).
        {shared_args}

    Examples:
        >>> model = MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False)
        >>> model.output_shape
        (None, 3, 3, 1280)
    """
    alpha = check_float("alpha", alpha, low=0.0, low_inclusive=False)
    check_bool("use_batch_norm", use_batch_norm)
    check_choice("activation", activation, ("relu6", "relu"))
    args = ModelArgs.check(
        input_shape=input_shape, include_top=include_top, weights=weights, input_tensor=input_tensor,
        pooling=pooling, classes=classes, classifier_activation=classifier_activation, dropout=dropout,
        include_preprocessing=include_preprocessing, bn_momentum=bn_momentum, bn_epsilon=bn_epsilon,
        features_only=features_only, out_indices=out_indices, output_stride=output_stride,
        padding=padding, name=name, default_size=CLASSIFIER_SIZE,
    ).with_imagenet("mobilenet_v2", alpha=alpha)
    norm = dict(batch_norm=use_batch_norm, **args.norm)

    tracker = StrideTracker(args.output_stride)
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
    if args.include_top:
        x = dense_classifier(x, args)
    else:
        x = pool_features(x, args.pooling)
    return finish_model(inputs, x, args, f"mobilenet_v2_{alpha:.2f}", tracker)
