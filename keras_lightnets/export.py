"""Conversion: SavedModel, TFLite (LiteRT) in four precisions, ONNX.

SavedModel and ONNX files go through Keras' own ``model.export``; TFLite files are
converted from one traced function with frozen variables (:func:`convert_function`,
about 5x faster than Keras' ``litert`` export, which writes and reloads a SavedModel).
Calibration input is :mod:`keras_lightnets.calibration`, the graph rewrites
:mod:`keras_lightnets.rewrites`, and running / inspecting the files
:mod:`keras_lightnets.litert` (``run_tflite``, ``tflite_ops`` and ``compare``
are re-exported here for convenience). What this module adds:
conversion from any Keras backend (on JAX or PyTorch the model's architecture and
weights go to a temporary folder and a TensorFlow-backend copy converts them
in a child process, so every backend writes the same file), a fixed batch-1
input signature (phones run batch 1; a fixed shape lets the
converter fold every shape computation), builtin-ops-only conversion, full
integer int8 with calibration from arrays, datasets or generators, atomic
writes, and a report of size, ops and error against Keras.

Examples:
    >>> from keras_lightnets import MobileNetV3Small
    >>> from keras_lightnets.export import to_tflite
    >>> model = MobileNetV3Small(input_shape=(224, 224, 3))
    >>> report = to_tflite(model, "v3_small.tflite", quantization="dynamic", overwrite=True)
    >>> report.ops["HARD_SWISH"]
    19
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import warnings
from typing import Any, Callable

import keras
import numpy as np

from keras_lightnets.calibration import calibration_samples, with_progress
from keras_lightnets.deprecation import moved_from
from keras_lightnets.files import atomic_target, check_output_path, quiet_native_logs
from keras_lightnets.litert import Comparison, compare, order_outputs, run_tflite, tflite_ops
from keras_lightnets.quantization import is_quantize_aware
from keras_lightnets.rewrites import absorb_channel_shuffle, densify_group_convolutions, with_spellings
from keras_lightnets.validation import check_bool, check_choice, check_int, require_extra

__all__ = [
    "QUANTIZATIONS",
    "Comparison",
    "TFLiteReport",
    "convert_function",
    "converter_options",
    "compare",
    "labels_path",
    "register_tflite_writer",
    "run_tflite",
    "tflite_graph",
    "tflite_ops",
    "to_onnx",
    "to_saved_model",
    "to_tflite",
]

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")

# LightNet.task -> the function that writes that task's phone file with its post-processing
# (keras_lightnets.detection registers "detection" when it is imported).
_TASK_WRITERS: dict[str, Callable[..., Any]] = {}


def register_tflite_writer(task: str, writer: Callable[..., Any]) -> None:
    """Let :func:`to_tflite` hand models whose ``task`` is ``task`` to ``writer``.

    ``writer(model, path, quantization, representative_data, num_calibration,
    overwrite=..., hard_swish=..., absorb_shuffle=...)`` returns a
    :class:`TFLiteReport`; task packages register theirs when imported.

    Args:
        task: a model task (``"detection"``, ``"segmentation"``).
        writer: the function that writes the file.

    Examples:
        >>> from keras_lightnets.detection.export import detector_to_tflite
        >>> register_tflite_writer("detection", detector_to_tflite)
    """
    check_choice("task", task, ("detection", "segmentation"))
    if not callable(writer):
        raise TypeError(f"`writer` must be callable; received {writer!r}.")
    _TASK_WRITERS[task] = writer


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


# --- export ----------------------------------------------------------------


def to_saved_model(model: keras.Model, path: Any, *, overwrite: bool = False) -> str:
    """Write a TensorFlow SavedModel with a ``serve`` signature (Keras ``model.export``).

    Args:
        model: a Keras model.
        path: the SavedModel folder to create (its parent must exist).
        overwrite: replace an existing folder.

    Returns:
        The absolute path written.

    Examples:
        >>> to_saved_model(model, "classifier_savedmodel", overwrite=True)
        '.../classifier_savedmodel'
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    path = check_output_path(path, overwrite)
    if keras.backend.backend() != "tensorflow":
        _on_tensorflow("to_saved_model", model, {"path": path, "overwrite": True})
        return path
    with atomic_target(path, directory=True) as target:
        os.rmdir(target)
        model.export(target, format="tf_saved_model", verbose=False)
    return path


def converter_options(quantization: str, calibration: Any, int8_io: bool) -> dict[str, Any]:
    """``tf.lite.TFLiteConverter`` settings for a precision: builtin ops only, int8 calibrated.

    Args:
        quantization: one of :data:`QUANTIZATIONS`.
        calibration: for ``"int8"``, a representative-dataset generator function
            (:func:`keras_lightnets.calibration.calibration_samples`), or None
            for a quantization-aware model (the converter reads its learned
            ranges); None for the other precisions.
        int8_io: int8 input and output tensors (int8 only).

    Examples:
        >>> converter_options("float32", None, False)["target_spec"]["supported_ops"]
        [<OpsSet.TFLITE_BUILTINS: 'TFLITE_BUILTINS'>]
    """
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
        if calibration is None:  # quantization-aware: the converter checks its int8-only target before it sees
            options["target_spec"] = {"supported_ops": builtins}  # the fake-quant ops; every op is int8 anyway
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
    absorb_shuffle: bool = True,
    postprocess: bool = True,
) -> TFLiteReport:
    """Convert ``model`` to a builtin-ops-only ``.tflite`` file.

    A task model (an SSDLite detector) is written with its post-processing by
    the writer its package registered (:func:`register_tflite_writer`; for
    detectors :func:`keras_lightnets.detection.detector_to_tflite` with its
    default thresholds); ``postprocess=False`` writes its raw outputs instead.

    Args:
        model: a single-input Keras model.
        path: output file ending in ``.tflite`` (its folder must exist).
        quantization: ``"float32"``; ``"float16"`` (float16 weights);
            ``"dynamic"`` (int8 weights, float activations); ``"int8"`` (full
            integer: int8 weights and activations, calibrated; average pooling
            is written as a depthwise convolution and a ``MUL``, which
            LiteRT's XNNPACK runs in int8, see
            :class:`keras_lightnets.layers.AveragePooling2D`).
        representative_data: calibration images for int8: an array
            (N, H, W, C), a ``tf.data.Dataset`` or iterable of arrays or
            ``(images, labels)``, batched or not, preprocessed as the model expects.
            None for a quantization-aware model
            (:func:`keras_lightnets.quantization.quantize_aware`): its int8 file
            takes the learned ranges, and other precisions are refused.
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
        absorb_shuffle: convert an equal copy of the model whose channel
            shuffles move no data where the graph allows
            (:func:`keras_lightnets.rewrites.absorb_channel_shuffle`; grouped
            convolutions with <= 8 channels per group, 16 in int8 files, are written dense first,
            :func:`~keras_lightnets.rewrites.densify_group_convolutions`, so
            that small ShuffleNetV1s lose their shuffles too); False converts
            the shuffles as they are (a ``TRANSPOSE`` between two ``RESHAPE``
            ops each).
        postprocess: task models: write the task's post-processing (detectors:
            LiteRT's ``TFLite_Detection_PostProcess``, the phone convention);
            False: the raw outputs, builtin ops only. Ignored for classifiers.

    Returns:
        A :class:`TFLiteReport` (path, quantization, size, op counts, input shape,
        comparison).

    Examples:
        >>> report = to_tflite(model, "model_int8.tflite", "int8", images, overwrite=True)
        >>> print(report.summary())
        file:          .../model_int8.tflite
        quantization:  int8
        ...
    """
    quantization = check_choice("quantization", quantization, QUANTIZATIONS)
    hard_swish = check_choice("hard_swish", hard_swish, ("auto", "fused", "decomposed"))
    num_calibration = check_int("num_calibration", num_calibration, low=1)
    check_bool("int8_io", int8_io)
    check_bool("progress", progress)
    check_bool("absorb_shuffle", absorb_shuffle)
    check_bool("postprocess", postprocess)
    qat = is_quantize_aware(model)
    if qat and (quantization != "int8" or representative_data is not None):
        raise ValueError(
            f"A quantization-aware model is written as int8 from its learned ranges: pass quantization='int8' "
            f"(received {quantization!r}) and no `representative_data` (received "
            f"{type(representative_data).__name__}); export the float model for other precisions."
        )
    writer = _TASK_WRITERS.get(getattr(model, "task", None) or "") if postprocess else None
    if writer is not None and keras.backend.backend() == "tensorflow":
        unused = {"input_size": input_size, "check_data": check_data}
        if int8_io or any(value is not None for value in unused.values()):
            raise ValueError(
                f"A {model.task} model with post-processing takes no `input_size`, `int8_io` or `check_data`; "
                "pass postprocess=False for its raw outputs."
            )
        return writer(
            model, path, quantization, representative_data, num_calibration,
            overwrite=overwrite, hard_swish=hard_swish, absorb_shuffle=absorb_shuffle,
        )
    shape = _input_shape(model, input_size)
    path = check_output_path(path, overwrite, suffix=".tflite")
    calibration = None
    if int8_io and quantization != "int8":
        raise ValueError("`int8_io=True` needs quantization='int8'.")
    if quantization == "int8" and not qat:
        calibration = calibration_samples(representative_data, shape, num_calibration)
        if progress:
            calibration = with_progress(calibration, num_calibration)
    if check_data is not None:
        check_data = np.asarray(check_data, dtype=np.float32)
        if check_data.shape[1:] != shape[1:]:
            raise ValueError(
                f"`check_data` must have shape (N, {', '.join(map(str, shape[1:]))}); "
                f"received {check_data.shape}."
            )
    if keras.backend.backend() == "tensorflow":
        _convert_tflite(model, path, shape, quantization, calibration, int8_io, hard_swish, absorb_shuffle)
    else:
        options = dict(
            path=path, quantization=quantization, input_size=shape[1:3], int8_io=int8_io, hard_swish=hard_swish,
            absorb_shuffle=absorb_shuffle, postprocess=postprocess,
        )
        if calibration is not None:
            images = np.concatenate([sample for sample, in calibration()])
            options.update(representative_data=images, num_calibration=len(images))
        _on_tensorflow("to_tflite", model, {**options, "overwrite": True})
    comparison = compare(model, path, check_data) if check_data is not None else None
    return TFLiteReport(
        path=path,
        quantization=quantization,
        size_bytes=os.path.getsize(path),
        ops=tflite_ops(path),
        input_shape=shape,
        comparison=comparison,
    )


def tflite_graph(model: keras.Model, quantization: str, hard_swish: str, absorb_shuffle: bool) -> keras.Model:
    """The equal copy of ``model`` that is converted: spellings LiteRT runs fast, shuffles absorbed.

    Args:
        model: the Keras model.
        quantization: one of :data:`QUANTIZATIONS`.
        hard_swish: ``"auto"`` (decomposed in int8), ``"fused"`` or ``"decomposed"``.
        absorb_shuffle: absorb channel shuffles (grouped convs densified first).

    Examples:
        >>> graph = tflite_graph(model, "int8", "auto", True)
        >>> graph.count_params() == model.count_params()
        True
    """
    if is_quantize_aware(model):  # built in LiteRT's int8 spellings already (keras_lightnets.quantization)
        return model
    decompose = hard_swish == "decomposed" or (hard_swish == "auto" and quantization == "int8")
    graph = with_spellings(model, hard_swish=decompose, average_pooling=quantization == "int8")
    if absorb_shuffle:  # dense up to 16 channels per group in int8 files, 8 in float ones (measured)
        graph = absorb_channel_shuffle(densify_group_convolutions(graph, 16 if quantization == "int8" else 8))
    return graph


def convert_function(function: Callable[[Any], Any], input_spec: Any, options: dict[str, Any]) -> bytes:
    """Convert ``function`` of one input to ``.tflite`` bytes with a ``serving_default`` signature.

    One trace of ``function`` at ``input_spec``, its variables frozen into
    constants, then the converter: about 5x faster than Keras' ``litert``
    export, which writes, reloads and converts a SavedModel (20 s against 4 s for
    MobileNetV3-Small on 2 cores), and the same ops and outputs (int8 files
    calibrated on the same images compute the same numbers). The signature
    is the one Keras writes: the input under ``input_spec``'s name, the outputs
    ``output_0``, ``output_1``, ... in the function's order. Functions
    that compose an op with ``experimental_implements`` (the detector's
    post-processing) need the SavedModel route: freezing folds them away.

    Args:
        function: a TensorFlow-traceable function of one tensor (a Keras model on
            the TensorFlow backend, called with ``training=False``).
        input_spec: a ``tf.TensorSpec`` with a fixed shape and a name.
        options: converter attributes (:func:`converter_options`; ``target_spec``
            a dict of its attributes).

    Examples:
        >>> import tensorflow as tf
        >>> spec = tf.TensorSpec((1, 32, 32, 3), tf.float32, name="image")
        >>> data = convert_function(lambda x: model(x, training=False), spec, converter_options("float32", None, False))
        >>> data[4:8]
        b'TFL3'
    """
    import logging

    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    concrete = tf.function(function, input_signature=[input_spec], autograph=False).get_concrete_function()
    logger = logging.getLogger("absl")  # the frozen-graph route warns that it prefers a trackable object (the slow one)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
        for key, value in options.items():
            if key == "target_spec":
                for spec_key, spec_value in value.items():
                    setattr(converter.target_spec, spec_key, spec_value)
            else:
                setattr(converter, key, value)
        with warnings.catch_warnings():  # int8: "Statistics for quantized inputs were expected" (calibration gives them)
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            model = flatbuffer_utils.convert_bytearray_to_object(converter.convert())
    finally:
        logger.setLevel(level)
    names = [f"output_{index}" for index in range(len(tf.nest.flatten(concrete.structured_outputs)))]
    graph = model.subgraphs[0]
    if len(names) != len(graph.outputs):
        raise RuntimeError(f"The converter wrote {len(graph.outputs)} outputs for the function's {len(names)}.")
    signature = schema.SignatureDefT()
    signature.signatureKey, signature.subgraphIndex = "serving_default", 0
    signature.inputs = [_tensor_map(input_spec.name, int(graph.inputs[0]))]
    signature.outputs = [_tensor_map(name, int(index)) for name, index in zip(names, graph.outputs)]
    model.signatureDefs = [signature]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _tensor_map(name: str, index: int) -> Any:
    from tensorflow.lite.python import schema_py_generated as schema

    entry = schema.TensorMapT()
    entry.name, entry.tensorIndex = name, index
    return entry


def _convert_tflite(
    model: keras.Model,
    path: str,
    shape: tuple[int, int, int, int],
    quantization: str,
    calibration: Any,
    int8_io: bool,
    hard_swish: str,
    absorb_shuffle: bool,
) -> None:
    import tensorflow as tf

    options = converter_options(quantization, calibration, int8_io)
    graph = tflite_graph(model, quantization, hard_swish, absorb_shuffle)
    spec = tf.TensorSpec(shape, tf.float32, name="image")
    with atomic_target(path) as target, quiet_native_logs():
        with open(target, "wb") as file:
            file.write(convert_function(lambda image: graph(image, training=False), spec, options))
        if len(model.outputs) > 1:  # phones read the outputs by position: in the model's order
            order_outputs(target)
        names = getattr(model, "class_names", None)
        if names:  # the class names travel with the file, beside it
            with atomic_target(labels_path(path)) as labels, open(labels, "w", encoding="utf-8") as file:
                file.write("".join(f"{name}\n" for name in names))


# --- other backends ----------------------------------------------------------

_CHILD_FUNCTIONS = ("to_saved_model", "to_tflite", "to_onnx")


def _on_tensorflow(function: str, model: keras.Model, kwargs: dict[str, Any]) -> None:
    """Run ``function(model, **kwargs)`` on a TensorFlow-backend copy of ``model``.

    TFLite conversion and SavedModel tracing need TensorFlow's graph, so on JAX
    or PyTorch the model (already validated) is written as its architecture
    (JSON, no compile state) and a ``.weights.h5`` file, arrays as ``.npy``
    files, and a child process with ``KERAS_BACKEND=tensorflow`` rebuilds it
    (``safe_mode=True``), loads the weights and converts it.
    The weights are the same, so the file equals the TensorFlow-backend export.
    """
    with tempfile.TemporaryDirectory(prefix="keras_lightnets_export_") as folder:
        # Architecture and weights only: a compiled model's optimizer and loss name this
        # backend's classes (e.g. keras.src.backend.torch.optimizers), which the child must not import.
        architecture = keras.saving.serialize_keras_object(model)
        architecture.pop("compile_config", None)
        model.save_weights(os.path.join(folder, "model.weights.h5"))
        arrays = {key: value for key, value in kwargs.items() if isinstance(value, np.ndarray)}
        for key, value in arrays.items():
            np.save(os.path.join(folder, f"{key}.npy"), value)
        spec = {
            "function": function,
            "model": architecture,
            "kwargs": {key: value for key, value in kwargs.items() if key not in arrays},
            "arrays": sorted(arrays),
        }
        with open(os.path.join(folder, "spec.json"), "w", encoding="utf-8") as file:
            json.dump(spec, file)
        child = subprocess.run(
            [sys.executable, "-m", "keras_lightnets.export", folder],
            env={**os.environ, "KERAS_BACKEND": "tensorflow"},
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    if child.returncode != 0:
        raise RuntimeError(
            f"`{function}` on the {keras.backend.backend()} backend runs the conversion with "
            "KERAS_BACKEND=tensorflow in a child process, which failed:\n" + child.stderr[-12000:]
        )


def _child_main(folder: str) -> None:
    """The child process of :func:`_on_tensorflow`."""
    with open(os.path.join(folder, "spec.json"), encoding="utf-8") as file:
        spec = json.load(file)
    if keras.backend.backend() != "tensorflow" or spec["function"] not in _CHILD_FUNCTIONS:
        raise SystemExit(f"unexpected export request {spec['function']!r} on {keras.backend.backend()!r}")
    kwargs = dict(spec["kwargs"])
    for key in spec["arrays"]:
        kwargs[key] = np.load(os.path.join(folder, f"{key}.npy"))
    model = keras.saving.deserialize_keras_object(spec["model"], safe_mode=True)
    model.load_weights(os.path.join(folder, "model.weights.h5"))
    globals()[spec["function"]](model, **kwargs)


def labels_path(path: str) -> str:
    """The class-names file written beside a ``.tflite`` file: ``model.tflite`` -> ``model.labels.txt``.

    Args:
        path: the ``.tflite`` file.

    Examples:
        >>> labels_path("out/v3_int8.tflite")
        'out/v3_int8.labels.txt'
    """
    return os.path.splitext(os.fspath(path))[0] + ".labels.txt"


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

    Examples:
        >>> to_onnx(model, "model.onnx", overwrite=True)
        '.../model.onnx'
    """
    shape = _input_shape(model, input_size)
    require_extra("onnx", "ONNX export")
    path = check_output_path(path, overwrite, suffix=".onnx")
    if keras.backend.backend() != "tensorflow":
        _on_tensorflow("to_onnx", model, {"path": path, "input_size": shape[1:3], "overwrite": True})
        return path
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


if __name__ == "__main__":
    _child_main(sys.argv[1])

__getattr__ = moved_from("keras_lightnets.export")  # moved names (deprecation.MOVED); spelled out: `-m` runs it as __main__
