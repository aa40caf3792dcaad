"""Side-by-side measurements: ours and keras.applications in one process.

Every figure is a median of repeated runs after warm-up, and the two models of
a pair are run interleaved (one call of each, in turn) so that load from
elsewhere on a shared machine hits both alike. Both get the same weights.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Callable, NamedTuple

import keras
import numpy as np

from keras_lightnets.export import to_tflite
from keras_lightnets.layers import ChannelShuffle
from keras_lightnets.litert import tflite_delegation, tflite_ops, tflite_runner
from keras_lightnets.registry import create_model
from keras_lightnets.testing import realistic_weights
from keras_lightnets.validation import argparse_int

KA = keras.applications


class Pair(NamedTuple):
    """One of our registry names and the keras.applications function it equals."""

    name: str
    reference: Callable[..., keras.Model]
    kwargs: dict[str, Any]


PAIRS: dict[str, Pair] = {
    "mobilenet_v1": Pair("mobilenet_v1", KA.MobileNet, {}),
    "mobilenet_v2": Pair("mobilenet_v2", KA.MobileNetV2, {}),
    "mobilenet_v3_large": Pair("mobilenet_v3_large", KA.MobileNetV3Large, {}),
    "mobilenet_v3_small": Pair("mobilenet_v3_small", KA.MobileNetV3Small, {}),
}
# ShuffleNets have no keras.applications version: compare with a MobileNet of about equal MAdds.
SHUFFLE_PEERS: dict[str, str] = {
    "shufflenet_v2_x1_0": "mobilenet_v3_large_075",
    "shufflenet_v1_g3_x1_0": "mobilenet_v3_large_075",
    "shufflenet_v2_x0_5": "mobilenet_v3_small_075",
}
QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")


def timing_arguments(parser: Any, runs: int, trials: int | None = 3) -> None:
    """The stand-alone benchmarks' shared options: --size, --runs, [--trials], --threads, --output."""
    parser.add_argument("--size", type=argparse_int(32, "--size"), default=224, help="input size")
    parser.add_argument("--runs", type=argparse_int(3, "--runs"), default=runs, help="timed runs per file (and round)")
    if trials is not None:
        parser.add_argument("--trials", type=argparse_int(1, "--trials"), default=trials, help="rounds of interleaved runs")
    parser.add_argument("--threads", type=argparse_int(1, "--threads"), default=2, help="LiteRT threads")
    parser.add_argument("--output", default=os.path.join("benchmarks", "results"), help="results folder")


def interleaved(steps: list[Callable[[], Any]], runs: int, warmup: int) -> list[float]:
    """Median seconds of each step, calling the steps in turn ``runs`` times."""
    for _ in range(warmup):
        for step in steps:
            step()
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(runs):
        for step, record in zip(steps, times):
            start = time.perf_counter()
            step()
            record.append(time.perf_counter() - start)
    return [statistics.median(record) for record in times]


def file_rounds(paths: list[str], runs: int, rounds: int, threads: int) -> list[list[float]]:
    """Seconds per ``.tflite`` file in each of ``rounds`` interleaved rounds of ``runs`` (warm-up: runs // 5, >= 2)."""
    steps = [tflite_runner(path, threads) for path in paths]
    return [interleaved(steps, runs, max(2, runs // 5)) for _ in range(rounds)]


def round_medians(per_round: list[list[float]]) -> list[float]:
    """Each file's median over rounds (a burst of load from elsewhere hits one round)."""
    return [statistics.median(seconds) for seconds in zip(*per_round)]


def build_pair(pair: Pair, size: int) -> tuple[keras.Model, keras.Model]:
    """(ours, keras.applications) at ``size`` with the same weights."""
    reference = pair.reference(weights=None, input_shape=(size, size, 3), **pair.kwargs)
    realistic_weights(reference)
    ours = create_model(pair.name, input_shape=(size, size, 3))
    ours.set_weights(reference.get_weights())
    return ours, reference


def keras_forward(model: keras.Model, batch: int, size: int) -> Callable[[], Any]:
    import tensorflow as tf

    forward = tf.function(lambda inputs: model(inputs, training=False), jit_compile=False)
    tensor = tf.constant(np.random.default_rng(0).uniform(0, 1, (batch, size, size, 3)).astype("float32"))
    return lambda: forward(tensor).numpy()


def train_step(model: keras.Model, batch: int, size: int) -> Callable[[], Any]:
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (batch, size, size, 3)).astype("float32")
    y = rng.integers(0, model.output_shape[-1], (batch,))
    return lambda: model.train_on_batch(x, y)


def convert(model: keras.Model, path: str, quantization: str, size: int, absorb_shuffle: bool = True) -> dict[str, Any]:
    calibration = np.random.default_rng(1).uniform(0, 255, (8, size, size, 3)).astype("float32")
    if not any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers):
        calibration = calibration / 127.5 - 1.0
    report = to_tflite(
        model,
        path,
        quantization,
        representative_data=calibration if quantization == "int8" else None,
        num_calibration=8,
        overwrite=True,
        absorb_shuffle=absorb_shuffle,
    )
    delegation = tflite_delegation(path)
    return {
        "size_mb": report.size_bytes / 1e6,
        "ops": tflite_ops(path),
        "partitions": delegation.partitions,
        "undelegated": delegation.undelegated,
    }


def matmul_peak(size: int = 4096, runs: int = 5) -> float:
    """GFLOP/s of a ``size``-square float32 NumPy matmul (this machine's BLAS peak)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    (seconds,) = interleaved([lambda: a @ b], runs, 1)
    return 2 * size**3 / seconds / 1e9


def without_shuffle(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with every ChannelShuffle replaced by an identity."""

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, ChannelShuffle):
            return keras.layers.Identity(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def growth_exponent(pixels: list[float], seconds: list[float]) -> float:
    """Slope of log(latency) against log(pixel count): 1.0 is linear in pixels."""
    slope, _ = np.polyfit(np.log(pixels), np.log(seconds), 1)
    return float(slope)


def tflite_latencies(
    models: dict[str, keras.Model],
    folder: str,
    quantization: str,
    size: int,
    runs: int,
    threads: int,
    kept: frozenset[str] = frozenset(),
    rounds: int = 1,
) -> dict[str, dict[str, Any]]:
    """Convert each model and time the files interleaved; name -> figures.

    Models whose input size is fixed are converted (and calibrated) at their own
    size; ``size`` serves the others. Models named in ``kept`` are converted
    with their channel shuffles as they are (``absorb_shuffle=False``). With
    ``rounds`` > 1 the interleaved timing is repeated and each figure is the
    median of the rounds' medians (bursts of load from elsewhere hit one round).
    """
    out: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        own = model.input_shape[1] or size
        path = os.path.join(folder, f"{name}_{own}_{quantization}.tflite")
        out[name] = convert(model, path, quantization, own, absorb_shuffle=name not in kept) | {"path": path}
    names = list(out)
    medians = round_medians(file_rounds([out[n]["path"] for n in names], runs, rounds, threads))
    for name, seconds in zip(names, medians):
        out[name]["ms"] = seconds * 1e3
    return out
