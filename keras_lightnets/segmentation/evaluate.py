"""Segmentation figures: mean IoU (ignore index 255 excluded), per-class IoU, pixel accuracy; overlays."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from keras_lightnets.evaluation import new_figure, save_figure
from keras_lightnets.segmentation.data import IGNORE

__all__ = ["SegmentationReport", "class_colours", "confusion", "draw_overlays", "segment_batches", "segmentation_report"]


def confusion(truth: Any, predicted: Any, num_classes: int) -> np.ndarray:
    """``[C, C]`` pixel counts (row: true class, column: predicted), pixels marked 255 left out.

    Args:
        truth: true masks (any shape), values in 0..C-1 or 255.
        predicted: predicted classes, the same shape.
        num_classes: C (>= 2).

    Examples:
        >>> confusion(np.array([0, 1, 1, 255]), np.array([0, 1, 0, 1]), 2).tolist()
        [[1, 0], [1, 1]]
    """
    truth, predicted = np.asarray(truth).ravel(), np.asarray(predicted).ravel()
    kept = truth != IGNORE
    pairs = truth[kept].astype(np.int64) * num_classes + predicted[kept].astype(np.int64)
    return np.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclasses.dataclass
class SegmentationReport:
    """Per-class IoU, mean IoU and pixel accuracy from a confusion matrix."""

    matrix: np.ndarray  # [C, C] pixels: true class x predicted class
    class_names: list[str]

    @property
    def iou(self) -> np.ndarray:
        """IoU of each class: TP / (TP + FP + FN); NaN for a class absent from truth and predictions.

        Examples:
            >>> SegmentationReport(np.array([[3, 1], [0, 4]]), ["a", "b"]).iou.round(2).tolist()
            [0.75, 0.8]
        """
        hits = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - hits
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, hits / np.maximum(union, 1), np.nan)

    @property
    def miou(self) -> float:
        """Mean IoU over the classes present (in the truth or the predictions), as ``keras.metrics.MeanIoU``.

        Examples:
            >>> round(SegmentationReport(np.array([[3, 1], [0, 4]]), ["a", "b"]).miou, 3)
            0.775
        """
        return float(np.nanmean(self.iou))

    @property
    def pixel_accuracy(self) -> float:
        """Share of the counted pixels classified right.

        Examples:
            >>> SegmentationReport(np.array([[3, 1], [0, 4]]), ["a", "b"]).pixel_accuracy
            0.875
        """
        return float(np.trace(self.matrix) / max(1, self.matrix.sum()))

    def figures(self) -> dict[str, float]:
        """``{"miou", "pixel_accuracy"}``.

        Examples:
            >>> SegmentationReport(np.array([[3, 1], [0, 4]]), ["a", "b"]).figures()["pixel_accuracy"]
            0.875
        """
        return {"miou": self.miou, "pixel_accuracy": self.pixel_accuracy}

    def table(self) -> str:
        """A text table: IoU and pixel count of each class, then mean IoU and pixel accuracy.

        Examples:
            >>> print(SegmentationReport(np.array([[3, 1], [0, 4]]), ["a", "b"]).table().splitlines()[1])
            a          0.750           4
        """
        pixels = self.matrix.sum(1)
        width = max(8, *(len(name) for name in self.class_names))
        lines = [f"{'class':<{width}}  {'IoU':>6}  {'pixels':>10}"]
        for name, iou, count in zip(self.class_names, self.iou, pixels):
            lines.append(f"{name:<{width}}  {'-' if np.isnan(iou) else f'{iou:.3f}':>6}  {int(count):>10}")
        lines.append(f"{'mean IoU':<{width}}  {self.miou:>6.3f}")
        lines.append(f"{'pixel acc':<{width}}  {self.pixel_accuracy:>6.3f}")
        return "\n".join(lines)


def segment_batches(predict: Callable[[np.ndarray], np.ndarray], dataset: Any, num_classes: int) -> np.ndarray:
    """The confusion matrix of ``predict`` (images -> logits ``[B, H, W, C]``) over a split of ``(images, masks)``.

    Args:
        predict: a model call or a TFLite runner.
        dataset: batches of ``(images, masks)``.
        num_classes: C (>= 2).

    Examples:
        >>> data = segmentation_data
        >>> matrix = segment_batches(lambda x: segmenter.predict(x, verbose=0), data.test, data.num_classes)
        >>> int(matrix.sum()) == 4 * 64 * 64 - int((np.concatenate([m for _, m in data.test]) == 255).sum())
        True
    """
    matrix = np.zeros((num_classes, num_classes), np.int64)
    for images, masks in dataset:
        logits = np.asarray(predict(np.asarray(images)))
        matrix += confusion(np.asarray(masks), logits.argmax(-1), num_classes)
    return matrix


def segmentation_report(predict: Callable[[np.ndarray], np.ndarray], dataset: Any, class_names: list[str]) -> SegmentationReport:
    """:class:`SegmentationReport` of ``predict`` on ``dataset``.

    Args:
        predict: images -> logits.
        dataset: batches of ``(images, masks)``.
        class_names: the C class names.

    Examples:
        >>> data = segmentation_data
        >>> print(segmentation_report(lambda x: segmenter.predict(x, verbose=0), data.test, data.class_names).table())
        class ...
    """
    return SegmentationReport(segment_batches(predict, dataset, len(class_names)), list(class_names))


def class_colours() -> np.ndarray:
    """``[256, 3]`` uint8: a fixed colour per class value (0 black), Pascal VOC's bit-interleaved palette; 255 white.

    Examples:
        >>> class_colours()[[0, 1, 2, 255]].tolist()
        [[0, 0, 0], [128, 0, 0], [0, 128, 0], [255, 255, 255]]
    """
    colours = np.zeros((256, 3), np.uint8)
    for label in range(len(colours)):
        value, shift = label, 7
        while value:
            for channel in range(3):
                colours[label, channel] |= ((value >> channel) & 1) << shift
            value >>= 3
            shift -= 1
    colours[IGNORE] = (255, 255, 255)
    return colours


def draw_overlays(images: np.ndarray, truth: np.ndarray, predicted: np.ndarray, path: str) -> str:
    """One PNG of rows (image, true mask, predicted mask), masks in Pascal VOC colours, 255 white; return ``path``.

    Args:
        images: ``[N, H, W, 3]`` in [0, 255].
        truth: ``[N, H, W]`` true classes (255 = ignore).
        predicted: ``[N, H, W]`` predicted classes.
        path: the ``.png`` to write (atomically).

    Examples:
        >>> images, masks = next(iter(segmentation_data.test))
        >>> logits = segmenter.predict(images, verbose=0)
        >>> draw_overlays(np.asarray(images), np.asarray(masks), logits.argmax(-1), "logs/overlays.png")
        'logs/overlays.png'
    """
    colours = class_colours()
    figure, axes = new_figure(nrows=len(images), ncols=3, figsize=(7.5, 2.5 * len(images)), squeeze=False)
    for row, (image, true, found) in enumerate(zip(images, truth, predicted)):
        for column, (picture, title) in enumerate(
            ((image.astype(np.uint8), "image"), (colours[true], "true mask"), (colours[found], "predicted"))
        ):
            axes[row][column].imshow(picture)
            axes[row][column].set_title(title, fontsize=8)
            axes[row][column].axis("off")
    return save_figure(figure, path)
