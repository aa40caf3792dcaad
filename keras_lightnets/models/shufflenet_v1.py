"""ShuffleNetV1 (Zhang et al. 2017, arXiv 1707.01083, Table 1)."""

from __future__ import annotations

from typing import Any

import keras

from keras_lightnets.blocks import conv_block, pool_block, make_divisible, shuffle_unit
from keras_lightnets.models.common import (
    StrideTracker,
    build_input,
    dense_classifier,
    finish_model,
    model_args,
    pool_features,
)
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
        input_shape: ``(height, width, channels)``; height/width >= 32 or None.
            Default ``(224, 224, 3)`` with the top, ``(None, None, 3)`` without.
        include_top: add global average pooling and the dense classifier.
        weights: None or the path of a weights file (.weights.h5, .h5, .keras).
        input_tensor: optional symbolic tensor to build the model on.
        pooling: without the top: None (4-D output), "avg" or "max".
        classes: classifier outputs (>= 1).
        classifier_activation: activation of the top layer (str, callable,
            or None for logits).
        include_preprocessing: rescale [0, 255] inputs to [-1, 1] in the model.
        dropout: dropout before the classifier, in [0, 1).
        bn_momentum: BatchNorm momentum in (0, 1) (default: PyTorch's 0.1).
        bn_epsilon: BatchNorm epsilon (> 0) (default: PyTorch's 1e-5).
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
        >>> model = ShuffleNetV1(groups=3, scale=1.0, input_shape=(224, 224, 3))
        >>> model.output_shape
        (None, 1000)
    """
    groups = check_choice("groups", check_int("groups", groups), tuple(SHUFFLENET_V1_CHANNELS))
    scale = check_choice("scale", check_float("scale", scale), SHUFFLENET_V1_SCALES)
    args = model_args(locals(), default_shape=(224, 224, 3) if include_top is True else (None, None, 3), family="shufflenet_v1")
    norm = dict(bn_momentum=args["bn_momentum"], bn_epsilon=args["bn_epsilon"], padding=args["padding"])

    tracker = StrideTracker()
    inputs, x = build_input(args)
    x = conv_block(x, make_divisible(STEM_FILTERS[scale], groups), 3, 2, activation="relu", name="stem", **norm)
    tracker.step(2)
    tracker.tap(x)
    x = pool_block(x, "max", 3, 2, padding=args["padding"], name="stem_pool")
    tracker.step(2)
    tracker.tap(x)
    for stage, (channels, repeats) in enumerate(zip(SHUFFLENET_V1_CHANNELS[groups], STAGE_REPEATS), start=2):
        out_channels = make_divisible(channels * scale, 4 * groups)
        for unit in range(repeats):
            x = shuffle_unit(
                x,
                out_channels,
                groups,
                2 if unit == 0 else 1,
                group_first_conv=not (stage == 2 and unit == 0),
                name=f"stage{stage}_unit{unit + 1}",
                **norm,
            )
            tracker.step(2 if unit == 0 else 1)
            tracker.tap(x)
    if args["include_top"]:
        x = dense_classifier(x, args)
    else:
        x = pool_features(x, args["pooling"])
    return finish_model(inputs, x, args, f"shufflenet_v1_g{groups}_{scale:.2f}", tracker)
