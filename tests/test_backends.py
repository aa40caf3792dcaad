"""The same models, training and export on every Keras backend.

This module is marked ``backends``: the README's test command runs the whole
suite on TensorFlow, then ``-m backends`` with ``KERAS_BACKEND=jax`` and
``KERAS_BACKEND=torch``. The detectors and segmenters are compared in
``tests/test_backends_tasks.py`` (its own module: the backend sessions run the two on
two workers). Its tests are also marked ``other_backends``, which
the TensorFlow session leaves out (its own tests and CI's main-job command run
the same on TensorFlow). The JAX and torch sessions compare themselves with
TensorFlow run in a child process (``tests/backend_child.py``, driven by
``tests.helpers.cross_backends``); every
comparison crosses a ``.keras`` file (saved here, loaded there with
``safe_mode=True``, and back).
"""

from __future__ import annotations

import pathlib
import re

import keras
import numpy as np
import pytest

from keras_lightnets import cli
from keras_lightnets.data import digits
from keras_lightnets.export import to_saved_model, to_tflite
from keras_lightnets.litert import run_tflite
from keras_lightnets.testing import relative_error
from keras_lightnets.train import fit
from tests.helpers import check_crossed, crossed_fixture

pytestmark = pytest.mark.backends

BACKEND = keras.backend.backend()

# Each family's other widths and forms at 224 (the narrowest and widest MobileNetV2, minimalistic V3, ShuffleNetV1
# with 8 groups), one per family at an odd size; a multi-scale backbone too. A width changes channel counts, not
# the ops a backend runs (widths are checked against keras.applications, torchvision and timm in the TensorFlow
# session), so one or two per family (CI time: XLA compiles each model twice on JAX).
# Logits are compared (a softmax of realistic-weight logits saturates and hides or magnifies errors).
WIDTHS = [
    "mobilenet_v1_025", "mobilenet_v2_035", "mobilenet_v2_140", "mobilenet_v3_large_minimalistic",
    "mobilenet_v3_small_075", "shufflenet_v1_g8_x1_0", "shufflenet_v2_x0_5",
]
ODD = [
    "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v1_g3_x1_0", "shufflenet_v2_x1_0",
    "mobilenet_v4_hybrid_medium",  # attention, layer scale, FusedIB and every UIB form
]
CASES = (
    [(name, (224, 224), dict(classifier_activation=None)) for name in WIDTHS]
    + [(name, (161, 98), dict(classifier_activation=None)) for name in ODD]
    + [("mobilenet_v3_large", (161, 98), dict(include_top=False, features_only=True))]
)
CASE_IDS = [f"{name}-{h}x{w}" + ("-features" if "features_only" in kwargs else "") for name, (h, w), kwargs in CASES]


crossed = crossed_fixture(CASES)  # each case built here with realistic weights, saved, run here and on TensorFlow


@pytest.mark.other_backends
@pytest.mark.parametrize("index", range(len(CASES)), ids=CASE_IDS)
def test_outputs_equal_the_reference_backend_across_keras_files(index, crossed):
    folder, ours = crossed
    check_crossed(folder, ours[index], index, CASE_IDS[index])


@pytest.mark.other_backends
@pytest.mark.slow_on_jax
def test_main_job_reaches_90_percent_and_exports_the_same_files(tmp_path, capsys):
    """The README's main job (MobileNetV3-Small, 12 digits epochs, int8 export) on this backend."""
    out, checkpoint = tmp_path / "v3_int8.tflite", tmp_path / "run.keras"
    argv = ["train", "mobilenet_v3_small", "--data", "digits", "--epochs", "12", "--export", str(out), "--checkpoint", str(checkpoint)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", printed).group(1))
    assert accuracy >= 0.90, (BACKEND, printed)
    assert "int8" in printed and out.is_file()
    assert (tmp_path / "v3_int8.labels.txt").read_text().split() == [str(c) for c in range(10)]
    model = keras.saving.load_model(checkpoint, safe_mode=True)
    images = np.concatenate([x for x, _ in digits(input_size=32).test.take(2)])
    keras_out = keras.ops.convert_to_numpy(model.predict(images, verbose=0))
    agreement = np.mean(run_tflite(str(out), images).argmax(-1) == keras_out.argmax(-1))
    assert agreement >= 0.95, agreement
    report = to_tflite(model, tmp_path / "f32.tflite", check_data=images[:8])  # float32 from this backend
    assert report.comparison.relative_error <= 1e-5
    assert relative_error(run_tflite(report.path, images), keras_out) <= 1e-5
    assert all(not op.startswith("FLEX") for op in report.ops)
    assert (pathlib.Path(to_saved_model(model, tmp_path / "saved")) / "saved_model.pb").is_file()


@pytest.mark.other_backends
def test_checkpoint_resume_with_mixed_precision(tmp_path):
    checkpoint = tmp_path / "run.keras"
    data = digits(batch_size=128, val_fraction=0.1, test_fraction=0.6)
    first = fit("mobilenet_v1_025", data, epochs=1, checkpoint=checkpoint, mixed_precision="mixed_bfloat16", verbose=0)
    assert first.model.outputs[0].dtype == "float32" and np.isfinite(first.history["loss"]).all()
    assert keras.mixed_precision.global_policy().name == "float32"
    saved = keras.saving.load_model(checkpoint, safe_mode=True)
    steps = first.schedule.steps_per_epoch  # 4 passes over the 5 batches: epochs have at least 16 steps
    assert steps == 4 * data.steps_per_epoch
    assert int(keras.ops.convert_to_numpy(saved.optimizer.iterations)) == steps
    resumed = fit("mobilenet_v1_025", data, epochs=2, checkpoint=checkpoint, verbose=0)
    assert resumed.epochs_run == 1  # only epoch 2 ran
    assert int(keras.ops.convert_to_numpy(resumed.model.optimizer.iterations)) == 2 * steps
