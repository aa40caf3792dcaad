"""Predictions with class names from a ``.keras`` or ``.tflite`` file (int8 included)."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import keras
import numpy as np

from PIL import Image, ImageDraw

from keras_lightnets.data import IMAGE_SUFFIXES, check_image, list_images, load_image
from keras_lightnets.detection import DETECTION_OUTPUTS, postprocess, ssdlite_anchors
from keras_lightnets.export import labels_path
from keras_lightnets.files import atomic_target
from keras_lightnets.litert import run_tflite, tflite_input_shape
from keras_lightnets.segmentation.evaluate import class_colours
from keras_lightnets.validation import check_float, check_int, check_path

__all__ = [
    "Detection", "ImageDetections", "ImageMask", "Prediction", "class_names_of", "detect_images", "draw_detections",
    "is_detector", "is_segmenter", "predict_images", "segment_images", "write_mask",
]


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

    Examples:
        >>> class_names_of("model_int8.tflite", 2)
        ['cat', 'dog']
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

    Examples:
        >>> predict_images("run.keras", ["cat.jpg"], top=1)
        [Prediction(path='cat.jpg', classes=[(..., ...)])]
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


# --------------------------------------------------------------------------- detectors


class Detection(NamedTuple):
    """One object found in an image."""

    label: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the image as stored (EXIF applied)


class ImageDetections(NamedTuple):
    """Every object found in one image, best first."""

    path: str
    size: tuple[int, int]  # (height, width) after EXIF rotation
    detections: list[Detection]


def is_detector(model_path: Any) -> bool:
    """Whether ``model_path`` is an object detector (``.tflite`` with the detector outputs, or an SSDLite ``.keras``).

    Args:
        model_path: a ``.keras`` or ``.tflite`` file.

    Examples:
        >>> is_detector("det.tflite")
        True
    """
    model_path = check_path("model", model_path, must_exist=True)
    if model_path.endswith(".tflite"):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path)
        signatures = interpreter.get_signature_list()
        return len(signatures) == 1 and sorted(next(iter(signatures.values()))["outputs"]) == sorted(DETECTION_OUTPUTS)
    model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
    return len(model.outputs) == 2 and model.outputs[0].shape[-1] == 4


def _readable(images: Any) -> list[tuple[str, int, str]]:
    """``check_image`` of every file named by ``images`` (files and folders); one error listing unreadable ones."""
    if not isinstance(images, (list, tuple)) or not images:
        raise ValueError(f"`images` must be a non-empty list of image files or folders; received {images!r}.")
    checked = [check_image(p) for p in _image_paths([os.fspath(i) for i in images])]
    bad = [f"{p}: {problem}" for p, _, problem in checked if problem]
    if bad:
        raise ValueError(f"Unreadable image(s): {'; '.join(bad[:10])}")
    return checked


def _oriented_size(path: str, orientation: int) -> tuple[int, int]:
    with Image.open(path) as image:
        width, height = image.size
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def _class_namer(model_path: str, keras_model: Any) -> Any:
    """Class index (0 = first real class) -> name, from the model or the labels file beside a ``.tflite``."""
    names = list(getattr(keras_model, "class_names", None) or [])
    if not names and model_path.endswith(".tflite") and os.path.isfile(labels_path(model_path)):
        with open(labels_path(model_path), encoding="utf-8") as file:
            names = [line.rstrip("\n") for line in file]
    return lambda index: names[index] if index < len(names) else f"class {index}"


def detect_images(
    model_path: Any, images: list[Any], score_threshold: float = 0.3, iou_threshold: float = 0.55, max_detections: int = 100
) -> list[ImageDetections]:
    """Find objects in image files (or every image in folders) with a detector ``.keras`` or ``.tflite`` file.

    Images go through the training path (EXIF rotation, RGB, resize to the
    model's input, [0, 255] pixels); boxes come back in pixels of each image
    as stored (EXIF applied). A ``.tflite`` detector's own post-processing
    (thresholds fixed at export) and a ``.keras`` SSDLite's
    (:func:`keras_lightnets.detection.postprocess`) are both filtered at ``score_threshold``.

    Args:
        model_path: an SSDLite ``.keras`` file or a detector ``.tflite`` file.
        images: image files and/or folders of images.
        score_threshold: lowest score reported, in [0, 1).
        iou_threshold: NMS IoU for a ``.keras`` model, in [0, 1].
        max_detections: detections per image (>= 1).

    Examples:
        >>> for found in detect_images("det.tflite", ["street.jpg"]):
        ...     print(found.path, len(found.detections) <= 100)
        street.jpg True
    """
    model_path = check_path("model", model_path, must_exist=True)
    score_threshold = check_float("score_threshold", score_threshold, low=0.0, high=1.0, high_inclusive=False)
    max_detections = check_int("max_detections", max_detections, low=1)
    checked = _readable(images)
    keras_model = anchors = None
    if model_path.endswith(".keras"):
        keras_model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
        height, width = keras_model.input_shape[1:3]
        anchors = ssdlite_anchors(keras_model)  # the same for every image
    else:
        height, width = tflite_input_shape(model_path)[1:3]
    name_of = _class_namer(model_path, keras_model)
    results = []
    for path, orientation, _ in checked:
        image = np.asarray(load_image(path, orientation, (height, width)))[None]
        if keras_model is not None:
            codes, logits = keras_model(image, training=False)
            (found,) = postprocess(codes, logits, anchors, (height, width),
                                   score_threshold=score_threshold, iou_threshold=iou_threshold,
                                   max_detections=max_detections)
            boxes = found.boxes / np.array([width, height, width, height], dtype=np.float32)
            labels, scores = found.labels - 1, found.scores
        else:
            yxyx, classes, scores, count = run_tflite(model_path, image, all_outputs=True)
            keep = min(int(count[0]), max_detections)
            boxes = np.clip(yxyx[0, :keep][:, [1, 0, 3, 2]], 0.0, 1.0)
            labels, scores = classes[0, :keep].astype(int), scores[0, :keep]
        original = _oriented_size(path, orientation)
        scale = np.array([original[1], original[0], original[1], original[0]], dtype=np.float32)
        chosen = scores >= score_threshold
        results.append(ImageDetections(path, original, [
            Detection(name_of(int(label)), float(score), tuple(float(v) for v in box * scale))
            for label, score, box in zip(labels[chosen], scores[chosen], boxes[chosen])
        ]))
    return results


def draw_detections(found: ImageDetections, folder: Any) -> str:
    """Write ``found``'s image with its boxes and labels drawn into ``folder`` (same file name, PNG); return the path.

    Args:
        found: from :func:`detect_images`.
        folder: an output folder (created if missing).

    Examples:
        >>> draw_detections(detect_images("det.tflite", ["street.jpg"])[0], "drawn/")
        'drawn/street.png'
    """
    folder = check_path("folder", folder, must_exist=False)
    os.makedirs(folder, exist_ok=True)
    _, orientation, _ = check_image(found.path)
    pixels = np.asarray(load_image(found.path, orientation, found.size)).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for detection in found.detections:
        draw.rectangle(detection.box, outline=(255, 40, 40), width=2)
        draw.text((detection.box[0] + 2, detection.box[1] + 1), f"{detection.label} {detection.score:.2f}", fill=(255, 255, 0))
    target = os.path.join(folder, os.path.splitext(os.path.basename(found.path))[0] + ".png")
    with atomic_target(target) as temporary:
        image.save(temporary, format="PNG")
    return target


class ImageMask(NamedTuple):
    """The class of every pixel of one image, at its upright size."""

    path: str
    mask: np.ndarray  # [H, W] uint8 class indices
    class_names: list[str]

    def shares(self) -> list[tuple[str, float]]:
        """``(class name, share of the pixels)`` of the classes present, largest first.

        Examples:
            >>> ImageMask("a.png", np.array([[0, 1, 1, 1]], np.uint8), ["background", "cat"]).shares()
            [('cat', 0.75), ('background', 0.25)]
        """
        counts = np.bincount(self.mask.ravel(), minlength=len(self.class_names))
        order = np.argsort(-counts)
        return [(self.class_names[k] if k < len(self.class_names) else f"class {k}", float(counts[k] / self.mask.size))
                for k in order if counts[k]]


def is_segmenter(model_path: Any) -> bool:
    """Whether ``model_path`` is a segmenter: one ``(1, H, W, C)`` output at the input's size (``.tflite``) or ``task="segmentation"`` (``.keras``).

    Args:
        model_path: a ``.keras`` or ``.tflite`` file.

    Examples:
        >>> is_segmenter("seg.tflite")
        True
    """
    model_path = check_path("model", model_path, must_exist=True)
    if model_path.endswith(".tflite"):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path)
        (given,), outputs = interpreter.get_input_details(), interpreter.get_output_details()
        return len(outputs) == 1 and len(outputs[0]["shape"]) == 4 and list(outputs[0]["shape"][1:3]) == list(given["shape"][1:3])
    model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
    return getattr(model, "task", None) == "segmentation"


def segment_images(model_path: Any, images: list[Any]) -> list[ImageMask]:
    """The class of every pixel of image files (or every image in folders), with a segmenter ``.keras`` or ``.tflite`` file.

    Images go through the training path (EXIF rotation, RGB, resize to the
    model's input); the logits are resized bilinearly to each image's upright
    size and the most likely class taken per pixel.

    Args:
        model_path: a segmenter ``.keras`` file or its ``.tflite`` export.
        images: image files and/or folders of images.

    Examples:
        >>> for found in segment_images("seg.tflite", ["street.jpg"]):
        ...     print(found.path, round(sum(share for _, share in found.shares()), 3))
        street.jpg 1.0
    """
    model_path = check_path("model", model_path, must_exist=True)
    checked = _readable(images)
    keras_model = None
    if model_path.endswith(".keras"):
        keras_model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
        height, width = keras_model.input_shape[1:3]
    else:
        height, width = tflite_input_shape(model_path)[1:3]
    results = []
    for path, orientation, _ in checked:
        image = np.asarray(load_image(path, orientation, (height, width)))[None]
        logits = keras_model(image, training=False) if keras_model is not None else run_tflite(model_path, image)
        original = _oriented_size(path, orientation)
        upright = keras.ops.convert_to_numpy(keras.ops.image.resize(keras.ops.convert_to_tensor(np.asarray(logits, np.float32)), original))
        classes = int(upright.shape[-1])
        names = list(getattr(keras_model, "class_names", None) or []) or class_names_of(model_path, classes)
        results.append(ImageMask(path, upright[0].argmax(-1).astype(np.uint8), names))
    return results


def write_mask(found: ImageMask, folder: Any) -> tuple[str, str]:
    """Write ``found``'s mask (an index PNG with Pascal VOC's palette) and an overlay on its image into ``folder``.

    Files: ``<stem>.png`` (the class of each pixel as its value) and
    ``<stem>_overlay.png`` (the upright image blended 50/50 with the class colours).

    Args:
        found: from :func:`segment_images`.
        folder: an output folder (created if missing).

    Examples:
        >>> write_mask(segment_images("seg.tflite", ["street.jpg"])[0], "masks/")
        ('.../masks/street.png', '.../masks/street_overlay.png')
    """
    folder = os.path.abspath(os.fspath(folder))
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(found.path))[0]
    colours = class_colours()
    mask = Image.fromarray(found.mask, mode="L").convert("P")
    mask.putpalette(colours.ravel().tolist())
    orientation = check_image(found.path)[1]
    upright = np.asarray(load_image(found.path, orientation, found.mask.shape)).astype(np.float32)
    blended = (0.5 * upright + 0.5 * colours[found.mask]).astype(np.uint8)
    written = []
    for suffix, picture in (("", mask), ("_overlay", Image.fromarray(blended))):
        path = os.path.join(folder, f"{stem}{suffix}.png")
        with atomic_target(path) as target:
            picture.save(target, format="PNG")
        written.append(path)
    return written[0], written[1]
