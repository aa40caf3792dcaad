"""Detection as a task of the one trainer: SSD loss, validation mAP for model selection, COCO figures.

``fit("ssdlite_mobilenet_v3_large", "boxes/")`` and ``keras-lightnets train
ssdlite_... --data boxes/`` run it (the registry's detectors carry
``task="detection"``). The best epoch and early stopping read ``val_map``
(COCO mAP@[.5:.95] on the validation split, computed after each epoch with
``pycocotools``); the test split is evaluated once, after training.
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np

from keras_lightnets.data import Data
from keras_lightnets.detection.data import detection_folder
from keras_lightnets.detection.evaluate import (
    DetectionReport, coco_evaluate, detect_batches, draw_samples, plot_precision_recall, tflite_detections,
)
from keras_lightnets.detection.loss import SSDLoss
from keras_lightnets.registry import create_model, get_entry
from keras_lightnets.tasks import Task, register_task
from keras_lightnets.validation import require_extra

__all__ = ["DetectionTask", "HEAD_PREFIXES"]

HEAD_PREFIXES = ("extra_", "box_head_", "class_head_")  # an SSDLite's layers that a backbone checkpoint lacks


def _both_outputs(images: Any, targets: Any) -> tuple[Any, dict[str, Any]]:
    """The ground truth for each output's half of the loss (both match anchors themselves)."""
    return images, {"boxes": targets, "class_logits": targets}


class _ValidationMAP(keras.callbacks.Callback):
    """Adds ``val_map``, ``val_ap50`` and ``val_ap75`` to each epoch's logs (before early stopping reads them)."""

    def __init__(self, val: Any, class_names: list[str]) -> None:
        super().__init__()
        self.val, self.class_names = val, class_names

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            truth, found = detect_batches(self.model, self.val)
            logs.update({f"val_{k}": v for k, v in coco_evaluate(truth, found, self.class_names).figures().items()})


class DetectionTask(Task):
    """SSDLite detection: the SSD multibox loss, COCO mAP with ``pycocotools``, detector TFLite files.

    Examples:
        >>> task = DetectionTask()
        >>> task.monitor, task.is_head("class_head_0_conv"), task.is_head("block_3_expand")
        ('val_map', True, False)
    """

    name = "detection"
    monitor = "val_map"
    metric = "map"

    def is_head(self, layer_name: str) -> bool:
        return layer_name.startswith(HEAD_PREFIXES)

    def load_folder(self, path: Any, input_size: int, batch_size: int, seed: int, **options: Any) -> Data:
        require_extra("detection", "Detection training")  # before any image is read or any step trained
        options.pop("progress", None)
        return detection_folder(path, input_size=input_size, batch_size=batch_size, seed=seed, **options)

    def pretrained_arguments(self, name: str) -> dict[str, Any]:
        # torchvision: reduce_tail = weights_backbone is None (pretrained MobileNetV3s have the full tail).
        return {"reduced_tail": False} if "reduced_tail" in get_entry(name).defaults else {}

    def build(self, name: str, data: Data, **kwargs: Any) -> keras.Model:
        return create_model(name, num_classes=data.num_classes, input_shape=data.input_shape, **kwargs)

    def prepare(self, dataset: Any, data: Data) -> Any:
        return dataset.map(_both_outputs)

    def loss(self, label_smoothing: float, model: keras.Model | None = None) -> Any:
        if model is None:
            raise ValueError("The detection loss needs the model (its anchors).")
        sizes = [tuple(entry["size"]) for entry in model.feature_info]
        image = tuple(int(v) for v in model.input_shape[1:3])
        return {part: SSDLoss(part, sizes, image) for part in ("boxes", "class_logits")}

    def callbacks(self, val: Any, data: Data) -> list[keras.callbacks.Callback]:
        return [_ValidationMAP(val, list(data.class_names))]

    def evaluate(self, model: keras.Model, dataset: Any) -> dict[str, float]:
        return self._report(model, dataset, getattr(model, "class_names", None)).figures()

    def _report(self, model: keras.Model, dataset: Any, class_names: list[str] | None) -> DetectionReport:
        truth, found = detect_batches(model, dataset)
        names = list(class_names or [f"class {k + 1}" for k in range(int(model.outputs[1].shape[-1]) - 1)])
        return coco_evaluate(truth, found, names)

    def report(self, model: keras.Model, data: Data, log_dir: str | None) -> str:
        truth, found = detect_batches(model, data.test)
        report = coco_evaluate(truth, found, list(data.class_names))
        text = report.table()
        if log_dir is not None:
            folder = os.path.abspath(log_dir)
            text += f"\n\nprecision-recall curves: {plot_precision_recall(report, os.path.join(folder, 'precision_recall.png'))}"
            images = np.concatenate([np.asarray(x) for x, _ in data.test.take(1)])[:8]
            samples = draw_samples(images, truth[: len(images)], found[: len(images)], list(data.class_names), folder)
            text += f"\nsample test images (green: true boxes, red: found): {os.path.dirname(samples[0])}/sample_*.png"
        return text

    def score_tflite(self, path: str, data: Data) -> float:
        return coco_evaluate(*tflite_detections(path, data.test), list(data.class_names)).map


register_task("detection", DetectionTask)
