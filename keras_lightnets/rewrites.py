"""Graph rewrites for export: an equal Keras model whose ops suit the target runtime better."""

from __future__ import annotations

from typing import Iterator

import keras

from keras_lightnets.layers import HardSwish

__all__ = ["with_hard_swish"]


def _hard_swishes(model: keras.Model) -> Iterator[HardSwish]:
    for layer in model.layers:
        if isinstance(layer, HardSwish):
            yield layer
        elif isinstance(layer, keras.Model):
            yield from _hard_swishes(layer)


def with_hard_swish(model: keras.Model, decomposed: bool) -> keras.Model:
    """``model``, or an equal copy (same weights) whose HardSwish layers have ``decomposed``.

    Args:
        model: a Keras model (nested models are rewritten too).
        decomposed: the spelling of hard-swish in exported files (see
            :class:`keras_lightnets.layers.HardSwish`).

    Example:
        >>> int8_graph = with_hard_swish(model, decomposed=True)  # doctest: +SKIP
    """
    if all(layer.decomposed == decomposed for layer in _hard_swishes(model)):
        return model

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, HardSwish):
            return HardSwish.from_config({**layer.get_config(), "decomposed": decomposed})
        if isinstance(layer, keras.Model):
            return with_hard_swish(layer, decomposed)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
