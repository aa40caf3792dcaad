"""Training: every family learns the digits; resume, NaN, decay, strategy, precision."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from benchmarks.digits import CLAIM, FAMILIES, SHORT, accuracies
from keras_lightnets.data import digits
from keras_lightnets.export import run_tflite, to_tflite
from keras_lightnets.quantization import QuantizedConv, is_quantize_aware
from keras_lightnets.train import (
    NonFiniteLossError, Schedule, TrainConfig, fit, make_optimizer, plan_phases, resolve_schedule,
)
from tests.helpers import digits_results, short_run_bound

# The families' accuracy claim (90 % on the plain 32x32 digits in their full schedules, over seeds) is measured by
# `python -m benchmarks.digits` (benchmarks/results/digits.md). CI trains each family's short schedule (a narrow
# variant for 4-6 epochs: the same layers and code, a fraction of the time) and holds it to the bound sized there
# from the spread over 5 seeds (mean - 4 sd). Worker-seconds: 260 for the four (measured in CI, 2 cores).
# (MobileNetV3-Small's 12 epochs: the shared fixture below; MobileNetV4 Conv-S: tests/test_mobilenet_v4.py.)
SHORT_RUNS = [name for name in FAMILIES if name != "mobilenet_v4_conv_small"]


def test_committed_digits_benchmark_holds_the_claim_for_every_family():
    """Every family's full-schedule runs in benchmarks/results/digits.json reach 90 %; every short schedule is sized."""
    rows = digits_results()["rows"]
    for name in FAMILIES:
        full = accuracies(rows, name, "full")
        assert full and min(full) >= CLAIM, (name, full)
        short_run_bound(name)


@pytest.fixture(scope="module")
def plain_digits():
    """batch size -> the plain (not augmented) 32x32 digits."""
    return {batch: digits(input_size=32, batch_size=batch, augment=False) for batch in (32, 64)}


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_family_learns_the_digits_in_the_short_schedule(name, plain_digits, tmp_path):
    (variant, epochs), batch = SHORT[name], FAMILIES[name][1]
    data = plain_digits[batch]
    result = fit(variant, data, epochs=epochs, verbose=0, dropout=0.2)
    assert result.test_accuracy >= short_run_bound(name), (variant, result.test_accuracy, result.history["val_accuracy"])
    assert result.epochs_run == epochs
    if name.startswith("shufflenet_v2"):  # the int8 file with absorbed shuffles (the default) against one without
        # On this half-trained model (~0.5) int8 rounding flips near-tied images, so the bounds come from 5 runs
        # (seeds 0-3 and one CI run): accuracy apart by 0.003-0.022, the files' top-1 agreeing on 0.867-0.936,
        # the absorbed file -0.017..+0.017 from Keras. A wrong shuffle permutation agrees at about chance.
        images, labels = data.arrays("test")
        top1 = {}
        for absorb in (True, False):
            path = tmp_path / f"absorb_{absorb}.tflite"
            to_tflite(result.model, path, "int8", data.calibration, num_calibration=100, absorb_shuffle=absorb)
            top1[absorb] = run_tflite(path, images).argmax(-1)
        accuracy = {absorb: float(np.mean(top1[absorb] == labels)) for absorb in top1}
        assert abs(accuracy[True] - accuracy[False]) <= 0.04 and np.mean(top1[True] == top1[False]) >= 0.75, accuracy
        assert accuracy[True] >= result.test_accuracy - 0.05, (result.test_accuracy, accuracy)


def test_mobilenet_v3_small_reaches_90_percent(trained_v3_small):
    assert trained_v3_small.test_accuracy >= 0.90
    assert trained_v3_small.epochs_run == 12
    # Train and evaluation agree: BN statistics are usable (no collapse in evaluation).
    assert trained_v3_small.history["val_accuracy"][-1] >= 0.9


def test_quantization_aware_epochs_on_the_digits_main_job_keep_int8_accuracy(trained_v3_small, tmp_path):
    """The main job's float model, one quantization-aware epoch: its int8 file against post-training int8 and float.

    Measured over training seeds (``python -m benchmarks.qat --seeds``, benchmarks/results/qat.md): QAT int8 -
    PTQ int8 from -1.1 to +0.4 points (mean about -0.1), QAT int8 - float from -0.4 to +0.2. Post-training int8
    itself lands up to 0.7 points above or below float on these 450 images (3 images), so the file is held within
    1.5 points of post-training int8 and 1 point of float: issue 27's 0.3 points holds for the mean, not for
    one run.
    """
    data = digits(input_size=32)
    images, labels = data.arrays("test")
    float_model = trained_v3_small.model
    ptq_path = tmp_path / "ptq.tflite"
    to_tflite(float_model, ptq_path, "int8", data.calibration, num_calibration=100)
    ptq = float(np.mean(run_tflite(ptq_path, images).argmax(-1) == labels))
    start = keras.models.clone_model(float_model)
    start.set_weights(float_model.get_weights())
    checkpoint = tmp_path / "qat.keras"
    result = fit(start, data, epochs=0, qat_epochs=1, checkpoint=checkpoint, verbose=0)
    assert is_quantize_aware(result.model) and is_quantize_aware(keras.saving.load_model(checkpoint, safe_mode=True))
    assert result.schedule.describe().startswith("schedule: 1 quantization-aware epochs (17 steps) at learning rate 3e-05")
    qat_path = tmp_path / "qat.tflite"
    to_tflite(result.model, qat_path, "int8")
    outputs = run_tflite(qat_path, images)
    qat = float(np.mean(outputs.argmax(-1) == labels))
    keras_outputs = result.model.predict(images, verbose=0)
    figures = dict(float=trained_v3_small.test_accuracy, ptq=ptq, qat=qat, qat_keras=result.test_accuracy)
    assert qat >= ptq - 0.015 and qat >= trained_v3_small.test_accuracy - 0.01, figures
    assert np.mean(outputs.argmax(-1) == keras_outputs.argmax(-1)) >= 0.99, figures


@pytest.fixture(scope="module")
def small_data():
    return digits(input_size=32, batch_size=128, test_fraction=0.5)


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def test_resume_after_interruption_continues_at_the_saved_step(small_data, tmp_path):
    checkpoint = tmp_path / "run.keras"
    passes = -(-16 // int(small_data.train.cardinality()))  # an epoch has at least 16 steps (MIN_EPOCH_STEPS)
    steps = int(small_data.train.cardinality()) * passes
    assert passes > 1
    with pytest.raises(KeyboardInterrupt):
        fit("mobilenet_v1_025", small_data, epochs=4, checkpoint=checkpoint, verbose=0,
            callbacks=[_Interrupt(epoch=2, batch=1)])
    saved = keras.saving.load_model(checkpoint, safe_mode=True)
    assert int(saved.optimizer.iterations.numpy()) == 2 * steps  # two complete epochs
    assert sorted(os.listdir(tmp_path)) == ["run.keras", "run.keras.progress.json"]  # no half-written temporaries
    result = fit("mobilenet_v1_025", small_data, epochs=4, checkpoint=checkpoint, verbose=0)
    assert result.epochs_run == 2  # epochs 3 and 4 only
    assert result.schedule.passes_per_epoch == passes and result.schedule.steps_per_epoch == steps
    assert int(result.model.optimizer.iterations.numpy()) == 4 * steps
    final = keras.saving.load_model(checkpoint, safe_mode=True)
    for a, b in zip(final.get_weights(), result.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_resume_inside_the_quantization_aware_epochs(small_data, tmp_path):
    """Interrupted in the second quantization-aware epoch: the checkpoint is the quantization-aware model and resumes."""
    checkpoint = tmp_path / "run.keras"
    with pytest.raises(KeyboardInterrupt):
        fit("mobilenet_v1_025", small_data, epochs=0, qat_epochs=2, checkpoint=checkpoint, verbose=0,
            callbacks=[_Interrupt(epoch=1, batch=1)])
    saved = keras.saving.load_model(checkpoint, safe_mode=True)
    assert is_quantize_aware(saved)
    convs = [layer for layer in saved.layers if isinstance(layer, QuantizedConv) and layer.batch_norm]
    assert convs and all(float(layer.statistics_frozen.numpy()) == 0.0 for layer in convs)  # frozen from epoch 2 on
    result = fit("mobilenet_v1_025", small_data, epochs=0, qat_epochs=2, checkpoint=checkpoint, verbose=0)
    assert result.epochs_run == 1 and is_quantize_aware(result.model)
    resumed = [layer for layer in result.model.layers if isinstance(layer, QuantizedConv) and layer.batch_norm]
    assert all(float(layer.statistics_frozen.numpy()) == 1.0 for layer in resumed)
    steps = result.schedule.steps_per_epoch
    assert int(result.model.optimizer.iterations.numpy()) == 2 * steps  # the quantization-aware optimizer, continued


class _Poison(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            kernel = self.model.get_layer("stem").kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


def test_non_finite_loss_stops_with_message_and_keeps_last_good_checkpoint(small_data, tmp_path):
    checkpoint = tmp_path / "run.keras"
    with pytest.raises(NonFiniteLossError, match="epoch 2.*run.keras"):
        fit("mobilenet_v1_025", small_data, epochs=3, checkpoint=checkpoint, verbose=0, callbacks=[_Poison()])
    kept = keras.saving.load_model(checkpoint, safe_mode=True)
    assert all(np.isfinite(w).all() for w in kept.get_weights())


def test_weight_decay_skips_batch_norm_and_biases():
    inputs = keras.Input((4,))
    x = keras.layers.Dense(3, name="dense")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    model = keras.Model(inputs, x)
    optimizer = make_optimizer("adamw", learning_rate=0.1, weight_decay=0.5, total_steps=10, warmup_steps=0)
    model.compile(optimizer=optimizer, loss="mse")
    before = {w.path: w.numpy().copy() for w in model.trainable_weights}
    optimizer.apply_gradients([(np.zeros(w.shape, "float32"), w) for w in model.trainable_weights])
    after = {w.path: w.numpy() for w in model.trainable_weights}
    np.testing.assert_allclose(after["dense/kernel"], before["dense/kernel"] * (1 - 0.1 * 0.5), rtol=1e-5)
    for path in ("dense/bias", "bn/gamma", "bn/beta"):
        np.testing.assert_array_equal(after[path], before[path])


def test_mixed_precision_keeps_float32_output_and_restores_policy(small_data):
    result = fit("mobilenet_v1_025", small_data, epochs=1, mixed_precision="mixed_bfloat16", verbose=0)
    assert result.model.get_layer("stem").compute_dtype == "bfloat16"
    assert result.model.output.dtype == "float32"
    assert np.isfinite(result.history["loss"]).all()
    assert keras.mixed_precision.global_policy().name == "float32"


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    script = textwrap.dedent(
        """
        import os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from keras_lightnets import train
        from keras_lightnets.data import digits
        strategy = train._strategy()
        result = train.fit("mobilenet_v1_025", digits(batch_size=128, test_fraction=0.8), epochs=1, verbose=0)
        print("REPLICAS", train._replicas(strategy), "LOSS", result.history["loss"][0])
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=os.getcwd())
    line = [l for l in done.stdout.splitlines() if l.startswith("REPLICAS")]
    assert line, done.stderr[-3000:]
    _, replicas, _, loss = line[0].split()
    assert int(replicas) == 2 and np.isfinite(float(loss))


def test_log_dir_gets_csv_and_tensorboard(small_data, tmp_path):
    fit("mobilenet_v1_025", small_data, epochs=1, log_dir=tmp_path / "logs", verbose=0)
    assert (tmp_path / "logs" / "log.csv").read_text().startswith("epoch")
    assert any((tmp_path / "logs" / "tensorboard").rglob("events.out.tfevents*"))


@pytest.mark.parametrize(
    "args, kwargs, error, pattern",
    [
        (("mobilenet_v2", "mnist"), {}, ValueError, r"`data`.*mnist"),
        (("mobilenet_v2",), dict(epochs=0), ValueError, "epochs"),
        (("mobilenet_v2",), dict(batch_size=0), ValueError, "batch_size"),
        (("mobilenet_v2",), dict(input_size=16), ValueError, "input_size"),
        (("mobilenet_v2",), dict(learning_rate=float("nan")), ValueError, "learning_rate"),
        (("mobilenet_v2",), dict(optimizer="adam"), ValueError, "optimizer"),
        (("mobilenet_v2",), dict(mixed_precision="float16"), ValueError, "mixed_precision"),
        (("mobilenet_v9",), {}, ValueError, "mobilenet_v9"),
        ((3,), {}, TypeError, "model_or_name"),
        (("mobilenet_v2",), dict(checkpoint="run.h5"), ValueError, "checkpoint"),
    ],
)
def test_bad_training_arguments(args, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        fit(*args, **kwargs)


def test_jax_data_parallel_step_equals_one_device_and_fit_runs():
    """JAX on 2 host devices: one SGD step under DataParallel gives the single-device loss; fit trains."""
    script = textwrap.dedent(
        """
        import keras, numpy as np
        from keras_lightnets import create_model, train
        from keras_lightnets.data import digits
        strategy = train._strategy()
        x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
        y = keras.utils.to_categorical(np.arange(8) % 10, 10)
        def loss_after_step(scope):
            with scope:
                keras.utils.set_random_seed(0)
                model = create_model("mobilenet_v1_025", input_shape=(32, 32, 3), classes=10, include_preprocessing=True)
                model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
                model.train_on_batch(x, y)
                return float(model.evaluate(x, y, verbose=0))
        parallel, single = loss_after_step(strategy.scope()), loss_after_step(train._OneDevice().scope())
        result = train.fit("mobilenet_v1_025", digits(batch_size=64), epochs=1, verbose=0)
        print("RESULT", type(strategy).__name__, train._replicas(strategy), parallel, single,
              len(result.history["val_accuracy"]), result.test_accuracy)
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900, env=env)
    line = [l for l in done.stdout.splitlines() if l.startswith("RESULT")]
    assert line, done.stderr[-3000:]
    _, kind, replicas, parallel, single, val_epochs, test_accuracy = line[0].split()
    assert kind == "DataParallel" and int(replicas) == 2
    assert abs(float(parallel) - float(single)) <= 1e-5 * abs(float(single))
    assert int(val_epochs) == 1 and 0.0 <= float(test_accuracy) <= 1.0


# --------------------------------------------------------------------------- schedule and phase plan (pure)


def test_schedule_from_scratch_keeps_20_epochs_on_the_digits_and_floors_steps_on_small_data():
    assert resolve_schedule(TrainConfig(), steps_per_epoch=17)[:4] == (20, 0, 3e-3, None)  # digits: 1,079 / 64
    small = resolve_schedule(TrainConfig(), steps_per_epoch=2)
    assert small.epochs * 2 >= 300 and small.derived == ("epochs", "learning_rate")


@pytest.mark.parametrize("steps_per_epoch", [1, 2, 5, 12, 47, 400])
def test_derived_fine_tuning_schedule_gives_each_phase_its_steps(steps_per_epoch):
    schedule = resolve_schedule(TrainConfig(weights="imagenet"), steps_per_epoch)
    head, tune = schedule.freeze_epochs, schedule.epochs - schedule.freeze_epochs
    assert head * steps_per_epoch >= 60 and head >= 2
    assert tune * steps_per_epoch >= 300 and tune >= 10
    assert head - 1 < max(2, 60 / steps_per_epoch) and tune - 1 < max(10, 300 / steps_per_epoch)  # no more than needed
    assert (schedule.learning_rate, schedule.fine_tune_learning_rate) == (1e-2, pytest.approx(1e-3))
    assert set(schedule.derived) == {"epochs", "learning_rate", "freeze_epochs", "fine_tune_learning_rate"}


def test_what_the_user_gives_always_wins():
    config = TrainConfig(epochs=12, weights="imagenet", learning_rate=3e-3)
    assert resolve_schedule(config, 2)[:4] == (12, 2, 3e-3, pytest.approx(3e-4))  # head: its 1/6 share of 12
    config = TrainConfig(epochs=40, weights="imagenet", freeze_epochs=7, fine_tune_learning_rate=5e-4)
    schedule = resolve_schedule(config, 2)
    assert schedule[:4] == (40, 7, 1e-2, 5e-4) and schedule.derived == ("learning_rate",)
    assert resolve_schedule(TrainConfig(epochs=3, weights="imagenet", freeze_epochs=9), 2).freeze_epochs == 3
    assert "from the defaults: learning_rate" in schedule.describe()
    assert "head 7 epochs (14 steps) at learning rate 0.01, then fine-tuning 33 epochs (66 steps)" in schedule.describe()


def _plan(schedule, progress=None):
    return [(p.kind, p.index, p.initial_epoch, p.end, p.resumed) for p in plan_phases(schedule, progress)]


def test_phase_plan_fresh_and_resumed():
    two = Schedule(12, 3, 1e-2, 1e-3, 5, ())
    assert _plan(two) == [("head", 0, 0, 3, False), ("fine_tune", 1, 3, 12, False)]
    # Inside phase 1: it continues with its optimizer, phase 2 starts afresh.
    assert _plan(two, {"epochs_done": 2, "phase": 0}) == [("head", 0, 2, 3, True), ("fine_tune", 1, 3, 12, False)]
    # At the boundary: phase 1 is done, phase 2 starts afresh.
    assert _plan(two, {"epochs_done": 3, "phase": 0}) == [("fine_tune", 1, 3, 12, False)]
    # Inside phase 2: it continues with its optimizer.
    assert _plan(two, {"epochs_done": 7, "phase": 1}) == [("fine_tune", 1, 7, 12, True)]
    # Done: nothing left.
    assert _plan(two, {"epochs_done": 12, "phase": 1}) == []
    # No head phase; no fine-tuning phase.
    assert _plan(Schedule(12, 0, 1e-2, 1e-3, 5, ())) == [("fine_tune", 1, 0, 12, False)]
    assert _plan(Schedule(3, 3, 1e-2, 1e-3, 5, ())) == [("head", 0, 0, 3, False)]
    scratch = Schedule(20, 0, 3e-3, None, 5, ())
    assert _plan(scratch) == [("scratch", 0, 0, 20, False)]
    assert _plan(scratch, {"epochs_done": 4, "phase": 0}) == [("scratch", 0, 4, 20, True)]

    # Quantization-aware epochs follow the float phases, and resume like them.
    qat = Schedule(12, 3, 1e-2, 1e-3, 5, (), 1, 4, 1e-4)
    assert _plan(qat)[-1] == ("qat", 2, 12, 16, False)
    assert _plan(qat, {"epochs_done": 12, "phase": 1}) == [("qat", 2, 12, 16, False)]
    assert _plan(qat, {"epochs_done": 14, "phase": 2}) == [("qat", 2, 14, 16, True)]
    assert _plan(Schedule(0, 0, 3e-3, None, 5, (), 1, 2, 3e-4)) == [("qat", 1, 0, 2, False)]


def test_quantization_aware_schedule_runs_at_one_percent_of_the_last_phase():
    scratch = resolve_schedule(TrainConfig(epochs=10, qat_epochs=3), 5)
    assert (scratch.qat_epochs, scratch.qat_learning_rate) == (3, pytest.approx(3e-5))
    tuned = resolve_schedule(TrainConfig(epochs=10, weights="imagenet", qat_epochs=2), 5)
    assert tuned.qat_learning_rate == pytest.approx(1e-5) and "qat_learning_rate" in tuned.derived
    given = resolve_schedule(TrainConfig(epochs=0, qat_epochs=2, qat_learning_rate=5e-5), 5)
    assert given.epochs == 0 and given.describe() == (
        "schedule: 2 quantization-aware epochs (10 steps) at learning rate 5e-05; from the defaults: learning_rate"
    )


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(epochs="12"), TypeError, "epochs"),
        (dict(learning_rate=float("inf")), ValueError, "learning_rate"),
        (dict(fine_tune_batch_norm=1), TypeError, "fine_tune_batch_norm"),
        (dict(label_smoothing=1.0), ValueError, "label_smoothing"),
        (dict(verbose=3), ValueError, "verbose"),
        (dict(warmup_epochs=-1), ValueError, "warmup_epochs"),
        (dict(early_stopping_patience=0), ValueError, "early_stopping_patience"),
        (dict(epochs=0), ValueError, "epochs"),
        (dict(qat_epochs=-1), ValueError, "qat_epochs"),
        (dict(qat_epochs="2"), TypeError, "qat_epochs"),
        (dict(qat_epochs=2, qat_learning_rate=float("nan")), ValueError, "qat_learning_rate"),
        (dict(qat_epochs=2, mixed_precision="mixed_float16"), ValueError, "mixed_precision"),
    ],
)
def test_config_refuses_bad_values(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        TrainConfig(**kwargs)


def test_trainer_functions_stay_short():
    """The issue's bound: no function of the trainer runs 60 lines or more (docstrings not counted)."""
    import ast
    import inspect

    import keras_lightnets.train as train

    tree = ast.parse(inspect.getsource(train))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) else node.body
            lines = body[-1].end_lineno - body[0].lineno + 1
            assert lines < 60, (node.name, lines)
