"""COCO box mAP with the field's reference tool, ``pycocotools`` (the ``[detection]`` extra).

Ground truth comes as the training targets do: ``[M, 5]`` rows of ``x1, y1,
x2, y2`` and a class (1..C; a negative class marks a crowd or "difficult"
box, which COCO evaluation ignores; 0 is padding). Boxes are in model-input
pixels: IoU, and so AP, AP50 and AP75, do not change when both axes are
scaled, so no rescaling to the original photos is needed.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, NamedTuple

import keras
import numpy as np

from keras_lightnets.detection.postprocess import Detections, postprocess
from keras_lightnets.detection.ssdlite import ssdlite_anchors

__all__ = ["EVALUATION", "DetectionReport", "coco_evaluate", "detect_batches"]

# Post-processing for evaluation, as the exported files do it (LiteRT's per-class NMS, clipped after it;
# torchvision's 300 candidates per class).
EVALUATION = {"score_threshold": 0.01, "iou_threshold": 0.55, "max_detections": 100}


class DetectionReport(NamedTuple):
    """COCO box AP figures (in [0, 1]) of a set of images."""

    map: float  # AP at IoU 0.50:0.95, COCO's headline
    ap50: float
    ap75: float
    per_class: dict[str, float]  # AP at 0.50:0.95 per class (nan: no ground truth of it)
    images: int

    def figures(self) -> dict[str, float]:
        """``{"map", "ap50", "ap75"}``."""
        return {"map": self.map, "ap50": self.ap50, "ap75": self.ap75}

    def table(self) -> str:
        """The figures and the per-class AP as text."""
        lines = [f"COCO box AP on {self.images} images: mAP@[.5:.95] {self.map:.4f}  AP50 {self.ap50:.4f}  AP75 {self.ap75:.4f}",
                 f"{'class':20s} {'AP':>8s}"]
        lines += [f"{name[:20]:20s} {ap:8.4f}" for name, ap in self.per_class.items()]
        return "\n".join(lines)


def coco_evaluate(truth: list[np.ndarray], found: list[Detections], class_names: list[str]) -> DetectionReport:
    """COCO box AP of ``found`` against ``truth`` with ``pycocotools.cocoeval.COCOeval``.

    Args:
        truth: per image, ``[M, 5]`` ground-truth rows (see the module docstring).
        found: per image, the :class:`~keras_lightnets.detection.Detections` (classes 1..C).
        class_names: the C class names.

    Example:
        >>> coco_evaluate([np.array([[0, 0, 10, 10, 1.0]])], [Detections(np.array([[0, 0, 10, 10.0]]),
        ...               np.array([0.9]), np.array([1]))], ["cat"]).ap50  # doctest: +SKIP
        1.0
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if len(truth) != len(found):
        raise ValueError(f"`truth` and `found` must have one entry per image; received {len(truth)} and {len(found)}.")
    images, annotations, results = [], [], []
    for image_id, (rows, detections) in enumerate(zip(truth, found), start=1):
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
        images.append({"id": image_id})
        for x1, y1, x2, y2, label in rows[rows[:, 4] != 0]:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": int(abs(label)),
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                                "iscrowd": int(label < 0)})
        for (x1, y1, x2, y2), score, label in zip(detections.boxes, detections.scores, detections.labels):
            results.append({"image_id": image_id, "category_id": int(label), "bbox": [float(x1), float(y1),
                            float(x2 - x1), float(y2 - y1)], "score": float(score)})
    categories = [{"id": k + 1, "name": name} for k, name in enumerate(class_names)]
    if not results or not annotations:
        return DetectionReport(0.0, 0.0, 0.0, {name: 0.0 for name in class_names}, len(images))
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress and summary
        reference = COCO()
        reference.dataset = {"images": images, "annotations": annotations, "categories": categories}
        reference.createIndex()
        evaluation = COCOeval(reference, reference.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    precision = evaluation.eval["precision"][:, :, :, 0, -1]  # [IoU, recall, class] at all areas, 100 detections
    per_class = {}
    for k, name in enumerate(class_names):
        values = precision[:, :, k]
        per_class[name] = float(values[values > -1].mean()) if (values > -1).any() else float("nan")
    stats = [max(0.0, float(v)) for v in evaluation.stats[:3]]
    return DetectionReport(stats[0], stats[1], stats[2], per_class, len(images))


def detect_batches(model: keras.Model, dataset: Any) -> tuple[list[np.ndarray], list[Detections]]:
    """``(ground truth, detections)`` per image of a ``(images, targets)`` dataset, with :data:`EVALUATION`.

    Args:
        model: an SSDLite model.
        dataset: batches of ``(images, targets)`` (targets ``[B, M, 5]``, or a dict holding them).

    Example:
        >>> truth, found = detect_batches(model, data.test)  # doctest: +SKIP
    """
    anchors = ssdlite_anchors(model)
    size = tuple(int(v) for v in model.input_shape[1:3])
    truth, found = [], []
    for images, targets in dataset:
        if isinstance(targets, dict):
            targets = next(iter(targets.values()))
        codes, logits = (keras.ops.convert_to_numpy(o) for o in model(images, training=False))
        found += postprocess(codes, logits, anchors, size, candidates_per_class=300, clip_before_nms=False,
                             **EVALUATION)
        truth += list(np.asarray(targets))
    return truth, found
