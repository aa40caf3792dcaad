"""The embedded digits and image folders."""

from __future__ import annotations

import numpy as np
import pytest

from keras_lightnets.data import augmentation, digits, image_folder


def test_digits_shapes_range_and_stratified_split():
    data = digits(input_size=40, batch_size=16, augment=False)
    assert data.input_shape == (40, 40, 3) and data.num_classes == 10
    assert data.x_test.shape == (450, 40, 40, 3) and data.x_test.dtype == np.float32
    assert 0.0 <= data.x_test.min() and data.x_test.max() <= 255.0 and data.x_test.max() > 200
    np.testing.assert_array_equal(data.x_test[..., 0], data.x_test[..., 2])  # gray as RGB
    from sklearn.datasets import load_digits

    per_class = np.bincount(load_digits().target, minlength=10)  # 174..183 images per digit
    counts = np.bincount(data.y_test, minlength=10)
    assert np.all(np.abs(counts - 0.25 * per_class) <= 1)  # stratified: a quarter of each class
    images, labels = next(iter(data.train))
    assert images.shape == (16, 40, 40, 3) and labels.shape == (16,)
    train_count = sum(int(x.shape[0]) for x, _ in data.train)
    assert train_count + len(data.y_test) == 1797


def test_augmentation_moves_pixels_but_keeps_shape(rng):
    x = np.zeros((4, 32, 32, 3), "float32")
    x[:, 12:20, 12:20] = 255.0
    out = augmentation(0.2, 0.2, seed=1)(x, training=True).numpy()
    assert out.shape == x.shape and not np.allclose(out, x)
    assert np.allclose(augmentation(seed=1)(x, training=False).numpy(), x)


def _write_folder(root, classes, per_class, rng):
    from PIL import Image

    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((20, 24, 3), 40 * index, "uint8") + rng.integers(0, 30, (20, 24, 3), dtype="uint8")
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_image_folder(tmp_path, rng):
    _write_folder(tmp_path, ["cats", "dogs", "owls"], 5, rng)
    data = image_folder(tmp_path, input_size=32, batch_size=4, test_fraction=0.4, augment=False)
    assert data.class_names == ["cats", "dogs", "owls"] and data.num_classes == 3
    assert data.x_test.shape[1:] == (32, 32, 3) and len(data.y_test) == 6
    assert sorted(np.bincount(data.y_test)) == [2, 2, 2]


def test_image_folder_rejects_one_class_or_no_images(tmp_path, rng):
    _write_folder(tmp_path / "one", ["only"], 3, rng)
    with pytest.raises(ValueError, match="at least 2 classes"):
        image_folder(tmp_path / "one")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "b").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images"):
        image_folder(tmp_path / "empty")
    with pytest.raises(ValueError, match="not a folder"):
        image_folder(tmp_path / "missing")


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(input_size=16), ValueError, "input_size"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(test_fraction=1.0), ValueError, "test_fraction"),
        (dict(augment="no"), TypeError, "augment"),
    ],
)
def test_digits_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        digits(**kwargs)
