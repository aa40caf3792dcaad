"""The one trainer: ``keras_lightnets.train.fit`` runs every task (classification, detection, segmentation).

Read it in four parts:

1. :class:`TrainConfig`: every training argument, checked and typed, in one place.
2. :func:`resolve_schedule` and :func:`plan_phases`: how many epochs each phase
   gets and at what learning rate (derived from the data size where the user
   gave no number), and which phases are left when a checkpoint is resumed. Pure.
3. :func:`run_phase`: compile (or continue a resumed optimizer) and ``model.fit``
   one phase with the callbacks it needs.
4. :func:`fit`: data, model, phases, then the one evaluation of the test split.

What differs between tasks (model building, head, loss, metrics, the validation
figure that selects the best epoch, reports, TFLite scoring) is a
:class:`~keras_lightnets.tasks.Task`.

AdamW (or SGD with Nesterov momentum) on a cosine schedule with linear warm-up,
decoupled weight decay that skips BatchNorm and biases, label smoothing, an
atomic ``.keras`` checkpoint every epoch that a later call resumes from, CSV
and TensorBoard logs, early stopping, data parallelism when several devices
are present (``MirroredStrategy`` on TensorFlow, ``DataParallel`` on JAX), and
optional mixed precision with a float32 classifier, on every Keras backend.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import tempfile
import time
from typing import Any, Callable, Iterator, NamedTuple

import keras

from keras_lightnets import export
from keras_lightnets.data import Data, digits
from keras_lightnets.deprecation import moved_from
from keras_lightnets.evaluation import plot_history
from keras_lightnets.files import atomic_target, check_output_path
from keras_lightnets.litert import tflite_latency
from keras_lightnets.models.network import LightNet
from keras_lightnets.quantization import freeze_batch_norm, is_quantize_aware, quantize_aware
from keras_lightnets.registry import create_model, get_entry
from keras_lightnets.tasks import ClassificationTask, Task, task_for
from keras_lightnets.transfer import check_weights_file, fetch_imagenet, load_backbone
from keras_lightnets.validation import check_bool, check_choice, check_float, check_int, require_extra

__all__ = [
    "ExportRow", "NonFiniteLossError", "Phase", "Run", "Schedule", "TrainConfig", "TrainResult",
    "check_transfer_arguments", "export_and_compare", "export_table", "fit", "load_data", "make_optimizer",
    "plan_phases", "resolve_schedule", "run_phase", "write_plots",
]

OPTIMIZERS = ("adamw", "sgd")
PRECISIONS = (None, "mixed_float16", "mixed_bfloat16")
# Peak learning rates: from scratch, and of the head phase when fine-tuning (the fine-tuning
# phase runs at FINE_TUNE_FACTOR of it). Measured: benchmarks/results/fine_tune.md.
DEFAULT_LEARNING_RATE = {"adamw": 3e-3, "sgd": 0.1}
TRANSFER_LEARNING_RATE = {"adamw": 1e-2, "sgd": 0.1}
FINE_TUNE_FACTOR = 0.1
# Quantization-aware epochs run at this fraction of the last float phase's peak learning rate: they
# fine-tune a trained model (NVIDIA's QAT recipe: about 1 % of the original rate). Measured on the
# digits main job: at a tenth, one QAT epoch moved the int8 accuracy by -0.9 to +0.2 points against
# post-training int8 (training noise); at 1 % the int8 file matched it.
QAT_FACTOR = 0.01
QAT_CALIBRATION_BATCHES = 8  # training batches whose min/max start the activation ranges
# Schedules derived from the data size: each phase gets at least this many optimizer steps
# (a few dozen images at batch 64 are 1-2 steps an epoch) and at least this many epochs.
# An epoch is one pass over the training split, or as many passes as make MIN_EPOCH_STEPS steps
# when one pass is shorter (a few dozen images): Keras' per-epoch work (validation, callbacks,
# logs) then stays a small share of the run.
MIN_EPOCH_STEPS = 16
HEAD_STEPS, MIN_HEAD_EPOCHS = 60, 2
FINE_TUNE_STEPS, MIN_FINE_TUNE_EPOCHS = 300, 10
SCRATCH_STEPS, MIN_SCRATCH_EPOCHS = 300, 20
DEFAULT_FREEZE_EPOCHS = MIN_HEAD_EPOCHS  # kept name: the head phase's floor
PROGRESS_SUFFIX = ".progress.json"
# Decoupled weight decay: not applied to BatchNorm gamma/beta or to biases.
NO_DECAY = ["gamma", "beta", "bias"]


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/inf loss; the last good checkpoint is kept."""


@dataclasses.dataclass
class TrainResult:
    """What :func:`fit` did; ``val_metrics`` of the returned weights, ``test_metrics`` measured once."""

    model: keras.Model
    history: dict[str, list[float]]
    val_metrics: dict[str, float]
    test_metrics: dict[str, float]
    epochs_run: int
    seconds: float
    checkpoint: str | None
    class_names: list[str]
    schedule: Schedule | None = None

    @property
    def val_accuracy(self) -> float:
        """Accuracy on the validation split (classification)."""
        return self.val_metrics["accuracy"]

    @property
    def test_accuracy(self) -> float:
        """Accuracy on the test split, evaluated once after training (classification)."""
        return self.test_metrics["accuracy"]


# --------------------------------------------------------------------------- 1. configuration


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every argument of :func:`fit` that is not the model or the data, checked on construction.

    ``None`` means "derive it" (:func:`resolve_schedule`). Ranges: ``epochs`` >= 1,
    ``freeze_epochs`` >= 0, learning rates > 0, ``input_size`` >= 32,
    ``batch_size`` >= 1, ``weight_decay`` >= 0, ``warmup_epochs`` >= 0,
    ``label_smoothing`` in [0, 1), ``early_stopping_patience`` >= 1, ``seed`` >= 0,
    ``verbose`` 0/1/2, ``min_epoch_steps`` >= 1, ``qat_epochs`` >= 0 (with it ``epochs`` may be 0),
    ``qat_learning_rate`` > 0. See :func:`fit` for each argument's meaning.

    Examples:
        >>> TrainConfig(epochs=12, weights=None).optimizer
        'adamw'
    """

    epochs: int | None = None
    weights: str | None = None
    freeze_epochs: int | None = None
    unfreeze_from: str | None = None
    fine_tune_learning_rate: float | None = None
    fine_tune_batch_norm: bool = False
    input_size: int = 32
    batch_size: int = 64
    optimizer: str = "adamw"
    learning_rate: float | None = None
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    checkpoint: str | None = None
    resume: bool = True
    early_stopping_patience: int | None = None
    log_dir: str | None = None
    mixed_precision: str | None = None
    seed: int = 0
    verbose: int = 1
    min_epoch_steps: int = MIN_EPOCH_STEPS
    qat_epochs: int = 0
    qat_learning_rate: float | None = None

    def __post_init__(self) -> None:
        def optional(name: str, check: Any, **bounds: Any) -> None:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check(name, value, **bounds))

        object.__setattr__(self, "qat_epochs", check_int("qat_epochs", self.qat_epochs, low=0))
        optional("epochs", check_int, low=0 if self.qat_epochs else 1)  # 0: quantization-aware epochs only
        optional("qat_learning_rate", check_float, low=0.0, low_inclusive=False)
        optional("freeze_epochs", check_int, low=0)
        optional("fine_tune_learning_rate", check_float, low=0.0, low_inclusive=False)
        optional("learning_rate", check_float, low=0.0, low_inclusive=False)
        optional("early_stopping_patience", check_int, low=1)
        for name, low in (("input_size", 32), ("batch_size", 1), ("seed", 0), ("min_epoch_steps", 1)):
            object.__setattr__(self, name, check_int(name, getattr(self, name), low=low))
        for name in ("weight_decay", "warmup_epochs"):
            object.__setattr__(self, name, check_float(name, getattr(self, name), low=0.0))
        check_float("label_smoothing", self.label_smoothing, low=0.0, high=1.0, high_inclusive=False)
        check_bool("resume", self.resume)
        check_bool("fine_tune_batch_norm", self.fine_tune_batch_norm)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("mixed_precision", self.mixed_precision, PRECISIONS)
        check_choice("verbose", self.verbose, (0, 1, 2))
        self._check_transfer()
        if self.qat_epochs and self.mixed_precision is not None:
            raise ValueError(
                f"`qat_epochs` simulates int8 in float32; it cannot run with `mixed_precision`={self.mixed_precision!r}."
            )
        if self.epochs == 0 and self.transfer:
            raise ValueError("`epochs`=0 (quantization-aware epochs only) needs a trained model, not `weights`.")
        if self.checkpoint is not None:
            checkpoint = os.path.abspath(os.fspath(self.checkpoint))
            if not checkpoint.endswith(".keras"):
                raise ValueError(f"`checkpoint` must end with '.keras'; received {checkpoint!r}.")
            if not os.path.isdir(os.path.dirname(checkpoint)):
                raise ValueError(f"`checkpoint` folder does not exist: {os.path.dirname(checkpoint)!r}.")
            object.__setattr__(self, "checkpoint", checkpoint)
        if self.log_dir is not None:
            object.__setattr__(self, "log_dir", os.fspath(self.log_dir))
            require_extra("plot", "`log_dir` (its training curves and evaluation plots)", modules=["matplotlib"])

    def _check_transfer(self) -> None:
        if self.weights is None:
            if self.freeze_epochs is not None or self.unfreeze_from is not None:
                raise ValueError("`freeze_epochs` and `unfreeze_from` need pretrained `weights`.")
            return
        if not isinstance(self.weights, (str, os.PathLike)):
            raise TypeError(f"`weights` must be None, 'imagenet' or a path; received {self.weights!r}.")
        if self.weights != "imagenet" and not os.path.isfile(self.weights):
            raise ValueError(f"`weights` must be 'imagenet' or an existing weights file; received {self.weights!r}.")
        if self.unfreeze_from is not None and not isinstance(self.unfreeze_from, str):
            raise TypeError(f"`unfreeze_from` must be a block name (str); received {self.unfreeze_from!r}.")

    @property
    def transfer(self) -> bool:
        """Whether training starts from pretrained weights (two phases)."""
        return self.weights is not None

    def check_for(self, model_or_name: Any, model_kwargs: dict[str, Any]) -> None:
        """The checks that need the model: its name, its blocks, its weights file (downloaded now for ``"imagenet"``).

        Args:
            model_or_name: the model or registered name given to :func:`fit`.
            model_kwargs: the model arguments given to :func:`fit`.

        Examples:
            >>> TrainConfig(weights="run.keras").check_for("mobilenet_v3_small", {})
        """
        if isinstance(model_or_name, keras.Model):
            if self.mixed_precision is not None or model_kwargs:
                raise ValueError("`mixed_precision` and model arguments need a model name (the model is built for them).")
            if self.transfer:
                raise ValueError("`weights` needs a registered model name (the model is built for the data's classes).")
            return
        if not isinstance(model_or_name, str):
            raise TypeError(f"`model_or_name` must be a keras.Model or a registered name; received {model_or_name!r}.")
        get_entry(model_or_name)  # unknown names fail here, before any data is loaded
        check_transfer_arguments(model_or_name, self.weights, self.freeze_epochs, self.unfreeze_from)
        if self.weights == "imagenet":
            fetch_imagenet(model_or_name)
        elif self.weights is not None:
            check_weights_file(os.fspath(self.weights))


def check_transfer_arguments(model_or_name: Any, weights: Any, freeze_epochs: Any, unfreeze_from: Any) -> None:
    """Check the transfer arguments of :func:`fit` (before any data is read).

    Args:
        model_or_name: the model or registered name given to :func:`fit`.
        weights: None, ``"imagenet"`` or a weights file path.
        freeze_epochs: None or an int >= 0.
        unfreeze_from: None or a block name of the model.

    Examples:
        >>> check_transfer_arguments("mobilenet_v3_small", "imagenet", 2, "block_8")
    """
    config = TrainConfig(weights=weights, freeze_epochs=freeze_epochs, unfreeze_from=unfreeze_from)
    if weights is None:
        return
    if not isinstance(model_or_name, str):
        raise ValueError("`weights` needs a registered model name (the model is built for the data's classes).")
    if config.unfreeze_from is not None:
        detector = get_entry(model_or_name).task == "detection"
        shape = {"num_classes": 2} if detector else {"input_shape": (32, 32, 3), "classes": 2}
        names = [layer.name for layer in create_model(model_or_name, **shape).layers]
        if not any(_in_block(name, unfreeze_from) for name in names):
            blocks = list(dict.fromkeys(m[0] for n in names if (m := re.match(r"block_\d+|stage\d_unit\d+", n))))
            raise ValueError(
                f"`unfreeze_from` {unfreeze_from!r} is not a block of {model_or_name}; its blocks are {blocks}."
            )


# --------------------------------------------------------------------------- 2. schedule and phase plan


class Schedule(NamedTuple):
    """Epochs and peak learning rates of a run; ``derived`` names what came from the defaults."""

    epochs: int
    freeze_epochs: int  # head-only epochs (0 from scratch)
    learning_rate: float  # from scratch, or of the head phase
    fine_tune_learning_rate: float | None  # None from scratch
    steps_per_epoch: int
    derived: tuple[str, ...]
    passes_per_epoch: int = 1  # passes over the training split in one epoch (MIN_EPOCH_STEPS)
    qat_epochs: int = 0  # quantization-aware epochs after ``epochs``
    qat_learning_rate: float | None = None

    def describe(self) -> str:
        """One line for the user: each phase's epochs, steps and learning rate, and what was derived.

        Examples:
            >>> Schedule(20, 0, 3e-3, None, 17, ("epochs",)).describe()
            'schedule: 20 epochs (340 steps) at learning rate 0.003; from the defaults: epochs'
        """
        steps = self.steps_per_epoch
        if self.epochs == 0:  # quantization-aware epochs only, on a trained model
            text = ""
        elif self.fine_tune_learning_rate is None:
            text = f"{self.epochs} epochs ({self.epochs * steps} steps) at learning rate {self.learning_rate:g}"
        else:
            tune = self.epochs - self.freeze_epochs
            text = (
                f"head {self.freeze_epochs} epochs ({self.freeze_epochs * steps} steps) at learning rate "
                f"{self.learning_rate:g}, then fine-tuning {tune} epochs ({tune * steps} steps) at "
                f"{self.fine_tune_learning_rate:g}"
            )
        if self.qat_epochs:
            text += (
                f"{', then ' if text else ''}{self.qat_epochs} quantization-aware epochs ({self.qat_epochs * steps} "
                f"steps) at learning rate {self.qat_learning_rate:g}"
            )
        if self.passes_per_epoch > 1:
            text += f" (an epoch: {self.passes_per_epoch} passes over the small training split)"
        return f"schedule: {text}" + (f"; from the defaults: {', '.join(self.derived)}" if self.derived else "")


def resolve_schedule(config: TrainConfig, steps_per_epoch: int, passes_per_epoch: int = 1) -> Schedule:
    """Fill in what ``config`` leaves to the defaults, from the number of steps an epoch has.

    From scratch: ``max(20, ceil(300 / steps_per_epoch))`` epochs at 3e-3 (AdamW).
    Fine-tuning: a head phase of ``max(2, ceil(60 / steps_per_epoch))`` epochs at
    1e-2, then ``max(10, ceil(300 / steps_per_epoch))`` epochs at a tenth of it, so
    a few dozen images still get 360 optimizer steps. Given ``epochs`` without
    ``freeze_epochs``, the head phase takes its share (1/6) of them, at most its
    derived length. Quantization-aware epochs (``qat_epochs``, none by default)
    follow at 1 % of the last phase's learning rate. What the user gave always wins.

    Args:
        config: the checked configuration.
        steps_per_epoch: training batches per epoch (>= 1).
        passes_per_epoch: passes over the training split in one epoch (>= 1), for the description.

    Examples:
        >>> resolve_schedule(TrainConfig(weights="imagenet"), steps_per_epoch=16)[:4]
        (23, 4, 0.01, 0.001)
    """
    steps = check_int("steps_per_epoch", steps_per_epoch, low=1)
    derived = [name for name in ("epochs", "learning_rate") if getattr(config, name) is None]
    if config.qat_epochs and config.qat_learning_rate is None:
        derived.append("qat_learning_rate")
    if not config.transfer:
        epochs = max(MIN_SCRATCH_EPOCHS, math.ceil(SCRATCH_STEPS / steps)) if config.epochs is None else config.epochs
        rate = config.learning_rate or DEFAULT_LEARNING_RATE[config.optimizer]
        qat = config.qat_learning_rate or rate * QAT_FACTOR
        return Schedule(epochs, 0, rate, None, steps, tuple(derived), passes_per_epoch, config.qat_epochs, qat)
    head = max(MIN_HEAD_EPOCHS, math.ceil(HEAD_STEPS / steps))
    if config.epochs is None:
        freeze = head if config.freeze_epochs is None else config.freeze_epochs
        epochs = freeze + max(MIN_FINE_TUNE_EPOCHS, math.ceil(FINE_TUNE_STEPS / steps))
    else:
        epochs = config.epochs
        share = math.ceil(epochs * HEAD_STEPS / (HEAD_STEPS + FINE_TUNE_STEPS))
        freeze = min(head, share) if config.freeze_epochs is None else config.freeze_epochs
    rate = config.learning_rate or TRANSFER_LEARNING_RATE[config.optimizer]
    tune_rate = config.fine_tune_learning_rate or rate * FINE_TUNE_FACTOR
    derived += [name for name in ("freeze_epochs", "fine_tune_learning_rate") if getattr(config, name) is None]
    qat = config.qat_learning_rate or tune_rate * QAT_FACTOR
    return Schedule(
        epochs, min(freeze, epochs), rate, tune_rate, steps, tuple(derived), passes_per_epoch, config.qat_epochs, qat
    )


class Phase(NamedTuple):
    """One phase of a run: epochs ``[start, end)``, begun (or resumed) at ``initial_epoch``."""

    kind: str  # "scratch", "head" (backbone frozen), "fine_tune" or "qat" (quantization-aware)
    index: int  # its place in the run (recorded in the checkpoint's progress file)
    start: int
    end: int
    learning_rate: float
    initial_epoch: int
    resumed: bool  # continues the checkpoint's optimizer (same phase): not compiled again


def plan_phases(schedule: Schedule, progress: dict[str, int] | None = None) -> list[Phase]:
    """The phases still to run, given a saved ``progress`` (``{"epochs_done", "phase"}``) or None.

    A phase that ended or is empty is left out; one the checkpoint stopped in
    continues at its epoch with its optimizer; the next starts afresh.

    Args:
        schedule: from :func:`resolve_schedule`.
        progress: the checkpoint's progress, or None for a fresh run.

    Examples:
        >>> schedule = Schedule(12, 2, 1e-2, 1e-3, 5, ())
        >>> [(p.kind, p.initial_epoch, p.end, p.resumed) for p in plan_phases(schedule, {"epochs_done": 1, "phase": 0})]
        [('head', 1, 2, True), ('fine_tune', 2, 12, False)]
    """
    if schedule.fine_tune_learning_rate is None:
        bounds = [("scratch", 0, schedule.epochs, schedule.learning_rate)]
    else:
        bounds = [
            ("head", 0, schedule.freeze_epochs, schedule.learning_rate),
            ("fine_tune", schedule.freeze_epochs, schedule.epochs, schedule.fine_tune_learning_rate),
        ]
    if schedule.qat_epochs:
        bounds.append(("qat", schedule.epochs, schedule.epochs + schedule.qat_epochs, schedule.qat_learning_rate))
    done = 0 if progress is None else progress["epochs_done"]
    saved = None if progress is None else progress["phase"]
    return [
        Phase(kind, index, start, end, rate, max(start, done), saved == index)
        for index, (kind, start, end, rate) in enumerate(bounds)
        if end > max(start, done)
    ]


# --------------------------------------------------------------------------- 3. one phase


def make_optimizer(
    name: str, learning_rate: float, weight_decay: float, total_steps: int, warmup_steps: int
) -> keras.optimizers.Optimizer:
    """AdamW or SGD (momentum 0.9, Nesterov) on a warm-up + cosine schedule.

    Args:
        name: ``"adamw"`` or ``"sgd"``.
        learning_rate: peak learning rate (> 0).
        weight_decay: decoupled weight decay (>= 0).
        total_steps: steps of the whole run (>= 1).
        warmup_steps: linear warm-up steps (>= 0).

    Examples:
        >>> optimizer = make_optimizer("adamw", 3e-3, 1e-4, total_steps=1000, warmup_steps=50)
    """
    check_choice("optimizer", name, OPTIMIZERS)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(total_steps - warmup_steps, 1),
        warmup_target=learning_rate,
        warmup_steps=warmup_steps,
    )
    if name == "adamw":
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
    else:
        optimizer = keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    return optimizer


class _AtomicCheckpoint(keras.callbacks.Callback):
    """Save the model (with optimizer state) and the run's progress atomically after each good epoch."""

    def __init__(self, path: str, phase: int) -> None:
        super().__init__()
        self.path = path
        self.phase = phase

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or not math.isfinite(loss):
            return
        with atomic_target(self.path) as target:
            self.model.save(target)
        with atomic_target(self.path + PROGRESS_SUFFIX) as target, open(target, "w", encoding="utf-8") as file:
            json.dump({"epochs_done": epoch + 1, "phase": self.phase}, file)


class _FreezeStatistics(keras.callbacks.Callback):
    """Quantization-aware epochs: freeze BatchNorm statistics from epoch ``epoch`` on (the standard last phase)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch >= self.epoch:
            freeze_batch_norm(self.model)


class _OneDevice:
    """Training on Keras' default device (the scope of a single-device run)."""

    num_replicas_in_sync = 1

    def scope(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


@contextlib.contextmanager
def _one_device() -> Iterator[None]:
    """Leave a JAX data-parallel distribution for a while: whole batches, any size, on one device."""
    distribution = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(distribution)


class _ValidateOnOneDevice(keras.callbacks.Callback):
    """The validation split evaluated after each epoch outside the data-parallel distribution.

    A JAX ``DataParallel`` run needs every batch divisible by the device count;
    the validation split must be seen whole, so it is evaluated on one device
    (the variables are replicated) and written to the logs as ``val_*``.
    """

    def __init__(self, val: Any) -> None:
        super().__init__()
        self.val = val

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        with _one_device():
            results = self.model.evaluate(self.val, verbose=0, return_dict=True)
        if logs is not None:
            logs.update({f"val_{key}": value for key, value in results.items()})


def _strategy() -> Any:
    """How :func:`fit` spreads each batch over the devices, per backend.

    TensorFlow: ``tf.distribute.MirroredStrategy`` over the GPUs (or logical
    CPUs) when there are several. JAX: ``keras.distribution.DataParallel`` over
    ``jax.devices()`` when there are several (its ``scope()`` is entered for the
    whole run: variables are laid out and batches sharded under it). PyTorch:
    one device (Keras' ``fit`` has no multi-device torch path).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus or tf.config.list_logical_devices("CPU")
        if len(devices) > 1:
            return tf.distribute.MirroredStrategy([d.name for d in devices])
        return tf.distribute.get_strategy()
    if backend == "jax":
        devices = keras.distribution.list_devices()
        if len(devices) > 1:
            return keras.distribution.DataParallel(devices=devices)
    return _OneDevice()


def _replicas(strategy: Any) -> int:
    """How many devices share each batch under ``strategy`` (from :func:`_strategy`)."""
    if isinstance(strategy, keras.distribution.DataParallel):
        return int(math.prod(strategy.device_mesh.shape))
    return int(strategy.num_replicas_in_sync)


class Run(NamedTuple):
    """What every phase of one :func:`fit` call shares."""

    config: TrainConfig
    task: Task
    train: Any  # prepared training split
    val: Any  # prepared validation split
    sharded: bool  # JAX data parallelism: validation runs on one device, in a callback
    callbacks: list[keras.callbacks.Callback]  # the user's
    data: Any = None  # the Data (the task's callbacks read it)


def _phase_callbacks(run: Run, phase: Phase) -> list[keras.callbacks.Callback]:
    config = run.config
    callbacks: list[keras.callbacks.Callback] = [
        *run.task.callbacks(run.val, run.data), keras.callbacks.TerminateOnNaN(raise_error=True)
    ]
    if run.sharded:  # validated whole on one device, before the callbacks that read the validation figure
        callbacks.insert(0, _ValidateOnOneDevice(run.val))
    if phase.kind == "qat":  # BatchNorm statistics freeze for the second half (from the start after frozen fine-tuning)
        frozen_before = config.transfer and not config.fine_tune_batch_norm
        callbacks.insert(0, _FreezeStatistics(phase.start if frozen_before else (phase.start + phase.end) // 2))
    if config.checkpoint is not None:
        callbacks.append(_AtomicCheckpoint(config.checkpoint, phase.index))
    if config.early_stopping_patience is not None:  # model selection on the validation split only
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=run.task.monitor, mode="max", patience=config.early_stopping_patience, restore_best_weights=True
        ))
    if config.log_dir is not None:
        callbacks.append(keras.callbacks.CSVLogger(os.path.join(config.log_dir, "log.csv"), append=phase.initial_epoch > 0))
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(config.log_dir, "tensorboard"), write_graph=False))
    return callbacks + run.callbacks


def run_phase(model: keras.Model, phase: Phase, run: Run, steps_per_epoch: int) -> dict[str, list[float]]:
    """Freeze for ``phase``, compile (unless resumed), ``model.fit`` it; return its history.

    Args:
        model: the model being trained.
        phase: from :func:`plan_phases`.
        run: what the run's phases share (configuration, task, prepared splits, callbacks).
        steps_per_epoch: training batches per epoch (>= 1).

    Raises:
        NonFiniteLossError: a batch loss became NaN or inf (Keras' ``TerminateOnNaN``);
            the checkpoint keeps the last good epoch.

    Examples:
        >>> from keras_lightnets import create_model
        >>> task, config = ClassificationTask(), TrainConfig(epochs=1, verbose=0)
        >>> run = Run(config, task, task.prepare(data.train, data), task.prepare(data.val, data), False, [], data)
        >>> phase = plan_phases(resolve_schedule(config, steps_per_epoch=4))[0]
        >>> fresh = create_model("mobilenet_v1_025", classes=2, input_shape=(32, 32, 3))
        >>> sorted(run_phase(fresh, phase, run, steps_per_epoch=4))
        ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """
    config = run.config
    if not phase.resumed:
        _set_trainable(model, phase.kind, config.unfreeze_from, run.task.is_head, config.fine_tune_batch_norm)
        optimizer = make_optimizer(
            config.optimizer, phase.learning_rate, config.weight_decay,
            (phase.end - phase.start) * steps_per_epoch, int(config.warmup_epochs * steps_per_epoch),
        )
        model.compile(optimizer=optimizer, loss=run.task.loss(config.label_smoothing, model), metrics=run.task.metrics(model))
    _build_before_tracing(model, run.train)
    try:
        fitted = model.fit(
            run.train,
            validation_data=None if run.sharded else run.val,
            epochs=phase.end,
            initial_epoch=phase.initial_epoch,
            callbacks=_phase_callbacks(run, phase),
            verbose=config.verbose,
            shuffle=False,  # the training pipeline shuffles itself
        )
    except RuntimeError as error:
        if "NaN or Inf loss" not in str(error):
            raise
        epoch = phase.initial_epoch + len(model.history.epoch) + 1
        where = f"; the last good checkpoint is {config.checkpoint!r}" if config.checkpoint else ""
        raise NonFiniteLossError(
            f"The training loss became NaN or inf in epoch {epoch}{where}. Lower `learning_rate` or check the data."
        ) from None
    return {key: [float(v) for v in values] for key, values in fitted.history.items()}


def _build_before_tracing(model: keras.Model, train: Any) -> None:
    """Build the optimizer, losses and metrics from the training data's spec before ``fit`` traces its step.

    Without a distribution strategy Keras' TensorFlow trainer builds them inside the
    first traced step, and TensorFlow then traces the whole step again (variables
    were created on the first call): one more trace per ``fit``, 2-15 s on CPU.
    JAX and PyTorch build them outside the step already.
    """
    if keras.backend.backend() == "tensorflow":
        model._symbolic_build(data_batch=train.element_spec)


def _set_trainable(
    model: keras.Model, kind: str, unfreeze_from: str | None, is_head: Callable[[str], bool], batch_norm: bool = False
) -> None:
    """Freeze per phase: everything trains from scratch; the head alone; or the layers from a block on.

    Frozen BatchNorm layers run in inference mode (Keras semantics). In the
    fine-tuning phase BatchNorm stays frozen (the Keras transfer-learning
    guide) unless ``batch_norm``.
    """
    model.trainable = True
    if kind in ("scratch", "qat"):
        return
    unfrozen = kind == "fine_tune" and unfreeze_from is None
    for layer in model.layers:
        if kind == "fine_tune" and not unfrozen and _in_block(layer.name, unfreeze_from):
            unfrozen = True
        frozen_norm = isinstance(layer, keras.layers.BatchNormalization) and not batch_norm
        layer.trainable = is_head(layer.name) or (unfrozen and not frozen_norm)


def _in_block(layer_name: str, block: str | None) -> bool:
    return block is not None and (layer_name == block or layer_name.startswith(f"{block}_"))


def _read_progress(checkpoint: str) -> dict[str, int]:
    path = checkpoint + PROGRESS_SUFFIX
    try:
        with open(path, encoding="utf-8") as file:
            progress = json.load(file)
        return {"epochs_done": int(progress["epochs_done"]), "phase": int(progress["phase"])}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"Cannot resume from {checkpoint!r}: its progress file {path!r} is missing or unreadable ({error}). "
            "Pass resume=False to start again."
        ) from None


# --------------------------------------------------------------------------- 4. fit


def load_data(
    data: Any,
    input_size: int = 32,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = False,
    task: Task | None = None,
    **options: Any,
) -> Data:
    """``"digits"``, a folder path, or a :class:`~keras_lightnets.data.Data` -> ``Data``.

    Args:
        data: ``"digits"``, an image folder path (a labelled detection folder for
            detection) or a ``Data``.
        input_size: square image size (>= 32).
        batch_size: batch size (>= 1).
        seed: split and shuffle seed (>= 0).
        progress: show a progress bar while an image folder is checked.
        task: the task whose folder layout ``data`` follows (default classification).
        **options: passed to :func:`~keras_lightnets.data.digits` or
            :func:`~keras_lightnets.data.image_folder` (``val_fraction``,
            ``test_fraction``; for folders also ``flip``, ``strict``, ``cache``...).

    Examples:
        >>> load_data("digits", input_size=32).num_classes
        10
    """
    task = task or ClassificationTask()
    if isinstance(data, Data):
        return data
    if isinstance(data, str) and data == "digits" and task.name == "classification":
        return digits(input_size=input_size, batch_size=batch_size, seed=seed, **options)
    if isinstance(data, (str, os.PathLike)) and os.path.isdir(data):
        return task.load_folder(data, input_size=input_size, batch_size=batch_size, seed=seed, progress=progress, **options)
    raise ValueError(
        f"`data` must be 'digits' (classification), a folder or a keras_lightnets.data.Data; received {data!r}"
        f" for a {task.name} model."
    )


def _training_split(task: Task, data: Data, strategy: Any, config: TrainConfig) -> tuple[Any, int, int, bool]:
    """(prepared training split, steps per epoch, passes per epoch, sharded).

    A split shorter than ``config.min_epoch_steps`` batches is repeated within an
    epoch; JAX data parallelism drops the last odd batch of each pass.
    """
    import tensorflow as tf

    train = task.prepare(data.train, data)
    steps, sharded = data.steps_per_epoch, isinstance(strategy, keras.distribution.DataParallel)
    if sharded:
        if config.batch_size % _replicas(strategy):
            raise ValueError(
                f"`batch_size` must be a multiple of the {_replicas(strategy)} JAX devices "
                f"for data-parallel training; received {config.batch_size}."
            )
        steps = data.counts["train"] // config.batch_size
        if steps == 0:
            raise ValueError(
                f"The training split ({data.counts['train']} images) is smaller than one batch of "
                f"`batch_size`={config.batch_size}; lower `batch_size`."
            )
        train = train.unbatch().batch(config.batch_size, drop_remainder=True)
        train = train.apply(tf.data.experimental.assert_cardinality(steps))
    passes = math.ceil(config.min_epoch_steps / steps)
    return (train.repeat(passes) if passes > 1 else train), steps * passes, passes, sharded


def _start_model(
    model_or_name: Any, data: Data, config: TrainConfig, task: Task, kwargs: dict[str, Any], strategy: Any, resuming: bool
) -> keras.Model:
    """The checkpoint to resume, or the model built (and loaded with pretrained weights) for ``data``."""
    if resuming:
        check_weights_file(config.checkpoint)
        model = keras.saving.load_model(config.checkpoint, safe_mode=True)
    elif isinstance(model_or_name, keras.Model):
        model = model_or_name
        if _replicas(strategy) > 1:  # variables must be created under the strategy
            model = keras.models.clone_model(model_or_name)
            model.set_weights(model_or_name.get_weights())
    else:
        pretrained = task.pretrained_arguments(model_or_name) if config.weights is not None else {}
        model = task.build(model_or_name, data, **{**pretrained, **kwargs})
        if config.weights is not None:
            load_backbone(model, model_or_name, os.fspath(config.weights))
    if isinstance(model, LightNet):
        model.class_names = list(data.class_names)
    return model


def fit(
    model_or_name: Any,
    data: Any = "digits",
    epochs: int | None = None,
    *,
    weights: str | None = None,
    freeze_epochs: int | None = None,
    unfreeze_from: str | None = None,
    fine_tune_learning_rate: float | None = None,
    fine_tune_batch_norm: bool = False,
    input_size: int = 32,
    batch_size: int = 64,
    optimizer: str = "adamw",
    learning_rate: float | None = None,
    weight_decay: float = 1e-4,
    warmup_epochs: float = 1.0,
    label_smoothing: float = 0.1,
    checkpoint: Any = None,
    resume: bool = True,
    early_stopping_patience: int | None = None,
    log_dir: Any = None,
    mixed_precision: str | None = None,
    seed: int = 0,
    verbose: int = 1,
    callbacks: list[keras.callbacks.Callback] | None = None,
    task: Task | None = None,
    min_epoch_steps: int = MIN_EPOCH_STEPS,
    qat_epochs: int = 0,
    qat_learning_rate: float | None = None,
    **model_kwargs: Any,
) -> TrainResult:
    """Train a model (or a registered name, built for the data), select on validation, test once.

    From scratch (``weights=None``) everything trains in one phase. From
    pretrained weights two phases follow the Keras transfer-learning guide:
    ``freeze_epochs`` with the backbone frozen (BatchNorm in inference mode)
    and only the new head training, then the rest of ``epochs`` with the
    layers from ``unfreeze_from`` on (default all) training at
    ``fine_tune_learning_rate`` (default a tenth of the head's) and BatchNorm
    frozen unless ``fine_tune_batch_norm``. What is left as None is derived
    from the data size (:func:`resolve_schedule`: every phase gets enough
    optimizer steps on a few dozen images too) and printed when ``verbose``.
    Early stopping and best-epoch restoring watch the task's validation figure
    (``val_accuracy`` for classification, ``val_map`` for detectors: COCO
    mAP with pycocotools); the test split is evaluated once, at the end.
    A detector name (``"ssdlite_mobilenet_v3_large"``) trains on a labelled
    detection folder (COCO, Pascal VOC or YOLO:
    :func:`keras_lightnets.detection.detection_folder`).

    Runs on the TensorFlow, JAX and PyTorch backends (the data stays in
    ``tf.data``; Keras hands each batch to the backend). Several devices:
    ``MirroredStrategy`` on TensorFlow, ``keras.distribution.DataParallel`` on
    JAX (``batch_size`` a multiple of the device count, validation and test
    evaluated whole on one device), one device on PyTorch.

    Args:
        model_or_name: a Keras model taking the data's images in [0, 255], or a
            registered name (built by its task with ``include_preprocessing=True``,
            the data's classes and input shape, ``bn_momentum=0.9`` unless given).
        data: ``"digits"``, an image folder path, or a :class:`~keras_lightnets.data.Data`.
        epochs: total epochs (>= 1) over both phases, counting those of a resumed
            checkpoint; default derived from the data size. An epoch is one pass over
            the training split, or several when one pass is under ``min_epoch_steps`` steps.
        weights: None (from scratch), ``"imagenet"`` (downloaded now, before the
            data is read) or the path of a ``.keras``, ``.weights.h5`` or ``.h5``
            file of the same architecture, any classes (its head is dropped; see
            :func:`keras_lightnets.transfer.load_backbone`). Needs a model name.
        freeze_epochs: epochs (>= 0) of the head-only phase; default derived.
        unfreeze_from: the first block that trains in the second phase (e.g.
            ``"block_8"``); default: every layer.
        fine_tune_learning_rate: peak learning rate (> 0) of the second phase.
        fine_tune_batch_norm: BatchNorm layers train (and update their statistics)
            in the second phase.
        input_size: image size (>= 32) when ``data`` is a name or folder.
        batch_size: batch size (>= 1) when ``data`` is a name or folder.
        optimizer: ``"adamw"`` or ``"sgd"``.
        learning_rate: peak learning rate (> 0) from scratch or of the head phase;
            default 3e-3 from scratch, 1e-2 for the head (AdamW); 0.1 (SGD).
        weight_decay: decoupled weight decay (>= 0), not applied to BatchNorm or biases.
        warmup_epochs: linear warm-up length in epochs (>= 0).
        label_smoothing: in [0, 1).
        checkpoint: optional ``.keras`` path written atomically after each
            epoch; with ``resume`` an existing one is loaded and training
            continues at its optimizer step.
        resume: continue from ``checkpoint`` when it exists.
        early_stopping_patience: stop after this many epochs (>= 1) without a
            better validation figure, restoring the best weights.
        log_dir: optional folder for ``log.csv``, TensorBoard logs and ``splits.json``.
        mixed_precision: None, ``"mixed_float16"`` or ``"mixed_bfloat16"``
            (needs a model name; the classifier output stays float32).
        seed: random seed (>= 0).
        verbose: 0 (silent), 1 (progress bar) or 2 (one line per epoch).
        callbacks: extra Keras callbacks.
        task: the :class:`~keras_lightnets.tasks.Task`; default the registered name's.
        min_epoch_steps: the fewest optimizer steps (>= 1) an epoch has: a training split
            of fewer batches is passed over several times per epoch (default 16; 1: one pass).
        qat_epochs: quantization-aware epochs (>= 0) after the float ones: the
            model becomes :func:`keras_lightnets.quantization.quantize_aware`'s
            (activation ranges from training images), trains at
            ``qat_learning_rate`` with BatchNorm statistics frozen for the second
            half (from the start when fine-tuning kept them frozen), and is the
            returned (and checkpointed) model; its int8 file takes the learned
            ranges. With ``qat_epochs``, ``epochs=0`` runs only them on a trained model.
        qat_learning_rate: their peak learning rate (> 0); default 1 % of the
            last float phase's.
        **model_kwargs: passed to the model function when a name is given.

    Returns:
        A :class:`TrainResult`.

    Raises:
        NonFiniteLossError: the loss became NaN or inf (the last good checkpoint
            is kept).

    Examples:
        >>> result = fit("mobilenet_v1_025", "photos/", input_size=32, epochs=1, verbose=0)
        >>> result.class_names, 0.0 <= result.test_accuracy <= 1.0
        (['cat', 'dog'], True)

        The main job (``keras-lightnets train mobilenet_v3_small --data digits``) is
        ``fit("mobilenet_v3_small", "digits", epochs=12)``: test accuracy > 0.9.
    """
    config = TrainConfig(
        epochs=epochs, weights=weights, freeze_epochs=freeze_epochs, unfreeze_from=unfreeze_from,
        fine_tune_learning_rate=fine_tune_learning_rate, fine_tune_batch_norm=fine_tune_batch_norm,
        input_size=input_size, batch_size=batch_size, optimizer=optimizer, learning_rate=learning_rate,
        weight_decay=weight_decay, warmup_epochs=warmup_epochs, label_smoothing=label_smoothing,
        checkpoint=checkpoint, resume=resume, early_stopping_patience=early_stopping_patience, log_dir=log_dir,
        mixed_precision=mixed_precision, seed=seed, verbose=verbose, min_epoch_steps=min_epoch_steps,
        qat_epochs=qat_epochs, qat_learning_rate=qat_learning_rate,
    )
    config.check_for(model_or_name, model_kwargs)
    task = task or task_for(model_or_name)
    keras.utils.set_random_seed(config.seed)
    data = load_data(data, config.input_size, config.batch_size, config.seed, task=task)
    if config.log_dir is not None:
        os.makedirs(config.log_dir, exist_ok=True)
        if data.files:
            data.write_splits(config.log_dir)
    strategy = _strategy()
    train, steps_per_epoch, passes, sharded = _training_split(task, data, strategy, config)
    run = Run(config, task, train, task.prepare(data.val, data), sharded, list(callbacks or []), data)
    schedule = resolve_schedule(config, steps_per_epoch, passes)
    if config.verbose:
        print(schedule.describe())
    resuming = config.checkpoint is not None and config.resume and os.path.exists(config.checkpoint)
    phases = plan_phases(schedule, _read_progress(config.checkpoint) if resuming else None)
    previous_policy = keras.mixed_precision.global_policy()
    history: dict[str, list[float]] = {}
    start_time = time.perf_counter()
    try:
        if config.mixed_precision is not None:
            keras.mixed_precision.set_global_policy(config.mixed_precision)
        with strategy.scope():  # the whole run: build, compile, fit on the strategy's devices
            model = _start_model(model_or_name, data, config, task, model_kwargs, strategy, resuming)
            if config.qat_epochs and not is_quantize_aware(model):
                quantize_aware(model)  # a layer outside the int8 scheme is refused now, not after the float epochs
            for phase in phases:
                if phase.kind == "qat" and not is_quantize_aware(model):
                    model = quantize_aware(model, run.train.take(QAT_CALIBRATION_BATCHES))
                for key, values in run_phase(model, phase, run, steps_per_epoch).items():
                    history.setdefault(key, []).extend(values)
        seconds = time.perf_counter() - start_time
        # Outside the strategy: whole splits, on one device under JAX's data parallelism too.
        val_metrics = task.evaluate(model, run.val)
        test_metrics = task.evaluate(model, task.prepare(data.test, data))  # the only look at the test split
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return TrainResult(
        model, history, val_metrics, test_metrics, len(history.get("loss", [])), seconds, config.checkpoint,
        list(data.class_names), schedule,
    )


# --------------------------------------------------------------------------- after training


class ExportRow(NamedTuple):
    """One exported file scored on the test split."""

    quantization: str
    score: float  # the task's metric (accuracy for classification)
    size_bytes: int
    latency_ms: float  # LiteRT, batch 1, median of 20 runs
    path: str  # where it was written (temporary files are gone after export_and_compare)
    kept: bool  # the file the user asked for


def export_and_compare(
    model: keras.Model,
    data: Data,
    path: Any,
    quantization: str = "int8",
    *,
    overwrite: bool = False,
    task: Task | None = None,
    quantizations: tuple[str, ...] = export.QUANTIZATIONS,
) -> list[ExportRow]:
    """Write ``path`` in ``quantization``; score it and the other precisions on the test split.

    Every file is converted with int8 ranges calibrated on ``data.calibration``
    (training images through the same loading path as evaluation; a
    quantization-aware model is written as int8 alone, from its learned ranges), scored with
    the task's metric on the test split and timed with LiteRT. Only ``path`` is
    kept; the others are written to a temporary folder.

    Args:
        model: the trained model.
        data: its data (the test split and the calibration images).
        path: the ``.tflite`` file to keep.
        quantization: its precision, one of ``export.QUANTIZATIONS``.
        overwrite: replace an existing ``path``.
        task: the task (default classification).
        quantizations: the precisions to compare (``quantization`` is added).

    Examples:
        >>> rows = export_and_compare(model, data, "compared_dynamic.tflite", "dynamic", quantizations=("float32",))
        >>> print(export_table(rows, result.test_accuracy))
        file (test split)   accuracy       size    latency
        Keras ...
        TFLite float32 ...
        TFLite dynamic * ...
    """
    check_choice("quantization", quantization, export.QUANTIZATIONS)
    qat = is_quantize_aware(model)
    if qat and quantization != "int8":
        raise ValueError(f"A quantization-aware model is written as int8; received quantization={quantization!r}.")
    path = check_output_path(path, overwrite, suffix=".tflite")
    task = task or task_for(model)
    wanted = ("int8",) if qat else tuple(dict.fromkeys((*quantizations, quantization)))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind in wanted:
            target = path if kind == quantization else os.path.join(folder, f"{kind}.tflite")
            report = export.to_tflite(
                model, target, kind, representative_data=None if qat else data.calibration,
                num_calibration=min(100, len(data.calibration)), overwrite=overwrite if kind == quantization else False,
                progress=kind == quantization == "int8",
            )
            score = task.score_tflite(target, data)
            rows.append(ExportRow(kind, score, report.size_bytes, tflite_latency(target, runs=20) * 1e3, target, kind == quantization))
    return rows


def export_table(rows: list[ExportRow], keras_score: float, metric: str = "accuracy") -> str:
    """The Keras model's and each file's test figure, size and latency as text (``*``: the file kept).

    Args:
        rows: from :func:`export_and_compare`.
        keras_score: the Keras model's figure on the test split.
        metric: the figure's name.

    Examples:
        >>> print(export_table([ExportRow("int8", 0.9, 2_000_000, 1.5, "m.tflite", True)], 0.91))
        file (test split)   accuracy       size    latency
        Keras                 0.9100
        TFLite int8 *         0.9000    2.00 MB    1.50 ms
    """
    lines = [f"{'file (test split)':18s} {metric:>9s} {'size':>10s} {'latency':>10s}", f"{'Keras':18s} {keras_score:9.4f}"]
    for row in rows:
        label = f"TFLite {row.quantization}" + (" *" if row.kept else "")
        lines.append(f"{label:18s} {row.score:9.4f} {row.size_bytes / 1e6:7.2f} MB {row.latency_ms:7.2f} ms")
    return "\n".join(lines)


def write_plots(result: TrainResult, log_dir: str) -> str:
    """Training curves of ``result`` as ``log_dir/curves.png``; return the path.

    Args:
        result: from :func:`fit`.
        log_dir: an existing folder.

    Examples:
        >>> write_plots(result, "logs/")
        '.../logs/curves.png'
    """
    return plot_history(result.history, os.path.join(os.path.abspath(log_dir), "curves.png"))

__getattr__ = moved_from("keras_lightnets.train")  # moved names (deprecation.MOVED); spelled out: `-m` runs it as __main__
