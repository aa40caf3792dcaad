"""The few registered custom layers the networks need.

Everything here is a plain ``keras.layers.Layer`` subclass registered under the
``keras_lightnets`` package, so models that use them save to ``.keras`` and
reload with ``keras.saving.load_model(path, safe_mode=True)``: no ``Lambda``.

The hard activations are written as ``relu6(x + 3) / 6`` (multiplied by the
constant ``1/6``) because that is the exact definition of the MobileNetV3 paper
and the form the TFLite converter fuses into its ``HARD_SWISH`` kernel.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import layers, ops

from keras_lightnets.validation import check_bool, check_choice, check_float, check_int

__all__ = [
    "ACTIVATIONS",
    "AveragePooling2D",
    "ChannelShuffle",
    "ChannelSplit",
    "HardSigmoid",
    "HardSwish",
    "LayerScale",
    "MultiQueryAttention",
    "activation_layer",
]

_PACKAGE = "keras_lightnets"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class HardSigmoid(layers.Layer):
    """Hard sigmoid of MobileNetV3: ``relu6(x + 3) / 6``.

    Used as the squeeze-and-excitation gate. Output is in [0, 1].

    Examples:
        >>> import numpy as np
        >>> HardSigmoid()(np.array([-4.0, 0.0, 4.0])).numpy().tolist()
        [0.0, 0.5, 1.0]
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any) -> Any:
        return ops.relu6(inputs + 3.0) * (1.0 / 6.0)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape


@keras.saving.register_keras_serializable(package=_PACKAGE)
class HardSwish(layers.Layer):
    """Hard swish of MobileNetV3: ``x * relu6(x + 3) / 6``.

    Args:
        decomposed: write the same function as ``(x / 6) * relu6((x / 6) * 6 + 3)``,
            which the TFLite converter keeps as MUL/ADD ops instead of fusing
            one ``HARD_SWISH`` op. Full-integer files need it: LiteRT's XNNPACK
            has no int8 ``HARD_SWISH`` and falls back to a slow kernel
            (MobileNetV3-Small int8: 4.1 ms fused, 1.4 ms decomposed, here).
            :func:`keras_lightnets.export.to_tflite` switches it on for int8.
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Examples:
        >>> import numpy as np
        >>> HardSwish()(np.array([-4.0, 0.0, 4.0])).numpy().tolist()
        [-0.0, 0.0, 4.0]
    """

    def __init__(self, decomposed: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.decomposed = check_bool("decomposed", decomposed)
        self.supports_masking = True

    def call(self, inputs: Any) -> Any:
        if self.decomposed:
            scaled = inputs * (1.0 / 6.0)
            return scaled * ops.relu6(scaled * 6.0 + 3.0)
        return inputs * ops.relu6(inputs + 3.0) * (1.0 / 6.0)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "decomposed": self.decomposed}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ChannelShuffle(layers.Layer):
    """ShuffleNet channel shuffle for channels-last tensors of any spatial size.

    Output channel ``c * groups + i`` is input channel ``i * (C // groups) + c``:
    with 8 channels and 2 groups the order is ``[0, 4, 1, 5, 2, 6, 3, 7]``.
    Implemented as reshape to ``[B * H * W, groups, C // groups]``, swap of the
    last two axes, reshape back: never a tensor of rank > 4, so TFLite gets a
    plain 3-D ``TRANSPOSE`` (Edge TPU and XNNPACK reject or slow down 5-D ones).

    Args:
        groups: number of groups (>= 1); must divide the channel count
            (checked when the layer is built).

    Examples:
        >>> import numpy as np
        >>> x = np.arange(8, dtype="float32").reshape(1, 1, 1, 8)
        >>> ChannelShuffle(2)(x).numpy().ravel().tolist()
        [0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0]
    """

    def __init__(self, groups: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.groups = check_int("groups", groups, low=1)

    def build(self, input_shape: tuple) -> None:
        channels = input_shape[-1]
        if len(input_shape) != 4 or channels is None:
            raise ValueError(
                "ChannelShuffle needs a 4-D channels-last input with a known channel "
                f"count; received shape {input_shape}."
            )
        if channels % self.groups:
            raise ValueError(
                f"ChannelShuffle `groups` ({self.groups}) must divide the channel count "
                f"({channels}); received input shape {input_shape}."
            )
        super().build(input_shape)

    def call(self, inputs: Any) -> Any:
        channels = inputs.shape[-1]
        spatial = [inputs.shape[i] if inputs.shape[i] is not None else ops.shape(inputs)[i] for i in (1, 2)]
        x = ops.reshape(inputs, (-1, self.groups, channels // self.groups))
        x = ops.transpose(x, (0, 2, 1))
        return ops.reshape(x, (-1, *spatial, channels))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ChannelSplit(layers.Layer):
    """Split a channels-last tensor into channel pieces: equal halves (ShuffleNetV2) or given sizes.

    With ``sizes=None`` returns ``[first_half, second_half]`` (one ``SPLIT`` op
    in TFLite; the channel count must be even). With ``sizes`` returns one
    piece per size, in order, each a plain slice (``STRIDED_SLICE`` in TFLite,
    which LiteRT's XNNPACK runs; it does not run the ``SPLIT_V`` a sized
    split would become). :func:`keras_lightnets.rewrites.absorb_channel_shuffle`
    uses sizes to cut a piece in two where a split of the original model
    falls inside it unevenly.

    Args:
        sizes: None, or the piece sizes (each >= 1), summing to the channel
            count (checked when the layer is built).

    Examples:
        >>> import numpy as np
        >>> left, right = ChannelSplit()(np.zeros((1, 4, 4, 6), "float32"))
        >>> tuple(left.shape), tuple(right.shape)
        ((1, 4, 4, 3), (1, 4, 4, 3))
        >>> [tuple(p.shape) for p in ChannelSplit(sizes=(1, 5))(np.zeros((1, 4, 4, 6), "float32"))]
        [(1, 4, 4, 1), (1, 4, 4, 5)]
    """

    def __init__(self, sizes: Sequence[int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if sizes is not None:
            if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not sizes:
                raise TypeError(f"`sizes` must be None or a non-empty sequence of ints; received {sizes!r}.")
            sizes = tuple(check_int("sizes", size, low=1) for size in sizes)
        self.sizes = sizes

    def build(self, input_shape: tuple) -> None:
        channels = input_shape[-1]
        if self.sizes is None and (channels is None or channels % 2):
            raise ValueError(
                f"ChannelSplit needs an even, known channel count; received input shape {input_shape}."
            )
        if self.sizes is not None and sum(self.sizes) != channels:
            raise ValueError(
                f"ChannelSplit `sizes` {self.sizes} must sum to the channel count; received input shape "
                f"{input_shape}."
            )
        super().build(input_shape)

    def _bounds(self, channels: int) -> list[tuple[int, int]]:
        if self.sizes is None:
            return [(0, channels // 2), (channels // 2, channels)]
        ends = np.cumsum(self.sizes).tolist()
        return list(zip([0, *ends[:-1]], ends))

    def call(self, inputs: Any) -> list[Any]:
        if self.sizes is None:
            return ops.split(inputs, 2, axis=-1)
        return [inputs[..., start:stop] for start, stop in self._bounds(inputs.shape[-1])]

    def compute_output_shape(self, input_shape: tuple) -> list[tuple]:
        return [(*input_shape[:-1], stop - start) for start, stop in self._bounds(input_shape[-1])]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "sizes": None if self.sizes is None else list(self.sizes)}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class AveragePooling2D(layers.AveragePooling2D):
    """``keras.layers.AveragePooling2D`` whose ``"same"`` padding means the same on every backend.

    TensorFlow and JAX average ``"same"``-padded windows over the real pixels
    only. Keras' PyTorch backend pads an odd total the other way round and
    divides by the full window, so border outputs differ (about 1% of
    ShuffleNetV1's logits). On PyTorch this layer pads as TensorFlow does
    (``total // 2`` before, the rest after) and divides the window sums by the
    count of real pixels; elsewhere it is Keras' layer unchanged (and exports
    as one ``AVERAGE_POOL_2D``).

    Args:
        decomposed: compute the same averages as a depthwise convolution with
            weights ``1 / window`` times a constant map ``window / count`` of
            real pixels per window (1 inside, more at ``"same"`` borders).
            Full-integer files need it: LiteRT's XNNPACK runs no int8
            ``AVERAGE_POOL_2D`` and splits the graph around each one; it runs
            int8 ``DEPTHWISE_CONV_2D`` and ``MUL``, and fuses a following
            ReLU into the ``MUL``. :func:`keras_lightnets.export.to_tflite`
            switches it on for int8.
        **kwargs: ``keras.layers.AveragePooling2D`` arguments (``pool_size``,
            ``strides``, ``padding``, ``name``).

    Examples:
        >>> import numpy as np
        >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
        >>> keras.ops.convert_to_numpy(AveragePooling2D(3, 2, padding="same")(x))[0, :, :, 0].tolist()
        [[5.0, 6.5], [11.0, 12.5]]
    """

    def __init__(self, *args: Any, decomposed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decomposed = check_bool("decomposed", decomposed)

    @staticmethod
    def _same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
        """TensorFlow's ``"same"`` padding of one axis: ``total // 2`` before, the rest after."""
        total = max((-(-size // stride) - 1) * stride + window - size, 0)
        return total // 2, total - total // 2

    def _same_pads(self, inputs: Any) -> list[tuple[int, int]]:
        pads = [self._same_padding(inputs.shape[a], self.pool_size[a - 1], self.strides[a - 1]) for a in (1, 2)]
        return [(0, 0), *pads, (0, 0)]

    def _counts(self, height: int, width: int) -> np.ndarray:
        """Real pixels in each ``"same"`` window, shape (1, out_height, out_width, 1)."""
        counts = []
        for size, window, stride in zip((height, width), self.pool_size, self.strides):
            before, _ = self._same_padding(size, window, stride)
            starts = np.arange(-(-size // stride)) * stride - before
            counts.append(np.minimum(starts + window, size) - np.maximum(starts, 0))
        return np.outer(*counts)[None, :, :, None].astype("float32")

    def call(self, inputs: Any) -> Any:
        if self.decomposed:
            window = self.pool_size[0] * self.pool_size[1]
            kernel = ops.full((*self.pool_size, inputs.shape[-1], 1), 1.0 / window, dtype=inputs.dtype)
            if self.padding == "valid":
                return ops.depthwise_conv(inputs, kernel, self.strides, "valid")
            means = ops.depthwise_conv(ops.pad(inputs, self._same_pads(inputs)), kernel, self.strides, "valid")
            if None in inputs.shape[1:3]:
                ones = ops.pad(ops.ones_like(inputs[..., :1]), self._same_pads(inputs))
                return means / ops.depthwise_conv(ones, kernel[..., :1, :], self.strides, "valid")
            return means * ops.cast(window / self._counts(*inputs.shape[1:3]), inputs.dtype)
        if keras.backend.backend() != "torch" or self.padding != "same":
            return super().call(inputs)
        pads = self._same_pads(inputs)
        sums = ops.average_pool(ops.pad(inputs, pads), self.pool_size, self.strides, "valid")
        counts = ops.average_pool(ops.pad(ops.ones_like(inputs[..., :1]), pads), self.pool_size, self.strides, "valid")
        return sums / counts

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "decomposed": self.decomposed}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LayerScale(layers.Layer):
    """Per-channel learned scale ``x * gamma`` (Touvron et al. 2021; MobileNetV4 hybrids).

    ``gamma`` has one entry per channel (the last axis), initialized to
    ``init_value``; it exports to TFLite as one ``MUL`` by a constant.

    Args:
        init_value: the initial value of every ``gamma`` entry (finite float).
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Examples:
        >>> import numpy as np
        >>> LayerScale(0.5)(np.ones((1, 2, 2, 3), "float32")).numpy()[0, 0, 0].tolist()
        [0.5, 0.5, 0.5]
    """

    def __init__(self, init_value: float = 1e-5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.init_value = check_float("init_value", init_value)

    def build(self, input_shape: tuple) -> None:
        self.gamma = self.add_weight(
            name="gamma", shape=(input_shape[-1],), initializer=keras.initializers.Constant(self.init_value)
        )

    def call(self, inputs: Any) -> Any:
        return inputs * ops.cast(self.gamma, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "init_value": self.init_value}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MultiQueryAttention(layers.Layer):
    """Multi-query attention over the pixels of projected feature maps (MobileNetV4's MQA core).

    Called on ``[query, key, value]``: ``query`` is ``(B, H, W, heads * key_dim)``
    (head-major channels, as timm's ``MultiQueryAttention2d``), ``key`` and
    ``value`` are the one shared head, ``(B, h, w, key_dim)`` and
    ``(B, h, w, value_dim)`` (``h x w`` may be down-sampled). Every query
    pixel and head attends to all ``h * w`` key pixels with
    ``softmax(q k^T / sqrt(key_dim))``; the output is ``(B, H, W, heads * value_dim)``,
    head-major. The projections around it are ordinary 1x1 convolutions (see
    :func:`keras_lightnets.blocks.mobile_mqa`). Written with 3-D reshapes and
    batch matmuls only, so TFLite runs it with builtin ops.

    Args:
        num_heads: query heads (>= 1).
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Examples:
        >>> import numpy as np
        >>> q = np.ones((1, 4, 4, 2 * 8), "float32"); kv = np.ones((1, 2, 2, 8), "float32")
        >>> MultiQueryAttention(2)([q, kv, kv]).shape
        TensorShape([1, 4, 4, 16])
    """

    def __init__(self, num_heads: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, low=1)

    def call(self, inputs: Any) -> Any:
        query, key, value = inputs
        key_dim, value_dim = key.shape[-1], value.shape[-1]
        batch, height, width = ops.shape(query)[0], ops.shape(query)[1], ops.shape(query)[2]
        # (B, H*W*heads, key_dim): pixel-major, then head, as the head-major channels lie.
        q = ops.reshape(query, (batch, -1, key_dim)) * ops.cast(key_dim**-0.5, query.dtype)
        k = ops.reshape(key, (batch, -1, key_dim))
        v = ops.reshape(value, (batch, -1, value_dim))
        weights = ops.softmax(ops.matmul(q, ops.transpose(k, (0, 2, 1))), axis=-1)
        return ops.reshape(ops.matmul(weights, v), (batch, height, width, self.num_heads * value_dim))

    def compute_output_shape(self, input_shape: list) -> tuple:
        query, _, value = input_shape
        return (*query[:3], self.num_heads * value[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_heads": self.num_heads}


#: Activation names accepted by the block builders.
ACTIVATIONS = ("relu", "relu6", "hard_swish", "hard_sigmoid", "gelu")


def activation_layer(kind: str, name: str) -> layers.Layer:
    """Return a fresh activation layer for ``kind``.

    Args:
        kind: one of ``"relu"``, ``"relu6"``, ``"hard_swish"``,
            ``"hard_sigmoid"``, ``"gelu"`` (exact, erf-based: PyTorch's ``nn.GELU()``).
        name: the layer name.

    Examples:
        >>> activation_layer("relu6", name="stem_act").max_value
        6.0
    """
    check_choice("activation", kind, ACTIVATIONS)
    if kind == "relu":
        return layers.ReLU(name=name)
    if kind == "relu6":
        return layers.ReLU(6.0, name=name)
    if kind == "hard_swish":
        return HardSwish(name=name)
    if kind == "gelu":
        return layers.Activation("gelu", name=name)
    return HardSigmoid(name=name)
