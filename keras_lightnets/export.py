"""Deployment: SavedModel, TFLite (LiteRT) in four precisions, ONNX, and checks.

Conversion goes through Keras' own ``model.export`` (``format="tf_saved_model"``,
``"litert"``, ``"onnx"``) and the TFLite converter options it forwards; LiteRT
files are run with the ``ai-edge-litert`` interpreter. What this module adds:
a fixed batch-1 input signature (phones run batch 1; a fixed shape lets the
converter fold every shape computation), builtin-ops-only conversion, full
integer int8 with calibration from arrays, datasets or generators, atomic
writes, and a report of size, ops and error against Keras.

Example:
    >>> from keras_lightnets import MobileNetV3Small
    >>> from keras_lightnets.export import to_tflite
    >>> model = MobileNetV3Small(input_shape=(224, 224, 3))
    >>> report = to_tflite(model, "v3_small.tflite", quantization="dynamic")  # doctest: +SKIP
    >>> report.ops["HARD_SWISH"]  # doctest: +SKIP
    19
"""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
import itertools
import os
from typing import Any, Callable, Iterator

import keras
import numpy as np

from keras_lightnets.files import atomic_target, check_output_path
from keras_lightnets.layers import HardSwish
from keras_lightnets.validation import check_bool, check_choice, check_int, check_path

__all__ = [
    "QUANTIZATIONS",
    "Comparison",
    "TFLiteReport",
    "compare",
    "run_tflite",
    "tflite_ops",
    "to_onnx",
    "to_saved_model",
    "to_tflite",
]

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Agreement of an exported file with the Keras model on the same inputs."""

    max_abs_error: float
    relative_error: float  # max |a - b| / max |b|
    cosine: float  # cosine similarity of the flattened outputs
    top1_agreement: float  # share of samples whose argmax agrees (2-D outputs)


@dataclasses.dataclass(frozen=True)
class TFLiteReport:
    """What :func:`to_tflite` wrote."""

    path: str
    quantization: str
    size_bytes: int
    ops: dict[str, int]
    input_shape: tuple[int, ...]
    comparison: Comparison | None = None

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"file:          {self.path}",
            f"quantization:  {self.quantization}",
            f"size:          {self.size_bytes / 1e6:.2f} MB ({self.size_bytes:,d} bytes)",
            f"input:         {self.input_shape}",
            "ops:           " + ", ".join(f"{k} x{v}" for k, v in sorted(self.ops.items())),
        ]
        if self.comparison is not None:
            c = self.comparison
            lines.append(
                f"vs Keras:      max abs {c.max_abs_error:.3g}, relative {c.relative_error:.3g}, "
                f"cosine {c.cosine:.5f}, top-1 agreement {c.top1_agreement:.3f}"
            )
        return "\n".join(lines)


# --- inputs ----------------------------------------------------------------


def _input_shape(model: keras.Model, input_size: Any) -> tuple[int, int, int, int]:
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    if len(model.inputs) != 1:
        raise ValueError("Only single-input models can be exported by this function.")
    _, height, width, channels = model.inputs[0].shape
    if input_size is not None:
        if isinstance(input_size, int) and not isinstance(input_size, bool):
            input_size = (input_size, input_size)
        if not isinstance(input_size, (tuple, list)) or len(input_size) != 2:
            raise ValueError(
                f"`input_size` must be an int or (height, width); received {input_size!r}."
            )
        size = tuple(check_int("input_size", v, low=32) for v in input_size)
        for given, fixed in zip(size, (height, width)):
            if fixed is not None and given != fixed:
                raise ValueError(
                    f"`input_size` {size} does not match the model's input "
                    f"{(height, width)}."
                )
        height, width = size
    if height is None or width is None:
        raise ValueError(
            "The model has dynamic spatial dimensions "
            f"{model.inputs[0].shape}; pass `input_size=(height, width)`."
        )
    return (1, int(height), int(width), int(channels))


def _calibration_samples(
    data: Any, shape: tuple[int, ...], limit: int
) -> Callable[[], Iterator[list[np.ndarray]]]:
    """Normalize calibration data to a generator of ``[x]`` with x of ``shape``.

    ``data``: an array (N, H, W, C); a ``tf.data.Dataset`` or any iterable of
    arrays or of ``(images, labels)`` tuples, batched or single. The first
    sample is checked now, before any conversion.
    """
    if data is None:
        raise ValueError(
            "`representative_data` is required for quantization='int8' (an array of "
            "images, a tf.data.Dataset or a generator)."
        )
    if isinstance(data, (str, bytes)) or not (
        isinstance(data, np.ndarray) or hasattr(data, "__iter__") or callable(data)
    ):
        raise TypeError(
            "`representative_data` must be an array, a tf.data.Dataset or an iterable; "
            f"received {type(data).__name__}."
        )
    if hasattr(data, "__next__"):
        # A one-shot iterator (e.g. a generator object) cannot be read twice: keep
        # the items calibration can use, so checking the first one loses nothing.
        data = list(itertools.islice(data, limit))

    def samples() -> Iterator[np.ndarray]:
        source = data() if callable(data) and not hasattr(data, "__iter__") else data
        if isinstance(source, np.ndarray):
            source = [source]
        for item in source:
            if isinstance(item, (tuple, list)):
                item = item[0]
            array = np.asarray(item)
            if array.ndim == len(shape) - 1:
                array = array[None]
            for row in array:
                yield row[None]

    first = next(iter(samples()), None)
    if first is None:
        raise ValueError("`representative_data` is empty.")
    if tuple(first.shape) != shape or not np.issubdtype(first.dtype, np.number):
        raise ValueError(
            f"`representative_data` samples must be numeric arrays of shape {shape[1:]} "
            f"(or batches of them); received {first.dtype} {first.shape[1:]}."
        )

    def generator() -> Iterator[list[np.ndarray]]:
        for sample in itertools.islice(samples(), limit):
            yield [sample.astype(np.float32)]

    return generator


# --- export ----------------------------------------------------------------


def to_saved_model(model: keras.Model, path: Any, *, overwrite: bool = False) -> str:
    """Write a TensorFlow SavedModel with a ``serve`` signature (Keras ``model.export``).

    Args:
        model: a Keras model.
        path: the SavedModel folder to create (its parent must exist).
        overwrite: replace an existing folder.

    Returns:
        The absolute path written.

    Example:
        >>> to_saved_model(model, "exported/v3_small")  # doctest: +SKIP
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    path = check_output_path(path, overwrite)
    with atomic_target(path, directory=True) as target:
        os.rmdir(target)
        model.export(target, format="tf_saved_model", verbose=False)
    return path


def _converter_options(quantization: str, calibration: Any, int8_io: bool) -> dict[str, Any]:
    import tensorflow as tf

    builtins = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "float32":
        return {"target_spec": {"supported_ops": builtins}}
    options: dict[str, Any] = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    if quantization == "float16":
        options["target_spec"] = {"supported_ops": builtins, "supported_types": [tf.float16]}
    elif quantization == "dynamic":
        options["target_spec"] = {"supported_ops": builtins}
    else:
        options["target_spec"] = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]}
        options["representative_dataset"] = calibration
        if int8_io:
            options["inference_input_type"] = tf.int8
            options["inference_output_type"] = tf.int8
    return options


def to_tflite(
    model: keras.Model,
    path: Any,
    quantization: str = "float32",
    representative_data: Any = None,
    num_calibration: int = 100,
    input_size: Any = None,
    *,
    int8_io: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    check_data: Any = None,
    hard_swish: str = "auto",
) -> TFLiteReport:
    """Convert ``model`` to a builtin-ops-only ``.tflite`` file.

    Args:
        model: a single-input Keras model.
        path: output file ending in ``.tflite`` (its folder must exist).
        quantization: ``"float32"``; ``"float16"`` (float16 weights);
            ``"dynamic"`` (int8 weights, float activations); ``"int8"`` (full
            integer: int8 weights and activations, calibrated).
        representative_data: calibration images for int8: an array
            (N, H, W, C), a ``tf.data.Dataset`` or iterable of arrays or
            ``(images, labels)``, batched or not, preprocessed as the model expects.
        num_calibration: how many calibration images to use (>= 1).
        input_size: ``(height, width)`` or an int (>= 32); required when the
            model has ``None`` spatial dimensions.
        int8_io: with int8, make the file's input and output int8 too (its
            scale and zero point are in the file; :func:`run_tflite` applies them).
        overwrite: replace an existing file.
        progress: show a progress bar while calibrating.
        check_data: optional images to compare the file against Keras on; the
            report's ``comparison`` then holds the errors.
        hard_swish: ``"auto"`` (one fused ``HARD_SWISH`` op in float files,
            MUL/ADD ops in int8 files, where LiteRT's XNNPACK has no int8
            ``HARD_SWISH``: about 3x faster for MobileNetV3), ``"fused"`` or
            ``"decomposed"`` (see :class:`keras_lightnets.layers.HardSwish`).

    Returns:
        A :class:`TFLiteReport` (path, quantization, size, op counts, input shape,
        comparison).

    Example:
        >>> report = to_tflite(model, "model_int8.tflite", "int8", images)  # doctest: +SKIP
        >>> print(report.summary())  # doctest: +SKIP
    """
    quantization = check_choice("quantization", quantization, QUANTIZATIONS)
    hard_swish = check_choice("hard_swish", hard_swish, ("auto", "fused", "decomposed"))
    num_calibration = check_int("num_calibration", num_calibration, low=1)
    check_bool("int8_io", int8_io)
    check_bool("progress", progress)
    shape = _input_shape(model, input_size)
    path = check_output_path(path, overwrite, suffix=".tflite")
    calibration = None
    if quantization == "int8":
        calibration = _calibration_samples(representative_data, shape, num_calibration)
        if progress:
            calibration = _with_progress(calibration, num_calibration)
    elif int8_io:
        raise ValueError("`int8_io=True` needs quantization='int8'.")
    if check_data is not None:
        check_data = np.asarray(check_data, dtype=np.float32)
        if check_data.shape[1:] != shape[1:]:
            raise ValueError(
                f"`check_data` must have shape (N, {', '.join(map(str, shape[1:]))}); "
                f"received {check_data.shape}."
            )
    import tensorflow as tf

    options = _converter_options(quantization, calibration, int8_io)
    decompose = hard_swish == "decomposed" or (hard_swish == "auto" and quantization == "int8")
    graph = _with_hard_swish(model, decompose)
    with atomic_target(path) as target:
        graph.export(
            target,
            format="litert",
            input_signature=[tf.TensorSpec(shape, tf.float32, name="image")],
            verbose=False,
            **options,
        )
    comparison = compare(model, path, check_data) if check_data is not None else None
    return TFLiteReport(
        path=path,
        quantization=quantization,
        size_bytes=os.path.getsize(path),
        ops=tflite_ops(path),
        input_shape=shape,
        comparison=comparison,
    )


def _hard_swishes(model: keras.Model) -> Iterator[HardSwish]:
    for layer in model.layers:
        if isinstance(layer, HardSwish):
            yield layer
        elif isinstance(layer, keras.Model):
            yield from _hard_swishes(layer)


def _with_hard_swish(model: keras.Model, decomposed: bool) -> keras.Model:
    """``model``, or a copy sharing its weights whose HardSwish layers have ``decomposed``."""
    if all(layer.decomposed == decomposed for layer in _hard_swishes(model)):
        return model

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, HardSwish):
            return HardSwish.from_config({**layer.get_config(), "decomposed": decomposed})
        if isinstance(layer, keras.Model):
            return _with_hard_swish(layer, decomposed)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def _with_progress(
    calibration: Callable[[], Iterator[list[np.ndarray]]], total: int
) -> Callable[[], Iterator[list[np.ndarray]]]:
    def generator() -> Iterator[list[np.ndarray]]:
        bar = keras.utils.Progbar(total, unit_name="calibration image")
        for index, sample in enumerate(calibration(), start=1):
            bar.update(index)
            yield sample

    return generator


def to_onnx(
    model: keras.Model, path: Any, input_size: Any = None, *, overwrite: bool = False
) -> str:
    """Write an ONNX file (dynamic batch) with Keras' ``model.export(format="onnx")``.

    Needs the ``tf2onnx`` and ``onnx`` packages (``pip install
    keras-lightnets[onnx]``); without them an ``ImportError`` names what to install.

    Args:
        model: a single-input Keras model.
        path: output file ending in ``.onnx`` (its folder must exist).
        input_size: ``(height, width)`` or an int (>= 32); required when the
            model has ``None`` spatial dimensions.
        overwrite: replace an existing file.

    Example:
        >>> to_onnx(model, "model.onnx")  # doctest: +SKIP
    """
    shape = _input_shape(model, input_size)
    missing = [name for name in ("tf2onnx", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"ONNX export needs the package(s) {', '.join(missing)}: "
            f"pip install {' '.join(missing)}"
        )
    path = check_output_path(path, overwrite, suffix=".onnx")
    import tensorflow as tf

    model(np.zeros(shape, np.float32), training=False)  # Keras' ONNX export needs a called model
    with atomic_target(path) as target:
        model.export(
            target,
            format="onnx",
            input_signature=[tf.TensorSpec((None, *shape[1:]), tf.float32, name="image")],
            verbose=False,
        )
    return path


# --- running and checking ---------------------------------------------------


def _interpreter(path: Any, num_threads: int | None = None) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    path = check_path("path", path, must_exist=True)
    return Interpreter(model_path=path, num_threads=num_threads)


def tflite_ops(path: Any) -> dict[str, int]:
    """Op name -> count in a ``.tflite`` file.

    Example:
        >>> tflite_ops("v3_small.tflite")["HARD_SWISH"]  # doctest: +SKIP
        19
    """
    interpreter = _interpreter(path)
    return dict(collections.Counter(op["op_name"] for op in interpreter._get_ops_details()))


def run_tflite(path: Any, x: Any, *, num_threads: int | None = None) -> np.ndarray:
    """Run a ``.tflite`` file on float images ``x`` (N, H, W, C); return float outputs.

    Each image runs on its own (batch-1 files, as :func:`to_tflite` writes);
    int8 inputs are quantized and int8 outputs dequantized with the file's scale
    and zero point.

    Example:
        >>> probabilities = run_tflite("v3_small.tflite", images)  # doctest: +SKIP
    """
    interpreter = _interpreter(path, num_threads)
    input_detail = interpreter.get_input_details()[0]
    output_detail = interpreter.get_output_details()[0]
    x = np.asarray(x, dtype=np.float32)
    expected = tuple(input_detail["shape"][1:])
    if x.ndim != 4 or x.shape[1:] != expected:
        raise ValueError(f"`x` must have shape (N, {', '.join(map(str, expected))}); received {x.shape}.")
    shape = (1, *expected)
    if tuple(input_detail["shape"]) != shape:
        interpreter.resize_tensor_input(input_detail["index"], shape)
    interpreter.allocate_tensors()
    outputs = []
    for sample in x:
        sample = sample[None]
        if input_detail["dtype"] != np.float32:
            scale, zero_point = input_detail["quantization"]
            info = np.iinfo(input_detail["dtype"])
            sample = np.clip(np.round(sample / scale + zero_point), info.min, info.max)
            sample = sample.astype(input_detail["dtype"])
        interpreter.set_tensor(input_detail["index"], sample)
        interpreter.invoke()
        out = interpreter.get_tensor(output_detail["index"])
        if output_detail["dtype"] != np.float32:
            scale, zero_point = output_detail["quantization"]
            out = (out.astype(np.float32) - zero_point) * scale
        outputs.append(out[0])
    return np.stack(outputs).astype(np.float32)


def compare(model: keras.Model, path: Any, x: Any) -> Comparison:
    """Errors between ``model(x)`` and the ``.tflite`` file at ``path`` on ``x``.

    Example:
        >>> compare(model, "v3_small.tflite", images).cosine  # doctest: +SKIP
        0.99998
    """
    x = np.asarray(x, dtype=np.float32)
    expected = np.asarray(model(x, training=False), dtype=np.float64)
    actual = run_tflite(path, x).astype(np.float64)
    diff = np.abs(actual - expected)
    flat_a, flat_e = actual.ravel(), expected.ravel()
    denominator = np.linalg.norm(flat_a) * np.linalg.norm(flat_e)
    cosine = float(flat_a @ flat_e / denominator) if denominator else float(np.all(flat_a == flat_e))
    if expected.ndim == 2:
        top1 = float(np.mean(actual.argmax(-1) == expected.argmax(-1)))
    else:
        top1 = float("nan")
    return Comparison(
        max_abs_error=float(diff.max()),
        relative_error=float(diff.max() / max(np.abs(expected).max(), 1e-12)),
        cosine=cosine,
        top1_agreement=top1,
    )

