"""Bad input: a clear ValueError/TypeError naming the argument, before any layer is built."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import pytest

from keras_lightnets import MobileNetV1, MobileNetV2, MobileNetV3Large, MobileNetV3Small

ALL = [MobileNetV1, MobileNetV2, MobileNetV3Large, MobileNetV3Small]

CASES = [
    (dict(alpha=0), ValueError, r"`alpha`.*0"),
    (dict(alpha=-0.5), ValueError, r"`alpha`.*-0.5"),
    (dict(alpha=float("nan")), ValueError, r"`alpha`.*finite"),
    (dict(alpha=float("inf")), ValueError, r"`alpha`.*finite"),
    (dict(alpha="1.0"), TypeError, r"`alpha`.*'1.0'"),
    (dict(alpha=True), TypeError, r"`alpha`"),
    (dict(classes=0), ValueError, r"`classes`.*0"),
    (dict(classes=2.5), TypeError, r"`classes`.*2.5"),
    (dict(classes="10"), TypeError, r"`classes`"),
    (dict(input_shape=(224, 224)), ValueError, r"`input_shape`.*\(224, 224\)"),
    (dict(input_shape=(31, 224, 3)), ValueError, r"`input_shape`.*at least 32x32"),
    (dict(input_shape=(224, 16, 3)), ValueError, r"`input_shape`.*at least 32x32"),
    (dict(input_shape=(224.0, 224, 3)), TypeError, r"`input_shape`"),
    (dict(input_shape=(224, 224, 0)), ValueError, r"`input_shape` channels"),
    (dict(input_shape="224,224,3"), ValueError, r"`input_shape`"),
    (dict(include_top=False, pooling="mean"), ValueError, r"`pooling`.*'mean'"),
    (dict(include_top=False, pooling="AVG"), ValueError, r"`pooling`"),
    (dict(weights="/no/such/file.weights.h5"), ValueError, r"`weights`.*/no/such/file"),
    (dict(weights="imagenett"), ValueError, r"`weights`.*'imagenett'"),
    (dict(padding="valid"), ValueError, r"`padding`.*'valid'"),
    (dict(padding="SAME"), ValueError, r"`padding`.*'SAME'"),
    (dict(weights=3), TypeError, r"`weights`"),
    (dict(include_top="yes"), TypeError, r"`include_top`.*'yes'"),
    (dict(include_preprocessing=1), TypeError, r"`include_preprocessing`"),
    (dict(classifier_activation="softmaxx"), ValueError, r"`classifier_activation`.*softmaxx"),
    (dict(classifier_activation=3), TypeError, r"`classifier_activation`"),
    (dict(bn_momentum=1.5), ValueError, r"`bn_momentum`"),
    (dict(bn_epsilon=0.0), ValueError, r"`bn_epsilon`"),
    (dict(input_tensor=[1, 2]), TypeError, r"`input_tensor`"),
    (dict(name=5), TypeError, r"`name`"),
]


@pytest.fixture
def no_building(monkeypatch):
    """Any attempt to create the model input fails the test: checks come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("a layer was built before the arguments were checked")

    monkeypatch.setattr(keras, "Input", refuse)


@pytest.mark.parametrize("build", ALL, ids=lambda b: b.__name__)
@pytest.mark.parametrize("kwargs, error, pattern", CASES)
def test_bad_arguments_are_refused_before_building(build, kwargs, error, pattern, no_building):
    with pytest.raises(error, match=pattern):
        build(**kwargs)


@pytest.mark.parametrize(
    "build, kwargs, error, pattern",
    [
        (MobileNetV1, dict(depth_multiplier=0), ValueError, "depth_multiplier"),
        (MobileNetV1, dict(depth_multiplier=1.5), TypeError, "depth_multiplier"),
        (MobileNetV1, dict(dropout=1.0), ValueError, "dropout"),
        (MobileNetV2, dict(use_batch_norm="False"), TypeError, "use_batch_norm"),
        (MobileNetV2, dict(activation="hard_swish"), ValueError, "activation"),
        (MobileNetV3Large, dict(minimalistic=None), TypeError, "minimalistic"),
        (MobileNetV3Small, dict(dropout_rate=-0.1), ValueError, "dropout"),
    ],
)
def test_family_specific_arguments(build, kwargs, error, pattern, no_building):
    with pytest.raises(error, match=pattern):
        build(**kwargs)


def test_weights_with_wrong_suffix(tmp_path, no_building):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="`weights`.*weights.bin"):
        MobileNetV2(weights=str(path))


@pytest.mark.parametrize("build", ALL, ids=lambda b: b.__name__)
def test_channels_first_is_refused(build):
    keras.config.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="channels_first"):
            build()
    finally:
        keras.config.set_image_data_format("channels_last")


def test_input_shape_must_match_input_tensor():
    with pytest.raises(ValueError, match="input_tensor"):
        MobileNetV2(input_shape=(96, 96, 3), input_tensor=keras.Input((64, 64, 3)))


def test_input_tensor_must_be_4d():
    with pytest.raises(ValueError, match="input_tensor"):
        MobileNetV2(input_tensor=keras.Input((64, 3)))


@pytest.mark.parametrize("backend", ["numpy"])
def test_unsupported_keras_backend_is_refused_at_import(backend):
    done = subprocess.run(
        [sys.executable, "-c", "import keras_lightnets"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "KERAS_BACKEND": backend},
    )
    assert done.returncode != 0
    assert "ImportError" in done.stderr and f"KERAS_BACKEND is '{backend}'" in done.stderr
    assert "tensorflow, jax, torch" in done.stderr


def test_import_is_quiet_by_default_and_level_zero_filters_nothing():
    """TensorFlow's start-up log lines are dropped by TF_CPP_MIN_LOG_LEVEL; other output passes."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import warnings, keras_lightnets; keras_lightnets.MobileNetV1(alpha=0.25, input_shape=(32, 32, 3)); print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0 and done.stdout == "ok\n" and done.stderr == "", done.stderr  # building runs ops too

    from keras_lightnets.files import hidden_log_line as _hidden

    info = "I0000 00:00:1796022508.967992   14230 port.cc:153] oneDNN custom operations are on."
    error = "E0000 00:00:1796022508.967992   14230 cuda_dnn.cc:8579] Unable to register cuDNN factory"
    preamble = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    summary = "fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, output_inference_type: FLOAT32\n"
    no_gpu = "E0000 00:00:1796129837.742653   28867 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error"
    assert _hidden(info, 2) and _hidden(preamble, 2) and _hidden(summary, 2) and not _hidden(error, 2)
    assert _hidden(no_gpu, 2) and not _hidden(no_gpu, 1)
    assert not _hidden(info, 0) and not _hidden(summary, 0) and not _hidden("UserWarning: something of ours\n", 3)


def test_int8_conversion_is_quiet(tmp_path):
    """The TFLite converter's own stderr prints (its int8 summary, absl lines) are filtered at the default level."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = (
        "import numpy as np; from keras_lightnets import MobileNetV1; from keras_lightnets.export import to_tflite; "
        "m = MobileNetV1(alpha=0.25, input_shape=(32, 32, 3)); "
        f"to_tflite(m, {str(tmp_path / 'm.tflite')!r}, 'int8', np.zeros((2, 32, 32, 3), 'float32'), num_calibration=2)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "fully_quantize" not in done.stderr and "W0000" not in done.stderr and "I0000" not in done.stderr, done.stderr


def _hide_modules(monkeypatch, *hidden: str) -> None:
    """Make ``importlib.util.find_spec`` report ``hidden`` as not installed (as in a plain install)."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in hidden else real(name, *a))


@pytest.mark.parametrize(
    "hidden, call, extra, named",
    [
        (("onnx",), lambda tmp: __import__("keras_lightnets.export", fromlist=["x"]).to_onnx(
            MobileNetV3Small(input_shape=(32, 32, 3), classes=2), str(tmp / "m.onnx")), "onnx", "onnx"),
        (("torch",), lambda tmp: __import__("keras_lightnets.convert.mapping", fromlist=["x"]).as_numpy_dict(
            str(_touch(tmp / "w.pth"))), "torch", "torch"),
        (("pycocotools",), lambda tmp: __import__("keras_lightnets.detection.task", fromlist=["x"]).DetectionTask().load_folder(
            str(tmp), 64, 2, 0), "detection", "pycocotools"),
        (("yaml",), lambda tmp: __import__("keras_lightnets.detection.data", fromlist=["x"])._yolo_names(str(tmp)), "detection", "pyyaml"),
        (("pycocotools",), lambda tmp: __import__("keras_lightnets.detection.evaluate", fromlist=["x"]).coco_evaluate([], [], ["a"]),
         "detection", "pycocotools"),
        (("matplotlib",), lambda tmp: __import__("keras_lightnets.train", fromlist=["x"]).TrainConfig(log_dir=str(tmp)),
         "plot", "matplotlib"),
        (("matplotlib",), lambda tmp: __import__("keras_lightnets.evaluation", fromlist=["x"]).new_figure(), "plot", "matplotlib"),
    ],
    ids=["onnx", "torch-checkpoint", "detection-training", "yolo-names", "coco-evaluation", "log-dir-plots", "plotting"],
)
def test_a_missing_optional_module_names_the_extra(monkeypatch, tmp_path, hidden, call, extra, named):
    _hide_modules(monkeypatch, *hidden)
    with pytest.raises(ImportError, match=rf"needs {named}\b.*pip install 'keras-lightnets\[{extra}\]'"):
        call(tmp_path)


def _touch(path):
    path.write_bytes(b"")
    return path


def test_every_extra_is_declared_in_setup_cfg():
    import configparser
    import pathlib

    from keras_lightnets.validation import EXTRAS, require_extra

    config = configparser.ConfigParser()
    config.read(pathlib.Path(__file__).resolve().parents[1] / "setup.cfg")
    declared = {name: {line.split(">")[0].split("=")[0].split("[")[0].strip().lower() for line in text.split("\n") if line.strip()}
                for name, text in config["options.extras_require"].items()}
    for extra, modules in EXTRAS.items():
        assert set(modules.values()) <= declared[extra], extra
    with pytest.raises(ValueError, match="`extra` must be one of"):
        require_extra("plots", "x")
