"""Box arithmetic with ``keras.ops`` (every backend): IoU and the SSD box coder."""

from __future__ import annotations

import math
from typing import Any

from keras import ops

__all__ = ["BOX_WEIGHTS", "box_iou", "decode_boxes", "encode_boxes"]

# torchvision's SSD box coder weights for (dx, dy, dw, dh).
BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
# The largest log-scale a decoded width or height may take (torchvision's bbox_xform_clip).
SCALE_CLIP = math.log(1000.0 / 16)


def box_iou(boxes1: Any, boxes2: Any) -> Any:
    """Pairwise IoU of ``(x1, y1, x2, y2)`` boxes: ``[..., N, 4]`` x ``[..., M, 4]`` -> ``[..., N, M]``.

    Args:
        boxes1: the first boxes.
        boxes2: the second boxes (broadcast over the leading axes).

    Examples:
        >>> float(box_iou([[0.0, 0.0, 2.0, 2.0]], [[1.0, 0.0, 3.0, 2.0]])[0, 0])
        0.3333333432674408
    """
    boxes1, boxes2 = ops.convert_to_tensor(boxes1, "float32"), ops.convert_to_tensor(boxes2, "float32")
    area1 = (boxes1[..., 2] - boxes1[..., 0]) * (boxes1[..., 3] - boxes1[..., 1])
    area2 = (boxes2[..., 2] - boxes2[..., 0]) * (boxes2[..., 3] - boxes2[..., 1])
    top_left = ops.maximum(boxes1[..., :, None, :2], boxes2[..., None, :, :2])
    bottom_right = ops.minimum(boxes1[..., :, None, 2:], boxes2[..., None, :, 2:])
    size = ops.maximum(bottom_right - top_left, 0.0)
    inter = size[..., 0] * size[..., 1]
    return inter / (area1[..., :, None] + area2[..., None, :] - inter)


def _centres(boxes: Any) -> tuple[Any, Any, Any, Any]:
    width, height = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * width, boxes[..., 1] + 0.5 * height, width, height


def encode_boxes(boxes: Any, anchors: Any, weights: tuple[float, float, float, float] = BOX_WEIGHTS) -> Any:
    """Regression targets ``(dx, dy, dw, dh)`` of ``boxes`` relative to ``anchors`` (both ``x1, y1, x2, y2``).

    ``dx = wx (cx - cx_a) / w_a``, ``dw = ww log(w / w_a)`` (and y, h alike):
    torchvision's ``BoxCoder.encode_single``.

    Args:
        boxes: ``[..., A, 4]`` boxes, one per anchor.
        anchors: ``[A, 4]`` anchors (broadcast).
        weights: ``(wx, wy, ww, wh)``, each > 0; SSD's ``(10, 10, 5, 5)``.

    Examples:
        >>> ops.convert_to_numpy(encode_boxes([[0.0, 0.0, 4.0, 4.0]], [[0.0, 0.0, 2.0, 2.0]])).tolist()
        [[5.0, 5.0, 3.4657..., 3.4657...]]
    """
    boxes, anchors = ops.convert_to_tensor(boxes, "float32"), ops.convert_to_tensor(anchors, "float32")
    x, y, w, h = _centres(boxes)
    ax, ay, aw, ah = _centres(anchors)
    wx, wy, ww, wh = weights
    return ops.stack([wx * (x - ax) / aw, wy * (y - ay) / ah, ww * ops.log(w / aw), wh * ops.log(h / ah)], axis=-1)


def decode_boxes(codes: Any, anchors: Any, weights: tuple[float, float, float, float] = BOX_WEIGHTS) -> Any:
    """Boxes ``(x1, y1, x2, y2)`` from regressions ``(dx, dy, dw, dh)`` and their anchors: the inverse of :func:`encode_boxes`.

    Log-scales are clipped at ``log(1000 / 16)`` before ``exp`` (torchvision's ``decode_single``).

    Args:
        codes: ``[..., A, 4]`` regressions.
        anchors: ``[A, 4]`` anchors (broadcast).
        weights: the weights they were encoded with.

    Examples:
        >>> boxes, anchors = [[0.0, 0.0, 4.0, 4.0]], [[0.0, 0.0, 2.0, 2.0]]
        >>> ops.convert_to_numpy(decode_boxes(encode_boxes(boxes, anchors), anchors)).round(4).tolist()
        [[0.0, 0.0, 4.0, 4.0]]
    """
    codes, anchors = ops.convert_to_tensor(codes, "float32"), ops.convert_to_tensor(anchors, "float32")
    ax, ay, aw, ah = _centres(anchors)
    wx, wy, ww, wh = weights
    x = codes[..., 0] / wx * aw + ax
    y = codes[..., 1] / wy * ah + ay
    w = ops.exp(ops.minimum(codes[..., 2] / ww, SCALE_CLIP)) * aw
    h = ops.exp(ops.minimum(codes[..., 3] / wh, SCALE_CLIP)) * ah
    return ops.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], axis=-1)

