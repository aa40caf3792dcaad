"""ShuffleNetV2 (Ma et al. 2018, arXiv 1807.11164, Table 5)."""

from __future__ import annotations

from typing import Any

import keras

from keras_lightnets.blocks import conv_block, pool_block, shuffle_v2_unit
from keras_lightnets.models.common import (
    StrideTracker,
    build_input,
    dense_classifier,
    finish_model,
    model_args,
    pool_features,
)
from keras_lightnets.validation import check_choice, check_float

__all__ = ["SHUFFLENET_V2_CHANNELS", "STAGE_REPEATS", "ShuffleNetV2"]

STEM_FILTERS = 24  # conv 3x3 stride 2 + 3x3 stride-2 max pool, at every scale
STAGE_REPEATS = (4, 8, 4)  # units in stages 2, 3, 4; the first has stride 2
# Paper Table 5: output channels of stages 2, 3, 4 and of conv5, by scale.
SHUFFLENET_V2_CHANNELS: dict[float, tuple[int, int, int, int]] = {
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (244, 488, 976, 2048),
}


def ShuffleNetV2(
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
    """ShuffleNetV2 ``scale``x in torchvision's layout (convs without bias).

    Stem conv 3x3 stride 2 + BN + ReLU, 3x3 stride-2 max pool, stages 2/3/4 of
    4/8/4 :func:`~keras_lightnets.blocks.shuffle_v2_unit` (first of each stride
    2), conv5 1x1 + BN + ReLU, global average pool, dense classifier with bias.

    Args:
        scale: 0.5, 1.0, 1.5 or 2.0.
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
        >>> model = ShuffleNetV2(scale=0.5, input_shape=(224, 224, 3))
        >>> model.output_shape
        (None, 1000)
    """
    scale = check_choice("scale", check_float("scale", scale), tuple(SHUFFLENET_V2_CHANNELS))
    args = model_args(locals(), default_shape=(224, 224, 3) if include_top is True else (None, None, 3), family="shufflenet_v2")
    norm = dict(bn_momentum=args["bn_momentum"], bn_epsilon=args["bn_epsilon"], padding=args["padding"])
    *stage_channels, last_channels = SHUFFLENET_V2_CHANNELS[scale]

    tracker = StrideTracker()
    inputs, x = build_input(args)
    x = conv_block(x, STEM_FILTERS, 3, 2, activation="relu", name="stem", **norm)
    tracker.step(2)
    tracker.tap(x)
    x = pool_block(x, "max", 3, 2, padding=args["padding"], name="stem_pool")
    tracker.step(2)
    tracker.tap(x)
    for stage, (channels, repeats) in enumerate(zip(stage_channels, STAGE_REPEATS), start=2):
        for unit in range(repeats):
            x = shuffle_v2_unit(
                x, channels, 2 if unit == 0 else 1, name=f"stage{stage}_unit{unit + 1}", **norm
            )
            tracker.step(2 if unit == 0 else 1)
            tracker.tap(x)
    x = tracker.tap(conv_block(x, last_channels, 1, activation="relu", name="head_conv", **norm))
    if args["include_top"]:
        x = dense_classifier(x, args)
    else:
        x = pool_features(x, args["pooling"])
    return finish_model(inputs, x, args, f"shufflenet_v2_{scale:.1f}x", tracker)
