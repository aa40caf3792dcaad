"""A segmenter trained through the one trainer on generated mask photos labels the pixels; its int8 file too.

One small LR-ASPP (MobileNetV3-Small, 96x96, from scratch) is trained once for the module on generated
photos of squares (rotated, any colour that contrasts) on cluttered, noisy backgrounds with index masks,
and shared: a foreground / background task, as portrait or document masks. Measured here: test mIoU
0.880 after 12 epochs (two or three shape classes from scratch at this size and budget: 0.46-0.55;
telling shapes apart needs more data, pixels or a pretrained backbone). Mean IoU is the
confusion matrix's (checked against ``keras.metrics.MeanIoU`` in test_segmentation_data).
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
from PIL import Image

from keras_lightnets.cli import main
from keras_lightnets.export import to_tflite
from keras_lightnets.litert import run_tflite, tflite_delegation
from keras_lightnets.quantization import is_quantize_aware
from keras_lightnets.segmentation import SegmentationTask, read_mask, segmentation_folder, segmentation_report
from keras_lightnets.synthetic import segmentation_photos
from keras_lightnets.train import fit

SIZE = 96
COUNTS = {"train": 160, "val": 30, "test": 40}
SHAPES = ("square",)
EPOCHS, LEARNING_RATE = 12, 1e-2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("segmenter")
    root = segmentation_photos(folder / "masks", shapes=SHAPES, counts=COUNTS, seed=1)
    data = segmentation_folder(root, input_size=SIZE, batch_size=16)
    result = fit(
        "lraspp_mobilenet_v3_small", data, epochs=EPOCHS, learning_rate=LEARNING_RATE, verbose=0,
        log_dir=str(folder / "logs"),
    )
    return result, data, folder


def test_trained_segmenter_labels_the_test_split(trained):
    result, data, folder = trained
    assert set(result.test_metrics) == {"miou", "pixel_accuracy"} and "val_miou" in result.history
    assert result.test_metrics["miou"] >= 0.6, result.test_metrics
    # The trainer's figure is the test split's, recomputed here from the predictions.
    report = segmentation_report(lambda x: result.model.predict(x, verbose=0), data.test, data.class_names)
    assert report.miou == pytest.approx(result.test_metrics["miou"], abs=1e-6)
    assert result.model.class_names == ["background", *SHAPES] and result.model.task == "segmentation"
    text = SegmentationTask().report(result.model, data, str(folder / "logs"))
    assert "square" in text and "mean IoU" in text
    assert (folder / "logs" / "overlays.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_int8_file_keeps_the_mean_iou_within_two_points(trained):
    result, data, folder = trained
    path = folder / "seg_int8.tflite"
    report = to_tflite(result.model, path, "int8", data.calibration, num_calibration=len(data.calibration))
    assert not [op for op in report.ops if op.startswith("Flex")] and report.ops["RESIZE_BILINEAR"] == 2
    assert tflite_delegation(path).partitions == 1  # XNNPACK runs the whole graph, resize and pooling included
    keras_miou = segmentation_report(lambda x: result.model.predict(x, verbose=0), data.test, data.class_names).miou
    int8 = segmentation_report(lambda x: run_tflite(str(path), x), data.test, data.class_names)
    print(f"\nKeras mIoU {keras_miou:.3f}, int8 file {int8.miou:.3f}\n{int8.table()}")
    assert int8.miou >= 0.6 and keras_miou - int8.miou <= 0.02
    assert SegmentationTask().score_tflite(str(path), data) == pytest.approx(int8.miou)


def test_quantization_aware_epochs_train_a_segmenter_whose_int8_file_agrees(trained):
    """The trained segmenter, one quantization-aware epoch through the trainer: the int8 file from the learned ranges."""
    result, data, folder = trained
    result.model.save(folder / "float.keras")
    start = keras.saving.load_model(folder / "float.keras", safe_mode=True)
    qat = fit(start, data, epochs=0, qat_epochs=1, verbose=0)
    assert is_quantize_aware(qat.model) and qat.model.task == "segmentation"
    path = folder / "seg_qat_int8.tflite"
    to_tflite(qat.model, path, "int8")
    assert tflite_delegation(path).partitions == 1
    keras_report = segmentation_report(lambda x: qat.model.predict(x, verbose=0), data.test, data.class_names)
    int8 = segmentation_report(lambda x: run_tflite(str(path), x), data.test, data.class_names)
    print(f"\nfloat {result.test_metrics['miou']:.3f}, QAT Keras {keras_report.miou:.3f}, QAT int8 file {int8.miou:.3f}")
    assert abs(keras_report.miou - int8.miou) <= 0.01 and int8.miou >= result.test_metrics["miou"] - 0.03


def test_cli_trains_exports_and_predicts_masks(trained, tmp_path, capsys):
    _, data, folder = trained
    export = tmp_path / "seg.tflite"
    argv = ["train", "lraspp_mobilenet_v3_small", "--data", str(folder / "masks"), "--input-size", "64",
            "--epochs", "1", "--export", str(export), "--quantization", "int8"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "test miou" in out and "mean IoU" in out and export.exists()
    images = data.files["test"][:2]
    assert main(["predict", str(export), *images, "--masks", str(tmp_path / "out")]) == 0
    assert "background" in capsys.readouterr().out
    for image in images:
        stem = os.path.splitext(os.path.basename(image))[0]
        mask = read_mask(str(tmp_path / "out" / f"{stem}.png"))
        with Image.open(image) as opened:
            assert mask.shape == (opened.height, opened.width)  # at the image's size
        assert set(np.unique(mask)) <= {0, 1}
        assert (tmp_path / "out" / f"{stem}_overlay.png").exists()


def test_cli_refuses_a_mask_folder_with_unknown_labels(tmp_path, capsys):
    root = segmentation_photos(tmp_path / "masks", shapes=SHAPES, counts={"train": 4, "val": 2, "test": 2}, seed=2)
    path = os.path.join(root, "train", "masks", "train_0001.png")
    values = read_mask(path)
    values[0, 0] = 9
    Image.fromarray(values).save(path)
    assert main(["train", "lraspp_mobilenet_v3_small", "--data", root, "--input-size", "64", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "label values [9]" in err and len(err.strip().splitlines()) == 1
