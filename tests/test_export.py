"""Export: SavedModel and TFLite per family and per quantization, files, bad input."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_lightnets import MobileNetV3Large, MobileNetV3Small, ShuffleNetV2
from keras_lightnets.calibration import calibration_samples
from keras_lightnets.export import compare, run_tflite, tflite_ops, to_onnx, to_saved_model, to_tflite
from keras_lightnets.litert import tflite_delegation
from keras_lightnets.testing import realistic_weights
from tests.helpers import SMALL_FAMILIES as FAMILIES, SMALL_FAMILY_IDS as IDS

NOT_BUILTIN = ("CUSTOM", "DELEGATE")


def _images(model, count, seed=0):
    rng = np.random.default_rng(seed)
    raw = any(isinstance(l, keras.layers.Rescaling) for l in model.layers)
    low, high = (0.0, 255.0) if raw else (-1.0, 1.0)
    return rng.uniform(low, high, (count, *model.input_shape[1:])).astype("float32")


@pytest.fixture(scope="module")
def trained_small(trained_v3_small):
    assert trained_v3_small.test_accuracy >= 0.9, trained_v3_small.test_accuracy
    return trained_v3_small.model


@pytest.fixture(scope="module")
def digits(digits_data):
    """(calibration images, test images, test labels) in [0, 255]."""
    return (digits_data.calibration, *digits_data.arrays("test"))


@pytest.mark.parametrize("build, kwargs", FAMILIES, ids=IDS)
def test_float32_tflite_is_builtin_exact_and_lean(build, kwargs, tmp_path):
    model = build(input_shape=(96, 96, 3), **kwargs)
    realistic_weights(model)
    x = _images(model, 4)
    report = to_tflite(model, tmp_path / "m.tflite", check_data=x)
    ops = report.ops
    assert ops == tflite_ops(report.path)
    assert not any(name.startswith("Flex") or name in NOT_BUILTIN for name in ops), ops
    assert "PAD" not in ops and "PADV2" not in ops, ops
    assert "SHAPE" not in ops and "PACK" not in ops, ops  # batch-1 signature folds shapes
    if build in (MobileNetV3Large, MobileNetV3Small):
        assert ops["HARD_SWISH"] == sum(isinstance(l, keras.layers.Layer) and type(l).__name__ == "HardSwish" for l in model.layers)
    assert report.comparison.relative_error <= 1e-4
    assert report.size_bytes == os.path.getsize(report.path)
    assert report.input_shape == (1, 96, 96, 3)


def test_channel_shuffle_transposes_are_rank_3(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    model = ShuffleNetV2(scale=0.5, input_shape=(64, 64, 3))
    path = to_tflite(model, tmp_path / "s.tflite", absorb_shuffle=False).path  # the shuffles as they are
    interpreter = Interpreter(model_path=path)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ranks = [
        len(tensors[op["inputs"][0]]["shape"])
        for op in interpreter._get_ops_details()
        if op["op_name"] == "TRANSPOSE"
    ]
    assert ranks and max(ranks) <= 4


@pytest.fixture(scope="module")
def float32_size(trained_small, tmp_path_factory) -> int:
    """Size of the trained model's float32 file (converted once for the module)."""
    return to_tflite(trained_small, tmp_path_factory.mktemp("f32") / "f32.tflite").size_bytes


@pytest.mark.parametrize("quantization, minimum_cosine", [("float16", 0.99), ("dynamic", 0.99), ("int8", 0.98)])
def test_quantized_accuracy_on_real_images(quantization, minimum_cosine, trained_small, digits, tmp_path, float32_size):
    x_train, x_test, y_test = digits
    report = to_tflite(
        trained_small,
        tmp_path / f"{quantization}.tflite",
        quantization,
        representative_data=x_train,
        num_calibration=100,
        check_data=x_test[:200],
    )
    assert report.comparison.cosine >= minimum_cosine, report.summary()
    assert report.comparison.top1_agreement >= 0.97, report.summary()
    # int8 files get hard-swish as MUL/ADD (no int8 HARD_SWISH in XNNPACK); float ones the fused op.
    assert ("HARD_SWISH" in report.ops) == (quantization != "int8"), report.ops
    keras_accuracy = np.mean(trained_small.predict(x_test, verbose=0).argmax(-1) == y_test)
    assert keras_accuracy >= 0.9
    tflite_accuracy = np.mean(run_tflite(report.path, x_test).argmax(-1) == y_test)
    assert keras_accuracy - tflite_accuracy <= 0.02, (keras_accuracy, tflite_accuracy)
    assert report.size_bytes < 0.6 * float32_size


def test_int8_with_int8_io_and_dataset_calibration(trained_small, digits, tmp_path):
    x_train, x_test, _ = digits
    dataset = tf.data.Dataset.from_tensor_slices((x_train, np.zeros(len(x_train)))).batch(16)
    report = to_tflite(
        trained_small, tmp_path / "io.tflite", "int8", dataset, num_calibration=64, int8_io=True
    )
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=report.path)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    result = compare(trained_small, report.path, x_test[:100])
    assert result.cosine >= 0.98 and result.top1_agreement >= 0.95


def test_calibration_from_a_generator(tmp_path, digits):
    x_train = digits[0]
    model = MobileNetV3Small(input_shape=(32, 32, 3), classes=10)

    def batches():
        for start in range(0, 40, 8):
            yield x_train[start:start + 8]

    report = to_tflite(model, tmp_path / "g.tflite", "int8", batches, num_calibration=40)
    assert report.ops.get("QUANTIZE") == 1


def test_generator_object_calibration_keeps_every_sample():
    batches = (np.full((8, 32, 32, 3), i, "float32") for i in range(5))
    samples = [s[0] for s in calibration_samples(batches, (1, 32, 32, 3), 40)()]
    assert len(samples) == 40 and samples[0][0, 0, 0, 0] == 0.0


def test_saved_model_serve_signature_equals_keras(tmp_path):
    model = MobileNetV3Small(input_shape=(64, 64, 3), classes=7)
    realistic_weights(model)
    path = to_saved_model(model, tmp_path / "saved")
    x = _images(model, 3)
    served = tf.saved_model.load(path).signatures["serve"]
    output = list(served(tf.constant(x)).values())[0].numpy()
    np.testing.assert_allclose(output, model(x).numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(FileExistsError, match="overwrite"):
        to_saved_model(model, path)
    assert to_saved_model(model, path, overwrite=True) == path
    assert sorted(os.listdir(tmp_path)) == ["saved"]  # no stray temporaries


def test_dynamic_model_needs_input_size(tmp_path):
    model = MobileNetV3Small(input_shape=(None, None, 3), include_top=False)
    with pytest.raises(ValueError, match="input_size"):
        to_tflite(model, tmp_path / "d.tflite")
    report = to_tflite(model, tmp_path / "d.tflite", input_size=64)
    assert report.input_shape == (1, 64, 64, 3)
    assert os.listdir(tmp_path) == ["d.tflite"]


def test_run_tflite_loops_over_batch(tmp_path):
    model = ShuffleNetV2(scale=0.5, input_shape=(64, 64, 3), classes=5)
    path = to_tflite(model, tmp_path / "b.tflite").path
    x = _images(model, 5)
    np.testing.assert_allclose(run_tflite(path, x), model(x).numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        run_tflite(path, x[:, :32])


def test_existing_file_is_kept_and_failure_leaves_nothing(tmp_path, monkeypatch):
    model = MobileNetV3Small(input_shape=(32, 32, 3))
    target = tmp_path / "m.tflite"
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        to_tflite(model, target)

    import keras_lightnets.export as export

    def broken_convert(*args, **kwargs):  # the target is open (empty) when the conversion fails
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "convert_function", broken_convert)
    with pytest.raises(KeyboardInterrupt):
        to_tflite(model, target, overwrite=True)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["m.tflite"]


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(quantization="int4"), ValueError, r"`quantization`.*int4"),
        (dict(quantization="INT8"), ValueError, r"`quantization`"),
        (dict(quantization="int8"), ValueError, r"`representative_data` is required"),
        (dict(quantization="int8", representative_data=np.zeros((4, 16, 16, 3))), ValueError, r"shape \(32, 32, 3\)"),
        (dict(quantization="int8", representative_data=np.array([["a"] * 3] * 32 * 32).reshape(1, 32, 32, 3)), ValueError, "numeric"),
        (dict(quantization="int8", representative_data=np.zeros((0, 32, 32, 3))), ValueError, "empty"),
        (dict(quantization="int8", representative_data=5), TypeError, "representative_data"),
        (dict(num_calibration=0), ValueError, "num_calibration"),
        (dict(int8_io=True), ValueError, "int8_io"),
        (dict(input_size=16), ValueError, "input_size"),
        (dict(input_size=(64, 64)), ValueError, "input_size"),
        (dict(hard_swish="fast"), ValueError, r"`hard_swish`.*'fast'"),
        (dict(absorb_shuffle="yes"), TypeError, "absorb_shuffle"),
    ],
)
def test_bad_tflite_arguments_leave_no_file(kwargs, error, pattern, tmp_path):
    model = MobileNetV3Small(input_shape=(32, 32, 3))
    with pytest.raises(error, match=pattern):
        to_tflite(model, tmp_path / "bad.tflite", **kwargs)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "path, pattern",
    [("missing_folder/m.tflite", "does not exist"), ("m.onnx", r"\.tflite")],
)
def test_bad_output_paths(path, pattern, tmp_path):
    with pytest.raises(ValueError, match=pattern):
        to_tflite(MobileNetV3Small(input_shape=(32, 32, 3)), tmp_path / path)


def test_unwritable_folder(tmp_path, monkeypatch):
    # Tests may run as root, which ignores permission bits: answer as the OS would
    # for a read-only folder.
    folder = str(tmp_path)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == folder else real_access(p, mode))
    with pytest.raises(ValueError, match="not writable"):
        to_tflite(MobileNetV3Small(input_shape=(32, 32, 3)), tmp_path / "m.tflite")


def test_onnx_export_equals_keras(tmp_path):
    import onnxruntime
    model = MobileNetV3Small(input_shape=(64, 64, 3), classes=5)
    path = to_onnx(model, tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(path)
    x = _images(model, 3)
    output = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(output, model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_onnx_missing_dependency_is_named(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    with pytest.raises(ImportError, match="tf2onnx"):
        to_onnx(MobileNetV3Small(input_shape=(32, 32, 3)), tmp_path / "m.onnx")


def test_hard_swish_option_leaves_the_model_untouched(tmp_path, rng):
    model = MobileNetV3Small(input_shape=(32, 32, 3), classifier_activation=None)
    calibration = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    decomposed = to_tflite(model, tmp_path / "a.tflite", "int8", calibration, num_calibration=4)
    fused = to_tflite(model, tmp_path / "b.tflite", "int8", calibration, num_calibration=4, hard_swish="fused")
    forced = to_tflite(model, tmp_path / "c.tflite", hard_swish="decomposed", check_data=calibration)
    layers = [layer for layer in model.layers if type(layer).__name__ == "HardSwish"]
    assert len(layers) == 19 and not any(layer.decomposed for layer in layers)
    assert "HARD_SWISH" not in decomposed.ops and fused.ops["HARD_SWISH"] == 19
    assert "HARD_SWISH" not in forced.ops and forced.comparison.relative_error < 1e-4


@pytest.mark.parametrize("inputs, undelegated, partitions", [(5, {}, 1), (6, {"CONCATENATION": 1}, 2)])
def test_delegation_names_what_xnnpack_leaves(inputs, undelegated, partitions, tmp_path, rng):
    # LiteRT's XNNPACK delegate concatenates 2-5 inputs; a 6-input CONCATENATION stays with
    # LiteRT's kernel and splits the graph into a delegated part before it and one after.
    image = keras.Input((8, 8, 3))
    pieces = [keras.layers.Conv2D(2, 1, name=f"piece{i}")(image) for i in range(inputs)]
    joined = keras.layers.Concatenate()(pieces)
    model = keras.Model(image, keras.layers.Conv2D(4, 1)(joined))
    path = to_tflite(model, tmp_path / "m.tflite").path
    delegation = tflite_delegation(path)
    assert delegation.undelegated == undelegated and delegation.partitions == partitions
