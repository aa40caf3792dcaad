"""Predictions with class names from a ``.keras`` or ``.tflite`` file (int8 included)."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import keras
import numpy as np

from keras_lightnets.data import IMAGE_SUFFIXES, check_image, list_images, load_image
from keras_lightnets.export import labels_path
from keras_lightnets.litert import run_tflite, tflite_input_shape
from keras_lightnets.validation import check_int, check_path

__all__ = ["Prediction", "class_names_of", "predict_images"]


class Prediction(NamedTuple):
    """The ``top`` classes of one image, most probable first."""

    path: str
    classes: list[tuple[str, float]]  # (class name, probability)


def class_names_of(model_path: str, count: int) -> list[str]:
    """The class names that travel with a model file (``class 0`` ... where none do).

    A ``.keras`` file keeps them in its config (``LightNet.class_names``); a
    ``.tflite`` file in the ``.labels.txt`` written beside it.

    Args:
        model_path: a ``.keras`` or ``.tflite`` file.
        count: the number of classifier outputs.

    Example:
        >>> class_names_of("flowers_int8.tflite", 5)  # doctest: +SKIP
        ['daisy', 'dandelion', 'roses', 'sunflowers', 'tulips']
    """
    names: list[str] | None = None
    if model_path.endswith(".tflite") and os.path.isfile(labels_path(model_path)):
        with open(labels_path(model_path), encoding="utf-8") as file:
            names = [line.rstrip("\n") for line in file]
    if names is None or len(names) != count:
        names = [f"class {i}" for i in range(count)]
    return names


def _image_paths(inputs: list[str]) -> list[str]:
    paths = []
    for item in inputs:
        item = check_path("images", item, must_exist=True)
        if os.path.isdir(item):
            found = list_images(item)
            if not found:
                raise ValueError(f"The folder {item!r} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
            paths += found
        elif item.lower().endswith(IMAGE_SUFFIXES):
            paths.append(item)
        else:
            raise ValueError(f"{item!r} is not an image ({', '.join(IMAGE_SUFFIXES)}) or a folder of images.")
    return paths


def _probabilities(outputs: np.ndarray) -> np.ndarray:
    """Softmax unless the rows already are probabilities (a softmax head)."""
    if np.all(outputs >= 0) and np.allclose(outputs.sum(-1), 1.0, atol=2e-2):
        return outputs
    shifted = np.exp(outputs - outputs.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def predict_images(model_path: Any, images: list[Any], top: int = 5, input_size: int = 224) -> list[Prediction]:
    """Classify image files (or every image in folders) with a ``.keras`` or ``.tflite`` model.

    Images are decoded as in training (EXIF rotation, any mode to RGB),
    resized to the model's input and given as [0, 255] pixels (the package's
    trained models rescale inside).

    Args:
        model_path: a ``.keras`` file (loaded with ``safe_mode=True``) or a
            ``.tflite`` file (float or int8; run with LiteRT).
        images: image files and/or folders of images.
        top: how many classes per image (>= 1).
        input_size: square size for a model without a fixed input size (>= 32).

    Example:
        >>> predict_images("run.keras", ["photos/cat.jpg"], top=1)  # doctest: +SKIP
        [Prediction(path='photos/cat.jpg', classes=[('cat', 0.97)])]
    """
    model_path = check_path("model", model_path, must_exist=True)
    top = check_int("top", top, low=1)
    input_size = check_int("input_size", input_size, low=32)
    if not isinstance(images, (list, tuple)) or not images:
        raise ValueError(f"`images` must be a non-empty list of image files or folders; received {images!r}.")
    if not model_path.endswith((".keras", ".tflite")):
        raise ValueError(f"`model` must be a .keras or .tflite file; received {model_path!r}.")
    paths = _image_paths([os.fspath(i) for i in images])
    if model_path.endswith(".keras"):
        model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
        height, width = model.input_shape[1:3]
        names_in_model = getattr(model, "class_names", None)
    else:
        height, width = tflite_input_shape(model_path)[1:3]
        names_in_model = None
    size = (height or input_size, width or input_size)
    checked = [check_image(p) for p in paths]
    bad = [f"{p}: {problem}" for p, _, problem in checked if problem]
    if bad:
        raise ValueError(f"Unreadable image(s): {'; '.join(bad[:10])}")
    batch = np.stack([np.asarray(load_image(p, orientation, size)) for p, orientation, _ in checked])
    outputs = np.asarray(model.predict(batch, verbose=0) if model_path.endswith(".keras") else run_tflite(model_path, batch))
    probabilities = _probabilities(outputs.astype(np.float64))
    names = names_in_model if names_in_model and len(names_in_model) == probabilities.shape[1] else None
    names = names or class_names_of(model_path, probabilities.shape[1])
    top = min(top, probabilities.shape[1])
    results = []
    for path, row in zip(paths, probabilities):
        order = np.argsort(-row)[:top]
        results.append(Prediction(path, [(names[i], float(row[i])) for i in order]))
    return results
