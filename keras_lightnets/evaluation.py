"""Evaluation you can look at: per-class precision and recall, a confusion matrix, training curves."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from keras_lightnets.files import atomic_target
from keras_lightnets.validation import require_extra

__all__ = ["Report", "classification_report", "new_figure", "plot_confusion", "plot_history", "save_figure"]


@dataclasses.dataclass(frozen=True)
class Report:
    """Per-class figures of one evaluation (rows of ``confusion``: true class; columns: predicted)."""

    class_names: list[str]
    confusion: np.ndarray  # (classes, classes) counts
    precision: np.ndarray  # per class; NaN where nothing was predicted as the class
    recall: np.ndarray  # per class
    accuracy: float

    def table(self) -> str:
        """The per-class table and the confusion matrix as text.

        Examples:
            >>> print(classification_report([0, 1], [0, 0], ["cat", "dog"]).table())
            class    precision  recall  images
            cat          0.500   1.000       1
            dog            nan   0.000       1
            accuracy    0.5000
            <BLANKLINE>
            confusion matrix (rows: true, columns: predicted)
                        0    1
            cat         1    0
            dog         1    0
        """
        width = max(8, *(len(n) for n in self.class_names))
        lines = [f"{'class':{width}s} {'precision':>9s} {'recall':>7s} {'images':>7s}"]
        for name, p, r, n in zip(self.class_names, self.precision, self.recall, self.confusion.sum(1)):
            lines.append(f"{name:{width}s} {p:9.3f} {r:7.3f} {int(n):7d}")
        lines.append(f"{'accuracy':{width}s} {self.accuracy:9.4f}")
        lines.append("")
        lines.append("confusion matrix (rows: true, columns: predicted)")
        cell = max(5, len(str(int(self.confusion.max()))) + 1)
        lines.append(" " * width + "".join(f"{i:>{cell}d}" for i in range(len(self.class_names))))
        for index, (name, row) in enumerate(zip(self.class_names, self.confusion)):
            lines.append(f"{name[:width]:{width}s}" + "".join(f"{int(v):>{cell}d}" for v in row))
        return "\n".join(lines)


def classification_report(y_true: Any, y_pred: Any, class_names: list[str]) -> Report:
    """Confusion matrix, per-class precision and recall, accuracy.

    Args:
        y_true: true class indices (N,).
        y_pred: predicted class indices (N,).
        class_names: one name per class.

    Examples:
        >>> report = classification_report([0, 1, 1], [0, 1, 0], ["cat", "dog"])
        >>> report.recall.tolist(), report.accuracy
        ([1.0, 0.5], 0.6666666666666666)
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    classes = len(class_names)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"`y_true` and `y_pred` must be equal-length 1-D; received {y_true.shape}, {y_pred.shape}.")
    if min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= classes:
        raise ValueError(f"Class indices must be in [0, {classes}) for {classes} `class_names`.")
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    diagonal = np.diag(confusion).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = diagonal / confusion.sum(0)
        recall = diagonal / confusion.sum(1)
    return Report(list(class_names), confusion, precision, recall, float(diagonal.sum() / confusion.sum()))


def new_figure(**options: Any) -> tuple[Any, Any]:
    """``(figure, axes)`` of a new Matplotlib figure drawn off-screen (the Agg backend).

    Matplotlib comes with the ``plot`` extra (``pip install 'keras-lightnets[plot]'``);
    without it an ``ImportError`` says so.

    Args:
        **options: ``matplotlib.pyplot.subplots`` arguments (``nrows``, ``ncols``, ``figsize``...).

    Examples:
        >>> figure, axes = new_figure(figsize=(6, 5))
    """
    require_extra("plot", "Plotting", modules=["matplotlib"])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(**options)


def save_figure(figure: Any, path: str) -> str:
    """Lay out ``figure``, write it to the PNG ``path`` atomically and close it; return ``path``.

    Args:
        figure: from :func:`new_figure`.
        path: the ``.png`` file to write.

    Examples:
        >>> figure, axes = new_figure()
        >>> save_figure(figure, "logs/empty.png")
        'logs/empty.png'
    """
    import matplotlib.pyplot as plt

    figure.tight_layout()
    with atomic_target(path) as target:
        figure.savefig(target, format="png", dpi=100)
    plt.close(figure)
    return path


def plot_confusion(report: Report, path: str) -> str:
    """Draw the confusion matrix (row-normalized colours, counts written) to a PNG; return ``path``.

    Args:
        report: from :func:`classification_report`.
        path: the ``.png`` file to write (atomically).

    Examples:
        >>> plot_confusion(classification_report([0, 1, 1], [0, 1, 0], ["cat", "dog"]), "logs/confusion.png")
        'logs/confusion.png'
    """
    classes = len(report.class_names)
    size = min(4 + 0.4 * classes, 20)
    figure, axes = new_figure(figsize=(size, size))
    rows = report.confusion / np.maximum(report.confusion.sum(1, keepdims=True), 1)
    axes.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(classes), report.class_names, rotation=90)
    axes.set_yticks(range(classes), report.class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"test accuracy {report.accuracy:.4f}")
    if classes <= 30:
        for i in range(classes):
            for j in range(classes):
                axes.text(j, i, int(report.confusion[i, j]), ha="center", va="center", fontsize=8,
                          color="white" if rows[i, j] > 0.5 else "black")
    return save_figure(figure, path)


def plot_history(history: dict[str, list[float]], path: str) -> str:
    """Draw loss and the task's figure per epoch (train and validation) to a PNG; return ``path``.

    Args:
        history: ``TrainResult.history`` (``loss``, ``val_loss`` and ``accuracy`` / ``val_accuracy``, or
            a detector's ``val_map`` / ``val_ap50``).
        path: the ``.png`` file to write (atomically).

    Examples:
        >>> plot_history(result.history, "logs/curves.png")
        'logs/curves.png'
    """
    figure, axes = new_figure(ncols=2, figsize=(10, 4))
    second = "accuracy" if "accuracy" in history or "val_accuracy" in history else "map"
    for axis, metric in zip(axes, ("loss", second)):
        curves = [(metric, "train"), (f"val_{metric}", "validation")] + ([("val_ap50", "validation AP50")] if second == "map" else [])
        for key, label in curves:
            if history.get(key):
                axis.plot(range(1, len(history[key]) + 1), history[key], marker="o", label=label)
        axis.set_xlabel("epoch")
        axis.set_title(metric if metric != "map" else "COCO mAP@[.5:.95]")
        axis.legend()
    return save_figure(figure, path)
