"""Running and inspecting ``.tflite`` files with the LiteRT interpreter: outputs, ops, agreement, latency."""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, Callable

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from keras_lightnets.latency import median_seconds
from keras_lightnets.validation import check_bool, check_path

__all__ = [
    "Comparison", "Delegation", "compare", "order_outputs", "run_tflite", "tflite_delegation", "tflite_input_shape", "tflite_latency",
    "tflite_ops", "tflite_runner",
]


def order_outputs(path: str, names: list[str] | None = None) -> None:
    """Rewrite a ``.tflite`` file so that its outputs, in tensor order, follow its signature's ``names``.

    The converter orders a file's outputs by tensor, not as the model returns
    them; phone runtimes (and :func:`run_tflite`) read them by position.

    Args:
        path: a ``.tflite`` file with one signature.
        names: the signature's output names in the wanted order; None: Keras'
            ``output_0``, ``output_1``, ... in numeric order.

    Examples:
        >>> order_outputs("model.tflite")
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(path)
    by_name = {entry.name.decode() if isinstance(entry.name, bytes) else entry.name: entry.tensorIndex
               for entry in model.signatureDefs[0].outputs}
    if names is None:
        names = sorted(by_name, key=lambda name: (len(name), name))
    if sorted(names) != sorted(by_name):
        raise ValueError(f"`names` must be the file's output names {sorted(by_name)}; received {names}.")
    model.subgraphs[0].outputs = np.array([by_name[name] for name in names], dtype=np.int32)
    flatbuffer_utils.write_model(model, path)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Agreement of an exported file with the Keras model on the same inputs."""

    max_abs_error: float
    relative_error: float  # max |a - b| / max |b|
    cosine: float  # cosine similarity of the flattened outputs
    top1_agreement: float  # share of samples whose argmax agrees (2-D outputs)


def _interpreter(path: Any, num_threads: int | None = None) -> Interpreter:
    path = check_path("path", path, must_exist=True)
    return Interpreter(model_path=path, num_threads=num_threads)


def tflite_ops(path: Any) -> dict[str, int]:
    """Op name -> count in a ``.tflite`` file.

    Args:
        path: a ``.tflite`` file.

    Examples:
        >>> tflite_ops("model.tflite")["HARD_SWISH"]
        19
    """
    interpreter = _interpreter(path)
    return dict(collections.Counter(op["op_name"] for op in interpreter._get_ops_details()))


@dataclasses.dataclass(frozen=True)
class Delegation:
    """How LiteRT's XNNPACK delegate took a ``.tflite`` file on this CPU."""

    partitions: int  # DELEGATE nodes: runs of ops XNNPACK executes
    undelegated: dict[str, int]  # op name -> count of ops left to LiteRT's own kernels


def tflite_delegation(path: Any) -> Delegation:
    """Which ops of a ``.tflite`` file the XNNPACK delegate runs, and in how many partitions.

    After delegation the interpreter lists the original ops plus one
    ``DELEGATE`` node per partition, whose outputs are the tensors it hands
    back. An op is left to LiteRT when one of its outputs is not a delegate
    output yet is needed outside the delegates: a model output, a delegate
    input, or the input of another undelegated op. Each undelegated op
    between delegated ones costs a partition boundary (a copy of its tensors
    and LiteRT's slower reference kernel).

    Args:
        path: a ``.tflite`` file.

    Examples:
        >>> tflite_delegation("model_int8.tflite")  # XNNPACK has no int8 SOFTMAX: the classifier's last op
        Delegation(partitions=2, undelegated={'SOFTMAX': 1})
    """
    interpreter = _interpreter(path, 2)
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    delegates = [op for op in ops if op["op_name"] == "DELEGATE"]
    produced = {int(t) for op in delegates for t in op["outputs"]}
    consumed = {int(t) for op in delegates for t in op["inputs"]}
    wanted = consumed | {int(d["index"]) for d in interpreter.get_output_details()}
    left: set[int] = set()
    changed = True
    while changed:  # grow the set of undelegated ops until no other output is needed outside
        changed = False
        needed = wanted | {int(t) for op in ops if op["index"] in left for t in op["inputs"]}
        for op in ops:
            if op["op_name"] != "DELEGATE" and op["index"] not in left and ({int(t) for t in op["outputs"]} - produced) & needed:
                left.add(op["index"])
                changed = True
    names = collections.Counter(op["op_name"] for op in ops if op["index"] in left)
    return Delegation(len(delegates), dict(names))


def run_tflite(path: Any, x: Any, *, num_threads: int | None = None, all_outputs: bool = False) -> Any:
    """Run a ``.tflite`` file on float images ``x`` (N, H, W, C); return float outputs.

    Each image runs on its own (batch-1 files, as :func:`to_tflite` writes);
    int8 inputs are quantized and int8 outputs dequantized with the file's scale
    and zero point.

    Args:
        path: a ``.tflite`` file.
        x: float images (N, H, W, C).
        num_threads: interpreter threads (None: LiteRT's default).
        all_outputs: return a tuple with every output of the file (in its order,
            e.g. a detector's boxes, classes, scores, count), not only the first.

    Examples:
        >>> probabilities = run_tflite("model.tflite", images)
        >>> probabilities.shape
        (8, 2)
    """
    check_bool("all_outputs", all_outputs)
    interpreter = _interpreter(path, num_threads)
    input_detail = interpreter.get_input_details()[0]
    x = np.asarray(x, dtype=np.float32)
    expected = tuple(input_detail["shape"][1:])
    if x.ndim != 4 or x.shape[1:] != expected:
        raise ValueError(f"`x` must have shape (N, {', '.join(map(str, expected))}); received {x.shape}.")
    shape = (1, *expected)
    if tuple(input_detail["shape"]) != shape:
        interpreter.resize_tensor_input(input_detail["index"], shape)
    interpreter.allocate_tensors()
    details = interpreter.get_output_details() if all_outputs else interpreter.get_output_details()[:1]
    outputs: list[list[np.ndarray]] = [[] for _ in details]
    for sample in x:
        sample = sample[None]
        if input_detail["dtype"] != np.float32:
            scale, zero_point = input_detail["quantization"]
            info = np.iinfo(input_detail["dtype"])
            sample = np.clip(np.round(sample / scale + zero_point), info.min, info.max)
            sample = sample.astype(input_detail["dtype"])
        interpreter.set_tensor(input_detail["index"], sample)
        interpreter.invoke()
        for collected, detail in zip(outputs, details):
            out = interpreter.get_tensor(detail["index"])
            if detail["dtype"] != np.float32:
                scale, zero_point = detail["quantization"]
                out = (out.astype(np.float32) - zero_point) * scale
            collected.append(out[0])
    stacked = tuple(np.stack(collected).astype(np.float32) for collected in outputs)
    return stacked if all_outputs else stacked[0]


def compare(model: keras.Model, path: Any, x: Any) -> Comparison:
    """Errors between ``model(x)`` and the ``.tflite`` file at ``path`` on ``x``.

    Args:
        model: the Keras model.
        path: the ``.tflite`` file converted from it.
        x: images (N, H, W, C) as the model expects.

    Examples:
        >>> round(compare(model, "model.tflite", images).cosine, 4)
        1.0
    """
    x = np.asarray(x, dtype=np.float32)
    expected = keras.ops.convert_to_numpy(model(x, training=False)).astype(np.float64)
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


def tflite_runner(path: Any, num_threads: int | None = 2) -> Callable[[], Any]:
    """An ``invoke()`` of a ``.tflite`` file with a random input set (XNNPACK on CPU).

    Args:
        path: a ``.tflite`` file.
        num_threads: interpreter threads (None: LiteRT's default).

    Examples:
        >>> step = tflite_runner("model.tflite")
        >>> step()
    """
    interpreter = _interpreter(path, num_threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    rng = np.random.default_rng(0)
    if np.issubdtype(detail["dtype"], np.integer):
        sample = rng.integers(-128, 127, detail["shape"]).astype(detail["dtype"])
    else:
        sample = rng.uniform(0, 1, detail["shape"]).astype(detail["dtype"])
    interpreter.set_tensor(detail["index"], sample)
    return interpreter.invoke


def tflite_latency(path: Any, runs: int = 50, warmup: int = 5, num_threads: int | None = 2) -> float:
    """Median seconds of one ``invoke()`` of a ``.tflite`` file (XNNPACK on CPU).

    Args:
        path: a ``.tflite`` file.
        runs: timed invokes (>= 1).
        warmup: untimed invokes first (>= 0).
        num_threads: interpreter threads (None: LiteRT's default).

    Examples:
        >>> tflite_latency("model.tflite", num_threads=2) < 1.0
        True
    """
    return median_seconds(tflite_runner(path, num_threads), runs, warmup)


def tflite_input_shape(path: Any) -> tuple[int, ...]:
    """The input shape of a ``.tflite`` file, e.g. ``(1, 224, 224, 3)``.

    Args:
        path: a ``.tflite`` file.

    Examples:
        >>> tflite_input_shape("model.tflite")
        (1, 32, 32, 3)
    """
    return tuple(int(d) for d in _interpreter(path).get_input_details()[0]["shape"])
