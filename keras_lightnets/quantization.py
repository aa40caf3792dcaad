"""Quantization-aware training (QAT) for LiteRT's int8 scheme, in Keras 3.

:func:`quantize_aware` turns a trained float model into an equal-architecture
model whose forward pass computes what LiteRT's int8 kernels will compute:

- **Weights**: per output channel (dense kernels per tensor, as LiteRT's
  ``FULLY_CONNECTED`` takes them), symmetric, narrow range [-127, 127], taken
  from the kernel with the following BatchNormalization *folded in*
  (``kernel * gamma / sqrt(var + eps)``), as the converter folds it.
- **Activations**: per tensor, asymmetric [-128, 127], their ranges tracked by
  an exponential moving average of each batch's min/max while training
  (:class:`ActivationQuantizer`), first set from calibration images.
- **Where**: one quantizer where the converter's fused kernel requantizes:
  after convolution + BatchNorm + ReLU/ReLU6 (one :class:`QuantizedConv`), after
  additions (a following ReLU fuses), multiplications, concatenations, global
  average pooling, each op of the hard activations (:class:`QuantizedHardSwish`,
  :class:`QuantizedHardSigmoid`) and of input rescaling; never between ops that
  fuse. A tensor that only feeds a concatenation is written at the
  concatenation's range (as LiteRT does), so it has no quantizer of its own.
  Ops that keep their input's scale (max pooling, reshapes, channel
  shuffles and splits, padding, resizing) get none. Softmax and sigmoid outputs
  get LiteRT's fixed range (scale 1/256, zero point -128).
- **BatchNorm while training**: statistics keep updating (the weights are
  folded with the moving statistics and the output rescaled to the batch
  statistics: the approximation of Jacob et al. 2018 that PyTorch's ``ConvBn2d``
  uses) until :func:`freeze_batch_norm` freezes them for the last epochs; frozen,
  training computes exactly the folded inference form.

The TFLite converter reads the ``FakeQuantWithMinMaxVars`` ops Keras emits on
TensorFlow (``keras.quantizers.fake_quant_with_min_max_vars``), so
:func:`keras_lightnets.export.to_tflite` writes the int8 file from the learned
ranges, without calibration. A layer the scheme does not cover (grouped
convolutions, attention, standalone BatchNorm, ...) is refused with its name;
nothing is silently left in float.

Reference: B. Jacob et al., "Quantization and Training of Neural Networks for
Efficient Integer-Arithmetic-Only Inference", CVPR 2018; LiteRT's int8
quantization specification.
"""

from __future__ import annotations

from typing import Any, Iterable

import keras
import numpy as np
from keras import layers, ops

from keras_lightnets.models.network import LightNet
from keras_lightnets.layers import ChannelShuffle, ChannelSplit, HardSigmoid, HardSwish
from keras_lightnets.validation import check_bool, check_choice, check_float

__all__ = [
    "ActivationQuantizer",
    "QuantizedConv",
    "QuantizedHardSigmoid",
    "QuantizedHardSwish",
    "QuantizedRescaling",
    "UnsupportedLayerError",
    "freeze_batch_norm",
    "is_quantize_aware",
    "observe",
    "quantize_aware",
]

_PACKAGE = "keras_lightnets"
# LiteRT's int8 softmax / logistic output: scale 1/256, zero point -128 -> [0, 255/256].
PROBABILITY_RANGE = (0.0, 255.0 / 256.0)
_FUSED = {"relu": None, "relu6": 6.0}


class UnsupportedLayerError(ValueError):
    """A layer the int8 scheme of :func:`quantize_aware` does not cover."""


def _fake_quant(x: Any, low: Any, high: Any, narrow: bool = False, axis: int | None = None) -> Any:
    return keras.quantizers.fake_quant_with_min_max_vars(x, low, high, num_bits=8, narrow_range=narrow, axis=axis)


class _Range:
    """Min/max weights of one quantized tensor, owned by a layer (a layer may quantize several tensors)."""

    def __init__(self, owner: layers.Layer, name: str, momentum: float, fixed: tuple[float, float] | None) -> None:
        self.momentum, self.fixed = momentum, fixed
        low, high = fixed or (0.0, 0.0)
        self.low = owner.add_weight(shape=(), initializer=keras.initializers.Constant(low), trainable=False, name=f"{name}_min")
        self.high = owner.add_weight(shape=(), initializer=keras.initializers.Constant(high), trainable=False, name=f"{name}_max")
        self.seen = owner.add_weight(
            shape=(), initializer=keras.initializers.Constant(1.0 if fixed else 0.0), trainable=False, name=f"{name}_seen"
        )

    def __call__(self, x: Any, training: Any, observing: bool) -> Any:
        x = ops.cast(x, "float32")
        low, high = self.low, self.high
        if self.fixed is None and (training or observing):
            batch_low = ops.minimum(ops.min(x), 0.0)  # the range always holds zero (exact zero padding)
            batch_high = ops.maximum(ops.max(x), 0.0)
            seen = self.seen
            if observing:  # calibration: min/max over every image
                new_low = seen * ops.minimum(low, batch_low) + (1.0 - seen) * batch_low
                new_high = seen * ops.maximum(high, batch_high) + (1.0 - seen) * batch_high
            else:  # training: moving average, the first batch sets it
                m = self.momentum
                new_low = seen * (m * low + (1.0 - m) * batch_low) + (1.0 - seen) * batch_low
                new_high = seen * (m * high + (1.0 - m) * batch_high) + (1.0 - seen) * batch_high
            new_low, new_high = ops.stop_gradient(new_low), ops.stop_gradient(new_high)
            self.low.assign(new_low)
            self.high.assign(new_high)
            self.seen.assign(1.0)
            low, high = new_low, new_high
        return _fake_quant(x, low, high)


class _Quantizing(layers.Layer):
    """Base of the layers with activation quantizers: momentum, the calibration switch, config."""

    def __init__(self, momentum: float = 0.99, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.momentum = check_float("momentum", momentum, low=0.0, high=1.0, high_inclusive=False)
        self.observing = False  # set by quantize_aware while calibration images run (eager)

    def _range(self, name: str, fixed: tuple[float, float] | None = None) -> _Range:
        return _Range(self, name, self.momentum, fixed)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ActivationQuantizer(_Quantizing):
    """Fake-quantize a tensor per tensor to int8 ([-128, 127], asymmetric) with a tracked range.

    Args:
        momentum: moving-average momentum of the range while training, in [0, 1).
        fixed_range: ``(min, max)`` that never changes (LiteRT's fixed output
            ranges, e.g. softmax), or None to track it.
        **kwargs: ``keras.layers.Layer`` arguments.

    Examples:
        >>> import numpy as np
        >>> q = ActivationQuantizer()
        >>> y = q(np.linspace(-1.0, 1.0, 11, dtype="float32"), training=True)
        >>> round(float(q.variables[1].numpy()), 3)  # the tracked maximum
        1.0
    """

    def __init__(self, momentum: float = 0.99, fixed_range: Iterable[float] | None = None, **kwargs: Any) -> None:
        super().__init__(momentum, **kwargs)
        if fixed_range is not None:
            low, high = (check_float("fixed_range", v) for v in fixed_range)
            if not low <= 0.0 <= high or low == high:
                raise ValueError(f"`fixed_range` must hold 0 and not be empty; received {fixed_range!r}.")
            fixed_range = (low, high)
        self.fixed_range = fixed_range

    def build(self, input_shape: tuple) -> None:
        self.range = self._range("output", self.fixed_range)

    def call(self, inputs: Any, training: Any = None) -> Any:
        return self.range(inputs, training, self.observing)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fixed_range": self.fixed_range}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedHardSwish(_Quantizing):
    """Hard swish as LiteRT's int8 file computes it: ``(x * (1/6)) * relu6(x + 3)``, each op requantized.

    Three int8 ops (MUL, ADD with a fused RELU6, MUL), each output
    fake-quantized. XNNPACK runs them; it has no int8 ``HARD_SWISH``, and this
    spelling is one the converter does not fuse into that op (``x *
    relu6(x + 3) * (1/6)`` it does, even between fake-quant ops).

    Args:
        momentum: moving-average momentum of the ranges, in [0, 1).
        **kwargs: ``keras.layers.Layer`` arguments.

    Examples:
        >>> import numpy as np
        >>> y = QuantizedHardSwish()(np.array([-4.0, 0.0, 4.0], dtype="float32"), training=True)
    """

    def build(self, input_shape: tuple) -> None:
        self.scaled_range, self.gate_range, self.output_range = (self._range(n) for n in ("scaled", "gate", "output"))

    def call(self, inputs: Any, training: Any = None) -> Any:
        scaled = self.scaled_range(inputs * (1.0 / 6.0), training, self.observing)
        gate = self.gate_range(ops.relu6(inputs + 3.0), training, self.observing)
        return self.output_range(scaled * gate, training, self.observing)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedHardSigmoid(_Quantizing):
    """Hard sigmoid as LiteRT's int8 file computes it: ``relu6(x + 3) * (1/6)``, each op requantized.

    Args:
        momentum: moving-average momentum of the ranges, in [0, 1).
        **kwargs: ``keras.layers.Layer`` arguments.

    Examples:
        >>> import numpy as np
        >>> y = QuantizedHardSigmoid()(np.array([-4.0, 0.0, 4.0], dtype="float32"), training=True)
    """

    def build(self, input_shape: tuple) -> None:
        self.gate_range, self.output_range = self._range("gate"), self._range("output")

    def call(self, inputs: Any, training: Any = None) -> Any:
        gate = self.gate_range(ops.relu6(inputs + 3.0), training, self.observing)
        return self.output_range(gate * (1.0 / 6.0), training, self.observing)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedRescaling(_Quantizing):
    """``x * scale + offset`` (Keras ``Rescaling``) with each of its two ops requantized.

    Args:
        scale: the multiplier (finite).
        offset: the addend (finite).
        momentum: moving-average momentum of the ranges, in [0, 1).
        **kwargs: ``keras.layers.Layer`` arguments.

    Examples:
        >>> import numpy as np
        >>> y = QuantizedRescaling(1 / 127.5, -1.0)(np.array([0.0, 255.0], dtype="float32"), training=True)
    """

    def __init__(self, scale: float, offset: float = 0.0, momentum: float = 0.99, **kwargs: Any) -> None:
        super().__init__(momentum, **kwargs)
        self.scale, self.offset = check_float("scale", scale), check_float("offset", offset)

    def build(self, input_shape: tuple) -> None:
        self.scaled_range, self.output_range = self._range("scaled"), self._range("output")

    def call(self, inputs: Any, training: Any = None) -> Any:
        scaled = self.scaled_range(inputs * self.scale, training, self.observing)
        return self.output_range(scaled + self.offset, training, self.observing)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantizedConv(_Quantizing):
    """Convolution (or depthwise convolution, or dense) + folded BatchNorm + ReLU/ReLU6, int8 as LiteRT runs it.

    The kernel is folded with BatchNorm's moving statistics and fake-quantized
    per output channel, symmetric, narrow range; the output (after the fused
    activation) per tensor. While training with live statistics the output is
    rescaled to the batch statistics and the moving statistics update; once
    ``statistics_frozen`` is 1 (:func:`freeze_batch_norm`), training computes
    the folded form itself.

    Args:
        kind: ``"conv"``, ``"depthwise"`` or ``"dense"``.
        units: output channels (ignored for ``"depthwise"``: the input's).
        kernel_size: ``(height, width)`` of conv kernels.
        strides: ``(height, width)`` strides.
        padding: ``"valid"`` or ``"same"``.
        dilation_rate: ``(height, width)`` dilation.
        use_bias: the convolution has its own bias.
        batch_norm: a BatchNorm follows (folded).
        epsilon: BatchNorm epsilon (> 0).
        bn_momentum: BatchNorm moving-statistics momentum, in [0, 1).
        activation: None, ``"relu"`` or ``"relu6"`` (fused).
        quantize_output: fake-quantize the output; False where the next op
            sets the range (a concatenation, whose inputs LiteRT writes at its
            output's scale).
        momentum: moving-average momentum of the output range, in [0, 1).
        **kwargs: ``keras.layers.Layer`` arguments.

    Examples:
        >>> import numpy as np
        >>> conv = QuantizedConv("conv", 8, (3, 3), padding="same", batch_norm=True, activation="relu6")
        >>> tuple(conv(np.ones((1, 8, 8, 3), "float32"), training=True).shape)
        (1, 8, 8, 8)
    """

    def __init__(
        self,
        kind: str,
        units: int,
        kernel_size: Iterable[int] = (1, 1),
        strides: Iterable[int] = (1, 1),
        padding: str = "valid",
        dilation_rate: Iterable[int] = (1, 1),
        use_bias: bool = False,
        batch_norm: bool = False,
        epsilon: float = 1e-3,
        bn_momentum: float = 0.99,
        activation: str | None = None,
        quantize_output: bool = True,
        momentum: float = 0.99,
        **kwargs: Any,
    ) -> None:
        super().__init__(momentum, **kwargs)
        self.quantize_output = check_bool("quantize_output", quantize_output)
        self.kind = check_choice("kind", kind, ("conv", "depthwise", "dense"))
        self.units = int(units)
        self.kernel_size, self.strides = tuple(kernel_size), tuple(strides)
        self.padding = check_choice("padding", padding, ("valid", "same"))
        self.dilation_rate = tuple(dilation_rate)
        self.use_bias, self.batch_norm = bool(use_bias), bool(batch_norm)
        self.epsilon = check_float("epsilon", epsilon, low=0.0, low_inclusive=False)
        self.bn_momentum = check_float("bn_momentum", bn_momentum, low=0.0, high=1.0, high_inclusive=False)
        self.activation = check_choice("activation", activation, (None, *_FUSED))

    def build(self, input_shape: tuple) -> None:
        channels = int(input_shape[-1])
        if self.kind == "depthwise":
            self.units = channels
        shape = {
            "conv": (*self.kernel_size, channels, self.units),
            "depthwise": (*self.kernel_size, channels, 1),
            "dense": (channels, self.units),
        }[self.kind]
        self.kernel = self.add_weight(shape=shape, initializer="glorot_uniform", name="kernel")
        vector = (self.units,)
        self.bias = self.add_weight(shape=vector, initializer="zeros", name="bias") if self.use_bias else None
        if self.batch_norm:
            self.gamma = self.add_weight(shape=vector, initializer="ones", name="gamma")
            self.beta = self.add_weight(shape=vector, initializer="zeros", name="beta")
            self.moving_mean = self.add_weight(shape=vector, initializer="zeros", trainable=False, name="moving_mean")
            self.moving_variance = self.add_weight(
                shape=vector, initializer="ones", trainable=False, name="moving_variance"
            )
            self.statistics_frozen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="statistics_frozen")
        self.output_range = self._range("output") if self.quantize_output else None

    def _per_output_channel(self, vector: Any) -> Any:
        return ops.reshape(vector, (1, 1, -1, 1)) if self.kind == "depthwise" else vector

    def _apply(self, inputs: Any, kernel: Any) -> Any:
        if self.kind == "dense":
            return ops.matmul(inputs, kernel)
        if self.kind == "depthwise":
            return ops.depthwise_conv(inputs, kernel, self.strides, self.padding, dilation_rate=self.dilation_rate)
        return ops.conv(inputs, kernel, self.strides, self.padding, dilation_rate=self.dilation_rate)

    def call(self, inputs: Any, training: Any = None) -> Any:
        kernel, bias = self.kernel, self.bias if self.use_bias else 0.0
        scale = self.gamma * ops.rsqrt(self.moving_variance + self.epsilon) if self.batch_norm else None
        if scale is not None:
            kernel = kernel * self._per_output_channel(scale)
        # Per output channel; one range for a dense kernel (LiteRT's FULLY_CONNECTED takes per-tensor weights).
        axis = {"conv": 3, "depthwise": 2, "dense": None}[self.kind]
        reduce = None if axis is None else tuple(i for i in range(len(kernel.shape)) if i != axis)
        limit = ops.stop_gradient(ops.maximum(ops.max(ops.abs(kernel), axis=reduce), 1e-8))
        outputs = self._apply(inputs, _fake_quant(kernel, -limit, limit, narrow=True, axis=axis))
        if scale is None:
            outputs = outputs + bias
        else:
            folded = outputs + self.beta + (bias - self.moving_mean) * scale
            if training:
                outputs = self._live_statistics(outputs / scale + bias, folded)
            else:
                outputs = folded
        if self.activation is not None:
            outputs = ops.relu6(outputs) if self.activation == "relu6" else ops.relu(outputs)
        return self.output_range(outputs, training, self.observing) if self.output_range else outputs

    def _live_statistics(self, raw: Any, folded: Any) -> Any:
        """Training output: BatchNorm on the batch statistics (and their moving averages) until frozen."""
        axes = tuple(range(len(raw.shape) - 1))
        mean, variance = ops.moments(raw, axes)
        live = (raw - mean) * ops.rsqrt(variance + self.epsilon) * self.gamma + self.beta
        frozen, m = self.statistics_frozen, self.bn_momentum
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            updated = m * moving + (1.0 - m) * ops.stop_gradient(batch)
            moving.assign(frozen * moving + (1.0 - frozen) * updated)
        return frozen * folded + (1.0 - frozen) * live

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if self.kind == "dense":
            return (*input_shape[:-1], self.units)
        sides = []
        for size, k, s, d in zip(input_shape[1:3], self.kernel_size, self.strides, self.dilation_rate):
            if size is None:
                sides.append(None)
            else:
                sides.append(-(-size // s) if self.padding == "same" else (size - d * (k - 1) - 1) // s + 1)
        return (input_shape[0], *sides, self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "kind": self.kind, "units": self.units, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "dilation_rate": self.dilation_rate, "use_bias": self.use_bias,
            "batch_norm": self.batch_norm, "epsilon": self.epsilon, "bn_momentum": self.bn_momentum,
            "activation": self.activation, "quantize_output": self.quantize_output,
        }


# --- the graph walk ------------------------------------------------------------

# Ops that keep their input's int8 scale (no requantization in LiteRT): passed through unchanged.
_SAME_SCALE = (
    layers.Dropout, layers.Flatten, layers.Reshape, layers.MaxPooling2D, layers.ZeroPadding2D, layers.Identity,
    layers.Cropping2D, layers.Resizing, ChannelShuffle, ChannelSplit, layers.SpatialDropout2D,
)
# Ops with their own output range: the layer, then an ActivationQuantizer.
_REQUANTIZED = (layers.Add, layers.Multiply, layers.Concatenate, layers.GlobalAveragePooling2D, layers.Subtract)


def _activation_name(layer: layers.Layer) -> str | None:
    """The activation a layer applies, as 'linear' / 'relu' / 'relu6' / 'softmax' / 'sigmoid', or None if other."""
    if isinstance(layer, layers.ReLU):
        plain = not layer.negative_slope and not layer.threshold
        if plain and layer.max_value is None:
            return "relu"
        return "relu6" if plain and layer.max_value == 6 else None
    if isinstance(layer, layers.Softmax):
        return "softmax"
    function = getattr(layer, "activation", None)
    name = getattr(function, "__name__", None)
    return name if name in ("linear", "relu", "relu6", "softmax", "sigmoid") else None


def _fusable(layer: layers.Layer) -> bool:
    """A ReLU / ReLU6 that LiteRT fuses into the op before it."""
    return isinstance(layer, (layers.ReLU, layers.Activation)) and _activation_name(layer) in _FUSED


class _Walk:
    """Rebuild a functional model with quantized layers (one pass over its nodes, in order)."""

    def __init__(self, model: keras.Model, momentum: float) -> None:
        self.model, self.momentum = model, momentum
        self.consumers: dict[int, list[Any]] = {}
        for depth in model._nodes_by_depth:
            for node in model._nodes_by_depth[depth]:
                for tensor in keras.tree.flatten(node.arguments.keras_tensors) if not node.is_input else []:
                    self.consumers.setdefault(id(tensor), []).append(node)
        self.outputs = {id(t) for t in model.outputs}

    def _only_consumer(self, tensor: Any) -> Any:
        nodes = self.consumers.get(id(tensor), [])
        return nodes[0] if len(nodes) == 1 and id(tensor) not in self.outputs else None

    def _next(self, node: Any, wanted: Any) -> Any:
        following = self._only_consumer(node.outputs[0])
        return following if following is not None and wanted(following.operation) else None

    def _into_concatenation(self, node: Any) -> bool:
        """Whether the node's output only feeds a concatenation (whose range LiteRT writes it at)."""
        return self._next(node, lambda op: isinstance(op, layers.Concatenate)) is not None

    def _name(self, node: Any, name: str | None = None) -> str:
        """The new layer's name: a model output keeps its layer's name (losses and metrics are keyed by it)."""
        original = node.operation.name
        return original if id(node.outputs[0]) in self.outputs else f"{name or original}_quant"

    def _copy(self, layer: layers.Layer, args: tuple, kwargs: dict[str, Any], rename: bool = False) -> Any:
        """A copy with the same weights (named ``NAME_float`` where its quantizer takes the output's name)."""
        config = layer.get_config()
        if rename:
            config["name"] = f"{layer.name}_float"
        copy = layer.__class__.from_config(config)
        outputs = copy(*args, **kwargs)
        copy.set_weights(layer.get_weights())
        return outputs

    def _quantizer(self, name: str, fixed: tuple[float, float] | None = None) -> ActivationQuantizer:
        return ActivationQuantizer(self.momentum, fixed, name=name)

    def _conv(self, node: Any, x: Any) -> tuple[Any, list[Any]]:
        """A kernel layer with the BatchNorm and ReLU that follow it: one QuantizedConv."""
        layer = node.operation
        kind = "dense" if isinstance(layer, layers.Dense) else "depthwise" if isinstance(layer, layers.DepthwiseConv2D) else "conv"
        if kind == "conv" and layer.groups != 1:
            raise UnsupportedLayerError(
                f"Layer {layer.name!r} is a grouped convolution (groups={layer.groups}); quantize_aware covers "
                "plain, depthwise and dense kernels only."
            )
        if kind == "depthwise" and layer.depth_multiplier != 1:
            raise UnsupportedLayerError(f"Layer {layer.name!r}: depth_multiplier {layer.depth_multiplier} is not covered.")
        own = _activation_name(layer)
        if own not in ("linear", "relu", "relu6", "softmax", "sigmoid"):
            raise UnsupportedLayerError(f"Layer {layer.name!r} has an activation quantize_aware does not cover.")
        following = self._next(node, lambda op: isinstance(op, layers.BatchNormalization)) if own == "linear" else None
        bn = following.operation if following is not None else None
        activation, act = (own if own in _FUSED else None), None
        if own == "linear":
            act = self._next(following or node, _fusable)
            activation = _activation_name(act.operation) if act is not None else None
        conv = QuantizedConv(
            kind,
            layer.units if kind == "dense" else getattr(layer, "filters", 0) or 0,
            getattr(layer, "kernel_size", (1, 1)),
            getattr(layer, "strides", (1, 1)),
            getattr(layer, "padding", "valid"),
            getattr(layer, "dilation_rate", (1, 1)),
            use_bias=layer.use_bias,
            batch_norm=bn is not None,
            epsilon=bn.epsilon if bn else 1e-3,
            bn_momentum=bn.momentum if bn else 0.99,
            activation=activation,
            quantize_output=not self._into_concatenation(act or following or node),
            momentum=self.momentum,
            name=f"{layer.name}_quant" if own in ("softmax", "sigmoid") else self._name(act or following or node, layer.name),
        )
        outputs = conv(x)
        conv.kernel.assign(layer.kernel)
        if layer.use_bias:
            conv.bias.assign(layer.bias)
        if bn is not None:
            conv.moving_mean.assign(bn.moving_mean)
            conv.moving_variance.assign(bn.moving_variance)
            if bn.scale:
                conv.gamma.assign(bn.gamma)
            if bn.center:
                conv.beta.assign(bn.beta)
        if own in ("softmax", "sigmoid"):
            outputs = self._probabilities(own, outputs, node)
        return outputs, [n for n in (node, following, act) if n is not None]

    def _probabilities(self, kind: str, x: Any, node: Any) -> Any:
        name = node.operation.name
        x = layers.Softmax(name=f"{name}_softmax")(x) if kind == "softmax" else layers.Activation("sigmoid", name=f"{name}_sigmoid")(x)
        return self._quantizer(self._name(node, f"{name}_{kind}"), PROBABILITY_RANGE)(x)

    def _layer(self, node: Any, args: tuple, kwargs: dict[str, Any]) -> tuple[Any, list[Any]]:
        """The new layer(s) for ``node`` (and the nodes it fuses): (output, the original nodes it replaced)."""
        layer = node.operation
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)) and not isinstance(layer, layers.Conv2DTranspose):
            return self._conv(node, args[0])
        if isinstance(layer, _SAME_SCALE):
            return self._copy(layer, args, kwargs), [node]
        name = self._name(node)
        if isinstance(layer, HardSwish):
            return QuantizedHardSwish(self.momentum, name=name)(args[0]), [node]
        if isinstance(layer, HardSigmoid):
            return QuantizedHardSigmoid(self.momentum, name=name)(args[0]), [node]
        if isinstance(layer, layers.Rescaling) and np.ndim(layer.scale) == 0 and np.ndim(layer.offset) == 0:
            return QuantizedRescaling(float(layer.scale), float(layer.offset), self.momentum, name=name)(args[0]), [node]
        activation = _activation_name(layer) if isinstance(layer, (layers.ReLU, layers.Activation, layers.Softmax)) else None
        if activation == "linear":
            return (layers.Identity(name=layer.name)(args[0]) if name == layer.name else args[0]), [node]
        if activation in ("softmax", "sigmoid"):
            return self._probabilities(activation, args[0], node), [node]
        if isinstance(layer, _REQUANTIZED) or activation in _FUSED:
            act = self._next(node, _fusable) if isinstance(layer, layers.Add) else None
            nodes = [node] if act is None else [node, act]  # a ReLU after an addition fuses into LiteRT's ADD
            name = self._name(nodes[-1])
            rename = name == nodes[-1].operation.name  # the quantizer takes the output's name
            outputs = self._copy(layer, args, kwargs, rename)
            if act is not None:
                outputs = self._copy(act.operation, (outputs,), {}, rename)
            if self._into_concatenation(nodes[-1]):
                return outputs, nodes
            return self._quantizer(name)(outputs), nodes
        raise UnsupportedLayerError(
            f"Layer {layer.name!r} ({type(layer).__name__}) is not covered by quantize_aware's int8 scheme; "
            "it would stay in float. Covered: Conv2D/DepthwiseConv2D/Dense (+ BatchNormalization + ReLU/ReLU6), "
            "Add, Multiply, Concatenate, Subtract, GlobalAveragePooling2D, HardSwish, HardSigmoid, Rescaling, "
            "softmax/sigmoid, and ops that keep their input's scale (pooling max, reshapes, shuffles, splits, "
            "padding, resizing, dropout)."
        )

    def run(self) -> keras.Model:
        model, values, inputs = self.model, {}, []
        for tensor in model.inputs:
            new = keras.Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=tensor._keras_history[0].name)
            inputs.append(new)
            values[id(tensor)] = self._quantizer(f"{tensor._keras_history[0].name}_quant")(new)
        finished: set[int] = set()
        for depth in sorted(model._nodes_by_depth, reverse=True):
            for node in model._nodes_by_depth[depth]:
                if node.is_input or id(node) in finished:
                    continue
                args, kwargs = node.arguments.fill_in(values)
                outputs, nodes = self._layer(node, args, kwargs)
                finished.update(id(n) for n in nodes)
                for original, new in zip(nodes[-1].outputs, keras.tree.flatten(outputs)):
                    values[id(original)] = new
        return LightNet(
            keras.tree.pack_sequence_as(model._inputs_struct, inputs),
            keras.tree.pack_sequence_as(model._outputs_struct, [values[id(t)] for t in model.outputs]),
            name=f"{model.name}_qat",
            class_names=getattr(model, "class_names", None),
            task=getattr(model, "task", None),
            feature_info=getattr(model, "feature_info", None),  # sizes and reductions (names: the float layers')
        )


def is_quantize_aware(model: Any) -> bool:
    """Whether ``model`` has fake-quantized layers (built by :func:`quantize_aware`).

    Args:
        model: any object (a Keras model to be True).

    Examples:
        >>> from keras_lightnets import create_model
        >>> is_quantize_aware(create_model("mobilenet_v1_025", input_shape=(32, 32, 3), classes=2))
        False
    """
    return isinstance(model, keras.Model) and any(isinstance(layer, _Quantizing) for layer in model.layers)


def freeze_batch_norm(model: keras.Model, frozen: bool = True) -> int:
    """Freeze (or thaw) the BatchNorm statistics of every :class:`QuantizedConv`; returns how many.

    Frozen, training uses the moving statistics folded into the kernel (what
    the int8 file computes) and stops updating them: the standard last phase
    of quantization-aware training.

    Args:
        model: a model from :func:`quantize_aware`.
        frozen: True to freeze, False to let the statistics update again.

    Examples:
        >>> qat_model = quantize_aware(model)
        >>> freeze_batch_norm(qat_model)
        34
    """
    if not isinstance(frozen, bool):
        raise TypeError(f"`frozen` must be a bool; received {frozen!r}.")
    convs = [layer for layer in model.layers if isinstance(layer, QuantizedConv) and layer.batch_norm]
    for layer in convs:
        layer.statistics_frozen.assign(1.0 if frozen else 0.0)
    return len(convs)


def quantize_aware(model: keras.Model, calibration: Any = None, *, momentum: float = 0.99) -> keras.Model:
    """An equal-architecture model that trains with LiteRT's int8 arithmetic simulated (see the module text).

    The float weights are copied (BatchNorm into the convolution before it);
    the activation ranges start from ``calibration`` images when given (their
    min/max, as post-training calibration takes them), else from the first
    training batch. Train it with ``fit`` (or :func:`keras_lightnets.train.fit`
    with ``qat_epochs``), then ``to_tflite(qat_model, path, "int8")``: the int8
    file uses the learned ranges.

    Args:
        model: a functional model (classifier or backbone; a model that is
            already quantization-aware is refused). Grouped convolutions,
            attention, standalone BatchNorm and other layers outside the
            scheme raise :class:`UnsupportedLayerError` naming the layer.
        calibration: images (N, H, W, C) as the model takes them, or an
            iterable of such batches (or of ``(images, labels)``); None.
        momentum: moving-average momentum of the activation ranges while
            training, in [0, 1).

    Returns:
        The quantization-aware model (same inputs and outputs; ``class_names``,
        ``task`` and ``feature_info`` carried over).

    Examples:
        >>> import numpy as np
        >>> from keras_lightnets import create_model
        >>> model = create_model("mobilenet_v2_035", input_shape=(32, 32, 3), classes=3)
        >>> qat = quantize_aware(model, np.random.uniform(0, 255, (4, 32, 32, 3)).astype("float32"))
        >>> qat.output_shape
        (None, 3)
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth"):
        raise TypeError(f"`model` must be a functional keras.Model; received {type(model).__name__}.")
    if is_quantize_aware(model):
        raise ValueError(f"`model` {model.name!r} is already quantization-aware.")
    momentum = check_float("momentum", momentum, low=0.0, high=1.0, high_inclusive=False)
    qat = _Walk(model, momentum).run()
    if calibration is not None:
        observe(qat, calibration)
    return qat


def observe(model: keras.Model, images: Any) -> int:
    """Set the activation ranges of a quantization-aware model to the min/max seen on ``images``; returns the count.

    Nothing else changes (BatchNorm statistics, weights). Ranges already seen
    are widened, never narrowed.

    Args:
        model: a model from :func:`quantize_aware`.
        images: an array (N, H, W, C) or an iterable of arrays or ``(images, labels)`` batches.

    Examples:
        >>> observe(quantize_aware(model), images)
        8
    """
    quantizing = [layer for layer in model.layers if isinstance(layer, _Quantizing)]
    batches = [images] if isinstance(images, np.ndarray) else images
    count = 0
    for layer in quantizing:
        layer.observing = True
    try:
        for batch in batches:
            batch = batch[0] if isinstance(batch, (tuple, list)) else batch
            batch = np.asarray(batch, dtype="float32")
            if batch.ndim != len(model.input_shape):
                raise ValueError(f"Calibration images must have shape {model.input_shape}; received {batch.shape}.")
            model(batch, training=False)
            count += len(batch)
    finally:
        for layer in quantizing:
            layer.observing = False
    if count == 0:
        raise ValueError("`images` held no image to observe.")
    return count
