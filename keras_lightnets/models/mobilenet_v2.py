"""MobileNetV2 (Sandler et al. 2018, arXiv 1801.04381, Table 2)."""

from __future__ import annotations

from typing import NamedTuple

import keras

from keras_lightnets.blocks import bottleneck, conv_block, make_divisible
from keras_lightnets.models.args import CLASSIFIER_SIZE, ModelArgs, model_function
from keras_lightnets.models.heads import build_input, dense_classifier, pool_features
from keras_lightnets.models.network import Variant, finish_model
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


@model_function(
    "input_shape alpha include_top weights input_tensor pooling classes classifier_activation include_preprocessing "
    "dropout use_batch_norm activation bn_momentum bn_epsilon features_only out_indices output_stride padding name",
    default_size=CLASSIFIER_SIZE,
)
def MobileNetV2(
    args: ModelArgs, *, alpha: float = 1.0, use_batch_norm: bool = True, activation: str = "relu6"
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
    args = args.with_imagenet("mobilenet_v2", alpha=alpha)
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


#: The registered names of this family (``keras_lightnets.registry`` reads them): name, model function,
#: family, fixed arguments, Keras params, trainable params and MAdds at 224x224 with 1,000 classes (checked
#: against built models by tests/test_registry.py), the paper's MAdds.
VARIANTS = (
    Variant("mobilenet_v2_140", MobileNetV2, "mobilenet_v2", {"alpha": 1.4}, 6156712, 6108776, 582195824, "585 M"),
    Variant("mobilenet_v2_130", MobileNetV2, "mobilenet_v2", {"alpha": 1.3}, 5431048, 5386792, 509374560, "509 M"),
    Variant("mobilenet_v2", MobileNetV2, "mobilenet_v2", {"alpha": 1.0}, 3538984, 3504872, 300774272, "300 M"),
    Variant("mobilenet_v2_075", MobileNetV2, "mobilenet_v2", {"alpha": 0.75}, 2663064, 2636424, 209069792, "209 M"),
    Variant("mobilenet_v2_050", MobileNetV2, "mobilenet_v2", {"alpha": 0.5}, 1987224, 1968680, 97131840, "97 M"),
    Variant("mobilenet_v2_035", MobileNetV2, "mobilenet_v2", {"alpha": 0.35}, 1691208, 1677128, 59285808, "59 M"),
)
