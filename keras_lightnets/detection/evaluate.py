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
import os
from typing import Any, NamedTuple

import keras
import numpy as np

from keras_lightnets.detection.postprocess import Detections, postprocess
from keras_lightnets.evaluation import new_figure, save_figure
from keras_lightnets.files import atomic_target
from keras_lightnets.detection.ssdlite import ssdlite_anchors
from keras_lightnets.litert import run_tflite
from keras_lightnets.validation import require_extra

__all__ = [
    "EVALUATION", "DetectionReport", "coco_evaluate", "detect_batches", "draw_samples", "plot_precision_recall",
    "tflite_detections",
]

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
    curves: dict[str, np.ndarray] | None = None  # per class: precision at recall 0, 0.01, ..., 1 (IoU 0.5)

    def figures(self) -> dict[str, float]:
        """``{"map", "ap50", "ap75"}``.

        Examples:
            >>> DetectionReport(0.5, 0.8, 0.6, {}, 10).figures()
            {'map': 0.5, 'ap50': 0.8, 'ap75': 0.6}
        """
        return {"map": self.map, "ap50": self.ap50, "ap75": self.ap75}

    def table(self) -> str:
        """The figures and the per-class AP as text.

        Examples:
            >>> print(DetectionReport(0.5, 0.8, 0.6, {"cat": 0.5}, 10).table().splitlines()[-1])
            cat                    0.5000
        """
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

    Examples:
        >>> round(coco_evaluate([np.array([[0, 0, 10, 10, 1.0]])], [Detections(np.array([[0, 0, 10, 10.0]]),
        ...               np.array([0.9]), np.array([1]))], ["cat"]).ap50, 6)
        1.0
    """
    require_extra("detection", "COCO evaluation", modules=["pycocotools"])
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
    curves = {name: np.maximum(precision[0, :, k], 0.0) for k, name in enumerate(class_names)}
    return DetectionReport(stats[0], stats[1], stats[2], per_class, len(images), curves)


def plot_precision_recall(report: DetectionReport, path: str) -> str:
    """Each class's precision-recall curve at IoU 0.5 (COCO's 101 recall points) as a PNG; return ``path``.

    Args:
        report: from :func:`coco_evaluate`.
        path: the ``.png`` file to write (atomically).

    Examples:
        >>> report = coco_evaluate(*detect_batches(detector, detection_data.test), detection_data.class_names)
        >>> plot_precision_recall(report, "logs/precision_recall.png")
        'logs/precision_recall.png'
    """
    figure, axes = new_figure(figsize=(6, 5))
    for name, precision in (report.curves or {}).items():
        axes.plot(np.linspace(0, 1, len(precision)), precision, label=f"{name} (AP50 {np.mean(precision):.3f})")
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_title(f"IoU 0.5: AP50 {report.ap50:.4f}, mAP@[.5:.95] {report.map:.4f}")
    axes.legend(loc="lower left", fontsize=8)
    return save_figure(figure, path)


def draw_samples(images: np.ndarray, truth: list[np.ndarray], found: list[Detections], class_names: list[str],
                 folder: str, score_threshold: float = 0.3) -> list[str]:
    """Images with their true boxes (green) and detections (red, labelled) as PNGs in ``folder``; return the paths.

    Args:
        images: ``[N, H, W, 3]`` pixels in [0, 255] (model input).
        truth: per image, ``[M, 5]`` ground-truth rows.
        found: per image, the detections.
        class_names: the C class names.
        folder: an existing folder.
        score_threshold: lowest score drawn, in [0, 1).

    Examples:
        >>> images = np.concatenate([batch for batch, _ in detection_data.test])
        >>> truth, found = detect_batches(detector, detection_data.test)
        >>> len(draw_samples(images, truth, found, detection_data.class_names, "logs/"))
        4
    """
    from PIL import Image, ImageDraw

    paths = []
    for index, (pixels, rows, detections) in enumerate(zip(images, truth, found)):
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for row in np.asarray(rows).reshape(-1, 5):
            if row[4] != 0:
                draw.rectangle([float(v) for v in row[:4]], outline=(40, 220, 40), width=1)
        for box, score, label in zip(detections.boxes, detections.scores, detections.labels):
            if score >= score_threshold:
                draw.rectangle([float(v) for v in box], outline=(255, 40, 40), width=1)
                draw.text((float(box[0]) + 2, float(box[1]) + 1), f"{class_names[int(label) - 1]} {score:.2f}", fill=(255, 255, 0))
        path = os.path.join(folder, f"sample_{index:02d}.png")
        with atomic_target(path) as target:
            image.save(target, format="PNG")
        paths.append(path)
    return paths


def detect_batches(model: keras.Model, dataset: Any) -> tuple[list[np.ndarray], list[Detections]]:
    """``(ground truth, detections)`` per image of a ``(images, targets)`` dataset, with :data:`EVALUATION`.

    Args:
        model: an SSDLite model.
        dataset: batches of ``(images, targets)`` (targets ``[B, M, 5]``, or a dict holding them).

    Examples:
        >>> truth, found = detect_batches(detector, detection_data.test)
        >>> len(truth) == len(found) == 4
        True
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


def tflite_detections(path: str, dataset: Any) -> tuple[list[np.ndarray], list[Detections]]:
    """``(ground truth, detections)`` per image of a dataset, found by a detector ``.tflite`` file.

    The file's own post-processing (``TFLite_Detection_PostProcess``) decides;
    its normalised ``ymin, xmin, ymax, xmax`` boxes become input pixels.

    Args:
        path: a file written by :func:`~keras_lightnets.detection.detector_to_tflite`.
        dataset: batches of ``(images, targets)``.

    Examples:
        >>> report = coco_evaluate(*tflite_detections("det.tflite", detection_data.test), detection_data.class_names)
        >>> 0.0 <= report.map <= 1.0
        True
    """
    truth, found = [], []
    for images, targets in dataset:
        images = np.asarray(images)
        size = np.array([images.shape[2], images.shape[1]] * 2, np.float32)  # x1, y1, x2, y2 scales
        for image, rows in zip(images, np.asarray(targets)):
            boxes, classes, scores, count = run_tflite(path, image[None], all_outputs=True)
            count = int(count[0])
            corners = np.clip(boxes[0, :count], 0.0, 1.0)[:, [1, 0, 3, 2]] * size
            found.append(Detections(corners, scores[0, :count], classes[0, :count].astype(np.int64) + 1))
            truth.append(rows)
    return truth, found
