"""Generated photo folders that are harder than plain digits: colour, clutter, noise, mixed sizes and formats.

For tests, benchmarks and notebooks that must not download anything. Each
generator writes a pre-split folder ``root/{train,val,test}/<class>/...`` that
:func:`keras_lightnets.data.image_folder` reads:

* :func:`digit_photos`: scikit-learn's handwritten digits, each drawn in a
  random colour, size, angle and place on a cluttered, noisy background;
  the handwriting of the val and test images is never used for training.
* :func:`shape_photos`: filled shapes (circle, square, triangle, cross, ring,
  bar, diamond, star) on the same backgrounds: a different task whose model
  serves as a pretrained start for the digits (the "ImageNet-like" source).

Files are saved as JPEG, PNG (RGB, RGBA, grayscale, palette) and GIF, at
widths and heights drawn independently from ``size_range``.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from keras_lightnets.files import atomic_target
from keras_lightnets.validation import check_int, check_path

__all__ = ["SHAPES", "digit_photos", "shape_photos"]

SPLITS = ("train", "val", "test")
SHAPES = ("circle", "square", "triangle", "cross", "ring", "bar", "diamond", "star")
_FORMATS = ("jpeg", "png", "rgba", "gray", "palette", "gif")


def _background(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """A colour gradient with faint random strokes and ellipses (clutter) and pixel noise."""
    corners = np.clip(rng.uniform(0, 255, 3) + rng.normal(0, 30, (2, 2, 3)), 0, 255)
    ys, xs = np.linspace(0, 1, height)[:, None, None], np.linspace(0, 1, width)[None, :, None]
    top = corners[0, 0] * (1 - xs) + corners[0, 1] * xs
    bottom = corners[1, 0] * (1 - xs) + corners[1, 1] * xs
    pixels = top * (1 - ys) + bottom * ys + rng.normal(0, 8, (height, width, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    mean = pixels.mean(axis=(0, 1))
    for _ in range(int(rng.integers(0, 4))):
        x0, x1 = sorted(int(v) for v in rng.integers(0, width, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, height, 2))
        colour = tuple(int(c) for c in np.clip(mean + rng.normal(0, 35, 3), 0, 255))  # fainter than the object
        if rng.random() < 0.5:
            draw.line([(x0, y0), (x1, y1)], fill=colour, width=int(rng.integers(1, 3)))
        else:
            draw.ellipse([x0, y0, x1, y1], outline=colour, width=1)
    return image


def _luminance(colour: np.ndarray) -> float:
    return float(np.dot(colour, (0.299, 0.587, 0.114)))


def _contrasting(rng: np.random.Generator, background: np.ndarray) -> tuple[int, int, int]:
    """A random colour whose luminance differs from the background's mean by at least 80 (of 255).

    Luminance, not just hue: the object must stay visible in the files saved as grayscale.
    """
    while True:
        colour = rng.integers(0, 256, 3)
        if abs(_luminance(colour) - _luminance(background)) >= 80:
            return tuple(int(c) for c in colour)


def _compose(rng: np.random.Generator, glyph: np.ndarray, size_range: tuple[int, int]) -> Image.Image:
    """``glyph`` (2-D coverage in [0, 1]) in a random colour, scale, angle and place on a background."""
    height, width = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, 2))
    image = _background(rng, height, width)
    side = int(min(height, width) * rng.uniform(0.75, 0.95))
    mask = Image.fromarray((np.clip(glyph, 0, 1) * 255).astype(np.uint8)).resize((side, side), Image.BILINEAR)
    mask = mask.rotate(float(rng.uniform(-10, 10)), resample=Image.BILINEAR, expand=False)
    colour = _contrasting(rng, np.asarray(image, dtype=np.float32).mean(axis=(0, 1)))
    left, top = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
    image.paste(Image.new("RGB", (side, side), colour), (left, top), mask)
    noise = rng.normal(0, rng.uniform(2, 10), (height, width, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 0.8))))


def _save(image: Image.Image, stem: str, kind: str, rng: np.random.Generator) -> str:
    """Write ``image`` as ``kind`` (one of ``_FORMATS``) under ``stem`` + its suffix, atomically."""
    suffix = {"jpeg": ".jpg", "gif": ".gif"}.get(kind, ".png")
    converted = {
        "rgba": lambda: image.convert("RGBA"),
        "gray": lambda: image.convert("L"),
        "palette": lambda: image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64),
        "gif": lambda: image.convert("P", palette=Image.Palette.ADAPTIVE, colors=128),
    }.get(kind, lambda: image)()
    path = stem + suffix
    options = {"quality": int(rng.integers(60, 96))} if kind == "jpeg" else {}
    with atomic_target(path) as target:
        converted.save(target, format={"jpeg": "JPEG", "gif": "GIF"}.get(kind, "PNG"), **options)
    return path


def _write_folder(
    root: Any,
    class_names: list[str],
    counts: dict[str, int],
    glyph: Callable[[str, int, np.random.Generator], np.ndarray],
    size_range: tuple[int, int],
    seed: int,
) -> str:
    root = os.path.abspath(check_path("root", root, must_exist=False))
    for split in SPLITS:
        check_int(f"counts[{split!r}]", counts.get(split), low=1)
    low, high = (check_int("size_range", v, low=32, high=1024) for v in size_range)
    if low > high:
        raise ValueError(f"`size_range` must be (low, high) with low <= high; received {size_range!r}.")
    rng = np.random.default_rng(seed)
    for split_index, split in enumerate(SPLITS):
        for name in class_names:
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for index in range(counts[split]):
                image = _compose(rng, glyph(name, split_index, rng), (low, high))
                _save(image, os.path.join(folder, f"{name}_{index:04d}"), _FORMATS[int(rng.integers(len(_FORMATS)))], rng)
    return root


def digit_photos(
    root: Any,
    classes: tuple[int, ...] = tuple(range(10)),
    counts: dict[str, int] | None = None,
    *,
    size_range: tuple[int, int] = (48, 112),
    seed: int = 0,
) -> str:
    """Write colour digit photos to ``root/{train,val,test}/<digit>/``; return ``root``.

    Each image is one of scikit-learn's 8x8 handwritten digits, upscaled,
    coloured, rotated by up to 10 degrees and placed on a cluttered, noisy
    background of random size. Each class's handwriting samples are divided
    between the splits (train / val / test see different writers' digits);
    samples repeat within a split only with a new colour, scale and place.

    Args:
        root: the folder to write (created; files are added to an existing one).
        classes: digits 0-9, each a class folder.
        counts: images per class per split, e.g. ``{"train": 20, "val": 10, "test": 30}`` (each >= 1).
        size_range: smallest and largest side in pixels, in [32, 1024].
        seed: random seed (>= 0); the same seed writes the same files.

    Example:
        >>> root = digit_photos(tmp / "digits", classes=(5, 6, 7, 8, 9))  # doctest: +SKIP
    """
    from sklearn.datasets import load_digits

    counts = counts or {"train": 20, "val": 10, "test": 30}
    seed = check_int("seed", seed, low=0)
    classes = tuple(check_int("classes", c, low=0, high=9) for c in classes)
    if len(set(classes)) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"`classes` must hold at least 2 distinct digits; received {classes!r}.")
    raw = load_digits()
    shares = (0.6, 0.15, 0.25)  # each class's samples: train / val / test writers
    samples: dict[tuple[str, int], np.ndarray] = {}
    for digit in classes:
        members = np.random.default_rng(digit).permutation(np.flatnonzero(raw.target == digit))
        edges = np.cumsum([0] + [int(round(s * len(members))) for s in shares[:-1]] + [len(members)])
        edges[-1] = len(members)
        for split_index in range(3):
            samples[(str(digit), split_index)] = raw.images[members[edges[split_index]:edges[split_index + 1]]] / 16.0

    def glyph(name: str, split_index: int, rng: np.random.Generator) -> np.ndarray:
        pool = samples[(name, split_index)]
        return np.pad(pool[int(rng.integers(len(pool)))], 1)

    return _write_folder(root, [str(c) for c in classes], counts, glyph, size_range, seed)


def _shape_mask(name: str, rng: np.random.Generator, side: int = 64) -> np.ndarray:
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image)
    m, c, s = side * 0.1, side / 2, side - side * 0.1
    jitter = lambda: float(rng.uniform(-0.05, 0.05) * side)  # noqa: E731  (a shape's wobble)
    if name == "circle":
        draw.ellipse([m, m, s, s], fill=255)
    elif name == "square":
        draw.rectangle([m + jitter(), m + jitter(), s + jitter(), s + jitter()], fill=255)
    elif name == "triangle":
        draw.polygon([(c + jitter(), m), (m, s), (s, s + jitter())], fill=255)
    elif name == "cross":
        draw.rectangle([c - side * 0.12, m, c + side * 0.12, s], fill=255)
        draw.rectangle([m, c - side * 0.12, s, c + side * 0.12], fill=255)
    elif name == "ring":
        draw.ellipse([m, m, s, s], outline=255, width=max(2, side // 8))
    elif name == "bar":
        draw.rectangle([m, c - side * 0.15 + jitter(), s, c + side * 0.15], fill=255)
    elif name == "diamond":
        draw.polygon([(c, m), (s, c + jitter()), (c, s), (m, c)], fill=255)
    else:  # star
        angles = np.linspace(-np.pi / 2, 1.5 * np.pi, 11)[:-1]
        radii = np.where(np.arange(10) % 2 == 0, side * 0.42, side * 0.18)
        draw.polygon([(c + r * np.cos(a), c + r * np.sin(a)) for r, a in zip(radii, angles)], fill=255)
    return np.asarray(image, dtype=np.float32) / 255.0


def shape_photos(
    root: Any,
    shapes: tuple[str, ...] = SHAPES,
    counts: dict[str, int] | None = None,
    *,
    size_range: tuple[int, int] = (48, 112),
    seed: int = 0,
) -> str:
    """Write filled-shape photos to ``root/{train,val,test}/<shape>/``; return ``root``.

    The same backgrounds, colours, noise and formats as :func:`digit_photos`,
    with a shape from :data:`SHAPES` in place of the digit.

    Args:
        root: the folder to write.
        shapes: names from :data:`SHAPES` (at least 2), each a class folder.
        counts: images per class per split (each >= 1); default 60 / 15 / 15.
        size_range: smallest and largest side in pixels, in [32, 1024].
        seed: random seed (>= 0).

    Example:
        >>> root = shape_photos(tmp / "shapes", counts={"train": 100, "val": 20, "test": 20})  # doctest: +SKIP
    """
    seed = check_int("seed", seed, low=0)
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown or len(set(shapes)) < 2:
        raise ValueError(f"`shapes` must name at least 2 of {SHAPES}; received {shapes!r}.")
    counts = counts or {"train": 60, "val": 15, "test": 15}
    return _write_folder(root, list(shapes), counts, lambda name, _, rng: _shape_mask(name, rng), size_range, seed)
