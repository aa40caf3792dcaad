"""Segmentation as a task of the one trainer: cross-entropy with the ignore index, validation mean IoU.

``fit("lraspp_mobilenet_v3_large", "masks/")`` and ``keras-lightnets train
lraspp_... --data masks/`` run it (the registry's segmenters carry
``task="segmentation"``). The best epoch and early stopping read ``val_miou``
(``keras.metrics.MeanIoU`` on the validation split, 255 ignored); the test
split is evaluated once, after training, with a per-class IoU table and
overlays (image, true mask, predicted mask).
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np

from keras_lightnets.data import Data
from keras_lightnets.litert import run_tflite
from keras_lightnets.registry import create_model
from keras_lightnets.segmentation.data import IGNORE, segmentation_folder
from keras_lightnets.segmentation.evaluate import draw_overlays, segmentation_report
from keras_lightnets.tasks import Task, register_task

__all__ = ["HEAD_PREFIXES", "SegmentationTask"]

HEAD_PREFIXES = ("lraspp_", "deeplab_")  # a segmenter's layers that a backbone checkpoint lacks


class SegmentationTask(Task):
    """LR-ASPP / DeepLabV3 segmentation: sparse cross-entropy ignoring 255, mean IoU.

    Examples:
        >>> task = SegmentationTask()
        >>> task.monitor, task.is_head("lraspp_cbr"), task.is_head("block_3_expand")
        ('val_miou', True, False)
    """

    name = "segmentation"
    monitor = "val_miou"
    metric = "miou"

    def is_head(self, layer_name: str) -> bool:
        return layer_name.startswith(HEAD_PREFIXES)

    def load_folder(self, path: Any, input_size: int, batch_size: int, seed: int, **options: Any) -> Data:
        options.pop("progress", None)
        return segmentation_folder(path, input_size=input_size, batch_size=batch_size, seed=seed, **options)

    def build(self, name: str, data: Data, **kwargs: Any) -> keras.Model:
        kwargs = {"bn_momentum": 0.9, **kwargs}  # as classification: BatchNorm statistics that follow short runs
        return create_model(name, num_classes=data.num_classes, input_shape=data.input_shape, **kwargs)

    def loss(self, label_smoothing: float, model: keras.Model | None = None) -> Any:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORE)

    def metrics(self, model: keras.Model | None = None) -> list[Any]:
        if model is None:
            raise ValueError("The segmentation metrics need the model (its class count).")
        classes = int(model.output_shape[-1])
        return [keras.metrics.MeanIoU(classes, name="miou", ignore_class=IGNORE, sparse_y_pred=False)]

    def evaluate(self, model: keras.Model, dataset: Any) -> dict[str, float]:
        classes = int(model.output_shape[-1])
        names = list(getattr(model, "class_names", None) or [f"class_{k}" for k in range(classes)])
        return segmentation_report(lambda x: model.predict(x, verbose=0), dataset, names).figures()

    def report(self, model: keras.Model, data: Data, log_dir: str | None) -> str:
        text = segmentation_report(lambda x: model.predict(x, verbose=0), data.test, list(data.class_names)).table()
        if log_dir is not None:
            images, masks = next(iter(data.test))
            images, masks = np.asarray(images)[:4], np.asarray(masks)[:4]
            predicted = np.asarray(model.predict(images, verbose=0)).argmax(-1)
            path = draw_overlays(images, masks, predicted, os.path.join(os.path.abspath(log_dir), "overlays.png"))
            text += f"\n\ntest overlays (image, true mask, predicted): {path}"
        return text

    def score_tflite(self, path: str, data: Data) -> float:
        return segmentation_report(lambda x: run_tflite(path, x), data.test, list(data.class_names)).miou


register_task("segmentation", SegmentationTask)
