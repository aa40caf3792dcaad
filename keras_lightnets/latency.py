"""Latency measurement: median of repeated runs after warm-up (LiteRT files: :mod:`keras_lightnets.litert`).

Absolute times on shared machines are noisy; compare models measured in the
same process (see ``benchmarks/``).
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import keras
import numpy as np

from keras_lightnets.validation import check_int

__all__ = ["keras_latency", "median_seconds"]


def median_seconds(step: Callable[[], Any], runs: int = 50, warmup: int = 5) -> float:
    """Median wall time in seconds of ``step()`` over ``runs`` calls after ``warmup``.

    Args:
        step: the function to time (no arguments).
        runs: timed calls (>= 1).
        warmup: untimed calls first (>= 0).

    Example:
        >>> median_seconds(lambda: sum(range(1000)), runs=5, warmup=1) < 1.0
        True
    """
    runs = check_int("runs", runs, low=1)
    warmup = check_int("warmup", warmup, low=0)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def keras_latency(model: keras.Model, x: np.ndarray, runs: int = 50, warmup: int = 5) -> float:
    """Median seconds of ``model(x)`` inside a compiled ``tf.function`` (inference mode).

    Args:
        model: a Keras model.
        x: the input batch.
        runs: timed calls (>= 1).
        warmup: untimed calls first (>= 0).

    Example:
        >>> keras_latency(model, images[:1])  # doctest: +SKIP
    """
    import tensorflow as tf

    forward = tf.function(lambda inputs: model(inputs, training=False), jit_compile=False)
    tensor = tf.constant(np.asarray(x, dtype=np.float32))
    return median_seconds(lambda: forward(tensor).numpy(), runs, warmup)
