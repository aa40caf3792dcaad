"""SSD training targets and loss with ``keras.ops`` (every backend): anchor matching and the multibox loss.

Ground truth comes padded: ``gt_boxes [B, M, 4]`` (``x1, y1, x2, y2`` pixels),
``gt_labels [B, M]`` (1..C; 0 is the background class) and ``gt_valid [B, M]``
(False for padding rows), so a batch of images with different box counts is
one tensor and matching runs inside the loss, on the model's backend.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_lightnets.detection.anchors import default_boxes
from keras_lightnets.detection.boxes import box_iou, encode_boxes
from keras_lightnets.validation import check_choice, check_float

__all__ = ["SSDLoss", "match_anchors", "ssd_losses"]


def match_anchors(gt_boxes: Any, gt_valid: Any, anchors: Any, threshold: float = 0.5) -> Any:
    """Each anchor's ground-truth index (``[B, A]`` int32), or -1 for background.

    An anchor takes the box it overlaps most when that IoU is >= ``threshold``;
    then every ground-truth box is forced onto its best anchor (a later box wins
    a shared anchor): torchvision's ``SSDMatcher``. Padding rows never match.

    Args:
        gt_boxes: ``[B, M, 4]`` boxes.
        gt_valid: ``[B, M]`` booleans, False for padding.
        anchors: ``[A, 4]`` default boxes (see :func:`~keras_lightnets.detection.default_boxes`).
        threshold: the IoU a match needs, in (0, 1].

    Examples:
        >>> ops.convert_to_numpy(match_anchors([[[0., 0., 10., 10.]]], [[True]], [[0., 0., 10., 10.], [50., 50., 60., 60.]])).tolist()
        [[0, -1]]
    """
    threshold = check_float("threshold", threshold, low=0.0, high=1.0, low_inclusive=False)
    valid = ops.cast(gt_valid, "bool")
    iou = ops.where(valid[..., None], box_iou(gt_boxes, anchors), -1.0)  # [B, M, A]
    matches = ops.where(ops.max(iou, axis=1) >= threshold, ops.cast(ops.argmax(iou, axis=1), "int32"), -1)
    count, boxes = ops.shape(iou)[2], ops.shape(iou)[1]
    best = ops.one_hot(ops.argmax(iou, axis=2), count) > 0.5  # [B, M, A]: each box's best anchor
    index = ops.reshape(ops.arange(boxes, dtype="int32"), (1, -1, 1))
    forced = ops.max(ops.where(best & valid[..., None], index, -1), axis=1)  # [B, A]
    return ops.where(forced >= 0, forced, matches)


def _smooth_l1(difference: Any) -> Any:
    absolute = ops.abs(difference)
    return ops.where(absolute < 1.0, 0.5 * difference * difference, absolute - 0.5)


def ssd_losses(
    gt_boxes: Any,
    gt_labels: Any,
    gt_valid: Any,
    box_codes: Any,
    class_logits: Any,
    anchors: Any,
    *,
    threshold: float = 0.5,
    negatives_per_positive: float = 3.0,
) -> tuple[Any, Any]:
    """The SSD multibox loss: ``(box loss, classification loss)``, each divided by the positive count.

    Box loss: smooth-L1 (beta 1) between ``box_codes`` and the encoded matched
    boxes, summed over positive anchors. Classification: softmax cross-entropy
    over the positives and, per image, the ``negatives_per_positive`` x positives
    background anchors with the highest loss (hard negative mining). Both are
    divided by ``max(1, positives in the batch)``: torchvision's
    ``SSD.compute_loss``. (Where an image has fewer negatives than it may mine,
    torchvision would count some positives twice; here they are not.)

    Args:
        gt_boxes: ``[B, M, 4]`` padded boxes in pixels.
        gt_labels: ``[B, M]`` classes 1..C (0 is background).
        gt_valid: ``[B, M]`` booleans, False for padding.
        box_codes: ``[B, A, 4]`` predicted regressions.
        class_logits: ``[B, A, C + 1]`` predicted logits, background first.
        anchors: ``[A, 4]`` default boxes.
        threshold: matching IoU, in (0, 1].
        negatives_per_positive: hard negatives per positive (> 0).

    Examples:
        >>> import numpy as np
        >>> anchors = np.array([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]], "float32")
        >>> box_loss, class_loss = ssd_losses(
        ...     [[[0.0, 0.0, 10.0, 10.0]]], [[1]], [[True]], np.zeros((1, 2, 4), "float32"), np.zeros((1, 2, 3), "float32"), anchors)
        >>> float(box_loss), round(float(class_loss), 4)
        (0.0, 2.1972)
    """
    ratio = check_float("negatives_per_positive", negatives_per_positive, low=0.0, low_inclusive=False)
    matches = match_anchors(gt_boxes, gt_valid, anchors, threshold)
    normaliser = ops.maximum(ops.sum(ops.cast(matches >= 0, "float32")), 1.0)
    box_loss = _box_loss(gt_boxes, matches, box_codes, anchors)
    return box_loss / normaliser, _class_loss(gt_labels, matches, class_logits, ratio) / normaliser


def _box_loss(gt_boxes: Any, matches: Any, box_codes: Any, anchors: Any) -> Any:
    """Smooth-L1 between predictions and encoded matched boxes, summed over the positive anchors."""
    positive = matches >= 0
    index = ops.maximum(matches, 0)
    gt_boxes = ops.convert_to_tensor(gt_boxes, "float32")
    matched = ops.take_along_axis(gt_boxes, ops.repeat(index[..., None], 4, axis=-1), axis=1)  # [B, A, 4]
    targets = encode_boxes(matched, anchors)
    box_codes = ops.cast(box_codes, "float32")
    per_anchor = ops.sum(_smooth_l1(box_codes - ops.where(positive[..., None], targets, 0.0)), axis=-1)
    return ops.sum(ops.where(positive, per_anchor, 0.0))


def _class_loss(gt_labels: Any, matches: Any, class_logits: Any, ratio: float) -> Any:
    """Cross-entropy summed over the positives and the hardest ``ratio`` x positives negatives per image."""
    positive = matches >= 0
    index = ops.maximum(matches, 0)
    labels = ops.where(positive, ops.take_along_axis(ops.cast(gt_labels, "int32"), index, axis=1), 0)
    cross_entropy = ops.sparse_categorical_crossentropy(labels, ops.cast(class_logits, "float32"), from_logits=True)
    positives = ops.sum(ops.cast(positive, "float32"), axis=1, keepdims=True)  # [B, 1]
    negative_loss = ops.where(positive, -1.0, cross_entropy)  # cross-entropy >= 0: positives rank last
    rank = ops.argsort(ops.argsort(-negative_loss, axis=1), axis=1)
    hard = (ops.cast(rank, "float32") < ratio * positives) & ~positive
    return ops.sum(ops.where(positive | hard, cross_entropy, 0.0))


@keras.saving.register_keras_serializable(package="keras_lightnets")
class SSDLoss(keras.losses.Loss):
    """One half of the SSD loss as a Keras loss, for ``model.compile(loss={"boxes": ..., "class_logits": ...})``.

    ``y_true`` is the padded ground truth ``[B, M, 5]`` (``x1, y1, x2, y2``
    in input pixels, then the class 1..C; class 0 rows are padding), the same
    tensor for both outputs: each half matches anchors itself (matching needs
    only the ground truth), and the two halves add up to :func:`ssd_losses`'
    total (each divided by the batch's positive count). The anchors are
    recomputed from ``feature_sizes`` and ``image_size``, so the loss is a
    small config in ``.keras`` checkpoints.

    Args:
        part: ``"boxes"`` (smooth-L1) or ``"class_logits"`` (cross-entropy, hard negatives).
        feature_sizes: the detector's ``(height, width)`` per feature map.
        image_size: its input ``(height, width)``.
        threshold: matching IoU, in (0, 1].
        negatives_per_positive: hard negatives per positive (> 0).
        name: the loss name.

    Examples:
        >>> sizes = [tuple(f["size"]) for f in detector.feature_info]
        >>> loss = {p: SSDLoss(p, sizes, (160, 160)) for p in ("boxes", "class_logits")}
    """

    def __init__(
        self,
        part: str,
        feature_sizes: Any,
        image_size: Any,
        threshold: float = 0.5,
        negatives_per_positive: float = 3.0,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name or f"ssd_{part}", **kwargs)
        self.part = check_choice("part", part, ("boxes", "class_logits"))
        self.feature_sizes = [tuple(int(v) for v in size) for size in feature_sizes]
        self.image_size = tuple(int(v) for v in image_size)
        self.threshold = check_float("threshold", threshold, low=0.0, high=1.0, low_inclusive=False)
        self.ratio = check_float("negatives_per_positive", negatives_per_positive, low=0.0, low_inclusive=False)
        self.anchors = default_boxes(self.feature_sizes, self.image_size)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true = ops.cast(y_true, "float32")
        labels = ops.cast(ops.round(y_true[..., 4]), "int32")
        matches = match_anchors(y_true[..., :4], labels > 0, self.anchors, self.threshold)
        normaliser = ops.maximum(ops.sum(ops.cast(matches >= 0, "float32")), 1.0)
        if self.part == "boxes":
            return _box_loss(y_true[..., :4], matches, y_pred, self.anchors) / normaliser
        return _class_loss(labels, matches, y_pred, self.ratio) / normaliser

    def get_config(self) -> dict[str, Any]:
        return {
            "part": self.part, "feature_sizes": [list(s) for s in self.feature_sizes], "image_size": list(self.image_size),
            "threshold": self.threshold, "negatives_per_positive": self.ratio, "name": self.name,
        }
