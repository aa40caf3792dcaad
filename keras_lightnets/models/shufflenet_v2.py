"""ShuffleNetV2 (Ma et al. 2018, arXiv 1807.11164, Table 5)."""

from __future__ import annotations


import keras

from keras_lightnets.blocks import TORCH_BN_EPSILON, TORCH_BN_MOMENTUM, conv_block, pool_block, shuffle_v2_unit
from keras_lightnets.models.args import CLASSIFIER_SIZE, ModelArgs, model_function
from keras_lightnets.models.heads import build_input, dense_classifier, pool_features
from keras_lightnets.models.network import Variant, finish_model
from keras_lightnets.models.strides import StrideTracker
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


@model_function(
    "scale input_shape include_top weights input_tensor pooling classes classifier_activation "
    "include_preprocessing dropout bn_momentum bn_epsilon features_only out_indices output_stride "
    "padding name",
    default_size=CLASSIFIER_SIZE,
    bn_momentum=TORCH_BN_MOMENTUM,
    bn_epsilon=TORCH_BN_EPSILON,
)
def ShuffleNetV2(args: ModelArgs, *, scale: float = 1.0) -> keras.Model:
    """ShuffleNetV2 ``scale``x in torchvision's layout (convs without bias).

    Stem conv 3x3 stride 2 + BN + ReLU, 3x3 stride-2 max pool, stages 2/3/4 of
    4/8/4 :func:`~keras_lightnets.blocks.shuffle_v2_unit` (first of each stride
    2), conv5 1x1 + BN + ReLU, global average pool, dense classifier with bias.

    Args:
        scale: 0.5, 1.0, 1.5 or 2.0.
        dropout: dropout before the classifier, in [0, 1).
        {shared_args}

    Examples:
        >>> model = ShuffleNetV2(scale=0.5, input_shape=(224, 224, 3))
        >>> model.output_shape
        (None, 1000)
    """
    scale = check_choice("scale", check_float("scale", scale), tuple(SHUFFLENET_V2_CHANNELS))
    args = args.with_imagenet("shufflenet_v2")
    *stage_channels, last_channels = SHUFFLENET_V2_CHANNELS[scale]

    tracker = StrideTracker(args.output_stride)
    inputs, x = build_input(args)
    x = tracker.tap(conv_block(x, STEM_FILTERS, 3, tracker.step(2)[0], activation="relu", name="stem", **args.norm))
    x = tracker.tap(pool_block(x, "max", 3, tracker.step(2)[0], padding=args.padding, name="stem_pool"))
    for stage, (channels, repeats) in enumerate(zip(stage_channels, STAGE_REPEATS), start=2):
        for unit in range(repeats):
            strides, rate = tracker.step(2 if unit == 0 else 1)
            x = shuffle_v2_unit(
                x,
                channels,
                strides,
                downsample=unit == 0,
                dilation_rate=rate,
                name=f"stage{stage}_unit{unit + 1}",
                **args.norm,
            )
            tracker.tap(x)
    x = tracker.tap(conv_block(x, last_channels, 1, activation="relu", name="head_conv", **args.norm))
    if args.include_top:
        x = dense_classifier(x, args)
    else:
        x = pool_features(x, args.pooling)
    return finish_model(inputs, x, args, f"shufflenet_v2_{scale:.1f}x", tracker)


#: The registered names of this family (``keras_lightnets.registry`` reads them): name, model function,
#: family, fixed arguments, Keras params, trainable params and MAdds at 224x224 with 1,000 classes (checked
#: against built models by tests/test_registry.py), the paper's MAdds.
VARIANTS = (
    Variant("shufflenet_v2_x0_5", ShuffleNetV2, "shufflenet_v2", {"scale": 0.5}, 1374744, 1366792, 40476448, "41 M"),
    Variant("shufflenet_v2_x1_0", ShuffleNetV2, "shufflenet_v2", {"scale": 1.0}, 2294784, 2278604, 144907992, "146 M"),
    Variant("shufflenet_v2_x1_5", ShuffleNetV2, "shufflenet_v2", {"scale": 1.5}, 3527064, 3503624, 295759392, "299 M"),
    Variant("shufflenet_v2_x2_0", ShuffleNetV2, "shufflenet_v2", {"scale": 2.0}, 7427712, 7393996, 583253464, "591 M"),
)
