"""MobileNetV4 Conv-S/M/L and Hybrid-M/L (Qin et al. 2024, arXiv 2404.10518, Tables 10-14).

The tables are transcribed from the paper's appendix and checked block by block
against timm's ``_gen_mobilenet_v4`` (timm 1.0.31) and the TF model garden's
``MNV4*_BLOCK_SPECS``, whose trained weights (timm's) this package converts
exactly (:func:`keras_lightnets.convert.from_timm`). The released medium and
large models are 5-6% larger than the paper's printed parameter counts; the
tables follow the released models, whose weights they must load (see the documentation's Models page).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras

from keras_lightnets.blocks import (
    TORCH_BN_EPSILON,
    TORCH_BN_MOMENTUM,
    conv_block,
    fused_inverted_bottleneck,
    mobile_mqa,
    universal_inverted_bottleneck,
)
from keras_lightnets.models.args import ANY_SIZE, ModelArgs, model_function
from keras_lightnets.models.heads import build_input, conv_classifier, pool_features
from keras_lightnets.models.network import Variant, finish_model
from keras_lightnets.models.strides import StrideTracker
from keras_lightnets.validation import check_choice

__all__ = ["MOBILENET_V4_SPECS", "MobileNetV4", "V4Block", "V4Spec"]


class V4Block(NamedTuple):
    """One row of a MobileNetV4 table.

    ``kind`` is ``"conv"`` (conv -> BN -> act), ``"fused"`` (FusedIB),
    ``"uib"`` (universal inverted bottleneck; ``start``/``middle`` are the
    depthwise kernels, 0 = absent) or ``"mqa"`` (Mobile MQA; ``heads``,
    ``key_dim``, ``kv_strides``).
    """

    kind: str
    filters: int
    strides: int = 1
    kernel: int = 0  # conv / fused kernel, or the UIB's middle depthwise kernel
    start: int = 0  # UIB start depthwise kernel
    expansion: float = 0.0
    heads: int = 0
    key_dim: int = 0
    kv_strides: int = 1


def conv(kernel: int, strides: int, filters: int) -> V4Block:
    """A plain conv -> BN -> act row (the paper's "Conv2D")."""
    return V4Block("conv", filters, strides, kernel)


def fused(kernel: int, strides: int, expansion: float, filters: int) -> V4Block:
    """A FusedIB row: (kernel, stride, expansion, out)."""
    return V4Block("fused", filters, strides, kernel, expansion=expansion)


def uib(start: int, middle: int, strides: int, expansion: float, filters: int) -> V4Block:
    """The paper's UIB rows: (start dw kernel, middle dw kernel, stride, expansion, out)."""
    return V4Block("uib", filters, strides, middle, start, expansion)


def mqa(heads: int, key_dim: int, kv_strides: int, filters: int) -> V4Block:
    """A Mobile MQA row: (heads, key dim, key/value stride, out); 3x3 key/value down-sampling."""
    return V4Block("mqa", filters, 1, 3, heads=heads, key_dim=key_dim, kv_strides=kv_strides)


class V4Spec(NamedTuple):
    """A MobileNetV4 variant: stem width, activation, layer scale, and its stages of blocks."""

    stem: int
    activation: str
    layer_scale: float | None
    stages: tuple[tuple[V4Block, ...], ...]


HEAD = (conv(1, 1, 960),)  # every variant's last stage; then pool -> 1x1 conv 1280 + BN + act
PRE_LOGITS = 1280

CONV_SMALL = V4Spec(32, "relu", None, (
    (conv(3, 2, 32), conv(1, 1, 32)),
    (conv(3, 2, 96), conv(1, 1, 64)),
    (uib(5, 5, 2, 3, 96), *4 * (uib(0, 3, 1, 2, 96),), uib(3, 0, 1, 4, 96)),
    (uib(3, 3, 2, 6, 128), uib(5, 5, 1, 4, 128), uib(0, 5, 1, 4, 128), uib(0, 5, 1, 3, 128),
     *2 * (uib(0, 3, 1, 4, 128),)),
    HEAD,
))
CONV_MEDIUM = V4Spec(32, "relu", None, (
    (fused(3, 2, 4, 48),),
    (uib(3, 5, 2, 4, 80), uib(3, 3, 1, 2, 80)),
    (uib(3, 5, 2, 6, 160), *2 * (uib(3, 3, 1, 4, 160),), uib(3, 5, 1, 4, 160), uib(3, 3, 1, 4, 160),
     uib(3, 0, 1, 4, 160), uib(0, 0, 1, 2, 160), uib(3, 0, 1, 4, 160)),
    (uib(5, 5, 2, 6, 256), uib(5, 5, 1, 4, 256), *2 * (uib(3, 5, 1, 4, 256),), uib(0, 0, 1, 4, 256),
     uib(3, 0, 1, 4, 256), uib(3, 5, 1, 2, 256), uib(5, 5, 1, 4, 256), *2 * (uib(0, 0, 1, 4, 256),),
     uib(5, 0, 1, 2, 256)),
    HEAD,
))
CONV_LARGE = V4Spec(24, "relu", None, (
    (fused(3, 2, 4, 48),),
    (uib(3, 5, 2, 4, 96), uib(3, 3, 1, 4, 96)),
    (uib(3, 5, 2, 4, 192), *3 * (uib(3, 3, 1, 4, 192),), uib(3, 5, 1, 4, 192),
     *5 * (uib(5, 3, 1, 4, 192),), uib(3, 0, 1, 4, 192)),
    (uib(5, 5, 2, 4, 512), *3 * (uib(5, 5, 1, 4, 512),),
     uib(5, 0, 1, 4, 512), uib(5, 3, 1, 4, 512), *2 * (uib(5, 0, 1, 4, 512),), uib(5, 3, 1, 4, 512),
     uib(5, 5, 1, 4, 512), *3 * (uib(5, 0, 1, 4, 512),)),
    HEAD,
))
HYBRID_MEDIUM = V4Spec(32, "relu", 1e-5, (
    (fused(3, 2, 4, 48),),
    (uib(3, 5, 2, 4, 80), uib(3, 3, 1, 2, 80)),
    (uib(3, 5, 2, 6, 160), uib(0, 0, 1, 2, 160), uib(3, 3, 1, 4, 160), uib(3, 5, 1, 4, 160),
     mqa(4, 64, 2, 160), uib(3, 3, 1, 4, 160), mqa(4, 64, 2, 160), uib(3, 0, 1, 4, 160),
     mqa(4, 64, 2, 160), uib(3, 3, 1, 4, 160), mqa(4, 64, 2, 160), uib(3, 0, 1, 4, 160)),
    (uib(5, 5, 2, 6, 256), uib(5, 5, 1, 4, 256), *2 * (uib(3, 5, 1, 4, 256),), uib(0, 0, 1, 2, 256),
     uib(3, 5, 1, 2, 256), uib(0, 0, 1, 2, 256), uib(0, 0, 1, 4, 256), mqa(4, 64, 1, 256),
     uib(3, 0, 1, 4, 256), mqa(4, 64, 1, 256), uib(5, 5, 1, 4, 256), mqa(4, 64, 1, 256),
     uib(5, 0, 1, 4, 256), mqa(4, 64, 1, 256), uib(5, 0, 1, 4, 256)),
    HEAD,
))
HYBRID_LARGE = V4Spec(24, "gelu", 1e-5, (
    (fused(3, 2, 4, 48),),
    (uib(3, 5, 2, 4, 96), uib(3, 3, 1, 4, 96)),
    (uib(3, 5, 2, 4, 192), *3 * (uib(3, 3, 1, 4, 192),), uib(3, 5, 1, 4, 192), *2 * (uib(5, 3, 1, 4, 192),),
     mqa(8, 48, 2, 192), uib(5, 3, 1, 4, 192), mqa(8, 48, 2, 192), uib(5, 3, 1, 4, 192),
     mqa(8, 48, 2, 192), uib(5, 3, 1, 4, 192), mqa(8, 48, 2, 192), uib(3, 0, 1, 4, 192)),
    (uib(5, 5, 2, 4, 512), *3 * (uib(5, 5, 1, 4, 512),), uib(5, 0, 1, 4, 512), uib(5, 3, 1, 4, 512),
     *2 * (uib(5, 0, 1, 4, 512),), uib(5, 3, 1, 4, 512), uib(5, 5, 1, 4, 512), mqa(8, 64, 1, 512),
     uib(5, 0, 1, 4, 512), mqa(8, 64, 1, 512), uib(5, 0, 1, 4, 512), mqa(8, 64, 1, 512),
     uib(5, 0, 1, 4, 512), mqa(8, 64, 1, 512), uib(5, 0, 1, 4, 512)),
    HEAD,
))

#: variant -> its table; keys are the ``variant`` argument of :func:`MobileNetV4`.
MOBILENET_V4_SPECS: dict[str, V4Spec] = {
    "conv_small": CONV_SMALL,
    "conv_medium": CONV_MEDIUM,
    "conv_large": CONV_LARGE,
    "hybrid_medium": HYBRID_MEDIUM,
    "hybrid_large": HYBRID_LARGE,
}


def _block(x: Any, block: V4Block, spec: V4Spec, strides: int, rate: int, norm: dict[str, Any], name: str) -> Any:
    """Build one table row with the stride / dilation the tracker gave it."""
    if block.kind == "conv":
        return conv_block(x, block.filters, block.kernel, strides, activation=spec.activation, name=name, **norm)
    if block.kind == "fused":
        return fused_inverted_bottleneck(
            x, block.filters, block.expansion, block.kernel, strides, activation=spec.activation, name=name, **norm
        )
    if block.kind == "uib":
        return universal_inverted_bottleneck(
            x, block.filters, block.expansion, block.start, block.kernel, strides, activation=spec.activation,
            layer_scale=spec.layer_scale, dilation_rate=rate, name=name, **norm,
        )
    return mobile_mqa(
        x, block.filters, block.heads, block.key_dim, block.kv_strides, block.kernel,
        layer_scale=spec.layer_scale, name=name, **norm,
    )


@model_function(
    "variant input_shape include_top weights input_tensor classes pooling dropout classifier_activation "
    "include_preprocessing bn_momentum bn_epsilon features_only out_indices output_stride padding name",
    default_size=ANY_SIZE,
    include_preprocessing=True,
    dropout=0.2,
    bn_momentum=TORCH_BN_MOMENTUM,
    bn_epsilon=TORCH_BN_EPSILON,
)
def MobileNetV4(args: ModelArgs, *, variant: str = "conv_small") -> keras.Model:
    """MobileNetV4 (arXiv 2404.10518): Conv-S/M/L and Hybrid-M/L, layer for layer timm's.

    The stem is a 3x3 stride-2 conv; stage ``s`` block ``i`` of the table is
    named ``stage{s}_block{i}`` (timm's ``blocks.{s}.{i}``); the last stage is
    a 1x1 conv to 960. The top is global pool, 1x1 conv 1280 (no bias) -> BN
    -> activation, dropout, 1x1 conv (logits). Hybrids add Mobile MQA blocks
    and layer scale (1e-5); Hybrid-L uses GELU, the others ReLU. BatchNorm
    defaults are PyTorch's (momentum 0.9 in Keras' convention, epsilon 1e-5).
    Parameter counts equal timm's (3,774,024 / 9,715,512 / 32,590,864 /
    11,074,648 / 37,764,624 trainable). No Keras ImageNet file exists
    (``weights="imagenet"`` is refused): convert timm's checkpoints with
    :func:`keras_lightnets.convert.from_timm`. timm's training resolutions:
    224 (Conv-S), 256 (M), 384 (L); any size >= 32 builds.

    Args:
        variant: ``"conv_small"``, ``"conv_medium"``, ``"conv_large"``,
            ``"hybrid_medium"`` or ``"hybrid_large"``.
        dropout: dropout before the logits, in [0, 1).
        {shared_args}

    Examples:
        >>> model = MobileNetV4("conv_small", input_shape=(224, 224, 3))
        >>> model.output_shape
        (None, 1000)
    """
    check_choice("variant", variant, tuple(MOBILENET_V4_SPECS))
    args = args.with_imagenet(f"mobilenet_v4_{variant}")
    spec = MOBILENET_V4_SPECS[variant]
    tracker = StrideTracker(args.output_stride)
    inputs, x = build_input(args)
    x = tracker.tap(conv_block(x, spec.stem, 3, tracker.step(2)[0], activation=spec.activation, name="stem", **args.norm))
    for s, stage in enumerate(spec.stages):
        for i, block in enumerate(stage):
            strides, rate = tracker.step(block.strides)
            x = tracker.tap(_block(x, block, spec, strides, rate, args.norm, f"stage{s}_block{i}"))
    if args.include_top:
        x = conv_classifier(x, args, hidden=PRE_LOGITS, hidden_activation=spec.activation, hidden_batch_norm=True)
    else:
        x = pool_features(x, args.pooling)
    return finish_model(inputs, x, args, f"MobileNetV4{variant.title().replace('_', '')}", tracker)


#: The registered names of this family (``keras_lightnets.registry`` reads them): name, model function,
#: family, fixed arguments, Keras params, trainable params and MAdds at 224x224 with 1,000 classes (checked
#: against built models by tests/test_registry.py), the paper's MAdds.
VARIANTS = (
    Variant("mobilenet_v4_conv_small", MobileNetV4, "mobilenet_v4", {"variant": "conv_small"}, 3799112, 3774024, 186005568),
    Variant("mobilenet_v4_conv_medium", MobileNetV4, "mobilenet_v4", {"variant": "conv_medium"}, 9783416, 9715512, 827649984),
    Variant("mobilenet_v4_conv_large", MobileNetV4, "mobilenet_v4", {"variant": "conv_large"}, 32740416, 32590864, 2171341312),
    Variant("mobilenet_v4_hybrid_medium", MobileNetV4, "mobilenet_v4", {"variant": "hybrid_medium"}, 11150488, 11074648, 966311360),
    Variant("mobilenet_v4_hybrid_large", MobileNetV4, "mobilenet_v4", {"variant": "hybrid_large"}, 37929024, 37764624, 2549568000),
)
