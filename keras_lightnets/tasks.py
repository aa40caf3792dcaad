"""Tasks: what differs between classification, detection and segmentation for the one trainer.

:func:`keras_lightnets.train.fit` runs any :class:`Task`. A task says how a
registered model is built for the data, which layers are the new head when
fine-tuning, the loss and metrics, the validation metric that selects the
best epoch, the report printed after training and how an exported TFLite
file is scored on the test split. Classification is the first task; the
detection and segmentation subpackages add theirs with :func:`register_task`.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import keras
import numpy as np

from keras_lightnets.data import Data, image_folder
from keras_lightnets.evaluation import Report, classification_report, plot_confusion
from keras_lightnets.litert import run_tflite
from keras_lightnets.registry import create_model, get_entry
from keras_lightnets.transfer import CLASSIFIER_LAYERS

__all__ = ["ClassificationTask", "Task", "register_task", "task_for"]


class Task:
    """The task interface: subclass and override what your task changes.

    Attributes:
        name: the task's name (``"classification"``).
        monitor: the validation log key that selects the best epoch and stops early
            (``"val_accuracy"``); larger is better.
        metric: the name of the headline figure in :meth:`evaluate`'s dict (``"accuracy"``).
        head_layers: names of the layers that are new when fine-tuning (not loaded
            from a pretrained file, trained in the head-only phase).
    """

    name = "task"
    monitor = "val_accuracy"
    metric = "accuracy"
    head_layers: tuple[str, ...] = ()

    def load_folder(self, path: Any, input_size: int, batch_size: int, seed: int, **options: Any) -> Data:
        """The task's data from a folder (classification: :func:`~keras_lightnets.data.image_folder`).

        Args:
            path: the folder.
            input_size: square model input side.
            batch_size: batch size (>= 1).
            seed: split and shuffle seed (>= 0).
            **options: the loader's other arguments (``val_fraction``, ``flip``, ``strict``, ``progress``...).

        Examples:
            >>> ClassificationTask().load_folder("photos/", 224, 32, 0).counts
            {'train': 28, 'val': 4, 'test': 8}
        """
        return image_folder(path, input_size=input_size, batch_size=batch_size, seed=seed, **options)

    def build(self, name: str, data: Data, **kwargs: Any) -> keras.Model:
        """A registered model built for ``data``: its input shape and classes, taking pixels in [0, 255].

        Args:
            name: a registered model name of this task.
            data: the data the model is trained on.
            **kwargs: model arguments (``dropout=0.2``, ``bn_momentum=...``).

        Examples:
            >>> ClassificationTask().build("mobilenet_v3_small", data).output_shape
            (None, 2)
        """
        raise NotImplementedError

    def pretrained_arguments(self, name: str) -> dict[str, Any]:
        """Model arguments for a registered model that will load trained backbone weights.

        Args:
            name: a registered model name of this task.

        Examples:
            >>> ClassificationTask().pretrained_arguments("mobilenet_v3_small")
            {}
        """
        return {}

    def prepare(self, dataset: Any, data: Data) -> Any:
        """A ``tf.data`` split turned into what :meth:`loss` expects (e.g. one-hot labels).

        Args:
            dataset: one split of ``data`` (``data.train``, ``data.val`` or ``data.test``).
            data: the data it belongs to (class count, names).

        Examples:
            >>> train = ClassificationTask().prepare(data.train, data)
        """
        return dataset

    def loss(self, label_smoothing: float, model: keras.Model | None = None) -> Any:
        """The training loss (one, or a dict per output name).

        Args:
            label_smoothing: in [0, 1), for the tasks whose loss has it.
            model: the model being compiled (detection's loss needs its anchors).

        Examples:
            >>> ClassificationTask().loss(0.1).name
            'categorical_crossentropy'
        """
        raise NotImplementedError

    def is_head(self, layer_name: str) -> bool:
        """Whether ``layer_name`` is new when fine-tuning (trained in the head-only phase).

        Args:
            layer_name: a layer of the model.

        Examples:
            >>> ClassificationTask().is_head("logits")
            True
        """
        return layer_name in self.head_layers

    def callbacks(self, val: Any, data: Data) -> list[keras.callbacks.Callback]:
        """Callbacks that run first each epoch (e.g. to log :attr:`monitor` when Keras cannot compute it).

        Args:
            val: the prepared validation split.
            data: the data.

        Examples:
            >>> ClassificationTask().callbacks(None, None)
            []
        """
        return []

    def metrics(self, model: keras.Model | None = None) -> list[Any]:
        """Keras metrics logged each epoch (the one :attr:`monitor` reads among them).

        Args:
            model: the model being compiled (segmentation's mean IoU needs its class count).

        Examples:
            >>> ClassificationTask().metrics()
            ['accuracy']
        """
        return []

    def evaluate(self, model: keras.Model, dataset: Any) -> dict[str, float]:
        """Figures of ``model`` on a prepared split, :attr:`metric` among them.

        Args:
            model: a model compiled with :meth:`loss` and :meth:`metrics`.
            dataset: a split after :meth:`prepare`.

        Examples:
            >>> task = ClassificationTask()
            >>> 0.0 <= task.evaluate(model, task.prepare(data.test, data))["accuracy"] <= 1.0
            True
        """
        return {key: float(value) for key, value in model.evaluate(dataset, verbose=0, return_dict=True).items()}

    def report(self, model: keras.Model, data: Data, log_dir: str | None) -> str:
        """A text report of ``model`` on the test split (plots into ``log_dir`` when given).

        Args:
            model: the trained model.
            data: its data.
            log_dir: a folder for plots, or None.

        Examples:
            >>> print(ClassificationTask().report(result.model, data, "logs/"))
            class ...
        """
        raise NotImplementedError

    def score_tflite(self, path: str, data: Data) -> float:
        """:attr:`metric` of a ``.tflite`` file on the test split.

        Args:
            path: the exported file.
            data: the data whose test split scores it.

        Examples:
            >>> 0.0 <= ClassificationTask().score_tflite("model_int8.tflite", data) <= 1.0
            True
        """
        raise NotImplementedError


class ClassificationTask(Task):
    """Image classification: softmax classifier, cross-entropy with label smoothing, accuracy.

    Examples:
        >>> task = ClassificationTask()
        >>> task.monitor, task.head_layers
        ('val_accuracy', ('logits', 'predictions'))
    """

    name = "classification"
    monitor = "val_accuracy"
    metric = "accuracy"
    head_layers = CLASSIFIER_LAYERS

    def build(self, name: str, data: Data, **kwargs: Any) -> keras.Model:
        kwargs = {"bn_momentum": 0.9, **kwargs}
        kwargs.update(input_shape=data.input_shape, classes=data.num_classes, include_preprocessing=True)
        return create_model(name, **kwargs)

    def prepare(self, dataset: Any, data: Data) -> Any:
        import tensorflow as tf

        classes = data.num_classes
        return dataset.map(lambda x, y: (x, tf.one_hot(tf.cast(y, tf.int32), classes)))

    def loss(self, label_smoothing: float, model: keras.Model | None = None) -> Any:
        return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)

    def metrics(self, model: keras.Model | None = None) -> list[Any]:
        return ["accuracy"]

    def predictions(self, model: keras.Model, data: Data) -> tuple[np.ndarray, np.ndarray]:
        """``(true classes, predicted classes)`` of ``model`` on the test split, batch by batch.

        Args:
            model: a classifier.
            data: its data.

        Examples:
            >>> truth, predicted = ClassificationTask().predictions(model, data)
            >>> truth.shape == predicted.shape == (8,)
            True
        """
        truth, predicted = [], []
        for images, labels in data.test:
            predicted.append(keras.ops.convert_to_numpy(model(images, training=False)).argmax(-1))
            truth.append(np.asarray(labels))
        return np.concatenate(truth), np.concatenate(predicted)

    def report(self, model: keras.Model, data: Data, log_dir: str | None) -> str:
        truth, predicted = self.predictions(model, data)
        report: Report = classification_report(truth, predicted, data.class_names)
        text = report.table()
        if log_dir is not None:
            text += f"\n\nconfusion matrix: {plot_confusion(report, os.path.join(os.path.abspath(log_dir), 'confusion.png'))}"
        return text

    def score_tflite(self, path: str, data: Data) -> float:
        right = total = 0
        for images, labels in data.test:
            right += int(np.sum(run_tflite(path, np.asarray(images)).argmax(-1) == np.asarray(labels)))
            total += len(labels)
        return right / total


_TASKS: dict[str, Callable[[], Task]] = {"classification": ClassificationTask}


def register_task(name: str, factory: Callable[[], Task]) -> None:
    """Make ``factory()`` the task of registry entries whose ``task`` is ``name``.

    Args:
        name: the task name a registry entry carries (e.g. ``"detection"``).
        factory: a callable returning a :class:`Task`.

    Examples:
        >>> register_task("classification", ClassificationTask)
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty str; received {name!r}.")
    if not callable(factory):
        raise TypeError(f"`factory` must be callable; received {factory!r}.")
    _TASKS[name] = factory


def task_for(model_or_name: Any) -> Task:
    """The task of a registered name (its registry entry's ``task``) or of a model (its ``task``, else classification).

    Args:
        model_or_name: a registered model name or a ``keras.Model``.

    Examples:
        >>> task_for("mobilenet_v3_small").name
        'classification'
    """
    kind = getattr(model_or_name, "task", None) or "classification"
    if isinstance(model_or_name, str):
        kind = get_entry(model_or_name).task
    if kind not in _TASKS:
        raise ValueError(f"No task is registered for {kind!r}; known: {sorted(_TASKS)}.")
    return _TASKS[kind]()
