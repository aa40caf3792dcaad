"""Helpers shared by the test modules: family lists and an independent NumPy forward pass."""

from __future__ import annotations

import functools
import os
import pathlib
from typing import Any

import keras
import numpy as np

from keras_lightnets import (
    MobileNetV1,
    MobileNetV2,
    MobileNetV3Large,
    MobileNetV3Small,
    MobileNetV4,
    ShuffleNetV1,
    ShuffleNetV2,
)

# Every model function, and one small variant of each family (quick to build and convert).
PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_lightnets"
#: Every module of the package by its dotted name (packages by their own name), sorted.
PACKAGE_MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py")
)
MODEL_FUNCTIONS = [MobileNetV1, MobileNetV2, MobileNetV3Large, MobileNetV3Small, MobileNetV4, ShuffleNetV1, ShuffleNetV2]
SMALL_FAMILIES = [
    (MobileNetV1, dict(alpha=0.5)),
    (MobileNetV2, dict(alpha=0.5)),
    (MobileNetV3Large, dict(alpha=0.75)),
    (MobileNetV3Small, dict()),
    (ShuffleNetV1, dict(groups=3, scale=0.5)),
    (ShuffleNetV2, dict(scale=0.5)),
    (MobileNetV4, dict(variant="hybrid_medium")),  # attention, layer scale, FusedIB and UIB
]
SMALL_FAMILY_IDS = ["v1", "v2", "v3_large", "v3_small", "shufflenet_v1", "shufflenet_v2", "v4_hybrid"]


@functools.lru_cache(maxsize=1)
def digits_results() -> dict[str, Any]:
    """The committed ``python -m benchmarks.digits`` results (benchmarks/results/digits.json), read once."""
    import json

    return json.loads((PACKAGE.parent / "benchmarks" / "results" / "digits.json").read_text(encoding="utf-8"))


def short_run_bound(name: str) -> float:
    """The test accuracy ``name``'s short digits schedule must reach in CI: the committed spread's mean - 4 sd.

    The bound must be well above chance (0.1; at least 0.25): a schedule too short to tell learning from noise is refused.
    """
    from benchmarks.digits import spread

    figures = spread(digits_results()["rows"], name, "short")
    assert figures is not None and figures["runs"] >= 5 and figures["bound"] >= 0.25, (name, figures)
    return figures["bound"]


# --- An independent NumPy forward pass (single image, channels-last) --------


def np_same_pad(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Zero-pad H and W of ``x`` (H, W, C) the way TensorFlow's 'SAME' does."""
    pads = []
    for size in x.shape[:2]:
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [*pads, (0, 0)])


def np_conv(x: np.ndarray, kernel: np.ndarray, stride: int = 1, groups: int = 1, bias=None) -> np.ndarray:
    """'SAME' convolution of ``x`` (H, W, Cin) with an HWIO ``kernel``."""
    k = kernel.shape[0]
    xp = np_same_pad(x, k, stride)
    out_h, out_w = -(-x.shape[0] // stride), -(-x.shape[1] // stride)
    cin_g, cout = kernel.shape[2], kernel.shape[3]
    cout_g = cout // groups
    out = np.zeros((out_h, out_w, cout), dtype=np.float64)
    for g in range(groups):
        xs = xp[..., g * cin_g:(g + 1) * cin_g]
        ks = kernel[..., g * cout_g:(g + 1) * cout_g]
        for i in range(k):
            for j in range(k):
                patch = xs[i:i + stride * out_h:stride, j:j + stride * out_w:stride, :]
                out[..., g * cout_g:(g + 1) * cout_g] += patch @ ks[i, j]
    return out if bias is None else out + bias


def np_depthwise(x: np.ndarray, kernel: np.ndarray, stride: int = 1) -> np.ndarray:
    """'SAME' depthwise convolution with a (k, k, C, 1) kernel."""
    k = kernel.shape[0]
    xp = np_same_pad(x, k, stride)
    out_h, out_w = -(-x.shape[0] // stride), -(-x.shape[1] // stride)
    out = np.zeros((out_h, out_w, x.shape[2]), dtype=np.float64)
    for i in range(k):
        for j in range(k):
            out += xp[i:i + stride * out_h:stride, j:j + stride * out_w:stride, :] * kernel[i, j, :, 0]
    return out


def np_bn(x: np.ndarray, gamma, beta, mean, var, eps: float = 1e-3) -> np.ndarray:
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def np_relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)


def np_hard_sigmoid(x: np.ndarray) -> np.ndarray:
    return np_relu6(x + 3.0) / 6.0


def np_hard_swish(x: np.ndarray) -> np.ndarray:
    return x * np_hard_sigmoid(x)


def np_squeeze_excite(x: np.ndarray, w1, b1, w2, b2) -> np.ndarray:
    """SE of MobileNetV3 on (H, W, C): mean -> FC+ReLU -> FC -> hard sigmoid -> scale."""
    pooled = x.mean(axis=(0, 1))
    hidden = np.maximum(pooled @ w1.reshape(w1.shape[-2:]) + b1, 0.0)
    gate = np_hard_sigmoid(hidden @ w2.reshape(w2.shape[-2:]) + b2)
    return x * gate


def np_avg_pool_same(x: np.ndarray, size: int = 3, stride: int = 2) -> np.ndarray:
    """TF 'SAME' average pooling on (H, W, C): padding is excluded from the mean."""
    out_h, out_w = -(-x.shape[0] // stride), -(-x.shape[1] // stride)
    ones = np.ones(x.shape[:2] + (1,))
    xp, onesp = np_same_pad(x, size, stride), np_same_pad(ones, size, stride)
    total = np.zeros((out_h, out_w, x.shape[2]))
    count = np.zeros((out_h, out_w, 1))
    for i in range(size):
        for j in range(size):
            total += xp[i:i + stride * out_h:stride, j:j + stride * out_w:stride]
            count += onesp[i:i + stride * out_h:stride, j:j + stride * out_w:stride]
    return total / count


def np_channel_shuffle(x: np.ndarray, groups: int) -> np.ndarray:
    """Output channel c * groups + i is input channel i * (C // groups) + c."""
    channels = x.shape[-1]
    per_group = channels // groups
    out = np.empty_like(x)
    for i in range(groups):
        for c in range(per_group):
            out[..., c * groups + i] = x[..., i * per_group + c]
    return out


def tflite_op_counts(model: keras.Model, **options: Any) -> tuple[dict[str, int], list[int]]:
    """Convert ``model`` with builtin ops only (:func:`to_tflite` with ``options``, any backend); op counts and TRANSPOSE input ranks."""
    import collections
    import tempfile

    from ai_edge_litert.interpreter import Interpreter

    from keras_lightnets.export import to_tflite

    with tempfile.TemporaryDirectory() as folder:
        path = to_tflite(model, os.path.join(folder, "model.tflite"), **options).path
        interpreter = Interpreter(model_path=path)
    ops = interpreter._get_ops_details()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ranks = [len(tensors[op["inputs"][0]]["shape"]) for op in ops if op["op_name"] == "TRANSPOSE"]
    return dict(collections.Counter(op["op_name"] for op in ops)), ranks


def realistic_torch_batch_norm(model: Any, bias: float = 0.3, variance: tuple[float, float] = (0.5, 2.0)) -> Any:
    """A PyTorch model in eval mode with random, realistic BatchNorm affine parameters and statistics.

    Fresh BatchNorm layers are identities (mean 0, variance 1, scale 1, shift 0), which would
    hide a wrong epsilon, momentum or statistics mapping in a parity test.
    """
    import torch

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-bias, bias)
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(*variance)
    return model.eval()


# --- Cross-backend comparison (tests/test_backends*.py) -----------------------

REFERENCE_BACKEND = "tensorflow"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cross_backends(cases: list[tuple[str, tuple[int, int], dict[str, Any]]], folder: Any) -> dict[int, list[np.ndarray]]:
    """Build each ``(name, (h, w), kwargs)`` case here with realistic weights, save it, run it here and on the reference.

    One child process (``tests/backend_child.py``) runs every saved case on
    ``REFERENCE_BACKEND`` and saves it back from there; returns this backend's outputs per case.
    """
    import subprocess
    import sys

    from keras_lightnets.registry import create_model
    from keras_lightnets.testing import realistic_weights

    ours = {}
    rng = np.random.default_rng(7)
    for index, (name, size, kwargs) in enumerate(cases):
        keras.utils.set_random_seed(index)
        model = create_model(name, input_shape=(*size, 3), **kwargs)
        realistic_weights(model, seed=index)
        x = rng.uniform(0, 255, (2, *size, 3)).astype("float32")
        model.save(os.path.join(folder, f"case{index}.keras"))
        np.save(os.path.join(folder, f"case{index}.npy"), x)
        ours[index] = [keras.ops.convert_to_numpy(o) for o in keras.tree.flatten(model.predict(x, verbose=0))]
    done = subprocess.run(
        [sys.executable, "-m", "tests.backend_child", str(folder)],
        env={**os.environ, "KERAS_BACKEND": REFERENCE_BACKEND}, capture_output=True, text=True, timeout=1200, cwd=ROOT,
    )
    assert done.returncode == 0 and f"BACKEND {REFERENCE_BACKEND}" in done.stdout, done.stderr[-4000:]
    return ours


def crossed_fixture(cases: list[tuple[str, tuple[int, int], dict[str, Any]]]) -> Any:
    """A module fixture: ``(folder, outputs)`` of :func:`cross_backends` for ``cases``."""
    import pytest

    @pytest.fixture(scope="module")
    def crossed(tmp_path_factory: Any) -> tuple[Any, dict[int, list[np.ndarray]]]:
        folder = tmp_path_factory.mktemp("crossed")
        return folder, cross_backends(cases, folder)

    return crossed


def check_crossed(folder: Any, ours: list[np.ndarray], index: int, case_id: str) -> None:
    """A case's outputs here equal the reference backend's, and the file saved there loads here with the same outputs."""
    from keras_lightnets.testing import relative_error

    theirs = np.load(os.path.join(folder, f"case{index}.out.npz"))
    theirs = [theirs[key] for key in sorted(theirs.files, key=lambda k: int(k.split("_")[1]))]
    assert len(theirs) == len(ours)
    for mine, reference in zip(ours, theirs):
        assert mine.shape == reference.shape
        assert relative_error(mine, reference) <= 1e-5, (case_id, keras.backend.backend(), REFERENCE_BACKEND)
    back = keras.saving.load_model(os.path.join(folder, f"case{index}.back.keras"), safe_mode=True)
    again = keras.tree.flatten(back.predict(np.load(os.path.join(folder, f"case{index}.npy")), verbose=0))
    for mine, other in zip(ours, again):
        assert relative_error(keras.ops.convert_to_numpy(other), mine) <= 1e-6
    original = keras.saving.load_model(os.path.join(folder, f"case{index}.keras"), safe_mode=True)
    assert back.feature_info == original.feature_info
