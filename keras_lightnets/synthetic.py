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
* :func:`detection_photos`: several shapes per photo with their boxes, written
  in the COCO, Pascal VOC or YOLO layout (see :mod:`keras_lightnets.detection.data`).

Files are saved as JPEG, PNG (RGB, RGBA, grayscale, palette) and GIF, at
widths and heights drawn independently from ``size_range``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from keras_lightnets.files import atomic_target
from keras_lightnets.validation import check_choice, check_int, check_path

__all__ = [
    "DETECTION_LAYOUTS", "SEGMENTATION_LAYOUTS", "SHAPES", "detection_photos", "digit_photos", "segmentation_photos",
    "shape_photos",
]

SPLITS = ("train", "val", "test")
SHAPES = ("circle", "square", "triangle", "cross", "ring", "bar", "diamond", "star")
_FORMATS = ("jpeg", "png", "rgba", "gray", "palette", "gif")
DETECTION_LAYOUTS = ("coco", "voc", "yolo")
SEGMENTATION_LAYOUTS = ("folders", "voc")


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

    Examples:
        >>> root = digit_photos("digits", classes=(5, 6), counts={"train": 2, "val": 1, "test": 1})
        >>> sorted(os.listdir(os.path.join(root, "train")))
        ['5', '6']
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

    Examples:
        >>> root = shape_photos("shapes", ("circle", "square", "triangle"), counts={"train": 2, "val": 1, "test": 1})
        >>> sorted(os.listdir(os.path.join(root, "test")))
        ['circle', 'square', 'triangle']
    """
    seed = check_int("seed", seed, low=0)
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown or len(set(shapes)) < 2:
        raise ValueError(f"`shapes` must name at least 2 of {SHAPES}; received {shapes!r}.")
    counts = counts or {"train": 60, "val": 15, "test": 15}
    return _write_folder(root, list(shapes), counts, lambda name, _, rng: _shape_mask(name, rng), size_range, seed)


def _place(
    rng: np.random.Generator, image: Image.Image, mask: np.ndarray, boxes: list[list[int]],
    labels: np.ndarray | None = None, value: int = 0,
) -> list[int] | None:
    """Paste ``mask`` in a contrasting colour where it overlaps no earlier box much; its tight box, or None.

    With ``labels`` (an ``[H, W]`` array), its pixels under the pasted shape (glyph >= 50%) become ``value``.
    """
    width, height = image.size
    side = int(min(height, width) * rng.uniform(0.22, 0.5))
    glyph = Image.fromarray((np.clip(mask, 0, 1) * 255).astype(np.uint8)).resize((side, side), Image.BILINEAR)
    glyph = glyph.rotate(float(rng.uniform(-10, 10)), resample=Image.BILINEAR, expand=False)
    ys, xs = np.nonzero(np.asarray(glyph) >= 128)
    for _ in range(20):
        left, top = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
        box = [left + int(xs.min()), top + int(ys.min()), left + int(xs.max()) + 1, top + int(ys.max()) + 1]
        if all(_overlap(box, other) < 0.2 for other in boxes):
            colour = _contrasting(rng, np.asarray(image, dtype=np.float32)[box[1]:box[3], box[0]:box[2]].mean(axis=(0, 1)))
            image.paste(Image.new("RGB", (side, side), colour), (left, top), glyph)
            if labels is not None:
                region = labels[top:top + side, left:left + side]
                region[np.asarray(glyph) >= 128] = value
            return box
    return None


def _overlap(a: list[int], b: list[int]) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def _write_annotations(root: str, layout: str, split: str, class_names: list[str], records: list[dict]) -> None:
    """One split's annotations in ``layout``; each record: file (relative to the split's image folder), size, boxes."""
    if layout == "coco":
        images = [{"id": i + 1, "file_name": r["file"], "width": r["width"], "height": r["height"]} for i, r in enumerate(records)]
        annotations = []
        for i, r in enumerate(records):
            for (x1, y1, x2, y2), label in zip(r["boxes"], r["labels"]):
                annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": label + 1, "iscrowd": 0,
                                    "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)})
        document = {"images": images, "annotations": annotations,
                    "categories": [{"id": k + 1, "name": name} for k, name in enumerate(class_names)]}
        _write_text(os.path.join(root, split, "annotations.json"), json.dumps(document))
    elif layout == "voc":
        for r in records:
            objects = "".join(
                f"<object><name>{class_names[label]}</name><difficult>0</difficult><bndbox><xmin>{x1 + 1}</xmin>"
                f"<ymin>{y1 + 1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
                for (x1, y1, x2, y2), label in zip(r["boxes"], r["labels"])
            )
            xml = (f"<annotation><filename>{r['file']}</filename><size><width>{r['width']}</width>"
                   f"<height>{r['height']}</height><depth>3</depth></size>{objects}</annotation>")
            _write_text(os.path.join(root, "Annotations", os.path.splitext(r["file"])[0] + ".xml"), xml)
        _write_text(os.path.join(root, "ImageSets", "Main", f"{split}.txt"),
                    "".join(os.path.splitext(r["file"])[0] + "\n" for r in records))
    else:  # yolo
        for r in records:
            lines = "".join(
                f"{label} {(x1 + x2) / 2 / r['width']:.6f} {(y1 + y2) / 2 / r['height']:.6f} "
                f"{(x2 - x1) / r['width']:.6f} {(y2 - y1) / r['height']:.6f}\n"
                for (x1, y1, x2, y2), label in zip(r["boxes"], r["labels"])
            )
            _write_text(os.path.join(root, "labels", split, os.path.splitext(r["file"])[0] + ".txt"), lines)
        names = "".join(f"  {k}: {name}\n" for k, name in enumerate(class_names))
        _write_text(os.path.join(root, "data.yaml"), f"path: .\ntrain: images/train\nval: images/val\ntest: images/test\nnames:\n{names}")


def _write_text(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_target(path) as target, open(target, "w", encoding="utf-8") as file:
        file.write(text)


def _check_labelled(
    root: Any, layout: Any, layouts: tuple[str, ...], shapes: Any, counts: Any, objects: Any, size_range: Any, seed: Any,
) -> tuple[str, str, int, dict[str, int], tuple[int, int], tuple[int, int]]:
    """The checked arguments of the labelled-shape generators (detection boxes, segmentation masks)."""
    root = os.path.abspath(check_path("root", root, must_exist=False))
    layout = check_choice("layout", layout, layouts)
    seed = check_int("seed", seed, low=0)
    if not shapes or any(s not in SHAPES for s in shapes) or len(set(shapes)) != len(shapes):
        raise ValueError(f"`shapes` must name distinct shapes of {SHAPES}; received {shapes!r}.")
    counts = counts or {"train": 200, "val": 40, "test": 60}
    for split in SPLITS:
        check_int(f"counts[{split!r}]", counts.get(split), low=1)
    low_objects, high_objects = (check_int("objects", v, low=1, high=6) for v in objects)
    low, high = (check_int("size_range", v, low=64, high=1024) for v in size_range)
    if low > high or low_objects > high_objects:
        raise ValueError(f"`size_range` and `objects` must be (low, high) with low <= high; received {size_range!r}, {objects!r}.")
    return root, layout, seed, counts, (low_objects, high_objects), (low, high)


def detection_photos(
    root: Any,
    layout: str = "coco",
    shapes: tuple[str, ...] = ("circle", "square", "triangle"),
    counts: dict[str, int] | None = None,
    *,
    objects: tuple[int, int] = (1, 3),
    size_range: tuple[int, int] = (160, 240),
    seed: int = 0,
) -> str:
    """Write photos of several shapes each, with their boxes, as a labelled detection folder; return ``root``.

    Backgrounds, colours, noise and file formats as :func:`shape_photos`; each
    photo holds 0 to ``objects[1]`` shapes (about one in ten photos has none: a
    negative) at 22-50% of its shorter side, overlapping little. Boxes are tight
    around each drawn shape. The same ``seed`` writes the same photos and boxes
    in every layout:

    * ``"coco"``: ``root/{train,val,test}/`` with the images and ``annotations.json``.
    * ``"voc"``: ``root/JPEGImages/``, ``root/Annotations/*.xml`` (1-based pixel
      corners), ``root/ImageSets/Main/{train,val,test}.txt``.
    * ``"yolo"``: ``root/images/{split}/``, ``root/labels/{split}/*.txt``, ``root/data.yaml``.

    Args:
        root: the folder to write.
        layout: one of :data:`DETECTION_LAYOUTS`.
        shapes: names from :data:`SHAPES` (at least 1), the classes in order.
        counts: photos per split (each >= 1); default 200 / 40 / 60.
        objects: least and most shapes a photo with objects holds, 1 <= low <= high <= 6.
        size_range: smallest and largest side in pixels, in [64, 1024].
        seed: random seed (>= 0).

    Examples:
        >>> root = detection_photos("yolo_boxes", "yolo", counts={"train": 2, "val": 1, "test": 1})
        >>> sorted(os.listdir(root))
        ['data.yaml', 'images', 'labels']
    """
    root, layout, seed, counts, (low_objects, high_objects), (low, high) = _check_labelled(
        root, layout, DETECTION_LAYOUTS, shapes, counts, objects, size_range, seed
    )
    rng = np.random.default_rng(seed)
    for split in SPLITS:
        folder = {"coco": os.path.join(root, split), "voc": os.path.join(root, "JPEGImages"),
                  "yolo": os.path.join(root, "images", split)}[layout]
        os.makedirs(folder, exist_ok=True)
        records = []
        for index in range(counts[split]):
            height, width = (int(v) for v in rng.integers(low, high + 1, 2))
            image = _background(rng, height, width)
            boxes, labels = [], []
            wanted = 0 if rng.random() < 0.1 else int(rng.integers(low_objects, high_objects + 1))
            for _ in range(wanted):
                label = int(rng.integers(len(shapes)))
                box = _place(rng, image, _shape_mask(shapes[label], rng), boxes)
                if box is not None:
                    boxes.append(box)
                    labels.append(label)
            noise = rng.normal(0, rng.uniform(2, 8), (height, width, 3))
            pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
            kind = ("jpeg", "png", "rgba", "gray")[int(rng.integers(4))]
            path = _save(Image.fromarray(pixels), os.path.join(folder, f"{split}_{index:04d}"), kind, rng)
            records.append({"file": os.path.basename(path), "width": width, "height": height, "boxes": boxes, "labels": labels})
        _write_annotations(root, layout, split, list(shapes), records)
    return root


def segmentation_photos(
    root: Any,
    layout: str = "folders",
    shapes: tuple[str, ...] = ("circle", "square", "triangle"),
    counts: dict[str, int] | None = None,
    *,
    objects: tuple[int, int] = (1, 3),
    size_range: tuple[int, int] = (96, 160),
    seed: int = 0,
) -> str:
    """Write photos of shapes with their index masks (0 background, shape ``k`` = ``k + 1``); return ``root``.

    Photos as :func:`detection_photos` (cluttered backgrounds, noise, JPEG and
    PNG); masks are index PNGs, palette or grayscale at random. ``root/classes.txt``
    names ``background`` and the shapes. Layouts:

    * ``"folders"``: ``root/{train,val,test}/images/`` and ``root/{train,val,test}/masks/`` (same stems).
    * ``"voc"``: ``root/JPEGImages/*.jpg``, ``root/SegmentationClass/*.png``,
      ``root/ImageSets/Segmentation/{train,val,test}.txt``.

    Args:
        root: the folder to write.
        layout: one of :data:`SEGMENTATION_LAYOUTS`.
        shapes: names from :data:`SHAPES` (at least 1), the classes after the background.
        counts: photos per split (each >= 1); default 200 / 40 / 60.
        objects: least and most shapes per photo, 1 <= low <= high <= 6.
        size_range: smallest and largest side in pixels, in [64, 1024].
        seed: random seed (>= 0).

    Examples:
        >>> root = segmentation_photos("voc_masks", counts={"train": 2, "val": 1, "test": 1})
        >>> sorted(os.listdir(root))
        ['classes.txt', 'test', 'train', 'val']
    """
    root, layout, seed, counts, (low_objects, high_objects), (low, high) = _check_labelled(
        root, layout, SEGMENTATION_LAYOUTS, shapes, counts, objects, size_range, seed
    )
    rng, saver = np.random.default_rng(seed), np.random.default_rng(seed + 1)  # saver: JPEG qualities
    palette = [int(v) for v in rng.integers(0, 256, 768)]
    for split in SPLITS:
        images, masks = (
            (os.path.join(root, split, "images"), os.path.join(root, split, "masks")) if layout == "folders"
            else (os.path.join(root, "JPEGImages"), os.path.join(root, "SegmentationClass"))
        )
        os.makedirs(images, exist_ok=True)
        os.makedirs(masks, exist_ok=True)
        stems = []
        for index in range(counts[split]):
            height, width = (int(v) for v in rng.integers(low, high + 1, 2))
            image = _background(rng, height, width)
            labels = np.zeros((height, width), np.uint8)
            boxes: list[list[int]] = []
            for _ in range(int(rng.integers(low_objects, high_objects + 1))):
                label = int(rng.integers(len(shapes)))
                box = _place(rng, image, _shape_mask(shapes[label], rng), boxes, labels, label + 1)
                if box is not None:
                    boxes.append(box)
            noise = rng.normal(0, rng.uniform(2, 8), (height, width, 3))
            pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
            stem = f"{split}_{index:04d}"
            kind = ("jpeg", "png")[int(rng.integers(2))]  # drawn in every layout: the same seed, the same masks
            _save(Image.fromarray(pixels), os.path.join(images, stem), "jpeg" if layout == "voc" else kind, saver)
            mask = Image.fromarray(labels, mode="L")
            if rng.random() < 0.5:
                mask = mask.convert("P")
                mask.putpalette(palette)
            with atomic_target(os.path.join(masks, f"{stem}.png")) as target:
                mask.save(target, format="PNG")
            stems.append(stem)
        if layout == "voc":
            _write_text(os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt"), "\n".join(stems) + "\n")
    _write_text(os.path.join(root, "classes.txt"), "\n".join(["background", *shapes]) + "\n")
    return root
