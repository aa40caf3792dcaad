"""The two ends of every model: the input (with optional rescaling) and the heads."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from keras_lightnets.blocks import conv_block
from keras_lightnets.models.args import ModelArgs

__all__ = ["build_input", "conv_classifier", "dense_classifier", "pool_features"]


def build_input(args: ModelArgs) -> tuple[Any, Any]:
    """Return ``(model_input, x)``: the Input and the tensor the stem starts from.

    ``x`` is rescaled from [0, 255] to [-1, 1] when ``args.include_preprocessing``.

    Args:
        args: the checked shared arguments.

    Examples:
        >>> inputs, x = build_input(args)
        >>> x.shape
        (None, 32, 32, 3)
    """
    inputs = args.input_tensor
    if inputs is None:
        inputs = keras.Input(shape=args.input_shape, name="input")
    x = inputs
    if args.include_preprocessing:
        x = layers.Rescaling(scale=1.0 / 127.5, offset=-1.0, name="rescaling")(x)
    return inputs, x


def pool_features(x: Any, pooling: str | None) -> Any:
    """Apply the ``pooling`` (None, ``"avg"``, ``"max"``) of an ``include_top=False`` model.

    Args:
        x: the last feature map.
        pooling: None, ``"avg"`` or ``"max"``.

    Examples:
        >>> pool_features(keras.Input((7, 7, 8)), "avg").shape
        (None, 8)
    """
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def conv_classifier(
    x: Any,
    args: ModelArgs,
    *,
    hidden: int | None = None,
    hidden_activation: str | None = None,
    hidden_batch_norm: bool = False,
) -> Any:
    """Classifier on 1x1 convolutions (MobileNetV1 / V3 / V4 heads).

    Global average pool (kept 4-D) -> [1x1 conv ``hidden`` with bias ->
    ``hidden_activation``] -> dropout -> 1x1 conv to ``classes`` -> flatten ->
    ``classifier_activation`` (float32 also under mixed precision).

    Args:
        x: the last feature map.
        args: the checked shared arguments (classes, dropout, activation).
        hidden: channels (>= 1) of the pre-logits conv, or None for none.
        hidden_activation: its activation (see ``layers.ACTIVATIONS``).
        hidden_batch_norm: the pre-logits conv has no bias and a BatchNorm
            (``pre_logits_bn``) before its activation (MobileNetV4).

    Examples:
        >>> conv_classifier(keras.Input((1, 1, 576)), args, hidden=1024, hidden_activation="hard_swish").shape
        (None, 2)
    """
    x = layers.GlobalAveragePooling2D(keepdims=True, name="global_pool")(x)
    if hidden is not None:
        x = conv_block(
            x, hidden, 1, activation=hidden_activation, batch_norm=hidden_batch_norm,
            bn_momentum=args.bn_momentum, bn_epsilon=args.bn_epsilon, name="pre_logits",
        )
    if args.dropout > 0:
        x = layers.Dropout(args.dropout, name="dropout")(x)
    x = layers.Conv2D(args.classes, 1, use_bias=True, name="logits")(x)
    x = layers.Flatten(name="flatten")(x)
    return layers.Activation(args.classifier_activation, dtype="float32", name="predictions")(x)


def dense_classifier(x: Any, args: ModelArgs) -> Any:
    """Classifier on a dense layer (MobileNetV2 / ShuffleNet heads).

    Global average pool -> dropout (when > 0) -> ``Dense(classes)`` with
    ``classifier_activation`` (float32 also under mixed precision).

    Args:
        x: the last feature map.
        args: the checked shared arguments (classes, dropout, activation).

    Examples:
        >>> dense_classifier(keras.Input((7, 7, 1280)), args).shape
        (None, 2)
    """
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if args.dropout > 0:
        x = layers.Dropout(args.dropout, name="dropout")(x)
    return layers.Dense(
        args.classes, activation=args.classifier_activation, dtype="float32", name="predictions"
    )(x)
