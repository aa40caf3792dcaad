"""The same models, training and export on every Keras backend.

This module is marked ``backends``: the README's test command runs the whole
suite on TensorFlow, then ``-m backends`` with ``KERAS_BACKEND=jax`` and
``KERAS_BACKEND=torch``. Each session compares itself with another backend run
in a child process (``tests/backend_child.py``): TensorFlow for the JAX and
torch sessions, JAX for the TensorFlow session. Every comparison crosses a
``.keras`` file (saved here, loaded there with ``safe_mode=True``, and back).
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_lightnets import cli
from keras_lightnets.export import to_saved_model, to_tflite
from keras_lightnets.litert import run_tflite
from keras_lightnets.registry import create_model
from keras_lightnets.testing import realistic_weights, relative_error
from keras_lightnets.train import fit

pytestmark = pytest.mark.backends

BACKEND = keras.backend.backend()
REFERENCE = "jax" if BACKEND == "tensorflow" else "tensorflow"
ROOT = pathlib.Path(__file__).parent.parent

# Every family and width class at 224, one per family at an odd size; a multi-scale backbone too.
# Logits are compared (a softmax of realistic-weight logits saturates and hides or magnifies errors).
WIDTHS = [
    "mobilenet_v1_025", "mobilenet_v1", "mobilenet_v2_035", "mobilenet_v2", "mobilenet_v2_140",
    "mobilenet_v3_large", "mobilenet_v3_large_075", "mobilenet_v3_large_minimalistic",
    "mobilenet_v3_small", "mobilenet_v3_small_075", "mobilenet_v3_small_minimalistic",
    "shufflenet_v1_g3_x0_5", "shufflenet_v1_g8_x1_0", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
]
ODD = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v1_g3_x1_0", "shufflenet_v2_x1_0"]
CASES = (
    [(name, (224, 224), dict(classifier_activation=None)) for name in WIDTHS]
    + [(name, (161, 98), dict(classifier_activation=None)) for name in ODD]
    + [("mobilenet_v3_large", (161, 98), dict(include_top=False, features_only=True))]
)
CASE_IDS = [f"{name}-{h}x{w}" + ("-features" if "features_only" in kwargs else "") for name, (h, w), kwargs in CASES]


def _child(folder: pathlib.Path, backend: str, module: str = "tests.backend_child", *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", module, str(folder), *args],
        env={**os.environ, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


@pytest.fixture(scope="module")
def crossed(tmp_path_factory):
    """Each case built here with realistic weights, saved, run here and on REFERENCE (one child)."""
    folder = tmp_path_factory.mktemp("crossed")
    ours = {}
    rng = np.random.default_rng(7)
    for index, (name, size, kwargs) in enumerate(CASES):
        keras.utils.set_random_seed(index)
        model = create_model(name, input_shape=(*size, 3), **kwargs)
        realistic_weights(model, seed=index)
        x = rng.uniform(0, 255, (2, *size, 3)).astype("float32")
        model.save(folder / f"case{index}.keras")
        np.save(folder / f"case{index}.npy", x)
        ours[index] = [keras.ops.convert_to_numpy(o) for o in keras.tree.flatten(model.predict(x, verbose=0))]
    assert f"BACKEND {REFERENCE}" in _child(folder, REFERENCE)
    return folder, ours


@pytest.mark.parametrize("index", range(len(CASES)), ids=CASE_IDS)
def test_outputs_equal_the_reference_backend_across_keras_files(index, crossed):
    folder, ours = crossed
    theirs = np.load(folder / f"case{index}.out.npz")
    theirs = [theirs[key] for key in sorted(theirs.files, key=lambda k: int(k.split("_")[1]))]
    assert len(theirs) == len(ours[index])
    for mine, reference in zip(ours[index], theirs):
        assert mine.shape == reference.shape
        assert relative_error(mine, reference) <= 1e-5, (CASE_IDS[index], BACKEND, REFERENCE)
    # ... and the file saved on the reference backend loads here with the same outputs.
    back = keras.saving.load_model(folder / f"case{index}.back.keras", safe_mode=True)
    again = keras.tree.flatten(back.predict(np.load(folder / f"case{index}.npy"), verbose=0))
    for mine, other in zip(ours[index], again):
        assert relative_error(keras.ops.convert_to_numpy(other), mine) <= 1e-6
    assert back.feature_info == keras.saving.load_model(folder / f"case{index}.keras", safe_mode=True).feature_info


def test_digits_recipe_reaches_90_percent_and_exports_equal_files(trained_v3_small, digits_data, tmp_path):
    """The main job's recipe (MobileNetV3-Small, 12 epochs) on this backend, then float32 and int8 files."""
    result = trained_v3_small
    assert result.test_accuracy >= 0.90, (BACKEND, result.test_accuracy)
    images = np.concatenate([x for x, _ in digits_data.test.take(2)])
    keras_out = keras.ops.convert_to_numpy(result.model.predict(images, verbose=0))
    report = to_tflite(result.model, tmp_path / "f32.tflite", check_data=images[:8])
    assert report.comparison.relative_error <= 1e-5
    assert relative_error(run_tflite(report.path, images), keras_out) <= 1e-5
    assert (tmp_path / "f32.labels.txt").read_text().split() == [str(c) for c in range(10)]
    int8 = to_tflite(result.model, tmp_path / "int8.tflite", "int8", images)
    assert all(not op.startswith("FLEX") for op in int8.ops)
    agreement = np.mean(run_tflite(int8.path, images).argmax(-1) == keras_out.argmax(-1))
    assert agreement >= 0.95, agreement
    saved = to_saved_model(result.model, tmp_path / "saved")
    assert (pathlib.Path(saved) / "saved_model.pb").is_file()


def test_checkpoint_resume_and_mixed_precision(tmp_path):
    checkpoint = tmp_path / "run.keras"
    data = _tiny_digits()
    first = fit("mobilenet_v1_025", data, epochs=1, checkpoint=checkpoint, verbose=0)
    saved = keras.saving.load_model(checkpoint, safe_mode=True)
    assert int(keras.ops.convert_to_numpy(saved.optimizer.iterations)) == data.steps_per_epoch
    resumed = fit("mobilenet_v1_025", data, epochs=2, checkpoint=checkpoint, verbose=0)
    assert first.epochs_run == 1 and resumed.epochs_run == 1  # only epoch 2 ran
    mixed = fit("mobilenet_v1_025", data, epochs=1, mixed_precision="mixed_bfloat16", verbose=0)
    assert mixed.model.outputs[0].dtype == "float32"
    assert np.isfinite(mixed.history["loss"]).all()
    assert keras.mixed_precision.global_policy().name == "float32"


def test_cli_trains_and_exports_int8_on_this_backend(tmp_path, capsys):
    out = tmp_path / "v1.tflite"
    code = cli.main(
        ["train", "mobilenet_v1_025", "--data", "digits", "--epochs", "1", "--export", str(out), "--checkpoint", str(tmp_path / "v1.keras")]
    )
    assert code == 0, capsys.readouterr()
    assert out.is_file() and (tmp_path / "v1.keras").is_file()
    assert "int8" in capsys.readouterr().out.lower()


def _tiny_digits():
    from keras_lightnets.data import digits

    return digits(batch_size=128, val_fraction=0.1, test_fraction=0.6)
