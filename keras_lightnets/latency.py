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

from keras_lightnets.deprecation import moved_from
from keras_lightnets.validation import check_int

__all__ = ["keras_latency", "median_seconds"]


def median_seconds(step: Callable[[], Any], runs: int = 50, warmup: int = 5) -> float:
    """Median wall time in seconds of ``step()`` over ``runs`` calls after ``warmup``.

    Args:
        step: the function to time (no arguments).
        runs: timed calls (>= 1).
        warmup: untimed calls first (>= 0).

    Examples:
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
    """Median seconds of ``model(x)`` in inference mode, compiled as the backend compiles.

    TensorFlow: a ``tf.function``; JAX: ``jax.jit`` of the model's stateless
    call; PyTorch: an eager call under ``torch.no_grad()`` (Keras' own torch path).

    Args:
        model: a Keras model.
        x: the input batch.
        runs: timed calls (>= 1).
        warmup: untimed calls first (>= 0).

    Examples:
        >>> keras_latency(model, images[:1]) < 1.0
        True
    """
    x = np.asarray(x, dtype=np.float32)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]
        call = jax.jit(lambda t, f, inputs: model.stateless_call(t, f, inputs, training=False)[0])
        return median_seconds(lambda: call(trainable, frozen, x).block_until_ready(), runs, warmup)
    if backend == "torch":
        import torch

        tensor = keras.ops.convert_to_tensor(x)  # on Keras' torch device

        def step() -> Any:
            with torch.no_grad():
                return model(tensor, training=False)

        return median_seconds(step, runs, warmup)
    import tensorflow as tf

    forward = tf.function(lambda inputs: model(inputs, training=False), jit_compile=False)
    tensor = tf.constant(x)
    return median_seconds(lambda: forward(tensor).numpy(), runs, warmup)

__getattr__ = moved_from("keras_lightnets.latency")  # moved names (deprecation.MOVED); spelled out: `-m` runs it as __main__
