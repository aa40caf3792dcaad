"""Data for training: the embedded handwritten digits, and folders of your photos.

Both return a :class:`Data` of ``tf.data`` pipelines of ``(images, labels)``
with images as float32 in [0, 255] (every model here either rescales inside,
``include_preprocessing=True``, or you add it), plus the raw test arrays for
evaluating exported files.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import keras
import numpy as np

from keras_lightnets.validation import check_bool, check_float, check_int

__all__ = ["Data", "augmentation", "digits", "image_folder"]


@dataclasses.dataclass
class Data:
    """Train/test pipelines and what a model needs to know about them."""

    train: Any  # tf.data.Dataset of (images, labels), batched, augmented, shuffled
    test: Any  # tf.data.Dataset of (images, labels), batched
    x_test: np.ndarray  # float32 (N, H, W, 3) in [0, 255]
    y_test: np.ndarray  # int labels
    num_classes: int
    input_shape: tuple[int, int, int]
    class_names: list[str]
    calibration: np.ndarray  # up to 200 training images for int8 calibration


def augmentation(shift: float = 0.1, zoom: float = 0.1, seed: int | None = None) -> keras.Sequential:
    """Random shift and zoom as Keras preprocessing layers (train time only).

    Args:
        shift: largest translation as a fraction of height/width, in [0, 0.5).
        zoom: largest zoom in/out as a fraction, in [0, 0.5).
        seed: random seed.

    Example:
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


def _check_split(
    input_size: Any, batch_size: Any, test_fraction: Any, augment: Any, seed: Any
) -> tuple[int, int, float, int]:
    check_bool("augment", augment)
    return (
        check_int("input_size", input_size, low=32),
        check_int("batch_size", batch_size, low=1),
        check_float("test_fraction", test_fraction, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False),
        check_int("seed", seed, low=0),
    )


def _pipelines(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    batch_size: int,
    augment: bool,
    seed: int,
) -> tuple[Any, Any]:
    import tensorflow as tf

    train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train), seed=seed)
    train = train.batch(batch_size)
    if augment:
        layers = augmentation(seed=seed)
        train = train.map(lambda x, y: (layers(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    train = train.prefetch(tf.data.AUTOTUNE)
    test = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return train, test


def digits(
    input_size: int = 32,
    batch_size: int = 64,
    test_fraction: float = 0.25,
    augment: bool = True,
    seed: int = 0,
) -> Data:
    """scikit-learn's 1,797 handwritten digits (8x8, 10 classes), no download.

    Images are scaled from 0..16 to 0..255, resized (bilinear) to
    ``input_size``, repeated to 3 channels, and split with stratification.

    Args:
        input_size: square image size (>= 32).
        batch_size: batch size (>= 1).
        test_fraction: share of images held out, in (0, 1).
        augment: random shift and zoom on the training pipeline.
        seed: split and shuffle seed.

    Example:
        >>> data = digits(input_size=32)
        >>> data.input_shape, data.num_classes
        ((32, 32, 3), 10)
    """
    input_size, batch_size, test_fraction, seed = _check_split(input_size, batch_size, test_fraction, augment, seed)
    import tensorflow as tf
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    raw = load_digits()
    images = raw.images[..., None].astype("float32") * (255.0 / 16.0)
    images = tf.image.resize(images, (input_size, input_size)).numpy()
    images = np.clip(np.repeat(images, 3, axis=-1), 0.0, 255.0)
    x_train, x_test, y_train, y_test = train_test_split(
        images, raw.target, test_size=test_fraction, stratify=raw.target, random_state=seed
    )
    train, test = _pipelines(x_train, y_train, x_test, y_test, batch_size, augment, seed)
    return Data(
        train=train,
        test=test,
        x_test=x_test,
        y_test=y_test,
        num_classes=10,
        input_shape=(input_size, input_size, 3),
        class_names=[str(d) for d in range(10)],
        calibration=x_train[:200],
    )


def image_folder(
    path: Any,
    input_size: int = 224,
    batch_size: int = 32,
    test_fraction: float = 0.2,
    augment: bool = True,
    seed: int = 0,
) -> Data:
    """Images in ``path/<class name>/*.jpg|png|...`` via ``keras.utils.image_dataset_from_directory``.

    Args:
        path: a folder with one subfolder of images per class (>= 2 classes).
        input_size: square size images are resized to (>= 32).
        batch_size: batch size (>= 1).
        test_fraction: share held out for testing, in (0, 1).
        augment: random shift and zoom on the training pipeline.
        seed: split and shuffle seed.

    Example:
        >>> data = image_folder("flowers/", input_size=160)  # doctest: +SKIP
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a folder path; received {path!r}.")
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"`path` is not a folder: {path!r}.")
    input_size, batch_size, test_fraction, seed = _check_split(input_size, batch_size, test_fraction, augment, seed)
    classes = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    if len(classes) < 2:
        raise ValueError(
            f"`path` {path!r} must hold one subfolder per class and at least 2 classes; found {classes}."
        )
    suffixes = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
    if not any(
        name.lower().endswith(suffixes)
        for label in classes
        for _, _, files in os.walk(os.path.join(path, label))
        for name in files
    ):
        raise ValueError(f"`path` {path!r} holds no images ({', '.join(suffixes)}).")
    dataset = keras.utils.image_dataset_from_directory(
        path, image_size=(input_size, input_size), batch_size=None, shuffle=False, verbose=False
    )
    images = [np.asarray(x, dtype="float32") for x, _ in dataset]
    labels = np.array([int(y) for _, y in dataset])
    images = np.stack(images)
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels, minlength=len(classes))
    stratify = labels if counts.min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, stratify=stratify, random_state=seed
    )
    train, test = _pipelines(x_train, y_train, x_test, y_test, batch_size, augment, seed)
    return Data(
        train=train,
        test=test,
        x_test=x_test,
        y_test=y_test,
        num_classes=len(classes),
        input_shape=(input_size, input_size, 3),
        class_names=classes,
        calibration=x_train[:200],
    )
