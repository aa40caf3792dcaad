"""ShuffleNetV1 (Zhang et al. 2017, arXiv 1707.01083, Table 1)."""

from __future__ import annotations

from typing import Any

import keras

from keras_lightnets.blocks import conv_block, make_divisible, pool_block, shuffle_unit
from keras_lightnets.models.args import CLASSIFIER_SIZE, ModelArgs, shared_args_doc
from keras_lightnets.models.heads import build_input, dense_classifier, pool_features
from keras_lightnets.models.network import finish_model
from keras_lightnets.models.strides import StrideTracker
from keras_lightnets.validation import check_choice, check_float, check_int

__all__ = ["SHUFFLENET_V1_CHANNELS", "SHUFFLENET_V1_SCALES", "STAGE_REPEATS", "ShuffleNetV1"]

# Paper Table 1: output channels of stages 2, 3, 4 at 1x, by number of groups.
SHUFFLENET_V1_CHANNELS: dict[int, tuple[int, int, int]] = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}
STAGE_REPEATS = (4, 8, 4)  # units in stages 2, 3, 4; the first has stride 2
# Stem conv 3x3 stride 2 (24 channels at 1x), by scale, as the megvii reference
# (12 / 24 / 24 / 48 for 0.5x / 1x / 1.5x / 2x), rounded up to a multiple of
# groups. The reference has no 0.25x; 12 gives paper Table 2's 13 MFLOPs (g=3).
STEM_FILTERS = {0.25: 12, 0.5: 12, 1.0: 24, 1.5: 24, 2.0: 48}
SHUFFLENET_V1_SCALES = tuple(STEM_FILTERS)


@shared_args_doc
def ShuffleNetV1(
    groups: int = 3,
    scale: float = 1.0,
    input_shape: tuple[int | None, int | None, int] | None = None,
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    include_preprocessing: bool = False,
    dropout: float = 0.0,
    bn_momentum: float = 0.9,
    bn_epsilon: float = 1e-5,
    features_only: bool = False,
    out_indices: tuple[int, ...] | None = None,
    output_stride: int = 32,
    padding: str = "same",
    name: str | None = None,
) -> keras.Model:
    """ShuffleNetV1 ``scale``x with ``groups`` groups, as the paper and the megvii reference.

    Stem conv 3x3 stride 2 + BN + ReLU, 3x3 stride-2 max pool, stages 2/3/4 of
    4/8/4 :func:`~keras_lightnets.blocks.shuffle_unit` (first of each stride
    2; the first 1x1 conv of stage 2 is not grouped; the 3x3 conv is
    depthwise), global average pool, dense classifier with bias. Stage
    channels are Table 1's times ``scale``, rounded to a multiple of
    ``4 * groups`` (exact at 1x) so every group conv divides evenly.

    Args:
        groups: 1, 2, 3, 4 or 8.
        scale: 0.25, 0.5, 1.0, 1.5 or 2.0 (the paper's "ShuffleNet s x").
        dropout: dropout before the classifier, in [0, 1).
        {shared_args}

    Examples:
        >>> model = ShuffleNetV1(groups=3, scale=1.0, input_shape=(224, 224, 3))
        >>> model.output_shape
        (None, 1000)
    """
    groups = check_choice("groups", check_int("groups", groups), tuple(SHUFFLENET_V1_CHANNELS))
    scale = check_choice("scale", check_float("scale", scale), SHUFFLENET_V1_SCALES)
    args = ModelArgs.check(
        input_shape=input_shape, include_top=include_top, weights=weights, input_tensor=input_tensor,
        pooling=pooling, classes=classes, classifier_activation=classifier_activation, dropout=dropout,
        include_preprocessing=include_preprocessing, bn_momentum=bn_momentum, bn_epsilon=bn_epsilon,
        features_only=features_only, out_indices=out_indices, output_stride=output_stride,
        padding=padding, name=name, default_size=CLASSIFIER_SIZE,
    ).with_imagenet("shufflenet_v1")

    tracker = StrideTracker(args.output_stride)
    inputs, x = build_input(args)
    stem = make_divisible(STEM_FILTERS[scale], groups)
    x = tracker.tap(conv_block(x, stem, 3, tracker.step(2)[0], activation="relu", name="stem", **args.norm))
    x = tracker.tap(pool_block(x, "max", 3, tracker.step(2)[0], padding=args.padding, name="stem_pool"))
    for stage, (channels, repeats) in enumerate(zip(SHUFFLENET_V1_CHANNELS[groups], STAGE_REPEATS), start=2):
        out_channels = make_divisible(channels * scale, 4 * groups)
        for unit in range(repeats):
            strides, rate = tracker.step(2 if unit == 0 else 1)
            x = shuffle_unit(
                x,
                out_channels,
                groups,
                strides,
                downsample=unit == 0,
                dilation_rate=rate,
                group_first_conv=not (stage == 2 and unit == 0),
                name=f"stage{stage}_unit{unit + 1}",
                **args.norm,
            )
            tracker.tap(x)
    if args.include_top:
        x = dense_classifier(x, args)
    else:
        x = pool_features(x, args.pooling)
    return finish_model(inputs, x, args, f"shufflenet_v1_g{groups}_{scale:.2f}", tracker)
