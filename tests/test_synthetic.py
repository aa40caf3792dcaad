"""Generated photo folders: what they hold, in which formats, reproducibly; refused arguments."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from PIL import Image

from keras_lightnets.data import image_folder, list_images
from keras_lightnets.synthetic import SHAPES, digit_photos, shape_photos


def test_digit_photos_write_a_pre_split_folder_in_mixed_formats_and_sizes(tmp_path):
    root = digit_photos(tmp_path / "d", classes=(3, 7), counts={"train": 12, "val": 2, "test": 3}, size_range=(40, 90))
    paths = list_images(root)
    per_folder = collections.Counter(p.split("/")[-3] + "/" + p.split("/")[-2] for p in paths)
    assert per_folder == {"train/3": 12, "train/7": 12, "val/3": 2, "val/7": 2, "test/3": 3, "test/7": 3}
    modes, suffixes, sides = set(), set(), set()
    for path in paths:
        with Image.open(path) as image:
            modes.add(image.mode)
            sides.update(image.size)
        suffixes.add(path.rsplit(".", 1)[1])
    assert {"RGB", "RGBA", "L", "P"} <= modes and suffixes == {"jpg", "png", "gif"}
    assert min(sides) >= 40 and max(sides) <= 90 and len(sides) > 10
    data = image_folder(root, input_size=32, batch_size=8)
    assert data.class_names == ["3", "7"] and data.counts == {"train": 24, "val": 4, "test": 6}


def test_same_seed_same_pixels_other_seed_other_pixels(tmp_path):
    counts = {"train": 2, "val": 1, "test": 1}
    first, again, other = (
        shape_photos(tmp_path / name, ("circle", "star"), counts, seed=seed)
        for name, seed in (("a", 0), ("b", 0), ("c", 1))
    )

    def pixels(root):
        return [np.asarray(Image.open(p).convert("RGB")) for p in list_images(root)]

    assert all(np.array_equal(x, y) for x, y in zip(pixels(first), pixels(again)))
    assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(pixels(first), pixels(other)))


def test_the_object_stands_out_in_luminance(tmp_path):
    """Grayscale files must still show the object: it differs from the background by >= 80 in luminance."""
    root = shape_photos(tmp_path / "s", ("square", "bar"), counts={"train": 6, "val": 1, "test": 1}, size_range=(64, 64))
    for path in list_images(root):
        gray = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
        centre, border = gray[28:36, 28:36].mean(), np.concatenate([gray[:3].ravel(), gray[-3:].ravel()]).mean()
        assert abs(centre - border) >= 40, (path, centre, border)


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda r: digit_photos(r, classes=(1,)), ValueError, "classes"),
        (lambda r: digit_photos(r, classes=(1, 12)), ValueError, "classes"),
        (lambda r: digit_photos(r, counts={"train": 0, "val": 1, "test": 1}), ValueError, "counts"),
        (lambda r: shape_photos(r, ("circle", "hexagon")), ValueError, "hexagon"),
        (lambda r: shape_photos(r, size_range=(100, 50)), ValueError, "size_range"),
        (lambda r: shape_photos(r, seed="1"), TypeError, "seed"),
    ],
)
def test_bad_arguments(call, error, pattern, tmp_path):
    with pytest.raises(error, match=pattern):
        call(tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_every_shape_is_drawn(tmp_path):
    root = shape_photos(tmp_path / "all", counts={"train": 1, "val": 1, "test": 1})
    assert sorted(p.split("/")[-2] for p in list_images(root + "/train")) == sorted(SHAPES)
