"""Per-class figures against scikit-learn, and the PNG files."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_score, recall_score

from keras_lightnets.evaluation import classification_report, plot_confusion, plot_history


def test_report_equals_scikit_learn(rng):
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.uniform(size=200) < 0.7, y_true, rng.integers(0, 4, 200))
    report = classification_report(y_true, y_pred, ["a", "b", "c", "d"])
    np.testing.assert_array_equal(report.confusion, confusion_matrix(y_true, y_pred, labels=range(4)))
    np.testing.assert_allclose(report.precision, precision_score(y_true, y_pred, average=None, labels=range(4)))
    np.testing.assert_allclose(report.recall, recall_score(y_true, y_pred, average=None, labels=range(4)))
    assert report.accuracy == pytest.approx(np.mean(y_true == y_pred))
    table = report.table()
    assert "precision" in table and "confusion matrix" in table and table.count("\n") > 10


def test_pngs_are_written(tmp_path):
    report = classification_report([0, 1, 1], [0, 1, 0], ["cat", "dog"])
    for path in (plot_confusion(report, str(tmp_path / "c.png")),
                 plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}, str(tmp_path / "h.png"))):
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "y_true, y_pred, pattern",
    [([0, 1], [0], "equal-length"), ([0, 2], [0, 1], r"\[0, 2\)"), ([], [], "equal-length")],
)
def test_bad_labels(y_true, y_pred, pattern):
    with pytest.raises(ValueError, match=pattern):
        classification_report(y_true, y_pred, ["a", "b"])
