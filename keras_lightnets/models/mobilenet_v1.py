"""MobileNetV1 (Howard et al. 2017, arXiv 1704.04861, Table 1)."""

from __future__ import annotations

from typing import NamedTuple

import keras

from keras_lightnets.blocks import KERAS_V1_BN_MOMENTUM, conv_block, depthwise_separable
from keras_lightnets.models.args import CLASSIFIER_SIZE, ModelArgs, model_function
from keras_lightnets.models.heads import build_input, conv_classifier, pool_features
from keras_lightnets.models.network import Variant, finish_model
from keras_lightnets.models.strides import StrideTracker
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


@model_function(
    "input_shape alpha depth_multiplier dropout include_top weights input_tensor pooling classes classifier_activation "
    "include_preprocessing bn_momentum bn_epsilon features_only out_indices output_stride padding name",
    default_size=CLASSIFIER_SIZE,
    dropout=1e-3,
    bn_momentum=KERAS_V1_BN_MOMENTUM,
)
def MobileNetV1(args: ModelArgs, *, alpha: float = 1.0, depth_multiplier: int = 1) -> keras.Model:
    """MobileNetV1, layer for layer ``keras.applications.MobileNet``.

    Stem conv 3x3 stride 2, 13 :func:`~keras_lightnets.blocks.depthwise_separable`
    units ``block_1`` ... ``block_13``; the top is global pool, dropout, 1x1
    conv. Channels are ``int(c * alpha)`` as in the reference. Strided convs
    use ``padding="same"`` (TF-slim's reference); at odd input sizes this
    differs from ``keras.applications.MobileNet``, whose fixed ``((0, 1), (0,
    1))`` pad drops a row and a column (see the documentation's Models page). ``"imagenet"``
    weights: alpha 0.25-1.0, sizes 128-224. The input shape defaults to
    224x224x3 with the top, any size without.

    Args:
        alpha: width multiplier (> 0), e.g. 0.25, 0.5, 0.75, 1.0.
        depth_multiplier: depthwise channel multiplier (>= 1).
        dropout: dropout rate before the classifier, in [0, 1).
        {shared_args}

    Examples:
        >>> model = MobileNetV1(input_shape=(128, 128, 3), alpha=0.5, classes=10)
        >>> model.output_shape
        (None, 10)
    """
    alpha = check_float("alpha", alpha, low=0.0, low_inclusive=False)
    depth_multiplier = check_int("depth_multiplier", depth_multiplier, low=1)
    args = args.with_imagenet("mobilenet_v1", alpha=alpha, depth_multiplier=depth_multiplier)

    tracker = StrideTracker(args.output_stride)
    inputs, x = build_input(args)
    x = conv_block(x, int(STEM_FILTERS * alpha), 3, tracker.step(2)[0], activation="relu6", name="stem", **args.norm)
    tracker.tap(x)
    for index, block in enumerate(MOBILENET_V1_BLOCKS, start=1):
        strides, rate = tracker.step(block.strides)
        x = depthwise_separable(
            x,
            int(block.filters * alpha),
            strides,
            depth_multiplier=depth_multiplier,
            dilation_rate=rate,
            activation="relu6",
            name=f"block_{index}",
            **args.norm,
        )
        tracker.tap(x)
    if args.include_top:
        x = conv_classifier(x, args)
    else:
        x = pool_features(x, args.pooling)
    return finish_model(inputs, x, args, f"mobilenet_v1_{alpha:.2f}", tracker)


#: The registered names of this family (``keras_lightnets.registry`` reads them): name, model function,
#: family, fixed arguments, Keras params, trainable params and MAdds at 224x224 with 1,000 classes (checked
#: against built models by tests/test_registry.py), the paper's MAdds.
VARIANTS = (
    Variant("mobilenet_v1", MobileNetV1, "mobilenet_v1", {"alpha": 1.0}, 4253864, 4231976, 568740352, "569 M"),
    Variant("mobilenet_v1_075", MobileNetV1, "mobilenet_v1", {"alpha": 0.75}, 2601976, 2585560, 325400448, "325 M"),
    Variant("mobilenet_v1_050", MobileNetV1, "mobilenet_v1", {"alpha": 0.5}, 1342536, 1331592, 149497088, "149 M"),
    Variant("mobilenet_v1_025", MobileNetV1, "mobilenet_v1", {"alpha": 0.25}, 475544, 470072, 41030272, "41 M"),
)
