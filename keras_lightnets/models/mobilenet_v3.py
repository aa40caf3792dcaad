"""MobileNetV3 Large and Small (Howard et al. 2019, arXiv 1905.02244 v5, Tables 1-2)."""

from __future__ import annotations

from typing import Any, NamedTuple

import keras

from keras_lightnets.blocks import bottleneck, conv_block, make_divisible
from keras_lightnets.models.common import (
    StrideTracker,
    build_input,
    conv_classifier,
    finish_model,
    model_args,
    pool_features,
)
from keras_lightnets.validation import check_bool, check_float

__all__ = [
    "MOBILENET_V3_LARGE_BLOCKS",
    "MOBILENET_V3_SMALL_BLOCKS",
    "MobileNetV3Large",
    "MobileNetV3Small",
    "V3Block",
]

RE, HS = "relu", "hard_swish"


class V3Block(NamedTuple):
    """One bneck row of the paper's tables, at width 1.0."""

    kernel: int  # depthwise kernel
    expanded: int  # "exp size"
    filters: int  # "#out"
    se: bool  # "SE"
    activation: str  # "NL": RE or HS
    strides: int  # "s"


STEM_FILTERS = 16  # conv2d 3x3, stride 2, hard-swish; not scaled by alpha

# Paper Table 1 (Large) and Table 2 (Small): k, exp, out, SE, NL, s.
MOBILENET_V3_LARGE_BLOCKS: tuple[V3Block, ...] = (
    V3Block(3, 16, 16, False, RE, 1),
    V3Block(3, 64, 24, False, RE, 2),
    V3Block(3, 72, 24, False, RE, 1),
    V3Block(5, 72, 40, True, RE, 2),
    V3Block(5, 120, 40, True, RE, 1),
    V3Block(5, 120, 40, True, RE, 1),
    V3Block(3, 240, 80, False, HS, 2),
    V3Block(3, 200, 80, False, HS, 1),
    V3Block(3, 184, 80, False, HS, 1),
    V3Block(3, 184, 80, False, HS, 1),
    V3Block(3, 480, 112, True, HS, 1),
    V3Block(3, 672, 112, True, HS, 1),
    V3Block(5, 672, 160, True, HS, 2),
    V3Block(5, 960, 160, True, HS, 1),
    V3Block(5, 960, 160, True, HS, 1),
)
MOBILENET_V3_SMALL_BLOCKS: tuple[V3Block, ...] = (
    V3Block(3, 16, 16, True, RE, 2),
    V3Block(3, 72, 24, False, RE, 2),
    V3Block(3, 88, 24, False, RE, 1),
    V3Block(5, 96, 40, True, HS, 2),
    V3Block(5, 240, 40, True, HS, 1),
    V3Block(5, 240, 40, True, HS, 1),
    V3Block(5, 120, 48, True, HS, 1),
    V3Block(5, 144, 48, True, HS, 1),
    V3Block(5, 288, 96, True, HS, 2),
    V3Block(5, 576, 96, True, HS, 1),
    V3Block(5, 576, 96, True, HS, 1),
)
# Head: 1x1 conv to 6 x the last block's channels (960 / 576) + BN + HS, then
# global pool -> 1x1 conv with bias, no BN (1280 / 1024) -> HS -> dropout -> logits.
LARGE_PRE_LOGITS = 1280
SMALL_PRE_LOGITS = 1024


def _mobilenet_v3(
    blocks: tuple[V3Block, ...],
    pre_logits: int,
    default_name: str,
    family: str,
    *,
    input_shape: Any,
    alpha: Any,
    minimalistic: Any,
    include_top: Any,
    weights: Any,
    input_tensor: Any,
    classes: Any,
    pooling: Any,
    dropout_rate: Any,
    classifier_activation: Any,
    include_preprocessing: Any,
    bn_momentum: Any,
    bn_epsilon: Any,
    features_only: Any,
    out_indices: Any,
    output_stride: Any,
    padding: Any,
    name: Any,
) -> keras.Model:
    """Walk a V3 block table (shared by Large and Small)."""
    alpha = check_float("alpha", alpha, low=0.0, low_inclusive=False)
    args = model_args(locals(), default_shape=(None, None, 3), family=family)
    check_bool("minimalistic", minimalistic)
    norm = dict(bn_momentum=args["bn_momentum"], bn_epsilon=args["bn_epsilon"], padding=args["padding"])
    # minimalistic: no SE, ReLU everywhere, 3x3 depthwise everywhere.
    head_act = RE if minimalistic else HS

    tracker = StrideTracker(args["output_stride"])
    inputs, x = build_input(args)
    x = conv_block(x, STEM_FILTERS, 3, tracker.step(2)[0], activation=head_act, name="stem", **norm)
    tracker.tap(x)
    paper_in = STEM_FILTERS
    for index, block in enumerate(blocks):
        # The expansion is a ratio of the input channels (as in the official
        # TF-slim code and keras.applications), so widths scale consistently.
        expanded = make_divisible(x.shape[-1] * (block.expanded / paper_in))
        strides, rate = tracker.step(block.strides)
        x = bottleneck(
            x,
            make_divisible(block.filters * alpha),
            expanded,
            3 if minimalistic else block.kernel,
            strides,
            dilation_rate=rate,
            se=block.se and not minimalistic,
            activation=RE if minimalistic else block.activation,
            name=f"block_{index}",
            **norm,
        )
        paper_in = block.filters
        tracker.tap(x)
    x = conv_block(x, make_divisible(x.shape[-1] * 6), 1, activation=head_act, name="head_conv", **norm)
    tracker.tap(x)
    if args["include_top"]:
        if alpha > 1.0:
            pre_logits = make_divisible(pre_logits * alpha)
        x = conv_classifier(x, args, hidden=pre_logits, hidden_activation=head_act)
    else:
        x = pool_features(x, args["pooling"])
    return finish_model(inputs, x, args, default_name, tracker)


_V3_DOC = """MobileNetV3-{size}, layer for layer ``keras.applications.MobileNetV3{size}``.

    Block outputs are ``make_divisible(c * alpha, 8)``; expanded channels are
    ``make_divisible(in_channels * exp / in_paper, 8)``; the stem keeps 16
    channels; SE reduces to ``make_divisible(exp / 4, 8)`` with a hard-sigmoid
    gate. Blocks are ``block_0`` ... ``block_{last}``.

    Args:
        input_shape: ``(height, width, channels)``; height/width >= 32 or None.
            Default ``(None, None, 3)``.
        alpha: width multiplier (> 0), e.g. 0.75, 1.0.
        minimalistic: no SE, ReLU everywhere, 3x3 depthwise kernels.
        include_top: add the classifier head (pool, 1x1 conv {pre_logits},
            hard-swish, dropout, 1x1 conv).
        weights: None, ``"imagenet"`` (``keras.applications``' file for
            alpha 0.75 / 1.0, minimalistic 1.0; downloaded once and
            hash-checked) or the path of a weights file (.weights.h5, .h5,
            .keras).
        input_tensor: optional symbolic tensor to build the model on.
        classes: classifier outputs (>= 1).
        pooling: without the top: None (4-D output), "avg" or "max".
        dropout_rate: dropout before the logits, in [0, 1).
        classifier_activation: activation of the top layer (str, callable,
            or None for logits).
        include_preprocessing: rescale [0, 255] inputs to [-1, 1] in the model
            (default True, as ``keras.applications``).
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
        >>> model = MobileNetV3{size}(input_shape=(224, 224, 3))
        >>> model.output_shape
        (None, 1000)
    """


def MobileNetV3Large(
    input_shape: tuple[int | None, int | None, int] | None = None,
    alpha: float = 1.0,
    minimalistic: bool = False,
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    classes: int = 1000,
    pooling: str | None = None,
    dropout_rate: float = 0.2,
    classifier_activation: Any = "softmax",
    include_preprocessing: bool = True,
    bn_momentum: float = 0.999,
    bn_epsilon: float = 1e-3,
    features_only: bool = False,
    out_indices: tuple[int, ...] | None = None,
    output_stride: int = 32,
    padding: str = "same",
    name: str | None = "MobileNetV3Large",
) -> keras.Model:
    return _mobilenet_v3(
        MOBILENET_V3_LARGE_BLOCKS, LARGE_PRE_LOGITS, "MobileNetV3Large", "mobilenet_v3_large", **locals()
    )


def MobileNetV3Small(
    input_shape: tuple[int | None, int | None, int] | None = None,
    alpha: float = 1.0,
    minimalistic: bool = False,
    include_top: bool = True,
    weights: str | None = None,
    input_tensor: Any = None,
    classes: int = 1000,
    pooling: str | None = None,
    dropout_rate: float = 0.2,
    classifier_activation: Any = "softmax",
    include_preprocessing: bool = True,
    bn_momentum: float = 0.999,
    bn_epsilon: float = 1e-3,
    features_only: bool = False,
    out_indices: tuple[int, ...] | None = None,
    output_stride: int = 32,
    padding: str = "same",
    name: str | None = "MobileNetV3Small",
) -> keras.Model:
    return _mobilenet_v3(
        MOBILENET_V3_SMALL_BLOCKS, SMALL_PRE_LOGITS, "MobileNetV3Small", "mobilenet_v3_small", **locals()
    )


MobileNetV3Large.__doc__ = _V3_DOC.format(size="Large", last=14, pre_logits=1280)
MobileNetV3Small.__doc__ = _V3_DOC.format(size="Small", last=10, pre_logits=1024)
