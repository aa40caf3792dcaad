"""ShuffleNetV1 (Zhang et al. 2017, arXiv 1707.01083, Table 1)."""

from __future__ import annotations


import keras

from keras_lightnets.blocks import TORCH_BN_EPSILON, TORCH_BN_MOMENTUM, conv_block, make_divisible, pool_block, shuffle_unit
from keras_lightnets.models.args import CLASSIFIER_SIZE, ModelArgs, model_function
from keras_lightnets.models.heads import build_input, dense_classifier, pool_features
from keras_lightnets.models.network import Variant, finish_model
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


@model_function(
    "groups scale input_shape include_top weights input_tensor pooling classes classifier_activation "
    "include_preprocessing dropout bn_momentum bn_epsilon features_only out_indices output_stride "
    "padding name",
    default_size=CLASSIFIER_SIZE,
    bn_momentum=TORCH_BN_MOMENTUM,
    bn_epsilon=TORCH_BN_EPSILON,
)
def ShuffleNetV1(args: ModelArgs, *, groups: int = 3, scale: float = 1.0) -> keras.Model:
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
    args = args.with_imagenet("shufflenet_v1")

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


#: The registered names of this family (``keras_lightnets.registry`` reads them): name, model function,
#: family, fixed arguments, Keras params, trainable params and MAdds at 224x224 with 1,000 classes (checked
#: against built models by tests/test_registry.py), the paper's MAdds.
VARIANTS = (
    Variant("shufflenet_v1_g1_x0_25", ShuffleNetV1, "shufflenet_v1", {"groups": 1, "scale": 0.25}, 213580, 209908, 13162320),
    Variant("shufflenet_v1_g2_x0_25", ShuffleNetV1, "shufflenet_v1", {"groups": 2, "scale": 0.25}, 273132, 267964, 13472728),
    Variant("shufflenet_v1_g3_x0_25", ShuffleNetV1, "shufflenet_v1", {"groups": 3, "scale": 0.25}, 312244, 306124, 13300656, "13 M"),
    Variant("shufflenet_v1_g4_x0_25", ShuffleNetV1, "shufflenet_v1", {"groups": 4, "scale": 0.25}, 346828, 339756, 13480048),
    Variant("shufflenet_v1_g8_x0_25", ShuffleNetV1, "shufflenet_v1", {"groups": 8, "scale": 0.25}, 464680, 454888, 15719040),
    Variant("shufflenet_v1_g1_x0_5", ShuffleNetV1, "shufflenet_v1", {"groups": 1, "scale": 0.5}, 541828, 534484, 38517408),
    Variant("shufflenet_v1_g2_x0_5", ShuffleNetV1, "shufflenet_v1", {"groups": 2, "scale": 0.5}, 654560, 644320, 38914784),
    Variant("shufflenet_v1_g3_x0_5", ShuffleNetV1, "shufflenet_v1", {"groups": 3, "scale": 0.5}, 730564, 718324, 37589856, "38 M"),
    Variant("shufflenet_v1_g4_x0_5", ShuffleNetV1, "shufflenet_v1", {"groups": 4, "scale": 0.5}, 792544, 778592, 37943936),
    Variant("shufflenet_v1_g8_x0_5", ShuffleNetV1, "shufflenet_v1", {"groups": 8, "scale": 0.5}, 1031032, 1011448, 40469760, "40 M (megvii)"),
    Variant("shufflenet_v1_g1_x1_0", ShuffleNetV1, "shufflenet_v1", {"groups": 1, "scale": 1.0}, 1546624, 1531936, 143078976, "143 M"),
    Variant("shufflenet_v1_g2_x1_0", ShuffleNetV1, "shufflenet_v1", {"groups": 2, "scale": 1.0}, 1754248, 1733848, 140836512, "140 M"),
    Variant("shufflenet_v1_g3_x1_0", ShuffleNetV1, "shufflenet_v1", {"groups": 3, "scale": 1.0}, 1890208, 1865728, 137460672, "137 M (megvii: 138 M)"),
    Variant("shufflenet_v1_g4_x1_0", ShuffleNetV1, "shufflenet_v1", {"groups": 4, "scale": 1.0}, 1996088, 1968344, 134339776, "133 M"),
    Variant("shufflenet_v1_g8_x1_0", ShuffleNetV1, "shufflenet_v1", {"groups": 8, "scale": 1.0}, 2473936, 2434768, 138365952, "137 M (megvii: 138 M)"),
    Variant("shufflenet_v1_g1_x1_5", ShuffleNetV1, "shufflenet_v1", {"groups": 1, "scale": 1.5}, 3015064, 2993032, 308096352),
    Variant("shufflenet_v1_g2_x1_5", ShuffleNetV1, "shufflenet_v1", {"groups": 2, "scale": 1.5}, 3304040, 3273400, 303198368),
    Variant("shufflenet_v1_g3_x1_5", ShuffleNetV1, "shufflenet_v1", {"groups": 3, "scale": 1.5}, 3478888, 3442168, 292443552, "292 M (megvii)"),
    Variant("shufflenet_v1_g4_x1_5", ShuffleNetV1, "shufflenet_v1", {"groups": 4, "scale": 1.5}, 3617232, 3575536, 287149120),
    Variant("shufflenet_v1_g8_x1_5", ShuffleNetV1, "shufflenet_v1", {"groups": 8, "scale": 1.5}, 4328704, 4269952, 290188800, "290 M (megvii)"),
    Variant("shufflenet_v1_g1_x2_0", ShuffleNetV1, "shufflenet_v1", {"groups": 1, "scale": 2.0}, 4948120, 4918744, 550334592),
    Variant("shufflenet_v1_g2_x2_0", ShuffleNetV1, "shufflenet_v1", {"groups": 2, "scale": 2.0}, 5298696, 5257896, 539138624),
    Variant("shufflenet_v1_g3_x2_0", ShuffleNetV1, "shufflenet_v1", {"groups": 3, "scale": 2.0}, 5499736, 5450776, 524045184, "524 M (megvii)"),
    Variant("shufflenet_v1_g4_x2_0", ShuffleNetV1, "shufflenet_v1", {"groups": 4, "scale": 2.0}, 5649016, 5593528, 510289536),
    Variant("shufflenet_v1_g8_x2_0", ShuffleNetV1, "shufflenet_v1", {"groups": 8, "scale": 2.0}, 6600568, 6522232, 521942016, "522 M (megvii)"),
)
