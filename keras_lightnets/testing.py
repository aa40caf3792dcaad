"""Helpers for checking models against a reference: realistic weights and a relative error.

Public so that users converting or re-implementing a model can run the same
checks the package's tests run.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["realistic_weights", "relative_error"]


def realistic_weights(model: keras.Model, seed: int = 0) -> list[np.ndarray]:
    """The model's weights with BatchNorm statistics moved away from identity.

    Fresh BatchNorm layers are the identity (gamma 1, beta 0, mean 0, var 1),
    which would hide a swapped or missing BatchNorm; this gives every one
    realistic gamma/beta/mean/variance (and every bias a random value) instead.
    Use it before comparing two implementations, or before timing int8 files.

    Args:
        model: the model to modify in place.
        seed: random seed.

    Examples:
        >>> from keras_lightnets import MobileNetV3Small
        >>> weights = realistic_weights(MobileNetV3Small(input_shape=(96, 96, 3)))
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                    rng.normal(0.0, 0.2, beta.shape).astype("float32"),
                    rng.normal(0.0, 0.2, mean.shape).astype("float32"),
                    rng.uniform(0.5, 1.5, var.shape).astype("float32"),
                ]
            )
        elif layer.weights and any(w.name == "bias" for w in layer.weights):
            layer.set_weights(
                [
                    rng.normal(0.0, 0.1, w.shape).astype("float32") if w.name == "bias" else w.numpy()
                    for w in layer.weights
                ]
            )
    return model.get_weights()


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """``max |actual - expected| / max |expected|``: the package's parity measure.

    Args:
        actual: the values under test.
        expected: the reference values (same shape).

    Examples:
        >>> round(relative_error(np.array([1.0, 2.1]), np.array([1.0, 2.0])), 6)
        0.05
    """
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-12))
