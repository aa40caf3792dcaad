"""SSD default boxes (anchors), computed from the feature-map sizes of the model at hand."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from keras_lightnets.validation import check_float, check_int

__all__ = ["default_boxes"]


def _scales(count: int, min_ratio: float, max_ratio: float) -> list[float]:
    """The SSD paper's linear scales from ``min_ratio`` to ``max_ratio``, plus 1.0 for the last s'_k."""
    if count == 1:
        return [min_ratio, max_ratio]
    return [min_ratio + (max_ratio - min_ratio) * k / (count - 1.0) for k in range(count)] + [1.0]


def default_boxes(
    feature_sizes: Sequence[tuple[int, int]],
    image_size: tuple[int, int],
    aspect_ratios: Sequence[Sequence[float]] | None = None,
    *,
    min_ratio: float = 0.2,
    max_ratio: float = 0.95,
    clip: bool = True,
) -> np.ndarray:
    """SSD default boxes as ``[A, 4]`` float32 ``(x1, y1, x2, y2)`` in pixels, in torchvision's order.

    Per feature map ``k`` (scale ``s_k`` from ``min_ratio`` to ``max_ratio``), per
    location row-major, per box: the square of side ``s_k``, the square of side
    ``sqrt(s_k s_k+1)``, then for each aspect ratio ``r`` the pair
    ``(s_k sqrt(r), s_k / sqrt(r))`` and its transpose — widths and heights
    clipped to [0, 1] of the image when ``clip`` (torchvision's
    ``DefaultBoxGenerator``). Centres sit at ``(i + 0.5) / size`` of each map.

    Args:
        feature_sizes: ``(height, width)`` of each prediction map, largest first (each >= 1).
        image_size: ``(height, width)`` of the input image in pixels (each >= 1).
        aspect_ratios: per map, the ratios besides 1 (each > 0); default ``[2, 3]``
            for every map (SSDLite: 6 boxes per location).
        min_ratio: the smallest scale, in (0, 1].
        max_ratio: the largest scale, in [min_ratio, 1].
        clip: clip widths and heights to the image.

    Examples:
        >>> boxes = default_boxes([(20, 20), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)], (320, 320))
        >>> boxes.shape
        (3234, 4)
    """
    sizes = [tuple(check_int("feature_sizes", v, low=1) for v in size) for size in feature_sizes]
    if not sizes or any(len(size) != 2 for size in sizes):
        raise ValueError(f"`feature_sizes` must be a non-empty list of (height, width); received {feature_sizes!r}.")
    height, width = (check_int("image_size", v, low=1) for v in image_size)
    ratios = [[2.0, 3.0]] * len(sizes) if aspect_ratios is None else [list(r) for r in aspect_ratios]
    if len(ratios) != len(sizes):
        raise ValueError(f"`aspect_ratios` needs one list per feature map ({len(sizes)}); received {aspect_ratios!r}.")
    ratios = [[check_float("aspect_ratios", r, low=0.0, low_inclusive=False) for r in row] for row in ratios]
    min_ratio = check_float("min_ratio", min_ratio, low=0.0, high=1.0, low_inclusive=False)
    max_ratio = check_float("max_ratio", max_ratio, low=min_ratio, high=1.0)
    scales = _scales(len(sizes), min_ratio, max_ratio)
    boxes = []
    for k, (rows, cols) in enumerate(sizes):
        pairs = [(scales[k], scales[k]), (math.sqrt(scales[k] * scales[k + 1]),) * 2]
        for ratio in ratios[k]:
            pairs += [(scales[k] * math.sqrt(ratio), scales[k] / math.sqrt(ratio))]
            pairs += [pairs[-1][::-1]]
        wh = np.asarray(pairs, dtype=np.float32)
        wh = np.clip(wh, 0.0, 1.0) if clip else wh
        cy, cx = np.meshgrid((np.arange(rows) + 0.5) / rows, (np.arange(cols) + 0.5) / cols, indexing="ij")
        centres = np.stack([cx.ravel(), cy.ravel()], axis=-1).astype(np.float32)  # [locations, 2]
        centres = np.repeat(centres, len(pairs), axis=0)
        whs = np.tile(wh, (rows * cols, 1))
        boxes.append(np.concatenate([centres - 0.5 * whs, centres + 0.5 * whs], axis=-1))
    scale = np.array([width, height, width, height], dtype=np.float32)
    return (np.concatenate(boxes, axis=0) * scale).astype(np.float32)
