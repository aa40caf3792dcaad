"""Data for training: the embedded handwritten digits, and folders of your photos, in three honest splits.

Both return a :class:`Data` of ``tf.data`` pipelines of ``(images, labels)``
with images as float32 in [0, 255] (every model here either rescales inside,
``include_preprocessing=True``, or you add it): ``train`` (shuffled,
augmented), ``val`` (model selection: early stopping, best epoch) and
``test`` (evaluated once, at the end).

Image folders stream from disk: the files are listed and checked once (every
image decoded with Pillow, in parallel, with a progress bar), then each epoch
reads, decodes, rotates by EXIF, resizes and augments in parallel with
``tf.data``; memory does not grow with the folder. Bad files (corrupt,
truncated, not an image) are skipped with one warning that lists them, or
refused with ``strict=True``; they never stop an epoch halfway.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
from typing import Any

import keras
import numpy as np
from PIL import Image, UnidentifiedImageError

from keras_lightnets.files import atomic_target
from keras_lightnets.validation import check_bool, check_float, check_int, warn_caller

__all__ = [
    "IMAGE_SUFFIXES", "Data", "augmentation", "check_fractions", "check_image", "digits", "image_folder", "jitter_colours", "list_images",
    "load_image", "load_images", "photo_augmentation",
]

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
SPLITS = ("train", "val", "test")
_EXIF_ORIENTATION = 0x0112


@dataclasses.dataclass
class Data:
    """Train / validation / test pipelines and what a model needs to know about them."""

    train: Any  # tf.data.Dataset of (images, labels), batched, shuffled, augmented
    val: Any  # tf.data.Dataset of (images, labels), batched: for model selection only
    test: Any  # tf.data.Dataset of (images, labels), batched: evaluated once
    num_classes: int
    input_shape: tuple[int, int, int]
    class_names: list[str]
    calibration: np.ndarray  # up to 200 training images (not augmented) for int8 calibration
    counts: dict[str, int]  # images per split
    files: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # per split (folders)
    skipped: list[str] = dataclasses.field(default_factory=list)  # "path: reason" of bad files

    @property
    def steps_per_epoch(self) -> int:
        """Training batches per epoch."""
        return int(self.train.cardinality())

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of a split as arrays (for small splits: digits, a test folder).

        Args:
            split: ``"val"`` or ``"test"``.

        Examples:
            >>> x_test, y_test = digits().arrays("test")
            >>> x_test.shape
            (450, 32, 32, 3)
        """
        pipeline = {"val": self.val, "test": self.test}.get(split) if isinstance(split, str) else None
        if pipeline is None:
            raise ValueError(f"`split` must be 'val' or 'test'; received {split!r}.")
        batches = [(np.asarray(x), np.asarray(y)) for x, y in pipeline]
        return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])

    def write_splits(self, folder: str) -> str:
        """Write the file lists of every split to ``folder/splits.json`` (atomically); return the path.

        ``image_folder(path, splits=that_file)`` evaluates the same images again.

        Args:
            folder: an existing folder (e.g. the training log folder).

        Examples:
            >>> data.write_splits("logs/")
            '.../logs/splits.json'
        """
        path = os.path.join(os.path.abspath(folder), "splits.json")
        with atomic_target(path) as target, open(target, "w", encoding="utf-8") as file:
            json.dump({"class_names": self.class_names, "files": self.files, "skipped": self.skipped}, file, indent=1)
        return path


def augmentation(shift: float = 0.1, zoom: float = 0.1, seed: int | None = None) -> keras.Sequential:
    """Random shift and zoom as Keras preprocessing layers (train time only; the digits' recipe).

    Args:
        shift: largest translation as a fraction of height/width, in [0, 0.5).
        zoom: largest zoom in/out as a fraction, in [0, 0.5).
        seed: random seed.

    Examples:
        >>> augment = augmentation(0.1, 0.1, seed=0)
    """
    shift = check_float("shift", shift, low=0.0, high=0.5, high_inclusive=False)
    zoom = check_float("zoom", zoom, low=0.0, high=0.5, high_inclusive=False)
    return keras.Sequential(
        [
            keras.layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed),
            keras.layers.RandomZoom(zoom, fill_mode="constant", seed=seed),
        ],
        name="augmentation",
    )


def photo_augmentation(
    crop: bool = True, flip: bool = True, color: bool = True, seed: int | None = None
) -> keras.Sequential:
    """Photo augmentations as Keras preprocessing layers (train time only).

    ``crop``: a random crop of 60-100% of each side resized back (zoom in by
    up to 40% at a random position: ``RandomZoom`` + ``RandomTranslation``);
    ``flip``: horizontal flips; ``color``: brightness and contrast jitter of
    up to 10%.

    Args:
        crop: random crop-and-resize.
        flip: random horizontal flip (off for digits, text, asymmetric classes).
        color: light colour jitter.
        seed: random seed.

    Examples:
        >>> augment = photo_augmentation(flip=False, seed=0)
        >>> [layer.__class__.__name__ for layer in augment.layers]
        ['RandomZoom', 'RandomTranslation', 'RandomBrightness', 'RandomContrast']
    """
    for name, value in (("crop", crop), ("flip", flip), ("color", color)):
        check_bool(name, value)
    steps: list[keras.layers.Layer] = []
    if crop:
        steps += [
            keras.layers.RandomZoom((-0.4, 0.0), fill_mode="reflect", seed=seed),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed),
        ]
    if flip:
        steps.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if color:
        steps += [
            keras.layers.RandomBrightness(0.1, value_range=(0.0, 255.0), seed=seed),
            keras.layers.RandomContrast(0.1, value_range=(0.0, 255.0), seed=seed),
        ]
    return keras.Sequential(steps, name="augmentation")


def check_fractions(val_fraction: Any, test_fraction: Any) -> tuple[float, float]:
    """``(val_fraction, test_fraction)`` checked: each in (0, 1), their sum below 1.

    Args:
        val_fraction: share of the images for validation.
        test_fraction: share of the images for the test.

    Examples:
        >>> check_fractions(0.1, 0.2)
        (0.1, 0.2)
    """
    val = check_float("val_fraction", val_fraction, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    test = check_float("test_fraction", test_fraction, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    if val + test >= 1.0:
        raise ValueError(
            f"`val_fraction` + `test_fraction` must sum below 1 (something must be left to train on); "
            f"received {val} + {test} = {val + test}."
        )
    return val, test


def _stratified(labels: np.ndarray, val: float, test: float, seed: int) -> dict[str, np.ndarray]:
    """Indices of each split: per class, ``round(n * fraction)`` (>= 1) to val and test, the rest to train."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {split: [] for split in SPLITS}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = max(1, round(len(members) * test))
        n_val = max(1, round(len(members) * val))
        parts["test"] += members[:n_test].tolist()
        parts["val"] += members[n_test:n_test + n_val].tolist()
        parts["train"] += members[n_test + n_val:].tolist()
    return {split: np.sort(np.array(indices, dtype=np.int64)) for split, indices in parts.items()}


def _augmented(augment: keras.Sequential, images: Any) -> Any:
    """``augment`` applied layer by layer: Keras' preprocessing layers run on TensorFlow
    inside ``tf.data`` whatever the backend, a ``Sequential`` around them would not."""
    for layer in augment.layers:
        images = layer(images, training=True)
    return images


def _batched(dataset: Any, batch_size: int, augment: keras.Sequential | None) -> Any:
    import tensorflow as tf

    dataset = dataset.batch(batch_size)
    if augment is not None:
        dataset = dataset.map(lambda x, y: (_augmented(augment, x), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def digits(
    input_size: int = 32,
    batch_size: int = 64,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.25,
    augment: bool = True,
    classes: tuple[int, ...] | None = None,
    train_per_class: int | None = None,
    seed: int = 0,
) -> Data:
    """scikit-learn's 1,797 handwritten digits (8x8, 10 classes), no download, in three splits.

    Images are scaled from 0..16 to 0..255, resized (bilinear) to
    ``input_size``, repeated to 3 channels, and split stratified by class.

    Args:
        input_size: square image size (>= 32).
        batch_size: batch size (>= 1).
        val_fraction: share of each class for validation, in (0, 1).
        test_fraction: share of each class held out for the test, in (0, 1);
            ``val_fraction + test_fraction < 1``.
        augment: random shift and zoom on the training pipeline.
        classes: keep only these digits (relabelled 0..k-1 in this order), e.g.
            ``(5, 6, 7, 8, 9)``; default all ten.
        train_per_class: keep at most this many training images per class
            (>= 1), for few-shot experiments; val and test are unchanged.
        seed: split and shuffle seed (>= 0).

    Examples:
        >>> data = digits(input_size=32)
        >>> data.input_shape, data.num_classes, data.counts
        ((32, 32, 3), 10, {'train': 1078, 'val': 269, 'test': 450})
    """
    input_size = check_int("input_size", input_size, low=32)
    batch_size = check_int("batch_size", batch_size, low=1)
    val_fraction, test_fraction = check_fractions(val_fraction, test_fraction)
    check_bool("augment", augment)
    seed = check_int("seed", seed, low=0)
    if classes is None:
        classes = tuple(range(10))
    if not isinstance(classes, (tuple, list)) or len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"`classes` must be a tuple of at least 2 distinct digits; received {classes!r}.")
    classes = tuple(check_int("classes", c, low=0, high=9) for c in classes)
    if train_per_class is not None:
        train_per_class = check_int("train_per_class", train_per_class, low=1)
    import tensorflow as tf
    from sklearn.datasets import load_digits

    raw = load_digits()
    keep = np.isin(raw.target, classes)
    labels = np.array([classes.index(t) for t in raw.target[keep]])
    images = raw.images[keep][..., None].astype("float32") * (255.0 / 16.0)
    images = tf.image.resize(images, (input_size, input_size)).numpy()
    images = np.clip(np.repeat(images, 3, axis=-1), 0.0, 255.0)
    parts = _stratified(labels, val_fraction, test_fraction, seed)
    if train_per_class is not None:
        train = parts["train"]
        parts["train"] = np.sort(np.concatenate([train[labels[train] == c][:train_per_class] for c in range(len(classes))]))
    pipelines = {}
    for split, indices in parts.items():
        dataset = tf.data.Dataset.from_tensor_slices((images[indices], labels[indices]))
        if split == "train":
            dataset = dataset.shuffle(len(indices), seed=seed)
        pipelines[split] = _batched(dataset, batch_size, augmentation(seed=seed) if augment and split == "train" else None)
    return Data(
        train=pipelines["train"],
        val=pipelines["val"],
        test=pipelines["test"],
        num_classes=len(classes),
        input_shape=(input_size, input_size, 3),
        class_names=[str(c) for c in classes],
        calibration=images[parts["train"][:200]],
        counts={split: len(indices) for split, indices in parts.items()},
    )


# --------------------------------------------------------------------------- image folders


def _visible(names: list[str]) -> list[str]:
    return sorted(n for n in names if not n.startswith("."))


def list_images(folder: str) -> list[str]:
    """Sorted paths of the image files under ``folder`` (hidden files and folders skipped).

    Args:
        folder: a folder; searched recursively.

    Examples:
        >>> list_images("photos/cat")[:2]
        ['photos/cat/1.jpg', 'photos/cat/10.png']
    """
    paths = []
    for parent, subfolders, files in os.walk(folder):
        subfolders[:] = _visible(subfolders)
        paths += [os.path.join(parent, f) for f in _visible(files) if f.lower().endswith(IMAGE_SUFFIXES)]
    return sorted(paths)


def _class_folders(root: str) -> dict[str, list[str]]:
    """``{class name: [image paths]}`` of a folder of class folders (hidden entries skipped)."""
    classes = [d for d in _visible(os.listdir(root)) if os.path.isdir(os.path.join(root, d))]
    if len(classes) < 2:
        raise ValueError(
            f"{root!r} must hold one subfolder per class and at least 2 classes; found {classes} "
            "(one class cannot be learned)."
        )
    found = {}
    for name in classes:
        paths = list_images(os.path.join(root, name))
        if not paths:
            raise ValueError(
                f"The class folder {os.path.join(root, name)!r} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                "remove it or add images."
            )
        found[name] = paths
    return found


def check_image(path: str) -> tuple[str, int, str]:
    """``(path, EXIF orientation 1-8, problem)``: decodes the whole image once with Pillow.

    ``problem`` is "" for a readable image, else the reason it is not.

    Args:
        path: an image file.

    Examples:
        >>> check_image("cat.jpg")
        ('cat.jpg', 6, '')
    """
    try:
        with Image.open(path) as image:
            orientation = int(image.getexif().get(_EXIF_ORIENTATION, 1))
            image.load()
        return path, orientation if 1 <= orientation <= 8 else 1, ""
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        return path, 1, f"{type(error).__name__}: {error}"


def _scan(paths: list[str], progress: bool) -> tuple[dict[str, int], list[str]]:
    """EXIF orientation of every readable image, and ``"path: reason"`` of the others."""
    orientations, bad = {}, []
    bar = keras.utils.Progbar(len(paths), unit_name="image") if progress else None
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 1) * 2)) as pool:
        for index, (path, orientation, problem) in enumerate(pool.map(check_image, paths), start=1):
            if problem:
                bad.append(f"{path}: {problem}")
            else:
                orientations[path] = orientation
            if bar is not None and (index % 64 == 0 or index == len(paths)):
                bar.update(index)
    return orientations, bad


def load_image(path: Any, orientation: Any, size: Any) -> Any:
    """Read, decode (any bit depth, gray, palette, RGBA -> RGB), undo EXIF rotation, resize.

    Works eagerly and inside ``tf.data`` maps. Output: float32 (H, W, 3) in [0, 255].

    Args:
        path: the image file (str or string tensor).
        orientation: its EXIF orientation, 1-8 (see :func:`check_image`).
        size: an int (square) or ``(height, width)``.

    Examples:
        >>> image = load_image("cat.jpg", 1, 224)
        >>> image.shape
        TensorShape([224, 224, 3])
    """
    import tensorflow as tf

    size = (size, size) if isinstance(size, int) else tuple(size)

    image = tf.io.decode_image(tf.io.read_file(path), channels=3, dtype=tf.float32, expand_animations=False)
    branches = {
        2: lambda: tf.image.flip_left_right(image),
        3: lambda: tf.image.rot90(image, 2),
        4: lambda: tf.image.flip_up_down(image),
        5: lambda: tf.image.transpose(image),
        6: lambda: tf.image.rot90(image, 3),
        7: lambda: tf.image.rot90(tf.image.transpose(image), 2),
        8: lambda: tf.image.rot90(image, 1),
    }
    image = tf.switch_case(tf.cast(orientation, tf.int32) - 1, [lambda: image] + [branches[k] for k in range(2, 9)])
    image = tf.image.resize(image, size, antialias=True)
    return tf.clip_by_value(image * 255.0, 0.0, 255.0)


def jitter_colours(image: Any, seed: Any) -> Any:
    """Random brightness (+-0.15), contrast (0.75-1.25) and saturation (0.7-1.3) of a [0, 255] image, stateless.

    The photometric part of the detection and segmentation augmentations (boxes and masks do not move).

    Args:
        image: ``[H, W, 3]`` float tensor in [0, 255].
        seed: a ``[2]`` int32 tensor (``tf.random`` stateless seed).

    Examples:
        >>> import tensorflow as tf
        >>> jitter_colours(tf.fill((4, 4, 3), 128.0), tf.constant([1, 2])).shape
        TensorShape([4, 4, 3])
    """
    import tensorflow as tf

    pixels = image / 255.0
    pixels = tf.image.stateless_random_brightness(pixels, 0.15, seed + 1)
    pixels = tf.image.stateless_random_contrast(pixels, 0.75, 1.25, seed + 2)
    pixels = tf.image.stateless_random_saturation(pixels, 0.7, 1.3, seed + 3)
    return tf.clip_by_value(pixels * 255.0, 0.0, 255.0)


def load_images(
    source: Any, size: Any, *, limit: int | None = None, strict: bool = False, progress: bool = False
) -> np.ndarray:
    """Images of a folder (or a list of files) as one float32 array (N, H, W, 3) in [0, 255].

    The same path as training and evaluation: every file checked once with
    Pillow (unreadable ones skipped with one warning, or refused with
    ``strict``), then :func:`load_image` (EXIF rotation, RGB, antialiased
    resize). Used for int8 calibration folders.

    Args:
        source: a folder (searched recursively, see :func:`list_images`) or a list of image paths.
        size: an int (square) or ``(height, width)``, each >= 1.
        limit: at most ``limit`` images (>= 1), evenly spaced over the sorted paths; default all.
        strict: refuse unreadable images instead of skipping them.
        progress: show a progress bar while checking.

    Examples:
        >>> images = load_images("photos/cat", 224, limit=10)
        >>> images.shape
        (10, 224, 224, 3)
    """
    if isinstance(source, (str, os.PathLike)):
        if not os.path.isdir(source):
            raise ValueError(f"`source` must be an image folder or a list of image files; received {source!r}.")
        paths = list_images(os.fspath(source))
    elif isinstance(source, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in source):
        paths = [os.fspath(p) for p in source]
    else:
        raise TypeError(f"`source` must be a folder or a list of paths; received {source!r}.")
    dims = (size, size) if isinstance(size, int) and not isinstance(size, bool) else tuple(size)
    dims = tuple(check_int("size", d, low=1) for d in dims)
    if limit is not None:  # spread over the sorted list: every class folder, not the first ones only
        limit = check_int("limit", limit, low=1)
        paths = paths[:: max(1, len(paths) // limit)][:limit]
    check_bool("strict", strict)
    orientations, bad = _scan(paths, progress)
    if bad and strict:
        raise ValueError(f"{len(bad)} unreadable image(s) in {source!r} (strict=True): " + "; ".join(bad[:20]))
    if bad:
        warn_caller(f"Skipping {len(bad)} unreadable image(s): " + "; ".join(bad[:20]))
    if not orientations:
        raise ValueError(f"{source!r} holds no readable images ({', '.join(IMAGE_SUFFIXES)}).")
    return np.stack([np.asarray(load_image(p, orientations[p], dims)) for p in paths if p in orientations])


def image_folder(
    path: Any,
    input_size: int = 224,
    batch_size: int = 32,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    augment: bool = True,
    crop: bool = True,
    flip: bool = True,
    color: bool = True,
    cache: bool = False,
    strict: bool = False,
    splits: Any = None,
    progress: bool = False,
    seed: int = 0,
) -> Data:
    """Photos in ``path/<class name>/...``, streamed from disk in train / val / test splits.

    ``path`` is either a folder of class folders, split stratified by
    ``val_fraction`` / ``test_fraction`` with ``seed`` (at least one image of
    each class in val and test), or pre-split as ``path/train``,
    ``path/val`` and ``path/test``, each with the same class folders. Hidden
    files and folders are ignored, and so are files without an image suffix
    (.bmp, .gif, .jpeg, .jpg, .png). Grayscale, RGBA, palette and 16-bit
    images become RGB, EXIF-rotated JPEGs are turned upright, small images
    are upscaled. Unreadable images are skipped with one warning listing them.

    Args:
        path: the folder (str or os.PathLike).
        input_size: square size images are resized to (>= 32).
        batch_size: batch size (>= 1).
        val_fraction: share of each class for validation, in (0, 1).
        test_fraction: share of each class for the test, in (0, 1); the two
            fractions must sum below 1. Ignored for a pre-split folder.
        augment: augment the training split (see :func:`photo_augmentation`).
        crop: random crop-and-resize (with ``augment``).
        flip: random horizontal flips (with ``augment``).
        color: brightness / contrast jitter (with ``augment``).
        cache: keep decoded, resized images in memory after the first epoch
            (fast for folders that fit in memory; off by default).
        strict: refuse the folder (``ValueError`` naming the files) instead of
            skipping unreadable images.
        splits: a ``splits.json`` written by :meth:`Data.write_splits`: reuse
            exactly its file lists (the fractions and seed are then unused).
        progress: show a progress bar while checking the images.
        seed: split and shuffle seed (>= 0).

    Examples:
        >>> data = image_folder("photos/", input_size=160)
        >>> data.counts
        {'train': 28, 'val': 4, 'test': 8}
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a folder path; received {path!r} of type {type(path).__name__}.")
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"`path` is not a folder: {path!r}.")
    input_size = check_int("input_size", input_size, low=32)
    batch_size = check_int("batch_size", batch_size, low=1)
    val_fraction, test_fraction = check_fractions(val_fraction, test_fraction)
    for name, value in (("augment", augment), ("cache", cache), ("strict", strict), ("progress", progress)):
        check_bool(name, value)
    seed = check_int("seed", seed, low=0)
    class_names, files = _split_files(path, splits, val_fraction, test_fraction, seed)
    everything = [p for split in SPLITS for p, _ in files[split]]
    orientations, bad = _scan(everything, progress)
    if bad and strict:
        raise ValueError(f"{len(bad)} unreadable image(s) in {path!r} (strict=True): " + "; ".join(bad[:20]))
    if bad:
        warn_caller(f"Skipping {len(bad)} unreadable image(s) in {path!r}: " + "; ".join(bad[:20]))
    import tensorflow as tf

    pipelines, kept = {}, {}
    for split in SPLITS:
        kept[split] = [(p, label) for p, label in files[split] if p in orientations]
        if not kept[split]:
            raise ValueError(f"The {split} split of {path!r} holds no readable images.")
        paths = [p for p, _ in kept[split]]
        dataset = tf.data.Dataset.from_tensor_slices(
            (paths, [label for _, label in kept[split]], [orientations[p] for p in paths])
        )
        if split == "train":
            dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.map(
            lambda p, label, o: (load_image(p, o, input_size), label), num_parallel_calls=tf.data.AUTOTUNE
        )
        if cache:
            dataset = dataset.cache()
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(paths)))
        augmenter = photo_augmentation(crop, flip, color, seed=seed) if augment and split == "train" else None
        pipelines[split] = _batched(dataset, batch_size, augmenter)
    spread = kept["train"][:: max(1, len(kept["train"]) // 200)][:200]  # every class, not the first ones only
    calibration = np.stack([np.asarray(load_image(p, orientations[p], input_size)) for p, _ in spread])
    return Data(
        train=pipelines["train"],
        val=pipelines["val"],
        test=pipelines["test"],
        num_classes=len(class_names),
        input_shape=(input_size, input_size, 3),
        class_names=class_names,
        calibration=calibration,
        counts={split: len(kept[split]) for split in SPLITS},
        files={split: [p for p, _ in kept[split]] for split in SPLITS},
        skipped=bad,
    )


def _split_files(
    root: str, splits: Any, val: float, test: float, seed: int
) -> tuple[list[str], dict[str, list[tuple[str, int]]]]:
    """Class names and ``{split: [(path, label)]}`` for a plain, pre-split or recorded folder."""
    if splits is not None:
        with open(os.fspath(splits), encoding="utf-8") as file:
            recorded = json.load(file)
        names = list(recorded["class_names"])
        index = {name: label for label, name in enumerate(names)}
        out = {}
        for split in SPLITS:
            out[split] = []
            for p in recorded["files"][split]:
                label = os.path.relpath(p, root).split(os.sep)
                name = label[1] if label[0] in SPLITS and len(label) > 2 else label[0]
                if name not in index:
                    raise ValueError(f"{p!r} in {splits!r} is not in a class folder of {root!r}.")
                out[split].append((p, index[name]))
        return names, out
    if all(os.path.isdir(os.path.join(root, split)) for split in SPLITS):
        per_split = {split: _class_folders(os.path.join(root, split)) for split in SPLITS}
        names = list(per_split["train"])
        for split in ("val", "test"):
            if list(per_split[split]) != names:
                raise ValueError(
                    f"The pre-split folder {root!r} has different classes in train ({names}) and {split} "
                    f"({list(per_split[split])}); every split needs the same class folders."
                )
        return names, {
            split: [(p, label) for label, name in enumerate(names) for p in per_split[split][name]] for split in SPLITS
        }
    per_class = _class_folders(root)
    names = list(per_class)
    paths = [p for name in names for p in per_class[name]]
    labels = np.array([label for label, name in enumerate(names) for _ in per_class[name]])
    small = [name for label, name in enumerate(names) if np.sum(labels == label) < 3]
    if small:
        raise ValueError(
            f"Class folder(s) {small} of {root!r} hold fewer than 3 images: each class needs at least one "
            "image for training, validation and test."
        )
    parts = _stratified(labels, val, test, seed)
    return names, {split: [(paths[i], int(labels[i])) for i in parts[split]] for split in SPLITS}
