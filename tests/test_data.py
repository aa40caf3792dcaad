"""The embedded digits and image folders: three stratified splits, streaming, messy folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageOps

from keras_lightnets.data import augmentation, digits, image_folder, load_image, photo_augmentation


def test_digits_shapes_range_and_stratified_splits():
    data = digits(input_size=40, batch_size=16, augment=False)
    x_test, y_test = data.arrays("test")
    assert data.input_shape == (40, 40, 3) and data.num_classes == 10
    assert x_test.shape == (450, 40, 40, 3) and x_test.dtype == np.float32
    assert 0.0 <= x_test.min() and x_test.max() <= 255.0 and x_test.max() > 200
    np.testing.assert_array_equal(x_test[..., 0], x_test[..., 2])  # gray as RGB
    from sklearn.datasets import load_digits

    per_class = np.bincount(load_digits().target, minlength=10)  # 174..183 images per digit
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - 0.25 * per_class) <= 1)  # a quarter of each class
    _, y_val = data.arrays("val")
    assert np.all(np.abs(np.bincount(y_val, minlength=10) - 0.15 * per_class) <= 1)
    images, labels = next(iter(data.train))
    assert images.shape == (16, 40, 40, 3) and labels.shape == (16,)
    train_count = sum(int(x.shape[0]) for x, _ in data.train)
    assert train_count == data.counts["train"] and sum(data.counts.values()) == 1797
    train_images = np.concatenate([np.asarray(x) for x, _ in data.train]).reshape(train_count, -1)
    seen = {row.tobytes() for row in train_images}
    assert not any(row.tobytes() in seen for row in x_test.reshape(len(x_test), -1))  # disjoint


def test_digits_subset_and_few_shot():
    data = digits(classes=(5, 6, 7, 8, 9), train_per_class=20, augment=False)
    assert data.class_names == ["5", "6", "7", "8", "9"] and data.num_classes == 5
    labels = np.concatenate([np.asarray(y) for _, y in data.train])
    assert np.bincount(labels).tolist() == [20] * 5
    assert data.counts["test"] == 225  # unchanged by the training limit


def test_augmentations_move_pixels_but_keep_shape(rng):
    x = np.zeros((4, 32, 32, 3), "float32")
    x[:, 12:20, 4:10] = 255.0
    for augment in (augmentation(0.2, 0.2, seed=1), photo_augmentation(seed=1)):
        out = augment(x, training=True).numpy()
        assert out.shape == x.shape and not np.allclose(out, x)
        assert np.allclose(augment(x, training=False).numpy(), x)
    assert [layer.name for layer in photo_augmentation(crop=False, flip=False, color=False).layers] == []


def _photo(rng, index, size=(20, 24)):
    pixels = np.full((*size, 3), 60 * index, "uint8") + rng.integers(0, 30, (*size, 3), dtype="uint8")
    return Image.fromarray(pixels)


def _write_folder(root, classes, per_class, rng):
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            _photo(rng, index).save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")


def test_image_folder_streams_three_stratified_splits(tmp_path, rng):
    _write_folder(tmp_path, ["cats", "dogs", "owls"], 10, rng)
    data = image_folder(tmp_path, input_size=32, batch_size=4, val_fraction=0.2, test_fraction=0.3, augment=False)
    assert data.class_names == ["cats", "dogs", "owls"] and data.num_classes == 3
    assert data.counts == {"train": 15, "val": 6, "test": 9}
    x_test, y_test = data.arrays("test")
    assert x_test.shape == (9, 32, 32, 3) and np.bincount(y_test).tolist() == [3, 3, 3]
    assert not set(data.files["train"]) & set(data.files["test"])
    assert data.train.element_spec[0].shape.as_list() == [None, 32, 32, 3]  # a pipeline over files, not arrays
    path = data.write_splits(str(tmp_path.parent))
    again = image_folder(tmp_path, input_size=32, augment=False, splits=path, seed=7)
    assert again.files == data.files  # a rerun evaluates the same images


def test_pre_split_folder(tmp_path, rng):
    for split in ("train", "val", "test"):
        _write_folder(tmp_path / split, ["a", "b"], 3, rng)
    data = image_folder(tmp_path, input_size=32, augment=False)
    assert data.counts == {"train": 6, "val": 6, "test": 6}
    assert all(f"/{split}/" in path for split in data.files for path in data.files[split])
    (tmp_path / "test" / "c").mkdir()
    _photo(rng, 3).save(tmp_path / "test" / "c" / "x.png")
    with pytest.raises(ValueError, match="different classes in train"):
        image_folder(tmp_path, input_size=32)


def test_messy_folder_is_read_correctly(tmp_path, rng):
    """Gray, RGBA, palette, 16-bit, GIF, tiny and unicode-named images are used; junk is ignored or skipped."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for i in range(4):
        _photo(rng, 1).save(b / f"{i}.jpg")
    _photo(rng, 2).convert("L").save(a / "gray.png")
    _photo(rng, 2).convert("RGBA").save(a / "rgba.png")
    _photo(rng, 2).convert("P").save(a / "palette.png")
    Image.fromarray(np.full((20, 24), 32768, np.uint16)).save(a / "sixteen.png")
    _photo(rng, 2).save(a / "anim.gif")
    _photo(rng, 2, size=(5, 7)).save(a / "tiny.jpg")
    _photo(rng, 2).save(a / "ñandú 猫.jpg")
    _photo(rng, 2).save(a / ".hidden.jpg")
    (a / "notes.txt").write_text("not an image")
    (a / ".DS_Store").write_bytes(b"\x00\x01")
    (a / "broken.jpg").write_bytes(b"this is not a jpeg")
    whole = (b / "0.jpg").read_bytes()
    (b / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    with pytest.warns(UserWarning, match=r"Skipping 2 unreadable.*broken.jpg.*truncated.jpg|Skipping 2 unreadable.*truncated.jpg.*broken.jpg"):
        data = image_folder(tmp_path, input_size=32, augment=False, val_fraction=0.2, test_fraction=0.2)
    used = {p.rsplit("/", 1)[1] for split in data.files for p in data.files[split]}
    assert used == {"gray.png", "rgba.png", "palette.png", "sixteen.png", "anim.gif", "tiny.jpg", "ñandú 猫.jpg",
                    "0.jpg", "1.jpg", "2.jpg", "3.jpg"}
    assert len(data.skipped) == 2
    for split in ("val", "test"):
        x, _ = data.arrays(split)
        assert x.shape[1:] == (32, 32, 3) and np.isfinite(x).all() and 0 <= x.min() and x.max() <= 255
    assert sum(int(x.shape[0]) for x, _ in data.train) == data.counts["train"]  # a whole epoch runs
    sixteen = np.asarray(load_image(str(a / "sixteen.png"), 1, 8))
    assert np.allclose(sixteen, 32768 / 65535 * 255, atol=0.5)  # 16-bit scaled, not clipped
    with pytest.raises(ValueError, match="broken.jpg"):
        image_folder(tmp_path, input_size=32, strict=True)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_rotation_equals_pillow(orientation, tmp_path, rng):
    """Each EXIF orientation is undone exactly as Pillow's ImageOps.exif_transpose does."""
    image = Image.fromarray(rng.integers(0, 255, (6, 10, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.png"
    image.save(path, exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"), dtype=np.float32)
    from keras_lightnets.data import check_image

    _, found, problem = check_image(str(path))
    assert (found, problem) == (orientation, "")
    actual = np.asarray(load_image(str(path), found, expected.shape[:2]))
    np.testing.assert_allclose(actual, expected, atol=1e-3)


def test_folder_errors_name_the_folder(tmp_path, rng):
    _write_folder(tmp_path / "one", ["only"], 3, rng)
    with pytest.raises(ValueError, match="at least 2 classes"):
        image_folder(tmp_path / "one")
    _write_folder(tmp_path / "empty", ["a"], 3, rng)
    (tmp_path / "empty" / "b").mkdir()
    (tmp_path / "empty" / "b" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"class folder .*empty/b.* holds no images"):
        image_folder(tmp_path / "empty")
    _write_folder(tmp_path / "few", ["a", "b"], 2, rng)
    with pytest.raises(ValueError, match=r"\['a', 'b'\].*fewer than 3"):
        image_folder(tmp_path / "few")
    with pytest.raises(ValueError, match="not a folder"):
        image_folder(tmp_path / "missing")


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(input_size=16), ValueError, "input_size"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(test_fraction=1.0), ValueError, "test_fraction"),
        (dict(val_fraction=0.5, test_fraction=0.5), ValueError, "sum.*below 1"),
        (dict(val_fraction=float("nan")), ValueError, "val_fraction"),
        (dict(val_fraction="0.1"), TypeError, "val_fraction"),
        (dict(augment="no"), TypeError, "augment"),
        (dict(classes=(1,)), ValueError, "classes"),
        (dict(classes=(1, 10)), ValueError, "classes"),
        (dict(train_per_class=0), ValueError, "train_per_class"),
    ],
)
def test_digits_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        digits(**kwargs)


def test_write_splits_is_json(tmp_path):
    data = digits(augment=False)
    data.files = {"train": ["x"], "val": ["y"], "test": ["z"]}
    recorded = json.loads(open(data.write_splits(str(tmp_path))).read())
    assert recorded["files"]["test"] == ["z"] and recorded["class_names"][0] == "0"
