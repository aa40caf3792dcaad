"""Latency measurement: median of repeated runs after warm-up.

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

__all__ = ["keras_latency", "median_seconds", "tflite_latency", "tflite_runner"]


def median_seconds(step: Callable[[], Any], runs: int = 50, warmup: int = 5) -> float:
    """Median wall time in seconds of ``step()`` over ``runs`` calls after ``warmup``.

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

    Example:
        >>> keras_latency(model, images[:1])  # doctest: +SKIP
    """
    import tensorflow as tf

    forward = tf.function(lambda inputs: model(inputs, training=False), jit_compile=False)
    tensor = tf.constant(np.asarray(x, dtype=np.float32))
    return median_seconds(lambda: forward(tensor).numpy(), runs, warmup)


def tflite_runner(path: str, num_threads: int | None = 2) -> Callable[[], Any]:
    """An ``invoke()`` of a ``.tflite`` file with a random input set (XNNPACK on CPU).

    Example:
        >>> step = tflite_runner("v3_small.tflite")  # doctest: +SKIP
        >>> step()  # doctest: +SKIP
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    rng = np.random.default_rng(0)
    if np.issubdtype(detail["dtype"], np.integer):
        sample = rng.integers(-128, 127, detail["shape"]).astype(detail["dtype"])
    else:
        sample = rng.uniform(0, 1, detail["shape"]).astype(detail["dtype"])
    interpreter.set_tensor(detail["index"], sample)
    return interpreter.invoke


def tflite_latency(path: str, runs: int = 50, warmup: int = 5, num_threads: int | None = 2) -> float:
    """Median seconds of one ``invoke()`` of a ``.tflite`` file (XNNPACK on CPU).

    Example:
        >>> tflite_latency("v3_small.tflite", num_threads=2)  # doctest: +SKIP
    """
    return median_seconds(tflite_runner(path, num_threads), runs, warmup)
