"""Transfer learning: a trained backbone into a model built for new classes, by layer name, all or nothing."""

from __future__ import annotations

import os
import re

import h5py
import keras
import numpy as np

from keras_lightnets.registry import create_model, get_entry
from keras_lightnets.validation import check_path
from keras_lightnets.weights import WEIGHTS_SUFFIXES, load_weights, read_h5

__all__ = ["CLASSIFIER_LAYERS", "load_backbone"]

# The layers whose shapes depend on the number of classes; never transferred.
CLASSIFIER_LAYERS = ("logits", "predictions")


def _weights_h5_classes(path: str) -> int:
    """The classifier size stored in a Keras 3 ``.weights.h5`` file of one of our models.

    Keras 3 names the file's entries by layer class in ``model.layers`` order, so
    the classifier is the dense layer (MobileNetV2, ShuffleNets) or the last conv
    (MobileNetV1/V3 ``logits``).
    """
    try:
        with h5py.File(path, "r") as file:
            names = list(file["layers"].keys())
            dense = [n for n in names if re.fullmatch(r"dense(_\d+)?", n)]
            convs = sorted((n for n in names if re.fullmatch(r"conv2d(_\d+)?", n)), key=lambda n: int(n[7:] or 0))
            last = dense[-1] if dense else convs[-1]
            return int(file["layers"][last]["vars"]["0"].shape[-1])
    except (OSError, KeyError, IndexError, ValueError) as error:
        raise ValueError(f"{path!r} is not a readable Keras .weights.h5 file of a keras_lightnets model: {error}") from None


def _source_arrays(name: str, weights: str, input_shape: tuple[int | None, ...]) -> dict[str, list[np.ndarray]]:
    """``{layer name: arrays}`` of the trained model ``weights`` names."""
    if weights == "imagenet":
        source = create_model(name, weights="imagenet", input_shape=(224, 224, 3))
        return {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
    if weights.endswith(".keras"):
        try:
            source = keras.saving.load_model(weights, safe_mode=True, compile=False)
        except Exception as error:  # Keras raises many kinds for unreadable files
            raise ValueError(f"Cannot read the model file {weights!r}: {error}") from None
        return {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
    if weights.endswith(".weights.h5"):
        source = create_model(name, classes=_weights_h5_classes(weights), input_shape=input_shape)
        load_weights(source, weights)
        return {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
    return dict(read_h5(weights))


def load_backbone(model: keras.Model, name: str, weights: str) -> keras.Model:
    """Load every layer of ``model`` but its classifier from a trained ``name``; return ``model``.

    The source is ImageNet (``"imagenet"``: the published file, top included, so
    MobileNetV3's pre-logits layer comes along) or a ``.keras``, ``.weights.h5``
    or Keras 2 ``.h5`` file of the same architecture and width trained on any
    number of classes. Layers are matched by name; ``logits`` / ``predictions``
    keep their fresh initialization. Every other weighted layer must be in the
    source with the same shapes and the source may hold no other layers: the
    first mismatch is named in a ``ValueError`` and nothing is assigned.

    Args:
        model: a model built by ``create_model(name, classes=...)``.
        name: its registered name (see :func:`keras_lightnets.list_models`).
        weights: ``"imagenet"`` or the path of a weights file.

    Example:
        >>> model = create_model("mobilenet_v3_small", classes=5, input_shape=(160, 160, 3))  # doctest: +SKIP
        >>> load_backbone(model, "mobilenet_v3_small", "imagenet")  # doctest: +SKIP
    """
    get_entry(name)
    if weights != "imagenet":
        weights = check_path("weights", weights, must_exist=True)
        if not weights.endswith(WEIGHTS_SUFFIXES):
            raise ValueError(
                f"`weights` must be 'imagenet' or a file ending with one of {WEIGHTS_SUFFIXES}; received {weights!r}."
            )
    source = _source_arrays(name, os.fspath(weights), tuple(model.input_shape[1:]))
    targets = [layer for layer in model.layers if layer.weights and layer.name not in CLASSIFIER_LAYERS]
    extra = sorted(set(source) - {layer.name for layer in targets} - set(CLASSIFIER_LAYERS))
    for layer in targets:
        if layer.name not in source:
            raise ValueError(
                f"{weights!r} does not fit {name}: it has no layer {layer.name!r} (another architecture?)."
            )
        need, found = [tuple(w.shape) for w in layer.weights], [a.shape for a in source[layer.name]]
        if need != found:
            raise ValueError(
                f"{weights!r} does not fit {name}: layer {layer.name!r} needs shapes {need}, the file has "
                f"{found} (another architecture or width?)."
            )
    if extra:
        raise ValueError(f"{weights!r} does not fit {name}: it has layers the model lacks, e.g. {extra[:5]}.")
    for layer in targets:
        layer.set_weights(source[layer.name])
    return model
