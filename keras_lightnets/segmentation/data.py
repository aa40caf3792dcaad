"""Mask folders as ``tf.data`` splits: ``segmentation_folder``.

Layouts:

* ``"folders"``: ``DIR/{train,val,test}/images/*`` with ``DIR/{train,val,test}/masks/*.png``
  (same stem), or ``DIR/images`` + ``DIR/masks`` split by fractions;
* ``"voc"``: Pascal VOC's ``JPEGImages/``, ``SegmentationClass/`` and
  ``ImageSets/Segmentation/{train,val[,test]}.txt``.

Masks are index PNGs (palette or grayscale: the stored value is the class);
255 marks pixels to ignore. Class names come from ``DIR/classes.txt`` (one per
line, in label-value order), VOC's 21 names for a VOC folder, else
``class_0``... up to the largest value found.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from keras_lightnets.data import SPLITS, Data, check_fractions, check_image, jitter_colours, list_images, load_image
from keras_lightnets.validation import check_bool, check_choice, check_int, warn_caller

__all__ = ["IGNORE", "SEGMENTATION_LAYOUTS", "VOC_CLASSES", "SegmentationData", "read_mask", "segmentation_folder"]

IGNORE = 255
SEGMENTATION_LAYOUTS = ("folders", "voc")
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
    "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


@dataclasses.dataclass
class SegmentationData(Data):
    """A mask folder's splits: batches of ``(images [B, S, S, 3] in [0, 255], masks [B, S, S] int32, 255 = ignore)``."""

    layout: str = "folders"
    masks: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # per split, beside ``files``


def read_mask(path: Any) -> np.ndarray:
    """The class index of every pixel of an index mask PNG (palette or grayscale), as uint8 ``[H, W]``.

    Palette PNGs give their indices, not their colours (as Pascal VOC's masks);
    an RGB mask is refused: its colours are not class values.

    Args:
        path: the mask file (str or bytes).

    Examples:
        >>> read_mask("scenes/train/masks/train_0000.png").ndim
        2
    """
    path = path.decode() if isinstance(path, bytes) else os.fspath(path)
    with Image.open(path) as image:
        if image.mode not in ("P", "L", "I", "I;16", "1"):
            raise ValueError(
                f"{path}: a {image.mode} mask; masks must be index PNGs (palette or grayscale, value = class)."
            )
        values = np.asarray(image)
    if values.max(initial=0) > IGNORE:
        raise ValueError(f"{path}: mask values up to {int(values.max())}; classes are 0-254 and 255 = ignore.")
    return values.astype(np.uint8)


def _layout(path: str) -> str:
    if os.path.isdir(os.path.join(path, "SegmentationClass")) and os.path.isdir(os.path.join(path, "JPEGImages")):
        return "voc"
    if all(os.path.isdir(os.path.join(path, *parts)) for parts in (("images",), ("masks",))) or all(
        os.path.isdir(os.path.join(path, split, "images")) for split in SPLITS
    ):
        return "folders"
    raise ValueError(
        f"{path!r} matches no segmentation layout: expected {{train,val,test}}/images + masks, images/ + masks/, or "
        "Pascal VOC's JPEGImages/ + SegmentationClass/."
    )


def _pairs_of(images: list[str], mask_folder: str, problems: list[str]) -> list[tuple[str, str]]:
    masks = {os.path.splitext(name)[0]: os.path.join(mask_folder, name) for name in sorted(os.listdir(mask_folder))
             if name.lower().endswith(".png")} if os.path.isdir(mask_folder) else {}
    pairs = []
    for image in images:
        stem = os.path.splitext(os.path.basename(image))[0]
        if stem in masks:
            pairs.append((image, masks[stem]))
        else:
            problems.append(f"{image}: no mask {os.path.join(mask_folder, stem + '.png')}")
    return pairs


def _read_pairs(path: str, layout: str, problems: list[str]) -> dict[str, list[tuple[str, str]]]:
    """``{split or "all": [(image, mask)]}``."""
    if layout == "voc":
        sets = os.path.join(path, "ImageSets", "Segmentation")
        lists = {split: os.path.join(sets, f"{split}.txt") for split in SPLITS}
        if not os.path.isfile(lists["train"]) or not os.path.isfile(lists["val"]):
            images = list_images(os.path.join(path, "JPEGImages"))
            return {"all": _pairs_of(images, os.path.join(path, "SegmentationClass"), problems)}
        found = {}
        for split, listing in lists.items():
            if not os.path.isfile(listing):
                continue
            with open(listing, encoding="utf-8") as file:
                stems = [line.split()[0] for line in file if line.strip()]
            images = []
            for stem in stems:
                image = os.path.join(path, "JPEGImages", f"{stem}.jpg")
                if os.path.isfile(image):
                    images.append(image)
                else:
                    problems.append(f"{listing}: names {stem}, but {image} does not exist")
            found[split] = _pairs_of(images, os.path.join(path, "SegmentationClass"), problems)
        return found
    if all(os.path.isdir(os.path.join(path, split, "images")) for split in SPLITS):
        return {
            split: _pairs_of(list_images(os.path.join(path, split, "images")), os.path.join(path, split, "masks"), problems)
            for split in SPLITS
        }
    return {"all": _pairs_of(list_images(os.path.join(path, "images")), os.path.join(path, "masks"), problems)}


def _check_pair(pair: tuple[str, str]) -> tuple[int, tuple[int, int], np.ndarray, str]:
    """(EXIF orientation, mask size, label values present, problem) of an image and its mask."""
    image, mask = pair
    _, orientation, problem = check_image(image)
    if problem:
        return 1, (0, 0), np.zeros(0, np.uint8), f"unreadable image: {problem}"
    try:
        values = read_mask(mask)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        return orientation, (0, 0), np.zeros(0, np.uint8), f"bad mask: {error}"
    with Image.open(image) as opened:
        width, height = opened.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    if values.shape != (height, width):
        return orientation, values.shape, np.unique(values), f"mask {mask} is {values.shape[1]}x{values.shape[0]}, the image {width}x{height}"
    return orientation, values.shape, np.unique(values), ""


def _class_names(path: str, layout: str, largest: int) -> list[str]:
    listing = os.path.join(path, "classes.txt")
    if os.path.isfile(listing):
        with open(listing, encoding="utf-8") as file:
            return [line.strip() for line in file if line.strip()]
    if layout == "voc":
        return list(VOC_CLASSES)
    return [f"class_{value}" for value in range(max(largest, 1) + 1)]


def _mask_tensor(path: Any, size: int) -> Any:
    import tensorflow as tf

    mask = tf.numpy_function(read_mask, [path], tf.uint8, stateful=False)
    mask = tf.ensure_shape(mask, (None, None))[..., None]
    return tf.image.resize(mask, (size, size), method="nearest")[..., 0]


def _augment(image: Any, mask: Any, seed: Any, flip: bool, size: int) -> tuple[Any, Any]:
    """Training only: random crop of 50-100% of each side (p 0.5), horizontal flip (p 0.5 if ``flip``), colour jitter."""
    import tensorflow as tf

    draws = tf.random.stateless_uniform((6,), seed)
    side = tf.cast(tf.round(size * (0.5 + 0.5 * draws[1:3])), tf.int32)
    top = tf.cast(tf.cast(size - side[0], tf.float32) * draws[3], tf.int32)
    left = tf.cast(tf.cast(size - side[1], tf.float32) * draws[4], tf.int32)

    def crop() -> tuple[Any, Any]:
        pixels = tf.image.crop_to_bounding_box(image, top, left, side[0], side[1])
        labels = tf.image.crop_to_bounding_box(mask[..., None], top, left, side[0], side[1])
        return tf.image.resize(pixels, (size, size)), tf.image.resize(labels, (size, size), method="nearest")[..., 0]

    image, mask = tf.cond(draws[0] < 0.5, crop, lambda: (image, mask))
    image, mask = tf.cond(
        flip & (draws[5] < 0.5), lambda: (tf.image.flip_left_right(image), mask[:, ::-1]), lambda: (image, mask)
    )
    return jitter_colours(image, seed), mask


def _pipeline(pairs: list[tuple[str, str]], orientations: dict[str, int], size: int, batch: int, train: bool,
              augment: bool, flip: bool, seed: int) -> Any:
    import tensorflow as tf

    images, masks = [p[0] for p in pairs], [p[1] for p in pairs]
    dataset = tf.data.Dataset.from_tensor_slices((images, [orientations[p] for p in images], masks))
    if train:
        dataset = dataset.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(lambda p, o, m: (load_image(p, o, size), _mask_tensor(m, size)), num_parallel_calls=tf.data.AUTOTUNE)
    if train and augment:
        dataset = dataset.enumerate().map(
            lambda i, item: _augment(item[0], item[1], tf.stack([tf.cast(i, tf.int32), seed]), flip, size),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    dataset = dataset.map(lambda image, mask: (tf.ensure_shape(image, (size, size, 3)), tf.cast(mask, tf.int32)))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(pairs)))
    return dataset.batch(batch).prefetch(tf.data.AUTOTUNE)


def segmentation_folder(
    path: Any,
    input_size: int = 512,
    batch_size: int = 8,
    *,
    layout: str | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    augment: bool = True,
    flip: bool = True,
    resize_masks: bool = False,
    seed: int = 0,
) -> SegmentationData:
    """A folder of images and index masks as train / val / test ``tf.data`` splits of ``(images, masks)``.

    Images and masks are resized to ``input_size`` squared (masks by nearest
    neighbour); EXIF rotation turns images upright (masks are drawn on the
    upright image). Training batches are augmented together: random crop,
    horizontal flip, colour jitter (image only). Every pair is checked first,
    and problems raise one ``ValueError`` listing them: an image without its
    mask, a mask whose size is not the image's (or resized with
    ``resize_masks=True``), label values that are neither a class nor 255, an
    RGB mask. Unreadable images are an error too (their masks cannot be
    trusted either). A VOC folder without ``test.txt`` tests on ``val.txt``
    and validates on ``val_fraction`` of ``train.txt``.

    Args:
        path: the dataset folder.
        input_size: square model input side (>= 32).
        batch_size: batch size (>= 1).
        layout: one of :data:`SEGMENTATION_LAYOUTS`, or None to detect it.
        val_fraction: share for validation where the layout has no split, in (0, 1).
        test_fraction: share for the test where the layout has no split, in (0, 1).
        augment: crop, flip and colour jitter on the training split.
        flip: random horizontal flips (with ``augment``).
        resize_masks: resize a mask whose size differs from its image's, instead of refusing it.
        seed: split, shuffle and augmentation seed (>= 0).

    Examples:
        >>> data = segmentation_folder("scenes/", input_size=256, batch_size=8)
        >>> data.class_names, data.counts
        (['background', 'circle', 'square', 'triangle'], {'train': 8, 'val': 4, 'test': 4})
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a folder path; received {path!r} of type {type(path).__name__}.")
    path = os.path.abspath(os.fspath(path))
    if not os.path.isdir(path):
        raise ValueError(f"`path` is not a folder: {path!r}.")
    input_size = check_int("input_size", input_size, low=32)
    batch_size = check_int("batch_size", batch_size, low=1)
    val_fraction, test_fraction = check_fractions(val_fraction, test_fraction)
    for flag, value in (("augment", augment), ("flip", flip), ("resize_masks", resize_masks)):
        check_bool(flag, value)
    seed = check_int("seed", seed, low=0)
    layout = _layout(path) if layout is None else check_choice("layout", layout, SEGMENTATION_LAYOUTS)
    problems: list[str] = []
    found = _read_pairs(path, layout, problems)
    everything = [pair for pairs in found.values() for pair in pairs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 1) * 2)) as pool:
        checks = dict(zip(everything, pool.map(_check_pair, everything)))
    values: set[int] = set()
    for pair, (_, _, present, problem) in checks.items():
        if problem and not (resize_masks and problem.startswith("mask ")):
            problems.append(f"{pair[0]}: {problem}")
        values.update(int(v) for v in present)
    classes = values - {IGNORE}
    class_names = _class_names(path, layout, max(classes, default=1))
    unknown = sorted(v for v in classes if v >= len(class_names))
    if unknown:
        holders = [pair[1] for pair, check in checks.items() if set(check[2].tolist()) & set(unknown)]
        problems.append(
            f"label values {unknown} are neither a class of {class_names} (0-{len(class_names) - 1}) nor 255 (ignore); "
            f"in {len(holders)} mask(s), e.g. {holders[:3]}"
        )
    if problems:
        raise ValueError(f"{len(problems)} problem(s) in {path!r} ({layout}): " + "; ".join(problems[:20]))
    if len(class_names) < 2:
        raise ValueError(f"{path!r} names {len(class_names)} class(es); segmentation needs at least 2 (background + one).")
    if "all" in found or "test" not in found:
        order_from = found.pop("all", None) or found.pop("train")
        order = np.random.default_rng(seed).permutation(len(order_from))
        n_val = max(1, int(round(val_fraction * len(order_from))))
        n_test = 0 if "test" in found or "val" in found else max(1, int(round(test_fraction * len(order_from))))
        if "val" in found:  # VOC without test.txt: its val list is the test split
            found["test"] = found.pop("val")
        found["val"] = [order_from[i] for i in order[:n_val]]
        if n_test:
            found["test"] = [order_from[i] for i in order[n_val:n_val + n_test]]
        found["train"] = [order_from[i] for i in order[n_val + n_test:]]
    for split in SPLITS:
        if not found.get(split):
            raise ValueError(f"The {split} split of {path!r} holds no image with a mask.")
    orientations = {pair[0]: checks[pair][0] for pair in everything}
    pipelines = {
        split: _pipeline(found[split], orientations, input_size, batch_size, split == "train", augment, flip, seed)
        for split in SPLITS
    }
    spread = found["train"][:: max(1, len(found["train"]) // 200)][:200]
    calibration = np.stack([np.asarray(load_image(image, orientations[image], input_size)) for image, _ in spread])
    if any(check[3].startswith("mask ") for check in checks.values()):
        warn_caller(f"Resized masks whose size differs from their image's in {path!r} (resize_masks=True).")
    return SegmentationData(
        train=pipelines["train"], val=pipelines["val"], test=pipelines["test"], num_classes=len(class_names),
        input_shape=(input_size, input_size, 3), class_names=class_names, calibration=calibration,
        counts={split: len(found[split]) for split in SPLITS},
        files={split: [image for image, _ in found[split]] for split in SPLITS},
        layout=layout, masks={split: [mask for _, mask in found[split]] for split in SPLITS},
    )
