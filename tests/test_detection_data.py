"""Labelled detection folders: three layouts, messy annotations, EXIF, box-aware augmentation, bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from PIL import Image

from keras_lightnets.detection.data import detection_folder, flip_boxes, zoom_out
from keras_lightnets.synthetic import detection_photos

COUNTS = {"train": 6, "val": 3, "test": 3}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts")
    return {layout: detection_photos(root / layout, layout, counts=COUNTS, seed=4) for layout in ("coco", "voc", "yolo")}


def test_the_same_photos_in_coco_voc_and_yolo_load_to_the_same_boxes(layouts):
    loaded = {layout: detection_folder(path, input_size=96, batch_size=4) for layout, path in layouts.items()}
    assert {d.layout for d in loaded.values()} == {"coco", "voc", "yolo"}  # detected from the folder
    names = loaded["coco"].class_names
    assert names == loaded["yolo"].class_names == ["circle", "square", "triangle"] == sorted(loaded["voc"].class_names)
    boxes = 0
    for split in ("train", "val", "test"):
        for coco, voc, yolo in zip(*(loaded[k].truth[split] for k in ("coco", "voc", "yolo"))):
            np.testing.assert_allclose(voc.boxes, coco.boxes, atol=1e-4)  # VOC's 1-based corners undone
            np.testing.assert_allclose(yolo.boxes, coco.boxes, atol=0.05)  # normalised to 6 decimals
            assert [names[k] for k in coco.labels] == [loaded["voc"].class_names[k] for k in voc.labels]
            assert (coco.labels == yolo.labels).all() and coco.size == yolo.size
            boxes += len(coco.labels)
    assert boxes >= 12
    # The targets are the boxes scaled to the input size, class 1..C, zero rows padding.
    item = loaded["coco"].truth["test"][0]
    _, targets = next(iter(loaded["coco"].test))
    height, width = item.size
    rows = np.asarray(targets[0])
    np.testing.assert_allclose(rows[: len(item.labels), :4], item.boxes * 96 / np.array([width, height] * 2), rtol=1e-5)
    assert (rows[: len(item.labels), 4] == item.labels + 1).all() and (rows[len(item.labels):] == 0).all()


def _coco(folder, images, annotations, categories=({"id": 7, "name": "cat"}, {"id": 3, "name": "dog"})):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "annotations.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": list(categories)})
    )


def _image(path, size=(60, 40), orientation=1):
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    Image.fromarray(np.full((size[1], size[0], 3), 90, np.uint8)).save(path, exif=exif.tobytes())


def _messy(root):
    """A pre-split COCO folder with every kind of messy annotation in train; clean val and test."""
    for split in ("train", "val", "test"):
        (root / split).mkdir(parents=True)
        _image(root / split / "plain.jpg")
    _image(root / "train" / "turned.jpg", (60, 40), orientation=6)  # stored 60x40, shown 40x60
    _image(root / "train" / "turned_upright.jpg", (60, 40), orientation=6)
    _image(root / "train" / "empty.jpg")
    (root / "train" / "broken.jpg").write_bytes(b"not a jpeg")
    images = [
        {"id": 1, "file_name": "plain.jpg", "width": 60, "height": 40},
        {"id": 2, "file_name": "turned.jpg", "width": 60, "height": 40},  # the stored size: boxes turn with it
        {"id": 3, "file_name": "turned_upright.jpg", "width": 40, "height": 60},  # the upright size: boxes as they are
        {"id": 4, "file_name": "empty.jpg", "width": 60, "height": 40},
        {"id": 5, "file_name": "broken.jpg", "width": 60, "height": 40},
    ]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 3, "bbox": [50, -5, 20, 20]},  # clipped to [50, 0, 60, 15]
        {"id": 2, "image_id": 1, "category_id": 7, "bbox": [10, 10, 0, 5]},  # zero width: dropped
        {"id": 3, "image_id": 1, "category_id": 7, "bbox": [30, 10, -4, 5]},  # inverted: dropped
        {"id": 4, "image_id": 1, "category_id": 7, "bbox": [5, 5, 10, 10], "iscrowd": 1},  # evaluated, not trained
        {"id": 5, "image_id": 2, "category_id": 7, "bbox": [10, 5, 10, 10]},
        {"id": 6, "image_id": 3, "category_id": 7, "bbox": [10, 5, 10, 10]},
    ]
    _coco(root / "train", images, annotations)
    clean = [{"id": 1, "file_name": "plain.jpg", "width": 60, "height": 40}]
    for split in ("val", "test"):
        _coco(root / split, clean, [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 2, 30, 20]}])


@pytest.mark.filterwarnings("ignore:Dropped 2 box", "ignore:Skipping 1 unreadable")
def test_messy_annotations_are_cleaned_each_as_documented(tmp_path):
    _messy(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = detection_folder(tmp_path, input_size=64, batch_size=8)
    messages = [str(w.message) for w in caught]
    assert any("Dropped 2 box(es)" in m for m in messages), messages
    assert any("1 unreadable image" in m and "broken.jpg" in m for m in messages), messages
    assert data.class_names == ["dog", "cat"]  # COCO's order: by category id (3, 7)
    train = {item.path.split("/")[-1]: item for item in data.truth["train"]}
    assert set(train) == {"plain.jpg", "turned.jpg", "turned_upright.jpg", "empty.jpg"}  # negatives kept
    plain = train["plain.jpg"]
    np.testing.assert_allclose(plain.boxes, [[50, 0, 60, 15], [5, 5, 15, 15]])
    assert plain.labels.tolist() == [0, 1] and plain.crowd.tolist() == [False, True]
    # Orientation 6 turns the stored image 90 degrees clockwise: (x, y) -> (H - y, x) with H = 40.
    assert train["turned.jpg"].size == (60, 40)
    np.testing.assert_allclose(train["turned.jpg"].boxes, [[40 - 15, 10, 40 - 5, 20]])
    np.testing.assert_allclose(train["turned_upright.jpg"].boxes, [[10, 5, 20, 15]])
    assert len(train["empty.jpg"].labels) == 0
    # In the training targets the crowd box has a negative class (ignored by the loss), padding class 0.
    rows = {}
    for images, targets in detection_folder(tmp_path, input_size=64, batch_size=8, augment=False).train:
        for target in np.asarray(targets):
            rows[tuple(target[:, 4])] = target
    assert (0.0, 0.0) in rows and (1.0, -2.0) in rows


@pytest.mark.filterwarnings("ignore:Dropped 2 box", "ignore:Skipping 1 unreadable")
def test_annotation_problems_are_one_error_or_skipped_with_strict_false(tmp_path):
    _messy(tmp_path)
    document = json.loads((tmp_path / "train" / "annotations.json").read_text())
    document["images"].append({"id": 9, "file_name": "gone.jpg", "width": 60, "height": 40})
    document["annotations"].append({"id": 9, "image_id": 1, "category_id": 99, "bbox": [1, 1, 5, 5]})
    (tmp_path / "train" / "annotations.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"2 annotation problem.*category_id 99.*gone\.jpg, which does not exist"):
        detection_folder(tmp_path, input_size=64)
    with pytest.warns(UserWarning, match="Skipping 2 annotation problem"):
        data = detection_folder(tmp_path, input_size=64, strict=False)
    assert "gone.jpg" not in " ".join(data.files["train"])


def test_yolo_and_voc_problems_name_the_file(tmp_path, layouts):
    import shutil

    yolo = tmp_path / "yolo"
    shutil.copytree(layouts["yolo"], yolo)
    label = sorted((yolo / "labels" / "train").iterdir())[0]
    label.write_text("7 0.5 0.5 0.2 0.2\n")
    with pytest.raises(ValueError, match=f"{label.name}: class id 7.0 is not in 0..2"):
        detection_folder(yolo, input_size=64)
    voc = tmp_path / "voc"
    shutil.copytree(layouts["voc"], voc)
    with open(voc / "ImageSets" / "Main" / "test.txt", "a", encoding="utf-8") as handle:
        handle.write("no_such_image\n")
    with pytest.raises(ValueError, match="no_such_image.xml: not a Pascal VOC annotation"):
        detection_folder(voc, input_size=64)


def test_bad_arguments_and_folders(tmp_path, layouts):
    with pytest.raises(ValueError, match="matches no detection layout"):
        detection_folder(tmp_path, input_size=64)
    with pytest.raises(ValueError, match="layout"):
        detection_folder(layouts["coco"], layout="pascal")
    with pytest.raises(ValueError, match="input_size"):
        detection_folder(layouts["coco"], input_size=32)
    with pytest.raises(TypeError, match="augment"):
        detection_folder(layouts["coco"], augment="yes")
    (tmp_path / "annotations.json").write_text("{not json")
    with pytest.raises(ValueError, match="annotations.json' is not a COCO instances file"):
        detection_folder(tmp_path, input_size=64)


def test_flip_and_zoom_out_move_boxes_with_the_pixels():
    import tensorflow as tf

    image = np.full((40, 80, 3), 50.0, np.float32)
    image[8:20, 10:30] = 250.0  # an object at x 10-30, y 8-20
    boxes = np.array([[10 / 80, 8 / 40, 30 / 80, 20 / 40]], np.float32)
    flipped = np.asarray(tf.image.flip_left_right(image))
    ys, xs = np.nonzero(flipped[..., 0] > 150)
    np.testing.assert_allclose(flip_boxes(boxes)[0] * [80, 40, 80, 40], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    zoomed, moved = zoom_out(tf.constant(image), tf.constant(boxes), 2.0, (0.25, 0.75))
    ys, xs = np.nonzero(np.asarray(zoomed)[..., 0] > 150)  # the object, measured from the pixels
    measured = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
    np.testing.assert_allclose(np.asarray(moved)[0] * [80, 40, 80, 40], measured, atol=1.0)
    assert measured[2] - measured[0] == pytest.approx(10, abs=1)  # half as wide
