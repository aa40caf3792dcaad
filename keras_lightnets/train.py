"""Training with sensible defaults: ``keras_lightnets.train.fit``.

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
import time
from typing import Any, Iterator, NamedTuple

import keras

from keras_lightnets.data import Data, digits, image_folder
from keras_lightnets.files import atomic_target
from keras_lightnets.models.network import LightNet
from keras_lightnets.registry import create_model, get_entry
from keras_lightnets.transfer import CLASSIFIER_LAYERS, load_backbone
from keras_lightnets.validation import check_bool, check_choice, check_float, check_int

__all__ = ["NonFiniteLossError", "TrainResult", "check_transfer_arguments", "fit", "load_data", "make_optimizer"]

OPTIMIZERS = ("adamw", "sgd")
PRECISIONS = (None, "mixed_float16", "mixed_bfloat16")
DEFAULT_LEARNING_RATE = {"adamw": 3e-3, "sgd": 0.1}
# Fine-tuning from pretrained weights: epochs with the backbone frozen, then the
# learning rate of the second phase as a share of the first (the Keras guide's 10x).
DEFAULT_FREEZE_EPOCHS = 2
FINE_TUNE_FACTOR = 0.1
PROGRESS_SUFFIX = ".progress.json"
# Decoupled weight decay: not applied to BatchNorm gamma/beta or to biases.
NO_DECAY = ["gamma", "beta", "bias"]


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/inf loss; the last good checkpoint is kept."""


@dataclasses.dataclass
class TrainResult:
    """What :func:`fit` did."""

    model: keras.Model
    history: dict[str, list[float]]
    val_accuracy: float  # of the returned weights, on the validation split
    test_accuracy: float  # measured once, after training, on the test split
    epochs_run: int
    seconds: float
    checkpoint: str | None
    class_names: list[str]


def load_data(data: Any, input_size: int = 32, batch_size: int = 64, seed: int = 0, progress: bool = False) -> Data:
    """``"digits"``, a folder path, or a :class:`~keras_lightnets.data.Data` -> ``Data``.

    Args:
        data: ``"digits"``, an image folder path or a ``Data``.
        input_size: square image size (>= 32).
        batch_size: batch size (>= 1).
        seed: split and shuffle seed (>= 0).
        progress: show a progress bar while an image folder is checked.

    Example:
        >>> load_data("digits", input_size=32).num_classes
        10
    """
    if isinstance(data, Data):
        return data
    if data == "digits":
        return digits(input_size=input_size, batch_size=batch_size, seed=seed)
    if isinstance(data, (str, os.PathLike)) and os.path.isdir(data):
        return image_folder(data, input_size=input_size, batch_size=batch_size, seed=seed, progress=progress)
    raise ValueError(
        f"`data` must be 'digits', an image folder or a keras_lightnets.data.Data; received {data!r}."
    )


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

    Example:
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
            self.model.stop_training = True
            return
        with atomic_target(self.path) as target:
            self.model.save(target)
        with atomic_target(self.path + PROGRESS_SUFFIX) as target, open(target, "w", encoding="utf-8") as file:
            json.dump({"epochs_done": epoch + 1, "phase": self.phase}, file)


class _StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the first NaN/inf batch loss and remember the epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0
        self.bad_epoch: int | None = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.bad_epoch is None:
            self.bad_epoch = self.epoch
            self.model.stop_training = True


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


def _one_hot(dataset: Any, classes: int) -> Any:
    import tensorflow as tf

    return dataset.map(lambda x, y: (x, tf.one_hot(tf.cast(y, tf.int32), classes)))


def fit(
    model_or_name: Any,
    data: Any = "digits",
    epochs: int = 20,
    *,
    weights: str | None = None,
    freeze_epochs: int | None = None,
    unfreeze_from: str | None = None,
    fine_tune_learning_rate: float | None = None,
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
    **model_kwargs: Any,
) -> TrainResult:
    """Train a model (or a registered name, built for the data), select on validation, test once.

    From scratch (``weights=None``) everything trains in one phase. From
    pretrained weights two phases follow the Keras transfer-learning guide:
    ``freeze_epochs`` with the backbone frozen (BatchNorm in inference mode)
    and only the new classifier training, then the rest of ``epochs`` with the
    layers from ``unfreeze_from`` on (default all) training at
    ``fine_tune_learning_rate`` (default ``learning_rate / 10``) and every
    BatchNorm still frozen. Early stopping and best-epoch restoring watch the
    validation split; the test split is evaluated once, at the end.

    Runs on the TensorFlow, JAX and PyTorch backends (the data stays in
    ``tf.data``; Keras hands each batch to the backend). Several devices:
    ``MirroredStrategy`` on TensorFlow, ``keras.distribution.DataParallel`` on
    JAX (``batch_size`` a multiple of the device count, validation and test
    evaluated whole on one device), one device on PyTorch.

    Args:
        model_or_name: a Keras model taking the data's images in [0, 255], or a
            registered name (built with ``include_preprocessing=True``, the data's
            classes and input shape, ``bn_momentum=0.9`` unless given).
        data: ``"digits"``, an image folder path, or a :class:`~keras_lightnets.data.Data`.
        epochs: total epochs (>= 1) over both phases, counting those of a resumed checkpoint.
        weights: None (from scratch), ``"imagenet"`` or the path of a ``.keras``,
            ``.weights.h5`` or ``.h5`` file of the same architecture, any classes
            (its classifier is dropped; see :func:`keras_lightnets.transfer.load_backbone`).
            Needs a model name.
        freeze_epochs: epochs (>= 0) of the head-only phase; default 2.
        unfreeze_from: the first block that trains in the second phase (e.g.
            ``"block_8"``); default: every layer.
        fine_tune_learning_rate: peak learning rate (> 0) of the second phase.
        input_size: image size (>= 32) when ``data`` is a name or folder.
        batch_size: batch size (>= 1) when ``data`` is a name or folder.
        optimizer: ``"adamw"`` or ``"sgd"``.
        learning_rate: peak learning rate (> 0); default 3e-3 (AdamW) / 0.1 (SGD).
        weight_decay: decoupled weight decay (>= 0), not applied to BatchNorm or biases.
        warmup_epochs: linear warm-up length in epochs (>= 0).
        label_smoothing: in [0, 1).
        checkpoint: optional ``.keras`` path written atomically after each
            epoch; with ``resume`` an existing one is loaded and training
            continues at its optimizer step.
        resume: continue from ``checkpoint`` when it exists.
        early_stopping_patience: stop after this many epochs (>= 1) without
            better validation accuracy, restoring the best weights.
        log_dir: optional folder for ``log.csv`` and TensorBoard logs.
        mixed_precision: None, ``"mixed_float16"`` or ``"mixed_bfloat16"``
            (needs a model name; the classifier output stays float32).
        seed: random seed (>= 0).
        verbose: 0 (silent), 1 (progress bar) or 2 (one line per epoch).
        callbacks: extra Keras callbacks.
        **model_kwargs: passed to the model function when a name is given.

    Returns:
        A :class:`TrainResult`.

    Raises:
        NonFiniteLossError: the loss became NaN or inf (the last good checkpoint
            is kept).

    Example:
        >>> result = fit("mobilenet_v3_small", "digits", epochs=12, verbose=0)  # doctest: +SKIP
        >>> result.test_accuracy > 0.9  # doctest: +SKIP
        True
    """
    epochs = check_int("epochs", epochs, low=1)
    check_transfer_arguments(model_or_name, weights, freeze_epochs, unfreeze_from)
    if fine_tune_learning_rate is not None:
        fine_tune_learning_rate = check_float("fine_tune_learning_rate", fine_tune_learning_rate, low=0.0, low_inclusive=False)
    batch_size = check_int("batch_size", batch_size, low=1)
    input_size = check_int("input_size", input_size, low=32)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    learning_rate = DEFAULT_LEARNING_RATE[optimizer] if learning_rate is None else learning_rate
    learning_rate = check_float("learning_rate", learning_rate, low=0.0, low_inclusive=False)
    weight_decay = check_float("weight_decay", weight_decay, low=0.0)
    warmup_epochs = check_float("warmup_epochs", warmup_epochs, low=0.0)
    label_smoothing = check_float("label_smoothing", label_smoothing, low=0.0, high=1.0, high_inclusive=False)
    check_bool("resume", resume)
    if early_stopping_patience is not None:
        early_stopping_patience = check_int("early_stopping_patience", early_stopping_patience, low=1)
    check_choice("mixed_precision", mixed_precision, PRECISIONS)
    seed = check_int("seed", seed, low=0)
    check_choice("verbose", verbose, (0, 1, 2))
    if checkpoint is not None:
        checkpoint = os.path.abspath(os.fspath(checkpoint))
        if not checkpoint.endswith(".keras"):
            raise ValueError(f"`checkpoint` must end with '.keras'; received {checkpoint!r}.")
        if not os.path.isdir(os.path.dirname(checkpoint)):
            raise ValueError(f"`checkpoint` folder does not exist: {os.path.dirname(checkpoint)!r}.")
    if isinstance(model_or_name, keras.Model):
        if mixed_precision is not None or model_kwargs:
            raise ValueError(
                "`mixed_precision` and model arguments need a model name (the model is built for them)."
            )
    elif not isinstance(model_or_name, str):
        raise TypeError(f"`model_or_name` must be a keras.Model or a registered name; received {model_or_name!r}.")
    else:
        get_entry(model_or_name)  # unknown names fail here, before any data is loaded

    keras.utils.set_random_seed(seed)
    data = load_data(data, input_size, batch_size, seed)
    if log_dir is not None:
        os.makedirs(log_dir, exist_ok=True)
        if data.files:
            data.write_splits(log_dir)
    train, val, test = (_one_hot(split, data.num_classes) for split in (data.train, data.val, data.test))
    steps_per_epoch = data.steps_per_epoch
    strategy = _strategy()
    sharded = isinstance(strategy, keras.distribution.DataParallel)
    if sharded:  # JAX shards every training batch evenly over the devices
        if batch_size % _replicas(strategy):
            raise ValueError(
                f"`batch_size` must be a multiple of the {_replicas(strategy)} JAX devices "
                f"for data-parallel training; received {batch_size}."
            )
        import tensorflow as tf

        steps_per_epoch = data.counts["train"] // batch_size
        train = train.unbatch().batch(batch_size, drop_remainder=True)
        train = train.apply(tf.data.experimental.assert_cardinality(steps_per_epoch))
    if weights is None:
        phases = [_Phase("scratch", 0, epochs, learning_rate)]
    else:
        freeze = min(DEFAULT_FREEZE_EPOCHS if freeze_epochs is None else freeze_epochs, epochs)
        tune_rate = learning_rate * FINE_TUNE_FACTOR if fine_tune_learning_rate is None else fine_tune_learning_rate
        phases = [_Phase("head", 0, freeze, learning_rate), _Phase("fine_tune", freeze, epochs, tune_rate)]
    progress = _read_progress(checkpoint) if checkpoint is not None and resume and os.path.exists(checkpoint) else None

    previous_policy = keras.mixed_precision.global_policy()
    history: dict[str, list[float]] = {}
    start_time = time.perf_counter()
    try:
        if mixed_precision is not None:
            keras.mixed_precision.set_global_policy(mixed_precision)
        with strategy.scope():  # the whole run: build, compile, fit and evaluate on the strategy's devices
            if progress is not None:
                model = keras.saving.load_model(checkpoint, safe_mode=True)
            else:
                model = _build(model_or_name, data, model_kwargs, strategy)
                if weights is not None:
                    load_backbone(model, model_or_name, weights)
            if isinstance(model, LightNet):
                model.class_names = list(data.class_names)
            done = progress["epochs_done"] if progress is not None else 0
            for index, phase in enumerate(phases):
                if phase.end <= max(phase.start, done):
                    continue
                if progress is None or progress["phase"] != index:
                    _set_trainable(model, phase.kind, unfreeze_from)
                    model.compile(
                        optimizer=make_optimizer(
                            optimizer,
                            phase.learning_rate,
                            weight_decay,
                            (phase.end - phase.start) * steps_per_epoch,
                            int(warmup_epochs * steps_per_epoch),
                        ),
                        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                        metrics=["accuracy"],
                    )
                progress = None
                watchdog = _StopOnNonFinite()
                phase_callbacks: list[keras.callbacks.Callback] = [watchdog]
                if checkpoint is not None:
                    phase_callbacks.append(_AtomicCheckpoint(checkpoint, index))
                if early_stopping_patience is not None:  # model selection on the validation split only
                    phase_callbacks.append(
                        keras.callbacks.EarlyStopping(
                            monitor="val_accuracy", patience=early_stopping_patience, restore_best_weights=True
                        )
                    )
                if log_dir is not None:
                    phase_callbacks.append(
                        keras.callbacks.CSVLogger(os.path.join(log_dir, "log.csv"), append=max(phase.start, done) > 0)
                    )
                    phase_callbacks.append(
                        keras.callbacks.TensorBoard(os.path.join(log_dir, "tensorboard"), write_graph=False)
                    )
                if sharded:  # validated whole on one device, before the callbacks that read val_accuracy
                    phase_callbacks.insert(0, _ValidateOnOneDevice(val))
                phase_callbacks.extend(callbacks or [])
                fitted = model.fit(
                    train,
                    validation_data=None if sharded else val,
                    epochs=phase.end,
                    initial_epoch=max(phase.start, done),
                    callbacks=phase_callbacks,
                    verbose=verbose,
                    shuffle=False,  # the training pipeline shuffles itself
                )
                for key, values in fitted.history.items():
                    history.setdefault(key, []).extend(float(v) for v in values)
                if watchdog.bad_epoch is not None:
                    where = f"; the last good checkpoint is {checkpoint!r}" if checkpoint else ""
                    raise NonFiniteLossError(
                        f"The training loss became NaN or inf in epoch {watchdog.bad_epoch + 1}{where}. "
                        "Lower `learning_rate` or check the data."
                    )
            seconds = time.perf_counter() - start_time
        # Outside the strategy: whole splits, on one device under JAX's data parallelism too.
        val_accuracy = float(model.evaluate(val, verbose=0)[1])
        test_accuracy = float(model.evaluate(test, verbose=0)[1])  # the only look at the test split
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return TrainResult(
        model=model,
        history=history,
        val_accuracy=val_accuracy,
        test_accuracy=test_accuracy,
        epochs_run=len(history.get("loss", [])),
        seconds=seconds,
        checkpoint=checkpoint,
        class_names=list(data.class_names),
    )


def check_transfer_arguments(model_or_name: Any, weights: Any, freeze_epochs: Any, unfreeze_from: Any) -> None:
    """Check the transfer arguments of :func:`fit` (before any data is read).

    Args:
        model_or_name: the model or registered name given to :func:`fit`.
        weights: None, ``"imagenet"`` or a weights file path.
        freeze_epochs: None or an int >= 0.
        unfreeze_from: None or a block name of the model.

    Example:
        >>> check_transfer_arguments("mobilenet_v3_small", "imagenet", 2, "block_8")
    """
    if freeze_epochs is not None:
        check_int("freeze_epochs", freeze_epochs, low=0)
    if weights is None:
        if freeze_epochs is not None or unfreeze_from is not None:
            raise ValueError("`freeze_epochs` and `unfreeze_from` need pretrained `weights`.")
        return
    if not isinstance(model_or_name, str):
        raise ValueError("`weights` needs a registered model name (the model is built for the data's classes).")
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"`weights` must be None, 'imagenet' or a path; received {weights!r}.")
    if weights != "imagenet" and not os.path.isfile(weights):
        raise ValueError(f"`weights` must be 'imagenet' or an existing weights file; received {weights!r}.")
    if unfreeze_from is not None:
        if not isinstance(unfreeze_from, str):
            raise TypeError(f"`unfreeze_from` must be a block name (str); received {unfreeze_from!r}.")
        names = [layer.name for layer in create_model(model_or_name, input_shape=(32, 32, 3), classes=2).layers]
        if not any(_in_block(name, unfreeze_from) for name in names):
            blocks = list(dict.fromkeys(m[0] for n in names if (m := re.match(r"block_\d+|stage\d_unit\d+", n))))
            raise ValueError(
                f"`unfreeze_from` {unfreeze_from!r} is not a block of {model_or_name}; its blocks are {blocks}."
            )


class _Phase(NamedTuple):
    kind: str  # "scratch", "head" (backbone frozen) or "fine_tune"
    start: int
    end: int
    learning_rate: float


def _set_trainable(model: keras.Model, kind: str, unfreeze_from: str | None) -> None:
    """Freeze per phase: everything trains from scratch; the head alone; or the layers from a block on.

    Frozen BatchNorm layers run in inference mode (Keras semantics); in the
    fine-tuning phase every BatchNorm stays frozen, as the Keras transfer
    learning guide recommends.
    """
    if kind == "scratch":
        model.trainable = True
        return
    model.trainable = True
    unfrozen = kind == "fine_tune" and unfreeze_from is None
    for layer in model.layers:
        if kind == "fine_tune" and not unfrozen and _in_block(layer.name, unfreeze_from):
            unfrozen = True
        head = layer.name in CLASSIFIER_LAYERS
        batch_norm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = head or (unfrozen and not batch_norm)


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


def _build(model_or_name: Any, data: Data, model_kwargs: dict[str, Any], strategy: Any) -> keras.Model:
    if isinstance(model_or_name, keras.Model):
        if _replicas(strategy) > 1:  # variables must be created under the strategy
            clone = keras.models.clone_model(model_or_name)
            clone.set_weights(model_or_name.get_weights())
            return clone
        return model_or_name
    kwargs = {"bn_momentum": 0.9, **model_kwargs}
    kwargs.update(input_shape=data.input_shape, classes=data.num_classes, include_preprocessing=True)
    return create_model(model_or_name, **kwargs)
