"""Public builder functions: each takes a tensor and returns a tensor.

These are the pieces every architecture in the package is walked from, and
they are meant for building your own variants too. Every layer a builder adds
gets a stable name derived from ``name``:

=====================  =================================================
builder                layers (for ``name="block_3"``)
=====================  =================================================
``conv_block``         ``block_3``, ``block_3_bn``, ``block_3_act``
``depthwise_separable`` ``block_3_depthwise[_bn|_act]``,
                       ``block_3_pointwise[_bn|_act]``
``squeeze``            ``block_3_pool``, ``block_3_reduce``, ``block_3_relu``,
                       ``block_3_expand``, ``block_3_gate``, ``block_3_mul``
``bottleneck``         ``block_3_expand[...]``, ``block_3_depthwise[...]``,
                       ``block_3_se_*``, ``block_3_project[_bn]``,
                       ``block_3_add``
``shuffle_unit``       ``u_gconv1[...]``, ``u_shuffle``, ``u_depthwise[_bn]``,
                       ``u_gconv2[_bn]``, ``u_pool``, ``u_add``/``u_concat``,
                       ``u_relu``
``shuffle_v2_unit``    ``u_split``, ``u_proj_depthwise[_bn]``,
                       ``u_proj_pointwise[...]``, ``u_pointwise1[...]``,
                       ``u_depthwise[_bn]``, ``u_pointwise2[...]``,
                       ``u_concat``, ``u_shuffle``
``universal_inverted_  ``b_start[_bn]``, ``b_expand[...]``,
bottleneck``           ``b_middle[...]``, ``b_project[_bn]``, ``b_scale``,
                       ``b_add``
``fused_inverted_      ``b_expand[...]``, ``b_project[_bn]``, ``b_add``
bottleneck``
``mobile_mqa``         ``b_norm``, ``b_query``, ``b_key_down[_bn]``,
                       ``b_key``, ``b_value_down[_bn]``, ``b_value``,
                       ``b_attention``, ``b_output``, ``b_scale``,
                       ``b_add``
=====================  =================================================

Every builder takes ``padding``:

* ``"same"`` (default): strided convolutions and pools use TF ``"same"``
  padding. That equals the ``ZeroPadding2D(correct_pad) + "valid"`` pair of
  ``keras.applications`` on every input size (even sizes pad ``k//2 - 1``
  before and ``k//2`` after, odd sizes ``k//2`` on both sides) and leaves no
  separate ``PAD`` op in exported files.
* ``"symmetric"``: strided convolutions and pools pad ``k//2`` zeros on every
  side (a ``ZeroPadding2D`` layer named ``<name>_pad``) and run ``"valid"``,
  as PyTorch's ``padding=k//2`` does; needed for exact outputs with weights
  trained in PyTorch. Average pools then count the padding (PyTorch's
  ``count_include_pad=True``); max pools see zeros, which equals PyTorch's
  ``-inf`` padding for non-negative inputs (every pool in these models
  follows a ReLU).

Stride-1 layers with odd kernels are padded symmetrically in both modes.
"""

from __future__ import annotations

from typing import Any

from keras import layers

from keras_lightnets.layers import (
    ACTIVATIONS,
    AveragePooling2D,
    ChannelShuffle,
    ChannelSplit,
    HardSigmoid,
    LayerScale,
    MultiQueryAttention,
    activation_layer,
)
from keras_lightnets.validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
)

__all__ = [
    "KERAS_BN_EPSILON",
    "KERAS_BN_MOMENTUM",
    "KERAS_V1_BN_MOMENTUM",
    "PADDINGS",
    "TORCH_BN_EPSILON",
    "TORCH_BN_MOMENTUM",
    "bottleneck",
    "conv_block",
    "depthwise_separable",
    "fused_inverted_bottleneck",
    "make_divisible",
    "mobile_mqa",
    "pool_block",
    "shuffle_unit",
    "shuffle_v2_unit",
    "squeeze",
    "universal_inverted_bottleneck",
]

_ACTIVATION_CHOICES = (None, *ACTIVATIONS)
PADDINGS = ("same", "symmetric")

# BatchNorm defaults, one place each, in Keras' convention (momentum = 1 - PyTorch's momentum).
# Each block defaults to the settings of the reference its family was released in:
#: keras.applications' MobileNetV2 / V3 (TF-slim's): conv_block, bottleneck and the V2/V3 models.
KERAS_BN_MOMENTUM = 0.999
KERAS_BN_EPSILON = 1e-3
#: keras.applications' MobileNet (V1) keeps Keras' BatchNormalization default: depthwise_separable, MobileNetV1.
KERAS_V1_BN_MOMENTUM = 0.99
#: PyTorch's BatchNorm2d (momentum 0.1, eps 1e-5), for the families released in PyTorch
#: (ShuffleNetV1: megvii; ShuffleNetV2: torchvision; MobileNetV4: timm): their blocks and models.
TORCH_BN_MOMENTUM = 0.9
TORCH_BN_EPSILON = 1e-5


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never below 90%.

    This is the channel rounding of the MobileNetV2/V3 reference code:
    ``max(min_value, int(value + divisor / 2) // divisor * divisor)``, plus one
    more ``divisor`` when that would lose more than 10% of ``value``.

    Args:
        value: the unrounded channel count (> 0).
        divisor: the multiple to round to (>= 1).
        min_value: the smallest result; defaults to ``divisor``.

    Examples:
        >>> make_divisible(32 * 0.35), make_divisible(18), make_divisible(1280 * 1.4)
        (16, 24, 1792)
    """
    value = check_float("value", value, low=0.0, low_inclusive=False)
    divisor = check_int("divisor", divisor, low=1)
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


def _channels(x: Any) -> int:
    channels = x.shape[-1]
    if channels is None:
        raise ValueError(
            f"The channel dimension of the input tensor must be known; got shape {x.shape}."
        )
    return int(channels)


def _pad(x: Any, kernel_size: int, strides: int, padding: str, name: str) -> tuple[Any, str]:
    """Apply ``padding`` for a ``kernel_size`` / ``strides`` layer named ``name``.

    Returns the (maybe padded) tensor and the Keras padding mode to use.
    """
    check_choice("padding", padding, PADDINGS)
    if padding == "symmetric" and strides > 1 and kernel_size > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        return x, "valid"
    return x, "same"


def pool_block(
    x: Any,
    kind: str,
    pool_size: int = 3,
    strides: int = 2,
    *,
    padding: str = "same",
    name: str,
) -> Any:
    """Max or average pooling with the package's ``padding`` modes.

    Args:
        x: a 4-D channels-last tensor.
        kind: ``"max"`` or ``"avg"``.
        pool_size: square window (>= 1).
        strides: stride (>= 1).
        padding: ``"same"`` (TF) or ``"symmetric"`` (PyTorch ``padding=k//2``;
            see the module docstring).
        name: the pooling layer's name (``name_pad`` for the padding layer).

    Examples:
        >>> import keras
        >>> inputs = keras.Input((112, 112, 24))
        >>> pool_block(inputs, "max", padding="symmetric", name="stem_pool").shape
        (None, 56, 56, 24)
    """
    check_choice("kind", kind, ("max", "avg"))
    pool_size = check_int("pool_size", pool_size, low=1)
    strides = check_int("strides", strides, low=1)
    x, mode = _pad(x, pool_size, strides, padding, name)
    pool = layers.MaxPooling2D if kind == "max" else AveragePooling2D
    return pool(pool_size, strides, padding=mode, name=name)(x)


def conv_block(
    x: Any,
    filters: int | None = None,
    kernel_size: int = 1,
    strides: int = 1,
    *,
    depthwise: bool = False,
    depth_multiplier: int = 1,
    groups: int = 1,
    dilation_rate: int = 1,
    activation: str | None = None,
    batch_norm: bool = True,
    use_bias: bool | None = None,
    bn_momentum: float = KERAS_BN_MOMENTUM,
    bn_epsilon: float = KERAS_BN_EPSILON,
    padding: str = "same",
    name: str,
) -> Any:
    """Convolution -> BatchNorm -> optional activation.

    Args:
        x: a 4-D channels-last tensor.
        filters: output channels (>= 1) of a regular or group convolution.
            Must be ``None`` when ``depthwise`` is set (the output then has
            ``in_channels * depth_multiplier`` channels).
        kernel_size: square kernel size (>= 1).
        strides: 1 or 2 (any >= 1 is accepted).
        depthwise: use ``DepthwiseConv2D`` instead of ``Conv2D``.
        depth_multiplier: channel multiplier (>= 1) of a depthwise conv.
        groups: groups (>= 1) of a regular convolution; must divide the input
            channels and ``filters``.
        dilation_rate: dilation (>= 1); only with ``strides == 1``.
        activation: ``None`` (linear), ``"relu"``, ``"relu6"``,
            ``"hard_swish"`` or ``"hard_sigmoid"``.
        batch_norm: add a ``BatchNormalization`` after the convolution.
        use_bias: give the convolution a bias; defaults to ``not batch_norm``.
        bn_momentum: BatchNorm moving-average momentum in (0, 1).
        bn_epsilon: BatchNorm epsilon (> 0).
        padding: ``"same"`` or ``"symmetric"`` (see the module docstring).
        name: the prefix of every layer name: ``name``, ``name_bn``, ``name_act``
            (and ``name_pad`` for a symmetric strided conv).

    Examples:
        >>> import keras
        >>> inputs = keras.Input((32, 32, 3))
        >>> conv_block(inputs, 16, 3, 2, activation="hard_swish", name="stem").shape
        (None, 16, 16, 16)
    """
    check_bool("depthwise", depthwise)
    check_bool("batch_norm", batch_norm)
    kernel_size = check_int("kernel_size", kernel_size, low=1)
    strides = check_int("strides", strides, low=1)
    dilation_rate = check_int("dilation_rate", dilation_rate, low=1)
    check_choice("activation", activation, _ACTIVATION_CHOICES)
    check_float("bn_momentum", bn_momentum, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    check_float("bn_epsilon", bn_epsilon, low=0.0, low_inclusive=False)
    if strides > 1 and dilation_rate > 1:
        raise ValueError(
            f"`strides` ({strides}) and `dilation_rate` ({dilation_rate}) cannot both be > 1."
        )
    if use_bias is None:
        use_bias = not batch_norm
    check_bool("use_bias", use_bias)
    in_channels = _channels(x)
    x, mode = _pad(x, kernel_size, strides, padding, name)
    if depthwise:
        if filters is not None:
            raise ValueError(
                f"`filters` must be None for a depthwise conv_block (output channels are "
                f"in_channels * depth_multiplier); received filters={filters!r}."
            )
        depth_multiplier = check_int("depth_multiplier", depth_multiplier, low=1)
        conv = layers.DepthwiseConv2D(
            kernel_size,
            strides=strides,
            padding=mode,
            depth_multiplier=depth_multiplier,
            dilation_rate=dilation_rate,
            use_bias=use_bias,
            name=name,
        )
    else:
        filters = check_int("filters", filters, low=1)
        groups = check_int("groups", groups, low=1)
        if in_channels % groups or filters % groups:
            raise ValueError(
                f"`groups` ({groups}) must divide the input channels ({in_channels}) "
                f"and `filters` ({filters})."
            )
        conv = layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=mode,
            groups=groups,
            dilation_rate=dilation_rate,
            use_bias=use_bias,
            name=name,
        )
    x = conv(x)
    if batch_norm:
        x = layers.BatchNormalization(
            momentum=bn_momentum, epsilon=bn_epsilon, name=f"{name}_bn"
        )(x)
    if activation is not None:
        x = activation_layer(activation, name=f"{name}_act")(x)
    return x


def depthwise_separable(
    x: Any,
    filters: int,
    strides: int = 1,
    *,
    depth_multiplier: int = 1,
    dilation_rate: int = 1,
    activation: str = "relu6",
    batch_norm: bool = True,
    bn_momentum: float = KERAS_V1_BN_MOMENTUM,
    bn_epsilon: float = KERAS_BN_EPSILON,
    padding: str = "same",
    name: str,
) -> Any:
    """MobileNetV1 unit: 3x3 depthwise -> BN -> act -> 1x1 conv -> BN -> act.

    Args:
        x: a 4-D channels-last tensor.
        filters: output channels (>= 1) of the pointwise conv.
        strides: stride (>= 1) of the depthwise conv.
        depth_multiplier: depthwise channel multiplier (>= 1), the
            "resolution multiplier" argument of ``keras.applications.MobileNet``.
        dilation_rate: dilation (>= 1) of the depthwise conv (stride 1 only);
            used for ``output_stride`` 16 / 8.
        activation: activation after both convs (see :func:`conv_block`).
        batch_norm: as in :func:`conv_block`.
        bn_momentum: as in :func:`conv_block`.
        bn_epsilon: as in :func:`conv_block`.
        padding: as in :func:`conv_block`.
        name: prefix; layers are ``name_depthwise*`` and ``name_pointwise*``.

    Examples:
        >>> import keras
        >>> inputs = keras.Input((32, 32, 32))
        >>> depthwise_separable(inputs, 64, 2, name="block_1").shape
        (None, 16, 16, 64)
    """
    norm = dict(batch_norm=batch_norm, bn_momentum=bn_momentum, bn_epsilon=bn_epsilon)
    x = conv_block(
        x,
        None,
        3,
        strides,
        depthwise=True,
        padding=padding,
        depth_multiplier=depth_multiplier,
        dilation_rate=dilation_rate,
        activation=activation,
        name=f"{name}_depthwise",
        **norm,
    )
    return conv_block(x, filters, 1, activation=activation, name=f"{name}_pointwise", **norm)


def squeeze(
    x: Any,
    filters: int | None = None,
    *,
    ratio: float = 0.25,
    divisor: int = 8,
    name: str,
) -> Any:
    """Squeeze-and-excitation as in MobileNetV3.

    Global average pool -> 1x1 conv (with bias) to ``filters`` -> ReLU ->
    1x1 conv (with bias) back to the input channels -> hard sigmoid
    (``relu6(x + 3) / 6``) -> multiply with the input. No BatchNorm inside.

    Args:
        x: a 4-D channels-last tensor.
        filters: reduced channels (>= 1); default
            ``make_divisible(in_channels * ratio, divisor)``.
        ratio: reduction ratio in (0, 1], used when ``filters`` is None.
        divisor: rounding multiple (>= 1) for the reduced channels.
        name: prefix of the layers (``name_pool``, ``name_reduce``,
            ``name_relu``, ``name_expand``, ``name_gate``, ``name_mul``).

    Examples:
        >>> import keras
        >>> inputs = keras.Input((14, 14, 72))
        >>> squeeze(inputs, name="se").shape
        (None, 14, 14, 72)
    """
    in_channels = _channels(x)
    if filters is None:
        ratio = check_float("ratio", ratio, low=0.0, high=1.0, low_inclusive=False)
        filters = make_divisible(in_channels * ratio, divisor)
    filters = check_int("filters", filters, low=1)
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
    s = layers.Conv2D(filters, 1, use_bias=True, name=f"{name}_reduce")(s)
    s = layers.ReLU(name=f"{name}_relu")(s)
    s = layers.Conv2D(in_channels, 1, use_bias=True, name=f"{name}_expand")(s)
    s = HardSigmoid(name=f"{name}_gate")(s)
    return layers.Multiply(name=f"{name}_mul")([x, s])


def bottleneck(
    x: Any,
    filters: int,
    expanded_filters: int,
    kernel_size: int = 3,
    strides: int = 1,
    *,
    se: bool = False,
    activation: str = "relu6",
    dilation_rate: int = 1,
    batch_norm: bool = True,
    bn_momentum: float = KERAS_BN_MOMENTUM,
    bn_epsilon: float = KERAS_BN_EPSILON,
    padding: str = "same",
    name: str,
) -> Any:
    """Inverted residual (MobileNetV2) with optional SE (MobileNetV3).

    1x1 expansion conv -> BN -> act (omitted when ``expanded_filters`` equals
    the input channels), k x k depthwise -> BN -> act, optional
    :func:`squeeze` on the expanded features, linear 1x1 projection -> BN,
    and a residual add when ``strides == 1`` and input channels == ``filters``.

    Args:
        x: a 4-D channels-last tensor.
        filters: output channels (>= 1) of the linear projection.
        expanded_filters: channels (>= 1) of the expansion / depthwise stage.
        kernel_size: depthwise kernel (>= 1), 3 or 5 in the papers.
        strides: depthwise stride (>= 1).
        se: add squeeze-and-excitation after the depthwise activation.
        activation: ``"relu"``, ``"relu6"`` or ``"hard_swish"``.
        dilation_rate: dilation (>= 1) of the depthwise conv (stride 1 only);
            used for ``output_stride`` 16 / 8.
        batch_norm: use BatchNorm (when False the convs get biases).
        bn_momentum: as in :func:`conv_block`.
        bn_epsilon: as in :func:`conv_block`.
        padding: as in :func:`conv_block`.
        name: prefix (``name_expand``, ``name_depthwise``, ``name_se_*``,
            ``name_project``, ``name_add``).

    Examples:
        >>> import keras
        >>> inputs = keras.Input((28, 28, 24))
        >>> bottleneck(inputs, 40, 72, 5, 2, se=True, activation="relu", name="b3").shape
        (None, 14, 14, 40)
    """
    check_bool("se", se)
    expanded_filters = check_int("expanded_filters", expanded_filters, low=1)
    in_channels = _channels(x)
    norm = dict(batch_norm=batch_norm, bn_momentum=bn_momentum, bn_epsilon=bn_epsilon)
    shortcut = x
    if expanded_filters != in_channels:
        x = conv_block(x, expanded_filters, 1, activation=activation, name=f"{name}_expand", **norm)
    x = conv_block(
        x,
        None,
        kernel_size,
        strides,
        depthwise=True,
        dilation_rate=dilation_rate,
        activation=activation,
        padding=padding,
        name=f"{name}_depthwise",
        **norm,
    )
    if se:
        x = squeeze(x, name=f"{name}_se")
    x = conv_block(x, filters, 1, activation=None, name=f"{name}_project", **norm)
    if strides == 1 and in_channels == filters:
        x = layers.Add(name=f"{name}_add")([shortcut, x])
    return x


def shuffle_unit(
    x: Any,
    out_channels: int,
    groups: int,
    strides: int = 1,
    *,
    group_first_conv: bool = True,
    downsample: bool | None = None,
    dilation_rate: int = 1,
    bn_momentum: float = TORCH_BN_MOMENTUM,
    bn_epsilon: float = TORCH_BN_EPSILON,
    padding: str = "same",
    name: str,
) -> Any:
    """ShuffleNetV1 unit (Zhang et al. 2017, Fig. 2 b/c).

    1x1 group conv to ``out_channels // 4`` -> BN -> ReLU -> channel shuffle ->
    3x3 depthwise (stride) -> BN (no ReLU) -> 1x1 group conv -> BN. At stride 1
    the input is added and ReLU applied; at stride 2 the main branch produces
    ``out_channels - in_channels`` channels and is concatenated after a 3x3
    stride-2 average pool of the input, then ReLU (applied to both parts
    before the concatenation: the same function, fewer ops in int8 files).

    Args:
        x: a 4-D channels-last tensor.
        out_channels: output channels (>= 4); ``out_channels // 4`` and the main
            branch output must be divisible by ``groups``. At stride 1 it must
            equal the input channels.
        groups: groups (>= 1) of the 1x1 convolutions and the shuffle.
        strides: 1 or 2.
        group_first_conv: False makes the first 1x1 conv dense (the first unit
            of stage 2, whose input has only 24 channels).
        downsample: build the stride-2 form (average-pooled shortcut,
            concatenation); default ``strides == 2``. True with ``strides=1``
            is a stage's first unit under ``output_stride`` (stride removed).
        dilation_rate: dilation (>= 1) of the depthwise conv (stride 1 only).
        bn_momentum: BatchNorm settings (defaults: PyTorch's).
        bn_epsilon: BatchNorm settings (defaults: PyTorch's).
        padding: ``"same"`` or ``"symmetric"`` for the stride-2 depthwise conv
            and average pool (see the module docstring).
        name: layer name prefix.

    Examples:
        >>> import keras
        >>> inputs = keras.Input((28, 28, 240))
        >>> shuffle_unit(inputs, 480, 3, 2, name="stage3_unit1").shape
        (None, 14, 14, 480)
    """
    groups = check_int("groups", groups, low=1)
    out_channels = check_int("out_channels", out_channels, low=4)
    strides = check_choice("strides", strides, (1, 2))
    check_bool("group_first_conv", group_first_conv)
    downsample = check_bool("downsample", strides == 2 if downsample is None else downsample)
    if strides == 2 and not downsample:
        raise ValueError("`downsample=False` needs strides=1: a stride-2 unit is a downsampling unit.")
    in_channels = _channels(x)
    mid_channels = out_channels // 4
    main_channels = out_channels - in_channels if downsample else out_channels
    first_groups = groups if group_first_conv else 1
    if not downsample and in_channels != out_channels:
        raise ValueError(
            f"`out_channels` ({out_channels}) must equal the input channels ({in_channels}) "
            "in a stride-1 shuffle_unit."
        )
    if main_channels < 1 or mid_channels % groups or main_channels % groups or in_channels % first_groups:
        raise ValueError(
            f"`groups` ({groups}) must divide out_channels // 4 ({mid_channels}), the main "
            f"branch output ({main_channels} = out_channels - in_channels at stride 2) and, "
            f"with group_first_conv, the input channels ({in_channels}); received "
            f"out_channels={out_channels}."
        )
    norm = dict(bn_momentum=bn_momentum, bn_epsilon=bn_epsilon)
    y = conv_block(x, mid_channels, 1, groups=first_groups, activation="relu", name=f"{name}_gconv1", **norm)
    if groups > 1:
        y = ChannelShuffle(groups, name=f"{name}_shuffle")(y)
    y = conv_block(
        y, None, 3, strides, depthwise=True, dilation_rate=dilation_rate, padding=padding,
        name=f"{name}_depthwise", **norm,
    )
    if not downsample:
        y = conv_block(y, main_channels, 1, groups=groups, name=f"{name}_gconv2", **norm)
        return layers.ReLU(name=f"{name}_relu")(layers.Add(name=f"{name}_add")([x, y]))
    # ReLU(concat(a, b)) = concat(ReLU(a), ReLU(b)): each ReLU fuses into the op before it
    # (a lone int8 RELU after the concatenation is not run by LiteRT's XNNPACK).
    y = conv_block(y, main_channels, 1, groups=groups, activation="relu", name=f"{name}_gconv2", **norm)
    pooled = pool_block(x, "avg", 3, strides, padding=padding, name=f"{name}_pool")
    pooled = layers.ReLU(name=f"{name}_pool_relu")(pooled)
    return layers.Concatenate(name=f"{name}_concat")([pooled, y])


def shuffle_v2_unit(
    x: Any,
    out_channels: int,
    strides: int = 1,
    *,
    downsample: bool | None = None,
    dilation_rate: int = 1,
    bn_momentum: float = TORCH_BN_MOMENTUM,
    bn_epsilon: float = TORCH_BN_EPSILON,
    padding: str = "same",
    name: str,
) -> Any:
    """ShuffleNetV2 unit (Ma et al. 2018, Fig. 3 c/d), torchvision's layout.

    Stride 1: split the channels in half; the right half goes through 1x1 conv
    -> BN -> ReLU -> 3x3 depthwise -> BN -> 1x1 conv -> BN -> ReLU; concat
    ``[left, right]``; shuffle with 2 groups. Stride 2: both branches see the
    whole input; left: 3x3 depthwise stride 2 -> BN -> 1x1 conv -> BN -> ReLU;
    right as above with a stride-2 depthwise. Convs have no bias.

    Args:
        x: a 4-D channels-last tensor.
        out_channels: output channels (>= 2, even). At stride 1 it must equal
            the input channels.
        strides: 1 or 2.
        downsample: build the two-branch stride-2 form; default
            ``strides == 2``. True with ``strides=1`` is a stage's first unit
            under ``output_stride`` (stride removed).
        dilation_rate: dilation (>= 1) of the depthwise convs (stride 1 only).
        bn_momentum: BatchNorm settings (defaults: PyTorch's).
        bn_epsilon: BatchNorm settings (defaults: PyTorch's).
        padding: ``"same"`` or ``"symmetric"`` for the stride-2 depthwise
            convs (see the module docstring).
        name: layer name prefix.

    Examples:
        >>> import keras
        >>> inputs = keras.Input((56, 56, 24))
        >>> shuffle_v2_unit(inputs, 116, 2, name="stage2_unit1").shape
        (None, 28, 28, 116)
    """
    out_channels = check_int("out_channels", out_channels, low=2)
    strides = check_choice("strides", strides, (1, 2))
    downsample = check_bool("downsample", strides == 2 if downsample is None else downsample)
    if strides == 2 and not downsample:
        raise ValueError("`downsample=False` needs strides=1: a stride-2 unit is a downsampling unit.")
    in_channels = _channels(x)
    if out_channels % 2 or (not downsample and in_channels != out_channels):
        raise ValueError(
            f"`out_channels` must be even and, in a unit that does not downsample, equal the input "
            f"channels ({in_channels}); received out_channels={out_channels}, strides={strides}."
        )
    branch = out_channels // 2
    norm = dict(bn_momentum=bn_momentum, bn_epsilon=bn_epsilon)
    spatial = dict(depthwise=True, dilation_rate=dilation_rate, padding=padding)
    if not downsample:
        left, right = ChannelSplit(name=f"{name}_split")(x)
    else:
        left = conv_block(x, None, 3, strides, name=f"{name}_proj_depthwise", **spatial, **norm)
        left = conv_block(left, branch, 1, activation="relu", name=f"{name}_proj_pointwise", **norm)
        right = x
    right = conv_block(right, branch, 1, activation="relu", name=f"{name}_pointwise1", **norm)
    right = conv_block(right, None, 3, strides, name=f"{name}_depthwise", **spatial, **norm)
    right = conv_block(right, branch, 1, activation="relu", name=f"{name}_pointwise2", **norm)
    y = layers.Concatenate(name=f"{name}_concat")([left, right])
    return ChannelShuffle(2, name=f"{name}_shuffle")(y)


def _check_layer_scale(layer_scale: Any) -> None:
    if layer_scale is not None:
        check_float("layer_scale", layer_scale, low=0.0, low_inclusive=False)


def _residual(x: Any, shortcut: Any, layer_scale: float | None, name: str) -> Any:
    """Optional :class:`LayerScale` (``name_scale``), then add ``shortcut`` when the shapes allow (``name_add``)."""
    if layer_scale is not None:
        x = LayerScale(layer_scale, name=f"{name}_scale")(x)
    if tuple(shortcut.shape[1:]) == tuple(x.shape[1:]):
        x = layers.Add(name=f"{name}_add")([shortcut, x])
    return x


def universal_inverted_bottleneck(
    x: Any,
    filters: int,
    expansion: float,
    start_kernel: int = 0,
    middle_kernel: int = 3,
    strides: int = 1,
    *,
    activation: str = "relu",
    layer_scale: float | None = None,
    dilation_rate: int = 1,
    bn_momentum: float = TORCH_BN_MOMENTUM,
    bn_epsilon: float = TORCH_BN_EPSILON,
    padding: str = "same",
    name: str,
) -> Any:
    """Universal inverted bottleneck (UIB) of MobileNetV4 (Qin et al. 2024, arXiv 2404.10518, Fig. 4).

    Optional start ``start_kernel`` depthwise -> BN (no activation); 1x1
    expansion to ``make_divisible(in_channels * expansion, 8)`` -> BN -> act;
    optional middle ``middle_kernel`` depthwise -> BN -> act; linear 1x1
    projection -> BN; optional :class:`~keras_lightnets.layers.LayerScale`;
    residual add when the output has the input's shape. The stride sits on
    the middle depthwise, or on the start one when there is no middle one.
    The paper's four instances: ExtraDW (both kernels), IB (middle only,
    MobileNetV2's block), ConvNext-like (start only) and FFN (neither). Convs
    have no bias (timm's ``UniversalInvertedResidual``).

    Args:
        x: a 4-D channels-last tensor.
        filters: output channels (>= 1).
        expansion: expansion ratio (> 0) of the 1x1 expansion conv.
        start_kernel: kernel (>= 0) of the start depthwise conv; 0: none.
        middle_kernel: kernel (>= 0) of the middle depthwise conv; 0: none.
        strides: 1 or 2; 2 needs a start or middle depthwise conv.
        activation: activation after the expansion and middle depthwise
            (see :func:`conv_block`; MobileNetV4: ``"relu"``, Hybrid-L ``"gelu"``).
        layer_scale: initial value of a per-channel layer scale before the
            residual (MobileNetV4 hybrids: 1e-5), or None for none.
        dilation_rate: dilation (>= 1) of the depthwise convs (stride 1 only).
        bn_momentum: as in :func:`conv_block` (default: PyTorch's BatchNorm).
        bn_epsilon: as in :func:`conv_block` (default: PyTorch's BatchNorm).
        padding: as in :func:`conv_block`.
        name: prefix (``name_start``, ``name_expand``, ``name_middle``,
            ``name_project``, ``name_scale``, ``name_add``).

    Examples:
        >>> import keras
        >>> inputs = keras.Input((28, 28, 64))
        >>> universal_inverted_bottleneck(inputs, 96, 3.0, 5, 5, 2, name="b").shape
        (None, 14, 14, 96)
    """
    expansion = check_float("expansion", expansion, low=0.0, low_inclusive=False)
    start_kernel = check_int("start_kernel", start_kernel, low=0)
    middle_kernel = check_int("middle_kernel", middle_kernel, low=0)
    strides = check_choice("strides", strides, (1, 2))
    _check_layer_scale(layer_scale)
    if strides > 1 and not (start_kernel or middle_kernel):
        raise ValueError(
            "A strided universal_inverted_bottleneck needs a depthwise conv to carry the stride; "
            f"received start_kernel=0, middle_kernel=0, strides={strides}."
        )
    norm = dict(bn_momentum=bn_momentum, bn_epsilon=bn_epsilon, padding=padding)
    shortcut = x
    if start_kernel:
        x = conv_block(
            x, None, start_kernel, 1 if middle_kernel else strides, depthwise=True,
            dilation_rate=dilation_rate, name=f"{name}_start", **norm,
        )
    x = conv_block(x, make_divisible(_channels(x) * expansion), 1, activation=activation, name=f"{name}_expand", **norm)
    if middle_kernel:
        x = conv_block(
            x, None, middle_kernel, strides, depthwise=True, dilation_rate=dilation_rate,
            activation=activation, name=f"{name}_middle", **norm,
        )
    x = conv_block(x, filters, 1, name=f"{name}_project", **norm)
    return _residual(x, shortcut, layer_scale, name)


def fused_inverted_bottleneck(
    x: Any,
    filters: int,
    expansion: float,
    kernel_size: int = 3,
    strides: int = 1,
    *,
    activation: str = "relu",
    bn_momentum: float = TORCH_BN_MOMENTUM,
    bn_epsilon: float = TORCH_BN_EPSILON,
    padding: str = "same",
    name: str,
) -> Any:
    """Fused inverted bottleneck (FusedIB; EfficientNetV2's Fused-MBConv) as in MobileNetV4.

    ``kernel_size`` full convolution (carrying the stride) to
    ``make_divisible(in_channels * expansion, 8)`` -> BN -> act; linear 1x1
    projection -> BN; residual add when the output has the input's shape.
    Convs have no bias (timm's ``EdgeResidual``).

    Args:
        x: a 4-D channels-last tensor.
        filters: output channels (>= 1).
        expansion: expansion ratio (> 0).
        kernel_size: kernel (>= 1) of the expansion conv.
        strides: 1 or 2.
        activation: activation after the expansion (see :func:`conv_block`).
        bn_momentum: as in :func:`conv_block`.
        bn_epsilon: as in :func:`conv_block`.
        padding: as in :func:`conv_block`.
        name: prefix (``name_expand``, ``name_project``, ``name_add``).

    Examples:
        >>> import keras
        >>> inputs = keras.Input((112, 112, 32))
        >>> fused_inverted_bottleneck(inputs, 48, 4.0, 3, 2, name="b").shape
        (None, 56, 56, 48)
    """
    expansion = check_float("expansion", expansion, low=0.0, low_inclusive=False)
    strides = check_choice("strides", strides, (1, 2))
    norm = dict(bn_momentum=bn_momentum, bn_epsilon=bn_epsilon, padding=padding)
    shortcut = x
    x = conv_block(
        x, make_divisible(_channels(x) * expansion), kernel_size, strides, activation=activation,
        name=f"{name}_expand", **norm,
    )
    x = conv_block(x, filters, 1, name=f"{name}_project", **norm)
    return _residual(x, shortcut, None, name)


def mobile_mqa(
    x: Any,
    filters: int,
    num_heads: int,
    key_dim: int,
    kv_strides: int = 1,
    kv_kernel_size: int = 3,
    *,
    layer_scale: float | None = 1e-5,
    bn_momentum: float = TORCH_BN_MOMENTUM,
    bn_epsilon: float = TORCH_BN_EPSILON,
    padding: str = "same",
    name: str,
) -> Any:
    """Mobile multi-query attention block of the MobileNetV4 hybrids (arXiv 2404.10518, Sec. 4).

    BN (no activation) -> multi-query attention -> optional layer scale ->
    residual add (when the output has the input's shape). Queries: 1x1 conv to
    ``num_heads * key_dim``; key and value: one shared head each, a 1x1 conv to
    ``key_dim``, each after its own ``kv_kernel_size`` depthwise conv with
    stride ``kv_strides`` -> BN when ``kv_strides`` is 2 (the spatial
    reduction of the paper's Mobile MQA); attention
    (:class:`~keras_lightnets.layers.MultiQueryAttention`); 1x1 output conv
    to ``filters``. No convolution has a bias (timm's ``MobileAttention`` with
    ``MultiQueryAttention2d``; value dim = key dim).

    Args:
        x: a 4-D channels-last tensor.
        filters: output channels (>= 1).
        num_heads: query heads (>= 1).
        key_dim: channels (>= 1) per head of queries, key and value.
        kv_strides: 1 or 2: down-sampling of key and value.
        kv_kernel_size: kernel (>= 1) of the key/value down-sampling convs.
        layer_scale: initial layer-scale value, or None for none.
        bn_momentum: as in :func:`conv_block`.
        bn_epsilon: as in :func:`conv_block`.
        padding: as in :func:`conv_block`.
        name: prefix (``name_norm``, ``name_query``, ``name_key_down[_bn]``,
            ``name_key``, ``name_value_down[_bn]``, ``name_value``,
            ``name_attention``, ``name_output``, ``name_scale``, ``name_add``).

    Examples:
        >>> import keras
        >>> inputs = keras.Input((14, 14, 160))
        >>> mobile_mqa(inputs, 160, 4, 64, kv_strides=2, name="b").shape
        (None, 14, 14, 160)
    """
    num_heads = check_int("num_heads", num_heads, low=1)
    key_dim = check_int("key_dim", key_dim, low=1)
    kv_strides = check_choice("kv_strides", kv_strides, (1, 2))
    _check_layer_scale(layer_scale)
    norm = dict(bn_momentum=bn_momentum, bn_epsilon=bn_epsilon)
    shortcut = x
    x = layers.BatchNormalization(momentum=bn_momentum, epsilon=bn_epsilon, name=f"{name}_norm")(x)
    query = conv_block(x, num_heads * key_dim, 1, batch_norm=False, use_bias=False, name=f"{name}_query")
    heads = []
    for part in ("key", "value"):
        y = x
        if kv_strides > 1:
            y = conv_block(
                y, None, kv_kernel_size, kv_strides, depthwise=True, padding=padding, name=f"{name}_{part}_down", **norm
            )
        heads.append(conv_block(y, key_dim, 1, batch_norm=False, use_bias=False, name=f"{name}_{part}"))
    x = MultiQueryAttention(num_heads, name=f"{name}_attention")([query, *heads])
    x = conv_block(x, filters, 1, batch_norm=False, use_bias=False, name=f"{name}_output")
    return _residual(x, shortcut, layer_scale, name)
