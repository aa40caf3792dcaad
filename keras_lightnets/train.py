"""Training with sensible defaults: ``keras_lightnets.train.fit``.

AdamW (or SGD with Nesterov momentum) on a cosine schedule with linear warm-up,
decoupled weight decay that skips BatchNorm and biases, label smoothing, an
atomic ``.keras`` checkpoint every epoch that a later call resumes from, CSV
and TensorBoard logs, early stopping, ``MirroredStrategy`` when several
devices are present, and optional mixed precision with a float32 classifier.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any

import keras

from keras_lightnets.data import Data, digits, image_folder
from keras_lightnets.files import atomic_target
from keras_lightnets.registry import create_model, get_entry
from keras_lightnets.validation import check_bool, check_choice, check_float, check_int

__all__ = ["NonFiniteLossError", "TrainResult", "fit", "load_data", "make_optimizer"]

OPTIMIZERS = ("adamw", "sgd")
PRECISIONS = (None, "mixed_float16", "mixed_bfloat16")
DEFAULT_LEARNING_RATE = {"adamw": 3e-3, "sgd": 0.1}
# Decoupled weight decay: not applied to BatchNorm gamma/beta or to biases.
NO_DECAY = ["gamma", "beta", "bias"]


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/inf loss; the last good checkpoint is kept."""


@dataclasses.dataclass
class TrainResult:
    """What :func:`fit` did."""

    model: keras.Model
    history: dict[str, list[float]]
    test_accuracy: float
    epochs_run: int
    seconds: float
    checkpoint: str | None


def load_data(data: Any, input_size: int = 32, batch_size: int = 64, seed: int = 0) -> Data:
    """``"digits"``, a folder path, or a :class:`~keras_lightnets.data.Data` -> ``Data``.

    Args:
        data: ``"digits"``, an image folder path or a ``Data``.
        input_size: square image size (>= 32).
        batch_size: batch size (>= 1).
        seed: split and shuffle seed (>= 0).

    Example:
        >>> load_data("digits", input_size=32).num_classes
        10
    """
    if isinstance(data, Data):
        return data
    if data == "digits":
        return digits(input_size=input_size, batch_size=batch_size, seed=seed)
    if isinstance(data, (str, os.PathLike)) and os.path.isdir(data):
        return image_folder(data, input_size=input_size, batch_size=batch_size, seed=seed)
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
    """Save the model (with optimizer state) atomically after each good epoch."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or not math.isfinite(loss):
            self.model.stop_training = True
            return
        with atomic_target(self.path) as target:
            self.model.save(target)


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


def _strategy() -> Any:
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    if len(devices) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


def _one_hot(dataset: Any, classes: int) -> Any:
    import tensorflow as tf

    return dataset.map(lambda x, y: (x, tf.one_hot(tf.cast(y, tf.int32), classes)))


def fit(
    model_or_name: Any,
    data: Any = "digits",
    epochs: int = 20,
    *,
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
    """Train a model (or a registered name, built for the data) and evaluate it.

    Args:
        model_or_name: a Keras model taking the data's images in [0, 255], or a
            registered name (built with ``include_preprocessing=True``, the data's
            classes and input shape, ``bn_momentum=0.9`` unless given).
        data: ``"digits"``, an image folder path, or a :class:`~keras_lightnets.data.Data`.
        epochs: total epochs (>= 1), counting those of a resumed checkpoint.
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
    train = _one_hot(data.train, data.num_classes)
    test = _one_hot(data.test, data.num_classes)
    steps_per_epoch = int(data.train.cardinality())
    total_steps = steps_per_epoch * epochs

    previous_policy = keras.mixed_precision.global_policy()
    strategy = _strategy()
    try:
        if mixed_precision is not None:
            keras.mixed_precision.set_global_policy(mixed_precision)
        with strategy.scope():
            if checkpoint is not None and resume and os.path.exists(checkpoint):
                model = keras.saving.load_model(checkpoint, safe_mode=True)
            else:
                model = _build(model_or_name, data, model_kwargs, strategy)
                model.compile(
                    optimizer=make_optimizer(
                        optimizer, learning_rate, weight_decay, total_steps, int(warmup_epochs * steps_per_epoch)
                    ),
                    loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                    metrics=["accuracy"],
                )
        initial_epoch = int(model.optimizer.iterations.numpy()) // max(steps_per_epoch, 1)
        watchdog = _StopOnNonFinite()
        extra, callbacks = list(callbacks or []), [watchdog]
        if checkpoint is not None:
            callbacks.append(_AtomicCheckpoint(checkpoint))
        if early_stopping_patience is not None:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_accuracy", patience=early_stopping_patience, restore_best_weights=True
                )
            )
        if log_dir is not None:
            os.makedirs(log_dir, exist_ok=True)
            callbacks.append(keras.callbacks.CSVLogger(os.path.join(log_dir, "log.csv"), append=initial_epoch > 0))
            callbacks.append(keras.callbacks.TensorBoard(os.path.join(log_dir, "tensorboard"), write_graph=False))
        callbacks.extend(extra)
        start = time.perf_counter()
        history = model.fit(
            train,
            validation_data=test,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=verbose,
        )
        seconds = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    if watchdog.bad_epoch is not None:
        where = f"; the last good checkpoint is {checkpoint!r}" if checkpoint else ""
        raise NonFiniteLossError(
            f"The training loss became NaN or inf in epoch {watchdog.bad_epoch + 1}{where}. "
            "Lower `learning_rate` or check the data."
        )
    accuracy = float(model.evaluate(test, verbose=0)[1])
    return TrainResult(
        model=model,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        test_accuracy=accuracy,
        epochs_run=len(history.history.get("loss", [])),
        seconds=seconds,
        checkpoint=checkpoint,
    )


def _build(model_or_name: Any, data: Data, model_kwargs: dict[str, Any], strategy: Any) -> keras.Model:
    if isinstance(model_or_name, keras.Model):
        if strategy.num_replicas_in_sync > 1:  # variables must be created under the strategy
            clone = keras.models.clone_model(model_or_name)
            clone.set_weights(model_or_name.get_weights())
            return clone
        return model_or_name
    kwargs = {"bn_momentum": 0.9, **model_kwargs}
    kwargs.update(input_shape=data.input_shape, classes=data.num_classes, include_preprocessing=True)
    return create_model(model_or_name, **kwargs)
