"""Mask folders: both layouts load the same masks, messy folders get one clear error, mIoU is MeanIoU's."""

from __future__ import annotations

import os
import shutil

import keras
import numpy as np
import pytest
from PIL import Image

from keras_lightnets.segmentation import confusion, read_mask, segmentation_folder
from keras_lightnets.segmentation.evaluate import SegmentationReport
from keras_lightnets.synthetic import segmentation_photos

COUNTS = {"train": 8, "val": 3, "test": 3}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("seg")
    return {layout: segmentation_photos(root / layout, layout, counts=COUNTS, seed=3) for layout in ("folders", "voc")}


def _copy(folders, tmp_path, layout="folders"):
    return shutil.copytree(folders[layout], tmp_path / "copy")


def test_both_layouts_load_the_same_masks(folders):
    loaded = {layout: segmentation_folder(root, input_size=64, batch_size=4, augment=False) for layout, root in folders.items()}
    for layout, data in loaded.items():
        assert data.layout == layout and data.class_names == ["background", "circle", "square", "triangle"]
        assert data.counts == COUNTS
    for split in ("train", "val", "test"):
        masks = [np.concatenate([np.asarray(m) for _, m in getattr(data, split)]) for data in loaded.values()]
        np.testing.assert_array_equal(*masks)
        assert set(np.unique(masks[0])) <= {0, 1, 2, 3} and masks[0].shape[1:] == (64, 64)


def test_masks_are_indices_of_palette_and_grayscale_pngs(tmp_path):
    values = np.array([[0, 1], [2, 255]], np.uint8)
    Image.fromarray(values, mode="L").save(tmp_path / "gray.png")
    palette = Image.fromarray(values, mode="L").convert("P")
    palette.putpalette([v for i in range(256) for v in ((i * 7) % 256, (i * 13) % 256, (i * 29) % 256)])
    palette.save(tmp_path / "palette.png")
    for name in ("gray.png", "palette.png"):
        np.testing.assert_array_equal(read_mask(str(tmp_path / name)), values)
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="RGB mask"):
        read_mask(str(tmp_path / "rgb.png"))


def test_augmentation_moves_image_and_mask_together(folders):
    """A flipped / cropped training mask still covers its shape: the shape's pixels differ in colour from the background."""
    data = segmentation_folder(folders["folders"], input_size=64, batch_size=8, seed=5)
    plain = segmentation_folder(folders["folders"], input_size=64, batch_size=8, augment=False)
    augmented = np.concatenate([np.asarray(m) for _, m in data.train])
    unaugmented = np.concatenate([np.asarray(m) for _, m in plain.train])
    assert augmented.shape == unaugmented.shape and set(np.unique(augmented)) <= {0, 1, 2, 3}
    assert not np.array_equal(np.sort(augmented.reshape(len(augmented), -1).sum(1)), np.sort(unaugmented.reshape(len(augmented), -1).sum(1)))


def test_missing_mask_is_one_error_naming_it(folders, tmp_path):
    root = _copy(folders, tmp_path)
    os.remove(root / "train" / "masks" / "train_0002.png")
    with pytest.raises(ValueError, match=r"train_0002\.\w+: no mask .*train_0002\.png"):
        segmentation_folder(root, input_size=64)


def test_size_mismatch_is_an_error_or_resized(folders, tmp_path):
    root = _copy(folders, tmp_path)
    path = root / "val" / "masks" / "val_0001.png"
    Image.fromarray(read_mask(str(path))[:-5]).save(path)
    with pytest.raises(ValueError, match="val_0001.* is .*, the image"):
        segmentation_folder(root, input_size=64)
    with pytest.warns(UserWarning, match="Resized masks"):
        data = segmentation_folder(root, input_size=64, resize_masks=True)
    assert data.counts == COUNTS


def test_unknown_label_values_are_listed(folders, tmp_path):
    root = _copy(folders, tmp_path)
    path = root / "test" / "masks" / "test_0000.png"
    values = read_mask(str(path))
    values[:3, :3] = 7
    Image.fromarray(values).save(path)
    with pytest.raises(ValueError, match=r"label values \[7\] are neither a class"):
        segmentation_folder(root, input_size=64)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"input_size": 16}, ValueError, "input_size"),
        ({"input_size": "64"}, TypeError, "input_size"),
        ({"layout": "coco"}, ValueError, "layout"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, ValueError, "below 1"),
        ({"resize_masks": "yes"}, TypeError, "resize_masks"),
    ],
)
def test_bad_arguments(folders, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        segmentation_folder(folders["folders"], **kwargs)


def test_a_folder_matching_no_layout(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(ValueError, match="matches no segmentation layout"):
        segmentation_folder(tmp_path)


def test_mean_iou_equals_keras_mean_iou(rng):
    truth = rng.integers(0, 4, (3, 16, 16))
    truth[0, :4] = 255
    predicted = np.where(rng.random(truth.shape) < 0.6, truth % 4, rng.integers(0, 4, truth.shape))
    report = SegmentationReport(confusion(truth, predicted, 4), ["a", "b", "c", "d"])
    metric = keras.metrics.MeanIoU(4, ignore_class=255)
    metric.update_state(truth, predicted)
    assert report.miou == pytest.approx(float(metric.result()), abs=1e-6)
    kept = truth != 255
    assert report.pixel_accuracy == pytest.approx(np.mean(truth[kept] == predicted[kept]))
