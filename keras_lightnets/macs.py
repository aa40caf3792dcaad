"""Multiply-accumulate counts of functional models, the papers' way.

Counted: every ``Conv2D`` (including grouped), ``DepthwiseConv2D``,
``SeparableConv2D`` and ``Dense`` product, so the 1x1 convolutions of
squeeze-and-excitation count too, and the two products of attention
(``q k^T`` and ``weights v`` of :class:`~keras_lightnets.layers.MultiQueryAttention`). Not counted, as in the papers' tables:
biases, BatchNorm, activations, pooling, additions and SE multiplies.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from keras_lightnets.layers import MultiQueryAttention
from keras_lightnets.validation import check_int

__all__ = ["count_macs", "layer_macs"]


def _spatial_product(shape: tuple) -> int:
    return math.prod(int(d) for d in shape[1:-1])


def layer_macs(layer: keras.layers.Layer) -> int:
    """Multiply-adds per image of one built layer (0 for layers that do none).

    The layer must have been called on a tensor of fully known shape.

    Args:
        layer: a built layer (convolutions and dense layers count; others are 0).

    Examples:
        >>> import keras
        >>> conv = keras.layers.Conv2D(8, 3, padding="same")
        >>> _ = conv(keras.Input((16, 16, 4)))
        >>> layer_macs(conv) == 16 * 16 * 3 * 3 * 4 * 8
        True
    """
    if isinstance(layer, MultiQueryAttention):
        query, key, value = (tuple(t.shape) for t in layer.input)
        if any(d is None for d in query[1:] + key[1:]):
            raise ValueError(f"Layer {layer.name!r} has unknown dimensions; pass `input_shape` to count_macs.")
        pairs = _spatial_product(query) * layer.num_heads * _spatial_product(key)  # (query pixel, head) x key pixel
        return pairs * (int(key[-1]) + int(value[-1]))
    if isinstance(layer, (layers.DepthwiseConv2D, layers.SeparableConv2D, layers.Conv2D, layers.Dense)):
        input_shape, output_shape = tuple(layer.input.shape), tuple(layer.output.shape)
        if any(d is None for d in input_shape[1:] + output_shape[1:]):
            raise ValueError(
                f"Layer {layer.name!r} has unknown dimensions {input_shape} -> "
                f"{output_shape}; pass `input_shape` to count_macs."
            )
    else:
        return 0
    if isinstance(layer, layers.Dense):
        return math.prod(int(d) for d in input_shape[1:]) * layer.units
    kernel_area = math.prod(layer.kernel_size)
    in_channels = int(input_shape[-1])
    positions = _spatial_product(output_shape)
    if isinstance(layer, (layers.DepthwiseConv2D, layers.SeparableConv2D)):
        depthwise = positions * kernel_area * in_channels * layer.depth_multiplier
        if isinstance(layer, layers.DepthwiseConv2D):
            return depthwise
        return depthwise + positions * in_channels * layer.depth_multiplier * layer.filters
    return positions * kernel_area * (in_channels // layer.groups) * layer.filters


def _layers(model: keras.Model) -> list[keras.layers.Layer]:
    found: list[keras.layers.Layer] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.extend(_layers(layer))
        else:
            found.append(layer)
    return found


def count_macs(model: keras.Model, input_shape: tuple[int, int] | None = None) -> int:
    """Multiply-adds for one image through a functional ``model``.

    Args:
        model: a functional Keras model (nested functional models are walked).
        input_shape: ``(height, width)`` (each >= 1) at which to count. Needed
            when the model was built with ``None`` spatial dimensions; when
            given, the model is cloned at that size (weights are not copied).

    Returns:
        The multiply-add count (an int).

    Examples:
        >>> from keras_lightnets import MobileNetV2, count_macs
        >>> round(count_macs(MobileNetV2(input_shape=(224, 224, 3))) / 1e6)
        301
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    if input_shape is not None:
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 2:
            raise ValueError(
                f"`input_shape` must be (height, width); received {input_shape!r}."
            )
        height = check_int("input_shape[0]", input_shape[0], low=1)
        width = check_int("input_shape[1]", input_shape[1], low=1)
        if len(model.inputs) != 1:
            raise ValueError("`input_shape` is only supported for single-input models.")
        channels = model.inputs[0].shape[-1]
        model = keras.models.clone_model(
            model, input_tensors=keras.Input((height, width, channels))
        )
    return sum(layer_macs(layer) for layer in _layers(model))
