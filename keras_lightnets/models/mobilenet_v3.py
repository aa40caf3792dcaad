"""MobileNetV3 Large and Small (Howard et al. 2019, arXiv 1905.02244 v5, Tables 1-2)."""

from __future__ import annotations

from typing import Any, NamedTuple

import keras

from keras_lightnets.blocks import bottleneck, conv_block, make_divisible
from keras_lightnets.models.args import ANY_SIZE, ModelArgs, model_function
from keras_lightnets.models.heads import build_input, conv_classifier, pool_features
from keras_lightnets.models.network import Variant, finish_model
from keras_lightnets.models.strides import StrideTracker
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
    args: ModelArgs,
    alpha: float,
    minimalistic: bool,
    reduced_tail: bool = False,
    dilate_strided: bool = False,
) -> keras.Model:
    """Walk a V3 block table (shared by Large and Small)."""
    # minimalistic: no SE, ReLU everywhere, 3x3 depthwise everywhere.
    head_act = RE if minimalistic else HS
    tracker = StrideTracker(args.output_stride, dilate_strided)
    inputs, x = build_input(args)
    x = conv_block(x, STEM_FILTERS, 3, tracker.step(2)[0], activation=head_act, name="stem", **args.norm)
    tracker.tap(x)
    paper_in = STEM_FILTERS
    last_stage = max(i for i, block in enumerate(blocks) if block.strides == 2)
    for index, block in enumerate(blocks):
        # torchvision's reduced tail (its detection backbones): the last stage at half width.
        divider = 2 if reduced_tail and index >= last_stage else 1
        # The expansion is a ratio of the input channels (as in the official
        # TF-slim code and keras.applications), so widths scale consistently.
        expanded = make_divisible(x.shape[-1] * (block.expanded / paper_in))
        strides, rate = tracker.step(block.strides)
        x = bottleneck(
            x,
            make_divisible(block.filters * alpha / divider),
            expanded,
            3 if minimalistic else block.kernel,
            strides,
            dilation_rate=rate,
            se=block.se and not minimalistic,
            activation=RE if minimalistic else block.activation,
            name=f"block_{index}",
            **args.norm,
        )
        paper_in = block.filters
        tracker.tap(x)
    x = conv_block(x, make_divisible(x.shape[-1] * 6), 1, activation=head_act, name="head_conv", **args.norm)
    tracker.tap(x)
    if args.include_top:
        if alpha > 1.0:
            pre_logits = make_divisible(pre_logits * alpha)
        pre_logits //= 2 if reduced_tail else 1
        x = conv_classifier(x, args, hidden=pre_logits, hidden_activation=head_act)
    else:
        x = pool_features(x, args.pooling)
    return finish_model(inputs, x, args, default_name, tracker)


def _check_v3(
    family: str, args: ModelArgs, alpha: Any, minimalistic: Any, reduced_tail: Any, dilate_strided: Any
) -> tuple[ModelArgs, float]:
    """Check the V3 width arguments; return ``args`` with ``"imagenet"`` resolved, and ``alpha``."""
    alpha = check_float("alpha", alpha, low=0.0, low_inclusive=False)
    check_bool("minimalistic", minimalistic)
    check_bool("dilate_strided", dilate_strided)
    if check_bool("reduced_tail", reduced_tail) and args.weights == "imagenet":
        raise ValueError("`reduced_tail=True` has no 'imagenet' weights file (its last stage is half as wide).")
    return args.with_imagenet(family, alpha=alpha, minimalistic=minimalistic), alpha


_V3_DOC = """MobileNetV3-{size}, layer for layer ``keras.applications.MobileNetV3{size}``.

    Block outputs are ``make_divisible(c * alpha, 8)``; expanded channels are
    ``make_divisible(in_channels * exp / in_paper, 8)``; the stem keeps 16
    channels; SE reduces to ``make_divisible(exp / 4, 8)`` with a hard-sigmoid
    gate. Blocks are ``block_0`` ... ``block_{last}``. The top is global pool,
    1x1 conv {pre_logits}, hard-swish, dropout, 1x1 conv. ``"imagenet"``
    weights: alpha 0.75 / 1.0, minimalistic 1.0 (MD5-checked). The input
    shape defaults to any size; ``include_preprocessing`` is True, as
    ``keras.applications``.

    Args:
        alpha: width multiplier (> 0), e.g. 0.75, 1.0.
        minimalistic: no SE, ReLU everywhere, 3x3 depthwise kernels.
        dropout_rate: dropout before the logits, in [0, 1).
        reduced_tail: the last stage at half width (torchvision's detection
            backbone, e.g. ``ssdlite320_mobilenet_v3_large``; pre-logits halved too).
        dilate_strided: with ``output_stride`` below 32, also dilate the block
            whose stride is removed (torchvision's ``dilated=True`` backbone of
            ``lraspp_mobilenet_v3_large``); default False: that block keeps the
            previous rate (TF-slim, DeepLab, timm).
        {{shared_args}}

    Examples:
        >>> model = MobileNetV3{size}(input_shape=(224, 224, 3))
        >>> model.output_shape
        (None, 1000)
    """
_V3_ORDER = (
    "input_shape alpha minimalistic include_top weights input_tensor classes pooling dropout_rate classifier_activation "
    "include_preprocessing bn_momentum bn_epsilon features_only out_indices output_stride padding name reduced_tail "
    "dilate_strided"
)


@model_function(
    _V3_ORDER, default_size=ANY_SIZE, renamed={"dropout_rate": "dropout"}, doc=_V3_DOC.format(size="Large", last=14, pre_logits=1280),
    include_preprocessing=True, dropout=0.2, name="MobileNetV3Large",
)
def MobileNetV3Large(
    args: ModelArgs, *, alpha: float = 1.0, minimalistic: bool = False, reduced_tail: bool = False, dilate_strided: bool = False
) -> keras.Model:
    args, alpha = _check_v3("mobilenet_v3_large", args, alpha, minimalistic, reduced_tail, dilate_strided)
    return _mobilenet_v3(
        MOBILENET_V3_LARGE_BLOCKS, LARGE_PRE_LOGITS, "MobileNetV3Large", args, alpha, minimalistic, reduced_tail, dilate_strided
    )


@model_function(
    _V3_ORDER, default_size=ANY_SIZE, renamed={"dropout_rate": "dropout"}, doc=_V3_DOC.format(size="Small", last=10, pre_logits=1024),
    include_preprocessing=True, dropout=0.2, name="MobileNetV3Small",
)
def MobileNetV3Small(
    args: ModelArgs, *, alpha: float = 1.0, minimalistic: bool = False, reduced_tail: bool = False, dilate_strided: bool = False
) -> keras.Model:
    args, alpha = _check_v3("mobilenet_v3_small", args, alpha, minimalistic, reduced_tail, dilate_strided)
    return _mobilenet_v3(
        MOBILENET_V3_SMALL_BLOCKS, SMALL_PRE_LOGITS, "MobileNetV3Small", args, alpha, minimalistic, reduced_tail, dilate_strided
    )


#: The registered names of this family (``keras_lightnets.registry`` reads them): name, model function,
#: family, fixed arguments, Keras params, trainable params and MAdds at 224x224 with 1,000 classes (checked
#: against built models by tests/test_registry.py), the paper's MAdds.
VARIANTS = (
    Variant("mobilenet_v3_large", MobileNetV3Large, "mobilenet_v3_large", {"alpha": 1.0, "minimalistic": False}, 5507432, 5483032, 216589760, "219 M"),
    Variant("mobilenet_v3_large_075", MobileNetV3Large, "mobilenet_v3_large", {"alpha": 0.75, "minimalistic": False}, 4012616, 3993528, 154560624, "155 M"),
    Variant("mobilenet_v3_large_minimalistic", MobileNetV3Large, "mobilenet_v3_large", {"alpha": 1.0, "minimalistic": True}, 3948688, 3924288, 209136704, "209 M"),
    Variant("mobilenet_v3_small", MobileNetV3Small, "mobilenet_v3_small", {"alpha": 1.0, "minimalistic": False}, 2554968, 2542856, 56510400, "56 M"),
    Variant("mobilenet_v3_small_075", MobileNetV3Small, "mobilenet_v3_small", {"alpha": 0.75, "minimalistic": False}, 2051552, 2041872, 43399344, "44 M"),
    Variant("mobilenet_v3_small_minimalistic", MobileNetV3Small, "mobilenet_v3_small", {"alpha": 1.0, "minimalistic": True}, 2056848, 2044736, 52288448),
)
