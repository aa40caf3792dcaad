"""From raw SSD outputs to detections: decode, clip, per-class score threshold and top-k, NMS (NumPy).

The reference semantics are torchvision's ``SSD.postprocess_detections``; the
TFLite file reaches the same through LiteRT's ``TFLite_Detection_PostProcess``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
import numpy as np

from keras_lightnets.detection.boxes import decode_boxes
from keras_lightnets.validation import check_bool, check_float, check_int

__all__ = ["Detections", "nms", "postprocess"]


class Detections(NamedTuple):
    """One image's detections, best first."""

    boxes: np.ndarray  # (K, 4) float32 x1, y1, x2, y2 in pixels
    scores: np.ndarray  # (K,) softmax probabilities
    labels: np.ndarray  # (K,) int64 classes 1..C (0 is background and never detected)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices kept, by decreasing score.

    A box is dropped when its IoU with a kept, higher-scoring box exceeds
    ``iou_threshold`` (torchvision's ``nms``).

    Args:
        boxes: ``(N, 4)`` boxes, ``x1, y1, x2, y2``.
        scores: ``(N,)`` scores.
        iou_threshold: in [0, 1].

    Examples:
        >>> nms(np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], float), np.array([0.9, 0.8, 0.7]), 0.5)
        array([0, 2])
    """
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        top_left = np.maximum(boxes[best, :2], boxes[rest, :2])
        bottom_right = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        iou = inter / (areas[best] + areas[rest] - inter)
        order = rest[~(iou > iou_threshold)]
    return np.asarray(keep, dtype=np.int64)


def postprocess(
    box_codes: Any,
    class_logits: Any,
    anchors: np.ndarray,
    image_size: tuple[int, int],
    *,
    score_threshold: float = 0.001,
    iou_threshold: float = 0.55,
    candidates_per_class: int = 300,
    max_detections: int = 300,
    clip_before_nms: bool = True,
) -> list[Detections]:
    """Detections of every image from an SSD's raw outputs (torchvision's ``postprocess_detections``).

    Boxes are decoded from their anchors and clipped to the image; class
    probabilities are the softmax of the logits. Per class, the boxes scoring
    above ``score_threshold`` are kept, at most ``candidates_per_class`` of
    them; non-maximum suppression runs per class; the ``max_detections`` best
    detections remain.

    Args:
        box_codes: ``[N, A, 4]`` regressions.
        class_logits: ``[N, A, C + 1]`` logits, background first.
        anchors: ``[A, 4]`` default boxes in pixels.
        image_size: ``(height, width)`` the boxes are clipped to.
        score_threshold: in [0, 1).
        iou_threshold: in [0, 1].
        candidates_per_class: boxes per class entering NMS (>= 1).
        max_detections: detections per image (>= 1).
        clip_before_nms: clip boxes to the image before NMS (torchvision); False clips
            after it, as LiteRT's ``TFLite_Detection_PostProcess`` does.

    Examples:
        >>> from keras_lightnets.detection import ssdlite_anchors
        >>> images = next(iter(detection_data.test))[0]
        >>> boxes, logits = detector(images)
        >>> found = postprocess(boxes, logits, ssdlite_anchors(detector), (160, 160))
        >>> len(found) == len(images)
        True
    """
    score_threshold = check_float("score_threshold", score_threshold, low=0.0, high=1.0, high_inclusive=False)
    iou_threshold = check_float("iou_threshold", iou_threshold, low=0.0, high=1.0)
    candidates_per_class = check_int("candidates_per_class", candidates_per_class, low=1)
    max_detections = check_int("max_detections", max_detections, low=1)
    height, width = (check_int("image_size", v, low=1) for v in image_size)
    check_bool("clip_before_nms", clip_before_nms)
    limits = np.array([width, height, width, height], dtype=np.float32)
    decoded = keras.ops.convert_to_numpy(decode_boxes(box_codes, anchors))
    decoded = np.clip(decoded, 0.0, limits) if clip_before_nms else decoded
    logits = keras.ops.convert_to_numpy(class_logits).astype(np.float32)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    found = []
    for boxes, scores in zip(decoded, probabilities):
        kept_boxes, kept_scores, kept_labels = [], [], []
        for label in range(1, scores.shape[-1]):
            candidates = np.flatnonzero(scores[:, label] > score_threshold)
            candidates = candidates[np.argsort(-scores[candidates, label], kind="stable")[:candidates_per_class]]
            chosen = candidates[nms(boxes[candidates], scores[candidates, label], iou_threshold)]
            kept_boxes.append(boxes[chosen])
            kept_scores.append(scores[chosen, label])
            kept_labels.append(np.full(len(chosen), label, dtype=np.int64))
        all_scores = np.concatenate(kept_scores)
        order = np.argsort(-all_scores, kind="stable")[:max_detections]
        kept = np.clip(np.concatenate(kept_boxes)[order], 0.0, limits)
        found.append(Detections(kept, all_scores[order], np.concatenate(kept_labels)[order]))
    return found
